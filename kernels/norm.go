package kernels

import "github.com/rctsim/rctsim/models"

// Normalisation layers run on the vector unit, streaming their tensors in chunks.
//
// Batch normalisation (training) needs statistics over the whole batch before it can
// normalise anything, so each direction is two passes over the data:
//
//	forward   1. sums of x and x^2 per channel (VNormStats) into per-channel records
//	          2. mean, inverse standard deviation, the folded scale a = gamma*rstd and
//	             shift b = beta - a*mean (VNormScale); the running statistics move
//	             towards the batch's; the records are saved for the backward pass
//	          3. y = a*x + b, requantised, with a following ReLU fused (VNormApply)
//	backward  1. sums of dy and dy*x per channel (VNormGradStats), into the records the
//	             forward pass saved (which keep its sums of x and x^2)
//	          2. dgamma = rstd*(sum(dy*x) - mean*sum(dy)), dbeta = sum(dy), and the
//	             coefficients of dx (VNormScale, reading gamma: the update's copy,
//	             loaded first)
//	          3. dx = a*dy + k1*x + k0, the usual a*(dy - mean(dy) - x_hat*mean(dy*x_hat))
//	             with the per-channel terms folded (VNormBackward)
//	          4. the update of gamma and beta, as for a bias
//
// The second pass of each direction walks the chunks in reverse, so the chunks the
// first pass left in SRAM are not loaded again (a layer that fits in two chunks is read
// from DRAM once). Inference normalises with the running statistics in one pass.
//
// Integer training fixes the coefficients of all channels at one exponent (and the
// gradients of gamma at another), which needs the statistics of every channel before
// any is applied. A layer in several chunks of channels therefore runs two loops over
// them in training: the first takes the statistics (and, backward, the sums, kept in
// a DRAM tensor) and finds the largest coefficient and gradient; the second fixes them
// all at the exponents those call for and applies them, last channels first.
//
// Layer normalisation's statistics are per position, over its channels, so a chunk
// holds whole examples (every channel of its positions) and each chunk is normalised
// on its own in one pass: statistics, then apply (VLayerNormApply). The per-position
// mean and inverse standard deviation are saved; backward recomputes x_hat from them,
// accumulates the per-channel gradients of gamma and beta (VLayerNormWGrad), takes the
// per-position sums the input's error needs (VLayerNormDGradStats) and applies it
// (VLayerNormBackward).
//
// Records (statistics, sums, coefficients) are 32-bit values; the backward passes load
// dy and x of a chunk into one slot, read by the vector unit as one operand (the ISA's
// vector instructions read two operands, and the second holds the records).

// normFields is the 32-bit values of a batch normalisation record, one per channel:
// forward the sums of x and x^2, then the mean, the inverse standard deviation and the
// folded scale and shift (which the record saved for backward holds); backward the
// sums of dy and dy*x, then the scale and the two folded terms of dx.
const normFields = 4

// layerNormFields is the saved values per position of a layer normalisation: the mean
// and the inverse standard deviation (and, in the backward pass's records, the sums of
// g and g*x_hat).
const layerNormFields = 2

// allocateNorm lays out what a normalisation layer keeps besides its parameters: the
// statistics its forward pass saves for backward, and batch normalisation's running
// statistics (two per channel), which inference uses and training updates.
func (c *compiler) allocateNorm(i int) {
	l := &c.net.Layers[i]
	s := &c.side[i]
	if l.Kind == models.BatchNorm {
		s.running = c.newMat(l.Name+".running", ClassOther, i, 1, 2*int64(l.In.C), 32, 32)
		if !c.opt.ForwardOnly {
			s.stats = c.newMat(l.Name+".stats", ClassActivations, i, 1, normFields*int64(l.In.C), 32, 32)
		}
		return
	}
	if !c.opt.ForwardOnly {
		positions := int64(l.In.H) * int64(l.In.W)
		s.stats = c.newMat(l.Name+".stats", ClassActivations, i, c.batch, layerNormFields*positions, 32, 32)
	}
}

// normParams returns the regions of channels [c0,c1) of a normalisation layer's scale
// and shift as the forward pass reads them (the b-bit copy for RCT and QAT, fp32 for
// FP32), and their width.
func (c *compiler) normParams(i int, c0, c1 int64) ([]region, int) {
	rs := []region{c.gemmW[i].region(0, 1, c0, c1)}
	if c.biasW[i].rows > 0 {
		rs = append(rs, c.biasW[i].region(0, 1, c0, c1))
	}
	return rs, c.gemmW[i].bits
}

// normUpdate is the update of a normalisation layer's scale and shift.
type normUpdate struct {
	states [2][]paramState // the scale's tensors, the shift's
	slots  [2][]*slot
}

// normUpdateBytes is the SRAM the update of nc channels' scale and shift takes.
func (c *compiler) normUpdateBytes(i int, nc int64) int64 {
	var s int64
	for _, list := range [2][]paramState{c.state[i], c.bstate[i]} {
		for _, st := range list {
			s += st.m.region(0, 1, 0, nc).bytes()
		}
	}
	return s
}

// newNormUpdate reserves the slots of an update of up to nc channels, one per parameter
// tensor (the update of a few hundred values has nothing to overlap).
func (c *compiler) newNormUpdate(i int, nc int64) *normUpdate {
	u := &normUpdate{states: [2][]paramState{c.state[i], c.bstate[i]}}
	for j, list := range u.states {
		for _, st := range list {
			u.slots[j] = append(u.slots[j], c.newSlot(roleOutputs, st.m.region(0, 1, 0, nc).bytes()))
		}
	}
	return u
}

// emit updates channels [c0,c1) of the scale with the first plane of grads (c1-c0
// gradients each) and of the shift with the second. Chunks start at multiples of 8
// channels (see alignedChannels), so no packed byte is shared by two of them.
func (u *normUpdate) emit(c *compiler, grads *slot, c0, c1 int64) {
	u.compute(c, grads, c0, c1, u.load(c, c0, c1))
}

// load loads the parameter tiles the update of channels [c0,c1) reads (per tensor,
// the scale's and the shift's), for compute.
func (u *normUpdate) load(c *compiler, c0, c1 int64) [2][]*operandSlot {
	var out [2][]*operandSlot
	for j, states := range u.states {
		if len(states) == 0 {
			continue
		}
		rs := make([]region, len(states))
		pairs := make([]*pair, len(states))
		for k, st := range states {
			rs[k] = st.m.region(0, 1, c0, c1)
			pairs[k] = &pair{s: [2]*slot{u.slots[j][k], u.slots[j][k]}}
		}
		out[j] = c.updateLoad(states, rs, pairs)
	}
	return out
}

// compute is the update of channels [c0,c1) from the parameter tiles load loaded.
func (u *normUpdate) compute(c *compiler, grads *slot, c0, c1 int64, slots [2][]*operandSlot) {
	n := c1 - c0
	accBytes := int64(c.num.accBits / 8)
	for j, states := range u.states {
		if len(states) == 0 {
			continue
		}
		rs := make([]region, len(states))
		for k, st := range states {
			rs[k] = st.m.region(0, 1, c0, c1)
		}
		grad := &operandSlot{s: grads, class: ClassGradients, bits: c.num.accBits, bytes: n * accBytes, off: int64(j) * n * accBytes}
		fn := FuncDesc{N: chanTile(c0, c1), B: matBox(0, 1, c0, c1)}
		if j == 1 {
			fn.Role = RoleBias
		}
		c.updateCompute(states, rs, grad, slots[j], c.descriptor(fn), j == 0)
	}
}

// chanTile is the tile of channels (or records) [c0,c1).
func chanTile(c0, c1 int64) Tile { return Tile{Lo: c0, Hi: c1, C0: c0, C1: c1} }

// chunkBox is the box of a chunk of a tensor.
func chunkBox(k chunk) Box { return actBox(k.n0, k.n1, k.c0, k.c1, k.h0, k.h1) }

// planBatchNormChunks plans a pass of batch normalisation: the most channels, then
// the most images, of whole rows (see planChunks).
func (c *compiler) planBatchNormChunks(what string, h, ch int64, perChunk func(ni, nc, nr int64) [numRoles]int64) (ni, nc, nr int64, err error) {
	return c.planChunks(what, c.batch, h, alignedChannels(ch), [numRoles]int64{}, perChunk)
}

// alignedChannels lists the channel counts a batch normalisation chunk may have, most
// first: all of them, then multiples of 8, so that every chunk's first channel starts
// a byte of any packed parameter row.
func alignedChannels(ch int64) []int64 {
	out := []int64{ch}
	for _, n := range flatDim(ceilDiv(ch, 8)).candidates() {
		if n*8 < ch {
			out = append(out, n*8)
		}
	}
	return out
}

// forwardBatchNorm normalises with the batch's statistics (training) or the running
// ones (inference). Chunks of channels are outermost: each is done (statistics, then
// normalisation) before the next, so only its records are on chip.
func (c *compiler) forwardBatchNorm(i int) error {
	c.beginKernel(i, models.Forward)
	l := &c.net.Layers[i]
	ch, h, w := int64(l.In.C), int64(l.In.H), int64(l.In.W)
	ab := int64(c.num.actBits / 8)
	x := streamIn{v: view(c.inputOf(i), ch, h, w, ab), class: ClassActivations, bits: c.num.actBits}
	y := view(c.out[i], ch, h, w, ab)
	side := c.side[i]
	paramBytes := func(c0, c1 int64) int64 { rs, _ := c.normParams(i, c0, c1); return regionsBytes(rs) }
	perChunk := func(ni, nc, nr int64) [numRoles]int64 {
		var r [numRoles]int64
		r[roleInputs] = 2 * chunkBytes([]streamIn{x}, chunk{0, ni, 0, nc, 0, nr})
		r[roleWeights] = paramBytes(0, nc)
		r[roleOutputs] = 2*y.boxBytes(actBox(0, ni, 0, nc, 0, nr)) + nc*(normFields+2)*4
		return r
	}
	ni, nc, nr, err := c.planBatchNormChunks("batch normalisation", h, ch, perChunk)
	if err != nil {
		return err
	}
	par := c.newSlot(roleWeights, paramBytes(0, nc))
	rec := c.newSlot(roleOutputs, nc*normFields*4)
	run := c.newSlot(roleOutputs, nc*2*4)
	xPair := c.newPair(roleInputs, chunkBytes([]streamIn{x}, chunk{0, ni, 0, nc, 0, nr}))
	yPair := c.newPair(roleOutputs, y.boxBytes(actBox(0, ni, 0, nc, 0, nr)))
	if err := c.checkAlloc(); err != nil {
		return err
	}
	// Training in chunks of channels (a layer too wide for chunks of every channel) is
	// two loops over them: the first takes the statistics and finds the largest
	// coefficient, the second fixes every coefficient at the exponent it calls for and
	// normalises, last channels first.
	split := nc < ch && !c.opt.ForwardOnly
	apply := func(c0, c1 int64, chunks []chunk, all *operandSlot) {
		chans := chanTile(c0, c1)
		c.streamChunks(chunks, []streamIn{x}, xPair, nil, func(k chunk, in *operandSlot) {
			rs := c.tileRegions(y, actBox(k.n0, k.n1, k.c0, k.c1, k.h0, k.h1))
			o := &operandSlot{s: yPair.fresh(), class: ClassActivations, bits: c.num.actBits, bytes: regionsBytes(rs)}
			c.fn = c.descriptor(FuncDesc{A: chunkBox(k), C: chunkBox(k), N: chans})
			c.vector(VNormApply, k.elems(w), in, all, o)
			c.store(rs, ClassActivations, c.num.actBits, o.s)
		})
	}
	loadParams := func(c0, c1 int64) *operandSlot {
		prs, bits := c.normParams(i, c0, c1)
		c.load(prs, ClassWeights, bits, par)
		return &operandSlot{s: par, class: ClassWeights, bits: bits, bytes: regionsBytes(prs)}
	}
	for c0 := int64(0); c0 < ch; c0 += nc {
		c1 := min(c0+nc, ch)
		chunks := c.gridChunks(c.batch, ni, c0, c1, h, nr)
		params := loadParams(c0, c1)
		all := records(rec, ClassActivations, 0, c1-c0, normFields)
		runRs := []region{side.running.region(0, 1, 2*c0, 2*c1)}
		running := &operandSlot{s: run, class: ClassOther, bits: 32, bytes: regionsBytes(runRs)}
		c.load(runRs, ClassOther, 32, run)
		chans := chanTile(c0, c1)
		if c.opt.ForwardOnly {
			c.fn = c.descriptor(FuncDesc{N: chans, B: matBox(0, 1, c0, c1), Role: RoleNormCoefs})
			c.vector(VNormScale, c1-c0, running, params, all)
		} else {
			c.streamChunks(chunks, []streamIn{x}, xPair, nil, func(k chunk, in *operandSlot) {
				c.fn = c.descriptor(FuncDesc{A: chunkBox(k), N: chans})
				c.vector(VNormStats, k.elems(w), in, all, all)
			})
			role := RoleNormCoefs
			if split {
				role = RoleNormMax
			}
			c.fn = c.descriptor(FuncDesc{N: chans, B: matBox(0, 1, c0, c1), Role: role})
			c.vector(VNormScale, c1-c0, all, params, all)
			// The running statistics move towards the batch's.
			c.fn = c.descriptor(FuncDesc{N: chans, Role: RoleNormRunning})
			c.vector(VNormScale, c1-c0, all, running, running)
			c.store(runRs, ClassOther, 32, run)
			c.store([]region{side.stats.region(0, 1, normFields*c0, normFields*c1)}, ClassActivations, 32, rec)
			chunks = reversed(chunks)
		}
		if !split {
			apply(c0, c1, chunks, all)
		}
	}
	if split {
		last := (ch - 1) / nc * nc
		for c0 := last; c0 >= 0; c0 -= nc {
			c1 := min(c0+nc, ch)
			params := loadParams(c0, c1)
			all := records(rec, ClassActivations, 0, c1-c0, normFields)
			c.load([]region{side.stats.region(0, 1, normFields*c0, normFields*c1)}, ClassActivations, 32, rec)
			c.fn = c.descriptor(FuncDesc{N: chanTile(c0, c1), B: matBox(0, 1, c0, c1), Role: RoleNormCoefs})
			c.vector(VNormScale, c1-c0, all, params, all)
			apply(c0, c1, reversed(c.gridChunks(c.batch, ni, c0, c1, h, nr)), all)
		}
	}
	return nil
}

// backwardBatchNorm emits the gradients of gamma and beta, their update and (when the
// layer's input needs it) the input's error, chunks of channels outermost as forward;
// it returns the error tensor that holds the error of the layer's input.
func (c *compiler) backwardBatchNorm(i, cur int) (int, error) {
	c.beginKernel(i, models.BackwardWeight)
	l := &c.net.Layers[i]
	ch, h, w := int64(l.In.C), int64(l.In.H), int64(l.In.W)
	dy := streamIn{v: c.errView(cur, ch, h, w), class: ClassErrors, bits: c.num.errBits}
	x := streamIn{v: view(c.inputOf(i), ch, h, w, int64(c.num.actBits/8)), class: ClassActivations, bits: c.num.actBits}
	ins := []streamIn{dy, x}
	dx := c.errView(1-cur, ch, h, w)
	needDX := c.needsDX(i)
	saved := c.side[i].stats
	accBytes := int64(c.num.accBits / 8)
	ni, nc, nr, err := c.planBatchNormChunks("batch normalisation backward", h, ch, func(ni, nc, nr int64) [numRoles]int64 {
		var r [numRoles]int64
		r[roleInputs] = 2 * chunkBytes(ins, chunk{0, ni, 0, nc, 0, nr})
		r[roleOutputs] = nc*normFields*4 + 2*nc*accBytes + c.normUpdateBytes(i, nc)
		if needDX {
			r[roleOutputs] += 2 * dx.boxBytes(actBox(0, ni, 0, nc, 0, nr))
		}
		return r
	})
	if err != nil {
		return cur, err
	}
	// The records the forward pass saved, then this pass's sums beside its sums of x
	// and x^2, then dx's coefficients.
	sums := c.newSlot(roleOutputs, nc*normFields*4)
	grads := c.newSlot(roleOutputs, 2*nc*accBytes) // dgamma, then dbeta
	upd := c.newNormUpdate(i, nc)
	inPair := c.newPair(roleInputs, chunkBytes(ins, chunk{0, ni, 0, nc, 0, nr}))
	var dxPair *pair
	if needDX {
		dxPair = c.newPair(roleOutputs, dx.boxBytes(actBox(0, ni, 0, nc, 0, nr)))
	}
	if err := c.checkAlloc(); err != nil {
		return cur, err
	}
	// In chunks of channels, as forward, two loops: the first takes the sums and finds
	// the largest gradient and coefficients (the sums are kept in a DRAM tensor), the
	// second fixes them at the exponents those call for.
	split := nc < ch
	var kept mat2
	if split {
		kept = c.newMat(l.Name+".grad_stats", ClassGradients, i, 1, normFields*ch, 32, 32)
	}
	for c0 := int64(0); c0 < ch; c0 += nc {
		c1 := min(c0+nc, ch)
		chans := chanTile(c0, c1)
		chunks := c.gridChunks(c.batch, ni, c0, c1, h, nr)
		c.phase = models.BackwardWeight
		c.load([]region{saved.region(0, 1, normFields*c0, normFields*c1)}, ClassActivations, 32, sums)
		// gamma, which dx's coefficients need, is the update's copy: load it first.
		params := upd.load(c, c0, c1)
		c.phase = models.BackwardWeight
		allSums := records(sums, ClassGradients, 0, c1-c0, normFields)
		c.streamChunks(chunks, ins, inPair, nil, func(k chunk, in *operandSlot) {
			c.fn = c.descriptor(FuncDesc{A: chunkBox(k), N: chans})
			c.vector(VNormGradStats, k.elems(w), in, allSums, allSums)
		})
		if split {
			c.fn = c.descriptor(FuncDesc{N: chans, B: matBox(0, 1, c0, c1), Role: RoleNormMax})
			c.vector(VNormScale, c1-c0, allSums, params[0][0], allSums)
			c.store([]region{kept.region(0, 1, normFields*c0, normFields*c1)}, ClassGradients, 32, sums)
			continue
		}
		c.backwardBatchNormFinish(i, c0, c1, chunks, allSums, params, grads, upd, ins, inPair, dx, dxPair, w, needDX)
	}
	if split {
		last := (ch - 1) / nc * nc
		for c0 := last; c0 >= 0; c0 -= nc {
			c1 := min(c0+nc, ch)
			c.phase = models.BackwardWeight
			c.load([]region{kept.region(0, 1, normFields*c0, normFields*c1)}, ClassGradients, 32, sums)
			params := upd.load(c, c0, c1)
			c.phase = models.BackwardWeight
			allSums := records(sums, ClassGradients, 0, c1-c0, normFields)
			c.backwardBatchNormFinish(i, c0, c1, c.gridChunks(c.batch, ni, c0, c1, h, nr), allSums, params, grads, upd, ins, inPair, dx, dxPair, w, needDX)
		}
	}
	if needDX {
		return 1 - cur, nil
	}
	return cur, nil
}

// backwardBatchNormFinish emits, for channels [c0,c1) whose sums are in allSums, the
// gradients of gamma and beta, the input's error and the update.
func (c *compiler) backwardBatchNormFinish(i int, c0, c1 int64, chunks []chunk, allSums *operandSlot, params [2][]*operandSlot,
	grads *slot, upd *normUpdate, ins []streamIn, inPair *pair, dx act4, dxPair *pair, w int64, needDX bool) {
	chans := chanTile(c0, c1)
	accBytes := int64(c.num.accBits / 8)
	gamma := params[0][0]
	c.fn = c.descriptor(FuncDesc{N: chans, B: matBox(0, 1, c0, c1), Role: RoleNormGrads})
	c.vector(VNormScale, c1-c0, allSums, gamma, &operandSlot{s: grads, class: ClassGradients, bits: c.num.accBits, bytes: 2 * (c1 - c0) * accBytes})
	if needDX {
		c.phase = models.BackwardData
		c.fn = c.descriptor(FuncDesc{N: chans, B: matBox(0, 1, c0, c1), Role: RoleNormBackCoefs})
		c.vector(VNormScale, c1-c0, allSums, gamma, allSums)
		c.streamChunks(reversed(chunks), ins, inPair, nil, func(k chunk, in *operandSlot) {
			rs := c.tileRegions(dx, actBox(k.n0, k.n1, k.c0, k.c1, k.h0, k.h1))
			o := &operandSlot{s: dxPair.fresh(), class: ClassErrors, bits: c.num.errBits, bytes: regionsBytes(rs)}
			c.fn = c.descriptor(FuncDesc{A: chunkBox(k), C: chunkBox(k), N: chans})
			c.vector(VNormBackward, k.elems(w), in, allSums, o)
			c.store(rs, ClassErrors, c.num.errBits, o.s)
		})
	}
	upd.compute(c, grads, c0, c1, params)
}

// layerNormChunks plans a layer normalisation pass: chunks of whole examples.
func (c *compiler) layerNormChunks(what string, fixed [numRoles]int64, perChunk func(ni int64) [numRoles]int64) ([]chunk, error) {
	l := &c.net.Layers[c.layer]
	ch, h := int64(l.In.C), int64(l.In.H)
	// Rows are not split (1): a chunk's positions must hold whole examples.
	ni, _, _, err := c.planChunks(what, c.batch, 1, []int64{ch}, fixed, func(ni, _, _ int64) [numRoles]int64 { return perChunk(ni) })
	if err != nil {
		return nil, err
	}
	return c.gridChunks(c.batch, ni, 0, ch, h, h), nil
}

// forwardLayerNorm normalises each position over its channels, one chunk of examples
// at a time.
func (c *compiler) forwardLayerNorm(i int) error {
	c.beginKernel(i, models.Forward)
	l := &c.net.Layers[i]
	ch, h, w := int64(l.In.C), int64(l.In.H), int64(l.In.W)
	positions := h * w
	ab := int64(c.num.actBits / 8)
	x := streamIn{v: view(c.inputOf(i), ch, h, w, ab), class: ClassActivations, bits: c.num.actBits}
	y := view(c.out[i], ch, h, w, ab)
	prs, pbits := c.normParams(i, 0, ch)
	// Per chunk: the positions' records, then gamma and beta, which the apply reads
	// with them.
	coefBytes := func(ni int64) int64 { return (ni*positions + ch) * layerNormFields * 4 }
	var fixed [numRoles]int64
	fixed[roleWeights] = regionsBytes(prs)
	chunks, err := c.layerNormChunks("layer normalisation", fixed, func(ni int64) [numRoles]int64 {
		var r [numRoles]int64
		r[roleInputs] = 2 * chunkBytes([]streamIn{x}, chunk{0, ni, 0, ch, 0, h})
		r[roleOutputs] = 2*y.boxBytes(actBox(0, ni, 0, ch, 0, h)) + 2*coefBytes(ni)
		return r
	})
	if err != nil {
		return err
	}
	ni := chunks[0].images()
	par := c.loadParams(prs, pbits)
	xPair := c.newPair(roleInputs, chunkBytes([]streamIn{x}, chunks[0]))
	yPair := c.newPair(roleOutputs, y.boxBytes(actBox(0, ni, 0, ch, 0, h)))
	coefPair := c.newPair(roleOutputs, coefBytes(ni))
	if err := c.checkAlloc(); err != nil {
		return err
	}
	stats := c.side[i].stats
	// The integer numerics fix every position's coefficients at one exponent for the
	// batch: when the batch takes several chunks, a first pass takes every chunk's
	// statistics (kept in the saved-statistics tensor) and the largest coefficient, and
	// the second normalises, last chunk first.
	twoPass := len(chunks) > 1 && !c.opt.ForwardOnly
	stats1 := func(k chunk, in, posRec *operandSlot, recs Tile) {
		c.fn = c.descriptor(FuncDesc{A: chunkBox(k), N: recs})
		c.vector(VNormStats, k.images()*ch*positions, in, posRec, posRec)
	}
	if twoPass {
		c.streamChunks(chunks, []streamIn{x}, xPair, nil, func(k chunk, in *operandSlot) {
			coef := coefPair.fresh()
			pos := k.images() * positions
			posRec := records(coef, ClassActivations, 0, pos, layerNormFields)
			recs := chanTile(k.n0*positions, k.n1*positions)
			stats1(k, in, posRec, recs)
			c.fn = c.descriptor(FuncDesc{N: recs, B: matBox(0, 1, 0, ch), Role: RoleNormMax})
			c.vector(VNormScale, pos, posRec, par, posRec)
			c.store([]region{stats.region(k.n0, k.n1, 0, stats.cols)}, ClassActivations, 32, coef)
		})
		chunks = reversed(chunks)
	}
	var staged []*slot
	stage := func(k chunk) {
		coef := coefPair.fresh()
		if twoPass {
			c.load([]region{stats.region(k.n0, k.n1, 0, stats.cols)}, ClassActivations, 32, coef)
		}
		staged = append(staged, coef)
	}
	c.streamChunks(chunks, []streamIn{x}, xPair, stage, func(k chunk, in *operandSlot) {
		coef := staged[0]
		staged = staged[1:]
		pos := k.images() * positions
		posRec := records(coef, ClassActivations, 0, pos, layerNormFields)
		all := records(coef, ClassActivations, 0, pos+ch, layerNormFields)
		elems := k.images() * ch * positions
		recs := chanTile(k.n0*positions, k.n1*positions)
		if !twoPass {
			stats1(k, in, posRec, recs)
		}
		c.fn = c.descriptor(FuncDesc{N: recs, B: matBox(0, 1, 0, ch), Role: RoleNormCoefs})
		c.vector(VNormScale, pos+ch, posRec, par, all)
		rs := c.tileRegions(y, actBox(k.n0, k.n1, 0, ch, 0, h))
		o := &operandSlot{s: yPair.fresh(), class: ClassActivations, bits: c.num.actBits, bytes: regionsBytes(rs)}
		c.fn = c.descriptor(FuncDesc{A: chunkBox(k), C: chunkBox(k), N: recs})
		c.vector(VLayerNormApply, elems, in, all, o)
		c.store(rs, ClassActivations, c.num.actBits, o.s)
		if !c.opt.ForwardOnly {
			c.store([]region{stats.region(k.n0, k.n1, 0, stats.cols)}, ClassActivations, 32, coef)
		}
	})
	return nil
}

// backwardLayerNorm emits layer normalisation's gradients, update and (when needed) the
// input's error, one chunk of examples at a time; it returns the error tensor that
// holds the error of the layer's input.
func (c *compiler) backwardLayerNorm(i, cur int) (int, error) {
	c.beginKernel(i, models.BackwardWeight)
	l := &c.net.Layers[i]
	ch, h, w := int64(l.In.C), int64(l.In.H), int64(l.In.W)
	positions := h * w
	dy := streamIn{v: c.errView(cur, ch, h, w), class: ClassErrors, bits: c.num.errBits}
	x := streamIn{v: view(c.inputOf(i), ch, h, w, int64(c.num.actBits/8)), class: ClassActivations, bits: c.num.actBits}
	ins := []streamIn{dy, x}
	dx := c.errView(1-cur, ch, h, w)
	needDX := c.needsDX(i)
	prs, pbits := c.normParams(i, 0, ch)
	accBytes := int64(c.num.accBits / 8)
	stats := c.side[i].stats
	// Per chunk: the saved per-position records, gamma and beta, then the per-position
	// sums of g and g*x_hat.
	coefBytes := func(ni int64) int64 { return (2*ni*positions + ch) * layerNormFields * 4 }
	plan := func(gradBytes int64) ([]chunk, error) {
		var fixed [numRoles]int64
		fixed[roleWeights] = regionsBytes(prs)
		fixed[roleOutputs] = gradBytes + c.normUpdateBytes(i, ch)
		return c.layerNormChunks("layer normalisation backward", fixed, func(ni int64) [numRoles]int64 {
			var r [numRoles]int64
			r[roleInputs] = 2 * chunkBytes(ins, chunk{0, ni, 0, ch, 0, h})
			r[roleOutputs] = 2 * coefBytes(ni)
			if needDX {
				r[roleOutputs] += 2 * dx.boxBytes(actBox(0, ni, 0, ch, 0, h))
			}
			return r
		})
	}
	// dgamma and dbeta, as 32-bit accumulators; when the batch takes several chunks,
	// dgamma's exact sum is 64 bits wide until every chunk is in (the integer numerics
	// narrow it with one shift for all channels).
	gradBytes := 2 * ch * accBytes
	chunks, err := plan(gradBytes)
	if err == nil && len(chunks) > 1 {
		gradBytes = 3 * ch * accBytes
		chunks, err = plan(gradBytes)
	}
	if err != nil {
		return cur, err
	}
	multi := len(chunks) > 1
	ni := chunks[0].images()
	par := c.loadParams(prs, pbits)
	grads := c.newSlot(roleOutputs, gradBytes)
	upd := c.newNormUpdate(i, ch)
	inPair := c.newPair(roleInputs, chunkBytes(ins, chunks[0]))
	coefPair := c.newPair(roleOutputs, coefBytes(ni))
	var dxPair *pair
	if needDX {
		dxPair = c.newPair(roleOutputs, dx.boxBytes(actBox(0, ni, 0, ch, 0, h)))
	}
	if err := c.checkAlloc(); err != nil {
		return cur, err
	}
	gradOp := &operandSlot{s: grads, class: ClassGradients, bits: c.num.accBits, bytes: gradBytes}
	// The saved records of a chunk load with its dy and x, into the half of coefPair
	// the chunk's work then uses.
	var coefs []*slot
	stage := func(k chunk) {
		coef := coefPair.fresh()
		c.phase = models.BackwardWeight
		c.load([]region{stats.region(k.n0, k.n1, 0, stats.cols)}, ClassActivations, 32, coef)
		coefs = append(coefs, coef)
	}
	// work is a chunk's share of the pass: the gradients (wgrad), the error's per-position
	// sums (a first pass of several marks them as finding the largest coefficient),
	// the error itself (dgrad).
	work := func(wgrad, dgrad bool) func(k chunk, in *operandSlot) {
		return func(k chunk, in *operandSlot) {
			coef := coefs[0]
			coefs = coefs[1:]
			pos := k.images() * positions
			posRec := records(coef, ClassActivations, 0, pos, layerNormFields)
			withParams := records(coef, ClassActivations, 0, pos+ch, layerNormFields)
			elems := k.images() * ch * positions
			recs := chanTile(k.n0*positions, k.n1*positions)
			c.phase = models.BackwardWeight
			c.fn = c.descriptor(FuncDesc{N: recs, B: matBox(0, 1, 0, ch), Role: RoleNormParams})
			c.vector(VNormScale, pos+ch, posRec, par, withParams)
			if wgrad {
				c.fn = c.descriptor(FuncDesc{A: chunkBox(k), N: recs})
				c.vector(VLayerNormWGrad, elems, in, withParams, gradOp)
			}
			if !needDX {
				return
			}
			c.phase = models.BackwardData
			sums := records(coef, ClassGradients, pos+ch, 2*pos+ch, layerNormFields)
			fn := FuncDesc{A: chunkBox(k), N: recs}
			if multi && !dgrad {
				fn.Role = RoleNormMax
			}
			c.fn = c.descriptor(fn)
			c.vector(VLayerNormDGradStats, elems, in, withParams, sums)
			if !dgrad {
				return
			}
			rs := c.tileRegions(dx, actBox(k.n0, k.n1, 0, ch, 0, h))
			o := &operandSlot{s: dxPair.fresh(), class: ClassErrors, bits: c.num.errBits, bytes: regionsBytes(rs)}
			c.fn = c.descriptor(FuncDesc{A: chunkBox(k), C: chunkBox(k), N: recs})
			c.vector(VLayerNormBackward, elems, in, records(coef, ClassActivations, 0, 2*pos+ch, layerNormFields), o)
			c.store(rs, ClassErrors, c.num.errBits, o.s)
		}
	}
	c.streamChunks(chunks, ins, inPair, stage, work(true, !multi))
	if multi {
		// dgamma narrowed to 32 bits beside dbeta; then the input's error, last chunk
		// first, with the coefficients' exponent the first pass found.
		c.phase = models.BackwardWeight
		c.fn = c.descriptor(FuncDesc{N: chanTile(0, ch), Role: RoleNormGrads})
		c.vector(VNormScale, ch, gradOp, nil, &operandSlot{s: grads, class: ClassGradients, bits: c.num.accBits, bytes: 2 * ch * accBytes})
		if needDX {
			c.streamChunks(reversed(chunks), ins, inPair, stage, work(false, true))
		}
	}
	upd.emit(c, grads, 0, ch)
	if needDX {
		return 1 - cur, nil
	}
	return cur, nil
}

// loadParams loads a layer normalisation's scale and shift into a new slot of the
// weights buffer, for the whole kernel.
func (c *compiler) loadParams(rs []region, bits int) *operandSlot {
	o := &operandSlot{s: c.newSlot(roleWeights, regionsBytes(rs)), class: ClassWeights, bits: bits, bytes: regionsBytes(rs)}
	c.load(rs, ClassWeights, bits, o.s)
	return o
}
