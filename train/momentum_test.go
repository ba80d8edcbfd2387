package train

import (
	"slices"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// TestRCTMomentumStep holds one step of the trainer's momentum update to the
// numerics applied tensor by tensor in one serial pass, from the gradients the
// update saw: random streams, shifts, registers, the controller's statistic and the
// split into tiles across cores all agree. LeNet-5's first dense layer (48,000
// weights) is split into several tiles.
func TestRCTMomentumStep(t *testing.T) {
	net := models.LeNet5()
	cfg := DefaultConfig(numerics.RCT)
	cfg.Momentum = 0.875
	cfg.Policy.Interval = 1 // statistics every step
	tr, err := NewTrainer(net, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for s := range 3 {
		x, y := randomBatchData(net, 8, uint64(s))
		tr.Step(x, y)
	}
	before := cloneState(tr.in.st)
	grads := map[int][2][]gradSeg{}
	tr.in.onGrad = func(j int, w, b []gradSeg) {
		grads[j] = [2][]gradSeg{cloneSegs(w), cloneSegs(b)}
	}
	step := tr.step
	x, y := randomBatchData(net, 8, 99)
	res := tr.Step(x, y)
	in := tr.in
	for j, i := range tr.p.weights {
		want := before.Layers[j]
		var gavg float64
		for part, segs := range grads[j] {
			vals, acc, regs, exp := want.W, want.AccW, want.GradW, want.WExp
			if part == 1 {
				vals, acc, regs, exp = want.B, want.AccB, want.GradB, want.BExp
			}
			if vals == nil {
				continue
			}
			key := numerics.RandKey(in.seed, numerics.RandStream(step, i, part))
			for s, sg := range segs {
				a := acc[sg.lo : sg.lo+len(sg.grad)]
				reg := numerics.ScaleReg{Exp: regs[s].Exp, Set: regs[s].Set}
				if !reg.Set {
					t.Fatalf("layer %d: register unset after 3 steps", j)
				}
				numerics.MomentumAccumulate(a, sg.grad, in.lr.Mant, numerics.UpdateShift(in.lr, sg.exp, exp), 3, reg, numerics.MomentumUnit(exp), in.rounding, key, uint64(sg.lo))
				if part == 0 {
					gavg += numerics.Gavg(numerics.MomentumAbsSum(a), len(want.W), 1, numerics.MomentumFracBits)
				}
				numerics.MomentumApply(vals[sg.lo:sg.lo+len(sg.grad)], a, want.Bits, in.rounding, key, uint64(sg.lo))
				regs[s] = scaleState{Exp: numerics.MomentumUnit(exp), Set: true}
			}
		}
		got := tr.in.st.Layers[j]
		if !slices.Equal(got.W, want.W) || !slices.Equal(got.B, want.B) || !slices.Equal(got.AccW, want.AccW) ||
			!slices.Equal(got.AccB, want.AccB) || !slices.Equal(got.GradW, want.GradW) || !slices.Equal(got.GradB, want.GradB) {
			t.Errorf("weight layer %d: the trainer's momentum update differs from the serial one", j)
		}
		if res.Stats[j].Gavg != gavg {
			t.Errorf("weight layer %d: Gavg %v, want %v (of the buffer)", j, res.Stats[j].Gavg, gavg)
		}
		if slices.Equal(got.AccW, make([]int16, len(got.AccW))) {
			t.Errorf("weight layer %d: momentum buffer all zero after 4 steps", j)
		}
	}
}

func cloneSegs(s []gradSeg) []gradSeg {
	out := make([]gradSeg, len(s))
	for k, sg := range s {
		out[k] = gradSeg{lo: sg.lo, grad: slices.Clone(sg.grad), exp: sg.exp}
	}
	return out
}

// The momentum is rct's only, and only 1 - 2^-k.
func TestMomentumConfig(t *testing.T) {
	for _, tc := range []struct {
		method   numerics.Method
		momentum float64
		want     string // "" for valid
	}{
		{numerics.RCT, 0.875, ""},
		{numerics.RCT, 0.5, ""},
		{numerics.RCT, 0.9, "1 - 2^-k"},
		{numerics.NITI, 0.875, "no momentum"},
		{numerics.QAT, 0.9, ""},
	} {
		cfg := DefaultConfig(tc.method)
		cfg.Momentum = tc.momentum
		err := cfg.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s momentum %v: %v, want %q", tc.method, tc.momentum, err, tc.want)
		}
	}
}
