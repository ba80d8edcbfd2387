package devcheck

import (
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
)

// TestNITIAndSparseMatchHost runs NITI and RCT with update masks on the simulated chip
// beside the host, for the MLP and LeNet-5 on two chips: weights, NITI's update
// buffers and registers, scales, activations, errors, the gradients the masks keep,
// the controller's statistic and the loss, bit for bit.
func TestNITIAndSparseMatchHost(t *testing.T) {
	type variant struct {
		method numerics.Method
		update string
		policy *train.PolicyConfig
	}
	g := grow()
	variants := []variant{
		{numerics.NITI, "", nil},
		{numerics.NITI, "last:2", nil},
		{numerics.RCT, "last:2", &g},           // the controller decides at every step
		{numerics.RCT, "bias-only", nil},       // frozen weights, learning biases
		{numerics.NITI, "layers:0,b,0.5", nil}, // the MLP's three layers: frozen, bias, half the filters
	}
	for _, name := range []string{"default.toml", "bitfusion.toml"} {
		prof := profile(t, name)
		for _, model := range []string{"mlp", "lenet5"} {
			net, _ := models.ByName(model)
			for _, v := range variants {
				u := v.update
				if model == "lenet5" && u == "layers:0,b,0.5" {
					u = "layers:0,b,0.5,0,1"
				}
				cfg := train.DefaultConfig(v.method)
				cfg.Batch, cfg.Update = 8, u
				if v.policy != nil {
					cfg.Policy = *v.policy
				}
				res := check(t, net, prof, cfg, 3, hooks{})
				if !res.BitExact || res.Steps != 3 {
					t.Errorf("%s %s %s@%s: %s (after %d comparisons)", name, model, v.method, u, res.Detail, res.Compared)
				}
				if v.policy != nil && res.BitChanges == 0 {
					t.Errorf("%s %s %s@%s: the controller changed no width", name, model, v.method, u)
				}
			}
		}
	}
}

// TestNITICheckFails: one wrong update buffer value on the device is found.
func TestNITICheckFails(t *testing.T) {
	net := models.MLP()
	cfg := train.DefaultConfig(numerics.NITI)
	cfg.Batch = 8
	res := check(t, net, profile(t, "default.toml"), cfg, 2, hooks{state: func(st *numerics.IntState) {
		st.Layers[1].AccW[3]++
	}})
	if res.BitExact {
		t.Fatal("a changed update buffer went unnoticed")
	}
}
