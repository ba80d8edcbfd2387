package kernels

import (
	"errors"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

func mustUpdate(t *testing.T, s string) numerics.Update {
	t.Helper()
	u, err := numerics.ParseUpdate(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// layerPhaseMACs sums a program's MACs by network layer and phase.
func layerPhaseMACs(p *Program, layers int) [][models.NumPhases]int64 {
	out := make([][models.NumPhases]int64, layers)
	for _, in := range p.All() {
		if in.Layer >= 0 {
			out[in.Layer][in.Phase] += in.MACs()
		}
	}
	return out
}

// TestMethodsCompile: NITI and FP8 in the terms of the chip: NITI's GEMMs are 8x8
// integer products and its update the three NITI passes; FP8's GEMMs run on the fp8
// mode; a chip without fp8 refuses FP8 by name.
func TestMethodsCompile(t *testing.T) {
	p := defaultProfile(t)
	net := models.LeNet5()
	niti := compile(t, p, net, Options{Method: numerics.NITI, Batch: 8})
	ops := map[VectorOp]int{}
	for i, in := range niti.All() {
		if in.Op == OpGEMM && (in.Format != FormatInt || in.WeightBits != 8 || in.ActBits != 8) {
			t.Fatalf("NITI GEMM %d: %s %dx%d", i, in.Format, in.WeightBits, in.ActBits)
		}
		if in.Op == OpVector {
			ops[in.VOp]++
		}
	}
	if ops[VNITIAccumulate] == 0 || ops[VNITIAccumulate] != ops[VNITICarry] || ops[VNITICarry] != ops[VNITIRemainder] || ops[VUpdate] != 0 || ops[VControl] != 0 {
		t.Errorf("NITI's update ops: %v", ops)
	}
	if _, err := Compile(net, p, Options{Method: numerics.NITI, Batch: 8, Plan: numerics.Plan{Bits: []int{6}}}); err == nil {
		t.Error("NITI compiled 6-bit weights")
	}
	fp8 := compile(t, p, net, Options{Method: numerics.FP8, Batch: 8})
	for i, in := range fp8.All() {
		if in.Op == OpGEMM && in.Format != FormatFP8 {
			t.Fatalf("FP8 GEMM %d in %s", i, in.Format)
		}
	}
	lnpu, err := hw.LoadFS(configs.FS, "lnpu.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(net, lnpu, Options{Method: numerics.FP8, Batch: 8}); !errors.Is(err, hw.ErrUnsupportedMode) {
		t.Errorf("FP8 on an fp16 chip: %v", err)
	}
}

// TestSparseUpdateDropsWork: under a mask the compiler emits no backward kernel before
// the first updated layer, no backward-weight GEMM for frozen weights, a fraction of it
// for partial layers, keeps no optimizer state for frozen parameters, and holds fewer
// activations.
func TestSparseUpdateDropsWork(t *testing.T) {
	p := defaultProfile(t)
	net := models.LeNet5() // conv1 0, relu, pool, conv2 3, relu, pool, flatten, fc1 7, relu, fc2 9, relu, fc3 11
	const batch = 8
	for _, m := range numerics.Methods {
		full := compile(t, p, net, Options{Method: m, Batch: batch})
		fullMACs := layerPhaseMACs(full, len(net.Layers))
		for _, spec := range []string{"last:2", "bias-only", "layers:0,b,0.5,0,1"} {
			u := mustUpdate(t, spec)
			prog := compile(t, p, net, Options{Method: m, Batch: batch, Update: u})
			ups, first, err := resolveUpdate(net, u)
			if err != nil {
				t.Fatal(err)
			}
			macs := layerPhaseMACs(prog, len(net.Layers))
			for i, in := range prog.All() {
				if in.Phase != models.Forward && in.Layer >= 0 && int(in.Layer) < first {
					t.Fatalf("%s %s: instruction %d (%s) of layer %d, before the first updated layer %d", m, spec, i, in.Phase, in.Layer, first)
				}
			}
			for _, i := range net.WeightLayers() {
				bw, want := macs[i][models.BackwardWeight], fullMACs[i][models.BackwardWeight]
				switch up := ups[i]; {
				case up.Weights == 0 && bw != 0:
					t.Errorf("%s %s: frozen layer %d has %d backward-weight MACs", m, spec, i, bw)
				case up.Weights == 1 && bw != want:
					t.Errorf("%s %s: layer %d has %d backward-weight MACs, full training %d", m, spec, i, bw, want)
				case up.Weights == 0.5 && bw != want/2:
					t.Errorf("%s %s: half-updated layer %d has %d backward-weight MACs of %d", m, spec, i, bw, want)
				}
				if bd := macs[i][models.BackwardData]; (bd > 0) != (i > first) {
					t.Errorf("%s %s: layer %d backward-data MACs %d (first updated %d)", m, spec, i, bd, first)
				}
			}
			f, ff := prog.Footprint, full.Footprint
			if f[ClassWeights] != ff[ClassWeights] {
				t.Errorf("%s %s: weights %d, full %d", m, spec, f[ClassWeights], ff[ClassWeights])
			}
			if ff[ClassOptimizerState]+ff[ClassMasterWeights] > 0 && f[ClassOptimizerState]+f[ClassMasterWeights] >= ff[ClassOptimizerState]+ff[ClassMasterWeights] {
				t.Errorf("%s %s: state %d, full %d", m, spec, f[ClassOptimizerState]+f[ClassMasterWeights], ff[ClassOptimizerState]+ff[ClassMasterWeights])
			}
			if spec == "last:2" && f[ClassActivations] >= ff[ClassActivations] {
				t.Errorf("%s %s: activations %d, full %d", m, spec, f[ClassActivations], ff[ClassActivations])
			}
		}
	}
	// A fraction of a layer that has no filters is refused.
	if _, err := Compile(models.CharLM(), p, Options{Method: numerics.RCT, Batch: 2, Update: mustUpdate(t, "layers:0.5,1,1,1")}); err == nil {
		t.Error("a fraction of an embedding compiled")
	}
}

// TestFootprintLiveness: activations the backward pass never reads are counted at the
// peak of those live at once, never more than their sum.
func TestFootprintLiveness(t *testing.T) {
	p := defaultProfile(t)
	net := models.LeNet5()
	prog := compile(t, p, net, Options{Method: numerics.RCT, Batch: 8, Update: mustUpdate(t, "last:1")})
	var sum int64
	for _, tn := range prog.Tensors {
		if tn.Class == ClassActivations {
			sum += tn.Bytes
		}
	}
	got := prog.Footprint[ClassActivations]
	// fc3 alone learns: its input (fc2's output, 84 per example) is saved; the rest of
	// the forward pass lives two layers at a time, at most the input and conv1's
	// output (1x32x32 + 6x28x28 per example).
	maxLive := int64(8) * (1*32*32 + 6*28*28 + 84)
	if got > maxLive || got >= sum {
		t.Errorf("activations %d bytes (sum %d, at most %d expected)", got, sum, maxLive)
	}
}
