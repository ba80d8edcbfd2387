package kernels

import (
	"errors"
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
			n := len(full.Instrs)
			bounds := []int{n - 1, n / 3}
			if n > 20_000 {
				// MobileNet's 100,000 instructions take most of a second: one case.
				big, bounds = true, bounds[1:]
			} else if m == numerics.RCT {
				opt.MaxInstrs = n
				if got := compile(t, p, net, opt); len(got.Instrs) != n {
					t.Errorf("%s %s: %d instructions with a bound of %d, %d without", name, m, len(got.Instrs), n, n)
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
