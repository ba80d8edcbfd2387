// NITI: integer training with int8 weights and an int16 update buffer (Wang et al.,
// "NITI: Training Integer Neural Networks Using Integer-only Arithmetic", arXiv
// 2009.13108).
//
// NITI runs on RCT's integer path: int8 activations and errors with per-tensor
// power-of-two scales (delayed, as for RCT; see doc.go), exact int32 GEMMs, int8
// weights with a fixed step 2^WExp chosen at initialisation as RCT chooses it (one bit
// of headroom), the same loss. What differs is the update and its state: there is no
// learning rate and no precision controller. Each weight layer's gradient
// accumulators G are shifted down to mu = Config.NITIUpdateBits magnitude bits with
// NITI's pseudo-stochastic rounding (numerics.PseudoStochasticShift: the discarded
// low bits are the random number), the shift coming from the layer's largest |G| at
// the previous step (numerics.NITIShift, a delayed register per segment, like every
// scale of integer training), and the result is subtracted from an int16 buffer per
// weight, in units of 2^-8 grid steps, which carries whole steps into the int8
// weights and keeps the rest (numerics.UpdateNITI). Biases have their own exponent,
// register and buffer. The buffers are state: they persist between steps, and the
// device keeps them in DRAM next to the weights (2 bytes per parameter).

package train

import "github.com/rctsim/rctsim/train/numerics"

// nitiState is NITI's configuration; its state lives in the integer layers
// (rctLayer.AccW, AccB, GradW, GradB).
type nitiState struct {
	mu int // numerics.NITIUpdateBits
	// clipped counts normalised updates that exceeded mu bits (a gradient larger than
	// the delayed register expected).
	clipped int64
}

// newNITI sets up NITI on RCT's state st: the update buffers (zero) and registers
// (unset) of every weight layer.
func newNITI(p *plan, st *rctState, mu int) *nitiState {
	newUpdateBuffers(p, st)
	return &nitiState{mu: mu}
}

// update applies NITI's update to layer L from its gradient segments (already cut to
// what the update mask changes) and returns how many weights saturated.
func (s *nitiState) update(L *rctLayer, w, b []gradSeg) (saturated int) {
	apply := func(vals []int32, acc []int16, regs []scaleState, segs []gradSeg) {
		for k, sg := range segs {
			m := numerics.GradMaxAbs(sg.grad)
			reg := numerics.ScaleReg{Exp: regs[k].Exp, Set: regs[k].Set}
			sh := numerics.NITIShift(reg, sg.exp, m, s.mu)
			hi := sg.lo + len(sg.grad)
			c, sat := numerics.UpdateNITI(vals[sg.lo:hi], acc[sg.lo:hi], sg.grad, sh, s.mu)
			s.clipped += int64(c)
			saturated += sat
			r := numerics.NITIRegister(sg.exp, m, s.mu)
			regs[k] = scaleState{Exp: r.Exp, Set: r.Set}
		}
	}
	apply(L.W, L.AccW, L.GradW, w)
	if L.B != nil {
		apply(L.B, L.AccB, L.GradB, b)
	}
	return saturated
}
