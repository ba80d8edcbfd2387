// Multi-head self-attention on the integer path (see doc.go, "Attention", for the
// numerics). Every product is an exact integer GEMM (package gemm's integer kernels,
// saturating to int32 as numerics.GEMMInt; no product here comes near 2^31); Q, K, V, P, the context O and the errors between the backward products are
// int8 tensors with power-of-two scales; the softmax runs in float64 on the exact
// scores (numerics.SoftmaxProbs) and its backward pass on integers
// (numerics.SoftmaxGradInt).

package train

import (
	"fmt"

	kgemm "github.com/rctsim/rctsim/train/gemm"
	"github.com/rctsim/rctsim/train/numerics"
	"github.com/rctsim/rctsim/train/vec"
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
	x16      []int16   // the input (int8 values), n*T x D
	q8       [3][]int8 // Q, K, V, n*T x D each
	qkvExp   [3]int
	qkv16    []int16 // [Q K V] values side by side, n*T x 3D
	f32      []int32 // GEMM results, n*T x 3D
	acc      []int32 // n*T x D
	sc32     []int32 // per (example, head): scores, then dP
	s32      []int32
	p8       []int8 // probabilities, n*H x T x T
	p16      []int16
	o8       []int8
	o16      []int16
	oExp     int
	dy16     []int16
	do8      []int8
	do16     []int16
	ds       []int64 // the scores' error before requantisation
	ds8      []int8
	ds16     []int16
	dqkv     []int64 // [dQ dK dV] aligned, n*T x 3D
	dqkv8    []int8
	dqkv16   []int16
	gb       []int32 // 4D bias gradients
	taskSats []int   // per (example, head) saturation counts
}

func newAttnInt(a *attnGeom, n int) *attnInt {
	rows, d, tt := n*a.t, a.d, n*a.heads*a.t*a.t
	s := &attnInt{x16: make([]int16, rows*d), qkv16: make([]int16, rows*3*d), f32: make([]int32, rows*3*d),
		acc: make([]int32, rows*d), sc32: make([]int32, tt), s32: make([]int32, tt), p8: make([]int8, tt), p16: make([]int16, tt),
		o8: make([]int8, rows*d), o16: make([]int16, rows*d), dy16: make([]int16, rows*d), do8: make([]int8, rows*d),
		do16: make([]int16, rows*d), ds: make([]int64, tt), ds8: make([]int8, tt), ds16: make([]int16, tt),
		dqkv: make([]int64, rows*3*d), dqkv8: make([]int8, rows*3*d), dqkv16: make([]int16, rows*3*d),
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
	w, wmax := in.wg[i], in.wmax[i]
	inner := sc.Inner[i]
	ex := in.inExp(i)
	d, t, rows := a.d, a.t, n*a.t
	convertAll(st.x16[:rows*d], x)
	// [Q K V] = x [Wq Wk Wv]^T + b: one exact GEMM, then each projection requantised
	// with its own delayed scale.
	f := st.f32[:rows*3*d]
	kgemm.I32(false, true, rows, 3*d, d, st.x16, d, opMax, w[:3*d*d], d, wmax, f, 3*d)
	accExp := ex + L.WExp
	for m := range 3 {
		acc := st.acc[:rows*d]
		parallel(rows, 64, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				copy(acc[r*d:(r+1)*d], f[r*3*d+m*d:r*3*d+(m+1)*d])
			}
		})
		if L.B != nil {
			addBias(acc, d, L.B[m*d:(m+1)*d], accExp-L.BExp)
		}
		st.qkvExp[m] = in.requant(acc, accExp, false, &inner[attnScaleQ+m], st.q8[m][:rows*d], &in.sat.Activations)
		parallel(rows, 64, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				convert(st.qkv16[r*3*d+m*d:r*3*d+(m+1)*d], st.q8[m][r*d:(r+1)*d])
			}
		})
	}
	// Per (example, head): exact scores, the softmax to int8 probabilities (step
	// 2^ProbExp), and the context's exact accumulators.
	scoreExp := st.qkvExp[0] + st.qkvExp[1] - log2(a.dh)/2
	tt := t * t
	parallel(n*a.heads, 1, func(j0, j1 int) {
		exps := make([]float64, t)
		for j := j0; j < j1; j++ {
			b, h := j/a.heads, j%a.heads
			base := b*t*3*d + h*a.dh
			s32 := st.s32[j*tt : (j+1)*tt]
			kgemm.I32(false, true, t, t, a.dh, st.qkv16[base:], 3*d, opMax, st.qkv16[base+d:], 3*d, opMax, s32, t)
			p8 := st.p8[j*tt : (j+1)*tt]
			sats := 0
			for q := range t {
				sats += numerics.SoftmaxProbsExps(vec.Exp, exps, s32[q*t:(q+1)*t], scoreExp, a.valid(q), p8[q*t:(q+1)*t])
			}
			st.taskSats[j] = sats
			p16 := st.p16[j*tt : (j+1)*tt]
			convert(p16, p8)
			kgemm.I32(false, false, t, a.dh, t, p16, t, opMax, st.qkv16[base+2*d:], 3*d, opMax, f[b*t*d+h*a.dh:], d)
		}
	})
	in.sat.Activations += sumSats(st.taskSats[:n*a.heads])
	acc := st.acc[:rows*d]
	convertAll(acc, f[:rows*d])
	st.oExp = in.requant(acc, numerics.ProbExp+st.qkvExp[2], false, &inner[attnScaleO], st.o8[:rows*d], &in.sat.Activations)
	convertAll(st.o16[:rows*d], st.o8[:rows*d])
	// y = O Wo^T + bo.
	kgemm.I32(false, true, rows, d, d, st.o16, d, opMax, w[3*d*d:], d, wmax, acc, d)
	accExp = st.oExp + L.WExp
	if L.B != nil {
		addBias(acc, d, L.B[3*d:], accExp-L.BExp)
	}
	return in.requant(acc, accExp, relu, &sc.Fwd[i], out, &in.sat.Activations)
}

// attnBackward propagates attention layer i's output error dy (n examples) to its
// input's error (when needed) and updates the layer, after the products that read its
// weights.
func (in *intNet) attnBackward(i int, dy []int8, n, step int, stats []LayerStats) {
	nl := &in.p.layers[i]
	a, st, L := nl.attn, in.attns[i], &in.st.Layers[nl.weight]
	w, wmax := in.wg[i], in.wmax[i]
	inner := in.st.Scales.Inner[i]
	ee := in.errExp[i]
	d, t, rows, tt := a.d, a.t, n*a.t, a.t*a.t
	dy16 := st.dy16[:rows*d]
	convertAll(dy16, dy)
	grad := in.g32[:4*d*d]
	acc := st.acc[:rows*d]
	// Wo's gradient dy^T O and the context's error dO = dy Wo.
	kgemm.I32(true, false, d, d, rows, dy16, d, opMax, st.o16, d, opMax, grad[3*d*d:], d)
	kgemm.I32(false, false, rows, d, d, dy16, d, opMax, w[3*d*d:], d, wmax, acc, d)
	doExp := in.requant(acc, ee+L.WExp, false, &inner[attnScaleDO], st.do8[:rows*d], &in.sat.Errors)
	convertAll(st.do16[:rows*d], st.do8[:rows*d])
	// Per (example, head): dP = dO_h V_h^T, dV_h = P_h^T dO_h, and the softmax's
	// backward pass on integers (the 1/sqrt(dh) scaling in the exponent).
	dsExp := doExp + st.qkvExp[2] + 2*numerics.ProbExp - log2(a.dh)/2
	dqkv := st.f32[:rows*3*d] // GEMM results of [dQ dK dV]
	parallel(n*a.heads, 1, func(j0, j1 int) {
		dp := make([]int64, t)
		for j := j0; j < j1; j++ {
			b, h := j/a.heads, j%a.heads
			base := b*t*3*d + h*a.dh
			do := st.do16[b*t*d+h*a.dh:]
			dp32 := st.sc32[j*tt : (j+1)*tt]
			kgemm.I32(false, true, t, t, a.dh, do, d, opMax, st.qkv16[base+2*d:], 3*d, opMax, dp32, t)
			kgemm.I32(true, false, t, a.dh, t, st.p16[j*tt:(j+1)*tt], t, opMax, do, d, opMax, dqkv[base+2*d:], 3*d)
			for q := range t {
				for k, v := range dp32[q*t : (q+1)*t] {
					dp[k] = int64(v)
				}
				numerics.SoftmaxGradInt(st.p8[j*tt+q*t:j*tt+(q+1)*t], dp, st.ds[j*tt+q*t:j*tt+(q+1)*t])
			}
		}
	})
	all := n * a.heads * tt
	dsExp = in.requant64(st.ds[:all], dsExp, false, &inner[attnScaleDS], st.ds8[:all], &in.sat.Errors)
	convertAll(st.ds16[:all], st.ds8[:all])
	// dQ_h = dS_h K_h, dK_h = dS_h^T Q_h.
	parallel(n*a.heads, 1, func(j0, j1 int) {
		for j := j0; j < j1; j++ {
			b, h := j/a.heads, j%a.heads
			base := b*t*3*d + h*a.dh
			ds := st.ds16[j*tt : (j+1)*tt]
			kgemm.I32(false, false, t, a.dh, t, ds, t, opMax, st.qkv16[base+d:], 3*d, opMax, dqkv[base:], 3*d)
			kgemm.I32(true, false, t, a.dh, t, ds, t, opMax, st.qkv16[base:], 3*d, opMax, dqkv[base+d:], 3*d)
		}
	})
	// [dQ dK dV] as one tensor: each block brought exactly to the finest of the three
	// exponents, then requantised with one delayed scale.
	blockExp := [3]int{dsExp + st.qkvExp[1], dsExp + st.qkvExp[0], numerics.ProbExp + doExp}
	e := min(blockExp[0], blockExp[1], blockExp[2])
	parallel(rows, max(1, (1<<12)/(3*d)), func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			for m := range 3 {
				sh := e - blockExp[m] // at most 0: e is the finest
				src, dst := dqkv[r*3*d+m*d:r*3*d+(m+1)*d], st.dqkv[r*3*d+m*d:r*3*d+(m+1)*d]
				if left := -sh; left >= 0 && left < 32 {
					// An int32 shifted left by less than 32 stays below 2^63: RoundShift
					// is the plain shift.
					for k, v := range src {
						dst[k] = int64(v) << left
					}
					continue
				}
				for k, v := range src {
					dst[k] = numerics.RoundShift(int64(v), sh)
				}
			}
		}
	})
	dqExp := in.requant64(st.dqkv[:rows*3*d], e, false, &inner[attnScaleDQKV], st.dqkv8[:rows*3*d], &in.sat.Errors)
	convertAll(st.dqkv16[:rows*3*d], st.dqkv8[:rows*3*d])
	// The projections' gradients [dQ dK dV]^T x and the input's error [dQ dK dV] W.
	kgemm.I32(true, false, 3*d, d, rows, st.dqkv16, 3*d, opMax, st.x16, d, opMax, grad[:3*d*d], d)
	if nl.needDX {
		kgemm.I32(false, false, rows, d, 3*d, st.dqkv16, 3*d, opMax, w[:3*d*d], d, wmax, acc, d)
		in.errExp[in.p.dxSlot(i)] = in.requant(acc, dqExp+L.WExp, false, &in.st.Scales.Bwd[i], in.err[in.p.dxSlot(i)][:rows*d], &in.sat.Errors)
	}
	dd := d * d
	xExp := in.inExp(i)
	ws := []gradSeg{{0, grad[:dd], dqExp + xExp}, {dd, grad[dd : 2*dd], dqExp + xExp}, {2 * dd, grad[2*dd : 3*dd], dqExp + xExp},
		{3 * dd, grad[3*dd:], ee + st.oExp}}
	var b []gradSeg
	if L.B != nil {
		gb := st.gb
		channelSums8(st.dqkv8[:rows*3*d], gb[:3*d])
		channelSums8(dy[:rows*d], gb[3*d:4*d])
		b = []gradSeg{{0, gb[:d], dqExp}, {d, gb[d : 2*d], dqExp}, {2 * d, gb[2*d : 3*d], dqExp}, {3 * d, gb[3*d:], ee}}
	}
	in.update(nl, i, step, ws, b, stats)
}
