package train

import (
	"syscall"
	"testing"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
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
	for _, m := range kernels.Methods {
		b.Run(string(m), func(b *testing.B) {
			t, err := NewTrainer(net, DefaultConfig(m))
			if err != nil {
				b.Fatal(err)
			}
			x, y := randomBatchData(net, batch, 1)
			t.Step(x, y)
			cpu0 := cpuTime()
			steps := 0
			for b.Loop() {
				t.Step(x, y)
				steps++
			}
			// CPU time is steadier than wall time on a shared machine.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(steps), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
