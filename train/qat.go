// QAT: quantisation-aware training, the float path with fake quantisation.
//
// Weights: fp32 master copies (updated by SGD with momentum) are fake-quantised to b
// bits wherever they are used, forward and backward-data alike, with a per-tensor
// symmetric scale s = max|w| / (2^(b-1)-1) that is NOT restricted to a power of two
// (the usual QAT quantiser: nothing is clipped, so the straight-through estimator
// passes the gradient unchanged to the master weights). Biases are fake-quantised the
// same way with their own scale, since the device stores a b-bit bias copy too. This
// holds for every parameter tensor alike: GEMM weights, embedding and position
// tables, and the scale (gamma) and shift (beta) of batch and layer normalisation,
// which the device keeps as b-bit copies beside their fp32 masters like any other
// parameter (kernels/ charges them at b bits). An attention layer's four projections
// are four matrices with a scale each (and four biases with a scale each).
//
// Activations: the input of every GEMM with a weight operand — linear, convolution
// (grouped too), attention's projections of its input and its output projection's
// input (the context) — is fake-quantised to 8 bits on an affine grid over
// [min(lo, 0), max(hi, 0)], lo and hi being exponential moving averages (decay 0.99,
// started from the first batch) of the batch minimum and maximum, with the zero point
// nudged so that 0 is exactly representable (as TensorFlow's
// FakeQuantWithMinMaxVars). Training steps update the averages before quantising;
// evaluation uses them frozen. In the backward pass the error reaches an input only
// where that input lay inside the grid's range (clipped STE). The products of
// activations with activations inside attention (scores, context) and the
// normalisations' arithmetic stay float, as do errors and gradients.

package train

import (
	"math"
	"sync"

	"github.com/rctsim/rctsim/train/vec"
)

// qatDecay is the EMA decay of the activation ranges: about a 100-step memory, short
// enough to follow the ranges of a 2-epoch MNIST run.
const qatDecay = 0.99

// qatActBits is the activation fake-quantisation width.
const qatActBits = 8

type qatState[F floatT] struct {
	bits   []int      // per weight layer: the width of the current step
	ranges []actRange // per network layer; used for the GEMM layers' inputs
	ctx    []actRange // per network layer; an attention layer's context
	wq, bq []float64  // quantised weights and biases (scratch, canonical layout)
}

// actRange is one activation quantiser's state.
type actRange struct {
	lo, hi float64 // EMA of the batch minimum and maximum
	seen   bool
	// The grid of the last forward pass, for the backward pass's clipping mask.
	qlo, qhi float64
}

// newQATState returns QAT's quantiser state; bits is shared with the caller, who
// updates it in place when a schedule changes a width.
func newQATState[F floatT](p *plan, bits []int) *qatState[F] {
	q := &qatState[F]{bits: bits, ranges: make([]actRange, len(p.layers)), ctx: make([]actRange, len(p.layers))}
	maxW, maxB := 0, 0
	for _, i := range p.weights {
		maxW = max(maxW, int(p.layers[i].l.WeightParams()))
		maxB = max(maxB, int(p.layers[i].l.BiasParams()))
	}
	q.wq, q.bq = make([]float64, maxW), make([]float64, maxB)
	return q
}

// fakeQuantSym quantises x to a symmetric `bits`-bit grid with scale max|x|/(2^(bits-1)-1)
// and writes the dequantised values to out.
func fakeQuantSym[F floatT](x []F, bits int, out []float64) []float64 {
	out = out[:len(x)]
	m := maxAbsFloat(x)
	if m == 0 {
		convert(out, x)
		return out
	}
	s := m / float64(int64(1)<<(bits-1)-1)
	parallel(len(x), 1<<14, func(lo, hi int) { vec.QuantizeSym(x[lo:hi], out[lo:hi], s) })
	return out
}

// maxAbsFloat returns the largest magnitude in x, 0 when x is empty, as a loop of
// max(m, math.Abs(float64(v))) from m = 0 would: through floatRange's extremes when x
// holds no NaN.
func maxAbsFloat[F floatT](x []F) float64 {
	if len(x) == 0 {
		return 0
	}
	if lo, hi := floatRange(x); !math.IsNaN(lo) && !math.IsNaN(hi) {
		return max(math.Abs(lo), math.Abs(hi))
	}
	var m float64
	for _, v := range x {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

// weights returns the fake-quantised copy of weight layer j's weights w, made of segs
// equal matrices quantised separately (scratch, valid until the next call).
func (q *qatState[F]) weights(w []F, j, segs int) []float64 {
	return fakeQuantSegments(w, q.bits[j], segs, q.wq)
}

// bias returns the fake-quantised copy of weight layer j's bias b (segs parts).
func (q *qatState[F]) bias(b []F, j, segs int) []float64 {
	return fakeQuantSegments(b, q.bits[j], segs, q.bq)
}

// fakeQuantSegments is fakeQuantSym applied to each of segs equal parts of x.
func fakeQuantSegments[F floatT](x []F, bits, segs int, out []float64) []float64 {
	out = out[:len(x)]
	n := len(x) / max(segs, 1)
	for s := 0; s < len(x); s += max(n, 1) {
		fakeQuantSym(x[s:s+n], bits, out[s:s+n])
	}
	return out
}

// activations fake-quantises the input x of GEMM layer i into out and returns it.
func (q *qatState[F]) activations(i int, x, out []F, train bool) []F {
	return fakeQuantAct(&q.ranges[i], x, out, train)
}

// fakeQuantAct fake-quantises x into out on the affine 8-bit grid of range r (see the
// file comment), updating r's averages when training, and returns out.
func fakeQuantAct[E floatT](r *actRange, x, out []E, train bool) []E {
	out = out[:len(x)]
	lo, hi := math.Inf(1), math.Inf(-1)
	if train || !r.seen {
		var mu sync.Mutex
		parallel(len(x), 1<<15, func(j0, j1 int) {
			plo, phi := floatRange(x[j0:j1])
			mu.Lock()
			lo, hi = min(lo, plo), max(hi, phi)
			mu.Unlock()
		})
	}
	switch {
	case train && !r.seen:
		r.lo, r.hi, r.seen = lo, hi, true
	case train:
		r.lo = qatDecay*r.lo + (1-qatDecay)*lo
		r.hi = qatDecay*r.hi + (1-qatDecay)*hi
	}
	// Evaluation before any training step uses the batch's own range, unstored.
	if r.seen {
		lo, hi = r.lo, r.hi
	}
	lo, hi = min(lo, 0), max(hi, 0)
	if !(hi > lo) {
		copy(out, x)
		r.qlo, r.qhi = math.Inf(-1), math.Inf(1)
		return out
	}
	levels := float64(int64(1)<<qatActBits - 1)
	s := (hi - lo) / levels
	z := math.Round(-lo / s) // the zero point, in [0, levels]
	r.qlo, r.qhi = -z*s, (levels-z)*s
	qlo, qhi := r.qlo, r.qhi
	parallel(len(x), 1<<14, func(j0, j1 int) { vec.FakeQuant(x[j0:j1], out[j0:j1], qlo, qhi, s) })
	return out
}

// floatRange returns min and max over x in float64 (+Inf and -Inf when x is empty).
func floatRange[E floatT](x []E) (lo, hi float64) {
	if x32, ok := any(x).([]float32); ok {
		if lo, hi, ok := vec.Range32(x32); ok {
			return float64(lo), float64(hi)
		}
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range x {
		lo, hi = min(lo, float64(v)), max(hi, float64(v))
	}
	return lo, hi
}

// straightThrough masks the error dx of GEMM layer i's input x: zero where the forward
// pass clipped x to its grid.
func (q *qatState[F]) straightThrough(i int, x, dx []F) { straightThroughRange(&q.ranges[i], x, dx) }

// straightThroughRange zeroes dx where x lay outside the grid of r's last forward pass.
func straightThroughRange[E floatT](r *actRange, x, dx []E) {
	qlo, qhi := r.qlo, r.qhi
	parallel(len(x), 1<<15, func(j0, j1 int) { vec.ClipMask(x[j0:j1], dx[j0:j1], qlo, qhi) })
}
