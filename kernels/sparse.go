package kernels

import (
	"fmt"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
)

// Sparse and partial updates (Options.Update; numerics.Update says what a mask
// means). The compiler drops what a mask makes unnecessary:
//
//   - the backward pass ends at the first weight layer that updates anything
//     (stepNumerics.firstUpd): the layers before it have no backward kernels;
//   - a layer propagates the error to its input only when a weight layer before it
//     updates something (needsDX);
//   - a layer whose weights are frozen has no backward-weight GEMM and no weight
//     update; a bias that still learns sums the error in a pass of its own
//     (backwardBias), and a layer updating a fraction of its filters computes the
//     gradients of those rows alone;
//   - frozen parameters keep no optimizer state: no master copy, momentum or update
//     buffer in DRAM (allocateParams), and updated fractions keep it for their rows;
//   - activations that no kernel after the forward pass reads are not kept for it:
//     the footprint counts them at their peak while the forward pass uses them
//     (Program.footprint), so a frozen prefix of the network stores nothing for the
//     backward pass.

// needsDX reports whether layer i must propagate the error to its input: a weight
// layer before it updates something.
func (c *compiler) needsDX(i int) bool { return i > c.num.firstUpd }

// backwardBias computes the gradient of the bias row the product p owns from the
// error of its output (dyAny), summed over the batch and the positions, and applies
// the update to it: the backward pass of a layer whose weights are frozen (or updated
// for a fraction of its filters) but whose bias learns.
func (c *compiler) backwardBias(i int, p convGEMM, dyAny act4) error {
	c.beginKernel(i, models.BackwardWeight)
	g := p.g
	dy := view(dyAny, g.cout, g.ho, g.wo, int64(c.num.errBits/8))
	states := c.bstate[i]
	accBytes := int64(c.num.accBits / 8)
	dyIn := streamIn{v: dy, class: ClassErrors, bits: c.num.errBits}
	stateBytes := func(nc int64) (s int64) {
		for _, st := range states {
			s += st.m.region(0, 1, p.row0, p.row0+nc).bytes()
		}
		return s
	}
	ni, nc, nr, err := c.planChunks("bias gradient", c.batch, dy.h, alignedChannels(g.cout), [numRoles]int64{}, func(ni, nc, nr int64) [numRoles]int64 {
		var r [numRoles]int64
		r[roleInputs] = 2 * chunkBytes([]streamIn{dyIn}, chunk{0, ni, 0, nc, 0, nr})
		r[roleOutputs] = nc*accBytes + stateBytes(nc)
		return r
	})
	if err != nil {
		return err
	}
	grad := c.newSlot(roleOutputs, nc*accBytes)
	pairs := make([]*pair, len(states))
	for j, st := range states {
		s := c.newSlot(roleOutputs, st.m.region(0, 1, p.row0, p.row0+nc).bytes())
		pairs[j] = &pair{s: [2]*slot{s, s}}
	}
	dyPair := c.newPair(roleInputs, chunkBytes([]streamIn{dyIn}, chunk{0, ni, 0, nc, 0, nr}))
	if err := c.checkAlloc(); err != nil {
		return err
	}
	if err := c.room(hw.MulSat(ceilDiv(g.cout, nc), ceilDiv(c.batch, ni), ceilDiv(dy.h, nr)), fmt.Sprintf("a bias gradient over %d examples, %d at a time", c.batch, ni)); err != nil {
		return err
	}
	var chunks []chunk // channels outermost: each range's gradient completes in turn
	for c0 := int64(0); c0 < g.cout; c0 += nc {
		chunks = append(chunks, c.gridChunks(c.batch, ni, c0, min(c0+nc, g.cout), dy.h, nr)...)
	}
	c.streamChunks(chunks, []streamIn{dyIn}, dyPair, nil, func(k chunk, in *operandSlot) {
		gs := &operandSlot{s: grad, class: ClassGradients, bits: c.num.accBits, bytes: (k.c1 - k.c0) * accBytes}
		// K's start says whether the chunk adds to the gradient (not the first of its
		// channels) or starts it; B is the error box.
		c.fn = c.descriptor(FuncDesc{K: Tile{Lo: k.n0*dy.h + k.h0, Hi: (k.n1-1)*dy.h + k.h1}, N: Tile{Lo: k.c0, Hi: k.c1, C0: k.c0, C1: k.c1},
			B: actBox(k.n0, k.n1, k.c0, k.c1, k.h0, k.h1)})
		c.vector(VBiasGrad, k.elems(dy.w), in, nil, gs)
		if k.n1 < c.batch || k.h1 < dy.h {
			return
		}
		rs := make([]region, len(states))
		for j, st := range states {
			rs[j] = st.m.region(0, 1, p.row0+k.c0, p.row0+k.c1)
		}
		all := Tile{Lo: k.c0, Hi: k.c1, C0: k.c0, C1: k.c1}
		c.updateCompute(states, rs, gs, c.updateLoad(states, rs, pairs), c.descriptor(FuncDesc{N: all, B: matBox(0, 1, p.row0+k.c0, p.row0+k.c1), Role: RoleBias}), false)
	})
	return nil
}
