package kernels

import (
	"fmt"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
)

// An embedding is a table lookup, not a GEMM: the forward pass gathers one table row per
// token and converts it to an activation; the backward pass gathers the same rows of
// every parameter tensor, updates them with the error and scatters them back (a sparse
// update: rows no token used are not touched). Both work in chunks of examples, or of
// one example's tokens when a whole example does not fit. The tensors are viewed with
// tokens as rows ({C, T, 1}), so that a range of tokens is rows the DMA can fetch.

// embedChunk picks the examples and tokens a chunk holds from the bytes each token
// needs per role: every token of the most examples whose double-buffered slots fit, or
// else the most tokens of one example.
func (c *compiler) embedChunk(perToken [numRoles]int64, tokens int64) (n, t int64, err error) {
	fits := func(units int64) bool {
		var need [numRoles]int64
		for role, b := range perToken {
			need[role] = 2 * units * b
		}
		return c.fits(need)
	}
	for _, n := range flatDim(c.batch).candidates() {
		if fits(n * tokens) {
			return n, tokens, nil
		}
	}
	for _, t := range flatDim(tokens).candidates() {
		if fits(t) {
			return 1, t, nil
		}
	}
	return 0, 0, fmt.Errorf("embedding %w: one token needs %v bytes (inputs, weights, outputs), double-buffered", ErrNoFit, perToken)
}

// loadIDs loads the token ids of images e..e1, positions t0..t1 into the next of
// slots and returns where they are, as a gather reads its indices.
func (c *compiler) loadIDs(ids act4, e, e1, t0, t1 int64, slots *pair) SRAMRef {
	rs := ids.regions(e, e1, 0, 1, t0, t1)
	s := slots.fresh()
	c.load(rs, ClassActivations, c.num.actBits, s)
	return SRAMRef{Buffer: s.ref.Buffer, Offset: s.ref.Offset, Bytes: regionsBytes(rs)}
}

// embedChunks lists the chunks of examples [e0,e1) and tokens [t0,t1); none, with c.err
// set, when they would not fit Options.MaxInstrs.
func (c *compiler) embedChunks(n, t, tokens int64) [][4]int64 {
	if c.room(hw.MulSat(ceilDiv(c.batch, n), ceilDiv(tokens, t)), fmt.Sprintf("an embedding pass over %d examples, %d at a time", c.batch, n)) != nil {
		return nil
	}
	var out [][4]int64
	for e := int64(0); e < c.batch; e += n {
		for t0 := int64(0); t0 < tokens; t0 += t {
			out = append(out, [4]int64{e, min(e+n, c.batch), t0, min(t0+t, tokens)})
		}
	}
	return out
}

func (c *compiler) forwardEmbedding(i int) error {
	c.beginKernel(i, models.Forward)
	l := &c.net.Layers[i]
	tokens, dim := int64(l.In.W), int64(l.Out.C)
	ids := view(c.inputOf(i), 1, tokens, 1, int64(c.num.actBits/8))
	out := view(c.out[i], dim, tokens, 1, int64(c.num.actBits/8))
	w := c.gemmW[i]
	var per [numRoles]int64
	per[roleInputs] = ids.elemBytes
	per[roleWeights] = w.pitch()
	per[roleOutputs] = dim * out.elemBytes
	n, t, err := c.embedChunk(per, tokens)
	if err != nil {
		return err
	}
	idSlots, rowSlots, outSlots := c.newPair(roleInputs, n*t*per[roleInputs]), c.newPair(roleWeights, n*t*per[roleWeights]), c.newPair(roleOutputs, n*t*per[roleOutputs])
	if err := c.checkAlloc(); err != nil {
		return err
	}
	for _, k := range c.embedChunks(n, t, tokens) {
		e, e1, t0, t1 := k[0], k[1], k[2], k[3]
		index := c.loadIDs(ids, e, e1, t0, t1, idSlots)
		rows := w.gather((e1 - e) * (t1 - t0))
		rows.index = index
		rowSlot := rowSlots.fresh()
		c.load([]region{rows}, ClassWeights, w.bits, rowSlot)
		outRs := out.regions(e, e1, 0, dim, t0, t1)
		o := &operandSlot{s: outSlots.fresh(), class: ClassActivations, bits: c.num.actBits, bytes: regionsBytes(outRs)}
		c.fn = c.descriptor(FuncDesc{A: actBox(e, e1, 0, 1, t0, t1), C: actBox(e, e1, 0, dim, t0, t1), Index: index})
		c.vector(VConvert, (e1-e)*(t1-t0)*dim, &operandSlot{s: rowSlot, class: ClassWeights, bits: w.bits, bytes: rows.bytes()}, nil, o)
		c.store(outRs, ClassActivations, c.num.actBits, o.s)
	}
	return nil
}

// backwardEmbedding applies the update to the rows the batch's tokens used. When the
// batch's tokens take several chunks, a token may occur in two of them, and the
// integer numerics update its row once with the sum of all its errors: the errors are
// then first summed into a gradient table in DRAM (gathered and scattered per chunk),
// and the update runs over the whole table, clearing it for the next step.
func (c *compiler) backwardEmbedding(i int, dyAny act4) error {
	c.beginKernel(i, models.BackwardWeight)
	l := &c.net.Layers[i]
	tokens, dim := int64(l.In.W), int64(l.Out.C)
	ids := view(c.inputOf(i), 1, tokens, 1, int64(c.num.actBits/8))
	dy := view(dyAny, dim, tokens, 1, int64(c.num.errBits/8))
	states := c.state[i]
	var per [numRoles]int64
	per[roleInputs] = ids.elemBytes + dim*dy.elemBytes
	for _, st := range states {
		per[roleOutputs] += st.m.pitch()
	}
	n, t, err := c.embedChunk(per, tokens)
	if err != nil {
		return err
	}
	// RCT's momentum moves every row each step (the buffers of rows no token used still
	// decay and move their weights), so it updates the whole table.
	if len(c.embedChunks(n, t, tokens)) > 1 || c.opt.MomentumShift != 0 {
		return c.backwardEmbeddingTable(i, dyAny)
	}
	idSlots, dySlots := c.newPair(roleInputs, n*t*ids.elemBytes), c.newPair(roleInputs, n*t*dim*dy.elemBytes)
	pairs := make([]*pair, len(states))
	for j, st := range states {
		pairs[j] = c.newPair(roleOutputs, n*t*st.m.pitch())
	}
	if err := c.checkAlloc(); err != nil {
		return err
	}
	for _, k := range c.embedChunks(n, t, tokens) {
		e, e1, t0, t1 := k[0], k[1], k[2], k[3]
		c.phase = models.BackwardWeight
		index := c.loadIDs(ids, e, e1, t0, t1, idSlots)
		dyRs := dy.regions(e, e1, 0, dim, t0, t1)
		g := &operandSlot{s: dySlots.fresh(), class: ClassErrors, bits: c.num.errBits, bytes: regionsBytes(dyRs)}
		c.load(dyRs, ClassErrors, c.num.errBits, g.s)
		rs := make([]region, len(states))
		for j, st := range states {
			rs[j] = st.m.gather((e1 - e) * (t1 - t0))
			rs[j].index = index
		}
		c.update(states, rs, g, pairs, c.descriptor(FuncDesc{A: actBox(e, e1, 0, dim, t0, t1), Index: index}))
	}
	return nil
}

// backwardEmbeddingTable is backwardEmbedding for a batch of several chunks: the
// errors summed per token into the gradient table, then the update of every row.
func (c *compiler) backwardEmbeddingTable(i int, dyAny act4) error {
	l := &c.net.Layers[i]
	tokens, dim, vocab := int64(l.In.W), int64(l.Out.C), int64(l.Vocab)
	ids := view(c.inputOf(i), 1, tokens, 1, int64(c.num.actBits/8))
	dy := view(dyAny, dim, tokens, 1, int64(c.num.errBits/8))
	states := c.state[i]
	grad := c.side[i].grad
	if grad.rows == 0 {
		grad = c.newMat(l.Name+".grad", ClassGradients, i, vocab, dim, c.num.accBits, c.num.accBits)
		c.side[i].grad = grad
	}
	// The sums: per chunk, the table rows of its tokens gathered, the errors added,
	// scattered back.
	var per [numRoles]int64
	per[roleInputs] = ids.elemBytes + dim*dy.elemBytes
	per[roleOutputs] = grad.pitch()
	n, t, err := c.embedChunk(per, tokens)
	if err != nil {
		return err
	}
	idSlots, dySlots := c.newPair(roleInputs, n*t*ids.elemBytes), c.newPair(roleInputs, n*t*dim*dy.elemBytes)
	rowSlots := c.newPair(roleOutputs, n*t*grad.pitch())
	if err := c.checkAlloc(); err != nil {
		return err
	}
	for _, k := range c.embedChunks(n, t, tokens) {
		e, e1, t0, t1 := k[0], k[1], k[2], k[3]
		index := c.loadIDs(ids, e, e1, t0, t1, idSlots)
		dyRs := dy.regions(e, e1, 0, dim, t0, t1)
		g := &operandSlot{s: dySlots.fresh(), class: ClassErrors, bits: c.num.errBits, bytes: regionsBytes(dyRs)}
		c.load(dyRs, ClassErrors, c.num.errBits, g.s)
		rows := grad.gather((e1 - e) * (t1 - t0))
		rows.index = index
		r := &operandSlot{s: rowSlots.fresh(), class: ClassGradients, bits: c.num.accBits, bytes: rows.bytes()}
		c.load([]region{rows}, ClassGradients, c.num.accBits, r.s)
		c.fn = c.descriptor(FuncDesc{A: actBox(e, e1, 0, dim, t0, t1), Index: index})
		c.vector(VBiasGrad, (e1-e)*(t1-t0)*dim, g, r, r)
		c.store([]region{rows}, ClassGradients, c.num.accBits, r.s)
	}
	// The update, rows of the table at a time; the gradient rows are cleared after.
	c.beginKernel(i, models.BackwardWeight)
	var rowBytes int64
	for _, st := range states {
		rowBytes += st.m.pitch()
	}
	var nr int64
	for _, cand := range flatDim(vocab).candidates() {
		var need [numRoles]int64
		need[roleOutputs] = 2 * cand * (grad.pitch() + rowBytes)
		if c.fits(need) {
			nr = cand
			break
		}
	}
	if nr == 0 {
		return fmt.Errorf("embedding update %w: one row of the table and of its gradient need %d bytes, double-buffered", ErrNoFit, grad.pitch()+rowBytes)
	}
	gradSlots := c.newPair(roleOutputs, nr*grad.pitch())
	pairs := make([]*pair, len(states))
	for j, st := range states {
		pairs[j] = c.newPair(roleOutputs, nr*st.m.pitch())
	}
	if err := c.checkAlloc(); err != nil {
		return err
	}
	for r0 := int64(0); r0 < vocab; r0 += nr {
		r1 := min(r0+nr, vocab)
		gr := grad.region(r0, r1, 0, dim)
		g := &operandSlot{s: gradSlots.fresh(), class: ClassGradients, bits: c.num.accBits, bytes: gr.bytes()}
		c.phase = models.BackwardWeight
		c.load([]region{gr}, ClassGradients, c.num.accBits, g.s)
		rs := make([]region, len(states))
		for j, st := range states {
			rs[j] = st.m.region(r0, r1, 0, dim)
		}
		c.update(states, rs, g, pairs, c.descriptor(FuncDesc{B: matBox(r0, r1, 0, dim)}))
		c.phase = models.BackwardWeight
		c.fn = c.descriptor(FuncDesc{C: matBox(r0, r1, 0, dim)})
		c.vector(VCopy, (r1-r0)*dim, nil, nil, g)
		c.store([]region{gr}, ClassGradients, c.num.accBits, g.s)
	}
	return nil
}
