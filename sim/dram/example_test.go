package dram_test

import (
	"fmt"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/sim/dram"
)

func Example() {
	spec := hw.DRAMSpec{
		Channels: 1, Ranks: 1, BankGroups: 1, Banks: 8,
		RowSize: 2 << 10, BusWidthBits: 32, DataRate: 3200e6, BurstLength: 16,
		AddressMapping: "rochrababgco", PagePolicy: "open",
		TRCD: hw.Timing{NS: 18, InNS: true}, TRP: hw.Timing{NS: 18, InNS: true},
		TCL: hw.Timing{Cycles: 28}, TRAS: hw.Timing{NS: 42, InNS: true},
		ActivateEnergyPJ: 900, ReadEnergyPJPerBit: 4,
	}
	c, err := dram.New(spec)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("clock", c.Clock(), "burst", c.BurstBytes(), "bytes")
	for _, addr := range []uint64{0, 64, 16 << 10} { // row 0 twice, then row 1 of bank 0
		r := c.Access(addr, false, 0)
		fmt.Printf("addr %5d: bank %d row %d %-8v data %d..%d\n", addr, r.Bank, r.Row, r.Outcome, r.DataStart, r.DataEnd)
	}
	s := c.Stats()
	fmt.Printf("%d activates, %d bytes read, %.0f pJ of activates and reads\n",
		s.Activates, s.ReadBytes, c.EnergyFor(s, 0).TotalPJ())
	// Output:
	// clock 1600MHz burst 64 bytes
	// addr     0: bank 0 row 0 miss     data 57..65
	// addr    64: bank 0 row 0 hit      data 65..73
	// addr 16384: bank 0 row 1 conflict data 154..162
	// 2 activates, 192 bytes read, 7944 pJ of activates and reads
}
