package dram

import (
	"fmt"
	"testing"
)

// BenchmarkTransferSizes is the DMA's use at several transfer sizes: sequential
// reads, 16 outstanding, each transfer starting when the previous one's last burst was
// accepted (as sim's dma() does), on the default profile's LPDDR4 with refresh.
func BenchmarkTransferSizes(b *testing.B) {
	for _, n := range []int{1, 8, 64, 512} {
		for _, mix := range []string{"read", "mixed"} {
			b.Run(fmt.Sprintf("bursts=%d/%s", n, mix), func(b *testing.B) {
				c := mustNew(b, withRefresh(lpddr4()))
				reqs := make([]Request, n)
				var addr, at uint64
				k := 0
				b.ReportAllocs()
				for b.Loop() {
					write := mix == "mixed" && k%3 == 2
					k++
					for i := range reqs {
						reqs[i] = Request{Addr: addr, Write: write}
						addr += bb
					}
					accept, _ := mustTransfer(b, c, reqs, 16, at)
					at = accept + 1
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/burst")
			})
		}
	}
}

// BenchmarkLeNet5Transfers replays the DRAM transfers of one simulated LeNet-5
// training step (recorded from the simulator, see testdata) on the default profile's
// DRAM: the DRAM model's share of sim's BenchmarkStep/lenet5.
func BenchmarkLeNet5Transfers(b *testing.B) {
	specs := equivalenceSpecs(b)
	var spec = specs[0].spec
	for _, s := range specs {
		if s.name == "default.toml" {
			spec = s.spec
		}
	}
	for _, method := range []string{"qat", "rct"} {
		b.Run(method, func(b *testing.B) {
			tl := readTransferLog(b, "lenet5_"+method+"_transfers.txt.gz")
			bursts := 0
			for _, r := range tl.reqs {
				bursts += len(r)
			}
			c := mustNew(b, spec)
			b.ReportAllocs()
			for b.Loop() {
				c.Reset()
				tl.run(b, c, nil, 0)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bursts), "ns/burst")
		})
	}
}
