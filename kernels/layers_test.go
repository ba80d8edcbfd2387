package kernels

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// layerPhase sums a program's work by layer and phase.
type layerPhase struct {
	layer int32
	phase models.Phase
}

type work struct {
	macs, vectorOps, instrs int64
	loaded, stored          map[int32]int64 // DMA bytes by tensor
}

func workOf(p *Program) map[layerPhase]*work {
	out := map[layerPhase]*work{}
	for _, in := range p.All() {
		k := layerPhase{in.Layer, in.Phase}
		w := out[k]
		if w == nil {
			w = &work{loaded: map[int32]int64{}, stored: map[int32]int64{}}
			out[k] = w
		}
		w.instrs++
		w.macs += in.MACs()
		switch in.Op {
		case OpVector:
			w.vectorOps += in.Elems * in.VOp.OpsPerElement()
		case OpLoad:
			w.loaded[in.Tensor] += in.Bytes()
		case OpStore:
			w.stored[in.Tensor] += in.Bytes()
		}
	}
	return out
}

func tensorNamed(t *testing.T, p *Program, name string) (int32, Tensor) {
	t.Helper()
	for i, tn := range p.Tensors {
		if tn.Name == name {
			return int32(i), tn
		}
	}
	t.Fatalf("no tensor %s", name)
	return 0, Tensor{}
}

// groupedNet is a small network with a depthwise and a grouped convolution.
func groupedNet() *models.Network {
	in := models.Shape{C: 8, H: 8, W: 8}
	return &models.Network{Name: "grouped", Input: in, Classes: 10, Layers: []models.Layer{
		{Name: "dw", Kind: models.Conv2D, In: in, Out: in, KernelH: 3, KernelW: 3, Stride: 1, Padding: 1, Groups: 8, Bias: true},
		{Name: "relu", Kind: models.ReLU, In: in, Out: in},
		{Name: "gc", Kind: models.Conv2D, In: in, Out: models.Shape{C: 4, H: 4, W: 4}, KernelH: 3, KernelW: 3, Stride: 2, Padding: 1, Groups: 2},
		{Name: "bn", Kind: models.BatchNorm, In: models.Shape{C: 4, H: 4, W: 4}, Out: models.Shape{C: 4, H: 4, W: 4}, Bias: true},
		{Name: "flat", Kind: models.Flatten, In: models.Shape{C: 4, H: 4, W: 4}, Out: models.Shape{C: 64, H: 1, W: 1}},
		{Name: "fc", Kind: models.Linear, In: models.Shape{C: 64, H: 1, W: 1}, Out: models.Shape{C: 10, H: 1, W: 1}, Bias: true},
	}}
}

// TestLayerMACsMatchModel checks every layer's GEMM work phase by phase against the
// model's count: equal forward and backward weight, and backward data equal except
// where a strided convolution's error runs as a full convolution.
func TestLayerMACsMatchModel(t *testing.T) {
	p := defaultProfile(t)
	const batch = 2
	for _, net := range []*models.Network{groupedNet(), models.ResNet20(1), models.Transformer()} {
		for _, m := range numerics.Methods {
			w := workOf(compile(t, p, net, Options{Method: m, Batch: batch}))
			for i := range net.Layers {
				l := &net.Layers[i]
				for _, ph := range []models.Phase{models.Forward, models.BackwardData, models.BackwardWeight} {
					want := l.MACs(ph) * batch
					if ph == models.BackwardData && !net.NeedsBackwardData(i) {
						want = 0
					}
					var got int64
					if x := w[layerPhase{int32(i), ph}]; x != nil {
						got = x.macs
					}
					strided := ph == models.BackwardData && l.Stride > 1
					if got != want && !(strided && got > want) {
						t.Errorf("%s %s layer %s %s: %d MACs, model says %d", net.Name, m, l.Name, ph, got, want)
					}
				}
			}
		}
	}
}

// TestVectorWorkCoversModel checks that the vector work of the normalisation,
// attention and position-embedding layers is at least the model's estimate
// (Layer.ElementOps), forward and backward: a lowering may do more (requantisation,
// per-channel arithmetic, recomputation), never less.
func TestVectorWorkCoversModel(t *testing.T) {
	p := defaultProfile(t)
	const batch = 2
	for _, net := range []*models.Network{groupedNet(), models.ResNet20(1), models.Transformer()} {
		for _, m := range numerics.Methods {
			w := workOf(compile(t, p, net, Options{Method: m, Batch: batch}))
			ops := func(i int, phases ...models.Phase) (s int64) {
				for _, ph := range phases {
					if x := w[layerPhase{int32(i), ph}]; x != nil {
						s += x.vectorOps
					}
				}
				return s
			}
			for i := range net.Layers {
				l := &net.Layers[i]
				switch l.Kind {
				case models.BatchNorm, models.LayerNorm, models.Attention, models.PosEmbedding:
				default:
					continue
				}
				if got, want := ops(i, models.Forward), l.ElementOps(models.Forward)*batch; got < want {
					t.Errorf("%s %s %s forward: %d vector ops, model says %d", net.Name, m, l.Name, got, want)
				}
				want := l.ElementOps(models.BackwardWeight)
				if net.NeedsBackwardData(i) || l.Kind == models.Attention {
					want += l.ElementOps(models.BackwardData)
				}
				if got := ops(i, models.BackwardData, models.BackwardWeight); got < want*batch {
					t.Errorf("%s %s %s backward: %d vector ops, model says %d", net.Name, m, l.Name, got, want*batch)
				}
			}
		}
	}
}

// TestGroupedConvolution checks the lowering of grouped convolutions: one product per
// group in one kernel, each N = Cout/groups wide, and the weights stored as the
// canonical [Cout][Cin/groups][kh][kw] rows.
func TestGroupedConvolution(t *testing.T) {
	net := groupedNet()
	prog := compile(t, defaultProfile(t), net, Options{Method: numerics.RCT, Batch: 2})
	gemms := map[layerPhase][]*Instr{}
	for _, in := range prog.All() {
		if in.Op == OpGEMM {
			k := layerPhase{in.Layer, in.Phase}
			gemms[k] = append(gemms[k], &in)
		}
	}
	for _, c := range []struct {
		layer     int32
		groups    int
		n, k, dwN int64
	}{
		{0, 8, 1, 9, 1}, // depthwise: one output channel and 9 taps per group
		{2, 2, 2, 36, 2},
	} {
		fwd := gemms[layerPhase{c.layer, models.Forward}]
		if len(fwd) < c.groups {
			t.Errorf("layer %d: %d forward GEMMs for %d groups", c.layer, len(fwd), c.groups)
		}
		for _, in := range fwd {
			if in.N != c.n || in.K != c.k {
				t.Errorf("layer %d: forward GEMM %dx%dx%d, want N=%d K=%d", c.layer, in.M, in.N, in.K, c.n, c.k)
			}
		}
		for _, in := range gemms[layerPhase{c.layer, models.BackwardWeight}] {
			if in.N != c.dwN {
				t.Errorf("layer %d: weight-gradient GEMM N=%d, want %d", c.layer, in.N, c.dwN)
			}
		}
	}
	if _, w := tensorNamed(t, prog, "dw.w"); w.Bytes != 8*9 {
		t.Errorf("depthwise weights take %d bytes, want %d", w.Bytes, 8*9)
	}
	if _, w := tensorNamed(t, prog, "gc.w"); w.Bytes != 4*4*9 {
		t.Errorf("grouped weights take %d bytes, want %d", w.Bytes, 4*4*9)
	}
}

// TestBatchNormPasses checks batch normalisation's traffic when the layer fits in SRAM:
// its input read once for both forward passes (the second pass starts with the chunks
// the first left resident), its output written once, its statistics saved for the
// backward pass, which reads dy and x once each too.
func TestBatchNormPasses(t *testing.T) {
	net := groupedNet()
	prog := compile(t, defaultProfile(t), net, Options{Method: numerics.RCT, Batch: 2})
	w := workOf(prog)
	x, xt := tensorNamed(t, prog, "gc.out")
	y, yt := tensorNamed(t, prog, "bn.out")
	stats, st := tensorNamed(t, prog, "bn.stats")
	fwd := w[layerPhase{3, models.Forward}]
	if fwd.loaded[x] != xt.Bytes || fwd.stored[y] != yt.Bytes || fwd.stored[stats] != st.Bytes {
		t.Errorf("forward: loaded %d of %d input bytes, stored %d of %d output bytes and %d of %d statistics",
			fwd.loaded[x], xt.Bytes, fwd.stored[y], yt.Bytes, fwd.stored[stats], st.Bytes)
	}
	bwd := w[layerPhase{3, models.BackwardWeight}]
	if bwd.loaded[x] != xt.Bytes || bwd.loaded[stats] != st.Bytes {
		t.Errorf("backward: loaded %d of %d input bytes and %d of %d statistics", bwd.loaded[x], xt.Bytes, bwd.loaded[stats], st.Bytes)
	}
	if data := w[layerPhase{3, models.BackwardData}]; data == nil || len(data.loaded) != 0 {
		t.Errorf("backward data reloads what the weight pass left resident: %+v", data)
	}
	// Inference normalises with the running statistics, in one pass.
	inf := compile(t, defaultProfile(t), net, Options{Method: numerics.RCT, Batch: 2, ForwardOnly: true})
	for _, tn := range inf.Tensors {
		if tn.Name == "bn.stats" {
			t.Error("inference saves batch statistics")
		}
	}
	for _, in := range inf.All() {
		if in.Op == OpVector && in.VOp == VNormStats {
			t.Error("inference takes batch statistics")
		}
	}
}

// TestShortcutTraffic checks ResNet-20's option-A shortcuts: forward reads every other
// row of the skip (whole rows), and backward keeps the skip's error at the output's
// resolution for the merge.
func TestShortcutTraffic(t *testing.T) {
	net := models.ResNet20(1)
	const batch = 2
	prog := compile(t, defaultProfile(t), net, Options{Method: numerics.RCT, Batch: batch})
	w := workOf(prog)
	for i := range net.Layers {
		l := &net.Layers[i]
		if l.Kind != models.ShortcutAdd {
			continue
		}
		skip := net.Layers[l.From].Out
		src, _ := tensorNamed(t, prog, net.Layers[l.From].Name+".out")
		if got, want := w[layerPhase{int32(i), models.Forward}].loaded[src], int64(batch*skip.C*l.Out.H*skip.W); got != want {
			t.Errorf("%s: loaded %d bytes of the skip, want %d (every other row)", l.Name, got, want)
		}
		e, et := tensorNamed(t, prog, l.Name+".skip_error")
		if want := int64(batch * skip.C * l.Out.H * l.Out.W); et.Bytes != want {
			t.Errorf("%s: skip error of %d bytes, want %d", l.Name, et.Bytes, want)
		}
		if got := w[layerPhase{int32(i), models.BackwardData}].stored[e]; got != et.Bytes {
			t.Errorf("%s: stored %d bytes of the skip error, want %d", l.Name, got, et.Bytes)
		}
		if got := w[layerPhase{int32(l.From), models.BackwardData}].loaded[e]; got != et.Bytes {
			t.Errorf("%s: the merge at %s loaded %d bytes of the skip error, want %d", l.Name, net.Layers[l.From].Name, got, et.Bytes)
		}
	}
}

// TestAttentionSavesProbabilities checks attention's saved tensors: the probabilities
// are written once forward and read twice backward (the softmax backward, dV).
func TestAttentionSavesProbabilities(t *testing.T) {
	net := models.Transformer()
	const batch = 2
	prog := compile(t, defaultProfile(t), net, Options{Method: numerics.RCT, Batch: batch})
	w := workOf(prog)
	for i := range net.Layers {
		l := &net.Layers[i]
		if l.Kind != models.Attention {
			continue
		}
		p, pt := tensorNamed(t, prog, l.Name+".probs")
		if want := int64(batch * l.Heads * l.In.W * l.In.W); pt.Bytes != want {
			t.Errorf("%s: probabilities take %d bytes, want %d", l.Name, pt.Bytes, want)
		}
		if got := w[layerPhase{int32(i), models.Forward}].stored[p]; got != pt.Bytes {
			t.Errorf("%s: stored %d bytes of probabilities, want %d", l.Name, got, pt.Bytes)
		}
		if got := w[layerPhase{int32(i), models.BackwardData}].loaded[p]; got != 2*pt.Bytes {
			t.Errorf("%s: backward loaded %d bytes of probabilities, want %d", l.Name, got, 2*pt.Bytes)
		}
		var softmax int64
		for _, in := range prog.All() {
			if in.Layer == int32(i) && in.Op == OpVector && in.VOp == VSoftmaxCausal {
				softmax += in.Elems
			}
		}
		if want := int64(batch * l.Heads * l.In.W * l.In.W); softmax != want {
			t.Errorf("%s: causal softmax over %d scores, want %d", l.Name, softmax, want)
		}
	}
}

// TestEveryModelCompilesOnEveryProfile compiles every model for every method on every
// embedded profile, training and inference: a program, or the typed error of a chip
// without the method's arithmetic. MobileNetV2 at 224x224 is left to the default
// profile (TestMACsMatchModel): its layers are mobilenetv2_32's, and on the smallest
// chips its compilation alone takes seconds.
func TestEveryModelCompilesOnEveryProfile(t *testing.T) {
	names, err := fs.Glob(configs.FS, "*.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, pn := range names {
		p, err := hw.LoadFS(configs.FS, pn)
		if err != nil {
			t.Fatal(err)
		}
		for _, model := range models.Names() {
			if model == "mobilenetv2" {
				continue
			}
			net, _ := models.ByName(model)
			for _, m := range numerics.Methods {
				for _, inference := range []bool{false, true} {
					prog, err := Compile(net, p, Options{Method: m, Batch: 3, ForwardOnly: inference})
					var unsupported *hw.UnsupportedModeError
					switch {
					case errors.As(err, &unsupported):
					case err != nil:
						t.Errorf("%s %s on %s (inference %v): %v", model, m, p.Name, inference, err)
					default:
						if err := prog.Validate(); err != nil {
							t.Errorf("%s %s on %s: %v", model, m, p.Name, err)
						}
					}
				}
			}
		}
	}
}

// TestNewKindsNameTheLayerThatCannotFit shrinks the SRAM until the new kinds' kernels
// cannot tile, and checks the error names the layer.
func TestNewKindsNameTheLayerThatCannotFit(t *testing.T) {
	for _, c := range []struct {
		net  *models.Network
		size string
	}{
		{models.Transformer(), "4KiB"},
		{models.ResNet20(1), "2KiB"},
		{groupedNet(), "256B"},
	} {
		p := defaultProfile(t, "sram.global.capacity="+c.size)
		_, err := Compile(c.net, p, Options{Method: numerics.RCT, Batch: 4})
		var ce *CompileError
		if !errors.As(err, &ce) || ce.Layer == "" || !strings.Contains(err.Error(), "does not fit") {
			t.Errorf("%s in %s: error %v, want a CompileError naming the layer that does not fit", c.net.Name, c.size, err)
		}
	}
}

func TestVectorOpNamesRoundTrip(t *testing.T) {
	for v := VectorOp(0); v < NumVectorOps; v++ {
		got, err := ParseVectorOp(v.String())
		if err != nil || got != v {
			t.Errorf("ParseVectorOp(%q) = %v, %v", v.String(), got, err)
		}
		if v.OpsPerElement() < 1 {
			t.Errorf("%s: %d ops per element", v, v.OpsPerElement())
		}
	}
}

// BenchmarkCompile compiles a training step (batch 32, RCT) of the larger models on the
// default profile: the cost a run whose plans all differ pays every step.
func BenchmarkCompile(b *testing.B) {
	p := defaultProfile(b)
	for _, name := range []string{"resnet20", "mobilenetv2_32", "transformer", "mobilenetv2"} {
		net, _ := models.ByName(name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compile(net, p, Options{Method: numerics.RCT, Batch: 32}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValidate validates the compiled training steps of BenchmarkCompile: the
// simulator validates a program before each run.
func BenchmarkValidate(b *testing.B) {
	p := defaultProfile(b)
	for _, name := range []string{"resnet20", "mobilenetv2_32", "transformer", "mobilenetv2"} {
		net, _ := models.ByName(name)
		prog, err := Compile(net, p, Options{Method: numerics.RCT, Batch: 32})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := prog.Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
