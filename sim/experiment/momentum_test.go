package experiment

import (
	"context"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
)

// TestCompareRCTMomentum: a comparison of RCT trained with integer momentum simulates
// the update it trained with (2 bytes of optimizer state per parameter, the MLP's 8-bit
// parameters' 1 byte each), and its device check runs the momentum bit-exact.
func TestCompareRCTMomentum(t *testing.T) {
	net := models.MLP()
	prof, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	o := &CompareOptions{
		TrainOptions: TrainOptions{Out: t.TempDir(), Model: net.Name, Epochs: 1, Steps: 3, Batch: 8, Seed: 1, EvalEvery: 3, RCTMomentum: 0.875},
		Profile:      prof, Methods: []numerics.Variant{{Method: numerics.RCT}}, DeviceSteps: 1,
	}
	if err := o.Check(net); err != nil {
		t.Fatal(err)
	}
	data := train.SyntheticSplit(1, 64, 32, net.Input, net.Classes)
	res, err := Compare(context.Background(), net, data, "synthetic", o, Observer{})
	if err != nil {
		t.Fatal(err)
	}
	mem := res.Methods[0].PeakMemoryBytes
	if mem["optimizer_state"] != 2*net.Params() || mem["weights"] != net.Params() {
		t.Errorf("peak memory %v for %d parameters", mem, net.Params())
	}
	if d := res.DeviceCheck; d == nil || d.Steps != 1 || !d.BitExact {
		t.Errorf("device check %+v", d)
	}
}
