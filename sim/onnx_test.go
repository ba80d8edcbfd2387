package sim

import (
	"path/filepath"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// TestONNXStepMatchesBuiltin checks that the training step of a built-in network's
// ONNX export (models/testdata, written by PyTorch's exporter) simulates to the same
// cycles and energy as the built-in definition, for every method.
func TestONNXStepMatchesBuiltin(t *testing.T) {
	if raceDetector {
		t.Skip("sequential simulations only, thirty times slower under -race; the ordinary run checks them")
	}
	prof := loadProfile(t, configs.Default)
	for _, tc := range []struct {
		file, builtin string
		methods       []numerics.Method
	}{
		{"lenet5", "lenet5", numerics.Methods},
		{"resnet20", "resnet20", numerics.Methods},
		{"vgg11", "vgg11", numerics.Methods},
		// At 224x224 one method is enough: the methods share the layers' lowering.
		{"mobilenet_v2", "mobilenetv2", []numerics.Method{numerics.RCT}},
		{"transformer", "transformer", numerics.Methods},
	} {
		imported, err := models.ReadONNXFile(filepath.Join("..", "models", "testdata", tc.file+".onnx"), models.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		builtin, err := models.ByName(tc.builtin)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range tc.methods {
			var got [2]*Stats
			for k, net := range []*models.Network{imported, builtin} {
				prog, err := kernels.Compile(net, prof, kernels.Options{Method: m, Batch: 1})
				if err != nil {
					t.Fatalf("%s %s: %v", net.Name, m, err)
				}
				machine, err := New(prof, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if got[k], err = machine.Run(prog); err != nil {
					t.Fatal(err)
				}
			}
			a, b := got[0], got[1]
			if a.Cycles != b.Cycles || a.Energy.Total() != b.Energy.Total() || a.MACs != b.MACs {
				t.Errorf("%s %s: %d cycles, %v pJ, %d MACs; the built-in %d, %v, %d", tc.file, m, a.Cycles, a.Energy.Total(), a.MACs, b.Cycles, b.Energy.Total(), b.MACs)
			}
		}
	}
}
