package train

import (
	"testing"
	"time"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// The training-step benchmarks come in two tiers: LeNet-5 and the character model
// (milliseconds a step) always run; ResNet-20 and the transformer (a large share of a
// second a step) are skipped with -short. Besides wall time each reports cpu-ns/op,
// the process's user+system CPU time per step (all goroutines), which is steadier
// than wall time on a shared machine. The PyTorch counterpart of these benchmarks is
// testdata/pytorch_bench.py; the README's table of host-trainer performance compares
// them.

// BenchmarkLeNet5Step times one training step of LeNet-5 on a batch of 32 synthetic
// images, per method (one MNIST epoch is 1,875 such steps).
func BenchmarkLeNet5Step(b *testing.B) {
	benchmarkStep(b, models.LeNet5(), 32)
}

// BenchmarkCharLMStep times one training step of the character model, batch 32.
func BenchmarkCharLMStep(b *testing.B) {
	benchmarkStep(b, models.CharLM(), 32)
}

// BenchmarkResNet20Step times one training step of ResNet-20 (MNIST-sized, 1x32x32),
// batch 32.
func BenchmarkResNet20Step(b *testing.B) {
	if testing.Short() {
		b.Skip("large tier: skipped with -short")
	}
	benchmarkStep(b, models.ResNet20(1), 32)
}

// BenchmarkTransformerStep times one training step of the character transformer,
// batch 32.
func BenchmarkTransformerStep(b *testing.B) {
	if testing.Short() {
		b.Skip("large tier: skipped with -short")
	}
	benchmarkStep(b, models.Transformer(), 32)
}

func benchmarkStep(b *testing.B, net *models.Network, batch int) {
	for _, m := range numerics.Methods {
		b.Run(string(m), func(b *testing.B) {
			t, err := NewTrainer(net, DefaultConfig(m))
			if err != nil {
				b.Fatal(err)
			}
			x, y := randomBatchData(net, batch, 1)
			t.Step(x, y)
			cpu0 := cpuTime()
			for b.Loop() {
				t.Step(x, y)
			}
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu/time.Nanosecond)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
