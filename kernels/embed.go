package kernels

import (
	"fmt"

	"github.com/rctsim/rctsim/models"
)

// An embedding is a table lookup, not a GEMM: the forward pass gathers one table row per
// token and converts it to an activation; the backward pass gathers the same rows of
// every parameter tensor, updates them with the error and scatters them back (a sparse
// update: rows no token used are not touched). Both work in chunks of examples.

// embedChunk picks how many examples a chunk holds: the largest count whose
// double-buffered slots fit.
func (c *compiler) embedChunk(perExample [numRoles]int64) (int64, error) {
	for _, n := range flatDim(c.batch).candidates() {
		used := make([]int64, len(c.prog.Buffers))
		for role, b := range perExample {
			used[c.roleBuf[role]] += 2 * n * b
		}
		fits := true
		for i, u := range used {
			if u > c.prog.Buffers[i].Capacity {
				fits = false
			}
		}
		if fits {
			return n, nil
		}
	}
	return 0, fmt.Errorf("embedding does not fit the SRAM: one example needs %v bytes (inputs, weights, outputs), double-buffered", perExample)
}

func (c *compiler) forwardEmbedding(i int) error {
	c.beginKernel(i, models.Forward)
	l := &c.net.Layers[i]
	tokens, dim := int64(l.In.W), int64(l.Out.C)
	ids := view(c.inputOf(i), 1, 1, tokens, int64(c.num.actBits/8))
	out := view(c.out[i], dim, 1, tokens, int64(c.num.actBits/8))
	w := c.gemmW[i]
	var per [numRoles]int64
	per[roleInputs] = ids.imageBytes()
	per[roleWeights] = tokens * w.pitch()
	per[roleOutputs] = out.imageBytes()
	n, err := c.embedChunk(per)
	if err != nil {
		return err
	}
	idSlots, rowSlots, outSlots := c.newPair(roleInputs, n*per[roleInputs]), c.newPair(roleWeights, n*per[roleWeights]), c.newPair(roleOutputs, n*per[roleOutputs])
	if err := c.checkAlloc(); err != nil {
		return err
	}
	for e := int64(0); e < c.batch; e += n {
		e1 := min(e+n, c.batch)
		idRs := ids.regions(e, e1, 0, 1, 0, 1)
		idSlot := idSlots.fresh()
		c.load(idRs, ClassActivations, c.num.actBits, idSlot)
		rows := w.gather((e1 - e) * tokens)
		rowSlot := rowSlots.fresh()
		c.load([]region{rows}, ClassWeights, w.bits, rowSlot)
		outRs := out.regions(e, e1, 0, dim, 0, 1)
		o := &operandSlot{s: outSlots.fresh(), class: ClassActivations, bits: c.num.actBits, bytes: regionsBytes(outRs)}
		c.vector(VConvert, (e1-e)*tokens*dim, &operandSlot{s: rowSlot, class: ClassWeights, bits: w.bits, bytes: rows.bytes()}, nil, o)
		c.store(outRs, ClassActivations, c.num.actBits, o.s)
	}
	return nil
}

// backwardEmbedding applies the update to the rows the batch's tokens used.
func (c *compiler) backwardEmbedding(i int, dyAny act4) error {
	c.beginKernel(i, models.BackwardWeight)
	l := &c.net.Layers[i]
	tokens, dim := int64(l.In.W), int64(l.Out.C)
	ids := view(c.inputOf(i), 1, 1, tokens, int64(c.num.actBits/8))
	dy := view(dyAny, dim, 1, tokens, int64(c.num.errBits/8))
	states := c.state[i]
	var per [numRoles]int64
	per[roleInputs] = ids.imageBytes() + dy.imageBytes()
	for _, st := range states {
		per[roleOutputs] += tokens * st.m.pitch()
	}
	n, err := c.embedChunk(per)
	if err != nil {
		return err
	}
	idSlots, dySlots := c.newPair(roleInputs, n*ids.imageBytes()), c.newPair(roleInputs, n*dy.imageBytes())
	pairs := make([]*pair, len(states))
	for j, st := range states {
		pairs[j] = c.newPair(roleOutputs, n*tokens*st.m.pitch())
	}
	if err := c.checkAlloc(); err != nil {
		return err
	}
	for e := int64(0); e < c.batch; e += n {
		e1 := min(e+n, c.batch)
		c.phase = models.BackwardWeight
		c.load(ids.regions(e, e1, 0, 1, 0, 1), ClassActivations, c.num.actBits, idSlots.fresh())
		dyRs := dy.regions(e, e1, 0, dim, 0, 1)
		g := &operandSlot{s: dySlots.fresh(), class: ClassErrors, bits: c.num.errBits, bytes: regionsBytes(dyRs)}
		c.load(dyRs, ClassErrors, c.num.errBits, g.s)
		rs := make([]region, len(states))
		for j, st := range states {
			rs[j] = st.m.gather((e1 - e) * tokens)
		}
		c.update(states, rs, g, pairs, nil)
	}
	return nil
}
