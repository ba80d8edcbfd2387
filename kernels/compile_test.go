package kernels

import (
	"errors"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

func defaultProfile(t testing.TB, sets ...string) *hw.Profile {
	t.Helper()
	p, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ApplySets(sets); err != nil {
		t.Fatal(err)
	}
	return p
}

func compile(t *testing.T, p *hw.Profile, net *models.Network, opt Options) *Program {
	t.Helper()
	prog, err := Compile(net, p, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := prog.Validate(); err != nil {
		t.Fatal(err)
	}
	return prog
}

// phaseMACs sums the program's MACs by phase.
func phaseMACs(p *Program) [models.NumPhases]int64 {
	var s [models.NumPhases]int64
	for _, in := range p.All() {
		s[in.Phase] += in.MACs()
	}
	return s
}

func TestMACsMatchModel(t *testing.T) {
	p := defaultProfile(t)
	for _, name := range models.Names() {
		net, _ := models.ByName(name)
		for _, m := range numerics.Methods {
			const batch = 8
			got := phaseMACs(compile(t, p, net, Options{Method: m, Batch: batch}))
			if want := net.MACs(models.Forward, batch); got[models.Forward] != want {
				t.Errorf("%s %s forward: %d MACs, model says %d", name, m, got[models.Forward], want)
			}
			if want := net.MACs(models.BackwardWeight, batch); got[models.BackwardWeight] != want {
				t.Errorf("%s %s backward-weight: %d MACs, model says %d", name, m, got[models.BackwardWeight], want)
			}
			// A convolution's backward-data runs as a full convolution over the
			// zero-padded error, so the array does at least the useful MACs.
			if want := net.MACs(models.BackwardData, batch); got[models.BackwardData] < want {
				t.Errorf("%s %s backward-data: %d MACs, fewer than the model's %d", name, m, got[models.BackwardData], want)
			}
			if got[models.Update] != 0 || got[models.PrecisionControl] != 0 {
				t.Errorf("%s %s: GEMMs outside the GEMM phases: %v", name, m, got)
			}
		}
	}
}

func TestForwardOnly(t *testing.T) {
	p := defaultProfile(t)
	prog := compile(t, p, models.LeNet5(), Options{Method: numerics.RCT, Batch: 4, ForwardOnly: true})
	for i := range prog.Len() {
		if ph := prog.Instr(i).Phase; ph != models.Forward {
			t.Fatalf("instruction %d in phase %s", i, ph)
		}
	}
	if prog.Footprint[ClassErrors] != 0 || prog.Footprint[ClassMasterWeights] != 0 {
		t.Errorf("inference program holds training state: %v", prog.Footprint)
	}
}

func TestFootprint(t *testing.T) {
	p := defaultProfile(t)
	net := models.MLP() // every row is whole bytes at 8 bits: exact counts
	params := net.Params()
	cases := []struct {
		method                       numerics.Method
		weights, master, optimizer   int64
		errorsNonZero, activationsFP bool
	}{
		{numerics.RCT, params, 0, 0, true, false},
		{numerics.QAT, params, 4 * params, 4 * params, true, true},
		{numerics.FP32, 4 * params, 0, 4 * params, true, true},
		{numerics.NITI, params, 0, 2 * params, true, false}, // int16 update buffers
		{numerics.FP8, params, 4 * params, 4 * params, true, false},
	}
	for _, c := range cases {
		prog := compile(t, p, net, Options{Method: c.method, Batch: 10})
		f := prog.Footprint
		if f[ClassWeights] != c.weights || f[ClassMasterWeights] != c.master || f[ClassOptimizerState] != c.optimizer {
			t.Errorf("%s: weights %d master %d optimizer %d, want %d %d %d", c.method,
				f[ClassWeights], f[ClassMasterWeights], f[ClassOptimizerState], c.weights, c.master, c.optimizer)
		}
		// Activations: the input and every stored layer output, per example.
		per := int64(784 + 256 + 128 + 10)
		if c.activationsFP {
			per *= 4
		}
		if f[ClassActivations] != 10*per {
			t.Errorf("%s: activations %d bytes, want %d", c.method, f[ClassActivations], 10*per)
		}
	}
	noMomentum := compile(t, p, net, Options{Method: numerics.QAT, Batch: 10, NoMomentum: true})
	if noMomentum.Footprint[ClassOptimizerState] != 0 {
		t.Error("NoMomentum still allocates momentum")
	}
}

func TestPlanErrors(t *testing.T) {
	p := defaultProfile(t)
	cases := []struct {
		opt  Options
		want string
	}{
		{Options{Method: numerics.RCT, Batch: 0}, "batch must be positive"},
		{Options{Method: "sgd", Batch: 4}, "unknown method"},
		{Options{Method: numerics.RCT, Batch: 4, Plan: numerics.Plan{Bits: []int{8, 8}}}, "lists 2 bitwidths but lenet5 has 5"},
		{Options{Method: numerics.RCT, Batch: 4, Plan: numerics.Plan{Bits: []int{1}}}, "outside 2..32"},
		{Options{Method: numerics.RCT, Batch: 4, Plan: numerics.Plan{Bits: []int{40}}}, "outside 2..32"},
		// The default chip's widest integer mode is 16x16: 24-bit weights cannot run.
		{Options{Method: numerics.RCT, Batch: 4, Plan: numerics.Plan{Bits: []int{24}}}, "no MAC mode for 24x8"},
	}
	for _, c := range cases {
		_, err := Compile(models.LeNet5(), p, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want it to contain %q", c.opt, err, c.want)
		}
		var ce *CompileError
		if !errors.As(err, &ce) {
			t.Errorf("%+v: error %T is not a *CompileError", c.opt, err)
		}
	}
}

func TestTileThatCannotFitNamesTheLayer(t *testing.T) {
	p := defaultProfile(t, "sram.global.capacity=256B", "sram.global.banks=1", "sram.global.bank_width_bytes=8")
	_, err := Compile(models.LeNet5(), p, Options{Method: numerics.RCT, Batch: 4})
	var ce *CompileError
	if !errors.As(err, &ce) || ce.Layer == "" || !strings.Contains(err.Error(), "does not fit") {
		t.Fatalf("error %v: want a CompileError naming the layer that does not fit", err)
	}
	if !strings.Contains(err.Error(), "layer "+ce.Layer) {
		t.Errorf("message %q does not name layer %s", err, ce.Layer)
	}
}

func TestSmallSRAMMeansMoreTiles(t *testing.T) {
	big := compile(t, defaultProfile(t), models.LeNet5(), Options{Method: numerics.RCT, Batch: 32})
	small := compile(t, defaultProfile(t, "sram.global.capacity=32KiB"), models.LeNet5(), Options{Method: numerics.RCT, Batch: 32})
	if small.Len() <= big.Len() {
		t.Errorf("32 KiB SRAM: %d instructions, 512 KiB: %d; smaller tiles should need more", small.Len(), big.Len())
	}
	if a, b := phaseMACs(small), phaseMACs(big); a != b {
		t.Errorf("tiling changed the work: %v vs %v", a, b)
	}
}

func TestBitwidthChangeAddsConversion(t *testing.T) {
	p := defaultProfile(t)
	same := compile(t, p, models.LeNet5(), Options{Method: numerics.RCT, Batch: 4, Plan: numerics.Plan{Bits: []int{8}, NextBits: []int{8}, Control: true}})
	grow := compile(t, p, models.LeNet5(), Options{Method: numerics.RCT, Batch: 4, Plan: numerics.Plan{Bits: []int{8}, NextBits: []int{8, 9, 8, 8, 8}, Control: true}})
	count := func(p *Program, v VectorOp) int {
		n := 0
		for i := range p.Len() {
			if p.Instr(i).Op == OpVector && p.Instr(i).VOp == v {
				n++
			}
		}
		return n
	}
	if count(same, VConvert) != 0 || count(grow, VConvert) == 0 {
		t.Errorf("conversion passes: %d without a change, %d with one", count(same, VConvert), count(grow, VConvert))
	}
	if count(same, VControl) != 5 {
		t.Errorf("%d controller decisions, want one per weight layer", count(same, VControl))
	}
	// The weight tensor is allocated for the wider of the two widths.
	var w Tensor
	for _, t := range grow.Tensors {
		if t.Name == "conv2.w" {
			w = t
		}
	}
	if want := int64(16 * ceilDiv(150*9, 8)); w.Bytes != want {
		t.Errorf("conv2.w holds %d bytes, want %d for 9-bit rows", w.Bytes, want)
	}
}

func TestDependenciesPointBackward(t *testing.T) {
	prog := compile(t, defaultProfile(t), models.LeNet5(), Options{Method: numerics.QAT, Batch: 8})
	for i, in := range prog.All() {
		for _, d := range in.Deps {
			if prog.Op(int(d)).Unit() == in.Unit() {
				t.Errorf("instruction %d depends on %d on its own unit (%s): implicit, should be dropped", i, d, in.Unit())
			}
		}
	}
}

func TestParseBits(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
		ok   bool
	}{{"8", []int{8}, true}, {"8,6, 8,8,8", []int{8, 6, 8, 8, 8}, true}, {"", nil, false}, {"8,x", nil, false}, {"0", nil, false}, {"33", nil, false}} {
		got, err := numerics.ParseBits(c.in)
		if (err == nil) != c.ok || (c.ok && len(got) != len(c.want)) {
			t.Errorf("ParseBits(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestTiles(t *testing.T) {
	cases := []struct {
		d     dim
		size  int64
		tiles int
	}{
		{spatialDim(4, 28, 28), 2 * 784, 2},
		{spatialDim(4, 28, 28), 784, 4},
		{spatialDim(4, 28, 28), 10 * 28, 12}, // 3 row tiles per image
		{groupDim(16, 25), 4 * 25, 4},
		{flatDim(10), 3, 4},
	}
	for _, c := range cases {
		ts := c.d.tiles(c.size)
		if len(ts) != c.tiles {
			t.Errorf("%+v by %d: %d tiles, want %d", c.d, c.size, len(ts), c.tiles)
		}
		covered := int64(0)
		for i, tl := range ts {
			if tl.len() > c.size || tl.len() <= 0 {
				t.Errorf("%+v: tile %d has %d elements", c.d, i, tl.len())
			}
			if i > 0 && tl.lo != ts[i-1].hi {
				t.Errorf("%+v: tile %d starts at %d, previous ends at %d", c.d, i, tl.lo, ts[i-1].hi)
			}
			covered += tl.len()
		}
		if covered != c.d.size() {
			t.Errorf("%+v: tiles cover %d of %d", c.d, covered, c.d.size())
		}
	}
}

// TestCompileErrorKinds checks that the errors a caller branches on are found with
// errors.Is through the CompileError that names the layer: every way a layer can fail
// to fit the SRAM (GEMM tiles, the chunks of a normalisation, an embedding, a streamed
// vector pass) is ErrNoFit, and a float method on an integer-only chip is
// hw.ErrUnsupportedMode.
func TestCompileErrorKinds(t *testing.T) {
	small := func(size string) *hw.Profile {
		return defaultProfile(t, "sram.global.capacity="+size, "sram.global.banks=1", "sram.global.bank_width_bytes=8")
	}
	edgeTPU, err := hw.LoadFS(configs.FS, "edge_tpu.toml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		net    *models.Network
		prof   *hw.Profile
		method numerics.Method
		kind   error
		msg    string
	}{
		{"gemm tiles", models.LeNet5(), small("256B"), numerics.RCT, ErrNoFit, "even the smallest tiles"},
		{"chunks", models.Transformer(), small("4KiB"), numerics.RCT, ErrNoFit, "layer normalisation does not fit the SRAM"},
		{"embedding", models.Transformer(), small("512B"), numerics.RCT, ErrNoFit, "embedding does not fit the SRAM"},
		{"vector pass", models.LeNet5(), small("1KiB"), numerics.RCT, ErrNoFit, "maxpool pass does not fit the SRAM"},
		{"float on an integer chip", models.LeNet5(), edgeTPU, numerics.QAT, hw.ErrUnsupportedMode, "has no MAC mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.net, tt.prof, Options{Method: tt.method, Batch: 4})
			var ce *CompileError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v: want a CompileError saying %q", err, tt.msg)
			}
			for _, kind := range []error{ErrNoFit, hw.ErrUnsupportedMode} {
				if got, want := errors.Is(err, kind), kind == tt.kind; got != want {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, kind, got, want)
				}
			}
		})
	}
}

// TestGEMMsCarryTheirConvolution: each tile of a weight layer carries the convolution
// it computes in each pass, which a row stationary array maps (and Validate checks it
// has the tile's MACs); other products carry none.
func TestGEMMsCarryTheirConvolution(t *testing.T) {
	net := &models.Network{Name: "strided", Input: models.Shape{C: 3, H: 9, W: 9}, Classes: 10, Layers: []models.Layer{
		{Name: "conv", Kind: models.Conv2D, In: models.Shape{C: 3, H: 9, W: 9}, Out: models.Shape{C: 8, H: 5, W: 5},
			KernelH: 3, KernelW: 3, Stride: 2, Padding: 1},
		{Name: "flat", Kind: models.Flatten, In: models.Shape{C: 8, H: 5, W: 5}, Out: models.Shape{C: 200, H: 1, W: 1}},
		{Name: "fc", Kind: models.Linear, In: models.Shape{C: 200, H: 1, W: 1}, Out: models.Shape{C: 10, H: 1, W: 1}},
	}}
	prog := compile(t, defaultProfile(t), net, Options{Method: numerics.RCT, Batch: 2, PipelineDepth: 1})
	want := map[[2]int]hw.Conv{
		{0, int(models.Forward)}:        {N: 2, M: 8, C: 3, R: 3, S: 3, E: 5, F: 5, U: 2, D: 1},
		{0, int(models.BackwardWeight)}: {N: 3, M: 8, C: 2, R: 5, S: 5, E: 3, F: 3, U: 1, D: 2},
		{2, int(models.Forward)}:        {N: 2, M: 10, C: 200, R: 1, S: 1, E: 1, F: 1, U: 1, D: 1},
		{2, int(models.BackwardData)}:   {N: 2, M: 200, C: 10, R: 1, S: 1, E: 1, F: 1, U: 1, D: 1},
		{2, int(models.BackwardWeight)}: {N: 200, M: 10, C: 2, R: 1, S: 1, E: 1, F: 1, U: 1, D: 1},
	}
	seen := 0
	for _, in := range prog.All() {
		if in.Op != OpGEMM {
			continue
		}
		if in.Conv.MACs() != in.MACs() {
			t.Errorf("layer %d %s: %+v for a %dx%dx%d GEMM", in.Layer, in.Phase, in.Conv, in.M, in.N, in.K)
		}
		if w, ok := want[[2]int{int(in.Layer), int(in.Phase)}]; ok {
			seen++
			if in.Conv != w {
				t.Errorf("layer %d %s: %+v, want %+v", in.Layer, in.Phase, in.Conv, w)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("%d of the %d expected GEMMs (the first layer has no backward-data)", seen, len(want))
	}
}
