package dram_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/sim/dram"
)

// A DMA engine moves a 4 KiB tile with at most 16 bursts in flight, then a second tile
// while the first one's last bursts are still on their way.
func ExampleController_Transfer() {
	dp, err := hw.LoadDRAM(configs.FS, "dram/lpddr3_1600.toml")
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := dram.New(dp.DRAM)
	if err != nil {
		fmt.Println(err)
		return
	}
	tile := func(base uint64) []dram.Request {
		reqs := make([]dram.Request, 4096/c.BurstBytes())
		for i := range reqs {
			reqs[i] = dram.Request{Addr: base + uint64(i*c.BurstBytes())}
		}
		return reqs
	}
	before := c.Stats()
	accepted, done, err := c.Transfer(tile(0), 16, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("clock", c.Clock(), "burst", c.BurstBytes(), "bytes")
	fmt.Println("tile 1: last burst accepted at cycle", accepted, "data done at", done)
	accepted, done, err = c.Transfer(tile(1<<20), 16, accepted+1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("tile 2: last burst accepted at cycle", accepted, "data done at", done)
	s := c.Stats()
	em := c.EnergyModel()
	fmt.Printf("%d activates, %d row hits, %.0f pJ of activates and reads\n", s.Activates-before.Activates,
		s.RowHits, float64(s.Activates)*em.ActivatePJ+float64(s.ReadBursts)*em.ReadPJ)
	// Output:
	// clock 800MHz burst 64 bytes
	// tile 1: last burst accepted at cycle 220 data done at 284
	// tile 2: last burst accepted at cycle 508 data done at 572
	// 2 activates, 126 row hits, 357375 pJ of activates and reads
}

// Replaying a DRAMsim3-format trace, as `rctsim dram --trace` does.
func ExampleReplay() {
	dp, err := hw.LoadDRAM(configs.FS, "dram/ddr4_3200.toml")
	if err != nil {
		fmt.Println(err)
		return
	}
	trace := `# address, operation, issue cycle
0x0000 READ 0
0x0040 READ 0
0x2000 WRITE 4
0x8000 READ 10
`
	reqs, err := dram.ReadTrace(strings.NewReader(trace), "example.trace")
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := dram.Replay(dp.DRAM, reqs)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d reads, %d writes in %d cycles; %d activates, %d hits, %d misses\n",
		r.Reads, r.Writes, r.Cycles, r.Activates, r.RowHits, r.RowMisses)
	fmt.Printf("average read latency %.1f cycles; energy %.0f pJ, %.1f pJ/bit\n",
		r.AvgReadLatencyCycles, r.Energy.Total, r.PJPerBit)
	// Output:
	// 3 reads, 1 writes in 72 cycles; 3 activates, 1 hits, 3 misses
	// average read latency 54.3 cycles; energy 53295 pJ, 26.0 pJ/bit
}
