package train

import (
	"context"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// TestONNXLeNetTrainsLikeBuiltin trains the LeNet-5 exported from PyTorch
// (models/testdata/lenet5.onnx) and the built-in LeNet-5 on the same MNIST examples
// with the same seed, and checks that they reach the same accuracy, for RCT and QAT: the
// imported network is the built-in one, so the runs agree exactly.
func TestONNXLeNetTrainsLikeBuiltin(t *testing.T) {
	dir := mnistOrSkip(t)
	data, err := LoadMNIST(dir, true, 1024, 256)
	if err != nil {
		t.Fatal(err)
	}
	imported, err := models.ReadONNXFile("../models/testdata/lenet5.onnx", models.OpenOptions{Values: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []numerics.Method{numerics.RCT, numerics.QAT} {
		cfg := DefaultConfig(m)
		cfg.Epochs, cfg.Batch = 1, 32
		var sums [2]*Summary
		for k, net := range []*models.Network{models.LeNet5(), imported} {
			if sums[k], err = Run(context.Background(), net, data, cfg, RunOutput{}); err != nil {
				t.Fatal(err)
			}
		}
		if a, b := sums[0], sums[1]; a.TestAccuracy != b.TestAccuracy || a.TrainLoss != b.TrainLoss {
			t.Errorf("%s: the built-in reaches %v test accuracy (loss %v), the import %v (%v)", m, a.TestAccuracy, a.TrainLoss, b.TestAccuracy, b.TrainLoss)
		}
		if sums[0].TestAccuracy < 0.5 {
			t.Errorf("%s: %v test accuracy after %d steps: not learning", m, sums[0].TestAccuracy, sums[0].Steps)
		}
	}
}

// probe is one example for TestONNXInitFromModel: pixel (h, w) of a 1x32x32 image is
// ((32h + w) mod 17) / 16, labelled label.
type probe struct{ label int32 }

func (probe) Len() int                 { return 1 }
func (probe) InputShape() models.Shape { return models.Shape{C: 1, H: 32, W: 32} }
func (probe) Classes() int             { return 10 }
func (probe) LabelsPerExample() int    { return 1 }
func (p probe) Fill(idx []int, x []float32, labels []int32) {
	for i := range 32 * 32 {
		x[i] = float32(i%17) / 16
	}
	labels[0] = p.label
}

// TestONNXInitFromModel checks that --init-from-model starts from the ONNX file's
// weights in the right layout: before any step, the FP32 network's log-probabilities
// of an input are PyTorch's for the same weights (testdata/make_onnx.py writes them).
func TestONNXInitFromModel(t *testing.T) {
	text, err := os.ReadFile("../models/testdata/lenet5_logsoftmax.txt")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(text))
	net, err := models.ReadONNXFile("../models/testdata/lenet5.onnx", models.OpenOptions{Values: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(numerics.FP32)
	cfg.InitFromModel = true
	tr, err := NewTrainer(net, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for k, f := range fields {
		want, err := strconv.ParseFloat(f, 64)
		if err != nil {
			t.Fatal(err)
		}
		got := -tr.Evaluate(probe{label: int32(k)}, 1).Loss
		if math.Abs(got-want) > 1e-5 {
			t.Errorf("class %d: log-probability %v, PyTorch %v", k, got, want)
		}
	}
	if len(fields) != 10 {
		t.Fatalf("%d log-probabilities in the file", len(fields))
	}
	seeded, err := NewTrainer(net, DefaultConfig(numerics.FP32))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := seeded.Evaluate(probe{}, 1).Loss, tr.Evaluate(probe{}, 1).Loss; a == b {
		t.Errorf("the seeded and the file's initial weights give the same loss %v", a)
	}
}
