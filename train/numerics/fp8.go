package numerics

import "math"

// FP8 formats (Micikevicius et al., "FP8 Formats for Deep Learning", arXiv
// 2209.05433): E4M3 for weights and activations, E5M2 for errors and gradients. A
// tensor is stored as FP8 values of x*2^scale, with a per-tensor power-of-two scale
// chosen so that the tensor's largest magnitude (amax) is at most the format's
// largest value (FP8ScaleExp): the scaling is then exact, and dequantisation is an
// exponent add.

// FP8Format is one 8-bit float format: a sign bit, ExpBits exponent bits with bias
// Bias, ManBits mantissa bits, subnormals, and Max the largest finite magnitude.
type FP8Format struct {
	Name             string
	ExpBits, ManBits int
	Bias             int
	Max              float64
}

// The two formats. E4M3 has no infinities (S.1111.111 is NaN, so its largest value
// is 1.75*2^8 = 448); E5M2 is IEEE-like (largest finite 1.75*2^15 = 57344).
var (
	E4M3 = FP8Format{Name: "e4m3", ExpBits: 4, ManBits: 3, Bias: 7, Max: 448}
	E5M2 = FP8Format{Name: "e5m2", ExpBits: 5, ManBits: 2, Bias: 15, Max: 57344}
)

// Round rounds x to the nearest value of the format (ties to even, subnormals
// included) and saturates to ±Max, as a saturating cast does; NaN stays NaN, zero
// keeps its sign. All arithmetic is exact in float64.
func (f FP8Format) Round(x float64) float64 {
	if x == 0 || math.IsNaN(x) {
		return x
	}
	a := math.Abs(x)
	if math.IsInf(a, 0) || a >= f.Max {
		return math.Copysign(f.Max, x)
	}
	_, e := math.Frexp(a) // a = m*2^e, m in [0.5, 1): the unbiased exponent is e-1
	minExp := 1 - f.Bias
	q := max(e-1, minExp) - f.ManBits // exponent of the quantum
	r := math.Ldexp(math.RoundToEven(math.Ldexp(a, -q)), q)
	return math.Copysign(min(r, f.Max), x)
}

// FP8ScaleExp is the power-of-two scale of a tensor whose largest magnitude is amax:
// the largest e with amax*2^e <= f.Max, so nothing saturates; 0 for amax 0 (or not
// finite).
func (f FP8Format) FP8ScaleExp(amax float64) int {
	if !(amax > 0) || math.IsInf(amax, 0) {
		return 0
	}
	_, e := math.Frexp(f.Max / amax) // Max/amax = m*2^e, m in [0.5,1): 2^(e-1) <= Max/amax
	e--
	for math.Ldexp(amax, e+1) <= f.Max {
		e++
	}
	for e > -1100 && math.Ldexp(amax, e) > f.Max {
		e--
	}
	return e
}

// RoundScaled returns the value x stands for after being stored in the format with
// scale exponent e: Round(x*2^e)*2^-e.
func (f FP8Format) RoundScaled(x float64, e int) float64 {
	return math.Ldexp(f.Round(math.Ldexp(x, e)), -e)
}
