package kernels

import (
	"iter"
	"math"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
)

// How a Program stores its instructions. A training step of a large model holds
// hundreds of thousands of them (MobileNetV2 at 224x224, batch 32: 677,000), which
// written out as Instr take about 300 bytes each, but few are distinct: a layer's tiles
// repeat a handful of shapes on a handful of SRAM slots (that step has about 3,000
// distinct instructions once the layer, DRAM address, dependencies and functional
// descriptor are set aside: its shapes). So a Program keeps each shape once, and per
// instruction only 24 bytes: its shape, layer and address, where its dependencies end
// in one array shared by all, and its descriptor. Instr is the instruction written
// out, as the compiler appends it and every reader sees it.

// instrShape is an Instr without the fields that are its own (Layer, Addr, Deps, Fn):
// the part that many instructions share. TestShapeHoldsInstr checks that it has every
// other field of Instr, so that a field added to Instr cannot be dropped silently.
type instrShape struct {
	Op         Op
	Phase      models.Phase
	Tensor     int32
	Rows       int64
	RowBytes   int64
	Stride     int64
	Gather     bool
	M, N, K    int64
	Format     Format
	WeightBits int
	ActBits    int
	Accumulate bool
	Conv       hw.Conv
	VOp        VectorOp
	Elems      int64
	Bits       int
	A, B, C    Operand
}

func shapeOf(in *Instr) instrShape {
	return instrShape{Op: in.Op, Phase: in.Phase, Tensor: in.Tensor, Rows: in.Rows, RowBytes: in.RowBytes,
		Stride: in.Stride, Gather: in.Gather, M: in.M, N: in.N, K: in.K, Format: in.Format,
		WeightBits: in.WeightBits, ActBits: in.ActBits, Accumulate: in.Accumulate, Conv: in.Conv,
		VOp: in.VOp, Elems: in.Elems, Bits: in.Bits, A: in.A, B: in.B, C: in.C}
}

// writeInto sets every field of in that f holds.
func (f *instrShape) writeInto(in *Instr) {
	in.Op, in.Phase, in.Tensor, in.Rows, in.RowBytes = f.Op, f.Phase, f.Tensor, f.Rows, f.RowBytes
	in.Stride, in.Gather, in.M, in.N, in.K, in.Format = f.Stride, f.Gather, f.M, f.N, f.K, f.Format
	in.WeightBits, in.ActBits, in.Accumulate, in.Conv = f.WeightBits, f.ActBits, f.Accumulate, f.Conv
	in.VOp, in.Elems, in.Bits, in.A, in.B, in.C = f.VOp, f.Elems, f.Bits, f.A, f.B, f.C
}

// Program.recent has recentShapes entries, indexed by recentBits of quickHash.
const (
	recentBits   = 8
	recentShapes = 1 << recentBits
)

// quickHash mixes the fields that tell a step's shapes apart most often into an index
// of Program.recent.
func (s *instrShape) quickHash() uint32 {
	h := uint64(s.Op) | uint64(s.Tensor)<<8 | uint64(s.VOp)<<40
	for _, v := range [...]int64{s.Rows, s.RowBytes, s.M, s.N, s.K, s.Elems, s.A.Offset, s.B.Offset, s.C.Offset, s.A.Bytes, s.C.Bytes} {
		h = (h ^ uint64(v)) * 0x9E3779B97F4A7C15
	}
	return uint32(h >> (64 - recentBits))
}

// hash mixes every field of the shape: Program.shapeIndex's key. (A field left out
// would cost only time: shapes are told apart by comparing them whole.)
func (s *instrShape) hash() uint64 {
	h := uint64(s.Op) | uint64(s.Phase)<<8 | uint64(s.VOp)<<16 | uint64(s.Format)<<24 | uint64(b2u(s.Gather))<<32 | uint64(b2u(s.Accumulate))<<33
	c := &s.Conv
	for _, v := range [...]int64{int64(s.Tensor), s.Rows, s.RowBytes, s.Stride, s.M, s.N, s.K, int64(s.WeightBits), int64(s.ActBits),
		c.N, c.M, c.C, c.R, c.S, c.E, c.F, c.U, c.D, s.Elems, int64(s.Bits)} {
		h = (h ^ uint64(v)) * 0x9E3779B97F4A7C15
	}
	for _, o := range [...]*Operand{&s.A, &s.B, &s.C} {
		for _, v := range [...]int64{int64(o.Buffer), o.Offset, o.Bytes, int64(o.Class), int64(o.Bits)} {
			h = (h ^ uint64(v)) * 0x9E3779B97F4A7C15
		}
	}
	return h ^ h>>29
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// code is one stored instruction.
type code struct {
	shape uint32 // index of its shape (Program.shape)
	layer int32
	deps  uint32 // end of its dependencies in Program.deps (they start where the previous one's end)
	fn    uint32 // 1 + index into Program.fns; 0 for none
	addr  uint64
}

// The instructions are kept in chunks of codeChunk: a growing slice of them would
// copy the whole program four times over as it grows (a quarter of compiling
// MobileNetV2), chunks never move. A chunk is 96 KB, so that a small program's last
// one is not most of it (chunks of 384 KB were half of what LeNet-5's compile
// allocated).
const (
	codeChunkBits = 12
	codeChunk     = 1 << codeChunkBits
)

// The shapes are kept in chunks of shapeChunk (20 KB), for the same reasons:
// ResNet-20's qat step has 1,619 of 328 bytes each, and the slice that grew to hold
// them took a tenth of its compile.
const (
	shapeChunkBits = 6
	shapeChunk     = 1 << shapeChunkBits
)

// shape returns shape k.
func (p *Program) shape(k uint32) *instrShape {
	return &p.shapes[k>>shapeChunkBits][k&(shapeChunk-1)]
}

// at returns instruction i's code.
func (p *Program) at(i int) *code { return &p.code[i>>codeChunkBits][i&(codeChunk-1)] }

// Len is the number of instructions.
func (p *Program) Len() int { return p.n }

// Instr returns instruction i written out. Its Deps share the program's storage: read
// them, never write them.
func (p *Program) Instr(i int) Instr {
	var in Instr
	p.InstrInto(i, &in)
	return in
}

// InstrInto writes instruction i out into in, as Instr returns it: the engine's form,
// which spares the copy of a returned value on its path through every instruction.
func (p *Program) InstrInto(i int, in *Instr) {
	c := p.at(i)
	p.shape(c.shape).writeInto(in)
	in.Layer, in.Addr, in.Deps = c.layer, c.addr, p.Deps(i)
	in.Fn = nil
	if c.fn > 0 {
		in.Fn = p.fns[c.fn-1]
	}
}

// All yields every instruction, written out, with its index, in program order.
func (p *Program) All() iter.Seq2[int, Instr] {
	return func(yield func(int, Instr) bool) {
		for i := range p.n {
			if !yield(i, p.Instr(i)) {
				return
			}
		}
	}
}

// Deps returns the dependencies of instruction i (Instr.Deps) without writing the
// instruction out. The slice shares the program's storage: read it, never write it.
func (p *Program) Deps(i int) []int32 {
	lo := uint32(0)
	if i > 0 {
		lo = p.at(i - 1).deps
	}
	hi := p.at(i).deps
	return p.deps[lo:hi:hi]
}

// shapeKey returns the index of shape s, appended if it is new. shapeIndex is keyed by
// the shape's hash; a key another shape holds (a collision) passes s on to the next key
// up, so a shape is found among the keys from its hash up to the first free one.
func (p *Program) shapeKey(s *instrShape) uint32 {
	h := s.hash()
	for ; ; h++ {
		k, ok := p.shapeIndex[h]
		if !ok {
			break
		}
		if *p.shape(k) == *s {
			return k
		}
	}
	if p.numShapes >= math.MaxUint32-1 {
		panic("kernels: more than 2^32-1 distinct instruction shapes in one program")
	}
	k := uint32(p.numShapes)
	if k&(shapeChunk-1) == 0 {
		p.shapes = append(p.shapes, make([]instrShape, shapeChunk))
	}
	*p.shape(k) = *s
	p.numShapes++
	p.shapeIndex[h] = k
	return k
}

// Op, Phase and Layer return those fields of instruction i without writing it out.
func (p *Program) Op(i int) Op              { return p.shape(p.at(i).shape).Op }
func (p *Program) Phase(i int) models.Phase { return p.shape(p.at(i).shape).Phase }
func (p *Program) Layer(i int) int32        { return p.at(i).layer }

// Shape returns the index of instruction i's shape: instructions with equal shapes are
// equal but for Layer, Addr, Deps and Fn. A simulator may remember what it computed for
// a shape (a GEMM tile's fold timing) and reuse it for the next instruction of that
// shape. Shapes are numbered from 0 in order of first appearance, below NumShapes.
func (p *Program) Shape(i int) int { return int(p.at(i).shape) }

// NumShapes is the number of distinct shapes of the program's instructions.
func (p *Program) NumShapes() int { return p.numShapes }

// Append adds in as the program's next instruction and returns its index. The
// program keeps a copy of in.Deps. Validate checks what Append does not (dependencies
// that precede the instruction, operands inside their buffers).
func (p *Program) Append(in Instr) int {
	s := shapeOf(&in)
	if p.shapeIndex == nil {
		p.shapeIndex = make(map[uint64]uint32)
		p.recent = new([recentShapes]uint32)
	}
	h := s.quickHash()
	k := p.recent[h] - 1
	if p.recent[h] == 0 || *p.shape(k) != s {
		k = p.shapeKey(&s)
		p.recent[h] = k + 1
	}
	if uint64(len(p.deps))+uint64(len(in.Deps)) > math.MaxUint32 {
		panic("kernels: more than 2^32 dependencies in one program")
	}
	p.deps = append(p.deps, in.Deps...)
	c := code{shape: k, layer: in.Layer, deps: uint32(len(p.deps)), addr: in.Addr}
	if in.Fn != nil {
		p.fns = append(p.fns, in.Fn)
		c.fn = uint32(len(p.fns))
	}
	if p.n&(codeChunk-1) == 0 {
		p.code = append(p.code, make([]code, codeChunk))
	}
	*p.at(p.n) = c
	p.n++
	return p.n - 1
}
