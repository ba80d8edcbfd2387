package kernels_test

import (
	"fmt"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// Compile one RCT training step of LeNet-5 for the default chip, with 6-bit weights in
// the second convolution, and count its instructions by unit and its MACs by phase.
func ExampleCompile() {
	prof, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		panic(err)
	}
	net := models.LeNet5()
	prog, err := kernels.Compile(net, prof, kernels.Options{
		Method: numerics.RCT,
		Batch:  32,
		Plan:   numerics.Plan{Bits: []int{8, 6, 8, 8, 8}},
	})
	if err != nil {
		panic(err)
	}
	var perUnit [kernels.NumUnits]int
	macs := map[models.Phase]int64{}
	for _, in := range prog.All() {
		perUnit[in.Unit()]++
		macs[in.Phase] += in.MACs()
	}
	for u := kernels.Unit(0); u < kernels.NumUnits; u++ {
		fmt.Printf("%-6s %5d instructions\n", u, perUnit[u])
	}
	for p := models.Forward; p <= models.BackwardWeight; p++ {
		fmt.Printf("%-15s %9d MACs\n", p, macs[p])
	}
	// The first layer's input error is never needed: no backward-data GEMM for it.
	fmt.Println("forward MACs as the model counts them:", macs[models.Forward] == net.MACs(models.Forward, 32))
	// Output:
	// dma      192 instructions
	// mac       56 instructions
	// vector    62 instructions
	// forward          13328640 MACs
	// backward_data    16938240 MACs
	// backward_weight  13328640 MACs
	// forward MACs as the model counts them: true
}
