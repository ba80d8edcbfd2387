package numerics

// NITI's weight update and Lin et al.'s quantization-aware scaling.
//
// NITI (Wang et al., "NITI: Training Integer Neural Networks Using Integer-only
// Arithmetic", arXiv 2009.13108) trains int8 weights with a fixed power-of-two step,
// and has no learning rate: each layer's int32 weight-gradient accumulators G are
// shifted down to a few bits (mu) with pseudo-stochastic rounding, whose random bits
// are the discarded low bits of G themselves, and the result is subtracted from the
// weights through an int16 buffer. rctsim keeps that buffer between steps: it holds
// the update in units of 2^-NITIAccFracBits grid steps, carries whole steps into the
// int8 weights and keeps the fraction, so that an update smaller than a grid step
// accumulates instead of vanishing. The buffer is state in memory (2 bytes per
// parameter), moved through DRAM every step like the weights it serves.
//
// As for every tensor of integer training in rctsim, the shift that brings G to mu
// bits is delayed: it comes from the largest |G| of the same tensor at the previous
// step (a ScaleReg holding the exponent of the update's unit), because a device that
// updates weights tile by tile as their gradients are produced cannot know the
// layer's largest gradient first. The first step calibrates on its own maximum;
// later updates that exceed mu bits saturate (and are counted).

// NITIAccFracBits is the fraction of a weight grid step the update buffer resolves:
// it holds updates in units of 2^-8 steps, so its 16 bits span ±128 steps.
const NITIAccFracBits = 8

// NITIAccBits is the update buffer's width.
const NITIAccBits = 16

// DefaultNITIUpdateBits is NITI's mu, the magnitude bits of a normalised update, by
// default: the largest gradient of a layer moves its weight by just under
// 2^(mu-NITIAccFracBits) = 4 grid steps per step. Measured on LeNet-5, one epoch of
// MNIST (batch 32): mu 8, 9, 10 and 11 reached 96.5%, 97.1%, 97.7% and 96.9%.
const DefaultNITIUpdateBits = 10

// PseudoStochasticShift is NITI's rounding of x / 2^sh: the magnitude is truncated,
// then rounded up when the upper half of the discarded bits exceeds the lower half
// (the lower half serving as the random number; for odd sh the lower half, one bit
// shorter, is doubled to span the same range), and the sign restored. sh <= 0 is an
// exact (saturating) left shift; sh >= 63 gives 0.
func PseudoStochasticShift(x int64, sh int) int64 {
	if sh <= 0 {
		return shiftLeftSat(x, -sh)
	}
	if sh >= 63 {
		return 0
	}
	neg := x < 0
	ux := uint64(x)
	if neg {
		ux = -ux
	}
	q := ux >> sh
	rest := ux & (1<<sh - 1)
	k := sh / 2
	hi, lo := rest>>k, rest&(1<<k-1)
	if sh%2 == 1 {
		lo <<= 1
	}
	if hi > lo {
		q++
	}
	if neg {
		return -int64(q)
	}
	return int64(q)
}

// GradMaxAbs is the largest |g| of gradient accumulators (the statistic that sets the
// next step's NITI shift).
func GradMaxAbs(grad []int32) int64 {
	var m int64
	for _, g := range grad {
		m = max(m, int64(g), -int64(g))
	}
	return m
}

// NITIShift is the right shift that brings gradient accumulators with exponent
// gradExp to mu magnitude bits: reg.Exp - gradExp from the delayed register, or, the
// first time (reg unset), ShiftFor(maxAbs, mu+1) from the accumulators' own maximum.
func NITIShift(reg ScaleReg, gradExp int, maxAbs int64, mu int) int {
	if reg.Set {
		return reg.Exp - gradExp
	}
	return ShiftFor(maxAbs, mu+1)
}

// NITIRegister is the register a step leaves for the next: the exponent of the update
// unit the largest |G| of this step calls for, gradExp + ShiftFor(maxAbs, mu+1).
func NITIRegister(gradExp int, maxAbs int64, mu int) ScaleReg {
	return ScaleReg{Exp: gradExp + ShiftFor(maxAbs, mu+1), Set: true}
}

// UpdateNITI applies NITI's update to int8 weights w through their int16 buffer acc,
// in place. It is three element-wise passes, each a vector instruction on a device:
//
//	NITIAccumulate  u = PseudoStochasticShift(grad, shift), saturated to ±(2^mu - 1);
//	                acc = Saturate(acc - u, 16)   (units of 2^-NITIAccFracBits grid steps)
//	NITICarry       w = Saturate(w + RoundShift(acc, NITIAccFracBits), 8)
//	NITIRemainder   acc = acc - RoundShift(acc, NITIAccFracBits) * 2^NITIAccFracBits
//
// so the buffer keeps what is left below half a grid step (|acc| <= 128), and whole
// steps a saturated weight cannot take are lost, as in any saturating update. It
// returns how many updates saturated to mu bits and how many weights saturated.
func UpdateNITI(w []int32, acc []int16, grad []int32, shift, mu int) (clipped, saturated int) {
	clipped = NITIAccumulate(acc, grad, shift, mu)
	saturated = NITICarry(w, acc)
	NITIRemainder(acc)
	return clipped, saturated
}

// NITIAccumulate is UpdateNITI's first pass: the normalised update subtracted from the
// buffer. It returns how many updates saturated to mu bits.
func NITIAccumulate(acc []int16, grad []int32, shift, mu int) (clipped int) {
	ulim := int64(1)<<mu - 1
	grad = grad[:len(acc)]
	for j, g := range grad {
		u := PseudoStochasticShift(int64(g), shift)
		if u > ulim || u < -ulim {
			u = min(max(u, -ulim), ulim)
			clipped++
		}
		acc[j] = int16(Saturate(int64(acc[j])-u, NITIAccBits))
	}
	return clipped
}

// NITICarry is UpdateNITI's second pass: the buffer's whole grid steps added to the
// weights, saturating at ±127. It returns how many weights saturated.
func NITICarry(w []int32, acc []int16) (saturated int) {
	acc = acc[:len(w)]
	for j, a := range acc {
		v := int64(w[j]) + RoundShift(int64(a), NITIAccFracBits)
		if v > 127 || v < -127 {
			v = min(max(v, -127), 127)
			saturated++
		}
		w[j] = int32(v)
	}
	return saturated
}

// NITIRemainder is UpdateNITI's third pass: the buffer keeps what is left below half a
// grid step.
func NITIRemainder(acc []int16) {
	for j, a := range acc {
		acc[j] = int16(int64(a) - RoundShift(int64(a), NITIAccFracBits)<<NITIAccFracBits)
	}
}

// UpdateShiftNoQAS is the right shift of an integer update without Lin et al.'s
// quantization-aware scaling (QAS): the update a float optimiser would make treating
// the integer weights as the parameters, -lr times their own gradient,
// d(loss)/d(w_int) = g*Δ, i.e. -Mant*G*2^(gradExp + weightExp - Shift). QAS scales
// that gradient by Δ^-2 (s_W^-2 in Lin et al., NeurIPS 2022; for a bias, whose step is
// its own, by its step^-2), which is UpdateShift: RCT's update is the QAS-scaled one
// by construction, and this function exists for the ablation that shows why.
func UpdateShiftNoQAS(lr FixedLR, gradExp, weightExp int) int { return lr.Shift - weightExp - gradExp }
