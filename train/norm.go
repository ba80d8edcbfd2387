// Batch and layer normalisation on the float path (the integer path is in
// norm_int.go).
//
// Batch normalisation (training mode) normalises each channel with the mean and the
// biased variance of its values over the batch's examples and positions, then applies
// the layer's per-channel scale gamma (its weights) and shift beta (its bias). It
// keeps running statistics for evaluation: the first training batch sets them, every
// later one moves them 1/8 of the way to its own (momentum 2^-3 rather than PyTorch's
// 0.1, so that the integer path can do the same with a shift; the variance is the
// biased one, which with tens of thousands of values per channel is PyTorch's to
// within 0.01%). Evaluation normalises with them, or with the batch's own statistics
// before any training step. Layer normalisation normalises each position over its
// channels, in training and evaluation alike, with per-channel gamma and beta. Both use
// ε = numerics.NormEps.

package train

import (
	"iter"
	"math"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
	"github.com/rctsim/rctsim/train/vec"
)

// normGeom is a normalisation layer over NHWC tensors of c channels at pos positions
// per example: batch normalisation's groups are channels, layer normalisation's are
// positions.
type normGeom struct {
	batch  bool
	c, pos int
}

func newNormGeom(l *models.Layer) *normGeom {
	return &normGeom{batch: l.Kind == models.BatchNorm, c: l.In.C, pos: l.In.H * l.In.W}
}

// groups is the number of statistics groups for n examples.
func (g *normGeom) groups(n int) int {
	if g.batch {
		return g.c
	}
	return n * g.pos
}

// normFloat is a float normalisation layer's state: the statistics of the last
// forward pass (per group, for the backward pass) and batch normalisation's running
// statistics.
type normFloat struct {
	mean, rstd       []float64
	runMean, runVar  []float64
	runSet           bool
	sumDy, sumDyXhat []float64 // backward scratch, per channel
	// Layer normalisation's backward scratch, per row: the sums over channels of
	// gamma*dy and of gamma*dy times the normalised input.
	rowSg, rowSgx []float64
	// Backward scratch, per channel: gamma*rstd and sum(dy)/rows.
	gammaRstd, sumDyInv []float64
}

func newNormFloat(g *normGeom) *normFloat {
	s := &normFloat{sumDy: make([]float64, g.c), sumDyXhat: make([]float64, g.c)}
	if g.batch {
		s.gammaRstd, s.sumDyInv = make([]float64, g.c), make([]float64, g.c)
		s.runMean, s.runVar = make([]float64, g.c), make([]float64, g.c)
		s.mean, s.rstd = make([]float64, g.c), make([]float64, g.c)
	}
	return s
}

// ensure sizes the per-group buffers for n examples.
func (s *normFloat) ensure(g *normGeom, n int) {
	if k := g.groups(n); !g.batch && len(s.mean) < k {
		s.mean, s.rstd = make([]float64, k), make([]float64, k)
		s.rowSg, s.rowSgx = make([]float64, k), make([]float64, k)
	}
}

// runningMomentum is the weight of a batch's statistics in the running ones.
const runningMomentum = 1.0 / (1 << numerics.RunningMomentumShift)

// normForwardFloat normalises n examples x into out with gamma and beta; train
// selects batch statistics (and updates the running ones) for batch normalisation.
func normForwardFloat[F floatT](g *normGeom, s *normFloat, x []F, n int, gamma, beta []float64, train bool, out []F) {
	s.ensure(g, n)
	c := g.c
	rows := n * g.pos
	if !g.batch {
		parallel(rows, 64, func(r0, r1 int) {
			for r := r0; r < r1; r += 4 {
				layerMoments(x, c, r, r1, s.mean, s.rstd)
			}
			vec.LayerNormalize(x[r0*c:r1*c], out[r0*c:r1*c], c, s.mean[r0:r1], s.rstd[r0:r1], gamma, beta)
		})
		return
	}
	if train || !s.runSet {
		byChannel(c, rows, func(j0, j1 int) { batchMoments(x, c, rows, j0, j1, s.mean, s.rstd) })
		if train {
			if !s.runSet {
				copy(s.runMean, s.mean)
				copy(s.runVar, s.rstd)
				s.runSet = true
			} else {
				for j := range s.runMean {
					s.runMean[j] += runningMomentum * (s.mean[j] - s.runMean[j])
					s.runVar[j] += runningMomentum * (s.rstd[j] - s.runVar[j])
				}
			}
		}
	} else {
		copy(s.mean, s.runMean)
		copy(s.rstd, s.runVar)
	}
	for j, v := range s.rstd {
		s.rstd[j] = 1 / math.Sqrt(v+numerics.NormEps)
	}
	mean, rstd := s.mean, s.rstd
	parallel(rows, 64, func(r0, r1 int) {
		vec.BatchNormalize(x[r0*c:r1*c], out[r0*c:r1*c], c, mean, rstd, gamma, beta)
	})
}

// normBackwardFloat computes the gradients of gamma (gw) and beta (gb, when not nil)
// and, when dx is not nil, the input's error, from the output error dy and the input
// x of the last (training) forward pass.
func normBackwardFloat[F floatT](g *normGeom, s *normFloat, x, dy []F, n int, gamma []float64, gw, gb []float64, dx []F) {
	c := g.c
	rows := n * g.pos
	clear(gw)
	if gb != nil {
		clear(gb)
	}
	if g.batch {
		sdy, sdx := s.sumDy, s.sumDyXhat
		mean, rstd := s.mean, s.rstd
		byChannel(c, rows, func(j0, j1 int) { batchGradSums(x, dy, c, rows, j0, j1, mean, rstd, sdy, sdx) })
		copy(gw, sdx)
		if gb != nil {
			copy(gb, sdy)
		}
		if dx == nil {
			return
		}
		// gamma[j] * rstd[j] * (dy - sdy[j]*inv - xh*sdx[j]*inv) evaluates its two
		// per-channel products first, so computing them once per channel keeps every
		// rounding.
		inv := 1 / float64(rows)
		gr, sdyInv := s.gammaRstd, s.sumDyInv
		for j := range c {
			gr[j] = gamma[j] * rstd[j]
			sdyInv[j] = sdy[j] * inv
		}
		parallel(rows, 64, func(r0, r1 int) {
			vec.BatchInputError(x[r0*c:r1*c], dy[r0*c:r1*c], dx[r0*c:r1*c], c, mean, rstd, gr, sdyInv, sdx, inv)
		})
		return
	}
	mean, rstd, sdy := s.mean, s.rstd, s.sumDy
	byChannel(c, rows, func(j0, j1 int) { layerGradSums(x, dy, c, rows, j0, j1, mean, rstd, sdy, gw) })
	if gb != nil {
		copy(gb, sdy)
	}
	if dx == nil {
		return
	}
	sg, sgx := s.rowSg[:rows], s.rowSgx[:rows]
	parallel(rows, 64, func(r0, r1 int) {
		for r := r0; r < r1; r += 4 {
			layerErrorSums(x, dy, c, r, r1, gamma, s.mean, s.rstd, sg, sgx)
		}
		vec.LayerInputError(x[r0*c:r1*c], dy[r0*c:r1*c], dx[r0*c:r1*c], c, s.mean[r0:r1], s.rstd[r0:r1], gamma, sg[r0:r1], sgx[r0:r1], 1/float64(c))
	})
}

// Layer normalisation sums each row over its channels in channel order: a chain of
// dependent additions, each waiting for the last. layerMoments and layerErrorSums
// run four rows' chains side by side, so that their additions overlap; each row's
// sums are the same as alone. Rows past the last (r1) repeat the last row, whose
// values they merely write again.

// layerMoments sets mean and rstd of the four rows of c channels x from row r (at most
// up to row r1).
func layerMoments[F floatT](x []F, c, r, r1 int, mean, rstd []float64) {
	i0, i1, i2, i3 := r, min(r+1, r1-1), min(r+2, r1-1), min(r+3, r1-1)
	x0 := x[i0*c : (i0+1)*c]
	x1, x2, x3 := x[i1*c:][:len(x0)], x[i2*c:][:len(x0)], x[i3*c:][:len(x0)]
	var m0, m1, m2, m3 float64
	for j, e := range x0 {
		m0 += float64(e)
		m1 += float64(x1[j])
		m2 += float64(x2[j])
		m3 += float64(x3[j])
	}
	n := float64(c)
	m0, m1, m2, m3 = m0/n, m1/n, m2/n, m3/n
	var v0, v1, v2, v3 float64
	for j, e := range x0 {
		d0, d1, d2, d3 := float64(e)-m0, float64(x1[j])-m1, float64(x2[j])-m2, float64(x3[j])-m3
		v0 += d0 * d0
		v1 += d1 * d1
		v2 += d2 * d2
		v3 += d3 * d3
	}
	mean[i3], rstd[i3] = m3, 1/math.Sqrt(v3/n+numerics.NormEps)
	mean[i2], rstd[i2] = m2, 1/math.Sqrt(v2/n+numerics.NormEps)
	mean[i1], rstd[i1] = m1, 1/math.Sqrt(v1/n+numerics.NormEps)
	mean[i0], rstd[i0] = m0, 1/math.Sqrt(v0/n+numerics.NormEps)
}

// layerErrorSums sets sg and sgx of the four rows from row r (at most up to row r1) to
// their sums over channels of gamma*dy and of gamma*dy times the normalised input.
func layerErrorSums[F floatT](x, dy []F, c, r, r1 int, gamma, mean, rstd, sg, sgx []float64) {
	var xs, ds [4][]F
	var m, s, g, h [4]float64
	for k := range 4 {
		i := min(r+k, r1-1)
		xs[k], ds[k], m[k], s[k] = x[i*c:(i+1)*c], dy[i*c:(i+1)*c], mean[i], rstd[i]
	}
	vec.LayerErrorSums4(&xs, &ds, gamma[:c], &m, &s, &g, &h)
	for k := range 4 { // rows past r1 repeat the last one, with the same sums
		i := min(r+k, r1-1)
		sg[i], sgx[i] = g[k], h[k]
	}
}

// Normalisation's statistics and gradient sums are per-channel sums over the rows,
// each in row order. They are computed by channel: concurrently over groups of
// channels, each channel's sum still in row order (so the result does not depend on
// GOMAXPROCS), by train/vec's kernels, over chunks of rows that stay in the L1 cache
// while each group of channels passes over them.

// sumChunk bounds the values in a chunk of rows.
const sumChunk = 4096

// byChannel runs f on ranges [j0, j1) of c channels concurrently, when the rows give
// the parts enough work; the ranges are multiples of the eight channels of vec's AVX2
// kernels.
func byChannel(c, rows int, f func(j0, j1 int)) {
	const group = 8
	groups := (c + group - 1) / group
	parallel(groups, max(1, (1<<15)/max(rows*group, 1)), func(g0, g1 int) {
		f(g0*group, min(g1*group, c))
	})
}

// rowChunks yields the chunks [r0, r1) of rows rows of c channels, in order.
func rowChunks(c, rows int) iter.Seq2[int, int] {
	step := max(1, sumChunk/c)
	return func(yield func(r0, r1 int) bool) {
		for r0 := 0; r0 < rows; r0 += step {
			if !yield(r0, min(r0+step, rows)) {
				return
			}
		}
	}
}

// batchMoments computes channels [j0, j1) of the mean and the biased variance of
// rows rows of c channels x.
func batchMoments[F floatT](x []F, c, rows, j0, j1 int, mean, vari []float64) {
	clear(mean[j0:j1])
	clear(vari[j0:j1])
	for r0, r1 := range rowChunks(c, rows) {
		vec.SumChannels(x[r0*c:r1*c], c, j0, j1, mean)
	}
	for j := j0; j < j1; j++ {
		mean[j] /= float64(rows)
	}
	for r0, r1 := range rowChunks(c, rows) {
		vec.SumSquaredDevs(x[r0*c:r1*c], c, j0, j1, mean, vari)
	}
	for j := j0; j < j1; j++ {
		vari[j] /= float64(rows)
	}
}

// floatChannelSums sets sum to the per-channel sums of rows rows of c channels x,
// each in row order.
func floatChannelSums[F floatT](x []F, c, rows int, sum []float64) {
	byChannel(c, rows, func(j0, j1 int) {
		clear(sum[j0:j1])
		for r0, r1 := range rowChunks(c, rows) {
			vec.SumChannels(x[r0*c:r1*c], c, j0, j1, sum)
		}
	})
}

// batchGradSums computes channels [j0, j1) of the sums over rows rows of the output
// error dy (sdy) and of its products with the normalised input (sdx), from the input
// x and the forward pass's mean and rstd.
func batchGradSums[F floatT](x, dy []F, c, rows, j0, j1 int, mean, rstd, sdy, sdx []float64) {
	clear(sdy[j0:j1])
	clear(sdx[j0:j1])
	for r0, r1 := range rowChunks(c, rows) {
		vec.BatchGradSums(x[r0*c:r1*c], dy[r0*c:r1*c], c, j0, j1, mean, rstd, sdy, sdx)
	}
}

// layerGradSums is batchGradSums for layer normalisation, whose mean and rstd are
// per row.
func layerGradSums[F floatT](x, dy []F, c, rows, j0, j1 int, mean, rstd, sdy, sdx []float64) {
	clear(sdy[j0:j1])
	clear(sdx[j0:j1])
	for r0, r1 := range rowChunks(c, rows) {
		vec.LayerGradSums(x[r0*c:r1*c], dy[r0*c:r1*c], c, j0, j1, mean[r0:r1], rstd[r0:r1], sdy, sdx)
	}
}
