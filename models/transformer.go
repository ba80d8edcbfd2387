package models

import "fmt"

// TransformerConfig sizes a decoder-only (causal) transformer over a sequence of tokens.
type TransformerConfig struct {
	// Name is the network's name.
	Name string
	// Vocab is the number of token ids, and of classes: each position predicts the next
	// token. Context is the number of positions.
	Vocab, Context int
	// Dim is the model width, Heads the attention heads (dividing Dim), Layers the
	// number of blocks and Hidden the width of each block's MLP.
	Dim, Heads, Layers, Hidden int
}

// NewTransformer builds a GPT-style causal transformer (Vaswani et al. 2017, "Attention
// Is All You Need", with the pre-normalisation blocks of GPT-2 and Xiong et al. 2020,
// which train without learning-rate warm-up): a token embedding and a learned position
// embedding, Layers blocks of
//
//	x = x + Attention(LayerNorm(x))                          (causal, Heads heads)
//	x = x + Conv1x1(Hidden -> Dim)(ReLU(Conv1x1(Dim -> Hidden)(LayerNorm(x))))
//
// then a final LayerNorm and a per-position classifier over the vocabulary. The
// position-wise MLP and the classifier are 1x1 convolutions over the {C, 1, T} sequence,
// as in CharLM: a 1x1 convolution is exactly a linear layer applied at every position,
// and kernels/ and train/ already lower it, so no per-position flag on Linear is
// needed. The MLP uses ReLU rather than the GELU of GPT: ReLU is exact in integer
// arithmetic and the activation the integer trainer implements. Every projection has a
// bias (as PyTorch's nn.MultiheadAttention and nn.Linear by default).
func NewTransformer(c TransformerConfig) (*Network, error) {
	switch {
	case c.Vocab < 1 || c.Context < 1 || c.Dim < 1 || c.Layers < 1 || c.Hidden < 1:
		return nil, fmt.Errorf("transformer %q: vocabulary, context, width, layers and hidden width must be positive: %+v", c.Name, c)
	case c.Heads < 1 || c.Dim%c.Heads != 0:
		return nil, fmt.Errorf("transformer %q: %d heads do not divide width %d", c.Name, c.Heads, c.Dim)
	}
	b := newBuilder(c.Name, Shape{1, 1, c.Context}).
		embedding("embed", c.Vocab, c.Dim).
		posEmbedding("pos")
	for i := range c.Layers {
		p := fmt.Sprintf("l%d.", i+1)
		in := b.last()
		b.layerNorm(p+"ln1").attention(p+"attn", c.Heads, true).residual(p+"add1", in)
		in = b.last()
		b.layerNorm(p+"ln2").
			conv(p+"fc1", c.Hidden, 1, 1, 0).act(p+"relu").
			conv(p+"fc2", c.Dim, 1, 1, 0).
			residual(p+"add2", in)
	}
	return b.layerNorm("ln").conv("head", c.Vocab, 1, 1, 0).build(), nil
}

// CharTransformer returns the configuration of the transformer for the character
// language model: CharLMVocab tokens, CharLMContext positions, width 128, 2 heads of 64,
// 2 blocks, MLP width 512. With dh = 64 the attention's 1/sqrt(dh) scaling is a shift by
// 3 bits, exact in integer arithmetic.
func CharTransformer() TransformerConfig {
	return TransformerConfig{
		Name: "transformer", Vocab: CharLMVocab, Context: CharLMContext,
		Dim: 128, Heads: 2, Layers: 2, Hidden: 512,
	}
}

// Transformer is NewTransformer(CharTransformer()), the registry's "transformer":
// 429,664 parameters; per example 28,049,408 forward, 30,146,560 backward-data and
// 25,952,256 backward-weight MACs.
func Transformer() *Network {
	net, err := NewTransformer(CharTransformer())
	if err != nil {
		panic(err)
	}
	return net
}
