// ONNX import of multi-head attention: the primitive operators an exporter writes for
// scaled dot-product attention, read back as one Attention layer.

package models

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// attentionStage is a value inside an attention, from the projections split into
// heads to the heads merged again (the output projection then completes the layer):
//
//	split       a projection reshaped to (N, T, H, dh)
//	heads       transposed to (N, H, T, dh): queries or values
//	headsT      transposed to (N, H, dh, T): keys, ready for Q K^T
//	scores      Q K^T, times scale, plus a causal mask when masked
//	probs       softmax of the scores over the keys
//	context     probs times V, (N, H, T, dh)
//	merged4     transposed back to (N, T, H, dh)
//	merged      reshaped to (N, T, D)
type attentionStage struct {
	stage string
	lin   *pendingLinear // split, heads, headsT: the projection
	heads int64
	// q, k and v are the projections' stages (scores on).
	q, k, v *attentionStage
	scale   float64
	causal  bool
}

// d and t are the model width and the positions of the attention's input.
func (a *attentionStage) dims() (d, t int64) {
	p := a.lin
	if p == nil {
		p = a.q.lin
	}
	return p.dims()
}

func attnValue(s attentionStage) *value { return &value{attn: &s} }

// attentionReshape splits a projection into heads, or merges heads back.
func (im *importer) attentionReshape(v *value, target []int64) (*value, error) {
	if v.lin != nil {
		p := v.lin
		x := p.x
		if !x.act || x.lay != laySeq {
			return nil, fmt.Errorf("reshapes a product of a tensor of dims %v to %v: rctsim reads a Reshape of a projection only to split a sequence's attention heads", onnxDims(x.lay, x.shape), shapeText(target))
		}
		d, t := p.dims()
		out, err := reshapeDims([]int64{batchSentinel, t, d}, target, false)
		if err != nil {
			return nil, err
		}
		if len(out) != 4 || out[0] != batchSentinel || out[1] != t || out[2] < 1 || out[2]*out[3] != d {
			return nil, fmt.Errorf("reshapes a projection (N, %d, %d) to %s: rctsim reads it only as the split into heads (N, T, H, D/H)", t, d, shapeText(out))
		}
		return attnValue(attentionStage{stage: "split", lin: p, heads: out[2]}), nil
	}
	a := v.attn
	if a.stage != "merged4" {
		return nil, fmt.Errorf("reshapes the attention's %s: rctsim reads only the merge of the heads after the context", a.stage)
	}
	d, t := a.dims()
	out, err := reshapeDims([]int64{batchSentinel, t, a.heads, d / a.heads}, target, false)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(out, []int64{batchSentinel, t, d}) {
		return nil, fmt.Errorf("reshapes the merged heads to %s, not (N, %d, %d)", shapeText(out), t, d)
	}
	m := *a
	m.stage = "merged"
	return attnValue(m), nil
}

// attentionTranspose moves the heads' axes.
func (im *importer) attentionTranspose(v *value, perm []int64) (*value, error) {
	a := *v.attn
	switch {
	case a.stage == "split" && slices.Equal(perm, []int64{0, 2, 1, 3}):
		a.stage = "heads"
	case a.stage == "split" && slices.Equal(perm, []int64{0, 2, 3, 1}):
		a.stage = "headsT"
	case a.stage == "heads" && slices.Equal(perm, []int64{0, 1, 3, 2}):
		a.stage = "headsT"
	case a.stage == "context" && slices.Equal(perm, []int64{0, 2, 1, 3}):
		a.stage = "merged4"
	default:
		return nil, fmt.Errorf("transposes the attention's %s by %v: rctsim reads the transposes that split and merge heads", a.stage, perm)
	}
	return attnValue(a), nil
}

// attentionProduct is Q K^T, P V, or the output projection of the merged heads.
func (im *importer) attentionProduct(x, y *value) (*value, error) {
	switch {
	case x.attn != nil && x.attn.stage == "merged" && y.t != nil:
		if len(y.t.dims) != 2 || !y.t.isFloat {
			return nil, fmt.Errorf("the output projection's weight has dims %v", y.t.dims)
		}
		return &value{lin: &pendingLinear{x: x, w: y.t}}, nil
	case x.attn != nil && y.attn != nil && x.attn.stage == "heads" && y.attn.stage == "headsT":
		q, k := x.attn, y.attn
		if q.heads != k.heads || q.lin.w.dims[1] != k.lin.w.dims[1] {
			return nil, errors.New("queries and keys split into different heads")
		}
		return attnValue(attentionStage{stage: "scores", q: q, k: k, heads: q.heads, scale: 1}), nil
	case x.attn != nil && y.attn != nil && x.attn.stage == "probs" && y.attn.stage == "heads":
		s := *x.attn
		if y.attn.heads != s.heads || y.attn.lin.w.dims[1] != s.q.lin.w.dims[1] {
			return nil, errors.New("values split into other heads than queries and keys")
		}
		s.stage, s.v = "context", y.attn
		return attnValue(s), nil
	}
	describe := func(v *value) string {
		if v.attn != nil {
			return "the attention's " + v.attn.stage
		}
		return "another tensor"
	}
	return nil, fmt.Errorf("multiplies %s by %s: rctsim reads the products of attention as Q K^T, softmax times V and the output projection", describe(x), describe(y))
}

// attentionScale multiplies or divides the scores by a constant.
func (im *importer) attentionScale(v *value, c *tensor, op string) (*value, error) {
	a := *v.attn
	f, err := c.scalar()
	if err != nil || a.stage != "scores" || f == 0 {
		return nil, fmt.Errorf("%s of the attention's %s: rctsim reads it only as the scaling of the scores by a constant", op, a.stage)
	}
	if op == "Div" {
		f = 1 / f
	}
	a.scale *= f
	return attnValue(a), nil
}

// attentionMask adds a constant to the scores: a causal mask, the only one read.
func (im *importer) attentionMask(v *value, m *tensor) (*value, error) {
	a := *v.attn
	if a.stage != "scores" || a.causal {
		return nil, fmt.Errorf("adds a constant to the attention's %s: rctsim reads one additive causal mask on the scores", a.stage)
	}
	_, t := a.dims()
	d := m.dims
	for len(d) > 2 && d[0] == 1 {
		d = d[1:]
	}
	if !slices.Equal(d, []int64{t, t}) || !m.hasData() {
		return nil, fmt.Errorf("adds a constant of dims %v to the scores (with values: %v): rctsim reads a causal mask of T x T values (T = %d)", m.dims, m.hasData(), t)
	}
	for i := range t {
		for j := range t {
			x := m.at(int(i*t + j))
			if (j <= i && x != 0) || (j > i && !(x <= -1e4)) {
				return nil, fmt.Errorf("the mask added to the scores is not causal (0 on and below the diagonal, -inf or below -1e4 above): %v at row %d, column %d", x, i, j)
			}
		}
	}
	a.causal = true
	return attnValue(a), nil
}

// attentionSoftmax normalises the scores over the keys.
func (im *importer) attentionSoftmax(v *value) (*value, error) {
	a := *v.attn
	ax := im.attrInt("axis", -1)
	if a.stage != "scores" || (ax != -1 && ax != 3) {
		return nil, fmt.Errorf("a Softmax over axis %d of the attention's %s: rctsim reads the softmax of the scores over the keys", ax, a.stage)
	}
	dh := float64(a.q.lin.w.dims[1] / a.heads)
	if want := 1 / math.Sqrt(dh); math.Abs(a.scale-want) > 1e-6*want {
		return nil, fmt.Errorf("the scores are scaled by %v, not 1/sqrt(%v) = %v as rctsim's attention scales them", a.scale, dh, want)
	}
	a.stage = "probs"
	return attnValue(a), nil
}

// attentionLayer completes an attention with its output projection.
func (im *importer) attentionLayer(o *pendingLinear) (*value, error) {
	a := o.x.attn
	if a.stage != "merged" {
		return nil, fmt.Errorf("a product of the attention's %s", a.stage)
	}
	q, k, v := a.q.lin, a.k.lin, a.v.lin
	x := q.x
	if k.x != x || v.x != x {
		return nil, errors.New("queries, keys and values project different inputs: rctsim's attention is self-attention")
	}
	d := int64(x.shape.C)
	projs := []*pendingLinear{q, k, v, o}
	bias := o.bias != nil
	for _, p := range projs {
		if !slices.Equal(p.w.dims, []int64{d, d}) {
			return nil, fmt.Errorf("a projection of dims %v: rctsim's attention has four %d x %d projections", p.w.dims, d, d)
		}
		if (p.bias != nil) != bias {
			return nil, errors.New("some projections have a bias and others not")
		}
		if p.bias != nil && elems(p.bias.dims) != d {
			return nil, fmt.Errorf("a projection bias of dims %v", p.bias.dims)
		}
	}
	var w, b []float32
	data := true
	for _, p := range projs {
		data = data && p.w.hasData() && (p.bias == nil || p.bias.hasData())
	}
	if data {
		for _, p := range projs {
			wt, err := p.w.transpose(nil)
			if err != nil {
				return nil, err
			}
			w = append(w, wt.float32s()...)
			if p.bias != nil {
				b = append(b, p.bias.float32s()...)
			}
		}
	}
	name := strings0(q.w.name)
	l := Layer{Name: im.layerName(name, Attention), Kind: Attention, Out: x.shape, Heads: int(a.heads), Causal: a.causal, Bias: bias}
	return im.addLayer(l, x, laySeq, w, b), nil
}

// strings0 names an attention after its query projection's module (attn.q.weight ->
// attn).
func strings0(qWeight string) string {
	for _, suffix := range []string{".q.weight", ".query.weight", ".q_proj.weight"} {
		if len(qWeight) > len(suffix) && qWeight[len(qWeight)-len(suffix):] == suffix {
			return qWeight[:len(qWeight)-len(suffix)] + ".weight"
		}
	}
	return ""
}
