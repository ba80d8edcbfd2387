package kernels

import (
	"fmt"

	"github.com/rctsim/rctsim/hw"
)

// streamIn is one tensor a streaming pass reads or writes.
type streamIn struct {
	v     act4
	class TensorClass
	bits  int
	// at, when set, gives the DRAM regions of an input's part of the chunk of images
	// [n0,n1) and channels [c0,c1), instead of the same box of v: a residual's skip
	// that is subsampled or offset in channels, a table shared by every example. Its
	// chunks may be empty (no operand) and of different sizes.
	at func(n0, n1, c0, c1 int64) []region
	// shared marks an input that is the same for every image chunk (a table): it is
	// loaded once per channel chunk and stays resident while consecutive chunks share
	// it.
	shared bool
}

// streamKernel is an element-wise or windowed pass over whole tensors (pooling, ReLU,
// their backward ops, the loss, bitwidth conversion): chunks of images x channels are
// loaded, processed on the vector unit and stored, double-buffered.
type streamKernel struct {
	images, channels int64
	// split allows chunks of fewer than all channels (not for the loss, whose softmax
	// needs every class of an example).
	split bool
	vop   VectorOp
	ins   []streamIn // one or two inputs; the first sets the element count
	out   streamIn
	// elemsPerUnit is the elements of one channel of one image (default h*w of the first
	// input).
	elemsPerUnit int64
	// reverse processes chunks last to first (widening in place).
	reverse bool
	// statsOnly runs the operation without storing its output: the loss's first pass
	// when the batch does not fit on chip at once.
	statsOnly bool
}

func (s *streamKernel) channelRange(v act4, c0, c1 int64) (int64, int64) {
	if s.split {
		return c0, c1
	}
	return 0, v.c
}

func (s *streamKernel) box(v act4, n0, n1, c0, c1 int64) Box {
	c0, c1 = s.channelRange(v, c0, c1)
	return actBox(n0, n1, c0, c1, 0, v.h)
}

// appendInRegions appends the DRAM regions of input x's part of a chunk to dst.
func (s *streamKernel) appendInRegions(dst []region, x streamIn, n0, n1, c0, c1 int64) []region {
	if x.at != nil {
		return append(dst, x.at(n0, n1, c0, c1)...)
	}
	return x.v.appendRegions(dst, s.box(x.v, n0, n1, c0, c1))
}

// inBytes is the SRAM bytes input x needs for chunks of ni images and nc channels: the
// first chunk's, or for an input with its own regions the largest chunk's.
func (s *streamKernel) inBytes(x streamIn, ni, nc, chans int64) int64 {
	if x.at == nil {
		return x.v.boxBytes(s.box(x.v, 0, ni, 0, nc))
	}
	var most int64
	for c0 := int64(0); c0 < chans; c0 += nc {
		most = max(most, regionsBytes(x.at(0, min(ni, s.images), c0, min(c0+nc, chans))))
	}
	return most
}

func (c *compiler) emitStream(s *streamKernel) error {
	if s.elemsPerUnit == 0 {
		s.elemsPerUnit = s.ins[0].v.h * s.ins[0].v.w
	}
	chans := s.channels
	if !s.split {
		chans = 1
	}
	need := func(ni, nc int64) (in, out int64) {
		for _, x := range s.ins {
			in += s.inBytes(x, ni, nc, chans)
		}
		if s.statsOnly {
			return 2 * in, 0
		}
		return 2 * in, 2 * s.out.v.boxBytes(s.box(s.out.v, 0, ni, 0, nc))
	}
	fits := func(ni, nc int64) bool {
		in, out := need(ni, nc)
		used := make([]int64, len(c.prog.Buffers))
		used[c.roleBuf[roleInputs]] += in
		used[c.roleBuf[roleOutputs]] += out
		for i, u := range used {
			if u > c.prog.Buffers[i].Capacity {
				return false
			}
		}
		return true
	}
	ni, nc := int64(0), int64(0)
	for _, cc := range flatDim(chans).candidates() {
		for _, ii := range flatDim(s.images).candidates() {
			if fits(ii, cc) {
				ni, nc = ii, cc
				break
			}
		}
		if ni > 0 {
			break
		}
	}
	if s.vop == VSoftmaxXent && ni > 0 && ni < s.images && !s.statsOnly {
		// The loss error's scale comes from the whole tensor's maximum: when the batch
		// does not fit at once, a first pass over every chunk finds it (computing the
		// softmax without storing the error), and the second pass quantises and stores.
		stats := *s
		stats.statsOnly = true
		if err := c.emitStream(&stats); err != nil {
			return err
		}
		c.beginKernel(int(c.layer), c.phase)
	}
	if ni == 0 {
		in, out := need(1, 1)
		return fmt.Errorf("%s pass %w: one channel of one example needs %d input and %d output bytes, double-buffered", s.vop, ErrNoFit, in, out)
	}
	inBytes := make([]int64, len(s.ins))
	pairs := make([]*pair, len(s.ins))
	for j, x := range s.ins {
		inBytes[j] = s.inBytes(x, ni, nc, chans)
		pairs[j] = c.newPair(roleInputs, inBytes[j])
	}
	var outPair *pair
	if !s.statsOnly {
		outPair = c.newPair(roleOutputs, s.out.v.boxBytes(s.box(s.out.v, 0, ni, 0, nc)))
	}
	if err := c.checkAlloc(); err != nil {
		return err
	}
	if err := c.room(hw.MulSat(ceilDiv(s.images, ni), ceilDiv(chans, nc)), fmt.Sprintf("a %s pass over %d examples, %d at a time", s.vop, s.images, ni)); err != nil {
		return err
	}
	var chunks []chunk
	for n := int64(0); n < s.images; n += ni {
		for ch := int64(0); ch < chans; ch += nc {
			chunks = append(chunks, chunk{n0: n, n1: min(n+ni, s.images), c0: ch, c1: min(ch+nc, chans)})
		}
	}
	if s.reverse {
		for i, j := 0, len(chunks)-1; i < j; i, j = i+1, j-1 {
			chunks[i], chunks[j] = chunks[j], chunks[i]
		}
	}
	// Software pipelining, as in emitGEMM: chunk i+1's loads go before chunk i's vector
	// operation and store.
	type staged struct{ ops [2]*operandSlot }
	var inRs []region // scratch: an input's regions of a chunk (load keeps none)
	stage := func(k chunk) staged {
		var st staged
		for j, x := range s.ins {
			inRs = s.appendInRegions(inRs[:0], x, k.n0, k.n1, k.c0, k.c1)
			rs := inRs
			if len(rs) == 0 {
				continue
			}
			var sl *slot
			if x.shared {
				var resident bool
				if sl, resident = pairs[j].take([5]int64{0, k.c0, k.c1}); !resident {
					c.load(rs, x.class, x.bits, sl)
				}
			} else {
				sl = pairs[j].fresh()
				c.load(rs, x.class, x.bits, sl)
			}
			st.ops[j] = &operandSlot{s: sl, class: x.class, bits: x.bits, bytes: regionsBytes(rs)}
		}
		return st
	}
	cur := stage(chunks[0])
	for i, k := range chunks {
		if c.err != nil {
			return c.err
		}
		var next staged
		if i+1 < len(chunks) {
			next = stage(chunks[i+1])
		}
		rs := c.tileRegions(s.out.v, s.box(s.out.v, k.n0, k.n1, k.c0, k.c1))
		var o *operandSlot
		if !s.statsOnly {
			o = &operandSlot{s: outPair.fresh(), class: s.out.class, bits: s.out.bits, bytes: regionsBytes(rs)}
		}
		c0, c1 := s.channelRange(s.ins[0].v, k.c0, k.c1)
		elems := (k.n1 - k.n0) * (c1 - c0) * s.elemsPerUnit
		fn := FuncDesc{A: s.box(s.ins[0].v, k.n0, k.n1, k.c0, k.c1), C: s.box(s.out.v, k.n0, k.n1, k.c0, k.c1)}
		if len(s.ins) > 1 {
			fn.B = s.box(s.ins[1].v, k.n0, k.n1, k.c0, k.c1)
		}
		c.fn = c.descriptor(fn)
		c.vector(s.vop, elems, cur.ops[0], cur.ops[1], o)
		if o != nil {
			c.store(rs, s.out.class, s.out.bits, o.s)
		}
		cur = next
	}
	return nil
}
