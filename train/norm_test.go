package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rctsim/rctsim/train/numerics"
)

// TestBatchNormFloatBits checks float batch normalisation's training passes bit for
// bit against their arithmetic written as plain loops over rows: the per-channel
// sums in row order and every value's expression in its order of evaluation, whatever
// the kernels, the channel count and the number of cores.
func TestBatchNormFloatBits(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, c := range []int{1, 3, 4, 6, 16, 20, 64} {
		for _, pos := range []int{1, 5, 64, 300} {
			n := 7
			g := &normGeom{batch: true, c: c, pos: pos}
			rows := n * pos
			x, dy := make([]float32, rows*c), make([]float32, rows*c)
			for i := range x {
				x[i] = float32(r.NormFloat64()*3 + 1)
				dy[i] = float32(r.NormFloat64())
			}
			gamma, beta := make([]float64, c), make([]float64, c)
			for j := range gamma {
				gamma[j], beta[j] = r.Float64()+0.5, r.NormFloat64()
			}

			mean, vari := make([]float64, c), make([]float64, c)
			for i, e := range x {
				mean[i%c] += float64(e)
			}
			for j := range mean {
				mean[j] /= float64(rows)
			}
			for i, e := range x {
				d := float64(e) - mean[i%c]
				vari[i%c] += d * d
			}
			rstd := make([]float64, c)
			for j := range vari {
				vari[j] /= float64(rows)
				rstd[j] = 1 / math.Sqrt(vari[j]+numerics.NormEps)
			}
			wantOut := make([]float32, len(x))
			for i, e := range x {
				j := i % c
				wantOut[i] = float32(gamma[j]*((float64(e)-mean[j])*rstd[j]) + beta[j])
			}
			sdy, sdx := make([]float64, c), make([]float64, c)
			for i, d := range dy {
				j := i % c
				sdy[j] += float64(d)
				sdx[j] += float64(d) * ((float64(x[i]) - mean[j]) * rstd[j])
			}
			inv := 1 / float64(rows)
			wantDX := make([]float32, len(x))
			for i, e := range x {
				j := i % c
				xh := (float64(e) - mean[j]) * rstd[j]
				wantDX[i] = float32(gamma[j] * rstd[j] * (float64(dy[i]) - sdy[j]*inv - xh*sdx[j]*inv))
			}

			s := newNormFloat(g)
			out, dx := make([]float32, len(x)), make([]float32, len(x))
			gw, gb := make([]float64, c), make([]float64, c)
			normForwardFloat(g, s, x, n, gamma, beta, true, out)
			normBackwardFloat(g, s, x, dy, n, gamma, gw, gb, dx)
			bits := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }
			bits32 := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }
			switch {
			case !slices.EqualFunc(s.runMean, mean, bits) || !slices.EqualFunc(s.runVar, vari, bits):
				t.Fatalf("c %d pos %d: statistics differ", c, pos)
			case !slices.EqualFunc(out, wantOut, bits32):
				t.Fatalf("c %d pos %d: outputs differ", c, pos)
			case !slices.EqualFunc(gw, sdx, bits) || !slices.EqualFunc(gb, sdy, bits):
				t.Fatalf("c %d pos %d: gradients differ", c, pos)
			case !slices.EqualFunc(dx, wantDX, bits32):
				t.Fatalf("c %d pos %d: input errors differ", c, pos)
			}
		}
	}
}

// TestLayerNormFloatGradBits checks float layer normalisation's gradients of gamma and
// beta bit for bit against their sums written as a plain loop over rows, and its
// output, statistics and input error against the row-by-row definition
// (layerNormRowByRow), for row counts that do not divide into the four rows summed
// side by side.
func TestLayerNormFloatGradBits(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, c := range []int{1, 3, 4, 6, 128} {
		for _, pos := range []int{1, 5, 43, 300} {
			n := 3
			g := &normGeom{c: c, pos: pos}
			rows := n * pos
			x, dy := make([]float32, rows*c), make([]float32, rows*c)
			for i := range x {
				x[i], dy[i] = float32(r.NormFloat64()*2+0.5), float32(r.NormFloat64())
			}
			gamma, beta := make([]float64, c), make([]float64, c)
			for j := range gamma {
				gamma[j], beta[j] = r.Float64()+0.5, r.NormFloat64()
			}
			s := newNormFloat(g)
			out, dx := make([]float32, len(x)), make([]float32, len(x))
			normForwardFloat(g, s, x, n, gamma, beta, true, out)
			gw, gb := make([]float64, c), make([]float64, c)
			normBackwardFloat(g, s, x, dy, n, gamma, gw, gb, dx)
			wantOut, wantDx, mean, rstd := layerNormRowByRow(x, dy, c, gamma, beta)
			if !slices.Equal(out, wantOut) || !slices.Equal(dx, wantDx) || !slices.Equal(s.mean[:rows], mean) || !slices.Equal(s.rstd[:rows], rstd) {
				t.Fatalf("c %d pos %d: output, input error or statistics differ from the row-by-row definition", c, pos)
			}
			wantW, wantB := make([]float64, c), make([]float64, c)
			for i, d := range dy {
				wantW[i%c] += float64(d) * ((float64(x[i]) - s.mean[i/c]) * s.rstd[i/c])
				wantB[i%c] += float64(d)
			}
			bits := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }
			if !slices.EqualFunc(gw, wantW, bits) || !slices.EqualFunc(gb, wantB, bits) {
				t.Fatalf("c %d pos %d: gradients differ", c, pos)
			}
		}
	}
}

// layerNormRowByRow is float layer normalisation's forward output and input error,
// and the rows' means and reciprocal standard deviations, one row after the other.
func layerNormRowByRow(x, dy []float32, c int, gamma, beta []float64) (out, dx []float32, mean, rstd []float64) {
	rows := len(x) / c
	out, dx = make([]float32, len(x)), make([]float32, len(x))
	mean, rstd = make([]float64, rows), make([]float64, rows)
	for r := range rows {
		xr, dr := x[r*c:(r+1)*c], dy[r*c:(r+1)*c]
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
		mean[r], rstd[r] = m, rs
		var sg, sgx float64
		for j, e := range xr {
			out[r*c+j] = float32(gamma[j]*((float64(e)-m)*rs) + beta[j])
			gv := gamma[j] * float64(dr[j])
			sg += gv
			sgx += gv * ((float64(e) - m) * rs)
		}
		inv := 1 / float64(c)
		for j, e := range xr {
			xh := (float64(e) - m) * rs
			dx[r*c+j] = float32(rs * (gamma[j]*float64(dr[j]) - sg*inv - xh*sgx*inv))
		}
	}
	return out, dx, mean, rstd
}
