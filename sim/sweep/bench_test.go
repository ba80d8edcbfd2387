package sweep

import (
	"context"
	"fmt"
	"io"
	"testing"
)

// benchSpec is 64 distinct LeNet-5 training steps (no point repeats another's
// simulation, so the cache does not help): 4 x 4 arrays x 2 SRAM sizes x RCT and QAT.
const benchSpec = `
methods = ["rct", "qat"]
batch = %d
[axes]
"mac_array.rows" = [8, 16, 32, 64]
"mac_array.cols" = [8, 16, 32, 64]
"sram.global.capacity" = ["256KiB", "1MiB"]
`

// BenchmarkSweep measures sweep throughput in points per minute of wall time, with 1
// and 2 workers, and in points per minute of CPU time (which other processes on a
// shared machine do not distort: with free cores, wall throughput approaches it times
// the workers):
//
//	go test -run XXX -bench Sweep -benchtime 5x ./sim/sweep/
func BenchmarkSweep(b *testing.B) {
	for _, batch := range []int{8, 32} {
		spec := mustParse(b, fmt.Sprintf(benchSpec, batch))
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("batch=%d/workers=%d", batch, workers), func(b *testing.B) {
				points := 0
				cpu0 := cpuTime()
				for b.Loop() {
					sum, err := Run(context.Background(), spec, Options{Workers: workers, Stdout: io.Discard})
					if err != nil || sum.Failed > 0 {
						b.Fatalf("%v (%d failed)", err, sum.Failed)
					}
					points += sum.Simulated
				}
				b.ReportMetric(float64(points)/b.Elapsed().Minutes(), "points/min")
				if cpu := cpuTime() - cpu0; cpu > 0 {
					b.ReportMetric(float64(points)/cpu.Minutes(), "points/cpu-min")
				}
			})
		}
	}
}

// resnetSpec is ResNet-20 training steps over array size x SRAM, RCT and QAT: the
// sweep of the bigger models, where DRAM traffic dominates the simulation.
const resnetSpec = `
models = ["resnet20"]
methods = ["rct", "qat"]
batch = 32
fidelity = %q
[axes]
"mac_array.rows,mac_array.cols" = [[8, 8], [16, 16], [32, 32]]
"sram.global.capacity" = ["256KiB", "1MiB"]
`

// BenchmarkSweepResNet20 measures ResNet-20 sweep throughput, exact and fast
// fidelity, on 1 and 2 workers:
//
//	go test -run XXX -bench SweepResNet20 -benchtime 1x -count 5 ./sim/sweep/
func BenchmarkSweepResNet20(b *testing.B) {
	for _, fidelity := range []string{"exact", "fast"} {
		spec := mustParse(b, fmt.Sprintf(resnetSpec, fidelity))
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("fidelity=%s/workers=%d", fidelity, workers), func(b *testing.B) {
				points := 0
				for b.Loop() {
					sum, err := Run(context.Background(), spec, Options{Workers: workers, Stdout: io.Discard})
					if err != nil || sum.Failed > 0 {
						b.Fatalf("%v (%d failed)", err, sum.Failed)
					}
					points += sum.Simulated
				}
				b.ReportMetric(float64(points)/b.Elapsed().Minutes(), "points/min")
			})
		}
	}
}
