package models

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The expected numbers in these tests are worked out by hand from the architectures
// (kernel sizes, channel counts, feature widths), never by calling the code under test a
// second time.

// layerWant is what one weight layer of a built-in network must have.
type layerWant struct {
	name    string
	weights int64 // in x out, or in_ch x kh x kw x out_ch
	bias    int64
	macs    int64 // forward multiply-accumulates of one example
}

// leNet5Want: 32x32x1 input, 5x5 valid convolutions, 2x2 max pooling.
//
//	conv1: 1x32x32 -> 6x28x28, weights 1*5*5*6 = 150, bias 6,   MACs 28*28*6*(1*5*5)  = 117,600
//	pool:  6x28x28 -> 6x14x14
//	conv2: 6x14x14 -> 16x10x10, weights 6*5*5*16 = 2,400, bias 16, MACs 10*10*16*(6*5*5) = 240,000
//	pool:  16x10x10 -> 16x5x5, flatten -> 400
//	fc1:   400 -> 120, weights 48,000, bias 120
//	fc2:   120 -> 84,  weights 10,080, bias 84
//	fc3:   84 -> 10,   weights 840,    bias 10
var leNet5Want = []layerWant{
	{"conv1", 150, 6, 117_600},
	{"conv2", 2_400, 16, 240_000},
	{"fc1", 48_000, 120, 48_000},
	{"fc2", 10_080, 84, 10_080},
	{"fc3", 840, 10, 840},
}

// mlpWant: 784 -> 256 -> 128 -> 10.
var mlpWant = []layerWant{
	{"fc1", 200_704, 256, 200_704},
	{"fc2", 32_768, 128, 32_768},
	{"fc3", 1_280, 10, 1_280},
}

func TestWeightLayerCounts(t *testing.T) {
	tests := []struct {
		net  *Network
		want []layerWant
	}{
		{LeNet5(), leNet5Want},
		{MLP(), mlpWant},
	}
	for _, tt := range tests {
		t.Run(tt.net.Name, func(t *testing.T) {
			idx := tt.net.WeightLayers()
			if len(idx) != len(tt.want) {
				t.Fatalf("WeightLayers() = %v, want %d layers", idx, len(tt.want))
			}
			for j, i := range idx {
				l := &tt.net.Layers[i]
				w := tt.want[j]
				if l.Name != w.name {
					t.Errorf("weight layer %d is %q, want %q", j, l.Name, w.name)
				}
				if got := l.WeightParams(); got != w.weights {
					t.Errorf("%s: WeightParams() = %d, want %d", w.name, got, w.weights)
				}
				if got := l.BiasParams(); got != w.bias {
					t.Errorf("%s: BiasParams() = %d, want %d", w.name, got, w.bias)
				}
				if got := l.Params(); got != w.weights+w.bias {
					t.Errorf("%s: Params() = %d, want %d", w.name, got, w.weights+w.bias)
				}
				for _, p := range []Phase{Forward, BackwardData, BackwardWeight} {
					if got := l.MACs(p); got != w.macs {
						t.Errorf("%s: MACs(%v) = %d, want %d", w.name, p, got, w.macs)
					}
				}
				for _, p := range []Phase{Update, PrecisionControl} {
					if got := l.MACs(p); got != 0 {
						t.Errorf("%s: MACs(%v) = %d, want 0", w.name, p, got)
					}
				}
			}
		})
	}
}

func TestLeNet5PerLayerParams(t *testing.T) {
	// The brief's per-layer totals, weights plus biases.
	want := map[string]int64{"conv1": 156, "conv2": 2_416, "fc1": 48_120, "fc2": 10_164, "fc3": 850}
	net := LeNet5()
	got := map[string]int64{}
	for _, i := range net.WeightLayers() {
		got[net.Layers[i].Name] = net.Layers[i].Params()
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("per-layer params = %v, want %v", got, want)
	}
}

func TestNetworkTotals(t *testing.T) {
	tests := []struct {
		name    string
		net     *Network
		params  int64
		classes int
		input   Shape
		// Per-example MACs by phase. Backward-data skips the first weight layer (its
		// input is data, nobody needs its error); backward-weight equals forward.
		fwd, bwdData, bwdWeight int64
	}{
		{
			name: "lenet5", net: LeNet5(),
			params:  156 + 2_416 + 48_120 + 10_164 + 850, // 61,706
			classes: 10, input: Shape{1, 32, 32},
			fwd:       117_600 + 240_000 + 48_000 + 10_080 + 840, // 416,520
			bwdData:   240_000 + 48_000 + 10_080 + 840,           // 298,920
			bwdWeight: 117_600 + 240_000 + 48_000 + 10_080 + 840,
		},
		{
			name: "mlp", net: MLP(),
			params:  (784*256 + 256) + (256*128 + 128) + (128*10 + 10), // 235,146
			classes: 10, input: Shape{1, 28, 28},
			fwd:       784*256 + 256*128 + 128*10, // 234,752
			bwdData:   256*128 + 128*10,           // 34,048
			bwdWeight: 784*256 + 256*128 + 128*10,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.net
			if n.Name != tt.name {
				t.Errorf("Name = %q, want %q", n.Name, tt.name)
			}
			if got := n.Params(); got != tt.params {
				t.Errorf("Params() = %d, want %d", got, tt.params)
			}
			if n.Classes != tt.classes {
				t.Errorf("Classes = %d, want %d", n.Classes, tt.classes)
			}
			if n.Input != tt.input {
				t.Errorf("Input = %v, want %v", n.Input, tt.input)
			}
			phases := []struct {
				p    Phase
				want int64
			}{
				{Forward, tt.fwd},
				{BackwardData, tt.bwdData},
				{BackwardWeight, tt.bwdWeight},
				{Update, 0},
				{PrecisionControl, 0},
			}
			for _, ph := range phases {
				for _, batch := range []int{1, 32} {
					if got, want := n.MACs(ph.p, batch), ph.want*int64(batch); got != want {
						t.Errorf("MACs(%v, %d) = %d, want %d", ph.p, batch, got, want)
					}
				}
			}
		})
	}
}

// The brief states the two headline numbers literally; keep them literal too.
func TestHeadlineParamCounts(t *testing.T) {
	if got := LeNet5().Params(); got != 61_706 {
		t.Errorf("LeNet5 params = %d, want 61,706", got)
	}
	if got := MLP().Params(); got != 235_146 {
		t.Errorf("MLP params = %d, want 235,146", got)
	}
}

func TestLeNet5Shapes(t *testing.T) {
	want := []struct {
		name    string
		kind    Kind
		in, out Shape
	}{
		{"conv1", Conv2D, Shape{1, 32, 32}, Shape{6, 28, 28}},
		{"relu1", ReLU, Shape{6, 28, 28}, Shape{6, 28, 28}},
		{"maxpool2", MaxPool, Shape{6, 28, 28}, Shape{6, 14, 14}},
		{"conv2", Conv2D, Shape{6, 14, 14}, Shape{16, 10, 10}},
		{"relu4", ReLU, Shape{16, 10, 10}, Shape{16, 10, 10}},
		{"maxpool5", MaxPool, Shape{16, 10, 10}, Shape{16, 5, 5}},
		{"flatten6", Flatten, Shape{16, 5, 5}, Shape{400, 1, 1}},
		{"fc1", Linear, Shape{400, 1, 1}, Shape{120, 1, 1}},
		{"relu8", ReLU, Shape{120, 1, 1}, Shape{120, 1, 1}},
		{"fc2", Linear, Shape{120, 1, 1}, Shape{84, 1, 1}},
		{"relu10", ReLU, Shape{84, 1, 1}, Shape{84, 1, 1}},
		{"fc3", Linear, Shape{84, 1, 1}, Shape{10, 1, 1}},
	}
	net := LeNet5()
	if len(net.Layers) != len(want) {
		t.Fatalf("LeNet5 has %d layers, want %d", len(net.Layers), len(want))
	}
	for i, w := range want {
		l := net.Layers[i]
		if l.Name != w.name || l.Kind != w.kind || l.In != w.in || l.Out != w.out {
			t.Errorf("layer %d = %s %s %v->%v, want %s %s %v->%v", i, l.Name, l.Kind, l.In, l.Out, w.name, w.kind, w.in, w.out)
		}
	}
}

func TestGEMMDims(t *testing.T) {
	net := LeNet5()
	tests := []struct {
		layer   int
		m, n, k int64
	}{
		{0, 28 * 28, 6, 1 * 5 * 5},  // conv1
		{3, 10 * 10, 16, 6 * 5 * 5}, // conv2
		{7, 1, 120, 400},            // fc1
		{1, 0, 0, 0},                // relu: no GEMM
		{6, 0, 0, 0},                // flatten: no GEMM
	}
	for _, tt := range tests {
		l := &net.Layers[tt.layer]
		m, n, k := l.GEMMDims()
		if m != tt.m || n != tt.n || k != tt.k {
			t.Errorf("%s: GEMMDims() = (%d, %d, %d), want (%d, %d, %d)", l.Name, m, n, k, tt.m, tt.n, tt.k)
		}
	}
}

func TestWeightLayersAndBackwardData(t *testing.T) {
	tests := []struct {
		net     *Network
		weights []int
	}{
		// conv1 relu pool conv2 relu pool flatten fc1 relu fc2 relu fc3
		{LeNet5(), []int{0, 3, 7, 9, 11}},
		// flatten fc1 relu fc2 relu fc3
		{MLP(), []int{1, 3, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.net.Name, func(t *testing.T) {
			if got := tt.net.WeightLayers(); !reflect.DeepEqual(got, tt.weights) {
				t.Errorf("WeightLayers() = %v, want %v", got, tt.weights)
			}
			first := tt.weights[0]
			for i := range tt.net.Layers {
				if got, want := tt.net.NeedsBackwardData(i), i > first; got != want {
					t.Errorf("NeedsBackwardData(%d) = %v, want %v", i, got, want)
				}
				if got, want := tt.net.Layers[i].HasWeights(), contains(tt.weights, i); got != want {
					t.Errorf("layer %d HasWeights() = %v, want %v", i, got, want)
				}
			}
		})
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestNetworkWithoutWeights(t *testing.T) {
	n := &Network{Name: "id", Input: Shape{3, 1, 1}, Layers: []Layer{{Name: "r", Kind: ReLU, In: Shape{3, 1, 1}, Out: Shape{3, 1, 1}}}}
	if got := n.WeightLayers(); len(got) != 0 {
		t.Errorf("WeightLayers() = %v, want none", got)
	}
	if n.NeedsBackwardData(0) {
		t.Error("NeedsBackwardData(0) = true for a network without weights")
	}
	if got := n.Params(); got != 0 {
		t.Errorf("Params() = %d, want 0", got)
	}
	if got := n.MACs(Forward, 8); got != 0 {
		t.Errorf("MACs(Forward) = %d, want 0", got)
	}
}

func TestValidate(t *testing.T) {
	for _, name := range AllNames() {
		n, err := ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Validate(); err != nil {
			t.Errorf("%s: Validate() = %v", name, err)
		}
	}

	tests := []struct {
		name    string
		mutate  func(n *Network)
		wantErr string
	}{
		{"no layers", func(n *Network) { n.Layers = nil }, "no layers"},
		{"input mismatch", func(n *Network) { n.Input = Shape{3, 32, 32} }, "layer 0 (conv1) expects input 1x32x32 but gets 3x32x32"},
		{"broken chain", func(n *Network) { n.Layers[7].In = Shape{401, 1, 1} }, "layer 7 (fc1) expects input 401 but gets 400"},
		{"empty output", func(n *Network) { n.Layers[11].Out = Shape{0, 1, 1} }, "layer 11 (fc3) has empty output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := LeNet5()
			tt.mutate(n)
			err := n.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestByName(t *testing.T) {
	// Names lists only the models every package supports: tests in kernels/, sim/ and
	// train/ iterate over it. Every built-in model is supported now.
	all := []string{"charlm", "lenet5", "mlp", "mobilenetv2", "mobilenetv2_32", "resnet20", "transformer", "vgg11"}
	if got := Names(); !reflect.DeepEqual(got, all) {
		t.Errorf("Names() = %v, want %v", got, all)
	}
	if got := ExperimentalNames(); len(got) != 0 {
		t.Errorf("ExperimentalNames() = %v, want none", got)
	}
	if got := AllNames(); !reflect.DeepEqual(got, all) {
		t.Errorf("AllNames() = %v, want %v", got, all)
	}
	for _, name := range AllNames() {
		n, err := ByName(name)
		if err != nil || n.Name != name {
			t.Errorf("ByName(%q) = %v, %v", name, n, err)
		}
	}

	// Each call returns a fresh copy: editing one must not leak into the next.
	a, _ := ByName("lenet5")
	a.Layers[0].Name = "edited"
	b, _ := ByName("lenet5")
	if b.Layers[0].Name != "conv1" {
		t.Errorf("ByName shares layers between calls: got %q", b.Layers[0].Name)
	}

	for _, bad := range []string{"", "resnet18", "LeNet5", "lenet5 "} {
		n, err := ByName(bad)
		if err == nil || n != nil {
			t.Errorf("ByName(%q) = %v, %v, want an error", bad, n, err)
			continue
		}
		if !strings.Contains(err.Error(), "unknown model") || !strings.Contains(err.Error(), "lenet5") || !strings.Contains(err.Error(), "resnet20") {
			t.Errorf("ByName(%q) error %q should name the problem and the known models", bad, err)
		}
		if !errors.Is(err, ErrUnknownModel) {
			t.Errorf("ByName(%q) error %q is not ErrUnknownModel", bad, err)
		}
	}
}

func TestShapeAndPhaseStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{Shape{400, 1, 1}.String(), "400"},
		{Shape{6, 28, 28}.String(), "6x28x28"},
		{Shape{3, 1, 7}.String(), "3x1x7"},
		{Forward.String(), "forward"},
		{BackwardData.String(), "backward_data"},
		{BackwardWeight.String(), "backward_weight"},
		{Update.String(), "update"},
		{PrecisionControl.String(), "precision_control"},
		{NumPhases.String(), "Phase(5)"},
		{Phase(-1).String(), "Phase(-1)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if got := (Shape{6, 28, 28}).Elems(); got != 4704 {
		t.Errorf("Elems() = %d, want 4704", got)
	}
}

func TestCharLM(t *testing.T) {
	net := CharLM()
	// embed 96*32; conv1 32*4*128 + 128; conv2 128*4*128 + 128; head 128*96 + 96.
	want := int64(96*32 + 32*4*128 + 128 + 128*4*128 + 128 + 128*96 + 96)
	if got := net.Params(); got != want {
		t.Errorf("charlm params = %d, want %d", got, want)
	}
	if got := net.WeightLayers(); !reflect.DeepEqual(got, []int{0, 1, 3, 5}) {
		t.Errorf("weight layers %v", got)
	}
	for _, i := range []int{1, 3} {
		l := net.Layers[i]
		if !l.Causal || l.Out.W != CharLMContext || l.KernelW != 4 {
			t.Errorf("layer %s: %+v, want a causal 1x4 convolution over %d positions", l.Name, l, CharLMContext)
		}
	}
	if net.Classes != CharLMVocab || net.Layers[len(net.Layers)-1].Out != (Shape{CharLMVocab, 1, CharLMContext}) {
		t.Errorf("output %v, classes %d", net.Layers[len(net.Layers)-1].Out, net.Classes)
	}
}

func TestResidualValidation(t *testing.T) {
	s := Shape{4, 1, 1}
	ok := &Network{Name: "res", Input: s, Layers: []Layer{
		{Name: "fc1", Kind: Linear, In: s, Out: s},
		{Name: "fc2", Kind: Linear, In: s, Out: s},
		{Name: "add", Kind: Add, In: s, Out: s, From: 0},
	}}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid residual: %v", err)
	}
	bad := *ok
	bad.Layers = append([]Layer(nil), ok.Layers...)
	bad.Layers[2].From = 1 // the previous layer itself: not a skip
	if err := bad.Validate(); err == nil {
		t.Error("an Add of the previous layer validated")
	}
}
