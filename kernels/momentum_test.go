package kernels

import (
	"fmt"
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// dramBytes sums a program's DRAM loads and stores by tensor class.
func dramBytes(p *Program) (loads, stores [NumClasses]int64) {
	for _, in := range p.All() {
		switch in.Op {
		case OpLoad:
			loads[in.A.Class] += in.Bytes()
		case OpStore:
			stores[in.A.Class] += in.Bytes()
		}
	}
	return loads, stores
}

// updatedParams is how many parameters of net a mask updates.
func updatedParams(t *testing.T, net *models.Network, u numerics.Update) int64 {
	t.Helper()
	ups, _, err := resolveUpdate(net, u)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, i := range net.WeightLayers() {
		l := &net.Layers[i]
		rows, cols := paramShape(l)
		n += int64(ups[i].UpdatedRows(int(rows))) * cols
		if ups[i].Bias {
			n += l.BiasParams()
		}
	}
	return n
}

// TestMomentumCompile: RCT's integer momentum keeps an int16 buffer per updated
// parameter, moved through DRAM once each way per step: 2 more bytes per updated
// parameter loaded and stored than RCT without it, and 2 more bytes of footprint, with
// every other class unchanged; its update is the two momentum passes over every
// updated parameter in place of VUpdate, the controller's statistic reads the buffer,
// and a bitwidth change converts the weights only. An embedding is the exception
// (table): momentum moves every row of its table each step, so its update runs over
// the whole table, summed from the batch's errors in DRAM, as a batch of several
// chunks does without momentum.
func TestMomentumCompile(t *testing.T) {
	p := defaultProfile(t)
	for _, tc := range []struct {
		model, update  string
		control, table bool
	}{
		{"lenet5", "", true, false},
		{"lenet5", "last:2", false, false},
		{"lenet5", "layers:0,b,0.5,0,1", true, false},
		{"mlp", "", true, false},
		{"resnet20", "", true, false},
		{"charlm", "", true, true},
	} {
		t.Run(fmt.Sprintf("%s@%s", tc.model, tc.update), func(t *testing.T) {
			net, err := models.ByName(tc.model)
			if err != nil {
				t.Fatal(err)
			}
			u := mustUpdate(t, tc.update)
			wl := net.WeightLayers()
			next := make([]int, len(wl))
			for j := range next {
				next[j] = 8 + j%2 // every other layer widens after the step
			}
			plan := numerics.Plan{Bits: []int{8}, NextBits: next, Control: tc.control}
			plain := compile(t, p, net, Options{Method: numerics.RCT, Batch: 4, Plan: plan, Update: u})
			mom := compile(t, p, net, Options{Method: numerics.RCT, Batch: 4, Plan: plan, Update: u, MomentumShift: 3})
			n := updatedParams(t, net, u)
			for c := range NumClasses {
				want := plain.Footprint[c]
				if c == ClassOptimizerState {
					want += 2 * n
				}
				if got := mom.Footprint[c]; got != want && (c == ClassOptimizerState || !tc.table) {
					t.Errorf("footprint of %s: %d bytes with momentum, %d without (%d updated parameters)", c, got, plain.Footprint[c], n)
				}
			}
			pl, ps := dramBytes(plain)
			ml, ms := dramBytes(mom)
			if ml[ClassOptimizerState] != 2*n || ms[ClassOptimizerState] != 2*n {
				t.Errorf("buffer traffic: %d bytes loaded, %d stored; want %d each", ml[ClassOptimizerState], ms[ClassOptimizerState], 2*n)
			}
			for c := range NumClasses {
				if c != ClassOptimizerState && !tc.table && (ml[c] != pl[c] || ms[c] != ps[c]) {
					t.Errorf("%s traffic: %d/%d bytes loaded/stored with momentum, %d/%d without", c, ml[c], ms[c], pl[c], ps[c])
				}
			}
			ops := func(prog *Program) map[VectorOp]int64 {
				m := map[VectorOp]int64{}
				for _, in := range prog.All() {
					if in.Op == OpVector {
						m[in.VOp] += in.Elems
						if in.VOp == VGradStat && (in.A.Class == ClassOptimizerState) != (prog == mom) {
							t.Errorf("statistic over %s", in.A.Class)
						}
					}
				}
				return m
			}
			po, mo := ops(plain), ops(mom)
			if mo[VUpdate] != 0 || mo[VMomentumAccumulate] != n || mo[VMomentumApply] != n || po[VUpdate] != n && !tc.table {
				t.Errorf("update elements: %d VUpdate without momentum; %d, %d, %d VUpdate, accumulate, apply with (%d updated parameters)", po[VUpdate], mo[VUpdate], mo[VMomentumAccumulate], mo[VMomentumApply], n)
			}
			if mo[VGradStat] != po[VGradStat] && !tc.table || mo[VConvert] != po[VConvert] || (po[VGradStat] > 0) != tc.control {
				t.Errorf("statistic and conversion elements: %d, %d with momentum, %d, %d without", mo[VGradStat], mo[VConvert], po[VGradStat], po[VConvert])
			}
		})
	}
}

// TestMomentumOptionErrors: momentum is an option of RCT with k in 1..MaxMomentumShift.
func TestMomentumOptionErrors(t *testing.T) {
	p := defaultProfile(t)
	net := models.LeNet5()
	for _, tc := range []struct {
		method numerics.Method
		k      int
		ok     bool
	}{
		{numerics.RCT, 1, true},
		{numerics.RCT, numerics.MaxMomentumShift, true},
		{numerics.RCT, numerics.MaxMomentumShift + 1, false},
		{numerics.RCT, -1, false},
		{numerics.NITI, 3, false},
		{numerics.QAT, 3, false},
		{numerics.FP32, 0, true},
	} {
		_, err := Compile(net, p, Options{Method: tc.method, Batch: 2, MomentumShift: tc.k})
		if (err == nil) != tc.ok {
			t.Errorf("%s with momentum shift %d: %v", tc.method, tc.k, err)
		}
	}
}
