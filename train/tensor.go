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
// Lowering. A convolution runs as Y^T[Cout x positions] = W[Cout x K] * cols[K x
// positions], with the input first transposed into channel planes and unfolded
// (im2col) in canonical K order (channel, kernel row, kernel column): every GEMM then
// has the long positions dimension as its contiguous inner loop, and weights and
// weight gradients need no reordering. A linear
// layer runs as Y[batch x Cout] = X[batch x K] * W^T, with W^T held with K in the
// input's NHWC order.

package train

import (
	"fmt"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/rctsim/rctsim/models"
	kgemm "github.com/rctsim/rctsim/train/gemm"
	"github.com/rctsim/rctsim/train/numerics"
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
	// perm maps a linear layer's GEMM reduction index (its input's NHWC order) to the
	// canonical one (C,H,W order).
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

// colsLen is the length of the saved GEMM operand for n examples: the unfolded
// columns, or for a grouped convolution the input itself.
func (g *convGeom) colsLen(n int) int {
	if g.grouped() {
		return n * g.inElems()
	}
	return n * g.positions() * g.k
}

// colsPerExample is colsLen(1).
func (g *convGeom) colsPerExample() int { return g.colsLen(1) }

// elem is the element type of a path's GEMM operands and results: float32 for float
// training, float64 for the float path's gradient checks, int32 for integer training
// (whose operands are int8 activations and errors and b-bit weights, and whose
// results are exact int32 accumulators).
type elem interface{ int32 | float32 | float64 }

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
func (s *gemmScratch[E]) mul(transA, transB bool, m, n, k int, a []E, lda int, maxA int64, b []E, ldb int, maxB int64, c []E, ldc int) {
	switch a := any(a).(type) {
	case []float32:
		kgemm.F32(transA, transB, m, n, k, a, lda, any(b).([]float32), ldb, any(c).([]float32), ldc)
	case []float64:
		gemm(transA, transB, m, n, k, a, lda, any(b).([]float64), ldb, any(c).([]float64), ldc, s.split)
	case []int32:
		kgemm.I32(transA, transB, m, n, k, a, lda, maxA, any(b).([]int32), ldb, maxB, any(c).([]int32), ldc)
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
	if g == nil || !g.linear {
		parallel(len(w), 1<<14, func(lo, hi int) { convert(dst[lo:hi], w[lo:hi]) })
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
}

// gemmForward computes a weight layer's output before its bias, y (n*positions x
// cout, NHWC), from the input x of n examples and the weights w in GEMM layout
// (magnitudes at most wmax on the integer path), leaving in cols the GEMM operand
// that gemmBackward needs.
func gemmForward[T int8 | float32 | float64, E elem](g *convGeom, x []T, n int, w []E, wmax int64, cols []E, s *gemmScratch[E], y []E) {
	rows := n * g.positions()
	y = y[:rows*g.cout]
	if g.grouped() {
		cols = cols[:n*g.inElems()]
		convert(cols, x[:len(cols)])
		groupedForwardE(g, cols, n, w, s, y)
		return
	}
	if g.linear {
		convert(cols[:n*g.k], x[:n*g.k])
		s.mul(false, false, n, g.cout, g.k, cols, g.k, opMax, w, g.cout, wmax, y, g.cout)
		return
	}
	cols = cols[:g.colsLen(n)]
	if g.direct {
		transpose(x, n*g.h*g.w, g.cin, cols)
	} else {
		planes := s.a[:n*g.inElems()]
		transpose(x, n*g.h*g.w, g.cin, planes)
		im2col(g, planes, n, cols)
	}
	yT := s.b[:rows*g.cout]
	s.mul(false, false, g.cout, rows, g.k, w, g.k, wmax, cols, rows, opMax, yT, rows)
	transpose(yT, g.cout, rows, y)
}

// gemmBackward computes, from the output error dy (n*positions x cout, NHWC), the
// weight gradient gw (canonical layout) and, when dx is not nil, the input's error dx
// (NHWC). w, wmax and cols are what the forward pass used. On the integer path every
// result is exact and saturated to int32 as numerics.GEMMInt defines (an input's
// error is the sum over every output and tap it meets, saturated once).
func gemmBackward[T int8 | float32 | float64, E elem](g *convGeom, dy []T, n int, w []E, wmax int64, cols []E, s *gemmScratch[E], gw, dx []E) {
	rows := n * g.positions()
	if g.grouped() {
		d := s.a[:rows*g.cout]
		convert(d, dy[:len(d)])
		groupedBackwardE(g, d, n, w, cols, s, gw, dx)
		return
	}
	if g.linear {
		d := s.a[:rows*g.cout]
		convert(d, dy[:len(d)])
		if dx != nil {
			s.mul(false, true, n, g.k, g.cout, d, g.cout, opMax, w, g.cout, wmax, dx[:n*g.k], g.k)
		}
		gt := s.b[:g.k*g.cout]
		s.mul(true, false, g.k, g.cout, n, cols, g.k, opMax, d, g.cout, opMax, gt, g.cout)
		parallel(len(g.perm), 64, func(lo, hi int) {
			for kp := lo; kp < hi; kp++ {
				kc := int(g.perm[kp])
				for o, v := range gt[kp*g.cout : (kp+1)*g.cout] {
					gw[o*g.k+kc] = v
				}
			}
		})
		return
	}
	dT := s.a[:g.cout*rows]
	transpose(dy[:rows*g.cout], rows, g.cout, dT)
	s.mul(false, true, g.cout, g.k, rows, dT, rows, opMax, cols, rows, opMax, gw[:g.cout*g.k], g.k)
	if dx == nil {
		return
	}
	if dT32, ok := any(dT).([]int32); ok && !g.direct && int64(g.cout*g.kh*g.kw)*opMax*wmax >= 1<<31 {
		// A sum over taps could leave int32: exact int64 columns and planes.
		wide64(g, any(w).([]int32), dT32, n, s.wideBuf(0, g.colsLen(n)), s.wideBuf(1, n*g.inElems()), any(dx).([]int32))
		return
	}
	dcols := s.b[:g.colsLen(n)]
	s.mul(true, false, g.k, rows, g.cout, w, g.k, wmax, dT, rows, opMax, dcols, rows)
	if g.direct {
		transpose(dcols, g.cin, rows, dx[:n*g.inElems()])
		return
	}
	dplanes := s.c[:n*g.inElems()]
	col2im(g, dcols, n, dplanes)
	transpose(dplanes, g.cin, n*g.h*g.w, dx[:n*g.inElems()])
}

// wideBuf returns int64 scratch j of at least n values.
func (s *gemmScratch[E]) wideBuf(j, n int) []int64 {
	if len(s.wide[j]) < n {
		s.wide[j] = make([]int64, n)
	}
	return s.wide[j][:n]
}

// wide64 is the integer backward-data pass of a convolution whose sums may leave
// int32: exact int64 columns (kgemm.I64), their int64 sum onto the input's planes,
// and one saturation to int32.
func wide64(g *convGeom, w, dT []int32, n int, dcols, dplanes []int64, dx []int32) {
	rows := n * g.positions()
	kgemm.I64(true, false, g.k, rows, g.cout, w, g.k, dT, rows, dcols, rows)
	col2im(g, dcols, n, dplanes)
	planes := n * g.h * g.w
	parallel(planes, 64, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			for c := range g.cin {
				dx[p*g.cin+c] = int32(numerics.Saturate(dplanes[c*planes+p], 32))
			}
		}
	})
}

// im2col unfolds n examples' channel planes (cin x n*h*w) into cols (k x
// n*positions): row (c, ki, kj) holds, for every output position (b, oh, ow), the input
// value that kernel tap meets, 0 in the padding.
func im2col[E elem](g *convGeom, planes []E, n int, cols []E) {
	rows := n * g.positions()
	parallel(g.k, 1, func(k0, k1 int) {
		for kc := k0; kc < k1; kc++ {
			c, ki, kj := kc/(g.kh*g.kw), kc/g.kw%g.kh, kc%g.kw
			plane := planes[c*n*g.h*g.w:]
			dst := cols[kc*rows:][:rows]
			lo, hi := g.owRange(kj)
			for b := range n {
				img := plane[b*g.h*g.w:]
				for oh := range g.ho {
					d := dst[(b*g.ho+oh)*g.wo:][:g.wo]
					ih := oh*g.stride + ki - g.padT
					if ih < 0 || ih >= g.h || lo >= hi {
						clear(d)
						continue
					}
					clear(d[:lo])
					clear(d[hi:])
					src := img[ih*g.w+lo*g.stride+kj-g.padL:]
					if g.stride == 1 {
						copy(d[lo:hi], src)
					} else {
						for ow := lo; ow < hi; ow++ {
							d[ow] = src[(ow-lo)*g.stride]
						}
					}
				}
			}
		}
	})
}

// col2im is im2col's adjoint: it sums the column gradients dcols of n examples back
// onto their input positions, as channel planes in dplanes (overwritten).
func col2im[E elem | int64](g *convGeom, dcols []E, n int, dplanes []E) {
	rows := n * g.positions()
	// Each channel's plane is written by its own taps only: channels run in parallel.
	parallel(g.cin, 1, func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			plane := dplanes[c*n*g.h*g.w : (c+1)*n*g.h*g.w]
			clear(plane)
			for ki := range g.kh {
				for kj := range g.kw {
					src := dcols[((c*g.kh+ki)*g.kw+kj)*rows:][:rows]
					lo, hi := g.owRange(kj)
					if lo >= hi {
						continue
					}
					for b := range n {
						img := plane[b*g.h*g.w:]
						for oh := range g.ho {
							ih := oh*g.stride + ki - g.padT
							if ih < 0 || ih >= g.h {
								continue
							}
							s := src[(b*g.ho+oh)*g.wo:][lo:hi]
							d := img[ih*g.w+lo*g.stride+kj-g.padL:]
							for j, v := range s {
								d[j*g.stride] += v
							}
						}
					}
				}
			}
		}
	})
}

// owRange is the range [lo, hi) of output columns whose kernel column kj falls inside
// the input (not in the padding).
func (g *convGeom) owRange(kj int) (lo, hi int) {
	// iw = ow*stride + kj - padL must satisfy 0 <= iw < w.
	if d := g.padL - kj; d > 0 {
		lo = (d + g.stride - 1) / g.stride
	}
	if last := g.w - 1 - kj + g.padL; last >= 0 {
		hi = min(g.wo, last/g.stride+1)
	}
	return lo, max(lo, hi)
}

// transpose writes the transpose of src (rows x cols, row-major) into dst (cols x
// rows), converting each element.
func transpose[S int8 | int32 | float32 | float64, D elem](src []S, rows, cols int, dst []D) {
	const blk = 32
	src, dst = src[:rows*cols], dst[:rows*cols]
	parallel((rows+blk-1)/blk, 4, func(b0, b1 int) {
		for r0 := b0 * blk; r0 < min(b1*blk, rows); r0 += blk {
			r1 := min(r0+blk, rows)
			for c0 := 0; c0 < cols; c0 += blk {
				c1 := min(c0+blk, cols)
				for r := r0; r < r1; r++ {
					row := src[r*cols : r*cols+c1]
					for c := c0; c < c1; c++ {
						dst[c*rows+r] = D(row[c])
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
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*n/parts, (p+1)*n/parts
		wg.Go(func() { f(lo, hi) })
	}
	wg.Wait()
}

// convert copies src into dst, converting each element.
func convert[D, S int8 | int32 | int64 | float32 | float64](dst []D, src []S) {
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
	var wg sync.WaitGroup
	for p := range splitK {
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
		wg.Go(func() { dgemm(transA, transB, m, n, hi-lo, ap, lda, bp, ldb, cp, n) })
	}
	wg.Wait()
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
