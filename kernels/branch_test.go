package kernels

import (
	"strings"
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// branchNet is a residual block whose shortcut is a strided 1x1 convolution with batch
// normalisation (He et al.'s option B), a branch that reads the block's input.
func branchNet() *models.Network {
	in := models.Shape{C: 1, H: 8, W: 8}
	c8 := models.Shape{C: 8, H: 8, W: 8}
	c16 := models.Shape{C: 16, H: 4, W: 4}
	return &models.Network{Name: "branch", Input: in, Classes: 10, Layers: []models.Layer{
		{Name: "stem", Kind: models.Conv2D, In: in, Out: c8, KernelH: 3, KernelW: 3, Stride: 1, Padding: 1},
		{Name: "relu0", Kind: models.ReLU, In: c8, Out: c8},
		{Name: "conv1", Kind: models.Conv2D, In: c8, Out: c16, KernelH: 3, KernelW: 3, Stride: 2, Padding: 1},
		{Name: "bn1", Kind: models.BatchNorm, In: c16, Out: c16, Bias: true},
		{Name: "relu1", Kind: models.ReLU, In: c16, Out: c16},
		{Name: "conv2", Kind: models.Conv2D, In: c16, Out: c16, KernelH: 3, KernelW: 3, Stride: 1, Padding: 1},
		{Name: "bn2", Kind: models.BatchNorm, In: c16, Out: c16, Bias: true},
		{Name: "down", Kind: models.Conv2D, In: c8, Out: c16, KernelH: 1, KernelW: 1, Stride: 2, Branch: true, Source: 1},
		{Name: "down_bn", Kind: models.BatchNorm, In: c16, Out: c16, Bias: true},
		{Name: "add", Kind: models.Add, In: c16, Out: c16, From: 6},
		{Name: "relu2", Kind: models.ReLU, In: c16, Out: c16},
		{Name: "pool", Kind: models.AvgPool, In: c16, Out: models.Shape{C: 16, H: 1, W: 1}, KernelH: 4, KernelW: 4, Stride: 4},
		{Name: "flat", Kind: models.Flatten, In: models.Shape{C: 16, H: 1, W: 1}, Out: models.Shape{C: 16, H: 1, W: 1}},
		{Name: "fc", Kind: models.Linear, In: models.Shape{C: 16, H: 1, W: 1}, Out: models.Shape{C: 10, H: 1, W: 1}, Bias: true},
	}}
}

// TestBranchCompiles checks that a network with a branch compiles for every method with
// the model's MACs, and that the branch's input error is kept for the layer it reads.
func TestBranchCompiles(t *testing.T) {
	net := branchNet()
	if err := net.Validate(); err != nil {
		t.Fatal(err)
	}
	p := defaultProfile(t)
	for _, m := range numerics.Methods {
		const batch = 4
		prog := compile(t, p, net, Options{Method: m, Batch: batch})
		got := phaseMACs(prog)
		for _, ph := range []models.Phase{models.Forward, models.BackwardWeight} {
			if want := net.MACs(ph, batch); got[ph] != want {
				t.Errorf("%s %v: %d MACs, model says %d", m, ph, got[ph], want)
			}
		}
		kept := false
		for _, tn := range prog.Tensors {
			kept = kept || strings.HasSuffix(tn.Name, "down.branch_error")
		}
		if !kept {
			t.Errorf("%s: no tensor keeps the branch's input error", m)
		}
	}
}

// fireNet is a SqueezeNet fire module: a 1x1 squeeze, then a 1x1 and a 3x3 expansion
// side by side (the second a branch reading the squeeze), joined by Concat.
func fireNet() *models.Network {
	in := models.Shape{C: 1, H: 8, W: 8}
	sq := models.Shape{C: 4, H: 8, W: 8}
	ex := models.Shape{C: 8, H: 8, W: 8}
	cat := models.Shape{C: 16, H: 8, W: 8}
	flat := models.Shape{C: 16, H: 1, W: 1}
	return &models.Network{Name: "fire", Input: in, Classes: 10, Layers: []models.Layer{
		{Name: "squeeze", Kind: models.Conv2D, In: in, Out: sq, KernelH: 1, KernelW: 1, Stride: 1, Bias: true},
		{Name: "squeeze_relu", Kind: models.ReLU, In: sq, Out: sq},
		{Name: "expand1", Kind: models.Conv2D, In: sq, Out: ex, KernelH: 1, KernelW: 1, Stride: 1, Bias: true},
		{Name: "expand1_relu", Kind: models.ReLU, In: ex, Out: ex},
		{Name: "expand3", Kind: models.Conv2D, In: sq, Out: ex, KernelH: 3, KernelW: 3, Stride: 1, Padding: 1, Bias: true, Branch: true, Source: 1},
		{Name: "expand3_relu", Kind: models.ReLU, In: ex, Out: ex},
		{Name: "cat", Kind: models.Concat, In: ex, Out: cat, From: 3},
		{Name: "pool", Kind: models.AvgPool, In: cat, Out: flat, KernelH: 8, KernelW: 8, Stride: 8},
		{Name: "flat", Kind: models.Flatten, In: flat, Out: flat},
		{Name: "fc", Kind: models.Linear, In: flat, Out: models.Shape{C: 10, H: 1, W: 1}, Bias: true},
	}}
}

// TestConcatCompiles checks that Concat compiles for every method with the model's
// MACs, and keeps the first operand's share of the error for the layer it joins.
func TestConcatCompiles(t *testing.T) {
	net := fireNet()
	if err := net.Validate(); err != nil {
		t.Fatal(err)
	}
	p := defaultProfile(t)
	for _, m := range numerics.Methods {
		prog := compile(t, p, net, Options{Method: m, Batch: 4})
		got := phaseMACs(prog)
		if want := net.MACs(models.BackwardWeight, 4); got[models.BackwardWeight] != want {
			t.Errorf("%s: %d backward-weight MACs, model says %d", m, got[models.BackwardWeight], want)
		}
		kept := false
		for _, tn := range prog.Tensors {
			kept = kept || tn.Name == "cat.from_error"
		}
		if !kept {
			t.Errorf("%s: no tensor keeps the joined layer's error", m)
		}
	}
}
