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
	"math"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
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
}

func newNormFloat(g *normGeom) *normFloat {
	s := &normFloat{sumDy: make([]float64, g.c), sumDyXhat: make([]float64, g.c)}
	if g.batch {
		s.runMean, s.runVar = make([]float64, g.c), make([]float64, g.c)
		s.mean, s.rstd = make([]float64, g.c), make([]float64, g.c)
	}
	return s
}

// ensure sizes the per-group buffers for n examples.
func (s *normFloat) ensure(g *normGeom, n int) {
	if !g.batch && len(s.mean) < g.groups(n) {
		s.mean, s.rstd = make([]float64, g.groups(n)), make([]float64, g.groups(n))
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
			for r := r0; r < r1; r++ {
				xr, or := x[r*c:(r+1)*c], out[r*c:(r+1)*c]
				var m, v float64
				for _, e := range xr {
					m += float64(e)
				}
				m /= float64(c)
				for _, e := range xr {
					d := float64(e) - m
					v += d * d
				}
				rs := 1 / math.Sqrt(v/float64(c)+numerics.NormEps)
				s.mean[r], s.rstd[r] = m, rs
				for j, e := range xr {
					or[j] = F(gamma[j]*((float64(e)-m)*rs) + beta[j])
				}
			}
		})
		return
	}
	if train || !s.runSet {
		clear(s.mean)
		clear(s.rstd) // holds the variance until the end
		for r := range rows {
			for j, e := range x[r*c : (r+1)*c] {
				s.mean[j] += float64(e)
			}
		}
		for j := range s.mean {
			s.mean[j] /= float64(rows)
		}
		for r := range rows {
			for j, e := range x[r*c : (r+1)*c] {
				d := float64(e) - s.mean[j]
				s.rstd[j] += d * d
			}
		}
		for j := range s.rstd {
			s.rstd[j] /= float64(rows)
		}
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
	parallel(rows, 64, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			or := out[r*c : (r+1)*c]
			for j, e := range x[r*c : (r+1)*c] {
				or[j] = F(gamma[j]*((float64(e)-s.mean[j])*s.rstd[j]) + beta[j])
			}
		}
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
		clear(sdy)
		clear(sdx)
		for r := range rows {
			xr := x[r*c : (r+1)*c]
			for j, d := range dy[r*c : (r+1)*c] {
				sdy[j] += float64(d)
				sdx[j] += float64(d) * ((float64(xr[j]) - s.mean[j]) * s.rstd[j])
			}
		}
		copy(gw, sdx)
		if gb != nil {
			copy(gb, sdy)
		}
		if dx == nil {
			return
		}
		inv := 1 / float64(rows)
		parallel(rows, 64, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				xr, dr, out := x[r*c:(r+1)*c], dy[r*c:(r+1)*c], dx[r*c:(r+1)*c]
				for j := range xr {
					xh := (float64(xr[j]) - s.mean[j]) * s.rstd[j]
					out[j] = F(gamma[j] * s.rstd[j] * (float64(dr[j]) - sdy[j]*inv - xh*sdx[j]*inv))
				}
			}
		})
		return
	}
	for r := range rows {
		xr, dr := x[r*c:(r+1)*c], dy[r*c:(r+1)*c]
		for j, d := range dr {
			gw[j] += float64(d) * ((float64(xr[j]) - s.mean[r]) * s.rstd[r])
			if gb != nil {
				gb[j] += float64(d)
			}
		}
	}
	if dx == nil {
		return
	}
	inv := 1 / float64(c)
	parallel(rows, 64, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			xr, dr, out := x[r*c:(r+1)*c], dy[r*c:(r+1)*c], dx[r*c:(r+1)*c]
			m, rs := s.mean[r], s.rstd[r]
			var sg, sgx float64
			for j := range xr {
				gv := gamma[j] * float64(dr[j])
				sg += gv
				sgx += gv * ((float64(xr[j]) - m) * rs)
			}
			for j := range xr {
				xh := (float64(xr[j]) - m) * rs
				out[j] = F(rs * (gamma[j]*float64(dr[j]) - sg*inv - xh*sgx*inv))
			}
		}
	})
}
