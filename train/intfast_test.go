package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rctsim/rctsim/train/numerics"
)

// TestAddAlignedMatchesNumerics checks addAligned against numerics.AddAligned for
// exponents of both signs and gaps.
func TestAddAlignedMatchesNumerics(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x, y := make([]int8, 70000), make([]int8, 70000)
	for i := range x {
		x[i], y[i] = int8(r.IntN(256)-128), int8(r.IntN(256)-128)
	}
	for ea := -12; ea <= 12; ea += 3 {
		for eb := -40; eb <= 40; eb += 7 {
			c1, c2 := make([]int32, len(x)), make([]int32, len(x))
			e1 := numerics.AddAligned(x, ea, y, eb, c1)
			e2 := addAligned(x, ea, y, eb, c2)
			if e1 != e2 || !slices.Equal(c1, c2) {
				t.Fatalf("addAligned(%d, %d) differs from numerics.AddAligned", ea, eb)
			}
		}
	}
}

// TestFloatRangeIsMinMax checks floatRange against float64 min and max on short runs of
// random values, zeros of both signs, infinities, subnormals and NaNs, bit for bit.
func TestFloatRangeIsMinMax(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32,
		math.Float32frombits(0x7fc00001), math.Float32frombits(0xff800001)}
	for range 100000 {
		x := make([]float32, r.IntN(6))
		for i := range x {
			switch r.IntN(3) {
			case 0:
				x[i] = special[r.IntN(len(special))]
			case 1:
				x[i] = math.Float32frombits(r.Uint32())
			default:
				x[i] = float32(r.NormFloat64())
			}
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range x {
			lo, hi = min(lo, float64(v)), max(hi, float64(v))
		}
		if glo, ghi := floatRange(x); math.Float64bits(glo) != math.Float64bits(lo) || math.Float64bits(ghi) != math.Float64bits(hi) {
			t.Fatalf("floatRange(%v) = %v, %v; min and max give %v, %v", x, glo, ghi, lo, hi)
		}
	}
}

// TestAddBiasMatchesNumerics checks addBias against numerics.AddBias, saturation and
// every shift included.
func TestAddBiasMatchesNumerics(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{1, 7, 128, 600} {
		acc := make([]int32, 9*n)
		bias := make([]int32, n)
		for shift := -40; shift <= 70; shift += 3 {
			for i := range acc {
				acc[i] = int32(r.Int64N(1<<32) - 1<<31)
			}
			for i := range bias {
				bias[i] = int32(r.Int64N(1<<32) - 1<<31)
			}
			want := slices.Clone(acc)
			numerics.AddBias(want, n, bias, shift)
			addBias(acc, n, bias, shift)
			if !slices.Equal(acc, want) {
				t.Fatalf("n %d shift %d: addBias differs from numerics.AddBias", n, shift)
			}
		}
	}
}

// TestMaxAbs32MatchesDefinition checks maxAbs32 against its definition, the extremes
// of int32 included.
func TestMaxAbs32MatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, n := range []int{0, 1, 7, 300} {
		for range 50 {
			acc := make([]int32, n)
			for i := range acc {
				acc[i] = int32(r.Uint32())
				if r.IntN(8) == 0 {
					acc[i] = []int32{math.MinInt32, math.MaxInt32, -math.MaxInt32, 0, -1}[r.IntN(5)]
				}
			}
			for _, relu := range []bool{false, true} {
				var want int64
				for _, v := range acc {
					if a := int64(v); a > 0 || !relu {
						want = max(want, a, -a)
					}
				}
				if got := maxAbs32(acc, relu); int64(got) != min(want, math.MaxInt32) {
					t.Fatalf("maxAbs32(%v, %v) = %d, want %d", acc, relu, got, min(want, math.MaxInt32))
				}
			}
		}
	}
}

// TestChannelSums8 checks the integer bias gradient's channel sums, whose rows are
// cut among the cores, against a plain loop, with batches big enough to be cut.
func TestChannelSums8(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, c := range []int{16, 48, 6} {
		rows := 3*(1<<15)/c + 7
		x := make([]int8, rows*c)
		for i := range x {
			x[i] = int8(r.IntN(256) - 128)
		}
		want, got := make([]int32, c), make([]int32, c)
		for i, v := range x {
			want[i%c] += int32(v)
		}
		for j := range got {
			got[j] = 12345 // overwritten
		}
		channelSums8(x, got)
		if !slices.Equal(got, want) {
			t.Errorf("%d channels: sums %v, want %v", c, got, want)
		}
	}
}
