package numerics

import (
	"math"
	"reflect"
	"slices"
	"testing"
)

func TestPseudoStochasticShift(t *testing.T) {
	for _, c := range []struct {
		x    int64
		sh   int
		want int64
	}{
		{12, 2, 3},   // exact
		{13, 2, 3},   // rest 01: hi 0, lo 1 -> down
		{14, 2, 4},   // rest 10: hi 1 > lo 0 -> up
		{15, 2, 3},   // rest 11: hi 1 = lo 1 -> down
		{-14, 2, -4}, // the sign is restored
		{3, 1, 2},    // sh 1: lo is empty, any rest rounds up
		{2, 1, 1},
		{0b10110, 3, 0b11}, // rest 110: hi 11 > lo 0<<1 -> up
		{0b10101, 3, 0b10}, // rest 101: hi 10 = lo 1<<1 -> down
		{5, 0, 5}, {5, -2, 20}, {-5, -2, -20},
		{math.MaxInt64, 63, 0}, {math.MaxInt64, -1, math.MaxInt64},
	} {
		if got := PseudoStochasticShift(c.x, c.sh); got != c.want {
			t.Errorf("PseudoStochasticShift(%d, %d) = %d, want %d", c.x, c.sh, got, c.want)
		}
	}
	// Odd symmetry, and within one step of the exact quotient; over every rest of an
	// even shift the rounding is unbiased up to the one case in 2^(sh/2) of hi == lo.
	for sh := 1; sh <= 10; sh++ {
		var bias float64
		for x := int64(0); x < 1<<sh; x++ {
			v := int64(7)<<sh + x
			got := PseudoStochasticShift(v, sh)
			if PseudoStochasticShift(-v, sh) != -got {
				t.Fatalf("not odd at %d, %d", v, sh)
			}
			exact := math.Ldexp(float64(v), -sh)
			if d := float64(got) - exact; d <= -1 || d >= 1 {
				t.Fatalf("PseudoStochasticShift(%d, %d) = %d, exact %v", v, sh, got, exact)
			}
			bias += float64(got) - exact
		}
		bias /= float64(int64(1) << sh)
		if sh%2 == 0 && math.Abs(bias) > math.Ldexp(1, -sh/2) {
			t.Errorf("sh %d: mean rounding error %v", sh, bias)
		}
	}
}

func TestNITIShiftAndRegister(t *testing.T) {
	// The first time, the accumulators' own maximum; then the register's exponent.
	if got := NITIShift(ScaleReg{}, -10, 1000, 6); got != ShiftFor(1000, 7) {
		t.Errorf("calibration shift %d", got)
	}
	r := NITIRegister(-10, 1000, 6)
	if r.Exp != -10+ShiftFor(1000, 7) || !r.Set {
		t.Errorf("register %+v", r)
	}
	// The same unit at another gradient exponent: the shift moves with it.
	if got := NITIShift(r, -12, 0, 6); got != r.Exp+12 {
		t.Errorf("delayed shift %d", got)
	}
	if GradMaxAbs([]int32{3, -70, 12}) != 70 {
		t.Error("GradMaxAbs")
	}
}

func TestUpdateNITI(t *testing.T) {
	// One update of 3/256 of a step, 100 times: the buffer carries it into whole steps.
	w := []int32{10}
	acc := []int16{0}
	for range 100 {
		// -3 << 4 shifted down by 4 is exactly -3: the update -(-3) adds 3 units.
		UpdateNITI(w, acc, []int32{-3 << 4}, 4, 6)
	}
	// 300 units = 1 step and 44 units (RoundShift carries a step once the buffer
	// reaches half a step, leaving a negative remainder).
	if got := int64(w[0])<<NITIAccFracBits + int64(acc[0]); got != 10<<NITIAccFracBits+300 {
		t.Errorf("weight %d, buffer %d: %d units, want %d", w[0], acc[0], got, 10<<NITIAccFracBits+300)
	}
	if a := acc[0]; a < -128 || a > 128 {
		t.Errorf("buffer %d holds more than half a step", a)
	}
	// Clipping to mu bits, and saturation of the weight.
	w, acc = []int32{127, -127, 0}, []int16{0, 0, 0}
	clipped, sat := UpdateNITI(w, acc, []int32{-1 << 20, 1 << 20, 1 << 20}, 4, 6)
	if clipped != 3 || w[2] != 0 || acc[2] != -63 {
		t.Errorf("clip: %d clipped, w %v acc %v", clipped, w, acc)
	}
	// The first two were already at the limits; 63 units is under half a step.
	if sat != 0 || w[0] != 127 || w[1] != -127 {
		t.Errorf("saturation %d, w %v", sat, w)
	}
	w, acc = []int32{127}, []int16{100}
	// -100 clips to -63: 163 units carry a step the weight cannot take, which is lost.
	if _, sat := UpdateNITI(w, acc, []int32{-100}, 0, 6); sat != 1 || w[0] != 127 || acc[0] != 163-256 {
		t.Errorf("saturated weight: %d, w %v acc %v", sat, w, acc)
	}
}

func TestUpdateShiftNoQAS(t *testing.T) {
	lr, _ := NewFixedLR(0.1)
	// QAS's shift exceeds the naive one by twice the weight exponent's magnitude.
	if d := UpdateShift(lr, -20, -7) - UpdateShiftNoQAS(lr, -20, -7); d != -14 {
		t.Errorf("QAS - naive = %d, want 2*weightExp = -14", d)
	}
}

func TestFP8Round(t *testing.T) {
	for _, c := range []struct {
		f    FP8Format
		x    float64
		want float64
	}{
		{E4M3, 448, 448}, {E4M3, 500, 448}, {E4M3, -1e9, -448}, {E4M3, 460, 448}, {E4M3, 440, 448},
		{E4M3, 1, 1}, {E4M3, 1.0625, 1}, {E4M3, 1.1875, 1.25}, {E4M3, 1.125, 1.125},
		{E4M3, 0.3, 0.3125}, {E4M3, math.Ldexp(1, -9), math.Ldexp(1, -9)}, // smallest subnormal
		{E4M3, math.Ldexp(1, -10), 0}, {E4M3, math.Ldexp(1.5, -10), math.Ldexp(1, -9)}, // ties to even, then up
		{E4M3, math.Ldexp(3, -10), math.Ldexp(2, -9)}, // 1.5 subnormal quanta: to even (2)
		{E5M2, 57344, 57344}, {E5M2, 60000, 57344}, {E5M2, 1.1, 1}, {E5M2, 1.2, 1.25},
		{E5M2, math.Ldexp(1, -16), math.Ldexp(1, -16)}, {E5M2, math.Ldexp(1, -17), 0},
		{E5M2, 0, 0},
	} {
		if got := c.f.Round(c.x); got != c.want {
			t.Errorf("%s.Round(%v) = %v, want %v", c.f.Name, c.x, got, c.want)
		}
	}
	if !math.IsNaN(E4M3.Round(math.NaN())) {
		t.Error("NaN")
	}
	// Every value of the grid is a fixed point, and the grid is symmetric: walk the
	// positive values code by code (exponent field e, mantissa field m).
	for _, f := range []FP8Format{E4M3, E5M2} {
		n := 0
		for e := 0; e < 1<<f.ExpBits; e++ {
			for m := 0; m < 1<<f.ManBits; m++ {
				v := math.Ldexp(float64(m), 1-f.Bias-f.ManBits) // subnormal
				if e > 0 {
					v = math.Ldexp(float64(m+1<<f.ManBits), e-f.Bias-f.ManBits)
				}
				if v > f.Max {
					continue
				}
				n++
				if f.Round(v) != v || f.Round(-v) != -v {
					t.Fatalf("%s: %v not a fixed point", f.Name, v)
				}
				// Halfway to the next code rounds to one of the two.
				if next := f.Round(math.Nextafter(v, math.Inf(1))); next < v {
					t.Fatalf("%s: above %v rounds to %v", f.Name, v, next)
				}
			}
		}
		if n < 100 {
			t.Errorf("%s: %d values", f.Name, n)
		}
	}
}

func TestFP8ScaleExp(t *testing.T) {
	for _, f := range []FP8Format{E4M3, E5M2} {
		for _, amax := range []float64{1e-6, 0.013, 1, 3.5, 448, 1000, 57344, 1e9} {
			e := f.FP8ScaleExp(amax)
			if math.Ldexp(amax, e) > f.Max || math.Ldexp(amax, e+1) <= f.Max {
				t.Errorf("%s: amax %v scaled by 2^%d", f.Name, amax, e)
			}
		}
		if f.FP8ScaleExp(0) != 0 {
			t.Error("amax 0")
		}
		if got := f.RoundScaled(0.013, f.FP8ScaleExp(0.013)); math.Abs(got-0.013) > 0.013/8 {
			t.Errorf("%s: 0.013 stored as %v", f.Name, got)
		}
	}
}

func TestParseUpdate(t *testing.T) {
	for _, c := range []struct {
		in, out string
		n       int
		want    []LayerUpdate
	}{
		{"", "all", 3, []LayerUpdate{Full, Full, Full}},
		{"all", "all", 2, []LayerUpdate{Full, Full}},
		{"bias-only", "bias-only", 2, []LayerUpdate{{Bias: true}, {Bias: true}}},
		{"last:2", "last:2", 3, []LayerUpdate{{}, Full, Full}},
		{"layers:0,b,0.25,1", "layers:0,b,0.25,1", 4, []LayerUpdate{{}, {Bias: true}, {Weights: 0.25, Bias: true}, Full}},
	} {
		u, err := ParseUpdate(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if u.String() != c.out {
			t.Errorf("%q prints as %q", c.in, u.String())
		}
		got, err := u.Layers(c.n)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q over %d layers: %v, %v", c.in, c.n, got, err)
		}
	}
	for _, bad := range []string{"last:0", "last:x", "layers:2", "layers:0,b,1.5", "some", "layers:"} {
		if _, err := ParseUpdate(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, c := range []struct {
		spec string
		n    int
	}{{"last:4", 3}, {"layers:0,0", 2}, {"layers:1", 2}} {
		u, _ := ParseUpdate(c.spec)
		if _, err := u.Layers(c.n); err == nil {
			t.Errorf("%q over %d layers accepted", c.spec, c.n)
		}
	}
	if r := (LayerUpdate{Weights: 0.25}).UpdatedRows(10); r != 3 {
		t.Errorf("a quarter of 10 rows: %d", r)
	}
	if r := (LayerUpdate{Weights: 0.01}).UpdatedRows(10); r != 1 {
		t.Errorf("a little of 10 rows: %d", r)
	}
	if r := (LayerUpdate{Weights: 0.5}).UpdatedRows(6); r != 3 {
		t.Errorf("half of 6 rows: %d", r)
	}
}

func TestParseVariant(t *testing.T) {
	for _, s := range []string{"rct", "niti", "fp8", "rct@last:3", "qat@bias-only", "fp32@layers:0,1"} {
		v, err := ParseVariant(s)
		if err != nil || v.String() != s {
			t.Errorf("%q: %v, %v", s, v, err)
		}
	}
	if v, _ := ParseVariant("rct@last:3"); v.Dir() != "rct@last-3" {
		t.Errorf("dir %q", v.Dir())
	}
	for _, bad := range []string{"xyz", "rct@", "rct@last", "@last:3"} {
		if _, err := ParseVariant(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseBits: a bit list ParseBits accepts holds widths 1 to 32 and prints, as a
// Plan, as text that ParseBits reads back to the same list.
func FuzzParseBits(f *testing.F) {
	for _, s := range []string{"8", "8,6,8,8,8", " 4 , 5", "0", "33", "", ",", "8,,8", "+8", "08"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bits, err := ParseBits(s)
		if err != nil {
			return
		}
		for _, b := range bits {
			if b < 1 || b > 32 {
				t.Fatalf("ParseBits(%q) = %v: width %d", s, bits, b)
			}
		}
		text := Plan{Bits: bits}.String()
		if back, err := ParseBits(text); err != nil || !slices.Equal(back, bits) {
			t.Fatalf("ParseBits(%q) = %v prints %q, reads back %v, %v", s, bits, text, back, err)
		}
	})
}
