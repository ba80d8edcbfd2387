package kernels

import (
	"fmt"
	"math"
	"strconv"

	"github.com/rctsim/rctsim/models"
)

// slot is a region of SRAM that holds one tile at a time. It remembers the instruction
// that last wrote it and those that read it since, so that every new instruction gets
// exactly the dependencies it needs: read-after-write on the writer, write-after-read
// and write-after-write on the rest.
type slot struct {
	ref     SRAMRef
	writer  int32
	readers []int32
	// key identifies the tile the slot holds, so an unchanged operand is not reloaded.
	key  [5]int64
	full bool
}

// beginKernel starts a layer's phase: SRAM is reallocated from the start of every
// buffer, so the kernel's first writes wait for everything the previous kernel left in
// flight (the fence).
func (c *compiler) beginKernel(layer int, phase models.Phase) {
	c.layer, c.phase, c.role = int32(layer), phase, RoleNone
	for i := range c.alloc {
		c.alloc[i] = 0
	}
	c.fence = c.fence[:0]
	var last [NumUnits]int32
	for u := range last {
		last[u] = -1
	}
	for i := c.prog.Len() - 1; i >= 0; i-- {
		u := c.prog.Op(i).Unit()
		if last[u] < 0 {
			last[u] = int32(i)
		}
		if last[0] >= 0 && last[1] >= 0 && last[2] >= 0 {
			break
		}
	}
	for _, v := range last {
		if v >= 0 {
			c.fence = append(c.fence, v)
		}
	}
}

// newSlot reserves bytes in the buffer that holds role. The caller has checked that
// the kernel's slots fit.
func (c *compiler) newSlot(role int, bytes int64) *slot {
	b := c.roleBuf[role]
	s := &slot{ref: SRAMRef{Buffer: b, Offset: c.alloc[b], Bytes: bytes}, writer: -1}
	s.readers = append(s.readers, c.fence...)
	c.alloc[b] += bytes
	return s
}

// checkAlloc verifies that the slots of the current kernel fit their buffers. The
// tiling search sizes tiles to fit, so a failure here is a compiler bug, reported as an
// error rather than a program that overflows SRAM.
func (c *compiler) checkAlloc() error {
	for b, used := range c.alloc {
		if buf := c.prog.Buffers[b]; used > buf.Capacity {
			return fmt.Errorf("internal error: slots need %d bytes of buffer %s (capacity %d)", used, buf.Name, buf.Capacity)
		}
	}
	return nil
}

// pair is a double-buffered slot: tiles alternate between its two halves so that the
// DMA fills one while the array works on the other.
type pair struct {
	s    [2]*slot
	next int
}

func (c *compiler) newPair(role int, bytes int64) *pair {
	return &pair{s: [2]*slot{c.newSlot(role, bytes), c.newSlot(role, bytes)}}
}

// take returns the slot holding key if either half does (no reload needed, ok=true),
// otherwise the half to fill next.
func (p *pair) take(key [5]int64) (s *slot, resident bool) {
	for _, h := range p.s {
		if h.full && h.key == key {
			return h, true
		}
	}
	s = p.s[p.next]
	p.next ^= 1
	s.key, s.full = key, true
	return s, false
}

// tileRegions returns the regions of box b of v in the compiler's scratch, valid until
// its next call: for a tile's store right after its vector operation (a stream's chunk,
// a normalisation's, a requantised GEMM tile), which keeps none of them (a new slice
// per tile, with the streams' loads, was 28% of a ResNet-20 qat compile's
// allocations).
func (c *compiler) tileRegions(v act4, b Box) []region {
	c.tileRs = v.appendRegions(c.tileRs[:0], b)
	return c.tileRs
}

// descriptor returns fn, the functional descriptor of an instruction to come, when
// the program is compiled for functional execution, and nil otherwise: a timing
// compile attaches none, so it allocates none (MobileNetV2's requantisations alone
// allocated 8 MB of them a compile).
func (c *compiler) descriptor(fn FuncDesc) *FuncDesc {
	if !c.opt.Functional {
		return nil
	}
	d := new(FuncDesc) // not &fn, which would move every fn to the heap
	*d = fn
	return d
}

// op appends an instruction that reads the slots in reads and writes those in writes,
// deriving its dependencies. Dependencies on the same unit are dropped: a unit runs
// its instructions in program order.
func (c *compiler) op(in Instr, reads, writes []*slot) int32 {
	if int64(c.prog.Len()) >= c.maxInstrs {
		// The kernels check their tile and chunk counts before emitting (room); this
		// catches what those counts leave out (loads of several regions, epilogues).
		if c.err == nil {
			c.err = fmt.Errorf("%w: the step needs more than the %d instructions a program may hold (kernels.Options.MaxInstrs) at batch %d",
				ErrTooLarge, c.maxInstrs, c.batch)
		}
		return -1
	}
	in.Phase, in.Layer = c.phase, c.layer
	unit := in.Unit()
	deps := c.depsBuf[:0]
	addDep := func(d int32) {
		if d < 0 || c.prog.Op(int(d)).Unit() == unit {
			return
		}
		for _, x := range deps {
			if x == d {
				return
			}
		}
		deps = append(deps, d)
	}
	for _, s := range reads {
		addDep(s.writer)
	}
	for _, s := range writes {
		addDep(s.writer)
		for _, r := range s.readers {
			addDep(r)
		}
	}
	if in.Op == OpGEMM || in.Op == OpVector {
		if c.opt.Functional {
			if in.Fn == nil {
				in.Fn = c.fn
			}
			if in.Fn == nil && c.role != RoleNone {
				in.Fn = &FuncDesc{}
			}
			if in.Fn != nil && in.Fn.Role == RoleNone {
				in.Fn.Role = c.role
			}
		}
		c.fn = nil
	}
	in.Deps = deps
	c.depsBuf = deps
	idx := int32(c.prog.Append(in))
	for _, s := range reads {
		s.readers = append(s.readers, idx)
	}
	for _, s := range writes {
		s.writer = idx
		s.readers = s.readers[:0]
	}
	return idx
}

// room checks that n more instructions fit Options.MaxInstrs before a kernel builds
// its list of n tiles or chunks (each at least one instruction), so that a layer too
// large for the bound fails at once rather than after hours and gigabytes of tiling.
// what describes the work for the error, which is also kept in c.err.
func (c *compiler) room(n int64, what string) error {
	if left := c.maxInstrs - int64(c.prog.Len()); n > left {
		err := fmt.Errorf("%w: %s needs at least %s instructions at batch %d, more than the %d left of the %d a program may hold (kernels.Options.MaxInstrs)",
			ErrTooLarge, what, countText(n), c.batch, max(left, 0), c.maxInstrs)
		if c.err == nil {
			c.err = err
		}
		return err
	}
	return nil
}

// countText prints a count, or "more than 2^63" for one that saturated (mulSat).
func countText(n int64) string {
	if n == math.MaxInt64 {
		return "more than 2^63"
	}
	return strconv.FormatInt(n, 10)
}

// load copies DRAM regions into a slot, packed one after another.
func (c *compiler) load(rs []region, class TensorClass, bits int, dst *slot) {
	c.loadAt(rs, class, bits, dst, 0)
}

// loadAt is load starting off bytes into the slot (a slot that holds several tensors).
func (c *compiler) loadAt(rs []region, class TensorClass, bits int, dst *slot, off int64) {
	off += dst.ref.Offset
	for _, r := range splitRegions(rs) {
		ref := SRAMRef{Buffer: dst.ref.Buffer, Offset: off, Bytes: r.bytes()}
		in := Instr{Op: OpLoad, Tensor: r.tensor, Addr: r.addr, Rows: r.rows, RowBytes: r.rowBytes, Stride: r.stride, Gather: r.gather,
			A: Operand{SRAMRef: ref, Class: class, Bits: bits}}
		if r.gather && c.opt.Functional {
			in.Fn = &FuncDesc{Index: r.index}
		}
		c.op(in, nil, []*slot{dst})
		off += r.bytes()
	}
}

// store copies a slot's contents out to DRAM regions.
func (c *compiler) store(rs []region, class TensorClass, bits int, src *slot) {
	off := src.ref.Offset
	for _, r := range splitRegions(rs) {
		ref := SRAMRef{Buffer: src.ref.Buffer, Offset: off, Bytes: r.bytes()}
		in := Instr{Op: OpStore, Tensor: r.tensor, Addr: r.addr, Rows: r.rows, RowBytes: r.rowBytes, Stride: r.stride, Gather: r.gather,
			A: Operand{SRAMRef: ref, Class: class, Bits: bits}}
		if r.gather && c.opt.Functional {
			in.Fn = &FuncDesc{Index: r.index}
		}
		c.op(in, []*slot{src}, nil)
		off += r.bytes()
	}
}

// splitRegions cuts regions into pieces of at most MaxDMARows rows and MaxDMABytes
// bytes, in order, so that each is one instruction the simulator can hold (it lists a
// transfer's DRAM bursts): a tile of a chip with gigabytes of SRAM moves in several.
// Regions within the limits, all of them on the chips rctsim ships, pass unchanged.
func splitRegions(rs []region) []region {
	small := true
	for _, r := range rs {
		small = small && r.rows <= MaxDMARows && r.rowBytes <= MaxDMABytes/r.rows
	}
	if small {
		return rs
	}
	var out []region
	for _, r := range rs {
		if r.rowBytes > MaxDMABytes && !r.gather {
			// Rows longer than a transfer: each row in pieces (SRAM keeps rows back to
			// back, so the pieces of one row, then the next row's, land in order).
			for row := int64(0); row < r.rows; row++ {
				for b := int64(0); b < r.rowBytes; b += MaxDMABytes {
					out = append(out, region{tensor: r.tensor, addr: r.addr + uint64(row*r.stride+b), rows: 1, rowBytes: min(MaxDMABytes, r.rowBytes-b)})
				}
			}
			continue
		}
		// Groups of whole rows (a gather's rows stay whole: the table decides where
		// each lands).
		per := max(min(MaxDMARows, MaxDMABytes/r.rowBytes), 1)
		for r0 := int64(0); r0 < r.rows; r0 += per {
			p := r
			p.rows = min(per, r.rows-r0)
			if !r.gather {
				p.addr += uint64(r0 * r.stride)
			}
			out = append(out, p)
		}
	}
	return out
}

// vector appends a vector instruction over elems elements reading a (and b) and
// writing out (any may be nil). Integer lanes are as wide as the widest operand read;
// float methods compute in fp32 whenever an operand is fp32 (master weights, momentum,
// accumulators) and in their training format otherwise.
func (c *compiler) vector(vop VectorOp, elems int64, a, b, out *operandSlot) {
	in := Instr{Op: OpVector, VOp: vop, Elems: elems, Format: c.num.float}
	var reads, writes []*slot
	width := 0
	if a != nil {
		in.A, reads, width = a.operand(), append(reads, a.s), max(width, a.bits)
	}
	if b != nil {
		in.B, reads, width = b.operand(), append(reads, b.s), max(width, b.bits)
	}
	if out != nil {
		in.C, writes = out.operand(), append(writes, out.s)
	}
	switch {
	case c.num.float == FormatInt && (vop == VSoftmaxXent || vop == VControl):
		in.Bits = 32
	case c.num.float == FormatInt:
		in.Bits = max(width, 8)
	case width >= 32:
		in.Format = FormatFP32
	}
	c.op(in, reads, writes)
}

// fresh returns the half to fill next, for tiles that are never reused.
func (p *pair) fresh() *slot {
	s := p.s[p.next]
	p.next ^= 1
	s.full = false
	return s
}

// operandSlot is a slot with the class and width of what it holds and how many of its
// bytes an instruction touches, from off bytes into the slot (a part of a slot that
// holds several tensors or per-channel records; dependencies are still tracked for the
// slot as a whole).
type operandSlot struct {
	s     *slot
	class TensorClass
	bits  int
	bytes int64
	off   int64
}

func (o *operandSlot) operand() Operand {
	ref := o.s.ref
	ref.Offset += o.off
	ref.Bytes = o.bytes
	return Operand{SRAMRef: ref, Class: o.class, Bits: o.bits}
}
