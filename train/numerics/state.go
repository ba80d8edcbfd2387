package numerics

// IntState is the architectural state of integer (RCT) training between two steps:
// everything a device holds that the next step depends on. The trainer and the
// simulated device exchange it, so that the device can run a step from the host's
// state and its result can be compared with the host's bit for bit.
type IntState struct {
	// Step is the index of the next step (stochastic rounding keys depend on it).
	Step int
	// Seed is the stochastic-rounding seed (already derived from the run's seed).
	Seed     uint64
	LR       FixedLR
	Rounding Rounding
	// LossRounding rounds the loss error to int8 (SoftmaxXentRound).
	LossRounding Rounding
	// Method is the integer method: RCT (also "") or NITI, whose update goes through
	// each layer's int16 buffer (UpdateNITI) with mu = NITIUpdateBits.
	Method         Method
	NITIUpdateBits int
	// MomentumShift, when not zero, gives RCT's update an integer momentum of
	// 1 - 2^-MomentumShift through each layer's int16 buffer (MomentumAccumulate,
	// MomentumApply).
	MomentumShift int
	// NoQAS updates without quantization-aware scaling (UpdateShiftNoQAS), an
	// ablation; RCT's update is the QAS-scaled one.
	NoQAS bool
	// Update is each weight layer's update mask (nil: every parameter).
	Update []LayerUpdate
	// Layers holds each weight layer's parameters, in network order.
	Layers []IntLayer
	// Fwd, Bwd and Res are the delayed scale registers of every network layer: the
	// exponent of its output's next requantisation, of its input error's, and of its
	// output error after a residual error is added.
	Fwd, Bwd, Res []ScaleReg
	// Inner holds, per network layer, the delayed scales of the tensors inside a
	// composite layer (an attention layer's Q, K, V, context, and the errors between its
	// backward products, in the order of the Attn* constants); nil for other layers.
	Inner [][]ScaleReg
	// Running holds batch normalisation's running statistics per network layer (the
	// zero value for other layers).
	Running []RunningStats
}

// The delayed scales inside an attention layer (IntState.Inner): Q, K and V, the
// context, the context's error, the scores' error and [dQ dK dV] as one tensor.
const (
	AttnScaleQ = iota
	AttnScaleK
	AttnScaleV
	AttnScaleO
	AttnScaleDO
	AttnScaleDS
	AttnScaleDQKV
	AttnScales
)

// RunningStats are one batch normalisation layer's running statistics: per channel
// the mean in units of 2^Exp and the biased variance in units of 2^(2*Exp), as int32
// (see RunningFracBits); Set is false until a training step has set them.
type RunningStats struct {
	Set       bool
	Exp       int
	Mean, Var []int32
}

// IntLayer is one weight layer's integer parameters: Bits-wide integers with steps
// 2^WExp (weights, canonical [Cout][Cin][kh][kw] order) and 2^BExp (bias).
type IntLayer struct {
	Bits       int
	WExp, BExp int
	W, B       []int32
	// The int16 update buffers of the weights and the bias (nil where a mask leaves
	// the tensor frozen, and for RCT without momentum) and one register per segment of
	// the weights and of the bias: for NITI the delayed exponent of the update's
	// normalisation (NITIShift), for RCT with momentum the exponent of the buffer's
	// unit when it was last written (MomentumAccumulate).
	AccW, AccB   []int16
	GradW, GradB []ScaleReg
}

// ScaleReg is a delayed scale: the exponent the tensor's next requantisation produces
// (Set is false until the tensor has been requantised once).
type ScaleReg struct {
	Exp int
	Set bool
}

// Clone returns a deep copy.
func (s *IntState) Clone() *IntState {
	c := *s
	c.Layers = make([]IntLayer, len(s.Layers))
	for i, l := range s.Layers {
		l.W = append([]int32(nil), l.W...)
		l.B = append([]int32(nil), l.B...)
		l.AccW = append([]int16(nil), l.AccW...)
		l.AccB = append([]int16(nil), l.AccB...)
		l.GradW = append([]ScaleReg(nil), l.GradW...)
		l.GradB = append([]ScaleReg(nil), l.GradB...)
		c.Layers[i] = l
	}
	c.Update = append([]LayerUpdate(nil), s.Update...)
	c.Fwd = append([]ScaleReg(nil), s.Fwd...)
	c.Bwd = append([]ScaleReg(nil), s.Bwd...)
	c.Res = append([]ScaleReg(nil), s.Res...)
	if s.Inner != nil {
		c.Inner = make([][]ScaleReg, len(s.Inner))
		for i, in := range s.Inner {
			c.Inner[i] = append([]ScaleReg(nil), in...)
		}
	}
	if s.Running != nil {
		c.Running = make([]RunningStats, len(s.Running))
		for i, r := range s.Running {
			r.Mean = append([]int32(nil), r.Mean...)
			r.Var = append([]int32(nil), r.Var...)
			c.Running[i] = r
		}
	}
	return &c
}

// RandStream packs the stochastic-rounding stream of one tensor's update in one step:
// step<<24 | layer<<1 | tensor, where layer is the network layer index (< 2^23) and
// tensor is 0 for the weights and 1 for the bias. The update's random bits are
// RandAt(RandKey(seed, RandStream(...)), index).
func RandStream(step, layer, tensor int) uint64 {
	return uint64(step)<<24 | uint64(layer)<<1 | uint64(tensor)
}

// PackBits writes vals as bits-wide two's-complement fields into dst: value j occupies
// bits [j*bits, (j+1)*bits) counted from bit 0 of dst[0], least significant bit first
// (so 8-bit values are plain int8 bytes). This is how b-bit weights lie in DRAM and
// SRAM, each matrix row padded to a whole byte. dst must hold ceil(len(vals)*bits/8)
// bytes; bits beyond the last field are left as they are.
func PackBits(vals []int32, bits int, dst []byte) { PackBitsAt(vals, bits, dst, 0) }

// PackBitsAt is PackBits starting at bit offset off of dst.
func PackBitsAt(vals []int32, bits int, dst []byte, off int) {
	mask := uint64(1)<<bits - 1
	for j, v := range vals {
		u := uint64(int64(v)) & mask
		bit := off + j*bits
		for done := 0; done < bits; {
			b, o := (bit+done)/8, (bit+done)%8
			n := min(8-o, bits-done)
			m := byte((1<<n - 1) << o)
			dst[b] = dst[b]&^m | byte(u>>done)<<o&m
			done += n
		}
	}
}

// UnpackBits is the inverse of PackBits: it reads len(vals) bits-wide fields starting at
// bit offset off of src and sign-extends them.
func UnpackBits(src []byte, bits, off int, vals []int32) {
	for j := range vals {
		bit := off + j*bits
		var u uint64
		for done := 0; done < bits; {
			b, o := (bit+done)/8, (bit+done)%8
			n := min(8-o, bits-done)
			u |= uint64(src[b]>>o&byte(1<<n-1)) << done
			done += n
		}
		// Sign-extend from bit bits-1.
		shift := 64 - bits
		vals[j] = int32(int64(u<<shift) >> shift)
	}
}
