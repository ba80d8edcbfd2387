package numerics

// Integer semantics of the training instructions.
//
// This file defines, once, the arithmetic of every integer operation of RCT training:
// GEMM accumulation, bias alignment, requantisation, the loss error, residual adds, the
// weight update with its random bits, the controller's statistic and bitwidth changes.
// train/ computes integer training with these functions (or, for GEMMs, with code proven
// equal to GEMMInt by test), and the simulator's functional mode must reproduce them bit
// for bit. They are pure functions over caller-owned slices: no time, no energy, no
// allocation, no state.
//
// Number representation. A tensor is integers plus a power-of-two scale: element v
// stands for v * 2^exp. Activations and errors are int8 (range ±127, -128 unused so
// that negation never overflows); weights are b-bit integers in int32 words (range
// ±(2^(b-1)-1)); accumulators are int32 (range ±(2^31-1)). Every rounding of a shift
// is one of two kinds: RoundShift (nearest, ties away from zero) or StochasticShift
// (floor after adding random bits).
//
// Order of operations a device must follow, per element:
//   - GEMM (GEMMInt): the exact integer sum of products, then saturation to int32.
//   - Epilogue of a forward GEMM: AddBias (acc + RoundShift(bias, accExp-biasExp),
//     saturated to int32), then Requant (ReLU if fused, RoundShift by the tensor's
//     shift, saturate to int8), tracking max |acc| after the ReLU.
//   - Update (UpdateInt): d = -lr.Mant * g exactly in int64; q = StochasticShift(d,
//     sh, RandAt(key, index)) or RoundShift(d, sh); w = Saturate(w + q, bits).
//   - Bitwidth change (ConvertInt): widen by a left shift; narrow by RoundShift then
//     saturate to the new width.
//   - Loss (SoftmaxXentRound): float64 softmax of the dequantised logits, the error
//     quantised with the scale of its current maximum, rounded to nearest or
//     stochastically with bits from RandAt(RandKey(seed, LossStream(step)), index).

import (
	"fmt"
	"math"
	"math/bits"
)

// RoundShift returns x / 2^sh rounded to the nearest integer, ties away from zero (so
// RoundShift(-x, sh) == -RoundShift(x, sh) and rounding never biases a symmetric
// distribution). sh <= 0 is an exact left shift by -sh, saturating at ±(2^63-1)
// instead of overflowing. Shifts of 64 or more return 0.
func RoundShift(x int64, sh int) int64 {
	if sh <= 0 {
		return shiftLeftSat(x, -sh)
	}
	if sh >= 64 {
		return 0
	}
	// |x| as uint64 is exact even for MinInt64, and |x| + 2^(sh-1) < 2^64.
	ux := uint64(x)
	neg := x < 0
	if neg {
		ux = -ux
	}
	r := (ux + 1<<(sh-1)) >> sh
	if neg {
		return -int64(r)
	}
	return int64(r)
}

// shiftLeftSat returns x * 2^by, saturated at ±(2^63-1).
func shiftLeftSat(x int64, by int) int64 {
	if x == 0 || by == 0 {
		return x
	}
	ux := uint64(x)
	if x < 0 {
		ux = -ux
	}
	if by >= 63 || bits.Len64(ux)+by > 63 {
		if x < 0 {
			return -math.MaxInt64
		}
		return math.MaxInt64
	}
	return x << by
}

// Saturate clamps x to the symmetric range of a signed `bits`-bit integer,
// ±(2^(bits-1)-1), for 2 <= bits <= 64.
func Saturate(x int64, bits int) int64 {
	lim := satLimit(bits)
	if x > lim {
		return lim
	}
	if x < -lim {
		return -lim
	}
	return x
}

// satLimit is 2^(bits-1)-1; widths outside 2..64 are programmer errors.
func satLimit(bits int) int64 {
	if bits < 2 || bits > 64 {
		panic(fmt.Sprintf("kernels: bit width %d outside 2..64", bits))
	}
	return int64(uint64(1)<<(bits-1) - 1)
}

// ShiftFor returns the smallest right shift sh >= 0 such that RoundShift(maxAbs, sh)
// fits the symmetric range of a signed `width`-bit integer: the per-tensor power-of-two
// scale chosen from the tensor's largest magnitude (NITI). maxAbs < 0 is treated as its
// magnitude.
func ShiftFor(maxAbs int64, width int) int {
	lim := satLimit(width)
	if maxAbs < 0 {
		maxAbs = -maxAbs
		if maxAbs < 0 { // MinInt64
			maxAbs = math.MaxInt64
		}
	}
	if maxAbs <= lim {
		return 0
	}
	// This brings the top bit into range; rounding up may carry one position further.
	sh := bits.Len64(uint64(maxAbs)) - (width - 1)
	for RoundShift(maxAbs, sh) > lim {
		sh++
	}
	return sh
}

// Requant turns int32 accumulators into int8 outputs: optional ReLU, RoundShift by
// shift (negative: exact left shift), saturation to ±127. It returns the largest
// magnitude of the accumulators after the ReLU (the statistic that sets a later step's
// shift, see ShiftFor) and how many outputs saturated. len(out) must be len(acc).
func Requant(acc []int32, shift int, relu bool, out []int8) (maxAbs int32, saturated int) {
	out = out[:len(acc)]
	var m int64
	if shift <= 0 || shift >= 62 {
		for i, a := range acc {
			v := int64(a)
			if relu && v < 0 {
				v = 0
			}
			m = max(m, v, -v)
			r := RoundShift(v, shift)
			if r > 127 || r < -127 {
				r = min(max(r, -127), 127)
				saturated++
			}
			out[i] = int8(r)
		}
		return int32(min(m, math.MaxInt32)), saturated
	}
	// The common case, RoundShift inlined: |v| + 2^(shift-1) cannot overflow.
	half := int64(1) << (shift - 1)
	for i, a := range acc {
		v := int64(a)
		var r int64
		if v >= 0 {
			m = max(m, v)
			r = (v + half) >> shift
			if r > 127 {
				r = 127
				saturated++
			}
		} else if relu {
			r = 0
		} else {
			m = max(m, -v)
			r = -((-v + half) >> shift)
			if r < -127 {
				r = -127
				saturated++
			}
		}
		out[i] = int8(r)
	}
	return int32(min(m, math.MaxInt32)), saturated
}

// golden is SplitMix64's increment, 2^64 divided by the golden ratio.
const golden = 0x9e3779b97f4a7c15

// RandStep is γ, by which RandAt's argument moves on from one index to the next
// (RandAt(key, i) = mix64(key + (i+1)*RandStep)), for vector forms that keep the
// arguments of several indices.
const RandStep = golden

// mix64 is SplitMix64's output function (Steele, Lea and Flood, OOPSLA 2014), a
// bijective 64-bit mixer.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// RandKey derives the key of one random stream from a seed and a stream number:
// mix64(seed XOR mix64(stream + γ)), γ = 0x9e3779b97f4a7c15, mix64 = SplitMix64's
// output function. A device computes it once per tensor update.
func RandKey(seed, stream uint64) uint64 { return mix64(seed ^ mix64(stream+golden)) }

// RandAt is the index-th output (0-based) of a SplitMix64 generator whose state starts
// at key: mix64(key + (index+1)*γ). It needs no state, so elements can be processed in
// any order or tile by tile and still get the same bits.
func RandAt(key, index uint64) uint64 { return mix64(key + (index+1)*golden) }

// RandBits is the counter-based random generator of stochastic rounding:
// RandAt(RandKey(seed, stream), index). train/ uses seed = a value derived from the
// run's seed, stream = the (step, layer, tensor) triple packed as documented there, and
// index = the element's position in the tensor's canonical layout.
func RandBits(seed, stream, index uint64) uint64 { return RandAt(RandKey(seed, stream), index) }

// StochasticShift returns floor((x + (r mod 2^sh)) / 2^sh): x / 2^sh rounded down or up
// with probabilities that make it unbiased when the low sh bits of r are uniform
// (E = x / 2^sh exactly). sh <= 0 is an exact (saturating) left shift. sh > 62 returns
// 0, a bias below 2^(62-sh) grid steps for any |x| < 2^62.
func StochasticShift(x int64, sh int, r uint64) int64 {
	if sh <= 0 {
		return shiftLeftSat(x, -sh)
	}
	if sh > 62 {
		return 0
	}
	if x > math.MaxInt64-(1<<62) {
		// x + r could overflow; the result is x>>sh or one more.
		q := x >> sh
		if (uint64(x)&(1<<sh-1))+(r&(1<<sh-1)) >= 1<<sh {
			q++
		}
		return q
	}
	return (x + int64(r&(1<<sh-1))) >> sh
}

// FixedLR is a learning rate in the integer update's fixed-point form,
// lr = Mant * 2^-Shift: a 16-bit mantissa in [2^15, 2^16) and an exponent, so every
// rate from 2^-40 to 2^15 is represented within a relative error of 2^-16, and the
// update is an integer multiply and a shift.
type FixedLR struct {
	Mant  int64
	Shift int
}

// NewFixedLR returns the fixed-point form of lr: the mantissa is lr*2^Shift rounded to
// nearest (ties away from zero), with Shift chosen so the mantissa has 16 bits.
func NewFixedLR(lr float64) (FixedLR, error) {
	if !(lr > 0) || math.IsInf(lr, 0) || lr < 0x1p-40 || lr >= 0x1p15 {
		return FixedLR{}, fmt.Errorf("learning rate %v outside the integer update's range [2^-40, 2^15)", lr)
	}
	_, e := math.Frexp(lr) // lr = f * 2^e, f in [0.5, 1)
	shift := 16 - e
	m := math.Round(math.Ldexp(lr, shift))
	if m >= 1<<16 { // rounding carried into bit 17
		shift--
		m = math.Round(math.Ldexp(lr, shift))
	}
	return FixedLR{Mant: int64(m), Shift: shift}, nil
}

// Float returns the rate the fixed-point form represents.
func (l FixedLR) Float() float64 { return math.Ldexp(float64(l.Mant), -l.Shift) }

// UpdateShift is the right shift of the update of weights with step 2^weightExp by a
// gradient accumulator with scale 2^gradExp at rate lr: the update in grid steps is
// -lr*g/Δ = -Mant * G * 2^(gradExp - weightExp - Shift).
func UpdateShift(lr FixedLR, gradExp, weightExp int) int { return lr.Shift + weightExp - gradExp }

// Rounding selects how the integer update rounds onto the weight grid.
type Rounding uint8

// Rounding modes.
const (
	// RoundStochastic is StochasticShift with bits from RandAt: unbiased, so updates
	// smaller than a grid step still move weights in expectation.
	RoundStochastic Rounding = iota
	// RoundNearest is RoundShift: updates below half a grid step are lost.
	RoundNearest
)

func (r Rounding) String() string {
	switch r {
	case RoundStochastic:
		return "stochastic"
	case RoundNearest:
		return "nearest"
	}
	return fmt.Sprintf("Rounding(%d)", int(r))
}

// ParseRounding reads "stochastic" or "nearest".
func ParseRounding(s string) (Rounding, error) {
	switch s {
	case "stochastic":
		return RoundStochastic, nil
	case "nearest":
		return RoundNearest, nil
	}
	return 0, fmt.Errorf("unknown rounding %q (want stochastic or nearest)", s)
}

// UpdateInt applies RCT's weight update w += round(-lr*g/Δ) onto the b-bit grid, in
// place: for each j, d = -mant*grad[j] (exact in int64), q = StochasticShift(d, shift,
// RandAt(key, first+j)) or RoundShift(d, shift), w[j] = Saturate(w[j]+q, bits). shift
// comes from UpdateShift; key from RandKey (unused by RoundNearest); first is the index
// of w[0] in the tensor's canonical layout, so a tile updated on its own draws the same
// bits as the whole tensor. It returns how many weights saturated.
func UpdateInt(w, grad []int32, mant int64, shift, bits int, rounding Rounding, key, first uint64) (saturated int) {
	lim := satLimit(bits)
	grad = grad[:len(w)]
	for j, g := range grad {
		d := -mant * int64(g)
		var q int64
		if rounding == RoundStochastic {
			q = StochasticShift(d, shift, RandAt(key, first+uint64(j)))
		} else {
			q = RoundShift(d, shift)
		}
		// |w| < 2^31 and |q| <= 2^63-1: the sum can overflow only when q is huge, and
		// then it saturates anyway.
		v := int64(w[j])
		switch {
		case q > lim-v:
			v = lim
			saturated++
		case q < -lim-v:
			v = -lim
			saturated++
		default:
			v += q
		}
		w[j] = int32(v)
	}
	return saturated
}

// GradAbsSum is the precision controller's statistic over a tile of gradient
// accumulators: the exact sum of |g|.
func GradAbsSum(grad []int32) uint64 { return absSum(grad) }

// absSum is the exact sum of |v|.
func absSum[T int16 | int32](vals []T) uint64 {
	var s uint64
	for _, v := range vals {
		if v < 0 {
			s += uint64(-int64(v))
		} else {
			s += uint64(v)
		}
	}
	return s
}

// Gavg turns the exact sum of |g| over a layer's n weights into the controller's
// Gavg = mean(|lr*g|)/Δ = absSum * mant * 2^-shift / n, with shift from UpdateShift.
// This final step is float64 arithmetic in this order: float64(absSum) *
// float64(mant), scaled by 2^-shift (exact), divided by float64(n).
func Gavg(absSum uint64, n int, mant int64, shift int) float64 {
	if n <= 0 {
		return 0
	}
	return math.Ldexp(float64(absSum)*float64(mant), -shift) / float64(n)
}

// ConvertInt moves integer weights from `from` to `to` bits in place, keeping their
// real values: widening shifts left by to-from (the step Δ halves per bit, exact);
// narrowing rounds away from-to low bits with RoundShift and saturates to `to` bits
// (the step doubles per bit). Widening and then narrowing by the same amount restores
// the weights exactly. It returns how many weights saturated.
func ConvertInt(w []int32, from, to int) (saturated int) {
	switch {
	case to > from:
		by := to - from
		for j, v := range w {
			w[j] = int32(Saturate(int64(v)<<by, to))
		}
	case to < from:
		lim := satLimit(to)
		by := from - to
		for j, v := range w {
			r := RoundShift(int64(v), by)
			if r > lim {
				r = lim
				saturated++
			} else if r < -lim {
				r = -lim
				saturated++
			}
			w[j] = int32(r)
		}
	}
	return saturated
}

// GEMMInt is the reference integer GEMM: acc (m x n) = a (m x k, int8) times b (k x n,
// integers of up to 32 bits, e.g. b-bit weights or int8 errors), all row-major; each
// element is the exact sum of its k products, then saturated to ±(2^31-1). It is the
// definition, not a fast implementation.
func GEMMInt(a []int8, b []int32, m, n, k int, acc []int32) {
	for i := range m {
		for j := range n {
			var s int64
			for l := range k {
				s += int64(a[i*k+l]) * int64(b[l*n+j])
			}
			acc[i*n+j] = int32(Saturate(s, 32))
		}
	}
}

// AddBias adds a bias to accumulators in the GEMM epilogue, before Requant: acc is
// m x n row-major (rows are output positions, columns output channels) and bias has n
// entries, each standing for bias*2^biasExp; shift = accExp - biasExp aligns it, and
// each accumulator becomes Saturate(acc + RoundShift(bias, shift), 32).
func AddBias(acc []int32, n int, bias []int32, shift int) {
	bias = bias[:n]
	rows := len(acc) / n
	for j, b := range bias {
		bj := RoundShift(int64(b), shift)
		for r := range rows {
			v := int64(acc[r*n+j]) + bj
			if v > math.MaxInt32 || v < -math.MaxInt32 {
				v = min(max(v, -math.MaxInt32), math.MaxInt32)
			}
			acc[r*n+j] = int32(v)
		}
	}
}

// QuantExp returns the power-of-two scale exponent for quantising real values whose
// largest magnitude is maxAbs to signed `bits`-bit integers: the smallest e with
// round(maxAbs * 2^-e) <= 2^(bits-1)-1. maxAbs 0 (or not finite) gives 0.
func QuantExp(maxAbs float64, bits int) int {
	lim := float64(satLimit(bits))
	if !(maxAbs > 0) || math.IsInf(maxAbs, 0) {
		return 0
	}
	_, e := math.Frexp(maxAbs / lim)
	// The estimate is within one of the answer; settle it with the exact test.
	for math.Round(math.Ldexp(maxAbs, -e)) > lim {
		e++
	}
	for math.Round(math.Ldexp(maxAbs, -(e-1))) <= lim {
		e--
	}
	return e
}

// Quantize writes round(x * 2^-exp) (ties away from zero) saturated to ±127 into out,
// and returns how many values saturated. The scaling by a power of two is exact.
func Quantize(x []float32, exp int, out []int8) (saturated int) {
	out = out[:len(x)]
	// A float32 times 2^-exp is what math.Ldexp gives, much faster, for |exp| up to
	// 900: exact down to float32's subnormals, infinite where Ldexp's is. Beyond, every
	// finite value rounds to 0 (exp > 900) or saturates (exp < -900) at 900 as it
	// does at exp.
	scale := math.Ldexp(1, -min(max(exp, -900), 900))
	for i, v := range x {
		r := math.Round(float64(v) * scale)
		if r > 127 {
			r = 127
			saturated++
		} else if r < -127 {
			r = -127
			saturated++
		}
		out[i] = int8(r)
	}
	return saturated
}

// SoftmaxXent is SoftmaxXentRound with nearest rounding of the error.
func SoftmaxXent(logits []int8, exp, classes int, labels []int32, denom int, prob []float64, errOut []int8) (errExp int, lossSum float64, correct int) {
	return SoftmaxXentRound(logits, exp, classes, labels, denom, RoundNearest, 0, 0, prob, errOut)
}

// LossLayer is the layer index reserved in RandStream for the loss error's random bits
// (weight layers' indices are below it).
const LossLayer = 1<<23 - 1

// LossStream is the stochastic-rounding stream of the loss error at a step:
// RandStream(step, LossLayer, 0).
func LossStream(step int) uint64 { return RandStream(step, LossLayer, 0) }

// SoftmaxXentRound is the loss of integer training. logits holds rows of `classes`
// int8 logits (one row per labelled position) with scale 2^exp, labels one class per
// row, prob caller-owned scratch of len(logits). For each row it computes in float64
// z = logit*2^exp, p = exp(z - max z) / sum (math.Exp), the row's loss
// log(sum) - (z_label - max z) (math.Log), and the error (p - onehot)/denom (denom is
// batch x positions, so the error is that of the mean loss). The error tensor is then
// quantised to int8 with its own scale from its current maximum (errExp, from
// QuantExp): v = error * 2^-errExp (exact), rounded to nearest (ties away from zero)
// or, with RoundStochastic, to floor(v + u) with u = (RandAt(key, first+j) >> 11) *
// 2^-53 for element j in row-major (row, class) order — unbiased, so that the many
// small errors of a wide softmax are not all lost. |v| <= 127, so nothing saturates.
// It returns the summed loss over rows and the number of rows whose first largest
// logit is the label.
func SoftmaxXentRound(logits []int8, exp, classes int, labels []int32, denom int, rounding Rounding, key, first uint64,
	prob []float64, errOut []int8) (errExp int, lossSum float64, correct int) {
	return SoftmaxXentRoundExps(Exps, logits, exp, classes, labels, denom, rounding, key, first, prob, errOut)
}

// Exps replaces each value of x by math.Exp's: the exponentials of the softmaxes
// below. Their ...Exps forms take any function that gives the same bits (vec.Exp
// does, several values at a time).
func Exps(x []float64) {
	for i, v := range x {
		x[i] = math.Exp(v)
	}
}

// SoftmaxXentRoundExps is SoftmaxXentRound with the exponentials computed by exps,
// which must give math.Exp's bits (see Exps). It is SoftmaxXentRows over every row,
// the losses summed in row order, then RoundErrors.
func SoftmaxXentRoundExps(exps func(x []float64), logits []int8, exp, classes int, labels []int32, denom int, rounding Rounding, key, first uint64,
	prob []float64, errOut []int8) (errExp int, lossSum float64, correct int) {
	rows := len(labels)
	var maxErr float64
	var loss [1]float64
	for r := range rows {
		m, c := SoftmaxXentRows(exps, logits, exp, classes, labels, denom, r, r+1, prob, loss[:])
		maxErr, correct, lossSum = max(maxErr, m), correct+c, lossSum+loss[0]
	}
	errExp = QuantExp(maxErr, 8)
	RoundErrors(prob[:rows*classes], errExp, rounding, key, first, errOut)
	return errExp, lossSum, correct
}

// SoftmaxXentRows is SoftmaxXentRound's first pass over rows r0..r1 of logits (and
// labels and prob, which hold every row): it leaves each row's errors, in float64,
// in prob and its loss in losses[r-r0], and returns the largest error magnitude and
// how many of the rows' first largest logit is the label. Rows are independent, so
// that a batch can be cut among goroutines; summing the losses in row order and
// RoundErrors with QuantExp(largest, 8) then give SoftmaxXentRound's results.
func SoftmaxXentRows(exps func(x []float64), logits []int8, exp, classes int, labels []int32, denom int, r0, r1 int,
	prob, losses []float64) (maxErr float64, correct int) {
	scale := math.Ldexp(1, exp)
	inv := 1 / float64(denom)
	for r := r0; r < r1; r++ {
		z := logits[r*classes : (r+1)*classes]
		p := prob[r*classes : (r+1)*classes]
		best := FirstMax(z)
		zmax := float64(z[best]) * scale
		for c, v := range z {
			p[c] = float64(v)*scale - zmax
		}
		exps(p)
		var sum float64
		for _, e := range p {
			sum += e
		}
		y := int(labels[r])
		if best == y {
			correct++
		}
		losses[r-r0] = math.Log(sum) - (float64(z[y])*scale - zmax)
		for c := range p {
			g := p[c] / sum
			if c == y {
				g -= 1
			}
			g *= inv
			p[c] = g
			maxErr = max(maxErr, math.Abs(g))
		}
	}
	return maxErr, correct
}

// FirstMax returns the index of the first largest value of x (a later value counts
// only if greater), 0 when x is empty: a row's predicted class.
func FirstMax[T int8 | float32 | float64](x []T) int {
	best := 0
	for c := 1; c < len(x); c++ {
		if x[c] > x[best] {
			best = c
		}
	}
	return best
}

// RoundErrors is SoftmaxXentRound's second pass: it quantises errors (from
// SoftmaxXentRows) to int8 with scale 2^errExp into out, error j with random bits
// RandAt(key, first+j) when rounding is RoundStochastic. Each value is rounded on its
// own, so that the errors can be cut among goroutines (first moving with the cut).
func RoundErrors(errs []float64, errExp int, rounding Rounding, key, first uint64, out []int8) {
	out = out[:len(errs)]
	for i, g := range errs {
		v := math.Ldexp(g, -errExp)
		if rounding == RoundStochastic {
			v = math.Floor(v + float64(RandAt(key, first+uint64(i))>>11)*0x1p-53)
		} else {
			v = math.Round(v)
		}
		out[i] = int8(v)
	}
}

// AddAlignedMaxGap bounds the exponent gap AddAligned keeps exactly: int8 values shifted
// left by up to 23 bits sum without overflowing int32.
const AddAlignedMaxGap = 23

// AddAligned adds two int8 tensors with scales 2^ea and 2^eb (a residual connection)
// into int32 accumulators with scale 2^exp, which it returns: exp is the finer of the
// two exponents, but no more than AddAlignedMaxGap below the coarser one; each operand
// is brought to exp with RoundShift (exact unless the gap exceeds the bound). The sum
// is then requantised like any accumulator.
func AddAligned(a []int8, ea int, b []int8, eb int, acc []int32) (exp int) {
	exp = max(min(ea, eb), max(ea, eb)-AddAlignedMaxGap)
	sa, sb := exp-ea, exp-eb
	b = b[:len(a)]
	acc = acc[:len(a)]
	for i := range a {
		acc[i] = int32(RoundShift(int64(a[i]), sa) + RoundShift(int64(b[i]), sb))
	}
	return exp
}

// Wide accumulators, normalisation and attention.
//
// The layers that came with the larger models (batch and layer normalisation,
// attention, position embeddings) need a few more operations. Their element-wise
// work stays integer: int8 tensors in, int64 accumulators, Requant64 to int8 with a
// power-of-two scale. What is not element-wise — a per-channel or per-position
// reciprocal square root and the handful of per-channel (or per-position) scalars
// derived from it, and the softmax of an attention row — is computed in float64 from
// exact integer statistics, as a device's vector unit would with its special-function
// unit, and turned back into integers (FixCoefs, SoftmaxProbs) before it touches a
// tensor. The float64 steps use only +, -, *, / and math.Sqrt (all correctly rounded)
// plus math.Exp for the softmax, each product converted explicitly so that no
// compiler may fuse it into a multiply-add: the results are the same on every
// platform.

// Requant64 is Requant for int64 accumulators: optional ReLU, RoundShift by shift,
// saturation to ±127. It returns the largest magnitude after the ReLU and how many
// outputs saturated. len(out) must be len(acc).
func Requant64(acc []int64, shift int, relu bool, out []int8) (maxAbs int64, saturated int) {
	out = out[:len(acc)]
	if shift > 0 && shift < 62 {
		// The common case, RoundShift inlined for |v| < 2^62 (where |v| + 2^(shift-1)
		// cannot overflow); larger values take the general path.
		half := int64(1) << (shift - 1)
		for i, v := range acc {
			var r int64
			switch {
			case v >= 0 && v < 1<<62:
				maxAbs = max(maxAbs, v)
				r = (v + half) >> shift
			case v < 0 && relu:
				r = 0
			case v < 0 && v > -(1<<62):
				maxAbs = max(maxAbs, -v)
				r = -((-v + half) >> shift)
			default:
				o, a, sat := requantOne(v, shift, relu)
				out[i], maxAbs = o, max(maxAbs, a)
				if sat {
					saturated++
				}
				continue
			}
			if r > 127 || r < -127 {
				r = min(max(r, -127), 127)
				saturated++
			}
			out[i] = int8(r)
		}
		return maxAbs, saturated
	}
	for i, v := range acc {
		o, a, sat := requantOne(v, shift, relu)
		out[i], maxAbs = o, max(maxAbs, a)
		if sat {
			saturated++
		}
	}
	return maxAbs, saturated
}

// requantOne is Requant64 of one accumulator: the output, the magnitude after the
// ReLU, and whether the output saturated.
func requantOne(v int64, shift int, relu bool) (int8, int64, bool) {
	if relu && v < 0 {
		v = 0
	}
	a := v
	if a < 0 {
		a = -a
		if a < 0 { // MinInt64
			a = math.MaxInt64
		}
	}
	r := RoundShift(v, shift)
	if r > 127 || r < -127 {
		return int8(min(max(r, -127), 127)), a, true
	}
	return int8(r), a, false
}

// AddSat returns a+b saturated at ±(2^63-1).
func AddSat(a, b int64) int64 {
	s := a + b
	// Overflow happened iff both operands have the sign the sum lacks.
	if (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0) {
		if a >= 0 {
			return math.MaxInt64
		}
		return -math.MaxInt64
	}
	if s == math.MinInt64 {
		return -math.MaxInt64
	}
	return s
}

// RoundDiv returns a/b rounded to the nearest integer, ties away from zero, for b > 0
// and |a| < 2^62.
func RoundDiv(a, b int64) int64 {
	if b <= 0 {
		panic(fmt.Sprintf("kernels: RoundDiv by %d", b))
	}
	if a < 0 {
		return -((-a + b/2) / b)
	}
	return (a + b/2) / b
}

// Narrow32 turns int64 accumulators into int32 ones with a common right shift: the
// smallest sh >= 0 at which every RoundShift(src, sh) fits ±(2^31-1) (ShiftFor of the
// largest magnitude). It writes dst and returns sh (the scale grows by 2^sh).
func Narrow32(src []int64, dst []int32) (sh int) {
	var m int64
	for _, v := range src {
		m = max(m, v, -v)
	}
	sh = ShiftFor(m, 32)
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = int32(RoundShift(v, sh))
	}
	return sh
}

// NormEps is the ε of batch and layer normalisation, in real units (PyTorch's
// default): x_hat = (x - mean) / sqrt(var + ε).
const NormEps = 1e-5

// NormMaxGroup bounds the values a normalisation group may hold (examples x positions
// for batch normalisation, channels for layer normalisation): below it n*Σx² - (Σx)²
// of int8 values is exact in int64.
const NormMaxGroup = 1 << 24

// NormInvStd is the reciprocal square root of a normalisation group, the one
// non-linear step of normalising: for n int8 values x with step 2^exp, exact sums
// s1 = Σx and s2 = Σx², it returns r = 1/sqrt(var + ε·2^(-2·exp)) in units of the
// integers, so that x_hat = r*(x - s1/n). var = d/n² with d = n*s2 - s1² exact in int64
// (n <= NormMaxGroup), then in float64: v = float64(d)/(float64(n)*float64(n)) +
// Ldexp(NormEps, -2·exp), r = 1/math.Sqrt(v). The variance is the biased one (divided
// by n), as batch normalisation's training mode uses.
func NormInvStd(n, s1, s2 int64, exp int) float64 {
	d := n*s2 - s1*s1
	return NormInvStdVar(float64(d)/float64(float64(n)*float64(n)), exp)
}

// NormInvStdVar is NormInvStd from a variance v already in units of the integers
// (squared): 1/math.Sqrt(v + Ldexp(NormEps, -2·exp)).
func NormInvStdVar(v float64, exp int) float64 {
	return 1 / math.Sqrt(v+math.Ldexp(NormEps, -2*exp))
}

// NormForwardCoefs returns the per-group affine map of a normalisation's forward pass,
// y = a*x + c with x the integer input: a = gamma*r, c = beta - a*mean, with r from
// NormInvStd (or NormInvStdVar), mean in units of the integers and gamma, beta real
// (the integer parameters times their steps). Computed in float64 in that order.
func NormForwardCoefs(mean, r, gamma, beta float64) (a, c float64) {
	a = float64(gamma * r)
	return a, beta - float64(a*mean)
}

// NormBackwardCoefs returns the per-group affine map of a normalisation's backward
// pass, dx = a*u + b*x + c, for a group of n values x (integers, mean `mean`, inverse
// standard deviation r) whose normalised values x_hat = r*(x - mean) received the error
// u (integers): su = Σu and sux = Σu*x (exact integer sums, converted to float64),
// scale the real value of one unit of u per unit of x (the gamma of batch
// normalisation times 2^(u_exp - x_exp); for layer normalisation, whose gamma varies
// inside the group, u already includes it and scale is 2^(u_exp - x_exp)). It also
// returns sUXhat = Σu*x_hat, batch normalisation's scale gradient (in units of u).
//
// With m1 = su/n and m2 = r*(sux/n - mean*su/n) = mean(u*x_hat), the gradient of a
// normalisation, dx = r*(u - m1 - x_hat*m2), expands to a = scale*r,
// b = -scale*r*r*m2, c = a*(r*mean*m2 - m1); sUXhat = n*m2. Float64, in that order.
func NormBackwardCoefs(n int64, mean, r, su, sux, scale float64) (a, b, c, sUXhat float64) {
	fn := float64(n)
	m1 := su / fn
	m2 := float64(r * float64(sux/fn-float64(mean*su)/fn))
	a = float64(scale * r)
	b = -float64(float64(a*r) * m2)
	c = float64(a * float64(float64(float64(r*mean)*m2)-m1))
	return a, b, c, float64(fn * m2)
}

// CoefBits is the width of the integer coefficients FixCoefs makes: the largest
// multiplier has CoefBits-1 magnitude bits (23, more than an int8 output can
// resolve), and a multiplier times an operand below 2^38 fits int64 with room for the
// constant term.
const CoefBits = 24

// coefConstLimit bounds the constant terms of FixCoefs, so that a*u + b*v + c never
// overflows int64 (|a*u| < 2^62 for |u| < 2^38, |b*v| < 2^31, |c| <= 2^61).
const coefConstLimit = 1 << 61

// FixCoefs turns real per-group coefficients of dx = a*u + b*v + c (u, v integers)
// into integers A, B, C at one exponent exp, so that acc = A*u + B*v + C has scale
// 2^exp: exp is the smallest exponent at which every multiplier fits CoefBits bits
// (QuantExp of the largest |a| and the largest |b|; 0 when all are 0), and
// A = round(a*2^-exp), B and C likewise (ties away from zero), C clamped to ±2^61.
// b (and B) may be nil for a map without a second operand.
func FixCoefs(a, b, c []float64, A, B, C []int64) (exp int) {
	found := false
	for _, s := range [][]float64{a, b} {
		var m float64
		for _, v := range s {
			m = max(m, math.Abs(v))
		}
		if m > 0 {
			e := QuantExp(m, CoefBits)
			if !found || e > exp {
				exp = e
			}
			found = true
		}
	}
	fix := func(v float64, lim float64) int64 {
		r := math.Round(math.Ldexp(v, -exp))
		return int64(min(max(r, -lim), lim))
	}
	for i, v := range a {
		A[i] = fix(v, 1<<(CoefBits-1)-1)
	}
	for i, v := range b {
		B[i] = fix(v, 1<<(CoefBits-1)-1)
	}
	for i, v := range c {
		C[i] = fix(v, coefConstLimit)
	}
	return exp
}

// FixGrads quantises real gradients (per-group values a float64 step produced, e.g.
// the scale gradient of batch normalisation) to int32 accumulators with the exponent
// of their largest magnitude, QuantExp(max|g|, 32), rounding to nearest; it returns the
// exponent (0 when all are 0).
func FixGrads(g []float64, out []int32) (exp int) {
	var m float64
	for _, v := range g {
		m = max(m, math.Abs(v))
	}
	exp = QuantExp(m, 32)
	out = out[:len(g)]
	for i, v := range g {
		out[i] = int32(math.Round(math.Ldexp(v, -exp)))
	}
	return exp
}

// ChannelAffine applies per-channel integer coefficients to rows of len(a) channels
// (channels last): acc[r*C+j] = a[j]*u[r*C+j] + b[j]*v[r*C+j] + c[j], exact in int64
// for coefficients from FixCoefs and |u| < 2^38, |v| < 2^8. v and b may be nil (no
// second term).
func ChannelAffine[U int8 | int64](u []U, v []int8, a, b, c []int64, acc []int64) {
	ch := len(a)
	acc = acc[:len(u)]
	for r := 0; r < len(u); r += ch {
		ur, ar := u[r:r+ch], acc[r:r+ch]
		if v == nil {
			for j, x := range ur {
				ar[j] = a[j]*int64(x) + c[j]
			}
			continue
		}
		vr := v[r : r+ch]
		for j, x := range ur {
			ar[j] = a[j]*int64(x) + b[j]*int64(vr[j]) + c[j]
		}
	}
}

// RowAffine is ChannelAffine with one coefficient set per row of rowLen values (a
// layer normalisation's positions): acc[r*L+j] = a[r]*u[r*L+j] + b[r]*v[r*L+j] + c[r].
func RowAffine[U int8 | int64](u []U, v []int8, rowLen int, a, b, c []int64, acc []int64) {
	acc = acc[:len(u)]
	for r := range len(u) / rowLen {
		ur, ar := u[r*rowLen:(r+1)*rowLen], acc[r*rowLen:(r+1)*rowLen]
		if v == nil {
			for j, x := range ur {
				ar[j] = a[r]*int64(x) + c[r]
			}
			continue
		}
		vr := v[r*rowLen : (r+1)*rowLen]
		for j, x := range ur {
			ar[j] = a[r]*int64(x) + b[r]*int64(vr[j]) + c[r]
		}
	}
}

// ScaleShift applies a layer normalisation's integer scale and shift to normalised
// values xhat (int64, rows of len(gamma) channels): acc = gamma[j]*xhat +
// RoundShift(beta[j], shift), each step saturating at ±(2^63-1); shift aligns beta's
// step to the product's. beta may be nil.
func ScaleShift(xhat []int64, gamma, beta []int32, shift int, acc []int64) {
	ch := len(gamma)
	acc = acc[:len(xhat)]
	for r := 0; r < len(xhat); r += ch {
		for j, x := range xhat[r : r+ch] {
			v := mulSat(int64(gamma[j]), x)
			if beta != nil {
				v = AddSat(v, RoundShift(int64(beta[j]), shift))
			}
			acc[r+j] = v
		}
	}
}

// mulSat returns a*b saturated at ±(2^63-1).
func mulSat(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) || p == math.MinInt64 {
		if (a < 0) != (b < 0) {
			return -math.MaxInt64
		}
		return math.MaxInt64
	}
	return p
}

// RunningFracBits and RunningMomentumShift define batch normalisation's running
// statistics in integer training: the mean is held in units of 2^(exp-4) and the
// (biased) variance in units of 2^(2(exp-4)), exp being the input's step, as int32;
// each training step moves them by 1/8 of the way to the batch's (momentum 2^-3).
const (
	RunningFracBits      = 4
	RunningMomentumShift = 3
)

// BatchMoments returns a batch's mean and biased variance in the running statistics'
// units from n int8 values' exact sums s1 and s2: mean = RoundDiv(s1·2^4, n),
// variance = RoundDiv(RoundDiv(n*s2 - s1², n)·2^8, n) (n <= NormMaxGroup).
func BatchMoments(n, s1, s2 int64) (mean, variance int64) {
	mean = RoundDiv(s1<<RunningFracBits, n)
	variance = RoundDiv(RoundDiv(n*s2-s1*s1, n)<<(2*RunningFracBits), n)
	return mean, variance
}

// RunningUpdate moves a running statistic towards a batch's value:
// Saturate(run + RoundShift(batch - run, RunningMomentumShift), 32).
func RunningUpdate(run int32, batch int64) int32 {
	return int32(Saturate(int64(run)+RoundShift(batch-int64(run), RunningMomentumShift), 32))
}

// RunningAverage folds the k-th batch value of a re-estimation (k >= 1) into the
// average of the k-1 before it: Saturate(run + RoundDiv(batch - run, k), 32), so that
// every batch weighs the same (k = 1 sets it).
func RunningAverage(run int32, batch, k int64) int32 {
	return int32(Saturate(int64(run)+RoundDiv(batch-int64(run), k), 32))
}

// AddTable adds a table of integers with step 2^et (b-bit values, e.g. a position
// embedding) to int8 values with step 2^ex, repeating the table for every
// len(table) values of x, into int32 accumulators with the exponent it returns: the
// finer of the two steps, but coarse enough that both operands, aligned with
// RoundShift, stay below 2^30 (exp >= ex-23 and exp >= et+bits-31), so the sum fits.
func AddTable(x []int8, ex int, table []int32, et, bits int, acc []int32) (exp int) {
	exp = AddTableExp(ex, et, bits)
	sx, st := exp-ex, exp-et
	acc = acc[:len(x)]
	for r := 0; r < len(x); r += len(table) {
		for j, t := range table {
			acc[r+j] = int32(RoundShift(int64(x[r+j]), sx) + RoundShift(int64(t), st))
		}
	}
	return exp
}

// AddTableExp is the exponent AddTable returns for steps 2^ex and 2^et and b-bit
// table values.
func AddTableExp(ex, et, bits int) int { return max(min(ex, et), ex-23, et+bits-31) }

// ProbExp is the exponent of attention probabilities: P is int8 with step 2^-7, so
// probabilities resolve to 1/128 and a probability above 127.5/128 saturates to 127.
const ProbExp = -7

// SoftmaxProbs is the softmax of one attention row, from the integer scores of a
// query against its keys: z_j = scores[j]*2^exp for j < valid (a causal mask leaves
// the later keys out; valid = len(scores) without one), in float64
// p_j = math.Exp(z_j - max z)/Σ, and out_j = round(p_j*2^7) (nearest, ties away from
// zero) saturated to 127, 0 for j >= valid. The 1/sqrt(dh) scaling of the scores is
// part of exp (train/ needs dh to be a power of four). It returns how many
// probabilities saturated.
func SoftmaxProbs(scores []int32, exp, valid int, out []int8) (saturated int) {
	var buf [256]float64 // a row's exponentials, on the stack when they fit
	e := buf[:]
	if valid > len(buf) {
		e = make([]float64, valid)
	}
	return SoftmaxProbsExps(Exps, e, scores, exp, valid, out)
}

// SoftmaxProbsExps is SoftmaxProbs with the exponentials computed by exps, which must
// give math.Exp's bits (see Exps), in buf (at least valid long).
func SoftmaxProbsExps(exps func(x []float64), buf []float64, scores []int32, exp, valid int, out []int8) (saturated int) {
	scale := math.Ldexp(1, exp)
	zmax := int32(math.MinInt32)
	for _, s := range scores[:valid] {
		zmax = max(zmax, s)
	}
	// Each exponential is computed once, and 2^-ProbExp scales by a multiplication,
	// exact like Ldexp's.
	e := buf[:valid]
	for j, s := range scores[:valid] {
		e[j] = float64(int64(s)-int64(zmax)) * scale
	}
	exps(e)
	var sum float64
	for _, v := range e {
		sum += v
	}
	for j := range out[:len(scores)] {
		if j >= valid {
			out[j] = 0
			continue
		}
		r := math.Round(e[j] / sum * (1 << -ProbExp))
		if r > 127 {
			r = 127
			saturated++
		}
		out[j] = int8(r)
	}
	return saturated
}

// SoftmaxGradInt is the backward pass of one attention row's softmax, exactly on
// integers: with p the row's int8 probabilities (step 2^ProbExp) and dp the error of
// those probabilities (integers, step 2^e, |dp| < 2^40), s = Σ_j p_j*dp_j and
// ds_j = p_j*(dp_j*2^7 - s), the integer form of P∘(dP - Σ P∘dP), with step
// 2^(e + 2*ProbExp). Masked probabilities are 0 and get no error.
func SoftmaxGradInt(p []int8, dp []int64, ds []int64) {
	var s int64
	for j, v := range p {
		s += int64(v) * dp[j]
	}
	for j, v := range p {
		ds[j] = int64(v) * (dp[j]<<(-ProbExp) - s)
	}
}
