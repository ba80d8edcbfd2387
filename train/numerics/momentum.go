package numerics

import (
	"fmt"
	"math"
	"math/bits"
)

// RCT's integer momentum: an option of RCT's update (off by default), which keeps one
// more tensor per parameter and no float copy.
//
// Without momentum RCT moves each weight by -lr*g, rounded stochastically onto its
// grid. With momentum shift k the update goes through an int16 buffer per parameter,
// the same buffer NITI keeps (NITIAccBits wide, in units of 2^-MomentumFracBits grid
// steps, DRAM-resident between steps): it holds the last update, decays by
// beta = 1 - 2^-k each step, gains this step's -lr*g, and moves the weight:
//
//	MomentumAccumulate  a = rescale(acc) to the weights' current grid
//	                    a = a - Round(a / 2^k)                  (decay)
//	                    acc = Saturate(a + Round(-lr*g in units of 2^-8 steps), 16)
//	MomentumApply       w = Saturate(w + Round(acc / 2^8), bits)
//
// which is heavy-ball momentum on the update, v <- beta*v + lr*g, w <- w - v: the
// steady update of a constant gradient is lr*g / (1 - beta), 2^k times the rate. The
// buffer spans ±128 grid steps with a resolution of 1/256 of a step; both roundings
// are stochastic when the update's is (or both nearest), so a small update moves the
// buffer and a fractional buffer moves the weight in expectation. A buffer's unit is
// 2^(WExp - MomentumFracBits) of the weights it serves; when the precision
// controller changes their bitwidth, WExp changes, and the next MomentumAccumulate
// rescales the buffer from the unit recorded in its register (IntLayer.GradW, GradB:
// one per segment, as NITI's) to the new one, so no extra pass over the buffer runs
// at a bitwidth change.
//
// The decay's rounding matters as much as the gain's: most updates are a few units
// (the controller keeps the mean update near 1/50 of a step, 5 units), where rounding
// a/2^k to nearest would leave |a| < 2^(k-1) fixed forever (a drift every step) and
// rounding it up weakens the momentum of small updates (a = 5 would decay by 1/5, not
// 1/8; the transformer after 1,000 steps at rate 0.1, k = 3: 2.902 bpc, against 2.824
// with the decay below). So the decay is stochastic, unbiased, when the update's
// rounding is; with nearest rounding it subtracts ceil(|a|/2^k), which still reaches
// zero.

// MomentumFracBits is the fraction of a weight grid step the momentum buffer
// resolves: it holds updates in units of 2^-8 steps, so its 16 bits span ±128 steps.
const MomentumFracBits = 8

// MaxMomentumShift is the largest momentum shift k (beta = 1 - 2^-k = 0.996).
const MaxMomentumShift = 8

// MomentumShift returns k such that beta = 1 - 2^-k, the only momenta RCT's integer
// update represents (a shift and a subtraction); beta = 0 returns 0, no momentum.
func MomentumShift(beta float64) (int, error) {
	if beta == 0 {
		return 0, nil
	}
	if beta > 0 && beta < 1 {
		k := -math.Log2(1 - beta)
		if r := math.Round(k); r >= 1 && r <= MaxMomentumShift && 1-math.Ldexp(1, -int(r)) == beta {
			return int(r), nil
		}
	}
	return 0, fmt.Errorf("rct's integer momentum is 1 - 2^-k for k in 1..%d (0.5, 0.75, 0.875, 0.9375, ...); %v is not", MaxMomentumShift, beta)
}

// MomentumBeta is 1 - 2^-k, or 0 for k = 0.
func MomentumBeta(k int) float64 {
	if k == 0 {
		return 0
	}
	return 1 - math.Ldexp(1, -k)
}

// MomentumUnit is the exponent of a momentum buffer's unit for weights (or a bias)
// with step 2^weightExp.
func MomentumUnit(weightExp int) int { return weightExp - MomentumFracBits }

// MomentumAccumulate is the first pass of the momentum update over one tensor tile:
// the buffer acc, last written in units of 2^reg.Exp (ignored when !reg.Set, when the
// buffer is zero), is brought to units of 2^unit (unit = MomentumUnit of the weights'
// exponent now), decays by 1 - 2^-k and gains the update of gradient accumulators
// grad under the learning rate's mantissa and the update shift (UpdateShift, as the
// update without momentum), rounded to the buffer's unit: both stochastically with
// the bits of RandAt(key, first+j) for element j (the gain's from bit 0, the decay's
// from bit decayBits), or to nearest (the decay then rounds up). It returns how many buffer
// values saturated to 16 bits.
func MomentumAccumulate(acc []int16, grad []int32, mant int64, shift, k int, reg ScaleReg, unit int,
	rounding Rounding, key, first uint64) (clipped int) {
	grad = grad[:len(acc)]
	up := 0 // the old unit over the new: a left shift (finer grid) or a right one
	if reg.Set {
		up = reg.Exp - unit
	}
	lim := satLimit(NITIAccBits)
	for j, g := range grad {
		a := RoundShift(int64(acc[j]), -up)
		d := -mant * int64(g)
		var t int64
		if rounding == RoundStochastic {
			r := RandAt(key, first+uint64(j))
			a -= StochasticShift(a, k, r>>decayBits)
			t = StochasticShift(d, shift-MomentumFracBits, r)
		} else {
			a -= momentumDecay(a, k)
			t = RoundShift(d, shift-MomentumFracBits)
		}
		v := a + t
		if (t > 0 && a > math.MaxInt64-t) || (t < 0 && a < math.MinInt64+1-t) {
			v = t // both huge and of one sign: the sum saturates as t does
		}
		if v > lim || v < -lim {
			v = min(max(v, -lim), lim)
			clipped++
		}
		acc[j] = int16(v)
	}
	return clipped
}

// decayBits is where the decay's random bits start in an element's RandAt: the gain
// takes the lowest bits, MomentumApply bits 32 and up (rotate32), the decay, which
// needs k <= 8, bits 48 and up.
const decayBits = 48

// momentumDecay is sign(a)*ceil(|a| / 2^k), the decay when rounding to nearest.
func momentumDecay(a int64, k int) int64 {
	if a >= 0 {
		return (a + 1<<k - 1) >> k
	}
	return -((-a + 1<<k - 1) >> k)
}

// MomentumApply is the second pass: the buffer's update added to bits-wide weights w,
// rounded from 2^-MomentumFracBits steps to whole steps stochastically with
// RandAt(key, first+j) rotated by 32 bits (so that it does not reuse the bits that
// rounded the buffer's gain), or to nearest; weights saturate at ±(2^(bits-1)-1). It
// returns how many weights saturated.
func MomentumApply(w []int32, acc []int16, bits int, rounding Rounding, key, first uint64) (saturated int) {
	lim := satLimit(bits)
	acc = acc[:len(w)]
	for j, a := range acc {
		var q int64
		if rounding == RoundStochastic {
			q = StochasticShift(int64(a), MomentumFracBits, rotate32(RandAt(key, first+uint64(j))))
		} else {
			q = RoundShift(int64(a), MomentumFracBits)
		}
		v := int64(w[j]) + q
		if v > lim || v < -lim {
			v = min(max(v, -lim), lim)
			saturated++
		}
		w[j] = int32(v)
	}
	return saturated
}

func rotate32(r uint64) uint64 { return bits.RotateLeft64(r, 32) }

// MomentumAbsSum is the precision controller's statistic under momentum: the sum of
// |acc| of a buffer tile after MomentumAccumulate, the update the weights take. Gavg
// of it with mantissa 1 and shift MomentumFracBits is the mean update in grid steps.
func MomentumAbsSum(acc []int16) uint64 { return absSum(acc) }
