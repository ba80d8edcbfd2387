// Multi-head self-attention on the integer path (see doc.go, "Attention", for the
// numerics). Every product is an exact integer GEMM (computed in float64, exact below
// 2^53); Q, K, V, P, the context O and the errors between the backward products are
// int8 tensors with power-of-two scales; the softmax runs in float64 on the exact
// scores (numerics.SoftmaxProbs) and its backward pass on integers
// (numerics.SoftmaxGradInt).

package train

import (
	"fmt"

	"github.com/rctsim/rctsim/train/numerics"
)

// The delayed scales inside an attention layer (scales.Inner[i]); its output uses
// Fwd[i] and its input's error Bwd[i], like any layer.
const (
	attnScaleQ = iota
	attnScaleK
	attnScaleV
	attnScaleO    // the context
	attnScaleDO   // the context's error
	attnScaleDS   // the scores' error
	attnScaleDQKV // [dQ dK dV], one tensor (the input's error is one GEMM over it)
	attnScales
)

// attnInt is an integer attention layer's saved tensors and scratch.
type attnInt struct {
	x64      []float64 // the input (int8 values), n*T x D
	q8       [3][]int8 // Q, K, V, n*T x D each
	qkvExp   [3]int
	qkv64    []float64 // [Q K V] values side by side, n*T x 3D
	f64      []float64 // GEMM results, n*T x 3D
	acc      []int32   // n*T x D
	sc64     []float64 // per (example, head): scores, then dP
	s32      []int32
	p8       []int8 // probabilities, n*H x T x T
	p64      []float64
	o8       []int8
	o64      []float64
	oExp     int
	dy64     []float64
	do8      []int8
	do64     []float64
	ds       []int64 // the scores' error before requantisation
	ds8      []int8
	ds64     []float64
	dqkv     []int64 // [dQ dK dV] aligned, n*T x 3D
	dqkv8    []int8
	dqkv64   []float64
	gb       []int32 // 4D bias gradients
	taskSats []int   // per (example, head) saturation counts
}

func newAttnInt(a *attnGeom, n int) *attnInt {
	rows, d, tt := n*a.t, a.d, n*a.heads*a.t*a.t
	s := &attnInt{x64: make([]float64, rows*d), qkv64: make([]float64, rows*3*d), f64: make([]float64, rows*3*d),
		acc: make([]int32, rows*d), sc64: make([]float64, tt), s32: make([]int32, tt), p8: make([]int8, tt), p64: make([]float64, tt),
		o8: make([]int8, rows*d), o64: make([]float64, rows*d), dy64: make([]float64, rows*d), do8: make([]int8, rows*d),
		do64: make([]float64, rows*d), ds: make([]int64, tt), ds8: make([]int8, tt), ds64: make([]float64, tt),
		dqkv: make([]int64, rows*3*d), dqkv8: make([]int8, rows*3*d), dqkv64: make([]float64, rows*3*d),
		gb: make([]int32, 4*d), taskSats: make([]int, n*a.heads)}
	for m := range s.q8 {
		s.q8[m] = make([]int8, rows*d)
	}
	return s
}

// checkAttnInt reports whether a layer's attention can run on integers: the 1/sqrt(dh)
// scaling must be a power of two (dh a power of four) and the projections' reductions
// short enough to be exact in float64.
func checkAttnInt(name string, a *attnGeom) error {
	if a.dh < 1 || a.dh&(a.dh-1) != 0 || log2(a.dh)%2 != 0 {
		return fmt.Errorf("layer %s: integer attention scales scores by 1/sqrt(dh) with a shift, so the head width must be a power of four, not %d", name, a.dh)
	}
	if float64(3*a.d)*127*(1<<31) >= maxExactGEMM || float64(a.t)*127*127*127*(1<<8) >= maxExactGEMM {
		return fmt.Errorf("layer %s: width %d or length %d too large for exact integer GEMMs in float64", name, a.d, a.t)
	}
	return nil
}

// sumSats adds up per-task saturation counts in task order.
func sumSats(s []int) (n int64) {
	for _, v := range s {
		n += int64(v)
	}
	return n
}

// attnForward runs attention layer i on the int8 input x of n examples into out and
// returns the output's exponent.
func (in *intNet) attnForward(i int, x []int8, n int, relu bool, sc *scales, out []int8) int {
	nl := &in.p.layers[i]
	a, st, L := nl.attn, in.attns[i], &in.st.Layers[nl.weight]
	w64 := in.w64[i]
	inner := sc.Inner[i]
	ex := in.inExp(i)
	d, t, rows := a.d, a.t, n*a.t
	convert(st.x64[:rows*d], x)
	// [Q K V] = x [Wq Wk Wv]^T + b: one exact GEMM, then each projection requantised
	// with its own delayed scale.
	f := st.f64[:rows*3*d]
	gemm(false, true, rows, 3*d, d, st.x64, d, w64[:3*d*d], d, f, 3*d, in.split)
	accExp := ex + L.WExp
	for m := range 3 {
		acc := st.acc[:rows*d]
		for r := range rows {
			toInt32(acc[r*d:(r+1)*d], f[r*3*d+m*d:r*3*d+(m+1)*d])
		}
		if L.B != nil {
			numerics.AddBias(acc, d, L.B[m*d:(m+1)*d], accExp-L.BExp)
		}
		st.qkvExp[m] = in.requant(acc, accExp, false, &inner[attnScaleQ+m], st.q8[m][:rows*d], &in.sat.Activations)
		for r := range rows {
			convert(st.qkv64[r*3*d+m*d:r*3*d+(m+1)*d], st.q8[m][r*d:(r+1)*d])
		}
	}
	// Per (example, head): exact scores, the softmax to int8 probabilities (step
	// 2^ProbExp), and the context's exact accumulators.
	scoreExp := st.qkvExp[0] + st.qkvExp[1] - log2(a.dh)/2
	tt := t * t
	parallel(n*a.heads, 1, func(j0, j1 int) {
		for j := j0; j < j1; j++ {
			b, h := j/a.heads, j%a.heads
			base := b*t*3*d + h*a.dh
			s64, s32 := st.sc64[j*tt:(j+1)*tt], st.s32[j*tt:(j+1)*tt]
			gemm(false, true, t, t, a.dh, st.qkv64[base:], 3*d, st.qkv64[base+d:], 3*d, s64, t, nil)
			toInt32(s32, s64)
			p8 := st.p8[j*tt : (j+1)*tt]
			sats := 0
			for q := range t {
				sats += numerics.SoftmaxProbs(s32[q*t:(q+1)*t], scoreExp, a.valid(q), p8[q*t:(q+1)*t])
			}
			st.taskSats[j] = sats
			p64 := st.p64[j*tt : (j+1)*tt]
			convert(p64, p8)
			gemm(false, false, t, a.dh, t, p64, t, st.qkv64[base+2*d:], 3*d, f[b*t*d+h*a.dh:], d, nil)
		}
	})
	in.sat.Activations += sumSats(st.taskSats[:n*a.heads])
	acc := st.acc[:rows*d]
	toInt32(acc, f[:rows*d])
	st.oExp = in.requant(acc, numerics.ProbExp+st.qkvExp[2], false, &inner[attnScaleO], st.o8[:rows*d], &in.sat.Activations)
	convert(st.o64[:rows*d], st.o8[:rows*d])
	// y = O Wo^T + bo.
	gemm(false, true, rows, d, d, st.o64, d, w64[3*d*d:], d, f[:rows*d], d, in.split)
	toInt32(acc, f[:rows*d])
	accExp = st.oExp + L.WExp
	if L.B != nil {
		numerics.AddBias(acc, d, L.B[3*d:], accExp-L.BExp)
	}
	return in.requant(acc, accExp, relu, &sc.Fwd[i], out, &in.sat.Activations)
}

// attnBackward propagates attention layer i's output error dy (n examples) to its
// input's error (when needed) and updates the layer, after the products that read its
// weights.
func (in *intNet) attnBackward(i int, dy []int8, n, step int, stats []LayerStats) {
	nl := &in.p.layers[i]
	a, st, L := nl.attn, in.attns[i], &in.st.Layers[nl.weight]
	w64 := in.w64[i]
	inner := in.st.Scales.Inner[i]
	ee := in.errExp[i]
	d, t, rows, tt := a.d, a.t, n*a.t, a.t*a.t
	dy64 := st.dy64[:rows*d]
	convert(dy64, dy)
	g64 := in.gw64[:4*d*d]
	f := st.f64[:rows*3*d]
	acc := st.acc[:rows*d]
	// Wo's gradient dy^T O and the context's error dO = dy Wo.
	gemm(true, false, d, d, rows, dy64, d, st.o64, d, g64[3*d*d:], d, in.split)
	gemm(false, false, rows, d, d, dy64, d, w64[3*d*d:], d, f[:rows*d], d, in.split)
	toInt32(acc, f[:rows*d])
	doExp := in.requant(acc, ee+L.WExp, false, &inner[attnScaleDO], st.do8[:rows*d], &in.sat.Errors)
	convert(st.do64[:rows*d], st.do8[:rows*d])
	// Per (example, head): dP = dO_h V_h^T, dV_h = P_h^T dO_h, and the softmax's
	// backward pass on integers (the 1/sqrt(dh) scaling in the exponent).
	dsExp := doExp + st.qkvExp[2] + 2*numerics.ProbExp - log2(a.dh)/2
	dqkv := st.f64[:rows*3*d] // GEMM results of [dQ dK dV]
	parallel(n*a.heads, 1, func(j0, j1 int) {
		dp := make([]int64, t)
		for j := j0; j < j1; j++ {
			b, h := j/a.heads, j%a.heads
			base := b*t*3*d + h*a.dh
			do := st.do64[b*t*d+h*a.dh:]
			dp64 := st.sc64[j*tt : (j+1)*tt]
			gemm(false, true, t, t, a.dh, do, d, st.qkv64[base+2*d:], 3*d, dp64, t, nil)
			gemm(true, false, t, a.dh, t, st.p64[j*tt:(j+1)*tt], t, do, d, dqkv[base+2*d:], 3*d, nil)
			for q := range t {
				for k, v := range dp64[q*t : (q+1)*t] {
					dp[k] = int64(v)
				}
				numerics.SoftmaxGradInt(st.p8[j*tt+q*t:j*tt+(q+1)*t], dp, st.ds[j*tt+q*t:j*tt+(q+1)*t])
			}
		}
	})
	all := n * a.heads * tt
	dsExp = in.requant64(st.ds[:all], dsExp, false, &inner[attnScaleDS], st.ds8[:all], &in.sat.Errors)
	convert(st.ds64[:all], st.ds8[:all])
	// dQ_h = dS_h K_h, dK_h = dS_h^T Q_h.
	parallel(n*a.heads, 1, func(j0, j1 int) {
		for j := j0; j < j1; j++ {
			b, h := j/a.heads, j%a.heads
			base := b*t*3*d + h*a.dh
			ds := st.ds64[j*tt : (j+1)*tt]
			gemm(false, false, t, a.dh, t, ds, t, st.qkv64[base+d:], 3*d, dqkv[base:], 3*d, nil)
			gemm(true, false, t, a.dh, t, ds, t, st.qkv64[base:], 3*d, dqkv[base+d:], 3*d, nil)
		}
	})
	// [dQ dK dV] as one tensor: each block brought exactly to the finest of the three
	// exponents, then requantised with one delayed scale.
	blockExp := [3]int{dsExp + st.qkvExp[1], dsExp + st.qkvExp[0], numerics.ProbExp + doExp}
	e := min(blockExp[0], blockExp[1], blockExp[2])
	for r := range rows {
		for m := range 3 {
			sh := e - blockExp[m]
			src, dst := dqkv[r*3*d+m*d:r*3*d+(m+1)*d], st.dqkv[r*3*d+m*d:r*3*d+(m+1)*d]
			for k, v := range src {
				dst[k] = numerics.RoundShift(int64(v), sh)
			}
		}
	}
	dqExp := in.requant64(st.dqkv[:rows*3*d], e, false, &inner[attnScaleDQKV], st.dqkv8[:rows*3*d], &in.sat.Errors)
	convert(st.dqkv64[:rows*3*d], st.dqkv8[:rows*3*d])
	// The projections' gradients [dQ dK dV]^T x and the input's error [dQ dK dV] W.
	gemm(true, false, 3*d, d, rows, st.dqkv64, 3*d, st.x64, d, g64[:3*d*d], d, in.split)
	if nl.needDX {
		gemm(false, false, rows, d, 3*d, st.dqkv64, 3*d, w64[:3*d*d], d, f[:rows*d], d, in.split)
		toInt32(acc, f[:rows*d])
		in.errExp[i-1] = in.requant(acc, dqExp+L.WExp, false, &in.st.Scales.Bwd[i], in.err[i-1][:rows*d], &in.sat.Errors)
	}
	grad := in.g32[:4*d*d]
	parallel(len(grad), 1<<14, func(lo, hi int) { toInt32(grad[lo:hi], g64[lo:hi]) })
	dd := d * d
	xExp := in.inExp(i)
	w := []gradSeg{{0, grad[:dd], dqExp + xExp}, {dd, grad[dd : 2*dd], dqExp + xExp}, {2 * dd, grad[2*dd : 3*dd], dqExp + xExp},
		{3 * dd, grad[3*dd:], ee + st.oExp}}
	var b []gradSeg
	if L.B != nil {
		gb := st.gb
		clear(gb)
		for r := range rows {
			for k, v := range st.dqkv8[r*3*d : (r+1)*3*d] {
				gb[k] += int32(v)
			}
			for k, v := range dy[r*d : (r+1)*d] {
				gb[3*d+k] += int32(v)
			}
		}
		b = []gradSeg{{0, gb[:d], dqExp}, {d, gb[d : 2*d], dqExp}, {2 * d, gb[2*d : 3*d], dqExp}, {3 * d, gb[3*d:], ee}}
	}
	in.update(nl, i, step, w, b, stats)
}
