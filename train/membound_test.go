package train

import (
	"runtime"
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// TestMinBatchBytesIsALowerBound checks MinBatchBytes against what building a trainer
// and running one step really allocates.
func TestMinBatchBytesIsALowerBound(t *testing.T) {
	for _, net := range []*models.Network{models.MLP(), models.LeNet5(), models.CharLM()} {
		for _, m := range numerics.Methods {
			const batch = 8
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			tr, err := NewTrainer(net, DefaultConfig(m))
			if err != nil {
				t.Fatal(err)
			}
			x, y := randomBatchData(net, batch, 1)
			tr.Step(x, y)
			runtime.ReadMemStats(&after)
			allocated := int64(after.TotalAlloc - before.TotalAlloc)
			if bound := MinBatchBytes(net, batch); bound > allocated || bound <= 0 {
				t.Errorf("%s %s: MinBatchBytes = %d, but a step allocated %d", net.Name, m, bound, allocated)
			}
		}
	}
}
