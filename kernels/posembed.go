package kernels

import (
	"fmt"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
)

// A position embedding adds its table (the layout of one example) to every example.
// Forward streams the input in chunks; the table's rows for a chunk's channels are
// loaded once and stay resident while the chunks of the following examples add them.
// Backward passes the error through unchanged; the table's gradient is the error
// summed over the batch, accumulated chunk by chunk on chip (channels outermost) and
// applied to the table's rows as soon as a range of channels is complete.

func (c *compiler) forwardPosEmbedding(i int) error {
	c.beginKernel(i, models.Forward)
	l := &c.net.Layers[i]
	table := c.gemmW[i]
	act := func(v act4) streamIn { return streamIn{v: v, class: ClassActivations, bits: c.num.actBits} }
	rows := streamIn{class: ClassWeights, bits: table.bits, shared: true,
		at: func(_, _, c0, c1 int64) []region { return []region{table.region(c0, c1, 0, table.cols)} }}
	return c.emitStream(&streamKernel{images: c.batch, channels: int64(l.In.C), split: true, vop: VAdd,
		ins: []streamIn{act(c.inputOf(i)), rows}, out: act(c.out[i])})
}

// backwardPosEmbedding sums the error of the layer's output (dy) over the batch into the
// table's gradient and updates the table.
func (c *compiler) backwardPosEmbedding(i int, dy act4) error {
	c.beginKernel(i, models.BackwardWeight)
	l := &c.net.Layers[i]
	ch := int64(l.In.C)
	perChannel := int64(l.In.H) * int64(l.In.W)
	states := c.state[i]
	accBytes := int64(c.num.accBits / 8)
	dyIn := streamIn{v: dy, class: ClassErrors, bits: c.num.errBits}
	stateBytes := func(nc int64) (s int64) {
		for _, st := range states {
			s += st.m.region(0, nc, 0, st.m.cols).bytes()
		}
		return s
	}
	// Whole rows (1): a chunk's gradient covers every position of its channels.
	ni, nc, _, err := c.planChunks("position embedding gradient", c.batch, 1, flatDim(ch).candidates(), [numRoles]int64{}, func(ni, nc, _ int64) [numRoles]int64 {
		var r [numRoles]int64
		r[roleInputs] = 2 * chunkBytes([]streamIn{dyIn}, chunk{0, ni, 0, nc, 0, dy.h})
		r[roleOutputs] = nc*perChannel*accBytes + stateBytes(nc)
		return r
	})
	if err != nil {
		return err
	}
	grad := c.newSlot(roleOutputs, nc*perChannel*accBytes)
	pairs := make([]*pair, len(states))
	for j, st := range states {
		s := c.newSlot(roleOutputs, st.m.region(0, nc, 0, st.m.cols).bytes())
		pairs[j] = &pair{s: [2]*slot{s, s}}
	}
	dyPair := c.newPair(roleInputs, chunkBytes([]streamIn{dyIn}, chunk{0, ni, 0, nc, 0, dy.h}))
	if err := c.checkAlloc(); err != nil {
		return err
	}
	if err := c.room(hw.MulSat(ceilDiv(ch, nc), ceilDiv(c.batch, ni)), fmt.Sprintf("a position embedding gradient over %d examples, %d at a time", c.batch, ni)); err != nil {
		return err
	}
	var chunks []chunk // channels outermost: each range's gradient completes in turn
	for c0 := int64(0); c0 < ch; c0 += nc {
		chunks = append(chunks, c.gridChunks(c.batch, ni, c0, min(c0+nc, ch), dy.h, dy.h)...)
	}
	c.streamChunks(chunks, []streamIn{dyIn}, dyPair, nil, func(k chunk, in *operandSlot) {
		g := &operandSlot{s: grad, class: ClassGradients, bits: c.num.accBits, bytes: (k.c1 - k.c0) * perChannel * accBytes}
		c.fn = c.descriptor(FuncDesc{A: actBox(k.n0, k.n1, k.c0, k.c1, 0, dy.h)})
		c.vector(VBiasGrad, k.images()*(k.c1-k.c0)*perChannel, in, nil, g)
		if k.n1 < c.batch {
			return
		}
		rs := make([]region, len(states))
		for j, st := range states {
			rs[j] = st.m.region(k.c0, k.c1, 0, st.m.cols)
		}
		c.update(states, rs, g, pairs, c.descriptor(FuncDesc{B: matBox(k.c0, k.c1, 0, states[0].m.cols)}))
	})
	return nil
}
