package kernels

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// gemmNet is the one-layer network of a GEMM row of a topology file: M examples of K
// features into N.
func gemmNet(n, k int) *models.Network {
	l := models.Layer{Name: "big", Kind: models.Linear, In: models.Shape{C: k, H: 1, W: 1}, Out: models.Shape{C: n, H: 1, W: 1}}
	return &models.Network{Name: "gemm", Input: l.In, Classes: n, Layers: []models.Layer{l}}
}

// TestCompileBounds checks that sizes whose products are huge but within every
// per-value cap fail at once with ErrTooLarge, naming the layer and the size, rather
// than tiling for hours or exhausting memory.
func TestCompileBounds(t *testing.T) {
	lenet, _ := models.ByName("lenet5")
	tests := []struct {
		name  string
		net   *models.Network
		opt   Options
		layer string   // the layer the error names ("" for none)
		want  []string // parts of the message
	}{
		{"topology GEMM of 10^6 cubed", gemmNet(1_000_000, 1_000_000), Options{Method: numerics.RCT, Batch: 1_000_000, ForwardOnly: true},
			"big", []string{"M=1000000 N=1000000 K=1000000", "batch 1000000", "4194304"}},
		{"batch of 10^9", lenet, Options{Method: numerics.RCT, Batch: 1_000_000_000},
			"conv1", []string{"batch 1000000000", "instructions"}},
		{"batch of 10^9 for QAT", lenet, Options{Method: numerics.QAT, Batch: 1_000_000_000},
			"conv1", []string{"batch 1000000000"}},
		{"batch whose tensors overflow", lenet, Options{Method: numerics.RCT, Batch: 1 << 62},
			"", []string{"tensor input needs more than 2^63 bytes", "2^50"}},
		{"batch whose tensors pass 2^50 bytes", lenet, Options{Method: numerics.FP32, Batch: 1 << 40},
			"", []string{"tensor input needs", "2^50"}},
		{"weights past 2^50 bytes", gemmNet(1<<24, 1<<24), Options{Method: numerics.FP32, Batch: 1, ForwardOnly: true},
			"big", []string{"tensor big.w needs 1125899906842624 bytes"}},
		{"a small bound", lenet, Options{Method: numerics.RCT, Batch: 32, MaxInstrs: 10},
			"conv1", []string{"the 10 instructions a program may hold", "batch 32"}},
	}
	p := defaultProfile(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.net, p, tt.opt)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("got %v, want ErrTooLarge", err)
			}
			var ce *CompileError
			if !errors.As(err, &ce) || ce.Layer != tt.layer {
				t.Errorf("error %v names layer %q, want %q", err, ce.Layer, tt.layer)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
}

// TestMaxInstrs compiles every model with bounds just below, well below and at its
// instruction count: every kernel's way of stopping (the counts checked before tiles
// and chunks are built, and the bound on each instruction) ends in ErrTooLarge at a
// named layer, and a bound the program meets changes nothing.
func TestMaxInstrs(t *testing.T) {
	p := defaultProfile(t)
	for _, name := range models.Names() {
		net, _ := models.ByName(name)
		big := false
		for _, m := range numerics.Methods {
			if big && m != numerics.RCT {
				continue
			}
			opt := Options{Method: m, Batch: 2}
			full := compile(t, p, net, opt)
			n := full.Len()
			bounds := []int{n - 1, n / 3}
			if n > 20_000 {
				// MobileNet's 100,000 instructions take most of a second: one case.
				big, bounds = true, bounds[1:]
			} else if m == numerics.RCT {
				opt.MaxInstrs = n
				if got := compile(t, p, net, opt); got.Len() != n {
					t.Errorf("%s %s: %d instructions with a bound of %d, %d without", name, m, got.Len(), n, n)
				}
			}
			for _, bound := range bounds {
				opt.MaxInstrs = bound
				_, err := Compile(net, p, opt)
				var ce *CompileError
				if !errors.Is(err, ErrTooLarge) || !errors.As(err, &ce) || ce.Layer == "" && bound < n-1 {
					t.Errorf("%s %s with at most %d of %d instructions: %v", name, m, bound, n, err)
				}
			}
		}
	}
}

// BenchmarkCompileTooLarge shows that refusing a huge layer costs no more than
// compiling a small one.
func BenchmarkCompileTooLarge(b *testing.B) {
	p := defaultProfile(b)
	net := gemmNet(1_000_000, 1_000_000)
	for b.Loop() {
		if _, err := Compile(net, p, Options{Method: numerics.RCT, Batch: 1_000_000, ForwardOnly: true}); err == nil {
			b.Fatal("compiled")
		}
	}
}

// TestHugeSRAMSplitsTransfers compiles for a chip whose SRAM holds whole layers of a
// large batch: tiles of hundreds of MB move in transfers of at most MaxDMABytes, which
// the program validates with (the simulator lists one transfer's bursts at a time).
func TestHugeSRAMSplitsTransfers(t *testing.T) {
	p := defaultProfile(t, "sram.global.capacity=1099511627776")
	net, _ := models.ByName("lenet5")
	prog := compile(t, p, net, Options{Method: numerics.RCT, Batch: 1 << 17, PipelineDepth: 1})
	var most, moved int64
	for _, in := range prog.All() {
		if in.Op == OpLoad && prog.Tensors[in.Tensor].Name == "input" {
			most = max(most, in.Bytes())
			moved += in.Bytes()
		}
	}
	input := prog.Tensors[0]
	if input.Name != "input" || moved < input.Bytes || most != MaxDMABytes {
		t.Errorf("the input (%d bytes) moved in %d bytes, at most %d per transfer; want all of it, in transfers of %d", input.Bytes, moved, most, MaxDMABytes)
	}
}

// appendAll appends instructions to p.
func appendAll(p *Program, ins ...Instr) {
	for _, in := range ins {
		p.Append(in)
	}
}

// TestValidateBounds checks Program.Validate's limits on hand-made programs, with the
// instruction and field each error names: products that would wrap and sums that would
// pass the simulator's bounds are errors, never small numbers.
func TestValidateBounds(t *testing.T) {
	base := func() *Program {
		return &Program{
			Buffers: []Buffer{{Name: "g", Capacity: 1 << 30}},
			Tensors: []Tensor{{Name: "x", Class: ClassActivations, Addr: 0, Bytes: 1 << 20, Bits: 8}},
		}
	}
	op := func(o Operand) Operand { o.Class, o.Bits = ClassActivations, 8; return o }
	gemm := func(m, n, k int64) Instr {
		return Instr{Op: OpGEMM, M: m, N: n, K: k, WeightBits: 8, ActBits: 8,
			A: op(Operand{SRAMRef: SRAMRef{Bytes: 64}}), B: op(Operand{SRAMRef: SRAMRef{Offset: 64, Bytes: 64}}), C: op(Operand{SRAMRef: SRAMRef{Offset: 128, Bytes: 64}})}
	}
	load := func(rows, rowBytes, stride int64) Instr {
		return Instr{Op: OpLoad, Rows: rows, RowBytes: rowBytes, Stride: stride, A: op(Operand{SRAMRef: SRAMRef{Bytes: rows * rowBytes}})}
	}
	tests := []struct {
		name   string
		edit   func(p *Program)
		index  int
		field  string
		wanted string
	}{
		{"valid", func(p *Program) { appendAll(p, gemm(8, 8, 8), load(4, 16, 64)) }, -1, "", ""},
		{"MACs of the program pass 2^50", func(p *Program) {
			for range 5 {
				p.Append(gemm(1<<16, 1<<16, 1<<16)) // 2^48 each
			}
		}, 4, "m", "pass 2^50"},
		{"M*N*K wraps", func(p *Program) { appendAll(p, gemm(1<<32, 1<<32, 1<<32)) }, 0, "m", "more than 2^50"},
		{"dimension past 2^32", func(p *Program) { appendAll(p, gemm(1<<33, 1, 1)) }, 0, "m", "want 1..2^32"},
		{"0-bit weights", func(p *Program) { g := gemm(8, 8, 8); g.WeightBits = 0; appendAll(p, g) }, 0, "wbits", "0 bits"},
		{"0-bit activations", func(p *Program) { g := gemm(8, 8, 8); g.ActBits = 0; appendAll(p, g) }, 0, "abits", "0 bits"},
		{"float GEMM ignores integer widths", func(p *Program) { g := gemm(8, 8, 8); g.Format, g.WeightBits = FormatFP16, 0; appendAll(p, g) }, -1, "", ""},
		{"operand end wraps", func(p *Program) {
			g := gemm(8, 8, 8)
			g.C.Offset, g.C.Bytes = math.MaxInt64-8, 64
			appendAll(p, g)
		}, 0, "c", "outside buffer"},
		{"vector elements pass 2^50", func(p *Program) {
			v := Instr{Op: OpVector, VOp: VAdd, Elems: 1 << 49, Bits: 8}
			appendAll(p, v, v, v)
		}, 2, "elems", "pass 2^50"},
		{"0-bit integer lanes", func(p *Program) { p.Append(Instr{Op: OpVector, VOp: VAdd, Elems: 8}) }, 0, "bits", "0 bits"},
		{"load size wraps to 0", func(p *Program) {
			l := load(1<<20, 1<<44, 0)
			l.A.Bytes = 0
			appendAll(p, l)
		}, 0, "rowbytes", "at most 67108864 bytes"},
		{"load of too many rows", func(p *Program) { appendAll(p, load(1<<21, 1, 0)) }, 0, "rows", "at most 1048576"},
		{"load span wraps", func(p *Program) { appendAll(p, load(1<<14, 1, 1<<50)) }, 0, "rows", "runs past tensor"},
		{"tensor past 2^50", func(p *Program) { p.Tensors[0].Addr = 1 << 50 }, -1, "", "2^50 bytes"},
		// Validate checks a shape once: a later instruction of it is still held to its
		// own fields.
		{"dependency of a later instruction of a checked shape", func(p *Program) {
			g := gemm(8, 8, 8)
			appendAll(p, g, g)
			g.Deps = []int32{2}
			p.Append(g)
		}, 2, "deps", "does not precede"},
		{"a later load of a checked shape past its tensor", func(p *Program) {
			l := load(4, 16, 64)
			appendAll(p, l)
			l.Addr = 1<<20 - 64
			appendAll(p, l)
		}, 1, "rows", "runs past tensor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			tt.edit(p)
			err := p.Validate()
			if tt.wanted == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wanted) {
				t.Fatalf("got %v, want an error saying %q", err, tt.wanted)
			}
			var ie *InstrError
			if tt.index >= 0 && (!errors.As(err, &ie) || ie.Index != tt.index || ie.Field != tt.field) {
				t.Errorf("%v: want instruction %d field %q", err, tt.index, tt.field)
			}
		})
	}
}
