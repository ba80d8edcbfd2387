package kernels

import (
	"fmt"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// step emits the whole training step: forward, loss, backward (data, weights and the
// fused update, layer by layer from the last), then the precision controller.
func (c *compiler) step() error {
	for i := range c.net.Layers {
		if err := c.layerErr(i, models.Forward, c.forward(i)); err != nil {
			return err
		}
	}
	if c.opt.ForwardOnly {
		return nil
	}
	last := len(c.net.Layers) - 1
	if err := c.layerErr(last, models.Forward, c.loss()); err != nil {
		return err
	}
	first := c.num.firstUpd // the backward pass ends at the first layer that updates anything
	cur := 0                // errs[cur] holds the error of the current layer's output
	// chained: errs[cur] holds a part of that error, from the next layer, which reads
	// this layer's output; false when the next layer is a branch reading another output
	// (the error then comes only from the layers that saved a part in skips).
	chained := true
	for i := last; i >= first; i-- {
		for _, skip := range c.skips[i] {
			// The error of layer i's output has another part, from a residual or a
			// branch that read it: add it in (or start from it).
			var err error
			if chained {
				cur, err = c.mergeSkip(i, cur, skip)
			} else {
				err = c.copySkip(i, cur, skip)
			}
			if err != nil {
				return c.layerErr(i, models.BackwardData, err)
			}
			chained = true
		}
		if !chained {
			return c.layerErr(i, models.BackwardData, fmt.Errorf("no later layer reads the output of layer %s", c.net.Layers[i].Name))
		}
		next, err := c.backward(i, cur)
		if err := c.layerErr(i, models.BackwardData, err); err != nil {
			return err
		}
		cur = next
		chained = c.net.InputOf(i) == i-1
		if !chained && c.needsDX(i) {
			// A branch: the error of its input belongs to layer Source; keep it for then.
			if err := c.keepBranchError(i, cur); err != nil {
				return c.layerErr(i, models.BackwardData, err)
			}
		}
	}
	return c.control()
}

// keepBranchError copies the error of branch layer i's input (in errs[cur]) aside for
// the layer it reads, whose error the backward pass completes when it gets there.
func (c *compiler) keepBranchError(i, cur int) error {
	src := c.net.InputOf(i)
	if src < 0 {
		return nil // the network input needs no error
	}
	c.beginKernel(i, models.BackwardData)
	in := c.net.Layers[i].In
	dx := c.errView(cur, int64(in.C), int64(in.H), int64(in.W))
	kept := c.newAct(c.net.Layers[i].Name+".branch_error", ClassErrors, i, in, c.num.errBits)
	c.skips[src] = append(c.skips[src], streamIn{v: kept, class: ClassErrors, bits: c.num.errBits})
	return c.emitStream(&streamKernel{images: c.batch, channels: int64(in.C), split: true, vop: VCopy,
		ins: []streamIn{{v: dx, class: ClassErrors, bits: c.num.errBits}},
		out: streamIn{v: kept, class: ClassErrors, bits: c.num.errBits}})
}

// copySkip starts the error of layer i's output (in errs[cur]) from a part a later
// layer kept: the output was read only by residuals and branches.
func (c *compiler) copySkip(i, cur int, skip streamIn) error {
	c.beginKernel(i, models.BackwardData)
	out := c.net.Layers[i].Out
	dy := c.errView(cur, int64(out.C), int64(out.H), int64(out.W))
	return c.emitStream(&streamKernel{images: c.batch, channels: int64(out.C), split: true, vop: VCopy,
		ins: []streamIn{skip}, out: streamIn{v: dy, class: ClassErrors, bits: c.num.errBits}})
}

func (c *compiler) layerErr(i int, p models.Phase, err error) error {
	if err == nil {
		// A bound exceeded where no error could be returned (see compiler.err) belongs
		// to the layer whose kernel just ran.
		err = c.err
	}
	if err == nil {
		return nil
	}
	if _, ok := err.(*CompileError); ok {
		return err
	}
	return &CompileError{Model: c.net.Name, Profile: c.prof.Name, Layer: c.net.Layers[i].Name, Phase: p, Err: err}
}

// geom is a weight layer seen as a convolution; a linear layer is a 1x1 convolution of
// a 1x1 image with In.Elems channels.
type geom struct {
	cin, h, w    int64 // input
	cout, ho, wo int64 // output
	kh, kw, s, p int64
}

func (c *compiler) geom(i int) geom {
	l := &c.net.Layers[i]
	if l.Kind == models.Linear {
		return geom{cin: l.In.Elems(), h: 1, w: 1, cout: int64(l.Out.C), ho: 1, wo: 1, kh: 1, kw: 1, s: 1}
	}
	return geom{cin: int64(l.In.C), h: int64(l.In.H), w: int64(l.In.W), cout: int64(l.Out.C), ho: int64(l.Out.H), wo: int64(l.Out.W),
		kh: int64(l.KernelH), kw: int64(l.KernelW), s: int64(l.Stride), p: int64(l.Padding)}
}

// inRows is the input rows that output rows [h0,h1) read.
func (g geom) inRows(h0, h1 int64) (int64, int64) {
	return max(0, h0*g.s-g.p), min(g.h, (h1-1)*g.s-g.p+g.kh)
}

// outRows is the output rows whose windows touch input rows [h0,h1).
func (g geom) outRows(h0, h1 int64) (int64, int64) {
	lo := h0 + g.p - g.kh + 1
	if lo < 0 {
		lo = 0
	}
	return ceilDiv(lo, g.s), min(g.ho, (h1-1+g.p)/g.s+1)
}

// view reshapes a tensor to the shape a layer sees it in.
func view(a act4, c, h, w int64, elemBytes int64) act4 {
	return act4{tensor: a.tensor, base: a.base, c: c, h: h, w: w, elemBytes: elemBytes}
}

func (c *compiler) inputOf(i int) act4 {
	if src := c.net.InputOf(i); src >= 0 {
		return c.out[src]
	}
	return c.input
}

func (c *compiler) errView(j int, c4, h, w int64) act4 {
	return view(c.errs[j], c4, h, w, int64(c.num.errBits/8))
}

func (c *compiler) forward(i int) error {
	l := &c.net.Layers[i]
	switch {
	case l.Kind == models.Embedding:
		return c.forwardEmbedding(i)
	case l.Kind == models.Linear || l.Kind == models.Conv2D:
		return c.forwardGEMM(i, c.convOf(i))
	case l.Kind == models.BatchNorm:
		return c.forwardBatchNorm(i)
	case l.Kind == models.LayerNorm:
		return c.forwardLayerNorm(i)
	case l.Kind == models.Attention:
		return c.forwardAttention(i)
	case l.Kind == models.PosEmbedding:
		return c.forwardPosEmbedding(i)
	case l.Kind == models.ShortcutAdd:
		return c.forwardShortcut(i)
	case l.Kind == models.Concat:
		return c.forwardConcat(i)
	case l.Kind == models.Flatten || c.fusedReLU(i):
		return nil
	}
	c.beginKernel(i, models.Forward)
	in, out := c.inputOf(i), c.out[i]
	act := streamIn{v: in, class: ClassActivations, bits: c.num.actBits}
	k := &streamKernel{images: c.batch, channels: int64(l.In.C), split: true, ins: []streamIn{act},
		out: streamIn{v: out, class: ClassActivations, bits: c.num.actBits}}
	switch l.Kind {
	case models.ReLU:
		k.vop = VReLU
	case models.MaxPool:
		k.vop = VMaxPool
	case models.AvgPool:
		k.vop = VAvgPool
	case models.Add:
		k.vop = VAdd
		k.ins = append(k.ins, streamIn{v: c.out[l.From], class: ClassActivations, bits: c.num.actBits})
	default:
		return fmt.Errorf("the compiler cannot lower a %s layer", l.Kind)
	}
	return c.emitStream(k)
}

// mergeSkip adds a residual branch's saved error to the error of layer i's output
// (in errs[cur]) and returns the error tensor that holds the sum.
func (c *compiler) mergeSkip(i, cur int, skip streamIn) (int, error) {
	c.beginKernel(i, models.BackwardData)
	out := c.net.Layers[i].Out
	dy := c.errView(cur, int64(out.C), int64(out.H), int64(out.W))
	sum := c.errView(1-cur, int64(out.C), int64(out.H), int64(out.W))
	return 1 - cur, c.emitStream(&streamKernel{images: c.batch, channels: int64(out.C), split: true, vop: VAdd,
		ins: []streamIn{{v: dy, class: ClassErrors, bits: c.num.errBits}, skip},
		out: streamIn{v: sum, class: ClassErrors, bits: c.num.errBits}})
}

// convGEMM is a weight layer's product in the shape of a convolution (a linear layer is
// a 1x1 convolution of a 1x1 image): what forwardGEMM, backwardData and backwardWeight
// lower. Attention's projections are 1x1 convolutions over its sequence whose weights
// are some of the rows of the layer's stacked matrices.
type convGEMM struct {
	g geom // of the whole product: cin and cout count every group
	// groups splits the product into independent convolutions of cin/groups to
	// cout/groups channels (a grouped convolution); 1 for a dense one.
	groups int64
	// x is the input activations and y the output, viewed in g's shapes (the forward
	// product writes y; the backward products read x).
	x, y act4
	// row0 is the product's first row in the layer's weight matrix, and its first
	// column in the layer's bias row.
	row0 int64
	// role names the product for functional execution (attention's projections).
	role Role
}

// convOf is layer i's own product (Linear or Conv2D).
func (c *compiler) convOf(i int) convGEMM {
	g := c.geom(i)
	ab := int64(c.num.actBits / 8)
	return convGEMM{g: g, groups: int64(c.net.Layers[i].NumGroups()),
		x: view(c.inputOf(i), g.cin, g.h, g.w, ab), y: view(c.out[i], g.cout, g.ho, g.wo, ab)}
}

// perGroup returns the input and output channels of one group.
func (p convGEMM) perGroup() (cin, cout int64) { return p.g.cin / p.groups, p.g.cout / p.groups }

func (c *compiler) forwardGEMM(i int, p convGEMM) error {
	c.beginKernel(i, models.Forward)
	c.role = p.role
	g, x, y := p.g, p.x, p.y
	cinG, coutG := p.perGroup()
	w := c.gemmW[i]
	// The bias is added in the epilogue: load it once for the whole kernel.
	var bias region // of the copy the GEMMs read: b-bit for RCT and QAT, fp32 for FP32
	var biasOp *operandSlot
	if c.net.Layers[i].Bias {
		bias = c.biasW[i].region(0, 1, p.row0, p.row0+g.cout)
	}
	k := &gemmKernel{
		m: spatialDim(c.batch, g.ho, g.wo), n: flatDim(coutG), k: groupDim(cinG, g.kh*g.kw), groups: p.groups,
		format: c.num.float, weightBits: w.bits, actBits: c.num.actBits,
		aClass: ClassActivations, bClass: ClassWeights, cClass: ClassActivations, aBits: c.num.actBits, bBits: w.bits,
		aLayout: x, bLayout: w,
		aBox: func(m, k tile) Box {
			h0, h1 := g.inRows(m.h0, m.h1)
			c0 := k.grp * cinG
			return actBox(m.n0, m.n1, c0+k.c0, c0+k.c1, h0, h1)
		},
		bBox: func(k, n tile) Box {
			r := p.row0 + n.grp*coutG
			return matBox(r+n.c0, r+n.c1, k.lo, k.hi)
		},
		conv: func(m, n, k tile) hw.Conv {
			return hw.Conv{N: m.n1 - m.n0, M: n.len(), C: k.c1 - k.c0, R: g.kh, S: g.kw, E: m.h1 - m.h0, F: g.wo, U: max(g.s, 1), D: 1}
		},
		epilogueBytes: func(m, n tile) int64 {
			c0 := n.grp * coutG
			return y.boxBytes(actBox(m.n0, m.n1, c0+n.c0, c0+n.c1, m.h0, m.h1))
		},
		newEpilogueSlots: func(mt, nt int64) *epilogueSlots {
			e := c.requantSlots(y, mt, nt)
			if bias.rows > 0 {
				biasOp = &operandSlot{s: c.newSlot(roleOutputs, bias.bytes()), class: ClassWeights, bits: c.biasW[i].bits, bytes: bias.bytes()}
				c.load([]region{bias}, ClassWeights, biasOp.bits, biasOp.s)
			}
			return e
		},
		epilogue: func(m, n tile, acc *operandSlot, e *epilogueSlots) {
			c0 := n.grp * coutG
			c.requant(acc, biasOp, matBox(0, 1, p.row0, p.row0+g.cout), y, actBox(m.n0, m.n1, c0+n.c0, c0+n.c1, m.h0, m.h1), m, n, ClassActivations, c.num.actBits, e)
		},
	}
	k.extraOutputs = bias.bytes()
	return c.emitGEMM(k)
}

// requantSlots sizes the output slots of a requantising epilogue from a worst-case tile.
func (c *compiler) requantSlots(out act4, mt, nt int64) *epilogueSlots {
	return &epilogueSlots{pairs: []*pair{c.newPair(roleOutputs, mt*nt*out.elemBytes)}}
}

// requant turns an accumulator tile (m x n) into stored activations or errors (the box
// out of tensor v) and writes them out.
//
// bias, when set, is the bias the product adds (the columns biasBox of the layer's
// bias row), added before requantising.
func (c *compiler) requant(acc, bias *operandSlot, biasBox Box, v act4, out Box, m, n tile, class TensorClass, bits int, e *epilogueSlots) {
	rs := c.tileRegions(v, out)
	o := &operandSlot{s: e.pairs[0].fresh(), class: class, bits: bits, bytes: regionsBytes(rs)}
	fn := FuncDesc{M: exportTile(m), N: exportTile(n), C: out, Group: m.grp}
	if bias != nil {
		fn.B = biasBox
	}
	c.fn = c.descriptor(fn)
	c.vector(VRequant, acc.bytes*8/int64(acc.bits), acc, bias, o)
	c.store(rs, class, bits, o.s)
}

func (c *compiler) loss() error {
	last := len(c.net.Layers) - 1
	c.beginKernel(last, models.Forward)
	out := c.net.Layers[last].Out
	classes, h, w := int64(out.C), int64(out.H), int64(out.W)
	// A sequence model has a softmax at every position: the logits are classes x
	// positions per example.
	logits := view(c.out[last], classes, h, w, int64(c.num.actBits/8))
	return c.emitStream(&streamKernel{
		images: c.batch, channels: 1, vop: VSoftmaxXent,
		ins: []streamIn{
			{v: logits, class: ClassActivations, bits: c.num.actBits},
			{v: c.labels, class: ClassOther, bits: int(c.labels.elemBytes * 8)},
		},
		out: streamIn{v: c.errView(0, classes, h, w), class: ClassErrors, bits: c.num.errBits},
	})
}

// backward emits layer i's backward pass reading the error in errs[cur]; it returns
// which error tensor holds the error of the layer's input afterwards.
func (c *compiler) backward(i, cur int) (int, error) {
	l := &c.net.Layers[i]
	other := 1 - cur
	in, out := l.In, l.Out
	dy := c.errView(cur, int64(out.C), int64(out.H), int64(out.W))
	dx := c.errView(other, int64(in.C), int64(in.H), int64(in.W))
	switch l.Kind {
	case models.Flatten:
		return cur, nil
	case models.Embedding:
		if i != c.net.WeightLayers()[0] {
			return cur, fmt.Errorf("an embedding must be the network's first weight layer")
		}
		if c.num.upd[i].Frozen() {
			return cur, nil
		}
		return cur, c.backwardEmbedding(i, dy)
	case models.Add:
		// The error passes unchanged to the previous layer; a copy waits for layer From.
		c.beginKernel(i, models.BackwardData)
		skip := c.newAct(fmt.Sprintf("%s.skip_error", l.Name), ClassErrors, i, out, c.num.errBits)
		c.skips[l.From] = append(c.skips[l.From], streamIn{v: skip, class: ClassErrors, bits: c.num.errBits})
		return cur, c.emitStream(&streamKernel{images: c.batch, channels: int64(out.C), split: true, vop: VCopy,
			ins: []streamIn{{v: dy, class: ClassErrors, bits: c.num.errBits}},
			out: streamIn{v: skip, class: ClassErrors, bits: c.num.errBits}})
	case models.ShortcutAdd:
		return cur, c.backwardShortcut(i, dy)
	case models.Concat:
		return other, c.backwardConcat(i, dy, dx)
	case models.PosEmbedding:
		// The error passes unchanged; the table's gradient is its sum over the batch.
		if c.num.upd[i].Frozen() {
			return cur, nil
		}
		return cur, c.backwardPosEmbedding(i, dy)
	case models.BatchNorm:
		return c.backwardBatchNorm(i, cur)
	case models.LayerNorm:
		return c.backwardLayerNorm(i, cur)
	case models.Attention:
		return c.backwardAttention(i, cur)
	case models.ReLU, models.MaxPool, models.AvgPool:
		c.beginKernel(i, models.BackwardData)
		k := &streamKernel{images: c.batch, channels: int64(out.C), split: true,
			ins: []streamIn{{v: dy, class: ClassErrors, bits: c.num.errBits}},
			out: streamIn{v: dx, class: ClassErrors, bits: c.num.errBits}}
		switch l.Kind {
		case models.ReLU:
			k.vop = VReLUBackward
			k.ins = append(k.ins, streamIn{v: c.out[i], class: ClassActivations, bits: c.num.actBits})
		case models.MaxPool:
			k.vop = VMaxPoolBackward
			k.ins = append(k.ins, streamIn{v: c.inputOf(i), class: ClassActivations, bits: c.num.actBits})
		default:
			k.vop = VAvgPoolBackward
		}
		return other, c.emitStream(k)
	}
	next := cur
	p := c.convOf(i)
	if c.needsDX(i) {
		if err := c.backwardData(i, p, dy, dx); err != nil {
			return cur, err
		}
		next = other
	}
	if err := c.backwardWeight(i, p, dy); err != nil {
		return cur, &CompileError{Model: c.net.Name, Profile: c.prof.Name, Layer: l.Name, Phase: models.BackwardWeight, Err: err}
	}
	return next, nil
}

// backwardData computes the error of a product's input (dxAny) from the error of its
// output (dyAny); both are viewed in the product's shapes.
func (c *compiler) backwardData(i int, p convGEMM, dyAny, dxAny act4) error {
	c.beginKernel(i, models.BackwardData)
	c.role = p.role
	g := p.g
	cinG, coutG := p.perGroup()
	eb := int64(c.num.errBits / 8)
	dy := view(dyAny, g.cout, g.ho, g.wo, eb)
	dx := view(dxAny, g.cin, g.h, g.w, eb)
	w := c.gemmW[i]
	khkw := g.kh * g.kw
	return c.emitGEMM(&gemmKernel{
		m: spatialDim(c.batch, g.h, g.w), n: flatDim(cinG), k: groupDim(coutG, khkw), groups: p.groups,
		format: c.num.float, weightBits: w.bits, actBits: c.num.errBits,
		aClass: ClassErrors, bClass: ClassWeights, cClass: ClassErrors, aBits: c.num.errBits, bBits: w.bits,
		aLayout: dy, bLayout: w,
		aBox: func(m, k tile) Box {
			h0, h1 := g.outRows(m.h0, m.h1)
			if h1 <= h0 {
				return Box{}
			}
			c0 := k.grp * coutG
			return actBox(m.n0, m.n1, c0+k.c0, c0+k.c1, h0, h1)
		},
		// The transposed weights: rows are output channels, each read for a strip of
		// input channels, so the DMA strides through W.
		bBox: func(k, n tile) Box {
			r := p.row0 + k.grp*coutG
			return matBox(r+k.c0, r+k.c1, n.c0*khkw, n.c1*khkw)
		},
		// The error, zero-padded (and dilated by the stride), convolved with the
		// flipped filters at stride 1.
		conv: func(m, n, k tile) hw.Conv {
			return hw.Conv{N: m.n1 - m.n0, M: n.len(), C: k.c1 - k.c0, R: g.kh, S: g.kw, E: m.h1 - m.h0, F: g.w, U: 1, D: 1}
		},
		epilogueBytes: func(m, n tile) int64 {
			c0 := n.grp * cinG
			return dx.boxBytes(actBox(m.n0, m.n1, c0+n.c0, c0+n.c1, m.h0, m.h1))
		},
		newEpilogueSlots: func(mt, nt int64) *epilogueSlots { return c.requantSlots(dx, mt, nt) },
		epilogue: func(m, n tile, acc *operandSlot, e *epilogueSlots) {
			c0 := n.grp * cinG
			c.requant(acc, nil, Box{}, dx, actBox(m.n0, m.n1, c0+n.c0, c0+n.c1, m.h0, m.h1), m, n, ClassErrors, c.num.errBits, e)
		},
	})
}

// backwardWeight computes a product's weight gradient from its input and the error of
// its output (dyAny, viewed in the product's shape) and applies the update to the rows
// of the layer's parameters the product owns, fused into the GEMM's epilogue.
func (c *compiler) backwardWeight(i int, p convGEMM, dyAny act4) error {
	u := c.num.upd[i]
	if u.Weights == 0 {
		// Frozen weights: no gradient GEMM; a bias that learns sums the error alone.
		if len(c.bstate[i]) > 0 {
			return c.backwardBias(i, p, dyAny)
		}
		return nil
	}
	c.beginKernel(i, models.BackwardWeight)
	c.role = p.role
	g, x := p.g, p.x
	cinG, coutG := p.perGroup()
	// A layer updating a fraction of its filters computes their gradients alone; its
	// bias, updated whole, then sums the error in a pass of its own.
	partial := u.Weights < 1
	if partial {
		coutG = int64(u.UpdatedRows(int(coutG)))
	}
	dy := view(dyAny, g.cout, g.ho, g.wo, int64(c.num.errBits/8))
	states := c.state[i]
	accBytes := int64(c.num.accBits / 8)
	row := func(n tile) int64 { return p.row0 + n.grp*coutG }
	stateBox := func(m, n tile) Box { return matBox(row(n)+n.c0, row(n)+n.c1, m.lo, m.hi) }
	stateRegion := func(st paramState, m, n tile) region { return st.m.region(row(n)+n.c0, row(n)+n.c1, m.lo, m.hi) }
	// stateRegions is every state's region of a tile, in one scratch slice for the
	// prologues and epilogues: updateLoad and updateCompute keep none of it.
	var stateRs []region
	stateRegions := func(m, n tile) []region {
		stateRs = stateRs[:0]
		for _, st := range states {
			stateRs = append(stateRs, stateRegion(st, m, n))
		}
		return stateRs
	}
	// The bias the product owns: its columns of the layer's bias row.
	biasRegion := func(st paramState) region { return st.m.region(0, 1, p.row0, p.row0+g.cout) }
	var biasGrad *slot
	var biasSlots []*slot
	k := &gemmKernel{
		m: groupDim(cinG, g.kh*g.kw), n: flatDim(coutG), k: spatialDim(c.batch, g.ho, g.wo), groups: p.groups,
		format: c.num.float, weightBits: c.num.errBits, actBits: c.num.actBits,
		aClass: ClassActivations, bClass: ClassErrors, cClass: ClassGradients, aBits: c.num.actBits, bBits: c.num.errBits,
		aLayout: x, bLayout: dy,
		aBox: func(m, k tile) Box {
			h0, h1 := g.inRows(k.h0, k.h1)
			c0 := m.grp * cinG
			return actBox(k.n0, k.n1, c0+m.c0, c0+m.c1, h0, h1)
		},
		bBox: func(k, n tile) Box {
			c0 := n.grp * coutG
			return actBox(k.n0, k.n1, c0+n.c0, c0+n.c1, k.h0, k.h1)
		},
		// The input convolved with the error: input channels are the ifmaps, images the
		// channels, the error's rows the filter rows (dilated by the stride), the
		// kernel's window the ofmap.
		conv: func(m, n, k tile) hw.Conv {
			return hw.Conv{N: m.c1 - m.c0, M: n.len(), C: k.n1 - k.n0, R: k.h1 - k.h0, S: g.wo, E: g.kh, F: g.kw, U: 1, D: max(g.s, 1)}
		},
		epilogueBytes: func(m, n tile) int64 {
			var s int64
			for _, st := range states {
				s += stateRegion(st, m, n).bytes()
			}
			return s
		},
		newEpilogueSlots: func(mt, nt int64) *epilogueSlots {
			e := &epilogueSlots{}
			ms, ns := groupDim(cinG, g.kh*g.kw).tiles(mt), flatDim(coutG).tiles(nt)
			for _, st := range states {
				// Packed sub-rows start at different bit offsets, so tiles of one size
				// can differ by a byte per row: size the slot for the largest.
				var most int64
				for _, m := range ms {
					for _, n := range ns {
						most = max(most, stateRegion(st, m, n).bytes())
					}
				}
				e.pairs = append(e.pairs, c.newPair(roleOutputs, most))
			}
			if bs := c.bstate[i]; len(bs) > 0 && !partial {
				biasGrad = c.newSlot(roleOutputs, g.cout*accBytes)
				for _, st := range bs {
					biasSlots = append(biasSlots, c.newSlot(roleOutputs, biasRegion(st).bytes()))
				}
			}
			return e
		},
		prologue: func(m, n tile, e *epilogueSlots) {
			if sharesByte(states, m) {
				// The tile's first packed byte also holds the previous tile's last
				// weights: load it only after that tile's update is stored, or the
				// store of this tile would write back stale bits of its neighbour.
				e.staged = append(e.staged, nil)
				return
			}
			rs := stateRegions(m, n)
			e.staged = append(e.staged, c.updateLoad(states, rs, e.pairs))
		},
		epilogue: func(m, n tile, acc *operandSlot, e *epilogueSlots) {
			rs := stateRegions(m, n)
			slots := e.staged[0]
			e.staged = e.staged[1:]
			if slots == nil {
				slots = c.updateLoad(states, rs, e.pairs)
			}
			c.updateCompute(states, rs, acc, slots, c.descriptor(FuncDesc{M: exportTile(m), N: exportTile(n), B: stateBox(m, n), Group: m.grp, Role: p.role}), true)
		},
	}
	if bs := c.bstate[i]; len(bs) > 0 && !partial {
		k.extraOutputs = g.cout * accBytes
		for _, st := range bs {
			k.extraOutputs += biasRegion(st).bytes()
		}
		k.onB = func(kt, n tile, b *operandSlot, box Box) {
			// Each N tile sums into its own part of the bias gradient.
			part := &slot{ref: biasGrad.ref, writer: biasGrad.writer, readers: biasGrad.readers}
			part.ref.Offset += (n.grp*coutG + n.c0) * accBytes
			out := &operandSlot{s: part, class: ClassGradients, bits: c.num.accBits, bytes: n.len() * accBytes}
			c.fn = c.descriptor(FuncDesc{K: exportTile(kt), N: exportTile(n), B: box, Group: n.grp})
			c.vector(VBiasGrad, kt.len()*n.len(), b, nil, out)
			biasGrad.writer, biasGrad.readers = part.writer, part.readers
		}
	}
	if err := c.emitGEMM(k); err != nil {
		return err
	}
	if partial && len(c.bstate[i]) > 0 {
		return c.backwardBias(i, p, dyAny)
	}
	if bs := c.bstate[i]; len(bs) > 0 {
		c.phase = models.Update
		rs := make([]region, len(bs))
		pairs := make([]*pair, len(bs))
		for j, st := range bs {
			rs[j] = biasRegion(st)
			pairs[j] = &pair{s: [2]*slot{biasSlots[j], biasSlots[j]}}
		}
		grad := &operandSlot{s: biasGrad, class: ClassGradients, bits: c.num.accBits, bytes: g.cout * accBytes}
		all := Tile{Lo: 0, Hi: g.cout, C0: 0, C1: g.cout}
		c.updateCompute(bs, rs, grad, c.updateLoad(bs, rs, pairs), c.descriptor(FuncDesc{N: all, B: matBox(0, 1, p.row0, p.row0+g.cout), Role: RoleBias}), false)
	}
	return nil
}

// sharesByte reports whether an update tile starting at column m.lo begins inside a
// byte of some packed parameter tensor, which it then shares with the tile before it.
func sharesByte(states []paramState, m tile) bool {
	for _, st := range states {
		if m.lo*int64(st.m.bits)%8 != 0 {
			return true
		}
	}
	return false
}

// update applies the method's update to one tile of a layer's parameters: grad holds
// the gradient tile, states and rs the parameter tensors and their regions.
func (c *compiler) update(states []paramState, rs []region, grad *operandSlot, pairs []*pair, fn *FuncDesc) {
	c.updateCompute(states, rs, grad, c.updateLoad(states, rs, pairs), fn, true)
}

// updateLoad loads the parameter tiles an update reads into fresh halves of pairs and
// returns the slots (one per state, loaded or not).
func (c *compiler) updateLoad(states []paramState, rs []region, pairs []*pair) []*operandSlot {
	saved := c.phase
	c.phase = models.Update
	slots := make([]*operandSlot, len(states))
	backing := make([]operandSlot, len(states)) // one allocation for all, not one each
	for j, st := range states {
		backing[j] = operandSlot{s: pairs[j].fresh(), class: st.class, bits: st.m.bits, bytes: rs[j].bytes()}
		slots[j] = &backing[j]
		if st.load {
			c.load(rs[j:j+1], st.class, st.m.bits, slots[j].s)
		}
	}
	c.phase = saved
	return slots
}

// updateCompute runs the update on loaded parameter tiles and stores them.
// fn describes the tile (for functional execution): its M and N tiles (an
// accumulator tile of M x N; only N for a bias) and B the parameter box. stat adds the
// gradient to the controller's statistic (weights only, not biases).
func (c *compiler) updateCompute(states []paramState, rs []region, grad *operandSlot, slots []*operandSlot, fn *FuncDesc, stat bool) {
	saved := c.phase
	elems := grad.bytes * 8 / int64(grad.bits)
	control := c.opt.Method == numerics.RCT && c.opt.Plan.Control && stat
	if control && !c.num.acc {
		c.phase = models.PrecisionControl
		c.fn = fn
		c.vector(VGradStat, elems, grad, nil, nil)
	}
	c.phase = models.Update
	switch c.opt.Method {
	case numerics.RCT:
		if !c.num.acc {
			c.fn = fn
			c.vector(VUpdate, elems, grad, slots[0], slots[0])
			break
		}
		// Momentum: the buffer (slots[1]) gains the update, the controller's statistic
		// reads the buffer (the update the weights take), and the buffer moves the
		// weights (slots[0]).
		c.fn = fn
		c.vector(VMomentumAccumulate, elems, grad, slots[1], slots[1])
		if control {
			c.phase = models.PrecisionControl
			c.fn = fn
			c.vector(VGradStat, elems, slots[1], nil, nil)
			c.phase = models.Update
		}
		c.fn = fn
		c.vector(VMomentumApply, elems, slots[1], slots[0], slots[0])
	case numerics.NITI:
		// The largest |g| sets the next step's shift; then the three passes of
		// numerics.UpdateNITI over the buffer (slots[1]) and the weights (slots[0]).
		c.fn = fn
		c.vector(VGradStat, elems, grad, nil, nil)
		c.fn = fn
		c.vector(VNITIAccumulate, elems, grad, slots[1], slots[1])
		c.fn = fn
		c.vector(VNITICarry, elems, slots[1], slots[0], slots[0])
		c.fn = fn
		c.vector(VNITIRemainder, elems, slots[1], nil, slots[1])
	case numerics.FP32:
		src := grad
		if len(slots) > 1 { // momentum: v = mu*v + g, then w -= lr*v
			c.vector(VUpdate, elems, grad, slots[1], slots[1])
			src = slots[1]
		}
		c.vector(VUpdate, elems, src, slots[0], slots[0])
	case numerics.QAT, numerics.FP8:
		src := grad
		if len(slots) > 2 {
			c.vector(VUpdate, elems, grad, slots[1], slots[1])
			src = slots[1]
		}
		c.vector(VUpdate, elems, src, slots[0], slots[0])
		// Quantise the new master weights into the copy the next step's GEMMs read.
		c.vector(VConvert, elems, slots[0], nil, slots[len(slots)-1])
	}
	for j, st := range states {
		if st.store {
			c.store(rs[j:j+1], st.class, st.m.bits, slots[j].s)
		}
	}
	c.phase = saved
}

// control emits the precision controller: one decision per weight layer, and a
// conversion pass for each layer whose bitwidth changes for the next step.
func (c *compiler) control() error {
	if c.opt.Method != numerics.RCT {
		return nil
	}
	for _, i := range c.net.WeightLayers() {
		if c.opt.Plan.Control && c.num.upd[i].Weights > 0 { // frozen weights have no statistic
			c.beginKernel(i, models.PrecisionControl)
			c.vector(VControl, 1, nil, nil, nil)
		}
		if c.num.nextBits[i] == c.num.wBits[i] {
			continue
		}
		for _, st := range append(append([]paramState(nil), c.state[i]...), c.bstate[i]...) {
			if st.class != ClassWeights {
				continue // a momentum buffer is rescaled by its next accumulation
			}
			c.beginKernel(i, models.PrecisionControl)
			from := st.m
			to := st.m
			to.bits = c.num.nextBits[i]
			if err := c.emitStream(&streamKernel{
				images: 1, channels: from.rows, split: true, vop: VConvert,
				ins:          []streamIn{{v: act4{tensor: from.tensor, base: from.base, c: from.rows, h: 1, w: 1, elemBytes: from.pitch()}, class: ClassWeights, bits: from.bits}},
				out:          streamIn{v: act4{tensor: to.tensor, base: to.base, c: to.rows, h: 1, w: 1, elemBytes: to.pitch()}, class: ClassWeights, bits: to.bits},
				elemsPerUnit: from.cols,
				// Widening in place must not overwrite rows not yet read.
				reverse: to.bits > from.bits,
			}); err != nil {
				return c.layerErr(i, models.PrecisionControl, fmt.Errorf("bitwidth conversion: %w", err))
			}
		}
	}
	return nil
}
