package models_test

import (
	"fmt"

	"github.com/rctsim/rctsim/models"
)

// Print LeNet-5 layer by layer: the shape each layer reads and writes per example, and
// its trainable parameters (weights plus biases).
func Example() {
	net, err := models.ByName("lenet5")
	if err != nil {
		panic(err)
	}
	for _, l := range net.Layers {
		fmt.Printf("%-8s %-7s %8v -> %-8v %6d\n", l.Name, l.Kind, l.In, l.Out, l.Params())
	}
	fmt.Printf("total parameters: %d\n", net.Params())
	// Output:
	// conv1    conv2d   1x32x32 -> 6x28x28     156
	// relu1    relu     6x28x28 -> 6x28x28       0
	// maxpool2 maxpool  6x28x28 -> 6x14x14       0
	// conv2    conv2d   6x14x14 -> 16x10x10   2416
	// relu4    relu    16x10x10 -> 16x10x10      0
	// maxpool5 maxpool 16x10x10 -> 16x5x5        0
	// flatten6 flatten   16x5x5 -> 400           0
	// fc1      linear       400 -> 120       48120
	// relu8    relu         120 -> 120           0
	// fc2      linear       120 -> 84        10164
	// relu10   relu          84 -> 84            0
	// fc3      linear        84 -> 10          850
	// total parameters: 61706
}

// List the matrix products of the transformer's first attention layer in the forward
// pass: what a compiler lowers, with the operand that holds weights. The per-head
// products run once per head (Count).
func ExampleLayer_GEMMs() {
	net, err := models.ByName("transformer")
	if err != nil {
		panic(err)
	}
	for _, l := range net.Layers {
		if l.Name != "l1.attn" {
			continue
		}
		for _, g := range l.GEMMs(models.Forward) {
			weight := "-"
			if g.Weight != models.NoOperand {
				weight = fmt.Sprintf("W%d", g.Matrix)
			}
			dims := fmt.Sprintf("%d x (%d x %d x %d)", g.Count, g.M, g.N, g.K)
			fmt.Printf("%-8s %-20s weights %-2s %8d MACs\n", g.Name, dims, weight, g.MACs())
		}
		fmt.Printf("forward %d, backward data %d, backward weight %d MACs\n",
			l.MACs(models.Forward), l.MACs(models.BackwardData), l.MACs(models.BackwardWeight))
	}
	// Output:
	// q        1 x (64 x 128 x 128) weights W0  1048576 MACs
	// k        1 x (64 x 128 x 128) weights W1  1048576 MACs
	// v        1 x (64 x 128 x 128) weights W2  1048576 MACs
	// scores   2 x (64 x 64 x 64)   weights -    524288 MACs
	// context  2 x (64 x 64 x 64)   weights -    524288 MACs
	// out      1 x (64 x 128 x 128) weights W3  1048576 MACs
	// forward 5242880, backward data 6291456, backward weight 4194304 MACs
}

// The built-in models with their parameters and forward MACs per example. None is
// experimental any more: the compiler lowers every one.
func ExampleNames() {
	for _, name := range models.Names() {
		net, err := models.ByName(name)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-15s %9d parameters %11d forward MACs\n", name, net.Params(), net.MACs(models.Forward, 1))
	}
	fmt.Println("experimental:", models.ExperimentalNames())
	// Output:
	// charlm              97632 parameters     6029312 forward MACs
	// lenet5              61706 parameters      416520 forward MACs
	// mlp                235146 parameters      234752 forward MACs
	// mobilenetv2       3504872 parameters   300774272 forward MACs
	// mobilenetv2_32    2236106 parameters    87386624 forward MACs
	// resnet20           269434 parameters    40256128 forward MACs
	// transformer        429664 parameters    28049408 forward MACs
	// vgg11             9229962 parameters   151589888 forward MACs
	// experimental: []
}
