package numerics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRoundShift(t *testing.T) {
	for _, c := range []struct {
		x    int64
		sh   int
		want int64
	}{
		{5, 1, 3}, {-5, 1, -3}, // 2.5: ties away from zero
		{4, 1, 2}, {3, 1, 2}, {1, 1, 1}, {-1, 1, -1}, {-3, 1, -2},
		{7, 2, 2}, {6, 2, 2}, {-6, 2, -2}, {5, 2, 1}, {-5, 2, -1},
		{0, 5, 0}, {31, 5, 1}, {15, 5, 0}, {16, 5, 1}, {-16, 5, -1}, {-15, 5, 0},
		{123, 0, 123}, {3, -2, 12}, {-3, -2, -12},
		{math.MaxInt64, -1, math.MaxInt64}, {math.MinInt64 + 1, -1, -math.MaxInt64}, {1 << 61, -2, math.MaxInt64},
		{math.MinInt64, 1, -(1 << 62)}, {1 << 62, 63, 1}, {(1 << 62) - 1, 63, 0}, {math.MaxInt64, 64, 0},
	} {
		if got := RoundShift(c.x, c.sh); got != c.want {
			t.Errorf("RoundShift(%d, %d) = %d, want %d", c.x, c.sh, got, c.want)
		}
	}
	// Symmetry: RoundShift(-x) == -RoundShift(x).
	for x := int64(-1000); x <= 1000; x++ {
		for sh := 0; sh < 12; sh++ {
			if RoundShift(-x, sh) != -RoundShift(x, sh) {
				t.Fatalf("RoundShift not odd at x=%d sh=%d", x, sh)
			}
			// Nearest: the error is at most half a step.
			if d := math.Abs(float64(RoundShift(x, sh)) - math.Ldexp(float64(x), -sh)); d > 0.5 {
				t.Fatalf("RoundShift(%d,%d) off by %v", x, sh, d)
			}
		}
	}
}

func TestSaturate(t *testing.T) {
	for _, c := range []struct {
		x          int64
		bits       int
		want       int64
		wantShiftF int
	}{
		{200, 8, 127, 1}, {-200, 8, -127, 1}, {-128, 8, -127, 1}, {127, 8, 127, 0}, {-127, 8, -127, 0},
		{5, 2, 1, 2}, {-5, 2, -1, 2}, {40000, 16, 32767, 1}, {-(1 << 40), 32, -(1<<31 - 1), 10},
	} {
		if got := Saturate(c.x, c.bits); got != c.want {
			t.Errorf("Saturate(%d, %d) = %d, want %d", c.x, c.bits, got, c.want)
		}
		if got := ShiftFor(c.x, c.bits); got != c.wantShiftF {
			t.Errorf("ShiftFor(%d, %d) = %d, want %d", c.x, c.bits, got, c.wantShiftF)
		}
	}
}

func TestShiftFor(t *testing.T) {
	for _, c := range []struct {
		maxAbs int64
		bits   int
		want   int
	}{
		{0, 8, 0}, {127, 8, 0}, {128, 8, 1}, {254, 8, 1}, {255, 8, 2}, {300, 8, 2}, {-300, 8, 2},
		{math.MaxInt32, 8, 25}, {1 << 24, 8, 18}, {math.MinInt64, 8, 57}, {math.MaxInt64, 8, 57},
	} {
		got := ShiftFor(c.maxAbs, c.bits)
		if got != c.want {
			t.Errorf("ShiftFor(%d, %d) = %d, want %d", c.maxAbs, c.bits, got, c.want)
		}
	}
	// The definition: the smallest shift that fits.
	for m := int64(0); m < 5000; m += 7 {
		sh := ShiftFor(m, 8)
		if RoundShift(m, sh) > 127 || (sh > 0 && RoundShift(m, sh-1) <= 127) {
			t.Fatalf("ShiftFor(%d) = %d is not the smallest fitting shift", m, sh)
		}
	}
}

func TestRequant(t *testing.T) {
	acc := []int32{-300, 300, 100, 64, -64, 0, 1000, -2000, 5}
	out := make([]int8, len(acc))
	m, sat := Requant(acc, 1, false, out)
	if want := []int8{-127, 127, 50, 32, -32, 0, 127, -127, 3}; !slices.Equal(out, want) || m != 2000 || sat != 4 {
		t.Errorf("Requant no relu = %v max %d sat %d, want %v max 2000 sat 4", out, m, sat, want)
	}
	m, sat = Requant(acc, 1, true, out)
	if want := []int8{0, 127, 50, 32, 0, 0, 127, 0, 3}; !slices.Equal(out, want) || m != 1000 || sat != 2 {
		t.Errorf("Requant relu = %v max %d sat %d, want %v max 1000 sat 2", out, m, sat, want)
	}
	m, sat = Requant([]int32{3, -3, 40, math.MinInt32 + 1}, -2, false, out)
	if want := []int8{12, -12, 127, -127}; !slices.Equal(out[:4], want) || m != math.MaxInt32 || sat != 2 {
		t.Errorf("Requant left shift = %v max %d sat %d", out[:4], m, sat)
	}
}

// splitMix64 is the textbook generator RandAt must agree with.
type splitMix64 struct{ state uint64 }

func (s *splitMix64) next() uint64 {
	s.state += 0x9e3779b97f4a7c15
	z := s.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func TestRandBits(t *testing.T) {
	key := RandKey(42, 7)
	g := splitMix64{state: key}
	for i := uint64(0); i < 100; i++ {
		if got, want := RandAt(key, i), g.next(); got != want {
			t.Fatalf("RandAt(key, %d) = %#x, SplitMix64 gives %#x", i, got, want)
		}
		if RandBits(42, 7, i) != RandAt(key, i) {
			t.Fatal("RandBits differs from RandAt(RandKey)")
		}
	}
	// Pinned values: the device reproduces exactly these.
	for _, c := range []struct{ seed, stream, index, want uint64 }{
		{0, 0, 0, 0x568a9b0b1a2c05ec},
		{1, 2, 3, 0xdac0b083a7c5fea9},
	} {
		if got := RandBits(c.seed, c.stream, c.index); got != c.want {
			t.Errorf("RandBits(%d,%d,%d) = %#x, want %#x", c.seed, c.stream, c.index, got, c.want)
		}
	}
	if RandKey(1, 2) == RandKey(2, 1) {
		t.Error("RandKey is symmetric in seed and stream")
	}
}

func TestStochasticShift(t *testing.T) {
	// Exact multiples never round; results are always floor or floor+1.
	for x := int64(-300); x <= 300; x++ {
		for sh := 0; sh < 6; sh++ {
			for _, r := range []uint64{0, 1, 0xffffffffffffffff, 0x5555555555555555} {
				got := StochasticShift(x, sh, r)
				fl := int64(math.Floor(math.Ldexp(float64(x), -sh)))
				if got != fl && got != fl+1 {
					t.Fatalf("StochasticShift(%d,%d,%#x) = %d, floor is %d", x, sh, r, got, fl)
				}
				if x%(1<<sh) == 0 && got != x>>sh {
					t.Fatalf("StochasticShift(%d,%d) = %d, exact %d", x, sh, got, x>>sh)
				}
			}
		}
	}
	if got := StochasticShift(math.MaxInt64, 1, 1); got != 1<<62 {
		t.Errorf("StochasticShift(MaxInt64, 1, 1) = %d, want 2^62", got)
	}
	if got := StochasticShift(3, -2, 0); got != 12 {
		t.Errorf("StochasticShift(3,-2) = %d", got)
	}
	// Unbiased: the mean over n draws is within 5 standard errors of x/2^sh.
	const n = 200000
	key := RandKey(12345, 1)
	for _, c := range []struct {
		x  int64
		sh int
	}{{1, 4}, {-1, 4}, {5, 3}, {-13, 3}, {1000003, 10}, {-77, 7}, {3, 20}} {
		var sum float64
		for i := range uint64(n) {
			sum += float64(StochasticShift(c.x, c.sh, RandAt(key, i)))
		}
		want := math.Ldexp(float64(c.x), -c.sh)
		p := want - math.Floor(want)
		se := math.Sqrt(p * (1 - p) / n)
		if d := math.Abs(sum/n - want); d > 5*se+1e-12 {
			t.Errorf("StochasticShift(%d, %d): mean %v, want %v (5 s.e. = %v)", c.x, c.sh, sum/n, want, 5*se)
		}
	}
}

func TestFixedLR(t *testing.T) {
	for _, lr := range []float64{1, 0.1, 0.01, 0.05, 3e-4, 1e-9, 0.999999999, 1000} {
		f, err := NewFixedLR(lr)
		if err != nil {
			t.Fatal(err)
		}
		if f.Mant < 1<<15 || f.Mant >= 1<<16 {
			t.Errorf("NewFixedLR(%v) mantissa %d is not 16 bits", lr, f.Mant)
		}
		if rel := math.Abs(f.Float()-lr) / lr; rel > 0x1p-16 {
			t.Errorf("NewFixedLR(%v) = %v, relative error %v", lr, f.Float(), rel)
		}
	}
	if f, _ := NewFixedLR(0.5); f.Mant != 1<<15 || f.Shift != 16 {
		t.Errorf("NewFixedLR(0.5) = %+v", f)
	}
	for _, lr := range []float64{0, -1, math.NaN(), math.Inf(1), 1e-20, 1e6} {
		if _, err := NewFixedLR(lr); err == nil {
			t.Errorf("NewFixedLR(%v) accepted", lr)
		}
	}
}

func TestUpdateInt(t *testing.T) {
	// lr = 2^15 * 2^-15 = 1; gradient scale 2^-4 relative to the grid: the update in
	// grid steps is -g/16.
	lr := FixedLR{Mant: 1 << 15, Shift: 15}
	sh := UpdateShift(lr, -4, 0)
	if sh != 19 {
		t.Fatalf("UpdateShift = %d, want 19", sh)
	}
	w := []int32{10, 10, 120, -5, 0}
	g := []int32{100, -100, -1000, 8, 24}
	// -6.25, 6.25, 62.5, -0.5, -1.5 rounded to nearest (ties away from zero).
	sat := UpdateInt(w, g, lr.Mant, sh, 8, RoundNearest, 0, 0)
	if want := []int32{4, 16, 127, -6, -2}; !slices.Equal(w, want) || sat != 1 {
		t.Errorf("UpdateInt nearest = %v sat %d, want %v sat 1", w, sat, want)
	}
	// Stochastic: a tile updated on its own (with its index offset) equals the whole.
	whole := make([]int32, 1000)
	grad := make([]int32, 1000)
	for i := range grad {
		grad[i] = int32(i*7919%2001 - 1000)
		whole[i] = int32(i%15 - 7)
	}
	tiled := slices.Clone(whole)
	key := RandKey(9, 3)
	UpdateInt(whole, grad, lr.Mant, 21, 4, RoundStochastic, key, 0)
	UpdateInt(tiled[:300], grad[:300], lr.Mant, 21, 4, RoundStochastic, key, 0)
	UpdateInt(tiled[300:], grad[300:], lr.Mant, 21, 4, RoundStochastic, key, 300)
	if !slices.Equal(whole, tiled) {
		t.Error("tiled stochastic update differs from the whole-tensor update")
	}
	for _, v := range whole {
		if v < -7 || v > 7 {
			t.Fatalf("4-bit weight %d out of range", v)
		}
	}
}

func TestGavg(t *testing.T) {
	g := []int32{-3, 5, 0, math.MinInt32 + 1}
	if s := GradAbsSum(g); s != 8+math.MaxInt32 {
		t.Errorf("GradAbsSum = %d", s)
	}
	// |g| sum 8 over 4 weights, lr*g/Δ = g * mant * 2^-shift = g/2: mean 1.
	if got := Gavg(8, 4, 1<<15, 16); got != 1 {
		t.Errorf("Gavg = %v, want 1", got)
	}
}

func TestConvertInt(t *testing.T) {
	w := []int32{3, -3, 5, 127, -127, 0, 1, -1, 64}
	orig := slices.Clone(w)
	ConvertInt(w, 8, 9)
	if want := []int32{6, -6, 10, 254, -254, 0, 2, -2, 128}; !slices.Equal(w, want) {
		t.Errorf("widen = %v", w)
	}
	ConvertInt(w, 9, 8)
	if !slices.Equal(w, orig) {
		t.Errorf("widen then narrow = %v, want %v", w, orig)
	}
	sat := ConvertInt(w, 8, 7)
	// 1.5, -1.5, 2.5, 63.5, -63.5, 0, 0.5, -0.5, 32 -> ties away, 7-bit range ±63.
	if want := []int32{2, -2, 3, 63, -63, 0, 1, -1, 32}; !slices.Equal(w, want) || sat != 2 {
		t.Errorf("narrow = %v sat %d, want %v sat 2", w, sat, want)
	}
	w = []int32{100, -100, 7}
	ConvertInt(w, 8, 16)
	ConvertInt(w, 16, 8)
	if !slices.Equal(w, []int32{100, -100, 7}) {
		t.Errorf("8->16->8 = %v", w)
	}
}

func TestGEMMInt(t *testing.T) {
	a := []int8{1, 2, 3, -4, 5, -6}    // 2x3
	b := []int32{7, 8, 9, 10, -11, 12} // 3x2
	acc := make([]int32, 4)
	GEMMInt(a, b, 2, 2, 3, acc)
	if want := []int32{1*7 + 2*9 - 3*11, 1*8 + 2*10 + 3*12, -4*7 + 5*9 + 6*11, -4*8 + 5*10 - 6*12}; !slices.Equal(acc, want) {
		t.Errorf("GEMMInt = %v, want %v", acc, want)
	}
	// Saturation at the symmetric int32 range.
	a = []int8{127, 127, -127, -127}
	b = []int32{math.MaxInt32, math.MaxInt32}
	GEMMInt(a, b, 2, 1, 2, acc)
	if acc[0] != math.MaxInt32 || acc[1] != -math.MaxInt32 {
		t.Errorf("saturating GEMMInt = %v", acc[:2])
	}
}

func TestAddBias(t *testing.T) {
	acc := []int32{1, 2, 3, 4, 5, 6} // 2 positions x 3 channels
	AddBias(acc, 3, []int32{3, -3, 1}, 1)
	if want := []int32{3, 0, 4, 6, 3, 7}; !slices.Equal(acc, want) {
		t.Errorf("AddBias shift 1 = %v, want %v", acc, want)
	}
	AddBias(acc, 3, []int32{1, 0, -1}, -4)
	if want := []int32{19, 0, -12, 22, 3, -9}; !slices.Equal(acc, want) {
		t.Errorf("AddBias shift -4 = %v, want %v", acc, want)
	}
}

// TestQuantizeMatchesLdexp holds Quantize's product by 2^-exp to its definition,
// math.Ldexp's scaling, on float32 values of every magnitude (subnormals, the largest,
// points of the grid, halves and their neighbours; infinities and NaN aside) for
// exponents from -1100 to 1100.
func TestQuantizeMatchesLdexp(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	x := []float32{0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32, 0.5, -0.5, 1.5, -2.5}
	for range 2000 {
		x = append(x, math.Float32frombits(r.Uint32()&^(0xff<<23)|uint32(r.IntN(255))<<23))
	}
	for _, exp := range []int{-1100, -901, -900, -149, -130, -100, -7, -1, 0, 1, 5, 100, 127, 500, 900, 901, 1100} {
		for _, scale := range []float32{1, 0x1p-20, 0x1p20} {
			xs := make([]float32, len(x))
			for i, v := range x {
				xs[i] = v * scale
			}
			// Values on and between the grid's points, halves included.
			for range 500 {
				q := float64(r.IntN(261)-130) + float64(r.IntN(5))/4
				v := float32(math.Ldexp(q, exp))
				xs = append(xs, v, math.Nextafter32(v, float32(math.Inf(1))), math.Nextafter32(v, float32(math.Inf(-1))))
			}
			got, want := make([]int8, len(xs)), make([]int8, len(xs))
			n, nw := Quantize(xs, exp, got), quantizeDef(xs, exp, want)
			if n != nw || !slices.Equal(got, want) {
				t.Fatalf("exp %d: Quantize differs from math.Ldexp's scaling", exp)
			}
		}
	}
}

// quantizeDef is Quantize by its definition, with math.Ldexp.
func quantizeDef(x []float32, exp int, out []int8) (saturated int) {
	for i, v := range x {
		r := math.Round(math.Ldexp(float64(v), -exp))
		if math.Abs(r) > 127 {
			r = math.Copysign(127, r)
			saturated++
		}
		out[i] = int8(r)
	}
	return saturated
}

func TestQuantExpAndQuantize(t *testing.T) {
	for _, c := range []struct {
		maxAbs float64
		want   int
	}{{1, -6}, {0.99, -7}, {127, 0}, {127.49, 0}, {127.5, 1}, {0, 0}, {1.0 / 32, -11}, {1e6, 13}} {
		if got := QuantExp(c.maxAbs, 8); got != c.want {
			t.Errorf("QuantExp(%v) = %d, want %d", c.maxAbs, got, c.want)
		}
	}
	out := make([]int8, 6)
	sat := Quantize([]float32{1, -1, 0.5, 0.0078125, 3, -0.01171875}, -6, out)
	if want := []int8{64, -64, 32, 1, 127, -1}; !slices.Equal(out, want) || sat != 1 {
		t.Errorf("Quantize = %v sat %d, want %v sat 1", out, sat, want)
	}
}

func TestSoftmaxXent(t *testing.T) {
	// Row 0: equal logits, label 2; row 1: logit 1 dominant (by 4*2^-1 = 2), label 1.
	logits := []int8{0, 0, 0, 0, 4, 0}
	labels := []int32{2, 1}
	prob := make([]float64, 6)
	errs := make([]int8, 6)
	e, loss, correct := SoftmaxXent(logits, -1, 3, labels, 2, prob, errs)
	p := math.Exp(2) / (math.Exp(2) + 2)
	wantLoss := math.Log(3) - math.Log(p)
	if math.Abs(loss-wantLoss) > 1e-12 || correct != 1 {
		t.Errorf("loss %v correct %d, want %v and 1", loss, correct, wantLoss)
	}
	// Largest error: (1/3 - 1)/2 = -1/3 -> exponent -8 (85.3 <= 127 < 170.7).
	if e != -8 {
		t.Errorf("error exponent %d, want -8", e)
	}
	q := func(v float64) int8 { return int8(math.Round(v * 256)) }
	want := []int8{q(1.0 / 6), q(1.0 / 6), q(-1.0 / 3), q((1 - p) / 4), q((p - 1) / 2), q((1 - p) / 4)}
	if !slices.Equal(errs, want) {
		t.Errorf("errors %v, want %v", errs, want)
	}
}

func TestAddAligned(t *testing.T) {
	acc := make([]int32, 2)
	e := AddAligned([]int8{1, -2}, 0, []int8{3, 4}, -2, acc)
	if e != -2 || !slices.Equal(acc, []int32{7, -4}) {
		t.Errorf("AddAligned = %v exp %d", acc, e)
	}
	// A gap beyond 23 bits rounds the finer operand.
	e = AddAligned([]int8{127, -127}, 10, []int8{64, -64}, -20, acc)
	if e != 10-23 || int64(acc[0]) != 127<<23+RoundShift(64, 7) || acc[1] != -(127<<23)-1 {
		t.Errorf("AddAligned wide gap = %v exp %d", acc, e)
	}
}

func TestParseRounding(t *testing.T) {
	for _, r := range []Rounding{RoundStochastic, RoundNearest} {
		got, err := ParseRounding(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRounding(%q) = %v, %v", r.String(), got, err)
		}
	}
	if _, err := ParseRounding("up"); err == nil {
		t.Error("ParseRounding accepted a bad name")
	}
}

func BenchmarkRequant(b *testing.B) {
	acc := make([]int32, 1<<16)
	for i := range acc {
		acc[i] = int32((i*7919)%20001 - 10000)
	}
	out := make([]int8, len(acc))
	for b.Loop() {
		Requant(acc, 6, true, out)
	}
}

func TestSoftmaxXentRoundStochastic(t *testing.T) {
	logits := []int8{3, -7, 20, 1, 0, 0, 5, -2, 9, 9, 9, 4}
	labels := []int32{0, 3, 2}
	prob := make([]float64, len(logits))
	near := make([]int8, len(logits))
	e, loss, correct := SoftmaxXent(logits, -2, 4, labels, 3, prob, near)
	exact := append([]float64(nil), prob...) // the float errors before rounding
	stoch := make([]int8, len(logits))
	sum := make([]float64, len(logits))
	const n = 20000
	for k := range uint64(n) {
		e2, loss2, correct2 := SoftmaxXentRound(logits, -2, 4, labels, 3, RoundStochastic, RandKey(5, k), 0, prob, stoch)
		if e2 != e || loss2 != loss || correct2 != correct {
			t.Fatal("stochastic rounding changed the exponent, loss or count")
		}
		for i, v := range stoch {
			sum[i] += float64(v)
			if d := float64(v) - math.Ldexp(exact[i], -e); d <= -1 || d >= 1 {
				t.Fatalf("element %d rounded to %d, exact %v", i, v, math.Ldexp(exact[i], -e))
			}
		}
	}
	for i := range sum {
		want := math.Ldexp(exact[i], -e)
		p := want - math.Floor(want)
		if d := math.Abs(sum[i]/n - want); d > 5*math.Sqrt(p*(1-p)/n)+1e-12 {
			t.Errorf("element %d: mean %v, exact %v", i, sum[i]/n, want)
		}
	}
	// Nearest through SoftmaxXentRound is SoftmaxXent.
	near2 := make([]int8, len(logits))
	SoftmaxXentRound(logits, -2, 4, labels, 3, RoundNearest, 99, 0, prob, near2)
	if !slices.Equal(near, near2) {
		t.Error("SoftmaxXentRound(nearest) differs from SoftmaxXent")
	}
	if LossStream(3) != RandStream(3, LossLayer, 0) {
		t.Error("LossStream")
	}
}

func TestRequant64(t *testing.T) {
	// On int32 accumulators Requant64 is Requant, fast path and general path alike.
	r := newSplitMix(3)
	acc32 := make([]int32, 500)
	acc64 := make([]int64, len(acc32))
	for i := range acc32 {
		acc32[i] = int32(int64(r.next()%(1<<24)) - 1<<23)
		acc64[i] = int64(acc32[i])
	}
	for _, sh := range []int{-3, 0, 1, 5, 17, 61, 62, 70} {
		for _, relu := range []bool{false, true} {
			o32, o64 := make([]int8, len(acc32)), make([]int8, len(acc32))
			m32, s32 := Requant(acc32, sh, relu, o32)
			m64, s64 := Requant64(acc64, sh, relu, o64)
			if !slices.Equal(o32, o64) || int64(m32) != m64 || s32 != s64 {
				t.Errorf("shift %d relu %v: Requant64 differs from Requant", sh, relu)
			}
		}
	}
	// Values beyond 2^62 take the general path and saturate.
	out := make([]int8, 4)
	m, s := Requant64([]int64{math.MaxInt64, -math.MaxInt64, 1 << 62, 3 << 20}, 20, false, out)
	if !slices.Equal(out, []int8{127, -127, 127, 3}) || m != math.MaxInt64 || s != 3 {
		t.Errorf("large values: %v, max %d, saturated %d", out, m, s)
	}
}

// newSplitMix returns a SplitMix64 generator for tests.
func newSplitMix(seed uint64) *splitMix64 { return &splitMix64{state: seed} }

func TestWideIntegerHelpers(t *testing.T) {
	if AddSat(math.MaxInt64-1, 5) != math.MaxInt64 || AddSat(-math.MaxInt64, -5) != -math.MaxInt64 || AddSat(3, -5) != -2 {
		t.Error("AddSat")
	}
	if mulSat(1<<40, 1<<30) != math.MaxInt64 || mulSat(-(1<<40), 1<<30) != -math.MaxInt64 || mulSat(-3, 7) != -21 || mulSat(math.MinInt64, -1) != math.MaxInt64 {
		t.Error("mulSat")
	}
	for _, c := range []struct{ a, b, want int64 }{{7, 2, 4}, {-7, 2, -4}, {5, 3, 2}, {-5, 3, -2}, {4, 3, 1}, {0, 9, 0}} {
		if got := RoundDiv(c.a, c.b); got != c.want {
			t.Errorf("RoundDiv(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	dst := make([]int32, 3)
	if sh := Narrow32([]int64{1 << 40, -(1 << 33), 5}, dst); sh != 10 || !slices.Equal(dst, []int32{1 << 30, -(1 << 23), 0}) {
		t.Errorf("Narrow32: shift %d, %v", sh, dst)
	}
	if sh := Narrow32([]int64{-(1 << 31) + 1, 12}, dst); sh != 0 || dst[0] != -(1<<31)+1 {
		t.Errorf("Narrow32 of values that fit: shift %d", sh)
	}
}

// normGroup returns n random int8 values and their exact sums.
func normGroup(r *splitMix64, n int, spread int) (x []int8, s1, s2 int64) {
	x = make([]int8, n)
	for i := range x {
		v := int8(int(r.next()%uint64(2*spread+1))-spread) / 2
		v += int8(r.next() % 40) // an offset, so the mean matters
		x[i] = v
		s1 += int64(v)
		s2 += int64(v) * int64(v)
	}
	return x, s1, s2
}

func TestNormInvStd(t *testing.T) {
	r := newSplitMix(5)
	for _, n := range []int{2, 17, 4096} {
		x, s1, s2 := normGroup(r, n, 80)
		var mean, v float64
		for _, e := range x {
			mean += float64(e)
		}
		mean /= float64(n)
		for _, e := range x {
			v += (float64(e) - mean) * (float64(e) - mean)
		}
		v /= float64(n)
		const exp = -5
		want := 1 / math.Sqrt(v+NormEps*math.Ldexp(1, -2*exp))
		if got := NormInvStd(int64(n), s1, s2, exp); math.Abs(got-want) > 1e-12*want {
			t.Errorf("n=%d: NormInvStd %v, want %v", n, got, want)
		}
	}
	// A constant group: only ε keeps it finite.
	if got := NormInvStd(4, 8, 16, 0); math.Abs(got-1/math.Sqrt(NormEps)) > 1e-6 {
		t.Errorf("constant group: %v", got)
	}
}

// TestNormBackwardCoefsIsTheGradient checks the affine backward map against central
// differences of L = Σ u_j * y_j with y = scale*x_hat*(unit of x), x_hat the
// normalised group (ε = 0 at a coarse exponent, so it is negligible).
func TestNormBackwardCoefsIsTheGradient(t *testing.T) {
	r := newSplitMix(11)
	const n = 9
	x := make([]float64, n)
	u := make([]float64, n)
	for i := range x {
		x[i] = float64(int(r.next()%200)) - 100
		u[i] = float64(int(r.next()%200)) - 100
	}
	const scale = 0.37
	xhat := func(x []float64, j int) float64 {
		var m, v float64
		for _, e := range x {
			m += e
		}
		m /= n
		for _, e := range x {
			v += (e - m) * (e - m)
		}
		v /= n
		return (x[j] - m) / math.Sqrt(v)
	}
	loss := func() float64 {
		var s float64
		for j := range x {
			s += u[j] * scale * xhat(x, j)
		}
		return s
	}
	var s1, s2, su, sux float64
	for j := range x {
		s1 += x[j]
		s2 += x[j] * x[j]
		su += u[j]
		sux += u[j] * x[j]
	}
	rs := NormInvStd(n, int64(s1), int64(s2), 20)
	a, b, c, dg := NormBackwardCoefs(n, s1/n, rs, su, sux, scale)
	var wantDG float64
	for j := range x {
		wantDG += u[j] * xhat(x, j)
	}
	if math.Abs(dg-wantDG) > 1e-9*math.Abs(wantDG) {
		t.Errorf("Σu*x_hat = %v, want %v", dg, wantDG)
	}
	const h = 1e-4
	for j := range x {
		orig := x[j]
		x[j] = orig + h
		lp := loss()
		x[j] = orig - h
		lm := loss()
		x[j] = orig
		num := (lp - lm) / (2 * h)
		if got := a*u[j] + b*x[j] + c; math.Abs(got-num) > 1e-6 {
			t.Errorf("dx[%d] = %v, numeric %v", j, got, num)
		}
	}
	// The forward map normalises.
	af, cf := NormForwardCoefs(s1/n, rs, 2, 0.5)
	for j := range x {
		if got, want := af*x[j]+cf, 2*xhat(x, j)+0.5; math.Abs(got-want) > 1e-9 {
			t.Errorf("forward y[%d] = %v, want %v", j, got, want)
		}
	}
}

func TestFixCoefsAndAffine(t *testing.T) {
	a := []float64{0.5, -3.25, 1e-3}
	b := []float64{0.01, 0, -0.02}
	c := []float64{100, -7.5, 0}
	A, B, C := make([]int64, 3), make([]int64, 3), make([]int64, 3)
	exp := FixCoefs(a, b, c, A, B, C)
	// The largest multiplier, 3.25, has CoefBits-1 magnitude bits.
	if -A[1] >= 1<<(CoefBits-1) || -A[1] < 1<<(CoefBits-2) || exp != QuantExp(3.25, CoefBits) {
		t.Errorf("exp %d, A %v", exp, A)
	}
	for i := range a {
		for k, pair := range [][2]float64{{a[i], float64(A[i])}, {b[i], float64(B[i])}, {c[i], float64(C[i])}} {
			if d := math.Abs(math.Ldexp(pair[1], exp) - pair[0]); d > math.Ldexp(0.5, exp) {
				t.Errorf("coefficient %d of group %d off by %v", k, i, d)
			}
		}
	}
	if e := FixCoefs([]float64{0}, nil, []float64{0}, A, nil, C); e != 0 || A[0] != 0 || C[0] != 0 {
		t.Errorf("all-zero coefficients: exp %d", e)
	}
	// ChannelAffine and RowAffine against the definition.
	u := []int8{1, -2, 3, 4, 5, -6}
	v := []int8{-1, 7, 2, 0, -3, 9}
	acc := make([]int64, 6)
	ChannelAffine(u, v, A, B, C, acc)
	for k := range u {
		j := k % 3
		if want := A[j]*int64(u[k]) + B[j]*int64(v[k]) + C[j]; acc[k] != want {
			t.Errorf("ChannelAffine[%d] = %d, want %d", k, acc[k], want)
		}
	}
	RowAffine(u, nil, 3, A[:2], nil, C[:2], acc)
	for k := range u {
		r := k / 3
		if want := A[r]*int64(u[k]) + C[r]; acc[k] != want {
			t.Errorf("RowAffine[%d] = %d, want %d", k, acc[k], want)
		}
	}
	ScaleShift([]int64{10, -20, 1 << 62}, []int32{3, 5, 4}, []int32{8, -8, 1}, 2, acc)
	if !slices.Equal(acc[:3], []int64{32, -102, math.MaxInt64}) {
		t.Errorf("ScaleShift: %v", acc[:3])
	}
}

func TestFixGrads(t *testing.T) {
	out := make([]int32, 3)
	e := FixGrads([]float64{1.5, -0.25, 0}, out)
	if math.Ldexp(float64(out[0]), e) != 1.5 || math.Ldexp(float64(out[1]), e) != -0.25 || out[0] < 1<<29 {
		t.Errorf("FixGrads: exp %d, %v", e, out)
	}
}

func TestRunningStatistics(t *testing.T) {
	// Values 1, 2, 3, 6: mean 3, variance 3.5 -> 48 and 896 in units of 1/16 and 1/256.
	m, v := BatchMoments(4, 12, 1+4+9+36)
	if m != 48 || v != 896 {
		t.Errorf("BatchMoments: %d, %d", m, v)
	}
	if got := RunningUpdate(100, 180); got != 110 {
		t.Errorf("RunningUpdate(100, 180) = %d, want 110", got)
	}
	if got := RunningUpdate(100, 97); got != 100 {
		t.Errorf("RunningUpdate(100, 97) = %d, want 100 (3/8 rounds to 0)", got)
	}
	if got := RunningUpdate(math.MaxInt32, 1<<40); got != math.MaxInt32 {
		t.Errorf("RunningUpdate does not saturate: %d", got)
	}
}

func TestRunningAverage(t *testing.T) {
	tests := []struct {
		name     string
		run      int32
		batch, k int64
		want     int32
	}{
		{"first batch sets", 1000, 7, 1, 7},
		{"second batch halves the way", 100, 180, 2, 140},
		{"fourth batch, a quarter", 100, 180, 4, 120},
		{"rounds to nearest", 100, 103, 2, 102},
		{"negative, ties away from zero", -100, -103, 2, -102},
		{"saturates", math.MaxInt32, 1 << 40, 2, math.MaxInt32},
	}
	for _, tt := range tests {
		if got := RunningAverage(tt.run, tt.batch, tt.k); got != tt.want {
			t.Errorf("%s: RunningAverage(%d, %d, %d) = %d, want %d", tt.name, tt.run, tt.batch, tt.k, got, tt.want)
		}
	}
	// Folding values in one by one gives their mean.
	var run int32
	for k, v := range []int64{10, 20, 30, 40} {
		run = RunningAverage(run, v, int64(k+1))
	}
	if run != 25 {
		t.Errorf("average of 10, 20, 30, 40 = %d, want 25", run)
	}
}

func TestAddTable(t *testing.T) {
	x := []int8{10, -20, 30, 40, 50, -60}
	table := []int32{1000, -3, 7}
	acc := make([]int32, len(x))
	// x with step 2^-4, the table (12-bit) with step 2^-10: exp is -10, exact.
	exp := AddTable(x, -4, table, -10, 12, acc)
	if exp != -10 {
		t.Fatalf("exp %d", exp)
	}
	for k, v := range x {
		want := math.Ldexp(float64(v), -4) + math.Ldexp(float64(table[k%3]), -10)
		if got := math.Ldexp(float64(acc[k]), exp); got != want {
			t.Errorf("acc[%d] = %v, want %v", k, got, want)
		}
	}
	// A 32-bit table far finer than x: the exponent stops 23 bits below x's, where x
	// still fits below 2^30, and the table is rounded.
	if exp := AddTable(x, 0, []int32{math.MaxInt32, 0, 0}, -40, 32, acc); exp != -23 || acc[0] != 10<<23+1<<14 {
		t.Errorf("wide table: exp %d, acc %v", exp, acc)
	}
}

func TestSoftmaxProbs(t *testing.T) {
	scores := []int32{40, 8, 8, -100, 1 << 30}
	out := make([]int8, 5)
	// exp -4: z = 2.5, 0.5, 0.5, -6.25; the last key is masked.
	if sat := SoftmaxProbs(scores, -4, 4, out); sat != 0 {
		t.Errorf("%d saturated", sat)
	}
	z := []float64{2.5, 0.5, 0.5, -6.25}
	var sum float64
	for _, v := range z {
		sum += math.Exp(v - 2.5)
	}
	for j, v := range z {
		if want := math.Round(128 * math.Exp(v-2.5) / sum); float64(out[j]) != want {
			t.Errorf("p[%d] = %d, want %v", j, out[j], want)
		}
	}
	if out[4] != 0 {
		t.Errorf("masked probability %d", out[4])
	}
	// One key: probability 1 saturates to 127/128.
	if sat := SoftmaxProbs(scores[:1], 0, 1, out[:1]); sat != 1 || out[0] != 127 {
		t.Errorf("single key: %d (saturated %d)", out[0], sat)
	}
}

func TestSoftmaxGradInt(t *testing.T) {
	p := []int8{64, 32, 32, 0}
	dp := []int64{10, -6, 3, 1000}
	ds := make([]int64, 4)
	SoftmaxGradInt(p, dp, ds)
	// Real form with P = p/128: dS = P*(dP - Σ P*dP), scaled by 2^14.
	var s float64
	for j := range p {
		s += float64(p[j]) / 128 * float64(dp[j])
	}
	for j := range p {
		want := float64(p[j]) / 128 * (float64(dp[j]) - s) * (1 << 14)
		if float64(ds[j]) != want {
			t.Errorf("ds[%d] = %d, want %v", j, ds[j], want)
		}
	}
}
