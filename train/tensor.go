// Tensor plumbing shared by the float and integer paths: layer geometry, the lowering
// of convolutions and linear layers to GEMMs in caller-owned buffers of the path's
// element type (float32 for float training, float64 for gradient checks, int32 for
// integer training; see elem), and the float64 GEMM of the layers that still use it.
//
// Layout. Activations and errors are stored channels-last (NHWC: example, row,
// column, channel) — the M x N output of models.Layer.GEMMDims, positions by output
// channels — so that the integer epilogue (bias, requantisation) works on rows of
// output channels. Weights are kept in the canonical (PyTorch) layout
// [Cout][Cin][kh][kw]; a linear layer's input index is its C,H,W index. Every element
// index in this package refers to that layout (stochastic rounding draws its random
// bits by it).
//
// Lowering. Every linear and dense convolution layer is one GEMM per pass with NHWC
// operands and results, so that no tensor is transposed. A convolution reads its input
// as the matrix of its patches (package gemm's Patches: one row per output position,
// one column per kernel tap and input channel, in the order kernel row, kernel column,
// channel), packed for the GEMM straight from the input, so the unfolded matrix is
// never stored (fused im2col); only the input itself is saved for the weight gradient:
//
//	forward         Y[positions x Cout]  = P[positions x K] * W^T[K x Cout]
//	weight gradient G[Cout x K]          = dY^T * P
//	backward-data   dP[positions x K]    = dY * W, then summed onto the input (col2im)
//
// except that a stride-1 convolution with at least 16 input channels (flip) computes
// its backward-data pass as a convolution too: dX[inputs x Cin] = P(dY) * W', the
// patches of the output's error (padded by kh-1-padT above, kw-1-padL on the left)
// times the kernel flipped in both directions, held after W^T in the layer's GEMM
// weights.
//
// W^T is held with K in the patch order (g.perm maps it to the canonical one), and
// the weight gradient is scattered back to the canonical layout. A linear layer is the
// same with one patch per example, its input in NHWC order.

package train

import (
	"fmt"
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/rctsim/rctsim/models"
	kgemm "github.com/rctsim/rctsim/train/gemm"
	"github.com/rctsim/rctsim/train/numerics"
	"github.com/rctsim/rctsim/train/par"
	"github.com/rctsim/rctsim/train/vec"
)

// convGeom is a linear or convolution layer's geometry; a linear layer is a
// convolution whose kernel covers its whole input.
type convGeom struct {
	cin, h, w    int // input
	cout, ho, wo int // output
	kh, kw       int
	stride       int
	padT, padL   int // zero padding above and to the left (below and right follow)
	k            int // reduction length cin*kh*kw
	linear       bool
	// direct is true for a convolution whose unfolding is the identity (1x1 kernel,
	// stride 1, no padding): its columns are the input's channel planes.
	direct bool
	// flip is true for a dense convolution of stride 1 (not direct) with at least 16
	// input channels: its backward-data
	// pass is itself a convolution, of the output's error with the flipped kernel, run
	// on the error's patches (see gemmBackward).
	flip bool
	// perm maps the GEMM reduction index of a linear layer (its input's NHWC order) or
	// of a dense convolution (the patch order: kernel row, kernel column, channel) to
	// the canonical one (C,H,W or Cin,kh,kw order).
	perm []int32
	// groups splits a convolution into independent groups of cinG input and coutG
	// output channels (1: dense); k is then one group's reduction, cinG*kh*kw. A grouped
	// convolution runs as direct loops over its input (grouped.go), not through im2col.
	groups, cinG, coutG int
}

func newConvGeom(l *models.Layer) (*convGeom, error) {
	g := &convGeom{cin: l.In.C, h: l.In.H, w: l.In.W, cout: l.Out.C, ho: l.Out.H, wo: l.Out.W, stride: 1, groups: 1}
	switch l.Kind {
	case models.Linear:
		if l.Out.H != 1 || l.Out.W != 1 {
			return nil, fmt.Errorf("linear layer %s has output %v, want a vector", l.Name, l.Out)
		}
		g.kh, g.kw, g.linear = g.h, g.w, true
		g.perm = make([]int32, g.cin*g.h*g.w)
		for h := range g.h {
			for w := range g.w {
				for c := range g.cin {
					g.perm[(h*g.w+w)*g.cin+c] = int32((c*g.h+h)*g.w + w)
				}
			}
		}
	case models.Conv2D:
		g.kh, g.kw = l.KernelH, l.KernelW
		g.stride = max(l.Stride, 1)
		padB, padR := l.Padding, l.Padding
		if l.Causal {
			if g.h != 1 || g.kh != 1 {
				return nil, fmt.Errorf("causal convolution %s needs a sequence {C,1,T} and a 1xK kernel, has input %v and kernel %dx%d", l.Name, l.In, g.kh, g.kw)
			}
			g.padL, padB, padR = g.kw-1, 0, 0
		} else {
			g.padT, g.padL = l.Padding, l.Padding
		}
		wantH := (g.h+g.padT+padB-g.kh)/g.stride + 1
		wantW := (g.w+g.padL+padR-g.kw)/g.stride + 1
		if g.kh < 1 || g.kw < 1 || wantH != g.ho || wantW != g.wo {
			return nil, fmt.Errorf("convolution %s: input %v, kernel %dx%d, stride %d, padding %d give %dx%d, but the model says %v",
				l.Name, l.In, g.kh, g.kw, g.stride, l.Padding, wantH, wantW, l.Out)
		}
		g.groups = l.NumGroups()
		if g.cin%g.groups != 0 || g.cout%g.groups != 0 {
			return nil, fmt.Errorf("convolution %s: %d groups do not divide %d input and %d output channels", l.Name, g.groups, g.cin, g.cout)
		}
		g.direct = g.groups == 1 && g.kh == 1 && g.kw == 1 && g.stride == 1 && g.padT == 0 && g.padL == 0
		// (Only with 16 or more input channels: the GEMM's columns are the input
		// channels, and narrower ones leave the kernels' 16 lanes idle.)
		g.flip = g.groups == 1 && !g.direct && g.stride == 1 && g.cin >= 16
		if g.groups == 1 {
			g.perm = make([]int32, g.cin*g.kh*g.kw)
			for t := range g.kh * g.kw {
				for c := range g.cin {
					g.perm[t*g.cin+c] = int32(c*g.kh*g.kw + t)
				}
			}
		}
	default:
		return nil, fmt.Errorf("layer %s (%s) is not a GEMM layer", l.Name, l.Kind)
	}
	g.cinG, g.coutG = g.cin/g.groups, g.cout/g.groups
	g.k = g.cinG * g.kh * g.kw
	return g, nil
}

// grouped reports whether the convolution has several groups.
func (g *convGeom) grouped() bool { return g.groups > 1 }

// positions is the number of output positions per example (GEMM rows per example).
func (g *convGeom) positions() int { return g.ho * g.wo }

// inElems is the number of input values per example.
func (g *convGeom) inElems() int { return g.cin * g.h * g.w }

// colsLen is the length of the GEMM operand saved for the weight gradient of n
// examples: the input itself, in the path's element type.
func (g *convGeom) colsLen(n int) int { return n * g.inElems() }

// weightsLen is the length of the layer's weights in GEMM layout: the weights, and for
// a flip convolution the flipped kernel after them.
func (g *convGeom) weightsLen() int {
	if g.flip {
		return 2 * g.cout * g.k
	}
	return g.cout * g.k
}

// unfoldedPerExample is the size of one example's patch matrix (positions x K), the
// largest scratch a convolution's backward-data pass needs.
func (g *convGeom) unfoldedPerExample() int { return g.positions() * g.k }

// patches returns the patch matrix of n examples of the NHWC input x.
func patches[C colElem](g *convGeom, x []C, n int) kgemm.Mat[C] {
	return kgemm.Mat[C]{Patches: &kgemm.Patches[C]{X: x, N: n, H: g.h, W: g.w, C: g.cin, KH: g.kh, KW: g.kw,
		Stride: g.stride, PadT: g.padT, PadL: g.padL, HO: g.ho, WO: g.wo}}
}

// elem is the element type of a path's GEMM operands and results: float32 for float
// training, float64 for the float path's gradient checks, int32 for integer training
// (whose operands are int8 activations and errors and b-bit weights, and whose
// results are exact int32 accumulators).
type elem interface{ int32 | float32 | float64 }

// colElem is the element type of the GEMM input a layer saves for its weight
// gradient: the path's element type, or int16 on the integer path (int8 values; half
// the memory of int32, and packed for the integer kernels without conversion).
type colElem interface{ elem | int16 }

// opMax bounds the magnitude of the GEMM operands that are not weights on the
// integer path: int8 activations and errors (numerics: -128 is never used).
const opMax = 127

// gemmScratch is scratch shared by a net's GEMM layers, overwritten by every call, and
// the path's GEMM.
type gemmScratch[E elem] struct {
	a, b, c []E
	split   []float64 // partial products of split float64 reductions
	// f64 holds float64 copies for grouped convolutions (grouped.go) of the float32
	// and integer paths, grown on demand.
	f64 [5][]float64
	// wide holds the integer path's exact int64 columns and planes when a
	// backward-data reduction may leave int32 (grown on demand).
	wide [2][]int64
}

// newGEMMScratch sizes scratch for n examples of plan p.
func newGEMMScratch[E elem](p *plan, n int) gemmScratch[E] {
	size := max(n*max(p.maxCols, p.maxAct), p.maxW)
	s := gemmScratch[E]{a: make([]E, size), b: make([]E, size), c: make([]E, size)}
	if _, ok := any(s.a).([]float64); ok {
		s.split = make([]float64, (splitK-1)*p.maxW)
	}
	return s
}

// f64Buf returns float64 scratch j of at least n values.
func (s *gemmScratch[E]) f64Buf(j, n int) []float64 {
	if len(s.f64[j]) < n {
		s.f64[j] = make([]float64, n)
	}
	return s.f64[j][:n]
}

// mul computes C = op(A) op(B) with the path's GEMM: float32 with package gemm's
// FMA-chain kernels, float64 through gonum (gemm below), int32 exactly with package
// gemm's integer kernels, maxA and maxB bounding |A| and |B| (ignored by the float
// paths).
func mul[E elem, A, B colElem](s *gemmScratch[E], transA, transB bool, m, n, k int, a []A, lda int, maxA int64, b []B, ldb int, maxB int64, c []E, ldc int) {
	mulM(s, m, n, k, kgemm.Dense(a, lda, transA), maxA, kgemm.Dense(b, ldb, transB), maxB, c, ldc)
}

// mulM is mul for any operands (dense matrices or patches). The float paths' operands
// are of their element type; the integer path's are int32 or int16. The float64 path
// unfolds patches into scratch for gonum.
func mulM[E elem, A, B colElem](s *gemmScratch[E], m, n, k int, a kgemm.Mat[A], maxA int64, b kgemm.Mat[B], maxB int64, c []E, ldc int) {
	switch c := any(c).(type) {
	case []float32:
		kgemm.F32M(m, n, k, any(a).(kgemm.Mat[float32]), any(b).(kgemm.Mat[float32]), c, ldc)
	case []int32:
		switch a := any(a).(type) {
		case kgemm.Mat[int32]:
			mulI32(m, n, k, a, maxA, b, maxB, c, ldc)
		case kgemm.Mat[int16]:
			mulI32(m, n, k, a, maxA, b, maxB, c, ldc)
		}
	case []float64:
		dense := func(x kgemm.Mat[float64], j int) kgemm.Mat[float64] {
			if p := x.Patches; p != nil {
				u := s.f64Buf(j, p.Rows()*p.Cols())
				kgemm.Unfold(p, u)
				return kgemm.Dense(u, p.Cols(), false)
			}
			return x
		}
		a, b := dense(any(a).(kgemm.Mat[float64]), 0), dense(any(b).(kgemm.Mat[float64]), 1)
		gemm(a.Trans, b.Trans, m, n, k, a.Data, a.Ld, b.Data, b.Ld, c, ldc, s.split)
	}
}

// mulI32 is mulM's integer case for an A of type T.
func mulI32[T kgemm.Int, B colElem](m, n, k int, a kgemm.Mat[T], maxA int64, b kgemm.Mat[B], maxB int64, c []int32, ldc int) {
	switch b := any(b).(type) {
	case kgemm.Mat[int32]:
		kgemm.I32M(m, n, k, a, maxA, b, maxB, c, ldc)
	case kgemm.Mat[int16]:
		kgemm.I32M(m, n, k, a, maxA, b, maxB, c, ldc)
	}
}

// setGEMMWeights copies canonical weights into the form the layer's kernels read: for a
// linear layer W^T with K in NHWC order, for a grouped convolution the transposed
// taps (groupedWeights), for a position embedding its table in one example's NHWC
// order, for everything else (dense convolutions, embeddings, normalisations,
// attention) the canonical matrices themselves.
func setGEMMWeights[T int32 | float32 | float64, D elem](nl *netLayer, w []T, dst []D) {
	g := nl.conv
	if nl.l.Kind == models.PosEmbedding {
		posTable(w, nl.l.In.C, nl.l.In.H*nl.l.In.W, dst)
		return
	}
	if g != nil && g.grouped() {
		groupedWeights(g, w, dst)
		return
	}
	if g == nil {
		convertAll(dst, w)
		return
	}
	parallel(len(g.perm), 64, func(lo, hi int) {
		for kp := lo; kp < hi; kp++ {
			row, kc := dst[kp*g.cout:(kp+1)*g.cout], int(g.perm[kp])
			for o := range row {
				row[o] = D(w[o*g.k+kc])
			}
		}
	})
	if g.flip {
		// The flipped kernel, [tap (ti, tj)][cout][cin]: tap (ti, tj) of the error's
		// patch meets kernel tap (kh-1-ti, kw-1-tj).
		taps := g.kh * g.kw
		back := dst[g.cout*g.k : 2*g.cout*g.k]
		parallel(taps, 1, func(t0, t1 int) {
			for t := t0; t < t1; t++ {
				kt := taps - 1 - t
				for o := range g.cout {
					row := back[(t*g.cout+o)*g.cin : (t*g.cout+o+1)*g.cin]
					for c := range row {
						row[c] = D(w[o*g.k+c*taps+kt])
					}
				}
			}
		})
	}
}

// gemmForward computes a weight layer's output before its bias, y (n*positions x
// cout, NHWC), from the input x of n examples and the weights w in GEMM layout
// (magnitudes at most wmax on the integer path), leaving in cols the GEMM operand
// that gemmBackward needs (the input, converted).
func gemmForward[T int8 | float32 | float64, E elem, C colElem](g *convGeom, x []T, n int, w []E, wmax int64, cols []C, s *gemmScratch[E], y []E) {
	rows := n * g.positions()
	y = y[:rows*g.cout]
	cols = cols[:g.colsLen(n)]
	convertAll(cols, x[:len(cols)])
	switch {
	case g.grouped():
		groupedForwardE(g, cols, n, w, s, y)
	case g.linear || g.direct:
		mul(s, false, false, rows, g.cout, g.k, cols, g.k, opMax, w, g.cout, wmax, y, g.cout)
	default:
		mulM(s, rows, g.cout, g.k, patches(g, cols, n), opMax, kgemm.Dense(w, g.cout, false), wmax, y, g.cout)
	}
}

// gemmBackward computes, from the output error dy (n*positions x cout, NHWC), the
// weight gradient gw (canonical layout) and, when dx is not nil, the input's error dx
// (NHWC). w, wmax and cols are what the forward pass used; dc is scratch for dy in
// the saved inputs' type (int16 on the integer path: int8 values packed without
// conversion), at least as long as dy. On the integer path every result is exact and
// saturated to int32 as numerics.GEMMInt defines (an input's error is the sum over
// every output and tap it meets, saturated once).
func gemmBackward[T int8 | float32 | float64, E elem, C colElem](g *convGeom, dy []T, n int, w []E, wmax int64, cols []C, s *gemmScratch[E], gw, dx []E, dc []C) {
	rows := n * g.positions()
	if g.grouped() {
		d := s.a[:rows*g.cout]
		convertAll(d, dy[:len(d)])
		groupedBackwardE(g, d, n, w, cols, s, gw, dx)
		return
	}
	d := dc[:rows*g.cout]
	if same, ok := any(dy).([]C); ok {
		d = same[:len(d)] // only read below: no copy needed
	} else {
		convertAll(d, dy[:len(d)])
	}
	// The weight gradient in GEMM order, G[cout x K] = dY^T P, then in canonical order.
	gk := s.b[:g.cout*g.k]
	if g.linear || g.direct {
		mul(s, true, false, g.cout, g.k, rows, d, g.cout, opMax, cols, g.k, opMax, gk, g.k)
	} else {
		mulM(s, g.cout, g.k, rows, kgemm.Dense(d, g.cout, true), opMax, patches(g, cols[:g.colsLen(n)], n), opMax, gk, g.k)
	}
	parallel(g.cout, 1, func(o0, o1 int) {
		for o := o0; o < o1; o++ {
			src, dst := gk[o*g.k:(o+1)*g.k], gw[o*g.k:(o+1)*g.k]
			for kp, v := range src {
				dst[g.perm[kp]] = v
			}
		}
	})
	if dx == nil {
		return
	}
	if g.flip {
		// dX = P(dY) W', the patches of the error padded by kh-1-padT above and
		// kw-1-padL on the left, with the flipped kernel W': one GEMM whose reduction
		// covers every (tap, output channel) an input position meets, so the integer
		// path saturates each error once, as numerics.GEMMInt does.
		pd := kgemm.Mat[C]{Patches: &kgemm.Patches[C]{X: d, N: n, H: g.ho, W: g.wo, C: g.cout, KH: g.kh, KW: g.kw,
			Stride: 1, PadT: g.kh - 1 - g.padT, PadL: g.kw - 1 - g.padL, HO: g.h, WO: g.w}}
		mulM(s, n*g.h*g.w, g.cin, g.kh*g.kw*g.cout, pd, opMax, kgemm.Dense(w[g.cout*g.k:2*g.cout*g.k], g.cin, false), wmax, dx[:n*g.inElems()], g.cin)
		return
	}
	if g.linear || g.direct {
		mul(s, false, true, rows, g.k, g.cout, d, g.cout, opMax, w, g.cout, wmax, dx[:n*g.inElems()], g.k)
		return
	}
	if w32, ok := any(w).([]int32); ok && int64(g.cout*g.kh*g.kw)*opMax*wmax >= 1<<31 {
		// A sum over taps could leave int32: exact int64 patches and sums.
		d32 := any(s.a[:rows*g.cout]).([]int32)
		convertAll(d32, dy[:len(d32)])
		wide64(g, w32, d32, n, s.wideBuf(0, rows*g.k), s.wideBuf(1, n*g.inElems()), any(dx).([]int32))
		return
	}
	dp := s.c[:rows*g.k]
	mul(s, false, true, rows, g.k, g.cout, d, g.cout, opMax, w, g.cout, wmax, dp, g.k)
	col2im(g, dp, n, dx[:n*g.inElems()])
}

// wideBuf returns int64 scratch j of at least n values.
func (s *gemmScratch[E]) wideBuf(j, n int) []int64 {
	if len(s.wide[j]) < n {
		s.wide[j] = make([]int64, n)
	}
	return s.wide[j][:n]
}

// wide64 is the integer backward-data pass of a convolution whose sums may leave
// int32: exact int64 patch errors (kgemm.I64), their int64 sum onto the input, and
// one saturation to int32.
func wide64(g *convGeom, w, d []int32, n int, dp, dx64 []int64, dx []int32) {
	rows := n * g.positions()
	kgemm.I64(false, true, rows, g.k, g.cout, d, g.cout, w, g.cout, dp, g.k)
	col2im(g, dp, n, dx64)
	parallel(len(dx64), 1<<14, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			dx[j] = int32(numerics.Saturate(dx64[j], 32))
		}
	})
}

// col2im is the patch matrix's adjoint: it sums the errors of n examples' patches
// dp (positions x K, patch order) onto their NHWC input positions in dx
// (overwritten), for each input position in output-row, output-column, kernel-row,
// kernel-column order. The taps of one kernel row that fall inside the input read
// and write contiguous runs (kernel column, channel), each input value at most once
// per run, so each is one loop and the order of the sums is the same (a vector add
// for int32 and float32: each sum is still one addition of two values).
func col2im[E elem | int64](g *convGeom, dp []E, n int, dx []E) {
	add := func(dst, src []E) {
		for c, v := range src {
			dst[c] += v
		}
	}
	switch any(dx).(type) {
	case []int32:
		add = any(vec.AddInt32).(func(dst, src []E))
	case []float32:
		add = any(vec.AddFloat32).(func(dst, src []E))
	}
	parallel(n, 1, func(b0, b1 int) {
		for b := b0; b < b1; b++ {
			img := dx[b*g.inElems() : (b+1)*g.inElems()]
			clear(img)
			for oh := range g.ho {
				for ow := range g.wo {
					row := dp[((b*g.ho+oh)*g.wo+ow)*g.k:][:g.k]
					iw0 := ow*g.stride - g.padL
					j0, j1 := max(0, -iw0), min(g.kw, g.w-iw0) // the kernel columns inside
					if j0 >= j1 {
						continue
					}
					for ki := range g.kh {
						ih := oh*g.stride + ki - g.padT
						if ih < 0 || ih >= g.h {
							continue
						}
						src := row[(ki*g.kw+j0)*g.cin : (ki*g.kw+j1)*g.cin]
						add(img[(ih*g.w+iw0+j0)*g.cin:][:len(src)], src)
					}
				}
			}
		}
	})
}

// parallel calls f on contiguous parts of [0, n), concurrently when n is at least
// minPerPart per part. Callers only use it for work whose parts write disjoint
// outputs, so results never depend on how the range is cut.
func parallel(n, minPerPart int, f func(lo, hi int)) {
	parts := min(runtime.GOMAXPROCS(0), n/max(minPerPart, 1))
	if parts <= 1 {
		f(0, n)
		return
	}
	par.Do(parts, func(p int) { f(p*n/parts, (p+1)*n/parts) })
}

// convertAll is convert split across cores; it does nothing when dst is src.
func convertAll[D, S int8 | int16 | int32 | int64 | float32 | float64](dst []D, src []S) {
	if same, ok := any(dst).([]S); ok && len(src) > 0 && &same[0] == &src[0] {
		return
	}
	parallel(len(src), 1<<14, func(lo, hi int) { convert(dst[lo:hi], src[lo:hi]) })
}

// convert copies src into dst, converting each element; between slices of the same
// type it is copy (memmove is several times faster than the loop on long slices).
func convert[D, S int8 | int16 | int32 | int64 | float32 | float64](dst []D, src []S) {
	if same, ok := any(dst).([]S); ok {
		copy(same[:len(src)], src)
		return
	}
	// The integer GEMMs' operands: int8 tensors widened, many values at a time.
	if s8, ok := any(src).([]int8); ok {
		switch d := any(dst).(type) {
		case []int16:
			vec.Widen(d, s8)
			return
		case []int32:
			vec.Widen(d, s8)
			return
		}
	}
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = D(v)
	}
}

// gemm computes C = op(A) * op(B) for row-major float64 matrices, op(X) being X or its
// transpose: C is m x n, the reduction k. It uses gonum's Dgemm, which may run on
// several goroutines but always sums each element's products in the same order for the
// same sizes, so results do not depend on GOMAXPROCS. When the operands hold integers
// and no partial sum reaches 2^53 in magnitude, the result is exact.
//
// Dgemm parallelises over 64x64 blocks of C only, so a small C with a long reduction
// (a convolution's weight gradient) would run on one core: such products are split
// here into splitK fixed slices of the reduction, computed concurrently into scratch
// (which needs (splitK-1)*m*n values) and summed in slice order — a fixed order, so
// this too is independent of GOMAXPROCS.
func gemm(transA, transB bool, m, n, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, scratch []float64) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := range m {
			clear(c[i*ldc : i*ldc+n])
		}
		return
	}
	if k < splitKMin || blocks64(m)*blocks64(n) >= 4 || ldc != n || len(scratch) < (splitK-1)*m*n {
		dgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
		return
	}
	par.Do(splitK, func(p int) {
		lo, hi := p*k/splitK, (p+1)*k/splitK
		// Slice p of the reduction: rows lo..hi of op(A)'s columns and op(B)'s rows.
		ap, bp := a[lo:], b[lo:]
		if transA {
			ap = a[lo*lda:]
		}
		if !transB {
			bp = b[lo*ldb:]
		}
		cp := c
		if p > 0 {
			cp = scratch[(p-1)*m*n : p*m*n]
		}
		dgemm(transA, transB, m, n, hi-lo, ap, lda, bp, ldb, cp, n)
	})
	for p := 1; p < splitK; p++ {
		for j, v := range scratch[(p-1)*m*n : p*m*n] {
			c[j] += v
		}
	}
}

// splitK and splitKMin: how many slices a long reduction is split into, and the
// shortest reduction worth splitting.
const (
	splitK    = 4
	splitKMin = 1024
)

func blocks64(x int) int { return (x + 63) / 64 }

func dgemm(transA, transB bool, m, n, k int, a []float64, lda int, b []float64, ldb int, c []float64, ldc int) {
	tA, tB := blas.NoTrans, blas.NoTrans
	if transA {
		tA = blas.Trans
	}
	if transB {
		tB = blas.Trans
	}
	blas64.Implementation().Dgemm(tA, tB, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
}
