// Batch and layer normalisation on the integer path (see doc.go, "Normalisation", for
// the numerics and train/numerics for each operation).
//
// Element-wise work is integer: exact int64 sums of the int8 input per group, int64
// affine maps with integer coefficients, Requant64 with a delayed scale. Per group
// (channel or position) a float64 step turns exact statistics and the integer
// parameters into the coefficients of those maps (numerics.NormInvStd,
// NormForwardCoefs, NormBackwardCoefs, FixCoefs).

package train

import (
	"fmt"
	"math"
	"sync"

	"github.com/rctsim/rctsim/train/numerics"
	"github.com/rctsim/rctsim/train/vec"
)

// normInt is an integer normalisation layer's scratch: the statistics its training
// forward pass saves for the backward pass, and coefficient buffers.
type normInt struct {
	s1, s2  []int64 // per group: Σx and Σx² of the last training forward pass
	xExp    int     // the input's exponent in that pass
	a, b, c []float64
	A, B, C []int64
	su, sux []int64
	dgamma  []float64
	xhat    []int64 // layer normalisation: the normalised input (exponent xhatExp)
	xhatExp int
	g       []int64 // layer normalisation: gamma*dy
	gsum    []int64 // per channel sums of the backward pass
	gw, gb  []int32
}

func newNormInt(g *normGeom, n int) *normInt {
	groups := g.groups(n)
	s := &normInt{s1: make([]int64, groups), s2: make([]int64, groups),
		a: make([]float64, groups), b: make([]float64, groups), c: make([]float64, groups),
		A: make([]int64, groups), B: make([]int64, groups), C: make([]int64, groups),
		su: make([]int64, groups), sux: make([]int64, groups), dgamma: make([]float64, g.c),
		gsum: make([]int64, g.c), gw: make([]int32, g.c), gb: make([]int32, g.c)}
	if !g.batch {
		s.xhat = make([]int64, n*g.pos*g.c)
		s.g = make([]int64, n*g.pos*g.c)
	}
	return s
}

// checkNormInt reports whether integer normalisation of n examples stays exact: a
// group holds at most numerics.NormMaxGroup values (and a layer normalisation's
// per-position sums of gamma*dy*x stay below 2^63).
func checkNormInt(name string, g *normGeom, n int) error {
	size := g.c
	if g.batch {
		size = n * g.pos
	}
	if size > numerics.NormMaxGroup || (!g.batch && g.c > 1<<16) {
		return fmt.Errorf("layer %s: %d values per normalisation group are too many for exact integer statistics", name, size)
	}
	return nil
}

// channelSums writes, per channel of rows of len(s1) channels, Σu and Σu*v (v may
// be u: the sums of x and x²). The rows are split across cores, and int8 ones summed by
// vec's kernels; the partial sums are exact integers, so neither changes anything.
func channelSums[U int8 | int64](u []U, v []int8, s1, s2 []int64) {
	clear(s1)
	clear(s2)
	c := len(s1)
	var mu sync.Mutex
	parallel(len(u)/c, max(1, (1<<14)/c), func(r0, r1 int) {
		p1, p2 := make([]int64, c), make([]int64, c)
		if u8, ok := any(u).([]int8); ok {
			vec.ChannelSums(u8[r0*c:r1*c], v[r0*c:r1*c], p1, p2)
		} else {
			for r := r0 * c; r < r1*c; r += c {
				vr := v[r : r+c]
				for j, x := range u[r : r+c] {
					p1[j] += int64(x)
					p2[j] += int64(x) * int64(vr[j])
				}
			}
		}
		mu.Lock()
		for j := range p1 {
			s1[j] += p1[j]
			s2[j] += p2[j]
		}
		mu.Unlock()
	})
}

// channelAffine is numerics.ChannelAffine, its rows split across cores, int8 ones
// mapped by vec.ChannelAffine.
func channelAffine[U int8 | int64](u []U, v []int8, a, b, c []int64, acc []int64) {
	ch := len(a)
	parallel(len(u)/ch, max(1, (1<<14)/ch), func(r0, r1 int) {
		var vr []int8
		if v != nil {
			vr = v[r0*ch : r1*ch]
		}
		if u8, ok := any(u).([]int8); ok {
			vec.ChannelAffine(u8[r0*ch:r1*ch], vr, a, b, c, acc[r0*ch:r1*ch])
			return
		}
		numerics.ChannelAffine(u[r0*ch:r1*ch], vr, a, b, c, acc[r0*ch:r1*ch])
	})
}

// realOf returns the value of integer v with step 2^e.
func realOf(v int32, e int) float64 { return math.Ldexp(float64(v), e) }

// normForward normalises layer i's int8 input x (n examples) into out; train selects
// batch statistics (and moves the running ones) for batch normalisation. It returns the
// output's exponent.
func (in *intNet) normForward(i int, x []int8, n int, relu, train bool, sc *scales, out []int8) int {
	nl := &in.p.layers[i]
	g, s, L := nl.norm, in.norms[i], &in.st.Layers[nl.weight]
	ex := in.inExp(i)
	beta := func(j int) float64 {
		if L.B == nil {
			return 0
		}
		return realOf(L.B[j], L.BExp)
	}
	acc := in.acc64[:len(x)]
	if !g.batch {
		// Per position: x_hat = r*(x - mean) as integers at one exponent, then
		// gamma*x_hat + beta.
		// Rows are independent (but for FixCoefs' common exponent), so they are split
		// across cores.
		rows, c := n*g.pos, g.c
		minRows := max(1, (1<<12)/c)
		parallel(rows, minRows, func(r0, r1 int) {
			vec.RowSums(x[r0*c:r1*c], x[r0*c:r1*c], c, s.s1[r0:r1], s.s2[r0:r1])
			for r := r0; r < r1; r++ {
				rs := numerics.NormInvStd(int64(c), s.s1[r], s.s2[r], ex)
				s.a[r], s.c[r] = numerics.NormForwardCoefs(float64(s.s1[r])/float64(c), rs, 1, 0)
			}
		})
		s.xhatExp = numerics.FixCoefs(s.a[:rows], nil, s.c[:rows], s.A, nil, s.C)
		xhat := s.xhat[:len(x)]
		e := s.xhatExp + L.WExp
		parallel(rows, minRows, func(r0, r1 int) {
			vec.RowAffine(x[r0*c:r1*c], nil, c, s.A[r0:r1], nil, s.C[r0:r1], xhat[r0*c:r1*c])
			vec.ScaleShift(xhat[r0*c:r1*c], L.W, L.B, e-L.BExp, acc[r0*c:r1*c])
		})
		s.xExp = ex
		return in.requant64(acc, e, relu, &sc.Fwd[i], out, &in.sat.Activations)
	}
	// Batch normalisation: per channel y = a*x + c.
	run := &in.st.Running[i]
	rows := int64(n * g.pos)
	if train || !run.Set {
		channelSums(x, x, s.s1, s.s2)
		for j := range g.c {
			rs := numerics.NormInvStd(rows, s.s1[j], s.s2[j], ex)
			s.a[j], s.c[j] = numerics.NormForwardCoefs(float64(s.s1[j])/float64(rows), rs, realOf(L.W[j], L.WExp), beta(j))
		}
		s.xExp = ex
		if train {
			run.update(rows, s.s1, s.s2, ex, in.reestimate)
		}
	} else {
		// Evaluation: the running statistics, brought to the input's step.
		d := run.Exp - ex
		for j := range g.c {
			mean := math.Ldexp(float64(run.Mean[j]), d)
			rs := numerics.NormInvStdVar(math.Ldexp(float64(run.Var[j]), 2*d), ex)
			s.a[j], s.c[j] = numerics.NormForwardCoefs(mean, rs, realOf(L.W[j], L.WExp), beta(j))
		}
	}
	e := numerics.FixCoefs(s.a[:g.c], nil, s.c[:g.c], s.A, nil, s.C)
	channelAffine(x, nil, s.A[:g.c], nil, s.C[:g.c], acc)
	return in.requant64(acc, e, relu, &sc.Fwd[i], out, &in.sat.Activations)
}

// update moves the running statistics towards a batch's (n values per channel with
// sums s1, s2 and step 2^ex): first the stored values are brought to the units of this
// input's step (an exact left shift, or RoundShift), then each moves by
// numerics.RunningUpdate in training (k = 0), or, as the k-th batch of a
// re-estimation, by numerics.RunningAverage; the first batch sets them.
func (r *rctRunning) update(n int64, s1, s2 []int64, ex int, k int64) {
	exp := ex - numerics.RunningFracBits
	if r.Set && exp != r.Exp {
		d := exp - r.Exp
		for j := range r.Mean {
			r.Mean[j] = int32(numerics.Saturate(numerics.RoundShift(int64(r.Mean[j]), d), 32))
			r.Var[j] = int32(numerics.Saturate(numerics.RoundShift(int64(r.Var[j]), 2*d), 32))
		}
	}
	for j := range r.Mean {
		m, v := numerics.BatchMoments(n, s1[j], s2[j])
		switch {
		case r.Set && k == 0:
			r.Mean[j] = numerics.RunningUpdate(r.Mean[j], m)
			r.Var[j] = numerics.RunningUpdate(r.Var[j], v)
		case r.Set && k > 1:
			r.Mean[j] = numerics.RunningAverage(r.Mean[j], m, k)
			r.Var[j] = numerics.RunningAverage(r.Var[j], v, k)
		default:
			r.Mean[j] = int32(numerics.Saturate(m, 32))
			r.Var[j] = int32(numerics.Saturate(v, 32))
		}
	}
	r.Exp, r.Set = exp, true
}

// normBackward propagates layer i's output error dy (n examples) to its input's error
// (when needed) and updates gamma and beta.
func (in *intNet) normBackward(i int, dy []int8, n, step int, stats []LayerStats) {
	nl := &in.p.layers[i]
	g, s, L := nl.norm, in.norms[i], &in.st.Layers[nl.weight]
	ee := in.errExp[i]
	x := in.input(i)[:len(dy)]
	ex := s.xExp
	var gw, gb gradSeg
	if g.batch {
		rows := int64(n * g.pos)
		channelSums(dy, x, s.su[:g.c], s.sux[:g.c])
		for j := range g.c {
			mean := float64(s.s1[j]) / float64(rows)
			rs := numerics.NormInvStd(rows, s.s1[j], s.s2[j], ex)
			scale := math.Ldexp(float64(L.W[j]), L.WExp+ee-ex)
			s.a[j], s.b[j], s.c[j], s.dgamma[j] = numerics.NormBackwardCoefs(rows, mean, rs, float64(s.su[j]), float64(s.sux[j]), scale)
		}
		gw = gradSeg{0, s.gw, ee + numerics.FixGrads(s.dgamma, s.gw)}
		for j, v := range s.su[:g.c] {
			s.gb[j] = int32(numerics.Saturate(v, 32))
		}
		gb = gradSeg{0, s.gb, ee}
		if nl.needDX {
			e := numerics.FixCoefs(s.a[:g.c], s.b[:g.c], s.c[:g.c], s.A, s.B, s.C)
			acc := in.acc64[:len(dy)]
			channelAffine(dy, x, s.A[:g.c], s.B[:g.c], s.C[:g.c], acc)
			in.errExp[in.p.dxSlot(i)] = in.requant64(acc, e, false, &in.st.Scales.Bwd[i], in.err[in.p.dxSlot(i)][:len(dy)], &in.sat.Errors)
		}
	} else {
		rows := n * g.pos
		xhat := s.xhat[:len(dy)]
		// Parameter gradients: Σ dy*x_hat (exact, narrowed to int32) and Σ dy.
		channelSums(dy, x, s.gsum, s.sux[:g.c]) // gsum = Σ dy
		for j, v := range s.gsum {
			s.gb[j] = int32(numerics.Saturate(v, 32))
		}
		// Rows are split across cores as in the forward pass; the channel sums add
		// exact per-core partial sums.
		c := g.c
		minRows := max(1, (1<<12)/c)
		clear(s.gsum)
		var mu sync.Mutex
		parallel(rows, minRows, func(r0, r1 int) {
			part := make([]int64, c)
			for r := r0 * c; r < r1*c; r += c {
				for j, d := range dy[r : r+c] {
					part[j] += int64(d) * xhat[r+j]
				}
			}
			mu.Lock()
			for j, v := range part {
				s.gsum[j] += v
			}
			mu.Unlock()
		})
		gw = gradSeg{0, s.gw, ee + s.xhatExp + numerics.Narrow32(s.gsum, s.gw)}
		gb = gradSeg{0, s.gb, ee}
		if nl.needDX {
			// u = gamma*dy (exact), then per position dx = a*u + b*x + c.
			u := s.g[:len(dy)]
			scale := math.Ldexp(1, L.WExp+ee-ex)
			parallel(rows, minRows, func(r0, r1 int) {
				vec.MulRows(u[r0*c:r1*c], dy[r0*c:r1*c], L.W[:c])
				vec.RowSums(u[r0*c:r1*c], x[r0*c:r1*c], c, s.su[r0:r1], s.sux[r0:r1])
				for r := r0; r < r1; r++ {
					mean := float64(s.s1[r]) / float64(c)
					rs := numerics.NormInvStd(int64(c), s.s1[r], s.s2[r], ex)
					s.a[r], s.b[r], s.c[r], _ = numerics.NormBackwardCoefs(int64(c), mean, rs, float64(s.su[r]), float64(s.sux[r]), scale)
				}
			})
			e := numerics.FixCoefs(s.a[:rows], s.b[:rows], s.c[:rows], s.A, s.B, s.C)
			acc := in.acc64[:len(dy)]
			parallel(rows, minRows, func(r0, r1 int) {
				vec.RowAffine(u[r0*c:r1*c], x[r0*c:r1*c], c, s.A[r0:r1], s.B[r0:r1], s.C[r0:r1], acc[r0*c:r1*c])
			})
			in.errExp[in.p.dxSlot(i)] = in.requant64(acc, e, false, &in.st.Scales.Bwd[i], in.err[in.p.dxSlot(i)][:len(dy)], &in.sat.Errors)
		}
	}
	var bs []gradSeg
	if L.B != nil {
		bs = []gradSeg{gb}
	}
	in.update(nl, i, step, []gradSeg{gw}, bs, stats)
}
