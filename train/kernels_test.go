package train

import (
	"reflect"
	"testing"

	"github.com/rctsim/rctsim/models"
	kgemm "github.com/rctsim/rctsim/train/gemm"
	"github.com/rctsim/rctsim/train/numerics"
	"github.com/rctsim/rctsim/train/vec"
)

// TestKernelSetsTrainAlike trains a small batch-normalised network a few steps with the
// fastest kernels this CPU has (train/gemm's and train/vec's assembly) and again
// with the pure-Go ones, per method: the losses and parameters must be identical. The
// kernels' own tests compare them operation by operation; this checks that the
// trainer gives them the operands they are tested on (channel counts of 16, shapes
// with padding and strides).
func TestKernelSetsTrainAlike(t *testing.T) {
	S := func(c, h, w int) models.Shape { return models.Shape{C: c, H: h, W: w} }
	net := mkNet(t, "bn16", S(2, 8, 8),
		models.Layer{Kind: models.Conv2D, Out: S(16, 8, 8), KernelH: 3, KernelW: 3, Stride: 1, Padding: 1},
		models.Layer{Kind: models.BatchNorm, Out: S(16, 8, 8), Bias: true},
		models.Layer{Kind: models.ReLU, Out: S(16, 8, 8)},
		models.Layer{Kind: models.Conv2D, Out: S(32, 4, 4), KernelH: 3, KernelW: 3, Stride: 2, Padding: 1},
		models.Layer{Kind: models.BatchNorm, Out: S(32, 4, 4), Bias: true},
		models.Layer{Kind: models.ReLU, Out: S(32, 4, 4)},
		models.Layer{Kind: models.AvgPool, Out: S(32, 1, 1), KernelH: 4, KernelW: 4, Stride: 4},
		models.Layer{Kind: models.Flatten, Out: S(32, 1, 1)},
		models.Layer{Kind: models.Linear, Out: S(5, 1, 1), Bias: true},
	)
	const batch, steps = 8, 3
	for _, m := range []numerics.Method{numerics.RCT, numerics.FP32, numerics.QAT} {
		run := func(pure bool) ([]float64, [][]float64, [][]float64) {
			wasGemm, wasVec := kgemm.SetPureGo(pure), vec.SetPureGo(pure)
			defer func() { kgemm.SetPureGo(wasGemm); vec.SetPureGo(wasVec) }()
			cfg := DefaultConfig(m)
			cfg.Batch = batch
			tr, err := NewTrainer(net, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var losses []float64
			for s := range steps {
				x, y := randomBatchData(net, batch, uint64(7+s))
				losses = append(losses, tr.Step(x, y).Loss)
			}
			w, b := params(tr)
			return losses, w, b
		}
		l1, w1, b1 := run(false)
		l2, w2, b2 := run(true)
		if !reflect.DeepEqual(l1, l2) || !reflect.DeepEqual(w1, w2) || !reflect.DeepEqual(b1, b2) {
			t.Errorf("%s: training with %s kernels differs from pure Go (losses %v vs %v)", m, kgemm.Kernels(), l1, l2)
		}
	}
}
