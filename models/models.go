// Package models defines neural networks once, as shapes: the layers, their tensor
// shapes per example, parameter counts and multiply-accumulate counts per training
// phase. Both the trainer (train/) and the compiler (kernels/) read these definitions,
// so the network that is trained is exactly the network that is simulated.
package models

import (
	"fmt"
	"sort"
)

// Kind is the operation of a layer.
type Kind string

// Layer kinds.
const (
	Linear  Kind = "linear"
	Conv2D  Kind = "conv2d"
	ReLU    Kind = "relu"
	MaxPool Kind = "maxpool"
	AvgPool Kind = "avgpool"
	Flatten Kind = "flatten"
	// Embedding maps token ids (an input of {1, 1, T}) to vectors ({E, 1, T}); its
	// weights are a Vocab x E table.
	Embedding Kind = "embedding"
	// Add is a residual connection: the previous layer's output plus the output of
	// layer From (same shape).
	Add Kind = "add"
)

// Shape is a per-example tensor shape: channels x height x width. A feature vector of n
// values is {n, 1, 1}.
type Shape struct{ C, H, W int }

// Elems returns C*H*W.
func (s Shape) Elems() int64 { return int64(s.C) * int64(s.H) * int64(s.W) }

func (s Shape) String() string {
	if s.H == 1 && s.W == 1 {
		return fmt.Sprintf("%d", s.C)
	}
	return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W)
}

// Layer is one operation with its input and output shapes per example.
type Layer struct {
	Name    string
	Kind    Kind
	In, Out Shape
	// KernelH, KernelW, Stride and Padding apply to Conv2D and the pooling layers.
	KernelH, KernelW, Stride, Padding int
	// Causal makes a convolution over a sequence ({C, 1, T}) see only the past: it pads
	// KernelW-1 positions on the left and none on the right (Padding is then unused).
	Causal bool
	Bias   bool
	// Vocab is an Embedding's number of token ids.
	Vocab int
	// From is the layer whose output an Add layer adds.
	From int
}

// HasWeights reports whether the layer has trainable weights (and thus a bitwidth in a
// precision plan).
func (l *Layer) HasWeights() bool {
	return l.Kind == Linear || l.Kind == Conv2D || l.Kind == Embedding
}

// WeightParams is the number of weights, bias excluded.
func (l *Layer) WeightParams() int64 {
	switch l.Kind {
	case Linear:
		return int64(l.In.Elems()) * int64(l.Out.C)
	case Conv2D:
		return int64(l.In.C) * int64(l.KernelH*l.KernelW) * int64(l.Out.C)
	case Embedding:
		return int64(l.Vocab) * int64(l.Out.C)
	}
	return 0
}

// BiasParams is the number of bias values.
func (l *Layer) BiasParams() int64 {
	if (l.Kind == Linear || l.Kind == Conv2D) && l.Bias {
		return int64(l.Out.C)
	}
	return 0
}

// Params is weights plus biases.
func (l *Layer) Params() int64 { return l.WeightParams() + l.BiasParams() }

// GEMMDims returns the layer's forward product per example as M x K times K x N: M output
// positions, K the reduction (input features, or in_channels x kernel x kernel for a
// convolution) and N output channels. Layers without a GEMM (including Embedding, a
// table lookup) return zeros.
func (l *Layer) GEMMDims() (m, n, k int64) {
	switch l.Kind {
	case Linear:
		return 1, int64(l.Out.C), l.In.Elems()
	case Conv2D:
		return int64(l.Out.H) * int64(l.Out.W), int64(l.Out.C), int64(l.In.C) * int64(l.KernelH*l.KernelW)
	}
	return 0, 0, 0
}

// MACs returns the multiply-accumulates of one example in a phase. Backward-data of
// the network's first weight layer is needed only when something upstream learns; the
// caller decides (see Network.MACs).
func (l *Layer) MACs(p Phase) int64 {
	m, n, k := l.GEMMDims()
	switch p {
	case Forward, BackwardData, BackwardWeight:
		return m * n * k
	}
	return 0
}

// Phase is a part of a training step.
type Phase int

// The phases of one training step, in execution order.
const (
	Forward Phase = iota
	BackwardData
	BackwardWeight
	Update
	PrecisionControl
	NumPhases
)

var phaseNames = [...]string{"forward", "backward_data", "backward_weight", "update", "precision_control"}

func (p Phase) String() string {
	if p >= 0 && p < NumPhases {
		return phaseNames[p]
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// Network is a sequential network.
type Network struct {
	Name  string
	Input Shape
	// Classes is the number of outputs of the final layer (the softmax width).
	Classes int
	Layers  []Layer
}

// Params is the number of trainable parameters.
func (n *Network) Params() int64 {
	var s int64
	for i := range n.Layers {
		s += n.Layers[i].Params()
	}
	return s
}

// WeightLayers returns the indices of the layers that carry weights, in order: the
// layers a per-layer bitwidth plan refers to.
func (n *Network) WeightLayers() []int {
	var idx []int
	for i := range n.Layers {
		if n.Layers[i].HasWeights() {
			idx = append(idx, i)
		}
	}
	return idx
}

// NeedsBackwardData reports whether layer i must propagate errors to its input: every
// layer after the first weight layer does; the first weight layer's input is data.
func (n *Network) NeedsBackwardData(i int) bool {
	w := n.WeightLayers()
	return len(w) > 0 && i > w[0]
}

// MACs returns the multiply-accumulates of a phase for a batch.
func (n *Network) MACs(p Phase, batch int) int64 {
	var s int64
	for i := range n.Layers {
		if p == BackwardData && !n.NeedsBackwardData(i) {
			continue
		}
		s += n.Layers[i].MACs(p)
	}
	return s * int64(batch)
}

// Validate checks that consecutive layers agree on shapes.
func (n *Network) Validate() error {
	if len(n.Layers) == 0 {
		return fmt.Errorf("network %q has no layers", n.Name)
	}
	prev := n.Input
	for i := range n.Layers {
		l := &n.Layers[i]
		if l.In != prev {
			return fmt.Errorf("network %q: layer %d (%s) expects input %v but gets %v", n.Name, i, l.Name, l.In, prev)
		}
		if l.Kind == Add && (l.From < 0 || l.From >= i-1 || n.Layers[l.From].Out != l.In) {
			return fmt.Errorf("network %q: residual layer %d (%s) adds layer %d, which is not an earlier layer of shape %v", n.Name, i, l.Name, l.From, l.In)
		}
		if l.Kind == Embedding && (l.In.C != 1 || l.In.H != 1 || l.Vocab <= 0) {
			return fmt.Errorf("network %q: embedding %d (%s) needs token ids {1, 1, T} and a vocabulary", n.Name, i, l.Name)
		}
		if l.Out.C <= 0 || l.Out.H <= 0 || l.Out.W <= 0 {
			return fmt.Errorf("network %q: layer %d (%s) has empty output %v", n.Name, i, l.Name, l.Out)
		}
		prev = l.Out
	}
	return nil
}

// builder appends layers, deriving each input shape from the previous output.
type builder struct {
	net *Network
	cur Shape
	err error
}

func newBuilder(name string, input Shape) *builder {
	return &builder{net: &Network{Name: name, Input: input}, cur: input}
}

func (b *builder) add(l Layer) *builder {
	l.In = b.cur
	if l.Name == "" {
		l.Name = fmt.Sprintf("%s%d", l.Kind, len(b.net.Layers))
	}
	b.net.Layers = append(b.net.Layers, l)
	b.cur = l.Out
	return b
}

// causalConv is a 1-D convolution over a sequence {C, 1, T} that sees only the current
// and the kernel-1 previous positions.
func (b *builder) causalConv(name string, out, kernel int) *builder {
	return b.add(Layer{Name: name, Kind: Conv2D, Out: Shape{out, 1, b.cur.W}, KernelH: 1, KernelW: kernel, Stride: 1, Causal: true, Bias: true})
}

func (b *builder) embedding(name string, vocab, dim int) *builder {
	return b.add(Layer{Name: name, Kind: Embedding, Out: Shape{dim, 1, b.cur.W}, Vocab: vocab})
}

func (b *builder) conv(name string, out, kernel, stride, pad int) *builder {
	h := (b.cur.H+2*pad-kernel)/stride + 1
	w := (b.cur.W+2*pad-kernel)/stride + 1
	return b.add(Layer{Name: name, Kind: Conv2D, Out: Shape{out, h, w}, KernelH: kernel, KernelW: kernel, Stride: stride, Padding: pad, Bias: true})
}

func (b *builder) linear(name string, out int) *builder {
	return b.add(Layer{Name: name, Kind: Linear, Out: Shape{out, 1, 1}, Bias: true})
}

func (b *builder) relu() *builder { return b.add(Layer{Kind: ReLU, Out: b.cur}) }

func (b *builder) pool(kind Kind, kernel, stride int) *builder {
	out := Shape{b.cur.C, (b.cur.H-kernel)/stride + 1, (b.cur.W-kernel)/stride + 1}
	return b.add(Layer{Kind: kind, Out: out, KernelH: kernel, KernelW: kernel, Stride: stride})
}

func (b *builder) flatten() *builder {
	return b.add(Layer{Kind: Flatten, Out: Shape{int(b.cur.Elems()), 1, 1}})
}

func (b *builder) build() *Network {
	b.net.Classes = b.cur.C
	if err := b.net.Validate(); err != nil {
		// The built-in definitions are code, not input: a mismatch is a programmer error.
		panic(err)
	}
	return b.net
}

// MLP is the 784-256-128-10 perceptron for MNIST.
func MLP() *Network {
	return newBuilder("mlp", Shape{1, 28, 28}).
		flatten().
		linear("fc1", 256).relu().
		linear("fc2", 128).relu().
		linear("fc3", 10).
		build()
}

// LeNet5 is LeCun et al.'s LeNet-5 on 32x32 inputs (MNIST padded by two pixels), with
// max pooling and ReLU: 61,706 parameters.
func LeNet5() *Network {
	return newBuilder("lenet5", Shape{1, 32, 32}).
		conv("conv1", 6, 5, 1, 0).relu().pool(MaxPool, 2, 2).
		conv("conv2", 16, 5, 1, 0).relu().pool(MaxPool, 2, 2).
		flatten().
		linear("fc1", 120).relu().
		linear("fc2", 84).relu().
		linear("fc3", 10).
		build()
}

// CharLMVocab and CharLMContext are the built-in character model's alphabet size and
// context length: the Opticks text has 93 distinct bytes, which dataset loaders map to
// dense ids below CharLMVocab.
const (
	CharLMVocab   = 96
	CharLMContext = 64
)

// CharLM is a character-level language model: each of CharLMContext positions predicts
// the next character from itself and the previous ones. An embedding feeds two causal
// convolutions (receptive field 7 characters) and a per-position classifier (a 1x1
// convolution) over the alphabet.
func CharLM() *Network {
	return newBuilder("charlm", Shape{1, 1, CharLMContext}).
		embedding("embed", CharLMVocab, 32).
		causalConv("conv1", 128, 4).relu().
		causalConv("conv2", 128, 4).relu().
		conv("head", CharLMVocab, 1, 1, 0).
		build()
}

var registry = map[string]func() *Network{
	"mlp":    MLP,
	"lenet5": LeNet5,
	"charlm": CharLM,
}

// Names lists the built-in models.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ByName returns a fresh copy of a built-in model.
func ByName(name string) (*Network, error) {
	f, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown model %q (have %v)", name, Names())
	}
	return f(), nil
}
