package kernels

import (
	"fmt"

	"github.com/rctsim/rctsim/hw"
)

// Chunked passes for kernels that stream whole tensors through the vector unit in
// several passes or with per-channel state (normalisation, a position embedding's
// gradient): unlike emitStream, whose one pass owns all of the kernel's SRAM, these
// kernels hold records, parameters and gradients on chip besides the streamed chunks.

// chunk is a part of a streamed tensor: images [n0,n1), channels [c0,c1) and rows
// [h0,h1).
type chunk struct{ n0, n1, c0, c1, h0, h1 int64 }

func (k chunk) images() int64 { return k.n1 - k.n0 }

// elems is the chunk's elements in a tensor of rows of w.
func (k chunk) elems(w int64) int64 { return (k.n1 - k.n0) * (k.c1 - k.c0) * (k.h1 - k.h0) * w }

// fits reports whether bytes per role fit the SRAM (roles may share a buffer).
func (c *compiler) fits(need [numRoles]int64) bool {
	used := make([]int64, len(c.prog.Buffers))
	for role, b := range need {
		used[c.roleBuf[role]] += b
	}
	for i, u := range used {
		if u > c.prog.Buffers[i].Capacity {
			return false
		}
	}
	return true
}

// planChunks picks the chunk size of a pass over images x channels x rows: the most
// channels (from chans, largest first) of whole examples, then the most examples, and
// only when not even one example of the fewest channels fits, fewer rows (when rows >
// 1), such that the kernel's fixed slots (fixed bytes per role) and its chunk slots
// (perChunk bytes per role for chunks of ni images, nc channels and nr rows, every
// half of every pair counted) fit. what names the pass in the error.
func (c *compiler) planChunks(what string, images, rows int64, chans []int64, fixed [numRoles]int64,
	perChunk func(ni, nc, nr int64) [numRoles]int64) (ni, nc, nr int64, err error) {
	need := func(ni, nc, nr int64) [numRoles]int64 {
		r := perChunk(ni, nc, nr)
		for role := range r {
			r[role] += fixed[role]
		}
		return r
	}
	for _, nc := range chans {
		for _, ni := range flatDim(images).candidates() {
			if c.fits(need(ni, nc, rows)) {
				return ni, nc, rows, nil
			}
		}
	}
	smallest := chans[len(chans)-1]
	for _, nr := range flatDim(rows).candidates()[1:] {
		if c.fits(need(1, smallest, nr)) {
			return 1, smallest, nr, nil
		}
	}
	return 0, 0, 0, fmt.Errorf("%s %w: one row of %d channels of one example needs %v bytes (inputs, weights, outputs), double-buffered, with what the kernel holds throughout",
		what, ErrNoFit, smallest, need(1, smallest, 1))
}

// gridChunks lists the chunks of channels [c0,c1) covering images (ni at a time) and
// rows (nr at a time) of h, images outermost; none, with c.err set, when they would
// not fit Options.MaxInstrs.
func (c *compiler) gridChunks(images, ni, c0, c1, h, nr int64) []chunk {
	if c.room(hw.MulSat(ceilDiv(images, ni), ceilDiv(h, nr)), fmt.Sprintf("a pass over %d examples, %d at a time", images, ni)) != nil {
		return nil
	}
	var out []chunk
	for n := int64(0); n < images; n += ni {
		for r := int64(0); r < h; r += nr {
			out = append(out, chunk{n, min(n+ni, images), c0, c1, r, min(r+nr, h)})
		}
	}
	return out
}

// reversed returns the chunks last to first: a second pass over the same tensors that
// starts with the chunks the first pass left resident.
func reversed(chunks []chunk) []chunk {
	out := make([]chunk, len(chunks))
	for i, k := range chunks {
		out[len(chunks)-1-i] = k
	}
	return out
}

// chunkBytes is the bytes of a chunk of every tensor of ins (all of one shape).
func chunkBytes(ins []streamIn, k chunk) int64 {
	var s int64
	for _, x := range ins {
		s += x.v.boxBytes(actBox(k.n0, k.n1, k.c0, k.c1, k.h0, k.h1))
	}
	return s
}

// streamChunks runs work on each chunk of the tensors ins (all of one shape), whose
// parts of the chunk are loaded into one half of p back to back and given to work as
// one operand (of the first tensor's class and width). Loads run one chunk ahead of
// the work, as in emitGEMM; stage, when set, is called just before each chunk's loads
// are emitted, for loads of its own. A chunk still resident from an earlier pass over the
// same tensors with the same pair is not loaded again.
func (c *compiler) streamChunks(chunks []chunk, ins []streamIn, p *pair, stage func(k chunk), work func(k chunk, in *operandSlot)) {
	var busy *slot  // the half the work in progress reads
	var rs []region // scratch: a tensor's regions of a chunk (loadAt keeps none)
	load := func(k chunk) *operandSlot {
		key := [5]int64{k.n0, k.n1, k.c0, k.c1, k.h0}
		var dst *slot
		for _, h := range p.s {
			if h.full && h.key == key {
				dst = h
			}
		}
		if stage != nil {
			stage(k)
		}
		resident := dst != nil
		if !resident {
			dst = p.s[0]
			if dst == busy {
				dst = p.s[1]
			}
			dst.key, dst.full = key, true
		}
		var off int64
		for _, x := range ins {
			rs = x.v.appendRegions(rs[:0], actBox(k.n0, k.n1, k.c0, k.c1, k.h0, k.h1))
			if !resident {
				c.loadAt(rs, x.class, x.bits, dst, off)
			}
			off += regionsBytes(rs)
		}
		return &operandSlot{s: dst, class: ins[0].class, bits: ins[0].bits, bytes: off}
	}
	if len(chunks) == 0 || c.err != nil {
		return // over the instruction bound: c.err says so
	}
	next := load(chunks[0])
	for j, k := range chunks {
		if c.err != nil {
			return
		}
		cur := next
		busy = cur.s
		if j+1 < len(chunks) {
			next = load(chunks[j+1])
		}
		work(k, cur)
	}
}

// records is the operand of records [r0,r1) of a slot of records of fields 32-bit
// values each (per-channel or per-position statistics, sums and coefficients).
func records(s *slot, class TensorClass, r0, r1, fields int64) *operandSlot {
	return &operandSlot{s: s, class: class, bits: 32, bytes: (r1 - r0) * fields * 4, off: r0 * fields * 4}
}
