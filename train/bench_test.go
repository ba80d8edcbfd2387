package train

import (
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// BenchmarkLeNet5Step times one training step of LeNet-5 on a batch of 32 synthetic
// images, per method.
func BenchmarkLeNet5Step(b *testing.B) {
	benchmarkStep(b, models.LeNet5(), 32)
}

// BenchmarkCharLMStep times one training step of the character model, batch 32.
func BenchmarkCharLMStep(b *testing.B) {
	benchmarkStep(b, models.CharLM(), 32)
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
			for b.Loop() {
				t.Step(x, y)
			}
		})
	}
}

// BenchmarkResNet20Step times one training step of ResNet-20 (MNIST-sized, 1x32x32),
// batch 32.
func BenchmarkResNet20Step(b *testing.B) {
	benchmarkStep(b, models.ResNet20(1), 32)
}

// BenchmarkTransformerStep times one training step of the character transformer,
// batch 32.
func BenchmarkTransformerStep(b *testing.B) {
	benchmarkStep(b, models.Transformer(), 32)
}
