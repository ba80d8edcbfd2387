package sim_test

import (
	"fmt"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/train/numerics"
)

// Simulate one RCT training step of LeNet-5 on the default chip and print where its
// time and energy went. The ledger's components add up to the total; static is the
// chip's leakage over the step's time.
func ExampleMachine_Run() {
	prof, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		panic(err)
	}
	prog, err := kernels.Compile(models.LeNet5(), prof, kernels.Options{Method: numerics.RCT, Batch: 32, Plan: numerics.Plan{Bits: []int{8}}})
	if err != nil {
		panic(err)
	}
	m, err := sim.New(prof, sim.Options{})
	if err != nil {
		panic(err)
	}
	stats, err := m.Run(prog)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d cycles (%.3f ms), %d MACs, array utilisation %.1f%%\n", stats.Cycles, 1e3*stats.Seconds(), stats.MACs, 100*stats.MACUtilization())
	var sum float64
	for c := sim.Component(0); c < sim.NumComponents; c++ {
		e := stats.Energy.Component(c)
		sum += e
		fmt.Printf("%-16s %6.2f µJ\n", c, e*1e-6)
	}
	fmt.Printf("%-16s %6.2f µJ (the sum of the parts: %v)\n", "total", stats.Energy.Total()*1e-6, sum == stats.Energy.Total())
	// Output:
	// 589655 cycles (0.737 ms), 43595520 MACs, array utilisation 28.9%
	// mac               13.08 µJ
	// sram              38.58 µJ
	// dram             149.58 µJ
	// vector             0.16 µJ
	// static            11.37 µJ
	// dram_background   64.35 µJ
	// spad               0.00 µJ
	// noc                0.00 µJ
	// total            277.10 µJ (the sum of the parts: true)
}

// Simulate a whole training run from its precision plans: RCT drops conv2 to 6 bits
// after two steps. Steps with the same plan are simulated once and their results
// reused, which changes no figure.
func ExampleSimulateRun() {
	prof, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		panic(err)
	}
	m, err := sim.New(prof, sim.Options{})
	if err != nil {
		panic(err)
	}
	eight, six := numerics.Plan{Bits: []int{8, 8, 8, 8, 8}}, numerics.Plan{Bits: []int{8, 6, 8, 8, 8}}
	plans := []numerics.Plan{eight, eight, six, six, six}
	run, err := sim.SimulateRun(m, models.LeNet5(), kernels.Options{Method: numerics.RCT, Batch: 32}, plans, true)
	if err != nil {
		panic(err)
	}
	for _, s := range run.PerStep {
		fmt.Printf("step %d: %d cycles, %.2f µJ\n", s.Step, s.Cycles, s.EnergyPJ*1e-6)
	}
	final, peak := run.ParameterBytes()
	fmt.Printf("%d steps, %d distinct plans simulated; parameters %d B at the end, %d B at the peak\n", run.Steps, run.Distinct, final, peak)
	// Output:
	// step 0: 589655 cycles, 277.10 µJ
	// step 1: 589655 cycles, 277.10 µJ
	// step 2: 589656 cycles, 275.90 µJ
	// step 3: 589656 cycles, 275.90 µJ
	// step 4: 589656 cycles, 275.90 µJ
	// 5 steps, 2 distinct plans simulated; parameters 61110 B at the end, 61706 B at the peak
}
