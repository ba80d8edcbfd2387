package numerics

import (
	"math"
	"slices"
	"testing"
)

func TestMomentumShift(t *testing.T) {
	for _, tc := range []struct {
		beta float64
		k    int
		ok   bool
	}{
		{0, 0, true}, {0.5, 1, true}, {0.75, 2, true}, {0.875, 3, true}, {0.9375, 4, true},
		{1 - 1.0/256, 8, true}, {1 - 1.0/512, 0, false}, {0.9, 0, false}, {1, 0, false},
		{-0.5, 0, false}, {math.NaN(), 0, false},
	} {
		k, err := MomentumShift(tc.beta)
		if (err == nil) != tc.ok || k != tc.k {
			t.Errorf("MomentumShift(%v) = %d, %v; want %d, ok %v", tc.beta, k, err, tc.k, tc.ok)
		}
		if tc.ok && MomentumBeta(k) != tc.beta {
			t.Errorf("MomentumBeta(%d) = %v, want %v", k, MomentumBeta(k), tc.beta)
		}
	}
}

// With no gradient the buffer decays to exactly zero, never growing on the way.
func TestMomentumDecaysToZero(t *testing.T) {
	for _, k := range []int{1, 3, 8} {
		acc := []int16{32767, -32767, 5, -1, 0, 1000}
		zero := make([]int32, len(acc))
		reg := ScaleReg{Exp: 0, Set: true}
		for step := 0; ; step++ {
			prev := slices.Clone(acc)
			MomentumAccumulate(acc, zero, 1<<15, 20, k, reg, 0, RoundNearest, 0, 0)
			for j := range acc {
				if abs16(acc[j]) > abs16(prev[j]) || (prev[j] != 0 && abs16(acc[j]) == abs16(prev[j])) {
					t.Fatalf("k=%d step %d: |%d| -> |%d| does not decay", k, step, prev[j], acc[j])
				}
			}
			if slices.Equal(acc, make([]int16, len(acc))) {
				break
			}
			if step > 300<<k {
				t.Fatalf("k=%d: not zero after %d steps: %v", k, step, acc)
			}
		}
	}
}

func abs16(a int16) int { return max(int(a), -int(a)) }

// A constant gradient's update settles at 2^k times the update without momentum.
func TestMomentumSteadyState(t *testing.T) {
	// lr*g = 2^15 * 3 * 2^-20 = 0.09375 grid steps: 24 units of 2^-8.
	const mant, shift = 1 << 15, 20
	grad := []int32{-3, 3}
	for _, k := range []int{1, 3, 5} {
		acc := make([]int16, 2)
		for range 40 << k {
			MomentumAccumulate(acc, grad, mant, shift, k, ScaleReg{Set: true}, 0, RoundNearest, 0, 0)
		}
		want := 24 << k
		for j, s := range []int{1, -1} {
			if got := int(acc[j]) * s; got < want-(1<<k) || got > want {
				t.Errorf("k=%d: steady buffer %d, want within 2^k below %d", k, acc[j], s*want)
			}
		}
	}
}

// Stochastic rounding keeps a gain of a fraction of the buffer's unit in
// expectation, and the weights' rounding keeps a fraction of a grid step.
func TestMomentumUnbiased(t *testing.T) {
	const n = 1 << 16
	grad := make([]int32, n)
	for j := range grad {
		grad[j] = -1
	}
	acc := make([]int16, n)
	// lr*g = 2^15 * 2^-25 steps = 2^-10 steps = a quarter of the buffer's unit.
	MomentumAccumulate(acc, grad, 1<<15, 25, 3, ScaleReg{}, 0, RoundStochastic, 7, 0)
	var sum float64
	for _, a := range acc {
		sum += float64(a)
	}
	if mean := sum / n; math.Abs(mean-0.25) > 0.01 {
		t.Errorf("mean gain %.4f units, want 0.25", mean)
	}
	// The decay is unbiased too: a buffer of 5 units keeps 5*7/8 in expectation.
	for j := range acc {
		acc[j] = 5
	}
	MomentumAccumulate(acc, make([]int32, n), 1<<15, 25, 3, ScaleReg{}, 0, RoundStochastic, 8, 0)
	sum = 0
	for _, a := range acc {
		sum += float64(a)
	}
	if mean := sum / n; math.Abs(mean-5*0.875) > 0.01 {
		t.Errorf("mean after decay %.4f units, want %.4f", mean, 5*0.875)
	}
	for j := range acc {
		acc[j] = 64 // a quarter of a grid step
	}
	w := make([]int32, n)
	MomentumApply(w, acc, 8, RoundStochastic, 7, 0)
	sum = 0
	for _, v := range w {
		sum += float64(v)
	}
	if mean := sum / n; math.Abs(mean-0.25) > 0.01 {
		t.Errorf("mean weight step %.4f, want 0.25", mean)
	}
}

// A bitwidth change rescales the buffer to the new grid as it is read.
func TestMomentumRescale(t *testing.T) {
	zero := []int32{0, 0, 0}
	for _, tc := range []struct {
		regExp, unit int
		in, want     []int16
	}{
		{-8, -8, []int16{800, -800, 16}, []int16{700, -700, 14}},         // same grid: decay only
		{-8, -9, []int16{800, -800, 20000}, []int16{1400, -1400, 32767}}, // one more bit: twice the units, saturating
		{-8, -7, []int16{800, -800, 3}, []int16{350, -350, 1}},           // one bit fewer: half, rounded
	} {
		acc := slices.Clone(tc.in)
		clipped := MomentumAccumulate(acc, zero, 1<<15, 20, 3, ScaleReg{Exp: tc.regExp, Set: true}, tc.unit, RoundNearest, 0, 0)
		if !slices.Equal(acc, tc.want) {
			t.Errorf("unit %d -> %d: %v -> %v, want %v", tc.regExp, tc.unit, tc.in, acc, tc.want)
		}
		if wantClip := 0; tc.unit == -9 {
			wantClip = 1
			if clipped != wantClip {
				t.Errorf("unit %d -> %d: clipped %d, want %d", tc.regExp, tc.unit, clipped, wantClip)
			}
		}
	}
}

func TestMomentumApply(t *testing.T) {
	w := []int32{0, 0, 0, 120, -120}
	acc := []int16{256, 128, -127, 32767, -32767}
	sat := MomentumApply(w, acc, 8, RoundNearest, 0, 0)
	if want := []int32{1, 1, 0, 127, -127}; !slices.Equal(w, want) || sat != 2 {
		t.Errorf("MomentumApply = %v (%d saturated), want %v (2)", w, sat, want)
	}
}

// A tile updated on its own gets the bits of its place in the tensor.
func TestMomentumTiled(t *testing.T) {
	const n = 1000
	grad := make([]int32, n)
	acc0 := make([]int16, n)
	w0 := make([]int32, n)
	for j := range grad {
		grad[j] = int32(j*7919%2001 - 1000)
		acc0[j] = int16(j*31%801 - 400)
		w0[j] = int32(j%255 - 127)
	}
	reg := ScaleReg{Exp: -9, Set: true}
	whole, wWhole := slices.Clone(acc0), slices.Clone(w0)
	c1 := MomentumAccumulate(whole, grad, 40000, 14, 3, reg, -8, RoundStochastic, 99, 0)
	s1 := MomentumApply(wWhole, whole, 8, RoundStochastic, 99, 0)
	tiled, wTiled := slices.Clone(acc0), slices.Clone(w0)
	var c2, s2 int
	for lo := 0; lo < n; lo += 300 {
		hi := min(n, lo+300)
		c2 += MomentumAccumulate(tiled[lo:hi], grad[lo:hi], 40000, 14, 3, reg, -8, RoundStochastic, 99, uint64(lo))
		s2 += MomentumApply(wTiled[lo:hi], tiled[lo:hi], 8, RoundStochastic, 99, uint64(lo))
	}
	if !slices.Equal(whole, tiled) || !slices.Equal(wWhole, wTiled) || c1 != c2 || s1 != s2 {
		t.Error("tiled momentum update differs from the whole-tensor update")
	}
	if MomentumAbsSum([]int16{-3, 4, -32767}) != 32774 {
		t.Error("MomentumAbsSum")
	}
}
