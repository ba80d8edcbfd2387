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
