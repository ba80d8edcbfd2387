// RCT's persistent state and its integer-only operations on it: initial quantisation,
// the weight update, the controller's statistic and bitwidth changes.

package train

import (
	"fmt"
	"math"
	"sync"

	"github.com/rctsim/rctsim/train/numerics"
	"github.com/rctsim/rctsim/train/vec"
)

// rctLayer is one weight layer's persistent state: integers and exponents only.
type rctLayer struct {
	Bits int // b_l: weights and bias are b_l-bit signed integers
	WExp int // weight step Δ_l = 2^WExp
	BExp int // bias step 2^BExp (see initRCT)
	W    []int32
	B    []int32 // nil without bias
	// NITI (niti.go) and RCT with momentum (momentum.go) only: the int16 update
	// buffers of the weights and the bias, and one register per segment (NITI's
	// delayed normalisation, the momentum buffer's unit).
	AccW, AccB   []int16
	GradW, GradB []scaleState
}

// scaleState is the delayed scale of one requantised tensor: the exponent its next
// requantisation produces, from the previous step's max |acc| (Set is false until the
// tensor has been seen once; that first time its own max is used).
type scaleState struct {
	Exp int
	Set bool
}

// scales are the delayed scales of every requantised tensor, per network layer.
type scales struct {
	Fwd []scaleState // the layer's output (weight layers, embeddings, adds, average pools)
	Bwd []scaleState // the error of the layer's input (backward-data, overlapping pools)
	Res []scaleState // the layer's output error after a residual error is added to it
	// Inner holds the scales of the tensors inside a composite layer (attention's Q, K,
	// V, context and the errors between its backward products; see attention_int.go),
	// nil for the other layers.
	Inner [][]scaleState
}

func newScales(p *plan) scales {
	layers := len(p.layers)
	s := scales{Fwd: make([]scaleState, layers), Bwd: make([]scaleState, layers), Res: make([]scaleState, layers),
		Inner: make([][]scaleState, layers)}
	for i, nl := range p.layers {
		if nl.attn != nil {
			s.Inner[i] = make([]scaleState, attnScales)
		}
	}
	return s
}

func (s scales) clone() scales {
	c := scales{Fwd: append([]scaleState(nil), s.Fwd...), Bwd: append([]scaleState(nil), s.Bwd...), Res: append([]scaleState(nil), s.Res...),
		Inner: make([][]scaleState, len(s.Inner))}
	for i, in := range s.Inner {
		c.Inner[i] = append([]scaleState(nil), in...)
	}
	return c
}

// rctState is everything RCT training carries from one step to the next. It holds no
// float: the test TestRCTStateHasNoFloats walks it by reflection.
type rctState struct {
	Layers []rctLayer // per weight layer
	Scales scales
	// Running holds batch normalisation's running statistics, per network layer (the
	// zero value for other layers).
	Running []rctRunning
}

// rctRunning is one batch normalisation layer's running statistics for evaluation, as
// integers: the mean in units of 2^Exp and the biased variance in units of 2^(2*Exp)
// per channel, Exp being the layer's input step at the last training step minus
// numerics.RunningFracBits (see norm_int.go).
type rctRunning struct {
	Set       bool
	Exp       int
	Mean, Var []int32
}

// clone deep-copies the state.
func (s *rctState) clone() rctState {
	out := rctState{Scales: s.Scales.clone(), Layers: make([]rctLayer, len(s.Layers)), Running: make([]rctRunning, len(s.Running))}
	for j, L := range s.Layers {
		L.W = append([]int32(nil), L.W...)
		L.B = append([]int32(nil), L.B...)
		L.AccW = append([]int16(nil), L.AccW...)
		L.AccB = append([]int16(nil), L.AccB...)
		L.GradW = append([]scaleState(nil), L.GradW...)
		L.GradB = append([]scaleState(nil), L.GradB...)
		out.Layers[j] = L
	}
	for i, r := range s.Running {
		r.Mean = append([]int32(nil), r.Mean...)
		r.Var = append([]int32(nil), r.Var...)
		out.Running[i] = r
	}
	return out
}

// initRCT quantises the float initial weights: each layer's weight step is the
// smallest power of two at which its largest initial weight fits `bits` bits
// (numerics.QuantExp), times 2^headroom, so the grid leaves the weights room to grow;
// weights are rounded to nearest. Biases start at zero on the weight grid
// (BExp = WExp): they share the layer's width and its changes, and are added to the
// accumulators exactly whenever the input's exponent is at most 0.
func initRCT(p *plan, init [][]float64, bits []int, headroom int) (rctState, error) {
	st := rctState{Layers: make([]rctLayer, len(p.weights)), Scales: newScales(p), Running: make([]rctRunning, len(p.layers))}
	for i, nl := range p.layers {
		if nl.norm != nil && nl.norm.batch {
			st.Running[i] = rctRunning{Mean: make([]int32, nl.norm.c), Var: make([]int32, nl.norm.c)}
		}
	}
	for j, i := range p.weights {
		b := bits[j]
		if b < 2 || b > 32 {
			return st, fmt.Errorf("layer %s: start width %d outside 2..32", p.layers[i].l.Name, b)
		}
		var m float64
		for _, v := range init[j] {
			m = max(m, math.Abs(v))
		}
		e := numerics.QuantExp(m, b) + headroom
		L := rctLayer{Bits: b, WExp: e, BExp: e, W: make([]int32, len(init[j]))}
		for k, v := range init[j] {
			L.W[k] = int32(numerics.Saturate(int64(math.Round(math.Ldexp(v, -e))), b))
		}
		if nb := p.layers[i].l.BiasParams(); nb > 0 {
			L.B = make([]int32, nb)
		}
		st.Layers[j] = L
	}
	return st, nil
}

// setBits moves layer j to a new width (numerics.ConvertInt on weights and bias; each
// added bit halves both steps, each dropped bit doubles them). It returns how many
// values saturated.
func (L *rctLayer) setBits(bits int) int {
	if bits == L.Bits {
		return 0
	}
	sat := numerics.ConvertInt(L.W, L.Bits, bits) + numerics.ConvertInt(L.B, L.Bits, bits)
	L.WExp -= bits - L.Bits
	L.BExp -= bits - L.Bits
	L.Bits = bits
	return sat
}

// rctSeed derives the stochastic-rounding seed from the run's seed.
func rctSeed(seed uint64) uint64 { return splitmix64(seed ^ 0x5243545f726f756e) } // "RCT_roun"

// gradSeg is a part of a weight layer's gradient accumulators with a scale of its
// own: grad holds the gradients of values [lo, lo+len(grad)) of the layer's weights
// (or biases), in the canonical layout, with scale 2^exp. Most layers have one
// segment per tensor; an attention layer's four projections are four (their
// gradients come from errors with different scales).
type gradSeg struct {
	lo   int
	grad []int32
	exp  int
}

// updateSegments applies the integer update to weight layer L (network layer i) at
// step `step`, from gradient accumulators in segments (w for the weights, b for the
// biases, covering them; see gradSeg). When stats is not nil it receives the layer's
// Gavg. It returns how many values saturated. Every segment updates with its own shift; the random
// bits of each value follow from its index in the whole tensor, as if it were one.
// Gavg is the mean over all weights: the sum over segments of
// numerics.Gavg(Σ|G| of the segment, all weights, mant, the segment's shift).
func updateSegments(L *rctLayer, i, step int, w, b []gradSeg,
	lr numerics.FixedLR, rounding numerics.Rounding, seed uint64, noQAS bool, stats *LayerStats) int {
	shiftOf := numerics.UpdateShift
	if noQAS {
		shiftOf = numerics.UpdateShiftNoQAS
	}
	if stats != nil {
		stats.Gavg = 0
		for _, sg := range w {
			stats.Gavg += numerics.Gavg(numerics.GradAbsSum(sg.grad), len(L.W), lr.Mant, shiftOf(lr, sg.exp, L.WExp))
		}
	}
	key := numerics.RandKey(seed, numerics.RandStream(step, i, 0))
	var mu sync.Mutex
	var sat int
	for _, sg := range w {
		sh := shiftOf(lr, sg.exp, L.WExp)
		dst := L.W[sg.lo : sg.lo+len(sg.grad)]
		// Tiles of the weights update on separate cores; each tile's random bits follow
		// from its first index, so the result is that of one pass.
		parallel(len(dst), 1<<14, func(lo, hi int) {
			n := vec.UpdateInt(dst[lo:hi], sg.grad[lo:hi], lr.Mant, sh, L.Bits, rounding, key, uint64(sg.lo+lo))
			mu.Lock()
			sat += n
			mu.Unlock()
		})
	}
	if L.B != nil {
		keyB := numerics.RandKey(seed, numerics.RandStream(step, i, 1))
		for _, sg := range b {
			shb := shiftOf(lr, sg.exp, L.BExp)
			sat += vec.UpdateInt(L.B[sg.lo:sg.lo+len(sg.grad)], sg.grad, lr.Mant, shb, L.Bits, rounding, keyB, uint64(sg.lo))
		}
	}
	return sat
}

// delayedRequant requantises accumulators acc (scale 2^accExp) into out with the
// tensor's delayed scale s: the shift is s.Exp - accExp, or, the first time, the one
// the current max calls for (calibration). It then sets s from this step's max and
// returns the output's exponent and the number of saturated outputs.
//
// The work is split across cores by whole rows of rowLen values. prepare, when not
// nil, computes acc[lo:hi] (whole rows) just before they are requantised, so that the
// epilogue producing the accumulators and the requantisation are one pass over the
// data; when calibrating, prepare runs over the whole tensor first. The max and the
// saturation count combine exactly, so the split never changes a result.
func delayedRequant(acc []int32, rowLen, accExp int, relu bool, s *scaleState, out []int8, prepare func(lo, hi int)) (exp, saturated int) {
	rows := len(acc) / rowLen
	minRows := max(1, (1<<14)/rowLen)
	if !s.Set && prepare != nil {
		parallel(rows, minRows, func(r0, r1 int) { prepare(r0*rowLen, r1*rowLen) })
		prepare = nil
	}
	var sh int
	if s.Set {
		sh = s.Exp - accExp
	} else {
		sh = numerics.ShiftFor(int64(maxAbs32(acc, relu)), 8)
	}
	var mu sync.Mutex
	var m int32
	parallel(rows, minRows, func(r0, r1 int) {
		lo, hi := r0*rowLen, r1*rowLen
		if prepare != nil {
			prepare(lo, hi)
		}
		pm, ps := vec.Requant(acc[lo:hi], sh, relu, out[lo:hi])
		mu.Lock()
		m, saturated = max(m, pm), saturated+ps
		mu.Unlock()
	})
	s.Exp, s.Set = accExp+numerics.ShiftFor(int64(m), 8), true
	return accExp + sh, saturated
}

// delayedRequant64 is delayedRequant for int64 accumulators (numerics.Requant64), in
// one pass: the tensors it serves (normalisations, attention's inner tensors) are
// produced whole before they are requantised.
func delayedRequant64(acc []int64, accExp int, relu bool, s *scaleState, out []int8) (exp, saturated int) {
	var sh int
	if s.Set {
		sh = s.Exp - accExp
	} else {
		var m int64
		for _, v := range acc {
			if v < 0 && relu {
				continue
			}
			m = max(m, v, -v)
		}
		sh = numerics.ShiftFor(m, 8)
	}
	var mu sync.Mutex
	var m int64
	parallel(len(acc), 1<<14, func(lo, hi int) {
		pm, ps := vec.Requant64(acc[lo:hi], sh, relu, out[lo:hi])
		mu.Lock()
		m, saturated = max(m, pm), saturated+ps
		mu.Unlock()
	})
	s.Exp, s.Set = accExp+numerics.ShiftFor(m, 8), true
	return accExp + sh, saturated
}

// maxAbs32 is the largest |v| (after a ReLU when relu is set). The signs are as
// good as random, so neither loop branches on them: a negative v never raises the
// ReLU's maximum (at least 0), and |v| is computed from v's sign mask.
func maxAbs32(acc []int32, relu bool) int32 {
	var m int64
	if relu {
		for _, v := range acc {
			m = max(m, int64(v))
		}
	} else {
		for _, v := range acc {
			s := int64(v >> 31)
			m = max(m, (int64(v)^s)-s)
		}
	}
	return int32(min(m, math.MaxInt32))
}

// toInt32 converts exact integer GEMM results to int32 accumulators, saturating at
// ±(2^31-1) as numerics.GEMMInt defines.
func toInt32(dst []int32, src []float64) {
	dst = dst[:len(src)]
	for j, v := range src {
		switch {
		case v > math.MaxInt32:
			dst[j] = math.MaxInt32
		case v < -math.MaxInt32:
			dst[j] = -math.MaxInt32
		default:
			dst[j] = int32(v)
		}
	}
}
