package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rctsim/rctsim/train/vec"
)

// TestFakeQuantActBits checks fakeQuantAct on float32 values bit for bit against its
// arithmetic written as a plain loop, on ranges whose grid ends are zeros of either
// sign, with values outside the grid, halfway between grid points (the grid of
// [-7.9375, 8] has step 1/16), zeros of both signs and NaNs, at lengths a kernel's
// tail can take.
func TestFakeQuantActBits(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, span := range [][2]float64{{-3, 2}, {0.5, 4}, {-4, -0.25}, {-1e-3, 1e-3}, {-7.9375, 8}} {
		for _, n := range []int{1, 3, 4, 5, 13, 70000} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(span[0] + r.Float64()*(span[1]-span[0]))
				switch r.IntN(16) {
				case 0:
					x[i] = float32(math.Copysign(0, float64(r.IntN(2)-1)))
				case 1:
					x[i] *= 3
				case 2, 3:
					x[i] = float32(math.Round(float64(x[i])*32) / 32)
				case 4:
					if r.IntN(64) == 0 {
						x[i] = math.Float32frombits(0x7fc00000 | r.Uint32()&0x803fffff)
					}
				}
			}
			// A first training pass sets the range from a batch without NaNs, a second
			// quantises these values on it.
			var ar actRange
			fakeQuantAct(&ar, []float32{float32(span[0]), float32(span[1])}, make([]float32, 2), true)
			out := make([]float32, n)
			fakeQuantAct(&ar, x, out, false)
			lo, hi := min(ar.lo, 0), max(ar.hi, 0)
			s := (hi - lo) / float64(int64(1)<<qatActBits-1)
			for i, v := range x {
				c := min(max(float64(v), ar.qlo), ar.qhi)
				want := float32(vec.Round((c-ar.qlo)/s)*s + ar.qlo)
				if math.Float32bits(out[i]) != math.Float32bits(want) {
					t.Fatalf("range %v, n %d: %08x quantises to %08x, want %08x", span, n, math.Float32bits(v), math.Float32bits(out[i]), math.Float32bits(want))
				}
			}
		}
	}
}

// TestStraightThroughBits checks straightThroughRange on float32 values bit for bit
// against its compares written as a plain loop, NaNs and zeros of both signs among
// the inputs and the grid's ends.
func TestStraightThroughBits(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	for _, grid := range [][2]float64{{-1, 1}, {0, 2}, {math.Copysign(0, -1), 0.5}, {-0.5, 0}} {
		for _, n := range []int{1, 3, 4, 5, 1000} {
			x, dy := make([]float32, n), make([]float32, n)
			for i := range x {
				x[i], dy[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
				switch r.IntN(8) {
				case 0:
					x[i] = float32(math.Copysign(0, float64(r.IntN(2)-1)))
				case 1:
					x[i] = math.Float32frombits(0x7fc00000 | r.Uint32()&0x803fffff)
				}
			}
			ar := actRange{qlo: grid[0], qhi: grid[1]}
			dx := slices.Clone(dy)
			straightThroughRange(&ar, x, dx)
			for i, v := range x {
				want := dy[i]
				if f := float64(v); f < grid[0] || f > grid[1] {
					want = 0
				}
				if math.Float32bits(dx[i]) != math.Float32bits(want) {
					t.Fatalf("grid %v, n %d: x %v passes %v, want %v", grid, n, v, dx[i], want)
				}
			}
		}
	}
}

// TestMaxAbsFloat checks maxAbsFloat against its loop, bit for bit, on float32 and
// float64 values of every kind (zeros of both signs, infinities, NaNs), empty and at
// lengths around the range kernel's block.
func TestMaxAbsFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00001), math.MaxFloat32, -math.SmallestNonzeroFloat32}
	for range 5000 {
		x := make([]float32, r.IntN(40))
		for i := range x {
			if r.IntN(20) == 0 {
				x[i] = special[r.IntN(len(special))]
			} else {
				x[i] = float32(r.NormFloat64() * 3)
			}
		}
		x64 := make([]float64, len(x))
		var want float64
		for i, v := range x {
			x64[i] = float64(v)
			want = max(want, math.Abs(float64(v)))
		}
		if got := maxAbsFloat(x); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("maxAbsFloat(%v) = %v, want %v", x, got, want)
		}
		if got := maxAbsFloat(x64); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("maxAbsFloat(float64 %v) = %v, want %v", x64, got, want)
		}
	}
}
