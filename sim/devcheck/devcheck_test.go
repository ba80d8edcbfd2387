package devcheck

import (
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/sim/functional"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
)

func profile(t testing.TB, name string) *hw.Profile {
	t.Helper()
	p, err := hw.LoadFS(configs.FS, name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// opticks is the Opticks text, loaded once per context length.
var opticks sync.Map

func text(t testing.TB, context int) train.Dataset {
	t.Helper()
	if d, ok := opticks.Load(context); ok {
		return d.(train.Dataset)
	}
	ts, err := train.LoadText("", context)
	if err != nil {
		t.Fatal(err)
	}
	opticks.Store(context, ts.Train)
	return ts.Train
}

// dataFor is the data of a network: the Opticks text for one that embeds tokens, else
// synthetic examples of its input's shape (ResNet-20 and MobileNetV2-32 read MNIST
// padded to 32x32: synthetic data of that shape, {1, 32, 32}, in [0, 1]).
func dataFor(t testing.TB, net *models.Network) train.Dataset {
	if net.Layers[0].Kind == models.Embedding {
		return text(t, net.Input.W)
	}
	return train.Synthetic(7, 64, net.Input, net.Classes)
}

// Policies that make the RCT controller decide at every step: grow adds a bit to every
// layer (every update underflows), shrink drops one (every update is large).
func grow() train.PolicyConfig {
	p := train.DefaultPolicyConfig(train.PolicyRCT)
	p.Interval, p.TMin, p.TMax = 1, 1e6, 1e7
	return p
}

func shrink() train.PolicyConfig {
	p := train.DefaultPolicyConfig(train.PolicyRCT)
	p.Interval, p.TMin, p.TMax = 1, 1e-9, 1e-8
	return p
}

func check(t *testing.T, net *models.Network, prof *hw.Profile, cfg train.Config, steps int, h hooks) *Result {
	t.Helper()
	data := dataFor(t, net)
	b := train.NewBatcher(data.Len(), cfg.Batch, 3, true)
	res, err := run(net, prof, cfg, data, b.Epoch(0), steps, h)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDeviceMatchesHost(t *testing.T) {
	for _, name := range []string{"default.toml", "bitfusion.toml"} {
		prof := profile(t, name)
		for _, model := range []string{"mlp", "lenet5"} {
			net, _ := models.ByName(model)
			cfg := train.DefaultConfig(numerics.RCT)
			cfg.Batch = 8
			res := check(t, net, prof, cfg, 3, hooks{})
			if !res.BitExact {
				t.Errorf("%s %s: %s (after %d comparisons)", name, model, res.Detail, res.Compared)
			}
		}
	}
}

// TestLargeModelsMatchHost runs ResNet-20 (synthetic data of MNIST-padded shape),
// MobileNetV2-32 (the same) and the transformer (the Opticks text) on the default
// profile and on LNPU, whose weights, inputs and outputs live in separate buffers:
// several RCT steps with the controller deciding at every step, adding a bit to every
// layer on one chip and dropping one on the other, bit-identical on host and device.
func TestLargeModelsMatchHost(t *testing.T) {
	for _, c := range []struct {
		model, profile string
		policy         train.PolicyConfig
	}{
		{"resnet20", "default.toml", grow()},
		{"resnet20", "lnpu.toml", shrink()},
		{"mobilenetv2_32", "default.toml", shrink()},
		{"mobilenetv2_32", "lnpu.toml", grow()},
		{"transformer", "default.toml", grow()},
		{"transformer", "lnpu.toml", shrink()},
	} {
		t.Run(c.model+"/"+strings.TrimSuffix(c.profile, ".toml"), func(t *testing.T) {
			net, _ := models.ByName(c.model)
			cfg := train.DefaultConfig(numerics.RCT)
			cfg.Batch, cfg.Policy = 2, c.policy
			res := check(t, net, profile(t, c.profile), cfg, 2, hooks{})
			if !res.BitExact {
				t.Fatalf("%s (after %d comparisons)", res.Detail, res.Compared)
			}
			if weights := len(net.WeightLayers()); res.BitChanges != 2*weights {
				t.Errorf("%d width changes in 2 steps of %d weight layers", res.BitChanges, weights)
			}
			t.Logf("%d steps, %d comparisons, %d width changes", res.Steps, res.Compared, res.BitChanges)
		})
	}
}

// kindsNet is a small network with every layer kind of the convolutional models:
// batch normalisation (with a fused ReLU), a depthwise convolution, a residual add, an
// option-A shortcut, average pooling; on two input channels.
func kindsNet() *models.Network {
	s := func(c, h int) models.Shape { return models.Shape{C: c, H: h, W: h} }
	return &models.Network{Name: "kinds", Input: s(2, 8), Classes: 10, Layers: []models.Layer{
		{Name: "conv1", Kind: models.Conv2D, In: s(2, 8), Out: s(8, 8), KernelH: 3, KernelW: 3, Stride: 1, Padding: 1},
		{Name: "bn1", Kind: models.BatchNorm, In: s(8, 8), Out: s(8, 8), Bias: true},
		{Name: "relu1", Kind: models.ReLU, In: s(8, 8), Out: s(8, 8)},
		{Name: "dw", Kind: models.Conv2D, In: s(8, 8), Out: s(8, 8), KernelH: 3, KernelW: 3, Stride: 1, Padding: 1, Groups: 8, Bias: true},
		{Name: "bn2", Kind: models.BatchNorm, In: s(8, 8), Out: s(8, 8), Bias: true},
		{Name: "add", Kind: models.Add, In: s(8, 8), Out: s(8, 8), From: 2},
		{Name: "relu2", Kind: models.ReLU, In: s(8, 8), Out: s(8, 8)},
		{Name: "conv2", Kind: models.Conv2D, In: s(8, 8), Out: s(16, 4), KernelH: 3, KernelW: 3, Stride: 2, Padding: 1, Groups: 2},
		{Name: "bn3", Kind: models.BatchNorm, In: s(16, 4), Out: s(16, 4), Bias: true},
		{Name: "shortcut", Kind: models.ShortcutAdd, In: s(16, 4), Out: s(16, 4), From: 6, Stride: 2, Padding: 4},
		{Name: "relu3", Kind: models.ReLU, In: s(16, 4), Out: s(16, 4)},
		{Name: "pool", Kind: models.AvgPool, In: s(16, 4), Out: s(16, 1), KernelH: 4, KernelW: 4, Stride: 4},
		{Name: "flat", Kind: models.Flatten, In: s(16, 1), Out: s(16, 1)},
		{Name: "fc", Kind: models.Linear, In: s(16, 1), Out: s(10, 1), Bias: true},
	}}
}

// tinyTransformer has every layer kind of the transformer: embeddings, position
// embeddings, layer normalisation, causal attention (heads of 16), residual adds.
func tinyTransformer(t testing.TB) *models.Network {
	net, err := models.NewTransformer(models.TransformerConfig{Name: "tiny", Vocab: models.CharLMVocab, Context: 8,
		Dim: 32, Heads: 2, Layers: 1, Hidden: 64})
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// TestPoliciesAndBitChanges runs every integer policy, with both roundings of the
// update and of the loss error, on small networks holding every layer kind.
func TestPoliciesAndBitChanges(t *testing.T) {
	prof := profile(t, configs.Default)
	cyclic := train.DefaultPolicyConfig(train.PolicyCyclic)
	cyclic.Period, cyclic.MinBits, cyclic.MaxBits = 4, 6, 8 // steps 1..4 at 6, 7, 8, 6 bits: up, then down
	progressive := train.DefaultPolicyConfig(train.PolicyProgressive)
	progressive.TotalSteps, progressive.MinBits, progressive.MaxBits = 4, 6, 9
	cases := []struct {
		name     string
		policy   train.PolicyConfig
		rounding string
		changes  bool
	}{
		{"grow", grow(), "stochastic", true},
		{"shrink", shrink(), "nearest", true},
		{"fixed", train.DefaultPolicyConfig(train.PolicyFixed), "stochastic", false},
		{"cyclic", cyclic, "nearest", true},
		{"progressive", progressive, "stochastic", true},
	}
	for _, net := range []*models.Network{kindsNet(), tinyTransformer(t), models.LeNet5()} {
		for _, c := range cases {
			cfg := train.DefaultConfig(numerics.RCT)
			cfg.Batch, cfg.Policy, cfg.Rounding = 4, c.policy, c.rounding
			if c.rounding == "nearest" {
				cfg.LossRounding = "nearest" // both roundings of the loss error
			}
			res := check(t, net, prof, cfg, 3, hooks{})
			if !res.BitExact {
				t.Errorf("%s %s: %s", net.Name, c.name, res.Detail)
			}
			if (res.BitChanges > 0) != c.changes {
				t.Errorf("%s %s: %d width changes", net.Name, c.name, res.BitChanges)
			}
		}
	}
}

// wideNet has a batch normalisation too wide for chunks of all its channels in a few
// KiB of SRAM.
func wideNet() *models.Network {
	s := func(c, h int) models.Shape { return models.Shape{C: c, H: h, W: h} }
	return &models.Network{Name: "wide", Input: s(4, 2), Classes: 10, Layers: []models.Layer{
		{Name: "conv", Kind: models.Conv2D, In: s(4, 2), Out: s(192, 2), KernelH: 3, KernelW: 3, Stride: 1, Padding: 1},
		{Name: "bn", Kind: models.BatchNorm, In: s(192, 2), Out: s(192, 2), Bias: true},
		{Name: "relu", Kind: models.ReLU, In: s(192, 2), Out: s(192, 2)},
		{Name: "pool", Kind: models.AvgPool, In: s(192, 2), Out: s(192, 1), KernelH: 2, KernelW: 2, Stride: 2},
		{Name: "flat", Kind: models.Flatten, In: s(192, 1), Out: s(192, 1)},
		{Name: "fc", Kind: models.Linear, In: s(192, 1), Out: s(10, 1), Bias: true},
	}}
}

// TestChunkedLayersMatchHost shrinks the SRAM until the layers whose integer numerics
// span the whole batch take several chunks: layer normalisation (two passes, the first
// finding the coefficients' exponent), the embedding's update (its errors summed into
// a gradient table first), the loss (a first pass finding the error's scale), batch
// normalisation (statistics accumulated over chunks of images and rows; a layer too
// wide for chunks of every channel in two loops over chunks of channels).
func TestChunkedLayersMatchHost(t *testing.T) {
	for _, c := range []struct {
		net   *models.Network
		sram  string
		first bool // whether a first pass finds an exponent
	}{
		{tinyTransformer(t), "8KiB", true},
		{kindsNet(), "2KiB", false},
		{wideNet(), "4KiB", true},
	} {
		prof := profile(t, configs.Default)
		if err := prof.ApplySets([]string{"sram.global.capacity=" + c.sram}); err != nil {
			t.Fatal(err)
		}
		cfg := train.DefaultConfig(numerics.RCT)
		cfg.Batch, cfg.Policy = 8, grow()
		var prog *kernels.Program
		res := check(t, c.net, prof, cfg, 2, hooks{device: func(d *functional.Device) { prog = d.Program() }})
		if !res.BitExact || res.BitChanges == 0 {
			t.Errorf("%s in %s: %s (%d width changes)", c.net.Name, c.sram, res.Detail, res.BitChanges)
		}
		// The passes that find a batch-wide exponent first are in the program.
		firstPasses, losses := 0, 0
		for _, in := range prog.All() {
			if in.Fn != nil && in.Fn.Role == kernels.RoleNormMax {
				firstPasses++
			}
			if in.Op == kernels.OpVector && in.VOp == kernels.VSoftmaxXent {
				losses++
			}
		}
		if (firstPasses > 0) != c.first || (c.net.Name == "tiny" && losses < 2) {
			t.Errorf("%s in %s: %d first passes of normalisations, %d loss passes", c.net.Name, c.sram, firstPasses, losses)
		}
	}
}

// TestCheckDetectsADifference makes the device's state differ from the host's (one
// weight moved by one grid step) and expects the check to say so.
func TestCheckDetectsADifference(t *testing.T) {
	prof := profile(t, configs.Default)
	cfg := train.DefaultConfig(numerics.RCT)
	cfg.Batch = 4
	for _, c := range []struct {
		net    *models.Network
		tamper func(*numerics.IntState)
	}{
		{models.MLP(), func(st *numerics.IntState) { st.Layers[1].W[5]++ }},
		// Batch normalisation's running mean, which only evaluation reads.
		{kindsNet(), func(st *numerics.IntState) { st.Running[1].Mean[3]++ }},
		// A delayed scale inside attention: the context's.
		{tinyTransformer(t), func(st *numerics.IntState) { st.Inner[3][numerics.AttnScaleO].Exp++ }},
	} {
		res := check(t, c.net, prof, cfg, 2, hooks{state: c.tamper})
		if res.BitExact || res.Detail == "" {
			t.Errorf("%s: a tampered device passed the check: %+v", c.net.Name, res)
		}
	}
}

// TestCheckDetectsAWrongValue corrupts one value the device computes in the forward
// pass of one layer of each kind (its last instruction that writes), and expects the
// check to fail.
func TestCheckDetectsAWrongValue(t *testing.T) {
	prof := profile(t, configs.Default)
	cfg := train.DefaultConfig(numerics.RCT)
	cfg.Batch = 4
	kinds := kindsNet()
	tf := tinyTransformer(t)
	for _, c := range []struct {
		net   *models.Network
		layer string
	}{
		{kinds, "bn1"}, {kinds, "dw"}, {kinds, "add"}, {kinds, "shortcut"}, {kinds, "pool"},
		{tf, "embed"}, {tf, "pos"}, {tf, "l1.ln1"}, {tf, "l1.attn"},
	} {
		layer := -1
		for i, l := range c.net.Layers {
			if l.Name == c.layer {
				layer = i
			}
		}
		if layer < 0 {
			t.Fatalf("%s has no layer %s", c.net.Name, c.layer)
		}
		var last int32
		tamper := func(d *functional.Device) {
			// The index of the layer's last forward instruction that writes a vector
			// result, found in the program the device runs.
			target := int32(-1)
			for k, in := range d.Program().All() {
				if int(in.Layer) == layer && in.Phase == models.Forward && in.Op == kernels.OpVector && in.C.Bytes > 0 {
					target = int32(k)
				}
			}
			d.AfterExec = func(index int32, _ *kernels.Instr, out []byte) {
				if index == target && len(out) > 0 {
					out[0] ^= 1
					last++
				}
			}
		}
		res := check(t, c.net, prof, cfg, 1, hooks{device: tamper})
		if last == 0 {
			t.Errorf("%s: no instruction of layer %s was corrupted", c.net.Name, c.layer)
		}
		if res.BitExact {
			t.Errorf("%s: one wrong value in layer %s passed the check", c.net.Name, c.layer)
		} else {
			t.Logf("%s %s: %s", c.net.Name, c.layer, res.Detail)
		}
	}
}

// TestDeviceChangesNoTimingOrEnergy runs one RCT step of every model on the default
// chip twice: compiled without functional descriptors and no hook, and compiled with
// them and the functional device executing every instruction. The simulated figures
// must be identical, and the device must have run the whole step.
func TestDeviceChangesNoTimingOrEnergy(t *testing.T) {
	prof := profile(t, configs.Default)
	for _, model := range models.Names() {
		if model == "mobilenetv2" {
			continue // mobilenetv2_32 has its layers; at 224x224 one step takes minutes
		}
		net, _ := models.ByName(model)
		cfg := train.DefaultConfig(numerics.RCT)
		cfg.Batch = 2
		tr, err := train.NewTrainer(net, cfg)
		if err != nil {
			t.Fatal(err)
		}
		data := dataFor(t, net)
		x := make([]float32, 2*int(net.Input.Elems()))
		labels := make([]int32, 2*data.LabelsPerExample())
		data.Fill([]int{0, 1}, x, labels)
		tr.Step(x, labels)
		st, _ := tr.DeviceState()
		x8, exp, err := tr.DeviceBatch(x)
		if err != nil {
			t.Fatal(err)
		}
		opt := kernels.Options{Method: numerics.RCT, Batch: 2, Plan: numerics.Plan{Bits: tr.Bits()}}
		simulate := func(withDevice bool) *sim.Stats {
			opt.Functional = withDevice
			prog, err := kernels.Compile(net, prof, opt)
			if err != nil {
				t.Fatal(err)
			}
			var hooks []sim.Hook
			var d *functional.Device
			if withDevice {
				if d, err = functional.New(net, prog, st); err != nil {
					t.Fatal(err)
				}
				if err := d.LoadBatch(x8, exp, labels); err != nil {
					t.Fatal(err)
				}
				hooks = append(hooks, d)
			}
			m, err := sim.New(prof, sim.Options{Hooks: hooks})
			if err != nil {
				t.Fatal(err)
			}
			s, err := m.Run(prog)
			if err != nil {
				t.Fatal(err)
			}
			if d != nil {
				if _, err := d.Finish(); err != nil {
					t.Fatalf("%s: %v", model, err)
				}
			}
			return s
		}
		plain, fn := simulate(false), simulate(true)
		if !reflect.DeepEqual(plain, fn) {
			t.Errorf("%s: with the functional device %d cycles %g pJ, without %d cycles %g pJ (or other figures differ)",
				model, fn.Cycles, fn.Energy.Total(), plain.Cycles, plain.Energy.Total())
		}
	}
}
