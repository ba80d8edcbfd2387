package devcheck

import (
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
)

func TestDeviceMatchesHost(t *testing.T) {
	for _, name := range []string{"default.toml", "bitfusion.toml"} {
		prof, err := hw.LoadFS(configs.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, model := range []string{"mlp", "lenet5"} {
			net, _ := models.ByName(model)
			data := train.Synthetic(7, 64, net.Input, 10)
			cfg := train.DefaultConfig(numerics.RCT)
			cfg.Batch = 8
			b := train.NewBatcher(data.Len(), cfg.Batch, 3, true)
			res, err := Run(net, prof, cfg, data, b.Epoch(0), 3)
			if err != nil {
				t.Fatalf("%s %s: %v", name, model, err)
			}
			if !res.BitExact {
				t.Errorf("%s %s: %s (after %d comparisons)", name, model, res.Detail, res.Compared)
			}
			t.Logf("%s %s: %d steps, %d tensors compared", name, model, res.Steps, res.Compared)
		}
	}
}

// TestPoliciesAndBitChanges runs the controller every step with thresholds that make it
// add bits, so steps convert weights on the device; and the other integer policies.
func TestPoliciesAndBitChanges(t *testing.T) {
	prof, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	net := models.LeNet5()
	data := train.Synthetic(11, 64, net.Input, 10)
	grow := train.DefaultPolicyConfig(train.PolicyRCT)
	grow.Interval, grow.TMin, grow.TMax = 1, 1e6, 1e7 // every update underflows: add a bit
	shrink := train.DefaultPolicyConfig(train.PolicyRCT)
	shrink.Interval, shrink.TMin, shrink.TMax = 1, 1e-9, 1e-8 // every update is large: drop a bit
	cyclic := train.DefaultPolicyConfig(train.PolicyCyclic)
	cyclic.Period, cyclic.MinBits, cyclic.MaxBits = 4, 6, 8
	cases := []struct {
		name     string
		policy   train.PolicyConfig
		rounding string
	}{
		{"grow", grow, "stochastic"},
		{"shrink", shrink, "nearest"},
		{"fixed", train.DefaultPolicyConfig(train.PolicyFixed), "stochastic"},
		{"cyclic", cyclic, "stochastic"},
	}
	for _, c := range cases {
		cfg := train.DefaultConfig(numerics.RCT)
		cfg.Batch, cfg.Policy, cfg.Rounding = 8, c.policy, c.rounding
		if c.rounding == "nearest" {
			cfg.LossRounding = "nearest" // both roundings of the loss error
		}
		b := train.NewBatcher(data.Len(), cfg.Batch, 5, true)
		res, err := Run(net, prof, cfg, data, b.Epoch(0), 3)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !res.BitExact {
			t.Errorf("%s: %s", c.name, res.Detail)
		}
	}
}

// TestCheckDetectsADifference makes the device's state differ from the host's (one
// weight moved by one grid step) and expects the check to say so.
func TestCheckDetectsADifference(t *testing.T) {
	prof, _ := hw.LoadFS(configs.FS, configs.Default)
	net := models.MLP()
	data := train.Synthetic(3, 32, net.Input, 10)
	cfg := train.DefaultConfig(numerics.RCT)
	cfg.Batch = 8
	b := train.NewBatcher(data.Len(), cfg.Batch, 1, true)
	tamper := func(st *numerics.IntState) { st.Layers[1].W[5]++ }
	res, err := run(net, prof, cfg, data, b.Epoch(0), 2, tamper)
	if err != nil {
		t.Fatal(err)
	}
	if res.BitExact || res.Detail == "" {
		t.Fatalf("a tampered device passed the check: %+v", res)
	}
}
