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
