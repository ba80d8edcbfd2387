package models

import (
	"reflect"
	"strings"
	"testing"
)

// Tests of the layer kinds and fields added for the bigger models: grouped convolution,
// batch and layer normalisation, attention, position embedding and the option-A
// shortcut. Expected values are worked out by hand in the comments.

func TestGroupedConv(t *testing.T) {
	tests := []struct {
		name    string
		in, out Shape
		kernel  int
		stride  int
		pad     int
		groups  int
		bias    bool
		weights int64 // (in/groups) * k*k * out
		m, n, k int64 // one group's product
		count   int64
		macs    int64 // per phase: count*m*n*k
	}{
		// A dense convolution, Groups 0 and 1 alike: 8x8 positions, 4 outputs, 2*3*3
		// reduction.
		{"dense0", Shape{2, 8, 8}, Shape{4, 8, 8}, 3, 1, 1, 0, true, 2 * 9 * 4, 64, 4, 18, 1, 64 * 4 * 18},
		{"dense1", Shape{2, 8, 8}, Shape{4, 8, 8}, 3, 1, 1, 1, true, 2 * 9 * 4, 64, 4, 18, 1, 64 * 4 * 18},
		// Two groups of 4 -> 2 channels: weights 4*9*4 = 144; per group 36 x 2 x 36;
		// 2*36*2*36 = 5,184 = 36 positions * 4 outputs * (4*9) inputs each.
		{"groups2", Shape{8, 6, 6}, Shape{4, 6, 6}, 3, 1, 1, 2, false, 144, 36, 2, 36, 2, 5_184},
		// Depthwise, stride 2: 5x5 -> 3x3, 6 groups of one channel: weights 6*9 = 54,
		// per group 9 x 1 x 9, 6*81 = 486.
		{"depthwise", Shape{6, 5, 5}, Shape{6, 3, 3}, 3, 2, 1, 6, false, 54, 9, 1, 9, 6, 486},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Layer{Name: "c", Kind: Conv2D, In: tt.in, Out: tt.out, KernelH: tt.kernel, KernelW: tt.kernel,
				Stride: tt.stride, Padding: tt.pad, Groups: tt.groups, Bias: tt.bias}
			net := &Network{Name: "g", Input: tt.in, Layers: []Layer{l}}
			if err := net.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := l.WeightParams(); got != tt.weights {
				t.Errorf("WeightParams() = %d, want %d", got, tt.weights)
			}
			wantBias := int64(0)
			if tt.bias {
				wantBias = int64(tt.out.C)
			}
			if got := l.BiasParams(); got != wantBias {
				t.Errorf("BiasParams() = %d, want %d", got, wantBias)
			}
			if m, n, k := l.GEMMDims(); m != tt.m || n != tt.n || k != tt.k {
				t.Errorf("GEMMDims() = (%d, %d, %d), want (%d, %d, %d)", m, n, k, tt.m, tt.n, tt.k)
			}
			if got := int64(l.NumGroups()); got != tt.count {
				t.Errorf("NumGroups() = %d, want %d", got, tt.count)
			}
			// Each phase is one product per group: the forward, its transpose against
			// the weights, and the weight gradient.
			want := map[Phase]GEMM{
				Forward:        {Name: "y", M: tt.m, N: tt.n, K: tt.k, Count: tt.count, Weight: OperandB},
				BackwardData:   {Name: "dx", M: tt.m, N: tt.k, K: tt.n, Count: tt.count, Weight: OperandB, InputGrad: true},
				BackwardWeight: {Name: "dw", M: tt.k, N: tt.n, K: tt.m, Count: tt.count},
			}
			for p, g := range want {
				if got := l.GEMMs(p); !reflect.DeepEqual(got, []GEMM{g}) {
					t.Errorf("GEMMs(%v) = %+v, want [%+v]", p, got, g)
				}
				if got := l.MACs(p); got != tt.macs {
					t.Errorf("MACs(%v) = %d, want %d", p, got, tt.macs)
				}
			}
			for _, p := range []Phase{Update, PrecisionControl} {
				if got := l.GEMMs(p); got != nil {
					t.Errorf("GEMMs(%v) = %v, want none", p, got)
				}
			}
		})
	}
}

// attentionLayer is an Attention layer over {d, 1, t}.
func attentionLayer(d, t, heads int, causal bool) Layer {
	s := Shape{d, 1, t}
	return Layer{Name: "attn", Kind: Attention, In: s, Out: s, Heads: heads, Causal: causal, Bias: true}
}

func TestAttentionGEMMs(t *testing.T) {
	// D = 8 channels, T = 4 positions, H = 2 heads of dh = 4.
	//
	// Projections: T x D x D = 4*8*8 = 256 MACs each. Per-head products: T x T x dh or
	// T x dh x T = 64 MACs, twice (heads) = 128.
	//
	//	forward          4*256 + 2*128          = 1,280 = 4*T*D^2 + 2*T^2*D = 1,024 + 256
	//	backward data    256 + 4*128 + 3*256    = 1,536 = 4*T*D^2 + 4*T^2*D = 1,024 + 512
	//	backward weight  4 * (D x D x T = 256)  = 1,024 = 4*T*D^2
	proj := func(name string, matrix int, inGrad bool) GEMM {
		return GEMM{Name: name, M: 4, N: 8, K: 8, Count: 1, Weight: OperandB, Matrix: matrix, InputGrad: inGrad}
	}
	head := func(name string, m, n, k int64) GEMM { return GEMM{Name: name, M: m, N: n, K: k, Count: 2} }
	grad := func(name string, matrix int) GEMM {
		return GEMM{Name: name, M: 8, N: 8, K: 4, Count: 1, Matrix: matrix}
	}
	want := []struct {
		p     Phase
		gemms []GEMM
		macs  int64
	}{
		{Forward, []GEMM{
			proj("q", 0, false), proj("k", 1, false), proj("v", 2, false),
			head("scores", 4, 4, 4), head("context", 4, 4, 4),
			proj("out", 3, false),
		}, 1_280},
		{BackwardData, []GEMM{
			proj("out.dx", 3, false),
			head("context.dp", 4, 4, 4), head("context.dv", 4, 4, 4),
			head("scores.dq", 4, 4, 4), head("scores.dk", 4, 4, 4),
			proj("q.dx", 0, true), proj("k.dx", 1, true), proj("v.dx", 2, true),
		}, 1_536},
		{BackwardWeight, []GEMM{grad("q.dw", 0), grad("k.dw", 1), grad("v.dw", 2), grad("out.dw", 3)}, 1_024},
		{Update, nil, 0},
		{PrecisionControl, nil, 0},
	}
	for _, causal := range []bool{false, true} {
		// A dense array computes the masked scores too: causal masking changes no count.
		l := attentionLayer(8, 4, 2, causal)
		for _, w := range want {
			if got := l.GEMMs(w.p); !reflect.DeepEqual(got, w.gemms) {
				t.Errorf("causal=%v GEMMs(%v) =\n%+v\nwant\n%+v", causal, w.p, got, w.gemms)
			}
			if got := l.MACs(w.p); got != w.macs {
				t.Errorf("causal=%v MACs(%v) = %d, want %d", causal, w.p, got, w.macs)
			}
		}
	}
}

func TestAttentionFormulas(t *testing.T) {
	// The per-example formulas of the GEMMs documentation at the char-LM's size and at a
	// size where T > D, so that the T^2 terms dominate.
	for _, c := range []struct{ d, t, h int64 }{{128, 64, 2}, {16, 100, 4}, {8, 8, 1}} {
		l := attentionLayer(int(c.d), int(c.t), int(c.h), true)
		d, tt := c.d, c.t
		if got, want := l.MACs(Forward), 4*tt*d*d+2*tt*tt*d; got != want {
			t.Errorf("%+v forward = %d, want 4TD^2+2T^2D = %d", c, got, want)
		}
		if got, want := l.MACs(BackwardData), 4*tt*d*d+4*tt*tt*d; got != want {
			t.Errorf("%+v backward data = %d, want 4TD^2+4T^2D = %d", c, got, want)
		}
		if got, want := l.MACs(BackwardWeight), 4*tt*d*d; got != want {
			t.Errorf("%+v backward weight = %d, want 4TD^2 = %d", c, got, want)
		}
		if got, want := l.Params(), 4*d*d+4*d; got != want {
			t.Errorf("%+v params = %d, want 4D^2+4D = %d", c, got, want)
		}
		if m, n, k := l.GEMMDims(); m != 0 || n != 0 || k != 0 {
			t.Errorf("GEMMDims() = (%d, %d, %d): attention has no single product", m, n, k)
		}
	}
}

func TestFirstWeightLayerBackwardData(t *testing.T) {
	// Nobody needs the error of the network's input, so backward data skips the first
	// weight layer's input-error products. A linear or convolution layer has no other
	// backward-data work; attention still needs dO, dP, dV, dQ and dK for its own weight
	// gradients.
	s := Shape{8, 1, 4}
	attnFirst := &Network{Name: "a", Input: s, Layers: []Layer{
		attentionLayer(8, 4, 2, true),
		{Name: "head", Kind: Conv2D, In: s, Out: Shape{3, 1, 4}, KernelH: 1, KernelW: 1, Stride: 1, Bias: true},
	}}
	if err := attnFirst.Validate(); err != nil {
		t.Fatal(err)
	}
	// Attention: 1,536 - 3 input projections of 256 = 768. Head: 4 positions x 3 x 8 = 96.
	if got, want := attnFirst.MACs(BackwardData, 2), int64(2*(768+96)); got != want {
		t.Errorf("MACs(BackwardData) = %d, want %d", got, want)
	}
	if got, want := attnFirst.MACs(Forward, 1), int64(1_280+96); got != want {
		t.Errorf("MACs(Forward) = %d, want %d", got, want)
	}

	convFirst := &Network{Name: "c", Input: s, Layers: []Layer{
		{Name: "in", Kind: Conv2D, In: s, Out: s, KernelH: 1, KernelW: 1, Stride: 1},
		attentionLayer(8, 4, 2, true),
	}}
	// The convolution's 4*8*8 = 256 are skipped; all of the attention's 1,536 run.
	if got, want := convFirst.MACs(BackwardData, 1), int64(1_536); got != want {
		t.Errorf("MACs(BackwardData) = %d, want %d", got, want)
	}
}

func TestParameterLayers(t *testing.T) {
	img, seq := Shape{16, 8, 8}, Shape{128, 1, 64}
	tests := []struct {
		name            string
		l               Layer
		weights, biases int64
		gemm            bool
	}{
		// Scale and shift per channel; the running statistics are not parameters.
		{"batchnorm", Layer{Kind: BatchNorm, In: img, Out: img, Bias: true}, 16, 16, false},
		{"batchnorm scale only", Layer{Kind: BatchNorm, In: img, Out: img}, 16, 0, false},
		{"layernorm", Layer{Kind: LayerNorm, In: seq, Out: seq, Bias: true}, 128, 128, false},
		// One vector per position: 128*64.
		{"posembedding", Layer{Kind: PosEmbedding, In: seq, Out: seq, Bias: true}, 8_192, 0, false},
		// Wq, Wk, Wv, Wo of 128x128 and their biases.
		{"attention", Layer{Kind: Attention, In: seq, Out: seq, Heads: 2, Bias: true}, 65_536, 512, true},
		{"attention without bias", Layer{Kind: Attention, In: seq, Out: seq, Heads: 2}, 65_536, 0, true},
		{"shortcut", Layer{Kind: ShortcutAdd, In: img, Out: img, Stride: 2, Padding: 4, Bias: true}, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.l
			if got := l.WeightParams(); got != tt.weights {
				t.Errorf("WeightParams() = %d, want %d", got, tt.weights)
			}
			if got := l.BiasParams(); got != tt.biases {
				t.Errorf("BiasParams() = %d, want %d", got, tt.biases)
			}
			if got := l.HasWeights(); got != (tt.weights > 0) {
				t.Errorf("HasWeights() = %v", got)
			}
			if got := l.HasGEMM(); got != tt.gemm {
				t.Errorf("HasGEMM() = %v, want %v", got, tt.gemm)
			}
			if !tt.gemm {
				for p := range NumPhases {
					if got := l.MACs(p); got != 0 {
						t.Errorf("MACs(%v) = %d: vector work has no GEMM MACs", p, got)
					}
				}
			}
		})
	}
}

func TestKindPredicates(t *testing.T) {
	tests := []struct {
		kind                    Kind
		weights, gemm, residual bool
	}{
		{Linear, true, true, false},
		{Conv2D, true, true, false},
		{Embedding, true, false, false},
		{BatchNorm, true, false, false},
		{LayerNorm, true, false, false},
		{PosEmbedding, true, false, false},
		{Attention, true, true, false},
		{ReLU, false, false, false},
		{MaxPool, false, false, false},
		{AvgPool, false, false, false},
		{Flatten, false, false, false},
		{Add, false, false, true},
		{ShortcutAdd, false, false, true},
	}
	for _, tt := range tests {
		l := Layer{Kind: tt.kind}
		if l.HasWeights() != tt.weights || l.HasGEMM() != tt.gemm || l.IsResidual() != tt.residual {
			t.Errorf("%s: HasWeights %v HasGEMM %v IsResidual %v, want %v %v %v",
				tt.kind, l.HasWeights(), l.HasGEMM(), l.IsResidual(), tt.weights, tt.gemm, tt.residual)
		}
		if tt.kind != Conv2D {
			l.Groups = 4
			if l.NumGroups() != 1 {
				t.Errorf("%s: NumGroups() = %d, want 1", tt.kind, l.NumGroups())
			}
		}
	}
}

func TestElementOps(t *testing.T) {
	img := Shape{2, 3, 3} // E = 18
	seq := Shape{4, 1, 5} // E = 20
	tests := []struct {
		name        string
		l           Layer
		fwd, bd, bw int64
	}{
		{"relu", Layer{Kind: ReLU, In: img, Out: img}, 18, 18, 0},
		// 2x2 windows over 4x4: 8 outputs, 3 compares each; 4 adds and a scale each.
		{"maxpool", Layer{Kind: MaxPool, In: Shape{2, 4, 4}, Out: Shape{2, 2, 2}, KernelH: 2, KernelW: 2, Stride: 2}, 24, 8, 0},
		{"avgpool", Layer{Kind: AvgPool, In: Shape{2, 4, 4}, Out: Shape{2, 2, 2}, KernelH: 2, KernelW: 2, Stride: 2}, 32, 32, 0},
		{"add", Layer{Kind: Add, In: img, Out: img}, 18, 18, 0},
		{"shortcut", Layer{Kind: ShortcutAdd, In: img, Out: img}, 18, 18, 0},
		// 5, 4 and 5 operations per element.
		{"batchnorm", Layer{Kind: BatchNorm, In: img, Out: img, Bias: true}, 90, 72, 90},
		// 7, 8 and 5 operations per element.
		{"layernorm", Layer{Kind: LayerNorm, In: seq, Out: seq, Bias: true}, 140, 160, 100},
		{"posembedding", Layer{Kind: PosEmbedding, In: seq, Out: seq}, 20, 0, 20},
		{"embedding", Layer{Kind: Embedding, In: Shape{1, 1, 5}, Out: seq, Vocab: 7}, 0, 0, 20},
		// H*T^2 = 2*16 = 32 scores: 6 (7 with the mask) forward, 5 backward.
		{"attention", attentionLayer(8, 4, 2, false), 192, 160, 0},
		{"causal attention", attentionLayer(8, 4, 2, true), 224, 160, 0},
		// GEMM layers: their epilogues are not counted.
		{"conv", Layer{Kind: Conv2D, In: img, Out: img, KernelH: 1, KernelW: 1, Stride: 1, Bias: true}, 0, 0, 0},
		{"flatten", Layer{Kind: Flatten, In: img, Out: Shape{18, 1, 1}}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := [NumPhases]int64{tt.fwd, tt.bd, tt.bw, 0, 0}
			for p := range NumPhases {
				if got := tt.l.ElementOps(p); got != want[p] {
					t.Errorf("ElementOps(%v) = %d, want %d", p, got, want[p])
				}
			}
		})
	}
}

func TestNetworkElementOps(t *testing.T) {
	s := Shape{4, 1, 1}
	// BatchNorm is the first weight layer: its backward data is skipped.
	net := &Network{Name: "e", Input: s, Layers: []Layer{
		{Name: "bn", Kind: BatchNorm, In: s, Out: s, Bias: true},
		{Name: "fc", Kind: Linear, In: s, Out: Shape{3, 1, 1}, Bias: true},
		{Name: "relu", Kind: ReLU, In: Shape{3, 1, 1}, Out: Shape{3, 1, 1}},
	}}
	if err := net.Validate(); err != nil {
		t.Fatal(err)
	}
	want := [NumPhases]int64{5*4 + 3, 3, 5 * 4, 0, 0}
	for p := range NumPhases {
		if got := net.ElementOps(p, 8); got != 8*want[p] {
			t.Errorf("ElementOps(%v, 8) = %d, want %d", p, got, 8*want[p])
		}
	}
	// A first-layer attention still runs its softmax backward (160 for 8x1x4, 2 heads).
	seq := Shape{8, 1, 4}
	attn := &Network{Name: "a", Input: seq, Layers: []Layer{attentionLayer(8, 4, 2, false)}}
	if got := attn.ElementOps(BackwardData, 1); got != 160 {
		t.Errorf("attention-first ElementOps(BackwardData) = %d, want 160", got)
	}
}

// buildNet builds a network without the panic of build, for tests of Validate.
func buildNet(input Shape, layers ...Layer) *Network {
	b := newBuilder("t", input)
	for _, l := range layers {
		b.add(l)
	}
	return b.net
}

func TestValidateNewKinds(t *testing.T) {
	img := Shape{4, 8, 8}
	seq := Shape{8, 1, 4}
	conv := func(out Shape, k, s, p, g int) Layer {
		return Layer{Name: "conv", Kind: Conv2D, Out: out, KernelH: k, KernelW: k, Stride: s, Padding: p, Groups: g}
	}
	same := func(name string, kind Kind, s Shape) Layer { return Layer{Name: name, Kind: kind, Out: s} }
	valid := []struct {
		name string
		net  *Network
	}{
		{"grouped conv", buildNet(img, conv(Shape{8, 8, 8}, 3, 1, 1, 2))},
		{"depthwise stride 2", buildNet(img, conv(Shape{4, 4, 4}, 3, 2, 1, 4))},
		{"batchnorm", buildNet(img, same("bn", BatchNorm, img))},
		{"attention", buildNet(seq, Layer{Name: "attn", Kind: Attention, Out: seq, Heads: 2, Causal: true})},
		// conv 4x8x8 -> 8x4x4 (stride 2), then add layer 0's input subsampled, between
		// 2 zero channels on each side.
		{"shortcut", buildNet(img,
			same("id", ReLU, img),
			conv(Shape{8, 4, 4}, 3, 2, 1, 1),
			Layer{Name: "sc", Kind: ShortcutAdd, Out: Shape{8, 4, 4}, From: 0, Stride: 2, Padding: 2})},
		// Odd sizes round up, as x[::2] does: 7 rows -> 4.
		{"shortcut odd", buildNet(Shape{2, 7, 7},
			same("id", ReLU, Shape{2, 7, 7}),
			conv(Shape{2, 4, 4}, 3, 2, 1, 1),
			Layer{Name: "sc", Kind: ShortcutAdd, Out: Shape{2, 4, 4}, From: 0, Stride: 2})},
		{"global avgpool", buildNet(img, Layer{Name: "gap", Kind: AvgPool, Out: Shape{4, 1, 1}, KernelH: 8, KernelW: 8, Stride: 8})},
	}
	for _, tt := range valid {
		if err := tt.net.Validate(); err != nil {
			t.Errorf("%s: Validate() = %v", tt.name, err)
		}
	}

	invalid := []struct {
		name    string
		net     *Network
		wantErr string
	}{
		{"groups do not divide", buildNet(img, conv(Shape{8, 8, 8}, 3, 1, 1, 3)), "3 groups do not divide 4 input and 8 output channels"},
		{"negative groups", buildNet(img, conv(Shape{8, 8, 8}, 3, 1, 1, -1)), "groups -1 on a conv2d layer"},
		{"groups on linear", buildNet(img, Layer{Name: "fc", Kind: Linear, Out: Shape{2, 1, 1}, Groups: 2}), "only a convolution has groups"},
		{"heads on relu", buildNet(img, Layer{Name: "r", Kind: ReLU, Out: img, Heads: 2}), "only attention has heads"},
		{"conv geometry", buildNet(img, conv(Shape{8, 7, 8}, 3, 1, 1, 1)), "give 8x8, but the output is 8x7x8"},
		{"kernel too large", buildNet(img, conv(Shape{8, 1, 1}, 9, 1, 0, 1)), "no valid window"},
		{"causal conv on an image", buildNet(img, Layer{Name: "cc", Kind: Conv2D, Out: img, KernelH: 1, KernelW: 3, Stride: 1, Causal: true}), "causal convolution needs a sequence"},
		{"pool geometry", buildNet(img, Layer{Name: "p", Kind: MaxPool, Out: Shape{4, 3, 3}, KernelH: 2, KernelW: 2, Stride: 2}), "give 4x4, but the output is 4x3x3"},
		{"pool channels", buildNet(img, Layer{Name: "p", Kind: AvgPool, Out: Shape{2, 4, 4}, KernelH: 2, KernelW: 2, Stride: 2}), "pooling maps 4 channels to 2"},
		{"flatten", buildNet(img, Layer{Name: "f", Kind: Flatten, Out: Shape{255, 1, 1}}), "flattening 4x8x8 gives 256 values"},
		{"linear to an image", buildNet(img, Layer{Name: "fc", Kind: Linear, Out: Shape{2, 2, 1}}), "a linear layer outputs a vector"},
		{"embedding output", buildNet(Shape{1, 1, 4}, Layer{Name: "e", Kind: Embedding, Out: Shape{8, 1, 5}, Vocab: 3}), "an embedding of 4 tokens outputs {E, 1, 4}"},
		{"batchnorm reshapes", buildNet(img, Layer{Name: "bn", Kind: BatchNorm, Out: Shape{4, 4, 4}}), "a batchnorm layer keeps its input's shape 4x8x8"},
		{"layernorm reshapes", buildNet(seq, Layer{Name: "ln", Kind: LayerNorm, Out: Shape{4, 1, 4}}), "a layernorm layer keeps its input's shape"},
		{"attention heads", buildNet(seq, Layer{Name: "attn", Kind: Attention, Out: seq, Heads: 3}), "heads that divides its 8 channels, has 3"},
		{"attention without heads", buildNet(seq, Layer{Name: "attn", Kind: Attention, Out: seq}), "has 0"},
		{"attention on an image", buildNet(img, Layer{Name: "attn", Kind: Attention, Out: img, Heads: 2}), "attention reads a sequence {D, 1, T}, not 4x8x8"},
		{"unknown kind", buildNet(img, Layer{Name: "x", Kind: "softmax", Out: img}), `unknown layer kind "softmax"`},
		{"shortcut of the previous layer", buildNet(img,
			same("id", ReLU, img),
			Layer{Name: "sc", Kind: ShortcutAdd, Out: img, From: 0}), "shortcut layer 1 (sc) adds layer 0, which is not an earlier layer"},
		{"shortcut channels", buildNet(img,
			same("id", ReLU, img),
			conv(Shape{8, 4, 4}, 3, 2, 1, 1),
			Layer{Name: "sc", Kind: ShortcutAdd, Out: Shape{8, 4, 4}, From: 0, Stride: 2, Padding: 5}), "4 channels at offset 5 do not fit in 8 channels"},
		{"shortcut stride", buildNet(img,
			same("id", ReLU, img),
			conv(Shape{8, 4, 4}, 3, 2, 1, 1),
			Layer{Name: "sc", Kind: ShortcutAdd, Out: Shape{8, 4, 4}, From: 0, Stride: 1, Padding: 2}), "4x8x8 subsampled by 1 is 8x8, not 4x4"},
		{"empty input", &Network{Name: "t", Input: Shape{0, 1, 1}, Layers: []Layer{{Name: "r", Kind: ReLU}}}, "empty input"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.net.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestBuiltinNetworksWellFormed(t *testing.T) {
	for _, name := range AllNames() {
		t.Run(name, func(t *testing.T) {
			net, err := ByName(name)
			if err != nil {
				t.Fatal(err)
			}
			if net.Name != name {
				t.Errorf("Name = %q", net.Name)
			}
			seen := map[string]bool{}
			for i := range net.Layers {
				l := &net.Layers[i]
				if seen[l.Name] {
					t.Errorf("layer name %q repeats: per-layer reports and schedules name layers", l.Name)
				}
				seen[l.Name] = true
				// Every GEMM layer's per-phase MACs are the sum of its products.
				for p := range NumPhases {
					var s int64
					for _, g := range l.GEMMs(p) {
						s += g.MACs()
					}
					if s != l.MACs(p) {
						t.Errorf("%s: GEMMs(%v) sum to %d, MACs says %d", l.Name, p, s, l.MACs(p))
					}
				}
			}
			if last := net.Layers[len(net.Layers)-1].Out; last.C != net.Classes {
				t.Errorf("last layer has %d channels, Classes = %d", last.C, net.Classes)
			}
		})
	}
}
