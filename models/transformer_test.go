package models

import (
	"reflect"
	"testing"
)

// transformerWant derives the parameters and per-example MACs of NewTransformer from its
// description: vocabulary v, context t, width d, hidden width f, l blocks.
//
//	embedding v*d, position embedding t*d
//	per block: two LayerNorms 2*(2d); attention 4d^2 + 4d; MLP d*f + f + f*d + d
//	final LayerNorm 2d, classifier d*v + v
//
// MACs: attention 4td^2 + 2t^2d forward, 4td^2 + 4t^2d backward data, 4td^2 backward
// weight; each 1x1 convolution t*in*out in every phase. The embedding is the first
// weight layer and has no MACs, so backward data skips nothing.
func transformerWant(v, t, d, f, l int64) (params, fwd, bd, bw int64) {
	block := 4*d + 4*d*d + 4*d + d*f + f + f*d + d
	params = v*d + t*d + l*block + 2*d + d*v + v
	mlp, head := 2*t*d*f, t*d*v
	fwd = l*(4*t*d*d+2*t*t*d+mlp) + head
	bd = l*(4*t*d*d+4*t*t*d+mlp) + head
	bw = l*(4*t*d*d+mlp) + head
	return
}

func TestTransformerCounts(t *testing.T) {
	net := Transformer()
	params, fwd, bd, bw := transformerWant(CharLMVocab, CharLMContext, 128, 512, 2)
	// By hand: 12,288 + 8,192 + 2*(512 + 66,048 + 66,048 + 65,664) + 256 + 12,384.
	if params != 429_664 {
		t.Fatalf("derived %d parameters, hand count 429,664", params)
	}
	// Per block: attention 4,194,304 + 1,048,576, MLP 8,388,608; head 786,432.
	if fwd != 28_049_408 {
		t.Fatalf("derived %d forward MACs, hand count 28,049,408", fwd)
	}
	if got := net.Params(); got != params {
		t.Errorf("Params() = %d, want %d", got, params)
	}
	for _, c := range []struct {
		p    Phase
		want int64
	}{{Forward, fwd}, {BackwardData, bd}, {BackwardWeight, bw}, {Update, 0}, {PrecisionControl, 0}} {
		if got := net.MACs(c.p, 3); got != 3*c.want {
			t.Errorf("MACs(%v, 3) = %d, want %d", c.p, got, 3*c.want)
		}
	}

	// Another size, through NewTransformer.
	small, err := NewTransformer(TransformerConfig{Name: "tiny", Vocab: 10, Context: 16, Dim: 32, Heads: 4, Layers: 3, Hidden: 64})
	if err != nil {
		t.Fatal(err)
	}
	params, fwd, bd, bw = transformerWant(10, 16, 32, 64, 3)
	if small.Params() != params || small.MACs(Forward, 1) != fwd || small.MACs(BackwardData, 1) != bd || small.MACs(BackwardWeight, 1) != bw {
		t.Errorf("tiny: params %d fwd %d bd %d bw %d, want %d %d %d %d", small.Params(), small.MACs(Forward, 1),
			small.MACs(BackwardData, 1), small.MACs(BackwardWeight, 1), params, fwd, bd, bw)
	}
}

func TestTransformerStructure(t *testing.T) {
	net, err := ByName("transformer")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name string
		kind Kind
		out  Shape
		from int // for residuals
	}
	seq := func(c int) Shape { return Shape{c, 1, CharLMContext} }
	want := []row{
		{"embed", Embedding, seq(128), 0},
		{"pos", PosEmbedding, seq(128), 0},
	}
	for b, base := range []int{2, 10} {
		p := []string{"l1.", "l2."}[b]
		want = append(want,
			row{p + "ln1", LayerNorm, seq(128), 0},
			row{p + "attn", Attention, seq(128), 0},
			row{p + "add1", Add, seq(128), base - 1}, // the block's input
			row{p + "ln2", LayerNorm, seq(128), 0},
			row{p + "fc1", Conv2D, seq(512), 0},
			row{p + "relu", ReLU, seq(512), 0},
			row{p + "fc2", Conv2D, seq(128), 0},
			row{p + "add2", Add, seq(128), base + 2}, // add1
		)
	}
	want = append(want, row{"ln", LayerNorm, seq(128), 0}, row{"head", Conv2D, seq(CharLMVocab), 0})
	var got []row
	for _, l := range net.Layers {
		r := row{l.Name, l.Kind, l.Out, 0}
		if l.IsResidual() {
			r.from = l.From
		}
		got = append(got, r)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("layers\n%v\nwant\n%v", got, want)
	}
	if net.Input != (Shape{1, 1, CharLMContext}) || net.Classes != CharLMVocab {
		t.Errorf("input %v, classes %d", net.Input, net.Classes)
	}
	for _, name := range []string{"l1.attn", "l2.attn"} {
		if l := layerNamed(t, net, name); l.Heads != 2 || !l.Causal || !l.Bias {
			t.Errorf("%s: %+v, want 2 causal heads with biases", name, *l)
		}
	}
	for _, name := range []string{"l1.fc1", "l1.fc2", "head"} {
		if l := layerNamed(t, net, name); l.KernelH != 1 || l.KernelW != 1 || l.Causal || !l.Bias {
			t.Errorf("%s: %+v, want a 1x1 convolution with bias (a linear layer per position)", name, *l)
		}
	}
}

func TestNewTransformerErrors(t *testing.T) {
	ok := CharTransformer()
	tests := []struct {
		name   string
		mutate func(c *TransformerConfig)
	}{
		{"heads do not divide", func(c *TransformerConfig) { c.Heads = 3 }},
		{"no heads", func(c *TransformerConfig) { c.Heads = 0 }},
		{"no layers", func(c *TransformerConfig) { c.Layers = 0 }},
		{"no vocabulary", func(c *TransformerConfig) { c.Vocab = 0 }},
		{"no context", func(c *TransformerConfig) { c.Context = -1 }},
	}
	for _, tt := range tests {
		c := ok
		tt.mutate(&c)
		if net, err := NewTransformer(c); err == nil {
			t.Errorf("%s: NewTransformer(%+v) = %s, want an error", tt.name, c, net.Name)
		}
	}
}
