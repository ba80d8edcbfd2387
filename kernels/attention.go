package kernels

import (
	"fmt"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
)

// Attention is lowered as the products models.Layer.GEMMs lists, each its own kernel,
// with the tensors between them in DRAM (T positions, D channels, H heads of dh):
//
//	forward   qkv       [Q K V] = x [Wq Wk Wv] + b     one 1x1 convolution, 3D outputs
//	          scores    S = Q_h K_h^T, then P = softmax(S/sqrt(dh)) (causal: masked)
//	                    in the epilogue (VSoftmax), P saved
//	          context   O_h = P_h V_h
//	          out       y = O Wo + bo
//	backward  out       dO = dy Wo^T; then Wo's gradient O^T dy and its update
//	          context   dP = dO_h V_h^T, then dS = P*(dP - sum(dP*P))/sqrt(dh) in the
//	                    epilogue (VSoftmaxBackward, reading the saved P)
//	                    dV_h = P_h^T dO_h
//	          scores    dQ_h = dS_h K_h, dK_h = dS_h^T Q_h
//	          qkv       dx = [dQ dK dV] [Wq Wk Wv]^T (when the input needs its error);
//	                    then the gradient x^T [dQ dK dV] and the update of Wq, Wk, Wv
//
// The per-head products run once per (example, head) pair, as the groups of one kernel
// (gemmKernel.groups). Their tiles hold whole positions; the two whose epilogue is a
// softmax hold every key of a query in one tile. The 1/sqrt(dh) scaling is folded into
// the softmax and its backward. The scores of a causal layer are computed in full and
// masked, as the model counts them.
//
// Q, K, V, P and the context are saved by the forward pass; the errors between the
// backward products (dO, dS and [dQ dK dV]) live in tensors shared by every attention
// layer. The activations are viewed with positions as rows ({C, T, 1} instead of
// {C, 1, T}), so that tiles of positions are rows the DMA can fetch.

// attentionErrors are the DRAM tensors of the errors inside attention's backward pass.
type attentionErrors struct {
	context, qkv act4 // dO, [dQ dK dV] (D and 3D channels per example)
	scores       act4 // dS (H*T*T per example)
}

// allocateAttention lays out what an attention layer's forward pass saves.
func (c *compiler) allocateAttention(i int) {
	l := &c.net.Layers[i]
	s := &c.side[i]
	t := int64(l.In.W)
	s.qkv = c.newAct(l.Name+".qkv", ClassActivations, i, models.Shape{C: 3 * l.In.C, H: l.In.H, W: l.In.W}, c.num.actBits)
	s.context = c.newAct(l.Name+".context", ClassActivations, i, l.In, c.num.actBits)
	s.probs = c.newMat(l.Name+".probs", ClassActivations, i, hw.MulSat(c.batch, int64(l.Heads), t), t, c.num.actBits, c.num.actBits)
}

// allocateAttentionErrors lays out the errors of attention's backward pass, for the
// largest attention layer.
func (c *compiler) allocateAttentionErrors() {
	var ctx, scores int64
	for i := range c.net.Layers {
		if l := &c.net.Layers[i]; l.Kind == models.Attention {
			ctx = max(ctx, l.In.Elems())
			scores = max(scores, int64(l.Heads)*int64(l.In.W)*int64(l.In.W))
		}
	}
	if ctx == 0 {
		return
	}
	vec := func(n int64) models.Shape { return models.Shape{C: int(n), H: 1, W: 1} }
	e := &c.attnErrs
	e.context = c.newAct("attention.context_error", ClassErrors, -1, vec(ctx), c.num.errBits)
	e.qkv = c.newAct("attention.qkv_error", ClassErrors, -1, vec(3*ctx), c.num.errBits)
	e.scores = c.newAct("attention.scores_error", ClassErrors, -1, vec(scores), c.num.errBits)
}

// attention holds an attention layer's shapes and tensors, viewed for its products.
type attention struct {
	d, t, heads, dh    int64
	causal             bool
	qkv, ctx           act4 // [Q K V], context: {channels, T, 1}
	probs              mat2 // P: a row of T per (example, head, query)
	dO, dQKV           act4 // errors, viewed as the activations
	dS                 mat2
	actBits, errBits   int
	actBytes, errBytes int64
}

func (c *compiler) attention(i int) *attention {
	l := &c.net.Layers[i]
	a := &attention{d: int64(l.In.C), t: int64(l.In.W), heads: int64(l.Heads), causal: l.Causal,
		actBits: c.num.actBits, errBits: c.num.errBits, actBytes: int64(c.num.actBits / 8), errBytes: int64(c.num.errBits / 8)}
	a.dh = a.d / a.heads
	s := c.side[i]
	a.qkv = view(s.qkv, 3*a.d, a.t, 1, a.actBytes)
	a.ctx = view(s.context, a.d, a.t, 1, a.actBytes)
	a.probs = s.probs
	if !c.opt.ForwardOnly {
		e := c.attnErrs
		a.dO = view(e.context, a.d, a.t, 1, a.errBytes)
		a.dQKV = view(e.qkv, 3*a.d, a.t, 1, a.errBytes)
		a.dS = mat2{tensor: e.scores.tensor, base: e.scores.base, rows: a.probs.rows, cols: a.t, bits: a.errBits}
	}
	return a
}

// head decodes a per-head product's group: the example, the head's first channel and
// its first row in P and dS.
func (a *attention) head(grp int64) (n, ch, row int64) {
	return grp / a.heads, (grp % a.heads) * a.dh, grp * a.t
}

// projection is the 1x1 convolution over the sequence of the projections whose
// weights start at row row0 and number cout (3D for Q, K and V; D for the output),
// reading x (viewed {D, 1, T}) and writing y.
func (a *attention) projection(x, y act4, cout, row0 int64) convGEMM {
	role := RoleQKV
	if row0 > 0 {
		role = RoleOut
	}
	return convGEMM{g: geom{cin: a.d, h: 1, w: a.t, cout: cout, ho: 1, wo: a.t, kh: 1, kw: 1, s: 1}, groups: 1,
		x: view(x, a.d, 1, a.t, a.actBytes), y: view(y, cout, 1, a.t, a.actBytes), row0: row0, role: role}
}

// operandSpec is one operand of a per-head product: its tensor, what it holds, and the
// box a tile pair (rows, cols of the operand: M x K for A, K x N for B) needs, given
// the product's example, head channel and row in P.
type operandSpec struct {
	layout layout
	class  TensorClass
	bits   int
	box    func(n, ch, row int64, rows, cols tile) Box
}

// act is an operand taken from activations or errors v (viewed {channels, T, 1}) at
// channels off + the head's: positions along the operand's rows when posRows (else its
// columns), channels along the other.
func (a *attention) act(v act4, class TensorClass, bits int, off int64, posRows bool) operandSpec {
	return operandSpec{layout: v, class: class, bits: bits, box: func(n, ch, _ int64, rows, cols tile) Box {
		pos, chans := rows, cols
		if !posRows {
			pos, chans = cols, rows
		}
		return actBox(n, n+1, off+ch+chans.c0, off+ch+chans.c1, pos.lo, pos.hi)
	}}
}

// matOperand is an operand taken from P or dS: rows are queries, columns keys;
// transposed when the product reads it as keys x queries.
func matOperand(m mat2, class TensorClass, bits int, transposed bool) operandSpec {
	return operandSpec{layout: m, class: class, bits: bits, box: func(_, _, row int64, rows, cols tile) Box {
		if transposed {
			rows, cols = cols, rows
		}
		return matBox(row+rows.lo, row+rows.hi, cols.lo, cols.hi)
	}}
}

// positions is a GEMM dimension over the positions of one example, tiled by whole
// positions; allPositions is the same as one indivisible tile.
func (a *attention) positions() dim    { return spatialDim(1, a.t, 1) }
func (a *attention) allPositions() dim { return groupDim(1, a.t) }

// headKernel is a per-head product C (m x n) = A (m x k) B (k x n), repeated for every
// example and head. The epilogue is the caller's.
func (c *compiler) headKernel(a *attention, m, n, k dim, opA, opB operandSpec, cClass TensorClass) *gemmKernel {
	return &gemmKernel{
		m: m, n: n, k: k, groups: c.batch * a.heads,
		format: c.num.float, weightBits: opB.bits, actBits: opA.bits,
		aClass: opA.class, bClass: opB.class, cClass: cClass, aBits: opA.bits, bBits: opB.bits,
		aLayout: opA.layout, bLayout: opB.layout,
		aBox: func(m, k tile) Box {
			n, ch, row := a.head(m.grp)
			return opA.box(n, ch, row, m, k)
		},
		bBox: func(k, nt tile) Box {
			n, ch, row := a.head(nt.grp)
			return opB.box(n, ch, row, k, nt)
		},
	}
}

// requantInto finishes a per-head product whose output tile (positions x head
// channels) goes to channels off + the head's of v (viewed {channels, T, 1}).
func (c *compiler) requantInto(a *attention, k *gemmKernel, v act4, off int64, class TensorClass, bits int) {
	box := func(m, n tile) Box {
		e, ch, _ := a.head(m.grp)
		return actBox(e, e+1, off+ch+n.c0, off+ch+n.c1, m.lo, m.hi)
	}
	k.epilogueBytes = func(m, n tile) int64 { return v.boxBytes(box(m, n)) }
	k.newEpilogueSlots = func(mt, nt int64) *epilogueSlots { return c.requantSlots(v, mt, nt) }
	k.epilogue = func(m, n tile, acc *operandSlot, e *epilogueSlots) {
		c.requant(acc, nil, Box{}, v, box(m, n), m, n, class, bits, e)
	}
}

func (c *compiler) forwardAttention(i int) error {
	a := c.attention(i)
	s := c.side[i]
	if err := c.forwardGEMM(i, a.projection(c.inputOf(i), s.qkv, 3*a.d, 0)); err != nil {
		return err
	}

	c.beginKernel(i, models.Forward)
	c.role = RoleScores
	q := a.act(a.qkv, ClassActivations, a.actBits, 0, true)
	kT := a.act(a.qkv, ClassActivations, a.actBits, a.d, false)
	scores := c.headKernel(a, a.positions(), a.allPositions(), flatDim(a.dh), q, kT, ClassActivations)
	vop := VSoftmax
	if a.causal {
		vop = VSoftmaxCausal
	}
	rowsOf := func(m tile) region {
		_, _, row := a.head(m.grp)
		return a.probs.region(row+m.lo, row+m.hi, 0, a.t)
	}
	scores.epilogueBytes = func(m, _ tile) int64 { return rowsOf(m).bytes() }
	scores.newEpilogueSlots = func(mt, _ int64) *epilogueSlots {
		return &epilogueSlots{pairs: []*pair{c.newPair(roleOutputs, mt*a.probs.pitch())}}
	}
	scores.epilogue = func(m, n tile, acc *operandSlot, e *epilogueSlots) {
		rs := []region{rowsOf(m)}
		p := &operandSlot{s: e.pairs[0].fresh(), class: ClassActivations, bits: a.actBits, bytes: regionsBytes(rs)}
		_, _, row := a.head(m.grp)
		c.fn = c.descriptor(FuncDesc{M: exportTile(m), N: exportTile(n), C: matBox(row+m.lo, row+m.hi, 0, a.t), Group: m.grp})
		c.vector(vop, m.len()*a.t, acc, nil, p)
		c.store(rs, ClassActivations, a.actBits, p.s)
	}
	if err := c.emitGEMM(scores); err != nil {
		return fmt.Errorf("attention scores: %w", err)
	}

	c.beginKernel(i, models.Forward)
	c.role = RoleContext
	p := matOperand(a.probs, ClassActivations, a.actBits, false)
	v := a.act(a.qkv, ClassActivations, a.actBits, 2*a.d, true)
	context := c.headKernel(a, a.positions(), flatDim(a.dh), a.positions(), p, v, ClassActivations)
	c.requantInto(a, context, a.ctx, 0, ClassActivations, a.actBits)
	if err := c.emitGEMM(context); err != nil {
		return fmt.Errorf("attention context: %w", err)
	}

	return c.forwardGEMM(i, a.projection(s.context, c.out[i], a.d, 3*a.d))
}

// backwardAttention emits attention's backward pass reading the error of its output in
// errs[cur]; it returns the error tensor that holds the error of its input.
func (c *compiler) backwardAttention(i, cur int) (int, error) {
	a := c.attention(i)
	s := c.side[i]
	weightErr := func(err error) error {
		return &CompileError{Model: c.net.Name, Profile: c.prof.Name, Layer: c.net.Layers[i].Name, Phase: models.BackwardWeight, Err: err}
	}
	dy := c.errView(cur, a.d, 1, a.t)
	out := a.projection(s.context, c.out[i], a.d, 3*a.d)
	if err := c.backwardData(i, out, dy, a.dO); err != nil {
		return cur, err
	}
	if err := c.backwardWeight(i, out, dy); err != nil {
		return cur, weightErr(err)
	}

	// dP = dO V^T, and the softmax backward into dS.
	c.beginKernel(i, models.BackwardData)
	c.role = RoleDP
	dO := a.act(a.dO, ClassErrors, a.errBits, 0, true)
	vT := a.act(a.qkv, ClassActivations, a.actBits, 2*a.d, false)
	dP := c.headKernel(a, a.positions(), a.allPositions(), flatDim(a.dh), dO, vT, ClassErrors)
	rowsOf := func(m mat2, t tile) region {
		_, _, row := a.head(t.grp)
		return m.region(row+t.lo, row+t.hi, 0, a.t)
	}
	dP.epilogueBytes = func(m, _ tile) int64 { return rowsOf(a.probs, m).bytes() + rowsOf(a.dS, m).bytes() }
	dP.newEpilogueSlots = func(mt, _ int64) *epilogueSlots {
		return &epilogueSlots{pairs: []*pair{c.newPair(roleOutputs, mt*a.probs.pitch()), c.newPair(roleOutputs, mt*a.dS.pitch())}}
	}
	dP.prologue = func(m, _ tile, e *epilogueSlots) {
		// The saved probabilities of the tile's queries, for the epilogue.
		r := rowsOf(a.probs, m)
		p := &operandSlot{s: e.pairs[0].fresh(), class: ClassActivations, bits: a.actBits, bytes: r.bytes()}
		c.load([]region{r}, ClassActivations, a.actBits, p.s)
		e.staged = append(e.staged, []*operandSlot{p})
	}
	dP.epilogue = func(m, n tile, acc *operandSlot, e *epilogueSlots) {
		p := e.staged[0][0]
		e.staged = e.staged[1:]
		rs := []region{rowsOf(a.dS, m)}
		ds := &operandSlot{s: e.pairs[1].fresh(), class: ClassErrors, bits: a.errBits, bytes: regionsBytes(rs)}
		_, _, row := a.head(m.grp)
		c.fn = c.descriptor(FuncDesc{M: exportTile(m), N: exportTile(n), B: matBox(row+m.lo, row+m.hi, 0, a.t), C: matBox(row+m.lo, row+m.hi, 0, a.t), Group: m.grp})
		c.vector(VSoftmaxBackward, m.len()*a.t, acc, p, ds)
		c.store(rs, ClassErrors, a.errBits, ds.s)
	}
	if err := c.emitGEMM(dP); err != nil {
		return cur, fmt.Errorf("attention probabilities' error: %w", err)
	}

	// dV = P^T dO, dQ = dS K, dK = dS^T Q, into [dQ dK dV].
	products := []struct {
		what   string
		a, b   operandSpec
		outOff int64
		role   Role
	}{
		{"values' error", matOperand(a.probs, ClassActivations, a.actBits, true), a.act(a.dO, ClassErrors, a.errBits, 0, true), 2 * a.d, RoleDV},
		{"queries' error", matOperand(a.dS, ClassErrors, a.errBits, false), a.act(a.qkv, ClassActivations, a.actBits, a.d, true), 0, RoleDQ},
		{"keys' error", matOperand(a.dS, ClassErrors, a.errBits, true), a.act(a.qkv, ClassActivations, a.actBits, 0, true), a.d, RoleDK},
	}
	for _, pr := range products {
		c.beginKernel(i, models.BackwardData)
		c.role = pr.role
		k := c.headKernel(a, a.positions(), flatDim(a.dh), a.positions(), pr.a, pr.b, ClassErrors)
		c.requantInto(a, k, a.dQKV, pr.outOff, ClassErrors, a.errBits)
		if err := c.emitGEMM(k); err != nil {
			return cur, fmt.Errorf("attention %s: %w", pr.what, err)
		}
	}

	qkv := a.projection(c.inputOf(i), s.qkv, 3*a.d, 0)
	next := cur
	if c.needsDX(i) {
		if err := c.backwardData(i, qkv, a.dQKV, c.errView(1-cur, a.d, 1, a.t)); err != nil {
			return cur, err
		}
		next = 1 - cur
	}
	if err := c.backwardWeight(i, qkv, a.dQKV); err != nil {
		return cur, weightErr(err)
	}
	return next, nil
}
