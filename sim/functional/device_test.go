package functional

import (
	"errors"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// TestCovers derives coverage from compiled programs: every model's RCT step compiled
// for functional execution is covered, with and without momentum, and an instruction
// without semantics is named.
func TestCovers(t *testing.T) {
	p, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	for _, model := range models.Names() {
		if model == "mobilenetv2" {
			continue // mobilenetv2_32 has its layers
		}
		net, _ := models.ByName(model)
		for _, k := range []int{0, 3} {
			prog, err := kernels.Compile(net, p, kernels.Options{Method: numerics.RCT, Batch: 2, Functional: true,
				Plan: numerics.Plan{Control: true}, MomentumShift: k})
			if err != nil {
				t.Fatal(err)
			}
			if err := Covers(net, prog); err != nil {
				t.Errorf("%s, momentum shift %d: %v", model, k, err)
			}
		}
		// Without descriptors nothing but plain DMA is covered; the first GEMM, vector
		// instruction or gather is named.
		plain, _ := kernels.Compile(net, p, kernels.Options{Method: numerics.RCT, Batch: 2})
		err = Covers(net, plain)
		var ce *CoverageError
		if !errors.As(err, &ce) || (plain.Instr(ce.Index).Op == kernels.OpLoad && !plain.Instr(ce.Index).Gather) ||
			!strings.Contains(err.Error(), "compile with Options.Functional") {
			t.Errorf("%s without descriptors: %v", model, err)
		}
	}
	// An instruction the device has no semantics for, in an otherwise covered program.
	net := models.LeNet5()
	prog, _ := kernels.Compile(net, p, kernels.Options{Method: numerics.RCT, Batch: 2, Functional: true})
	for i, in := range prog.All() {
		if in.Op == kernels.OpVector && in.VOp == kernels.VMaxPool {
			// The same program with this instruction a softmax.
			edited := &kernels.Program{Model: prog.Model, Profile: prog.Profile, Method: prog.Method, Batch: prog.Batch,
				Tensors: prog.Tensors, Buffers: prog.Buffers, Footprint: prog.Footprint}
			for j, e := range prog.All() {
				if j == i {
					e.VOp = kernels.VSoftmax
				}
				edited.Append(e)
			}
			err := Covers(net, edited)
			if err == nil || !strings.Contains(err.Error(), "softmax") || !strings.Contains(err.Error(), "maxpool layer") {
				t.Errorf("a softmax on a pooling layer: %v", err)
			}
			break
		}
	}
}
