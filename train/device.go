// The host's side of running integer training on a simulated device: RCT's state and
// a step's tensors in the device's terms (numerics.IntState, [example][channel][row]
// [column] order), so that the device's results can be compared bit for bit.

package train

import (
	"errors"
	"fmt"

	"github.com/rctsim/rctsim/train/numerics"
)

// DeviceState returns the integer methods' (RCT's, NITI's) architectural state before
// the next step, with the update mask.
func (t *Trainer) DeviceState() (*numerics.IntState, error) {
	if t.in == nil {
		return nil, errors.New("only integer training (rct, niti) has a device state")
	}
	in := t.in
	st := &numerics.IntState{Step: t.step, Seed: in.seed, LR: in.lr, Rounding: in.rounding, LossRounding: in.lossRounding,
		Method: t.cfg.Method, NoQAS: in.noQAS, Update: append([]numerics.LayerUpdate(nil), t.p.update...)}
	if in.niti != nil {
		st.NITIUpdateBits = in.niti.mu
	}
	if in.mom != nil {
		st.MomentumShift = in.mom.k
	}
	regs := func(s []scaleState) []numerics.ScaleReg {
		if s == nil {
			return nil
		}
		out := make([]numerics.ScaleReg, len(s))
		for i, v := range s {
			out[i] = numerics.ScaleReg{Exp: v.Exp, Set: v.Set}
		}
		return out
	}
	for _, L := range in.st.Layers {
		st.Layers = append(st.Layers, numerics.IntLayer{Bits: L.Bits, WExp: L.WExp, BExp: L.BExp,
			W: append([]int32(nil), L.W...), B: append([]int32(nil), L.B...),
			AccW: append([]int16(nil), L.AccW...), AccB: append([]int16(nil), L.AccB...), GradW: regs(L.GradW), GradB: regs(L.GradB)})
	}
	st.Fwd, st.Bwd, st.Res = regs(in.st.Scales.Fwd), regs(in.st.Scales.Bwd), regs(in.st.Scales.Res)
	st.Inner = make([][]numerics.ScaleReg, len(in.st.Scales.Inner))
	for i, s := range in.st.Scales.Inner {
		if s != nil {
			st.Inner[i] = regs(s)
		}
	}
	st.Running = make([]numerics.RunningStats, len(in.st.Running))
	for i, r := range in.st.Running {
		st.Running[i] = numerics.RunningStats{Set: r.Set, Exp: r.Exp,
			Mean: append([]int32(nil), r.Mean...), Var: append([]int32(nil), r.Var...)}
	}
	return st, nil
}

// The attention scales are exported in the trainer's order.
var (
	_ [numerics.AttnScales - attnScales]struct{}
	_ [attnScales - numerics.AttnScales]struct{}
	_ [numerics.AttnScaleDQKV - attnScaleDQKV]struct{}
	_ [attnScaleDQKV - numerics.AttnScaleDQKV]struct{}
)

// DeviceBatch quantises a batch exactly as Step does and returns the int8 values in the
// device's [example][channel][row][column] order and their exponent. A network that
// embeds token ids gets the ids themselves, one byte each (exponent 0).
func (t *Trainer) DeviceBatch(x []float32) ([]int8, int, error) {
	if t.in == nil {
		return nil, 0, errors.New("device batches are int8 inputs of integer training")
	}
	if t.p.embedIn {
		ids := make([]int32, len(x))
		if err := tokenIDs(x, t.p.layers[0].l.Vocab, ids); err != nil {
			return nil, 0, err
		}
		out := make([]int8, len(x))
		for i, id := range ids {
			if id > 127 {
				return nil, 0, fmt.Errorf("token id %d does not fit the device's byte-wide input", id)
			}
			out[i] = int8(id)
		}
		return out, 0, nil
	}
	var m float64
	for _, v := range x {
		m = max(m, float64(max(v, -v)))
	}
	exp := numerics.QuantExp(m, 8)
	out := make([]int8, len(x))
	numerics.Quantize(x, exp, out)
	if c := t.net.Input.C; c > 1 {
		in := t.net.Input
		out = channelMajor(out, len(x)/int(in.Elems()), in.H*in.W, c)
	}
	return out, exp, nil
}

// StepTensors are the int8 tensors and gradients of the last integer step, in the
// device's order: per network layer its output and the error of its output (nil where
// the layer stores none), and per weight layer its gradient accumulators (canonical
// order) as far as the update mask updates the layer: a prefix of its rows, nil when
// its weights are frozen.
type StepTensors struct {
	Act     [][]int8
	ActExp  []int
	Err     [][]int8
	ErrExp  []int
	Grad    [][]int32
	GradExp []int
}

// RecordGradients makes later steps keep every weight layer's gradient accumulators
// for StepTensors (off by default: it copies every gradient).
func (t *Trainer) RecordGradients() {
	if t.in == nil {
		return
	}
	t.grads = make([][]int32, len(t.p.weights))
	t.gradExps = make([]int, len(t.p.weights))
	t.in.onGrad = func(layer int, w, _ []gradSeg) {
		if len(w) == 0 { // frozen weights: no gradient
			t.grads[layer], t.gradExps[layer] = nil, 0
			return
		}
		grad, exp := joinSegments(w)
		t.grads[layer] = append(t.grads[layer][:0], grad...)
		t.gradExps[layer] = exp
	}
}

// StepTensors returns the tensors of the last step of a batch of n examples.
func (t *Trainer) StepTensors(n int) (*StepTensors, error) {
	if t.in == nil {
		return nil, errors.New("only integer training (rct, niti) has int8 step tensors")
	}
	in := t.in
	st := &StepTensors{Grad: t.grads, GradExp: t.gradExps}
	layers := t.net.Layers
	st.Act, st.ActExp = make([][]int8, len(layers)), make([]int, len(layers))
	st.Err, st.ErrExp = make([][]int8, len(layers)), make([]int, len(layers))
	for i, l := range layers {
		size := n * int(l.Out.Elems())
		// A flatten's output is its input's memory, still channels-last.
		shape := flattenedFrom(t.net, i+1)
		c, pos := shape.C, shape.H*shape.W
		st.Act[i] = channelMajor(in.act[i][:size], n, pos, c)
		st.ActExp[i] = in.actExp[i]
		st.Err[i] = channelMajor(in.err[i][:size], n, pos, c)
		st.ErrExp[i] = in.errExp[i]
	}
	return st, nil
}

// channelMajor reorders n examples of pos positions x c channels (channels last) into
// [example][channel][position].
func channelMajor(v []int8, n, pos, c int) []int8 {
	out := make([]int8, len(v))
	for e := range n {
		for p := range pos {
			for ch := range c {
				out[(e*c+ch)*pos+p] = v[(e*pos+p)*c+ch]
			}
		}
	}
	return out
}

// joinSegments returns a weight gradient given in segments as one tensor: the
// segments themselves when there is one, else every segment brought to the finest
// exponent (exact left shifts, saturating at int32, which only an attention layer's
// projections with very different error scales would reach).
func joinSegments(w []gradSeg) ([]int32, int) {
	if len(w) == 1 {
		return w[0].grad, w[0].exp
	}
	e := w[0].exp
	n := 0
	for _, sg := range w {
		e = min(e, sg.exp)
		n = max(n, sg.lo+len(sg.grad))
	}
	out := make([]int32, n)
	for _, sg := range w {
		for k, v := range sg.grad {
			out[sg.lo+k] = int32(numerics.Saturate(numerics.RoundShift(int64(v), e-sg.exp), 32))
		}
	}
	return out, e
}
