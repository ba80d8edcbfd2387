// RCT's integer momentum (an option, Config.Momentum = 1 - 2^-k; numerics/momentum.go
// has the arithmetic): each weight and bias tensor gets an int16 buffer, the same
// storage and registers NITI's update uses (rctLayer.AccW, AccB, GradW, GradB), which
// holds the last update in units of 1/256 of a grid step, decays by beta each step and
// moves the weights. It is state like the weights: no float copy, 2 bytes per
// parameter, counted by the device's memory figures.

package train

import (
	"sync"

	"github.com/rctsim/rctsim/train/numerics"
)

// rctMomentum is the momentum's configuration; its state lives in the integer layers.
type rctMomentum struct {
	k int // beta = 1 - 2^-k
}

// newUpdateBuffers gives every weight layer of st zero int16 update buffers and unset
// registers, one per segment (NITI's and the momentum's state).
func newUpdateBuffers(p *plan, st *rctState) {
	for j, i := range p.weights {
		L := &st.Layers[j]
		segs := p.layers[i].segments()
		L.AccW = make([]int16, len(L.W))
		L.GradW = make([]scaleState, segs)
		if L.B != nil {
			L.AccB = make([]int16, len(L.B))
			L.GradB = make([]scaleState, segs)
		}
	}
}

// update applies the momentum update to weight layer L (network layer i) at step
// `step` from its gradient segments, as updateSegments does without momentum: same
// random streams, same update shifts; the controller's Gavg reads the buffer, the
// update the weights take. It returns how many weights saturated and how many buffer
// values were clipped to 16 bits.
func (m *rctMomentum) update(L *rctLayer, i, step int, w, b []gradSeg,
	lr numerics.FixedLR, rounding numerics.Rounding, seed uint64, noQAS bool, stats *LayerStats) (saturated, clipped int) {
	shiftOf := numerics.UpdateShift
	if noQAS {
		shiftOf = numerics.UpdateShiftNoQAS
	}
	var mu sync.Mutex
	apply := func(vals []int32, acc []int16, regs []scaleState, segs []gradSeg, exp int, key uint64, stat bool) {
		unit := numerics.MomentumUnit(exp)
		for s, sg := range segs {
			sh := shiftOf(lr, sg.exp, exp)
			reg := numerics.ScaleReg{Exp: regs[s].Exp, Set: regs[s].Set}
			var absSum uint64
			// Tiles on separate cores; each tile's random bits follow from its first
			// index and the sums combine exactly, so the result is that of one pass.
			parallel(len(sg.grad), 1<<14, func(lo, hi int) {
				a := acc[sg.lo+lo : sg.lo+hi]
				c := numerics.MomentumAccumulate(a, sg.grad[lo:hi], lr.Mant, sh, m.k, reg, unit, rounding, key, uint64(sg.lo+lo))
				var sum uint64
				if stat {
					sum = numerics.MomentumAbsSum(a)
				}
				n := numerics.MomentumApply(vals[sg.lo+lo:sg.lo+hi], a, L.Bits, rounding, key, uint64(sg.lo+lo))
				mu.Lock()
				clipped += c
				saturated += n
				absSum += sum
				mu.Unlock()
			})
			regs[s] = scaleState{Exp: unit, Set: true}
			if stat {
				stats.Gavg += numerics.Gavg(absSum, len(L.W), 1, numerics.MomentumFracBits)
			}
		}
	}
	if stats != nil {
		stats.Gavg = 0
	}
	apply(L.W, L.AccW, L.GradW, w, L.WExp, numerics.RandKey(seed, numerics.RandStream(step, i, 0)), stats != nil)
	if L.B != nil {
		apply(L.B, L.AccB, L.GradB, b, L.BExp, numerics.RandKey(seed, numerics.RandStream(step, i, 1)), false)
	}
	return saturated, clipped
}
