// Package models defines neural networks once, as shapes: the layers, their tensor
// shapes per example, parameter counts and multiply-accumulate counts per training
// phase. Both the trainer (train/) and the compiler (kernels/) read these definitions,
// so the network that is trained is exactly the network that is simulated.
package models

import (
	"errors"
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

	// The kinds below came with the larger models (ResNet-20, MobileNetV2, VGG-11, the
	// transformer).

	// BatchNorm normalises each channel with statistics over the batch and the spatial
	// positions (Ioffe & Szegedy 2015) and applies a per-channel scale (the layer's C
	// weights) and shift (its C biases, present when Bias is set; the built-in models
	// always set it). The running mean and variance used at inference are state, not
	// trainable parameters, and are not counted in Params. Its work is vector work: no
	// GEMM MACs (see ElementOps). Out == In.
	BatchNorm Kind = "batchnorm"
	// LayerNorm normalises each position's C channels with statistics over those C values
	// (Ba et al. 2016) and applies a per-channel scale (C weights) and shift (C biases
	// when Bias is set). Vector work only. Out == In.
	LayerNorm Kind = "layernorm"
	// Attention is multi-head scaled dot-product self-attention (Vaswani et al. 2017) as
	// one composite layer over a sequence: input {D, 1, T} (D model channels at T
	// positions), output {D, 1, T}. It holds four D x D projection matrices, in the order
	// Wq, Wk, Wv, Wo (4*D*D weights), and their 4*D biases when Bias is set. Heads splits
	// D into Heads heads of D/Heads channels; Causal masks every position's scores to
	// itself and the earlier positions. GEMMs lists the constituent products.
	Attention Kind = "attention"
	// PosEmbedding adds a learned position embedding: a table of one vector per position
	// (In.Elems() weights, no bias) added to the input, as in GPT (Radford et al. 2018).
	// Attention is blind to order, so a causal transformer needs it. Out == In.
	PosEmbedding Kind = "posembedding"
	// ShortcutAdd is a residual connection whose skip operand changes shape: the
	// "option A" shortcut of He et al. 2016 (sec. 4.2), which subsamples spatially and
	// pads the extra channels with zeros. With s = the output of layer From, of shape
	// {Cs, Hs, Ws}, S = max(Stride, 1) and P = Padding (a channel offset here, not a
	// spatial padding), it computes for every c, h, w of its {C, H, W} output:
	//
	//	out[c][h][w] = in[c][h][w] + s[c-P][h*S][w*S]   if P <= c < P+Cs
	//	out[c][h][w] = in[c][h][w]                      otherwise
	//
	// where H = ceil(Hs/S) and W = ceil(Ws/S): the skip keeps every S-th row and column
	// starting at 0 (x[:, :, ::S, ::S]) and sits between P zero channels before it and
	// C-P-Cs after it. Backward, the error of s is dy[c+P][h/S][w/S] at the positions
	// that are multiples of S and zero elsewhere. It has no parameters and no MACs
	// (unlike a 1x1 projection, "option B"); ResNetCIFAR explains the choice. Out == In.
	ShortcutAdd Kind = "shortcutadd"
	// Concat joins two outputs along channels, as the fire modules of SqueezeNet
	// (Iandola et al. 2016) join their parallel 1x1 and 3x3 convolutions: the output of
	// layer From (channels [0, Cf)) followed by the layer's input (channels [Cf, Cf+In.C)),
	// both of the output's height and width. It has no parameters and no MACs: forward it
	// copies, backward it splits the error (the first channels are layer From's share,
	// merged into its error as a residual's is). It came with ONNX import.
	Concat Kind = "concat"
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
	// KernelH, KernelW, Stride and Padding apply to Conv2D and the pooling layers; a
	// Stride of 0 means 1. ShortcutAdd reads Stride as its subsampling and Padding as
	// its channel offset.
	KernelH, KernelW, Stride, Padding int
	// Causal makes a convolution over a sequence ({C, 1, T}) see only the past: it pads
	// KernelW-1 positions on the left and none on the right (Padding is then unused).
	// On an Attention layer it masks each position's scores to the positions up to and
	// including itself.
	Causal bool
	// Bias adds a per-output-channel bias to Linear and Conv2D, the shift to BatchNorm
	// and LayerNorm, and the four projection biases to Attention.
	Bias bool
	// Vocab is an Embedding's number of token ids.
	Vocab int
	// From is the layer whose output an Add or ShortcutAdd layer adds.
	From int
	// Groups splits a Conv2D into Groups independent convolutions (Krizhevsky et al.
	// 2012; depthwise when Groups == In.C == Out.C, as in MobileNet): group g reads input
	// channels [g*In.C/Groups, (g+1)*In.C/Groups) and writes output channels
	// [g*Out.C/Groups, (g+1)*Out.C/Groups). 0 and 1 both mean a dense convolution. The
	// weights are stored as for a dense convolution of In.C/Groups input channels,
	// Out.C rows of (In.C/Groups)*KernelH*KernelW (PyTorch's layout), so the rows of
	// group g are its output channels. See NumGroups and GEMMs.
	Groups int
	// Heads is an Attention layer's number of heads; it must divide In.C.
	Heads int
	// Branch makes the layer read the output of layer Source (-1: the network input)
	// instead of the previous layer's: a second path through the network, such as the
	// 1x1 projection shortcut of a ResNet block that changes shape (He et al. 2016,
	// option B) or a parallel convolution of a SqueezeNet fire module. The paths meet
	// again at an Add, ShortcutAdd or Concat (whose From is the other path's last layer).
	// The built-in models are chains and never set it; ONNX import does. See
	// Network.InputOf.
	Branch bool
	Source int
}

// HasWeights reports whether the layer has trainable parameters (and thus a bitwidth in
// a precision plan): Linear, Conv2D, Embedding, BatchNorm, LayerNorm, Attention and
// PosEmbedding. A normalisation layer's scale and shift are
// trainable like any weights; whether a policy varies their bitwidth or holds it fixed
// is the policy's choice, not the model's. HasGEMM tells the layers that multiply.
func (l *Layer) HasWeights() bool {
	switch l.Kind {
	case Linear, Conv2D, Embedding, BatchNorm, LayerNorm, Attention, PosEmbedding:
		return true
	}
	return false
}

// HasGEMM reports whether the layer's work includes matrix products (GEMMs lists them):
// Linear, Conv2D and Attention. The other weight layers are table look-ups (Embedding)
// or vector work (the normalisations, PosEmbedding).
func (l *Layer) HasGEMM() bool {
	return l.Kind == Linear || l.Kind == Conv2D || l.Kind == Attention
}

// IsResidual reports whether the layer adds the output of an earlier layer (From): Add
// and ShortcutAdd.
func (l *Layer) IsResidual() bool { return l.Kind == Add || l.Kind == ShortcutAdd }

// NumGroups is the number of independent groups of a Conv2D (Groups, with 0 read as 1);
// 1 for every other kind.
func (l *Layer) NumGroups() int {
	if l.Kind == Conv2D && l.Groups > 1 {
		return l.Groups
	}
	return 1
}

// WeightParams is the number of weights, bias excluded: for a normalisation layer its
// scales, for Attention its four projection matrices.
func (l *Layer) WeightParams() int64 {
	switch l.Kind {
	case Linear:
		return int64(l.In.Elems()) * int64(l.Out.C)
	case Conv2D:
		return int64(l.In.C/l.NumGroups()) * int64(l.KernelH*l.KernelW) * int64(l.Out.C)
	case Embedding:
		return int64(l.Vocab) * int64(l.Out.C)
	case BatchNorm, LayerNorm:
		return int64(l.In.C)
	case Attention:
		return 4 * int64(l.In.C) * int64(l.In.C)
	case PosEmbedding:
		return l.In.Elems()
	}
	return 0
}

// BiasParams is the number of bias values: one per output channel of Linear and Conv2D,
// the per-channel shift of BatchNorm and LayerNorm, 4*D for Attention's projections.
func (l *Layer) BiasParams() int64 {
	if !l.Bias {
		return 0
	}
	switch l.Kind {
	case Linear, Conv2D, BatchNorm, LayerNorm:
		return int64(l.Out.C)
	case Attention:
		return 4 * int64(l.In.C)
	}
	return 0
}

// Params is weights plus biases.
func (l *Layer) Params() int64 { return l.WeightParams() + l.BiasParams() }

// GEMMDims returns the layer's forward product per example as M x K times K x N: M output
// positions, K the reduction (input features, or in_channels x kernel x kernel for a
// convolution) and N output channels. Layers without a GEMM (including Embedding, a
// table lookup) return zeros.
//
// A grouped Conv2D returns one group's product, N = Out.C/Groups and
// K = (In.C/Groups)*KernelH*KernelW; the layer runs NumGroups such products, so its
// forward MACs are NumGroups*M*N*K. K is then also each output's fan-in. Attention is
// several products of different shapes and returns zeros here: see GEMMs.
func (l *Layer) GEMMDims() (m, n, k int64) {
	switch l.Kind {
	case Linear:
		return 1, int64(l.Out.C), l.In.Elems()
	case Conv2D:
		g := l.NumGroups()
		return int64(l.Out.H) * int64(l.Out.W), int64(l.Out.C / g), int64(l.In.C/g) * int64(l.KernelH*l.KernelW)
	}
	return 0, 0, 0
}

// Operand names an operand of a GEMM, the M x K left operand A or the K x N right
// operand B.
type Operand int

// The operands.
const (
	NoOperand Operand = iota
	OperandA
	OperandB
)

// GEMM is one matrix product of a layer for one example: C (M x N) = A (M x K) times
// B (K x N), repeated Count times with different data (the groups of a grouped
// convolution, the heads of an attention product).
type GEMM struct {
	// Name says which product this is, unique within a layer and phase: "y", "dx" and
	// "dw" for Linear and Conv2D; for Attention see GEMMs.
	Name    string
	M, N, K int64
	Count   int64
	// Weight is the operand that is one of the layer's weight matrices (read transposed
	// in backward data), NoOperand for a product of activations and errors only.
	// Matrix is that matrix, or in backward weight the matrix whose gradient the
	// product computes: 0 for Linear and Conv2D; 0..3 for Attention's Wq, Wk, Wv, Wo.
	Weight Operand
	Matrix int
	// InputGrad marks a backward-data product whose only use is the error of the
	// layer's input: it is skipped where nobody needs that error (see
	// Network.NeedsBackwardData). Attention's other backward-data products are needed
	// for its own weight gradients and always run.
	InputGrad bool
}

// MACs is Count*M*N*K.
func (g GEMM) MACs() int64 { return g.Count * g.M * g.N * g.K }

// GEMMs returns the layer's matrix products of one example in a phase, in an order that
// respects their dependencies; nil for a layer or phase without any (Update and
// PrecisionControl are vector work).
//
// Linear and Conv2D (per group; m, n, k from GEMMDims, Count = NumGroups):
//
//	forward          y  = x_cols (m x k) * W (k x n)
//	backward data    dx = dy (m x n) * W^T (n x k)       then col2im for a convolution
//	backward weight  dw = x_cols^T (k x m) * dy (m x n)
//
// Backward data is counted in this "col2im" form, whose MACs equal the forward's: the
// useful work. A compiler that lowers it as a full convolution over the zero-padded
// error does at least as many (more for strided layers).
//
// Attention, with D = In.C model channels, T = In.W positions, H = Heads and dh = D/H
// (Q = x Wq, K = x Wk, V = x Wv, per head S = Q K^T / sqrt(dh), P = softmax(S),
// O = P V, y = O Wo; the scaling and softmax are vector work, see ElementOps):
//
//	phase            name              product             M x N x K    Count  weight
//	forward          q, k, v           x Wq, x Wk, x Wv    T x D x D    1      B
//	                 scores            Q K^T               T x T x dh   H
//	                 context           P V                 T x dh x T   H
//	                 out               O Wo                T x D x D    1      B
//	backward data    out.dx            dO = dy Wo^T        T x D x D    1      B
//	                 context.dp        dP = dO V^T         T x T x dh   H
//	                 context.dv        dV = P^T dO         T x dh x T   H
//	                 scores.dq         dQ = dS K           T x dh x T   H
//	                 scores.dk         dK = dS^T Q         T x dh x T   H
//	                 q.dx, k.dx, v.dx  dx = dQ Wq^T + ...  T x D x D    1      B (InputGrad)
//	backward weight  q.dw, k.dw, v.dw  x^T dQ, ...         D x D x T    1
//	                 out.dw            O^T dy              D x D x T    1
//
// which is 4*T*D^2 + 2*T^2*D MACs forward, 4*T*D^2 + 4*T^2*D backward data (both
// attention products twice, 3*T*D^2 of it only for the input's error) and 4*T*D^2
// backward weight (the projections only: the attention products have no weights).
//
// Causal masking does not reduce these counts: a dense array computes the full T x T
// scores and the mask zeroes the upper triangle after the fact. A kernel that skips the
// masked blocks does about half the score and context work; it then does fewer MACs
// than the model counts, which is a choice of the kernel, not of the network.
func (l *Layer) GEMMs(p Phase) []GEMM {
	switch l.Kind {
	case Linear, Conv2D:
		m, n, k := l.GEMMDims()
		g := int64(l.NumGroups())
		switch p {
		case Forward:
			return []GEMM{{Name: "y", M: m, N: n, K: k, Count: g, Weight: OperandB}}
		case BackwardData:
			return []GEMM{{Name: "dx", M: m, N: k, K: n, Count: g, Weight: OperandB, InputGrad: true}}
		case BackwardWeight:
			return []GEMM{{Name: "dw", M: k, N: n, K: m, Count: g}}
		}
	case Attention:
		return l.attentionGEMMs(p)
	}
	return nil
}

// The weight matrices of an Attention layer, in storage order.
const (
	attnQ = iota
	attnK
	attnV
	attnO
)

func (l *Layer) attentionGEMMs(p Phase) []GEMM {
	d, t, h := int64(l.In.C), int64(l.In.W), int64(max(l.Heads, 1))
	dh := d / h
	proj := func(name string, matrix int) GEMM {
		return GEMM{Name: name, M: t, N: d, K: d, Count: 1, Weight: OperandB, Matrix: matrix}
	}
	perHead := func(name string, m, n, k int64) GEMM {
		return GEMM{Name: name, M: m, N: n, K: k, Count: h}
	}
	switch p {
	case Forward:
		return []GEMM{
			proj("q", attnQ), proj("k", attnK), proj("v", attnV),
			perHead("scores", t, t, dh),  // S = Q K^T
			perHead("context", t, dh, t), // O = P V
			proj("out", attnO),
		}
	case BackwardData:
		inGrad := func(name string, matrix int) GEMM {
			g := proj(name, matrix)
			g.InputGrad = true
			return g
		}
		return []GEMM{
			proj("out.dx", attnO),           // dO = dy Wo^T
			perHead("context.dp", t, t, dh), // dP = dO V^T
			perHead("context.dv", t, dh, t), // dV = P^T dO
			perHead("scores.dq", t, dh, t),  // dQ = dS K (dS from dP by the softmax backward)
			perHead("scores.dk", t, dh, t),  // dK = dS^T Q
			inGrad("q.dx", attnQ),           // dx = dQ Wq^T
			inGrad("k.dx", attnK),           //    + dK Wk^T
			inGrad("v.dx", attnV),           //    + dV Wv^T
		}
	case BackwardWeight:
		grad := func(name string, matrix int) GEMM {
			return GEMM{Name: name, M: d, N: d, K: t, Count: 1, Matrix: matrix}
		}
		return []GEMM{grad("q.dw", attnQ), grad("k.dw", attnK), grad("v.dw", attnV), grad("out.dw", attnO)}
	}
	return nil
}

// MACs returns the multiply-accumulates of one example in a phase: the sum of GEMMs(p).
// It includes the backward-data products that only compute the input's error
// (GEMM.InputGrad), which the network's first weight layer does not need; the caller
// decides (see Network.MACs).
func (l *Layer) MACs(p Phase) int64 {
	var s int64
	for _, g := range l.GEMMs(p) {
		s += g.MACs()
	}
	return s
}

// ElementOps returns the vector-unit operations of one example in a phase: the
// element-wise and reduction arithmetic outside the GEMMs, one operation per element per
// add, multiply, compare or exponential. It is an estimate for reports and for checking
// a lowering, with the counts below (E = Out.Elems(); for Attention T = In.W positions,
// H = Heads; a causal mask adds H*T^2 selects to the forward):
//
//	kind          forward            backward data      backward weight
//	ReLU          E                  E (mask)           0
//	MaxPool       E*(kh*kw-1)        E (route)          0
//	AvgPool       E*kh*kw            E*kh*kw            0
//	Add           E                  E (merge at From)  0
//	ShortcutAdd   E                  E (merge at From)  0
//	BatchNorm     5E                 4E                 5E
//	LayerNorm     7E                 8E                 5E
//	PosEmbedding  E                  0                  E
//	Embedding     0                  0                  E (scatter-add)
//	Attention     6*H*T^2            5*H*T^2            0
//	Concat        E (copy)           E (split)          0
//
// BatchNorm forward: the sums of x and x^2 for the batch statistics (3), then
// y = a*x + b with a = gamma/sigma and b = beta - a*mu folded per channel (2); backward
// weight: x_hat recomputed (2), sum dy*x_hat (2), sum dy (1); backward data:
// dx = a*(dy - mean(dy) - x_hat*mean(dy*x_hat)) (4). LayerNorm is the same with the
// statistics per position, so the scale cannot be folded (forward 3 + 4) and backward
// data first scales dy by gamma and takes its two sums (4 + 4). Attention forward:
// scaling by 1/sqrt(dh) (1) and the softmax's max, subtract, exponential, sum and
// normalise (5) per score; backward data: the softmax backward dS = P*(dP - sum(dP*P))
// (4) and the scaling (1). Per-channel or per-row scalars, bias additions and the
// requantisation of GEMM outputs are not counted, nor are the Update and
// PrecisionControl phases, whose work depends on the training method (kernels/ models
// them).
func (l *Layer) ElementOps(p Phase) int64 {
	e := l.Out.Elems()
	window := int64(l.KernelH) * int64(l.KernelW)
	scores := int64(l.Heads) * int64(l.In.W) * int64(l.In.W)
	switch p {
	case Forward:
		switch l.Kind {
		case ReLU, Add, ShortcutAdd, PosEmbedding, Concat:
			return e
		case MaxPool:
			return e * (window - 1)
		case AvgPool:
			return e * window
		case BatchNorm:
			return 5 * e
		case LayerNorm:
			return 7 * e
		case Attention:
			if l.Causal {
				return 7 * scores
			}
			return 6 * scores
		}
	case BackwardData:
		switch l.Kind {
		case ReLU, MaxPool, Add, ShortcutAdd, Concat:
			return e
		case AvgPool:
			return e * window
		case BatchNorm:
			return 4 * e
		case LayerNorm:
			return 8 * e
		case Attention:
			return 5 * scores
		}
	case BackwardWeight:
		switch l.Kind {
		case Embedding, PosEmbedding:
			return e
		case BatchNorm, LayerNorm:
			return 5 * e
		}
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
	// Initial holds, parallel to Layers, the initial values of a weight layer's weights
	// and bias in the canonical layout the trainer uses (see train's initialisation):
	// set by ONNX import from the file's initializers when asked (OpenOptions.Values),
	// nil for the built-in models and for layers without values. Training starts from
	// them with --init-from-model.
	Initial []*LayerValues
}

// Params is the number of trainable parameters.
func (n *Network) Params() int64 {
	var s int64
	for i := range n.Layers {
		s += n.Layers[i].Params()
	}
	return s
}

// LayerNames returns the layers' names in network order.
func (n *Network) LayerNames() []string {
	names := make([]string, len(n.Layers))
	for i, l := range n.Layers {
		names[i] = l.Name
	}
	return names
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

// InputOf is the index of the layer whose output layer i reads: i-1 for a layer of a
// chain, Source for a Branch layer; -1 is the network input.
func (n *Network) InputOf(i int) int {
	if n.Layers[i].Branch {
		return n.Layers[i].Source
	}
	return i - 1
}

// HasBranches reports whether some layer reads another output than the previous
// layer's (Layer.Branch).
func (n *Network) HasBranches() bool {
	for i := range n.Layers {
		if n.Layers[i].Branch {
			return true
		}
	}
	return false
}

// NeedsBackwardData reports whether layer i must propagate errors to its input: every
// layer after the first weight layer does; the first weight layer's input is data.
func (n *Network) NeedsBackwardData(i int) bool {
	w := n.WeightLayers()
	return len(w) > 0 && i > w[0]
}

// MACs returns the multiply-accumulates of a phase for a batch. Backward data skips the
// products that only compute the error of a layer's input where nobody needs it (the
// first weight layer and everything before it; see NeedsBackwardData and
// GEMM.InputGrad).
func (n *Network) MACs(p Phase, batch int) int64 {
	var s int64
	first := n.firstWeightLayer()
	for i := range n.Layers {
		need := p != BackwardData || i > first
		for _, g := range n.Layers[i].GEMMs(p) {
			if g.InputGrad && !need {
				continue
			}
			s += g.MACs()
		}
	}
	return s * int64(batch)
}

// ElementOps returns the vector-unit operations of a phase for a batch (see
// Layer.ElementOps). Backward data skips the layers that do not need it, except an
// Attention layer, whose softmax backward feeds its own weight gradients.
func (n *Network) ElementOps(p Phase, batch int) int64 {
	var s int64
	first := n.firstWeightLayer()
	for i := range n.Layers {
		l := &n.Layers[i]
		if p == BackwardData && i <= first && l.Kind != Attention {
			continue
		}
		s += l.ElementOps(p)
	}
	return s * int64(batch)
}

// firstWeightLayer is the index of the first weight layer, or len(Layers) if none.
func (n *Network) firstWeightLayer() int {
	for i := range n.Layers {
		if n.Layers[i].HasWeights() {
			return i
		}
	}
	return len(n.Layers)
}

// Validate checks that consecutive layers agree on shapes, and that each layer's shapes
// and fields are consistent with its kind (convolution and pooling geometry, groups,
// heads, residual sources).
func (n *Network) Validate() error {
	if len(n.Layers) == 0 {
		return fmt.Errorf("network %q has no layers", n.Name)
	}
	if n.Input.C <= 0 || n.Input.H <= 0 || n.Input.W <= 0 {
		return fmt.Errorf("network %q has empty input %v", n.Name, n.Input)
	}
	for i := range n.Layers {
		l := &n.Layers[i]
		if l.Branch && (l.Source < -1 || l.Source >= i) {
			return fmt.Errorf("network %q: layer %d (%s) reads layer %d, which is not an earlier layer", n.Name, i, l.Name, l.Source)
		}
		prev := n.Input
		if src := n.InputOf(i); src >= 0 {
			prev = n.Layers[src].Out
		}
		if l.In != prev {
			return fmt.Errorf("network %q: layer %d (%s) expects input %v but gets %v", n.Name, i, l.Name, l.In, prev)
		}
		if l.Kind == Add && (l.From < 0 || l.From >= i || l.From == n.InputOf(i) || n.Layers[l.From].Out != l.In) {
			return fmt.Errorf("network %q: residual layer %d (%s) adds layer %d, which is not an earlier layer of shape %v", n.Name, i, l.Name, l.From, l.In)
		}
		if l.Kind == Concat {
			if l.From < 0 || l.From >= i || l.From == n.InputOf(i) {
				return fmt.Errorf("network %q: concat layer %d (%s) joins layer %d, which is not another earlier layer", n.Name, i, l.Name, l.From)
			}
			if f := n.Layers[l.From].Out; f.H != l.In.H || f.W != l.In.W || l.Out != (Shape{f.C + l.In.C, l.In.H, l.In.W}) {
				return fmt.Errorf("network %q: concat layer %d (%s) joins %v and %v, which do not give %v", n.Name, i, l.Name, f, l.In, l.Out)
			}
		}
		if l.Kind == ShortcutAdd {
			if l.From < 0 || l.From >= i || l.From == n.InputOf(i) {
				return fmt.Errorf("network %q: shortcut layer %d (%s) adds layer %d, which is not an earlier layer", n.Name, i, l.Name, l.From)
			}
			if err := l.checkShortcut(n.Layers[l.From].Out); err != nil {
				return fmt.Errorf("network %q: shortcut layer %d (%s) adds layer %d (%s): %w", n.Name, i, l.Name, l.From, n.Layers[l.From].Name, err)
			}
		}
		if l.Kind == Embedding && (l.In.C != 1 || l.In.H != 1 || l.Vocab <= 0) {
			return fmt.Errorf("network %q: embedding %d (%s) needs token ids {1, 1, T} and a vocabulary", n.Name, i, l.Name)
		}
		if l.Out.C <= 0 || l.Out.H <= 0 || l.Out.W <= 0 {
			return fmt.Errorf("network %q: layer %d (%s) has empty output %v", n.Name, i, l.Name, l.Out)
		}
		if err := l.check(); err != nil {
			return fmt.Errorf("network %q: layer %d (%s): %w", n.Name, i, l.Name, err)
		}
	}
	return nil
}

// check checks a layer's output shape and fields against its kind and input.
func (l *Layer) check() error {
	if l.Groups < 0 || (l.Groups > 1 && l.Kind != Conv2D) {
		return fmt.Errorf("groups %d on a %s layer (only a convolution has groups)", l.Groups, l.Kind)
	}
	if l.Heads != 0 && l.Kind != Attention {
		return fmt.Errorf("heads %d on a %s layer (only attention has heads)", l.Heads, l.Kind)
	}
	same := func() error {
		if l.Out != l.In {
			return fmt.Errorf("a %s layer keeps its input's shape %v, but has output %v", l.Kind, l.In, l.Out)
		}
		return nil
	}
	switch l.Kind {
	case Linear:
		if l.Out.H != 1 || l.Out.W != 1 {
			return fmt.Errorf("a linear layer outputs a vector, not %v", l.Out)
		}
	case Conv2D:
		return l.checkConv()
	case MaxPool, AvgPool:
		if l.Out.C != l.In.C {
			return fmt.Errorf("pooling maps %d channels to %d", l.In.C, l.Out.C)
		}
		return l.checkWindow(l.Padding, l.Padding, l.Padding, l.Padding)
	case Flatten:
		if l.Out != (Shape{int(l.In.Elems()), 1, 1}) {
			return fmt.Errorf("flattening %v gives %d values, not %v", l.In, l.In.Elems(), l.Out)
		}
	case Embedding:
		if l.Out.H != 1 || l.Out.W != l.In.W {
			return fmt.Errorf("an embedding of %d tokens outputs {E, 1, %d}, not %v", l.In.W, l.In.W, l.Out)
		}
	case ReLU, Add, ShortcutAdd, BatchNorm, LayerNorm, PosEmbedding:
		return same()
	case Concat: // checked against layer From by Network.Validate
	case Attention:
		if err := same(); err != nil {
			return err
		}
		if l.In.H != 1 {
			return fmt.Errorf("attention reads a sequence {D, 1, T}, not %v", l.In)
		}
		if l.Heads < 1 || l.In.C%l.Heads != 0 {
			return fmt.Errorf("attention needs a number of heads that divides its %d channels, has %d", l.In.C, l.Heads)
		}
	default:
		return fmt.Errorf("unknown layer kind %q", l.Kind)
	}
	return nil
}

// checkConv checks a convolution's geometry and groups.
func (l *Layer) checkConv() error {
	if g := l.NumGroups(); l.In.C%g != 0 || l.Out.C%g != 0 {
		return fmt.Errorf("%d groups do not divide %d input and %d output channels", g, l.In.C, l.Out.C)
	}
	if l.Causal {
		if l.In.H != 1 || l.KernelH != 1 {
			return fmt.Errorf("a causal convolution needs a sequence {C, 1, T} and a 1xK kernel, has input %v and kernel %dx%d", l.In, l.KernelH, l.KernelW)
		}
		return l.checkWindow(0, 0, l.KernelW-1, 0)
	}
	return l.checkWindow(l.Padding, l.Padding, l.Padding, l.Padding)
}

// checkWindow checks that sliding a KernelH x KernelW window with stride max(Stride, 1)
// over the input, padded by top, bottom, left and right, gives the output's height and
// width.
func (l *Layer) checkWindow(top, bottom, left, right int) error {
	s := max(l.Stride, 1)
	ph, pw := l.In.H+top+bottom, l.In.W+left+right
	if l.KernelH < 1 || l.KernelW < 1 || l.Stride < 0 || min(top, bottom, left, right) < 0 || l.KernelH > ph || l.KernelW > pw {
		return fmt.Errorf("input %v, kernel %dx%d, stride %d, padding %d: no valid window", l.In, l.KernelH, l.KernelW, l.Stride, l.Padding)
	}
	if h, w := (ph-l.KernelH)/s+1, (pw-l.KernelW)/s+1; h != l.Out.H || w != l.Out.W {
		return fmt.Errorf("input %v, kernel %dx%d, stride %d, padding %d give %dx%d, but the output is %v", l.In, l.KernelH, l.KernelW, l.Stride, l.Padding, h, w, l.Out)
	}
	return nil
}

// checkShortcut checks a ShortcutAdd against the shape of the output it adds.
func (l *Layer) checkShortcut(skip Shape) error {
	s := max(l.Stride, 1)
	if l.Stride < 0 || l.Padding < 0 || l.Padding+skip.C > l.In.C {
		return fmt.Errorf("%d channels at offset %d do not fit in %d channels (stride %d)", skip.C, l.Padding, l.In.C, l.Stride)
	}
	if h, w := (skip.H-1)/s+1, (skip.W-1)/s+1; h != l.In.H || w != l.In.W {
		return fmt.Errorf("%v subsampled by %d is %dx%d, not %dx%d", skip, s, h, w, l.In.H, l.In.W)
	}
	return nil
}

// builder appends layers, deriving each input shape from the previous output.
type builder struct {
	net *Network
	cur Shape
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
	return b.convLayer(name, out, kernel, stride, pad, 1, true)
}

// convLayer is a square convolution with groups (1 = dense) and an optional bias.
func (b *builder) convLayer(name string, out, kernel, stride, pad, groups int, bias bool) *builder {
	h := (b.cur.H+2*pad-kernel)/stride + 1
	w := (b.cur.W+2*pad-kernel)/stride + 1
	return b.add(Layer{Name: name, Kind: Conv2D, Out: Shape{out, h, w}, KernelH: kernel, KernelW: kernel, Stride: stride, Padding: pad, Groups: groups, Bias: bias})
}

// convBN is a convolution without bias followed by batch normalisation: the
// normalisation's shift makes a bias redundant, which is why ResNet and MobileNetV2
// convolutions have none.
func (b *builder) convBN(conv, bn string, out, kernel, stride, pad, groups int) *builder {
	return b.convLayer(conv, out, kernel, stride, pad, groups, false).batchNorm(bn)
}

func (b *builder) batchNorm(name string) *builder {
	return b.add(Layer{Name: name, Kind: BatchNorm, Out: b.cur, Bias: true})
}

func (b *builder) layerNorm(name string) *builder {
	return b.add(Layer{Name: name, Kind: LayerNorm, Out: b.cur, Bias: true})
}

// act is a named ReLU.
func (b *builder) act(name string) *builder { return b.add(Layer{Name: name, Kind: ReLU, Out: b.cur}) }

// last is the index of the layer added last: the From of a later residual layer.
func (b *builder) last() int { return len(b.net.Layers) - 1 }

// residual adds the output of layer from to the current one.
func (b *builder) residual(name string, from int) *builder {
	return b.add(Layer{Name: name, Kind: Add, Out: b.cur, From: from})
}

// shortcut adds the output of layer from, subsampled by stride and centred among zero
// channels: (C - Cs)/2 before it and as many after, as in the reference CIFAR ResNet
// (akamaster/pytorch_resnet_cifar10, whose option-A lambda pads planes/4 channels on
// each side).
func (b *builder) shortcut(name string, from, stride int) *builder {
	pad := (b.cur.C - b.net.Layers[from].Out.C) / 2
	return b.add(Layer{Name: name, Kind: ShortcutAdd, Out: b.cur, From: from, Stride: stride, Padding: pad})
}

// globalAvgPool averages each channel over all positions: an AvgPool whose window is
// the whole feature map.
func (b *builder) globalAvgPool(name string) *builder {
	return b.add(Layer{Name: name, Kind: AvgPool, Out: Shape{b.cur.C, 1, 1}, KernelH: b.cur.H, KernelW: b.cur.W, Stride: max(b.cur.H, b.cur.W)})
}

func (b *builder) attention(name string, heads int, causal bool) *builder {
	return b.add(Layer{Name: name, Kind: Attention, Out: b.cur, Heads: heads, Causal: causal, Bias: true})
}

func (b *builder) posEmbedding(name string) *builder {
	return b.add(Layer{Name: name, Kind: PosEmbedding, Out: b.cur})
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

// model is a registry entry.
type model struct {
	build func() *Network
	// experimental marks a model whose layer kinds kernels/ and train/ cannot lower
	// yet: ByName builds it, Names leaves it out.
	experimental bool
}

var registry = map[string]model{
	"mlp":    {build: MLP},
	"lenet5": {build: LeNet5},
	"charlm": {build: CharLM},

	"resnet20":       {build: func() *Network { return ResNet20(1) }},
	"mobilenetv2":    {build: MobileNetV2},
	"mobilenetv2_32": {build: func() *Network { return MobileNetV2CIFAR(1) }},
	"vgg11":          {build: func() *Network { return VGG11(1) }},
	"transformer":    {build: Transformer},
}

// Names lists the built-in models that every package supports: the compiler (kernels/)
// lowers them and the trainer (train/) trains them. Tests elsewhere iterate over it.
func Names() []string { return names(func(m model) bool { return !m.experimental }) }

// ExperimentalNames lists the built-in models that are defined and counted here (shapes,
// parameters, MACs) but use layer kinds (BatchNorm, LayerNorm, grouped convolution,
// Attention, PosEmbedding, ShortcutAdd) that kernels/ and train/ cannot lower yet.
// ByName builds them; a consumer that cannot handle a layer reports it by name.
func ExperimentalNames() []string { return names(func(m model) bool { return m.experimental }) }

// AllNames lists every built-in model, supported and experimental.
func AllNames() []string { return names(func(model) bool { return true }) }

func names(keep func(model) bool) []string {
	var out []string
	for n, m := range registry {
		if keep(m) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// ErrUnknownModel is wrapped by the error of ByName for a name that is no built-in
// model, so that a caller can tell a misspelt model from one that fails later.
var ErrUnknownModel = errors.New("unknown model")

// ByName returns a fresh copy of a built-in model, supported or experimental.
func ByName(name string) (*Network, error) {
	m, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (have %v)", ErrUnknownModel, name, AllNames())
	}
	return m.build(), nil
}
