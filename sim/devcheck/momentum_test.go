package devcheck

import (
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim/functional"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
)

// TestRCTMomentumMatchesHost runs RCT with integer momentum (beta = 0.875, k = 3) on
// the simulated chip beside the host: weights, the momentum buffers and their unit
// registers, the controller's statistic over the buffers, bit for bit; with width
// changes (the next step rescales the buffers), an update mask, biases, batch
// normalisation, and the transformer's embeddings (whose whole table moves) and
// attention.
func TestRCTMomentumMatchesHost(t *testing.T) {
	for _, c := range []struct {
		name     string
		net      *models.Network
		profile  string
		policy   *train.PolicyConfig
		update   string
		rounding string
	}{
		{"lenet5", models.LeNet5(), configs.Default, nil, "", "stochastic"},
		{"lenet5 grow", models.LeNet5(), "bitfusion.toml", ptr(grow()), "", "stochastic"},
		{"mlp last:2", models.MLP(), configs.Default, ptr(grow()), "last:2", "stochastic"},
		{"kinds shrink", kindsNet(), configs.Default, ptr(shrink()), "", "nearest"},
		{"tiny transformer grow", tinyTransformer(t), configs.Default, ptr(grow()), "", "stochastic"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := train.DefaultConfig(numerics.RCT)
			cfg.Batch, cfg.Update, cfg.Rounding, cfg.Momentum = 4, c.update, c.rounding, 0.875
			if c.policy != nil {
				cfg.Policy = *c.policy
			}
			passes := 0
			count := func(d *functional.Device) {
				for _, in := range d.Program().All() {
					if in.Op == kernels.OpVector && in.VOp == kernels.VMomentumAccumulate {
						passes++
					}
				}
			}
			res := check(t, c.net, profile(t, c.profile), cfg, 3, hooks{device: count})
			if passes == 0 {
				t.Fatal("the device ran no momentum")
			}
			if !res.BitExact || res.Steps != 3 {
				t.Fatalf("%s (after %d comparisons)", res.Detail, res.Compared)
			}
			if c.policy != nil && res.BitChanges == 0 {
				t.Error("the controller changed no width")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestRCTMomentumCheckFails: one wrong momentum buffer value, or a device state
// without the momentum the program runs, is found.
func TestRCTMomentumCheckFails(t *testing.T) {
	cfg := train.DefaultConfig(numerics.RCT)
	cfg.Batch, cfg.Momentum = 8, 0.875
	for name, tamper := range map[string]func(*numerics.IntState){
		"buffer":   func(st *numerics.IntState) { st.Layers[1].AccW[3]++ },
		"register": func(st *numerics.IntState) { st.Layers[0].GradW[0].Exp++ },
	} {
		res := check(t, models.MLP(), profile(t, configs.Default), cfg, 2, hooks{state: tamper})
		if res.BitExact {
			t.Errorf("a changed momentum %s went unnoticed", name)
		}
	}
}
