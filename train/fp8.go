// FP8: mixed-precision training with 8-bit floats (Micikevicius et al., "FP8 Formats
// for Deep Learning", arXiv 2209.05433), the float path with every stored tensor in
// FP8.
//
// Weights: fp32 master copies (SGD with momentum, as FP32 and QAT) and an E4M3 copy
// that every GEMM reads, forward and backward-data alike; biases (and normalisation
// scales and shifts) likewise. Activations: every layer's output and the input batch
// are stored in E4M3, so every GEMM input is E4M3. Errors: the error of every layer's
// output, as the backward pass reads it, is stored in E5M2 (the loss error included).
// GEMMs multiply FP8 operands exactly and accumulate wider (float64 here, fp32 on the
// chip); the element-wise work between them (ReLU, pooling, the softmax, the
// normalisations' arithmetic) is float, on values read from FP8. The tensors inside an
// attention layer (Q, K, V, the probabilities, the context) stay float, as the
// products of activations with activations do under QAT; the chip stores them in 8
// bits (ARCHITECTURE.md says what that leaves out).
//
// Scaling: each tensor has a per-tensor power-of-two scale 2^e, the largest that keeps
// its amax within the format (numerics.FP8Format.FP8ScaleExp), so nothing saturates
// unless the tensor grew. The scale is delayed, as Transformer Engine's default
// "delayed scaling" is and as every scale in rctsim is: it comes from the same
// tensor's amax at the previous step (or, for weights, the previous refresh), because
// a device producing a tensor tile by tile cannot know its amax before writing it. The
// first time a tensor is seen it calibrates on its own amax. Evaluation reads the
// scales without changing them.

package train

import (
	"math"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// fp8Reg is a delayed FP8 scale: the exponent the tensor's next storing uses.
type fp8Reg struct {
	exp int
	set bool
}

// next returns the exponent to store a tensor of amax with now, and (when train)
// moves the register to the one amax calls for.
func (r *fp8Reg) next(f numerics.FP8Format, amax float64, train bool) int {
	e := r.exp
	if !r.set {
		e = f.FP8ScaleExp(amax)
	}
	if train {
		r.exp, r.set = f.FP8ScaleExp(amax), true
	}
	return e
}

// fp8State is FP8's scale registers.
type fp8State struct {
	p      *plan
	input  fp8Reg
	act    []fp8Reg   // per network layer: its output (E4M3)
	err    []fp8Reg   // per network layer: the error of its output (E5M2)
	w, b   [][]fp8Reg // per weight layer and segment: the E4M3 copies
	wq, bq []float64  // the copies (scratch, canonical layout)
}

func newFP8State(p *plan) *fp8State {
	s := &fp8State{p: p, act: make([]fp8Reg, len(p.layers)), err: make([]fp8Reg, len(p.layers)),
		w: make([][]fp8Reg, len(p.weights)), b: make([][]fp8Reg, len(p.weights))}
	maxW, maxB := 0, 0
	for j, i := range p.weights {
		segs := p.layers[i].segments()
		s.w[j], s.b[j] = make([]fp8Reg, segs), make([]fp8Reg, segs)
		maxW = max(maxW, int(p.layers[i].l.WeightParams()))
		maxB = max(maxB, int(p.layers[i].l.BiasParams()))
	}
	s.wq, s.bq = make([]float64, maxW), make([]float64, maxB)
	return s
}

// storeFP8 rounds x in place to format f with the delayed scale of r.
func storeFP8[E floatT](f numerics.FP8Format, r *fp8Reg, x []E, train bool) {
	var amax float64
	for _, v := range x {
		amax = max(amax, math.Abs(float64(v)))
	}
	e := r.next(f, amax, train)
	parallel(len(x), 1<<14, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			x[j] = E(f.RoundScaled(float64(x[j]), e))
		}
	})
}

// fp8Activations stores layer i's output (i = -1: the input batch) in E4M3.
func fp8Activations[F floatT](s *fp8State, i int, x []F, train bool) {
	r := &s.input
	if i >= 0 {
		r = &s.act[i]
	}
	storeFP8(numerics.E4M3, r, x, train)
}

// fp8Errors stores the error of layer i's output in E5M2 before the backward pass reads
// it (a flatten's error is its neighbour's, stored once). Errors exist only in
// training.
func fp8Errors[F floatT](s *fp8State, i int, dy []F) {
	if s.p.layers[i].l.Kind == models.Flatten {
		return
	}
	storeFP8(numerics.E5M2, &s.err[i], dy, true)
}

// fp8Weights returns the E4M3 copy of weight layer j's master weights w, made of segs
// equal matrices with a scale each (scratch, valid until the next call).
func fp8Weights[F floatT](s *fp8State, w []F, j, segs int) []float64 {
	return fp8Segments(w, s.w[j], segs, s.wq)
}

// fp8Bias returns the E4M3 copy of weight layer j's bias.
func fp8Bias[F floatT](s *fp8State, b []F, j, segs int) []float64 {
	return fp8Segments(b, s.b[j], segs, s.bq)
}

func fp8Segments[F floatT](x []F, regs []fp8Reg, segs int, out []float64) []float64 {
	out = out[:len(x)]
	convert(out, x)
	if len(x) == 0 {
		return out
	}
	n := len(x) / segs
	for k := range segs {
		storeFP8(numerics.E4M3, &regs[k], out[k*n:(k+1)*n], true)
	}
	return out
}
