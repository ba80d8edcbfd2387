// The float path: FP32 training (and, with fake quantisation, QAT; see qat.go).
// Activations, errors, weights and optimizer state are stored as F (float32 in
// training); GEMMs run in F (package gemm's float32 kernels, gonum for the float64
// gradient checks).

package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
	"github.com/rctsim/rctsim/train/vec"
)

// netLayer is one layer's static plan, shared by the float and integer paths.
type netLayer struct {
	l     *models.Layer
	conv  *convGeom     // Linear and Conv2D
	pool  *poolGeom     // MaxPool and AvgPool
	norm  *normGeom     // BatchNorm and LayerNorm
	attn  *attnGeom     // Attention
	short *shortcutGeom // ShortcutAdd
	// weight is the layer's index among the weight layers, -1 for none.
	weight int
	// needDX: backward must produce the error of the layer's input (false for the first
	// weight layer and everything before it, whose input is data).
	needDX bool
	// fused marks a ReLU that the integer path folds into the preceding weight layer's
	// requantisation (as kernels/ does), unless a residual Add reads that layer's
	// pre-ReLU output; the float path runs every ReLU as a layer.
	fused bool
	// residual is the Add or ShortcutAdd layer whose error is added to this layer's
	// output error, -1 for none.
	residual int
	// src is the layer whose output this layer reads (-1: the network input), the
	// previous one unless the layer is a branch (models.Layer.Branch).
	src int
	// branches are the later branch layers that read this layer's output: the errors of
	// their inputs are parts of this layer's output error.
	branches []int
	// chained: the next layer reads this layer's output, and its backward pass writes
	// this layer's output error (otherwise only residuals and branches make it up).
	chained bool
}

// segments is how many equal parts a weight layer's weights (and biases) form, each a
// matrix of its own for quantisation and the integer update: Attention's four
// projections, one for every other layer.
func (nl *netLayer) segments() int {
	if nl.attn != nil {
		return 4
	}
	return 1
}

// plan is a network prepared for training: per-layer geometry and buffer sizes.
type plan struct {
	net     *models.Network
	layers  []netLayer
	weights []int // network indices of the weight layers
	// positions is the number of labelled positions per example (the final output's
	// H*W: 1 for a classifier, the context for a sequence model).
	positions int
	classes   int
	inElems   int
	embedIn   bool // the first layer is an Embedding reading token ids
	// Per-example sizes of the largest scratch tensors, and the largest weight count.
	maxCols, maxAct, maxW int
	// update is each weight layer's update mask (nil: every parameter); backStart is
	// the first layer the backward pass visits, the first weight layer that updates
	// anything (see sparse.go).
	update    []numerics.LayerUpdate
	backStart int
}

func newPlan(net *models.Network) (*plan, error) {
	if err := net.Validate(); err != nil {
		return nil, err
	}
	p := &plan{net: net, inElems: int(net.Input.Elems())}
	p.layers = make([]netLayer, len(net.Layers))
	p.maxAct = p.inElems
	for i := range net.Layers {
		l := &net.Layers[i]
		nl := netLayer{l: l, weight: -1, residual: -1, needDX: net.NeedsBackwardData(i), src: net.InputOf(i)}
		if i > 0 && nl.src < 0 {
			return nil, fmt.Errorf("layer %s reads the network input, which only the first layer reads here", l.Name)
		}
		var err error
		switch l.Kind {
		case models.Linear, models.Conv2D:
			gl := *l
			if l.Kind == models.Linear {
				// A flattened input is still channels-last in memory: give the layer its
				// spatial shape so that its weights are indexed in the canonical C,H,W
				// order a flatten defines (the geometry's perm).
				gl.In = flattenedFrom(net, i)
			}
			if nl.conv, err = newConvGeom(&gl); err != nil {
				return nil, err
			}
			p.maxCols = max(p.maxCols, nl.conv.unfoldedPerExample())
		case models.BatchNorm, models.LayerNorm:
			nl.norm = newNormGeom(l)
		case models.Attention:
			nl.attn = newAttnGeom(l)
		case models.ShortcutAdd:
			nl.short = newShortcutGeom(net, l)
		case models.PosEmbedding:
		case models.MaxPool, models.AvgPool:
			if nl.pool, err = newPoolGeom(l); err != nil {
				return nil, err
			}
		case models.Embedding:
			if i != 0 {
				return nil, fmt.Errorf("embedding %s must be the first layer (it reads token ids)", l.Name)
			}
			p.embedIn = true
		case models.ReLU:
			nl.fused = i > 0 && nl.src == i-1 && net.Layers[i-1].HasWeights()
		case models.Flatten, models.Add, models.Concat:
		default:
			return nil, fmt.Errorf("layer %s: kind %q is not supported", l.Name, l.Kind)
		}
		if l.HasWeights() {
			nl.weight = len(p.weights)
			p.weights = append(p.weights, i)
			p.maxW = max(p.maxW, int(l.WeightParams()))
		}
		p.maxAct = max(p.maxAct, int(l.Out.Elems()))
		p.layers[i] = nl
	}
	for i := range net.Layers {
		if net.Layers[i].IsResidual() || net.Layers[i].Kind == models.Concat {
			from := net.Layers[i].From
			if p.layers[from].residual >= 0 {
				return nil, fmt.Errorf("layer %s is added or joined by two later layers", net.Layers[from].Name)
			}
			p.layers[from].residual = i
			if from+1 < len(p.layers) {
				p.layers[from+1].fused = false
			}
		}
		if src := p.layers[i].src; src >= 0 && src != i-1 {
			p.layers[src].branches = append(p.layers[src].branches, i)
			if src+1 < len(p.layers) {
				p.layers[src+1].fused = false // the branch reads the pre-ReLU output
			}
		}
		if i+1 < len(p.layers) {
			p.layers[i].chained = net.InputOf(i+1) == i
		}
	}
	for j := range len(net.Layers) - 1 {
		nl := &p.layers[j]
		parts := len(nl.branches)
		if nl.chained {
			parts++
		}
		if nl.residual >= 0 {
			parts++
		}
		switch {
		case parts == 0:
			return nil, fmt.Errorf("no later layer reads the output of layer %s", nl.l.Name)
		case parts > 2:
			// Each merge of two errors requantises with a delayed scale of its own;
			// a layer has one (scales.Res).
			return nil, fmt.Errorf("the output of layer %s is read by %d later layers; the trainer merges the errors of two", nl.l.Name, parts)
		}
	}
	if len(p.weights) == 0 {
		return nil, fmt.Errorf("network %q has no weight layers to train", net.Name)
	}
	p.backStart = p.weights[0]
	last := net.Layers[len(net.Layers)-1].Out
	p.positions, p.classes = last.H*last.W, last.C
	if p.classes != net.Classes {
		return nil, fmt.Errorf("network %q: final layer has %d channels but the network declares %d classes", net.Name, p.classes, net.Classes)
	}
	return p, nil
}

// flattenedFrom is the shape layer i's input had before any flatten layers just before
// it (i may be len(net.Layers): the network's output).
func flattenedFrom(net *models.Network, i int) models.Shape {
	src := i - 1
	if i < len(net.Layers) {
		src = net.InputOf(i)
	}
	for src >= 0 && net.Layers[src].Kind == models.Flatten {
		src = net.InputOf(src)
	}
	if src < 0 {
		return net.Input
	}
	return net.Layers[src].Out
}

// dxSlot is the index, in the per-layer error arrays, of the error of layer i's input:
// its source's output error (i-1) for a layer of a chain, and a slot of its own past
// the layers' for a branch, merged into its source's error later (mergeErrors).
func (p *plan) dxSlot(i int) int {
	if src := p.layers[i].src; src != i-1 {
		return len(p.layers) + i
	}
	return i - 1
}

// errSlots is the length of the per-layer error arrays (see dxSlot).
func (p *plan) errSlots() int { return 2 * len(p.layers) }

// inputOf returns the input of layer i in a per-layer array: the network input for
// layer 0, else its source's output.
func inputOf[T any](p *plan, input []T, act [][]T, i int) []T {
	if src := p.layers[i].src; src >= 0 {
		return act[src]
	}
	return input
}

// initWeights draws the initial float weights of every weight layer, identical for all
// methods: He (Kaiming) uniform, U(-sqrt(6/fan_in), +sqrt(6/fan_in)), for linear and
// convolution layers (fan_in of one group for a grouped convolution); U(-sqrt(3/D),
// +sqrt(3/D)) (variance 1/D, LeCun's: no ReLU follows them) for the four D x D
// projections of attention; U(-sqrt(3), +sqrt(3)) (unit variance) for token and
// position embeddings; 1 for the scale of batch and layer normalisation. Biases
// (normalisation shifts included) are zero. Layer i draws from a PCG seeded by
// (seed, f(i)), so one layer's values do not depend on the others'.
func initWeights(p *plan, seed uint64) [][]float64 {
	out := make([][]float64, len(p.weights))
	for j, i := range p.weights {
		l := p.layers[i].l
		w := make([]float64, l.WeightParams())
		var bound float64
		switch l.Kind {
		case models.BatchNorm, models.LayerNorm:
			for k := range w {
				w[k] = 1
			}
			out[j] = w
			continue
		case models.Embedding, models.PosEmbedding:
			bound = math.Sqrt(3)
		case models.Attention:
			bound = math.Sqrt(3 / float64(l.In.C))
		default:
			_, _, fanIn := l.GEMMDims()
			bound = math.Sqrt(6 / float64(fanIn))
		}
		src := rand.NewPCG(seed, splitmix64(uint64(i)^0x696e697477656967)) // "initweig"
		for k := range w {
			w[k] = (2*uniform01(src) - 1) * bound
		}
		out[j] = w
	}
	return out
}

// floatParam is a weight layer's float state and scratch.
type floatParam[F floatT] struct {
	w, b   []F // canonical layout; the master copy under QAT
	vw, vb []F // momentum (nil without)
	gw, gb []float64
	// w64 and b64 are the weights and biases the layer's kernels read, refreshed after
	// every update (the canonical tables of embeddings, normalisations and attention),
	// fake-quantised under QAT; wg is a linear or convolution layer's weights in GEMM
	// layout, or an attention layer's, in the storage type (w64 is then unused).
	w64, b64 []float64
	wg       []F
}

// floatNet trains with float weights: FP32, or QAT when qat is set.
type floatNet[F floatT] struct {
	p       *plan
	par     []*floatParam[F] // per network layer; nil without weights
	qat     *qatState[F]
	fp8     *fp8State
	lr, mom float64
	wd      float64
	capN    int  // batch capacity of the buffers
	stale   bool // w64/b64 must be refreshed before the next forward pass
	input   []F  // the batch, converted
	ids     []int32
	act     [][]F // act[i] is layer i's output (aliased for Flatten)
	err     [][]F // err[i] is the error of layer i's output
	cols    [][]F // per GEMM layer: the operand saved for the weight gradient
	argmax  [][]int32
	s       gemmScratch[F]
	split   []float64 // float64 scratch of attention's split reductions
	dxg     []F       // an attention layer's input error
	gwg     []F       // a GEMM layer's weight gradient
	skip    []F       // a shortcut's mapped skip operand or error
	norm    []*normFloat
	attn    []*attnFloat[F]
}

func newFloatNet[F floatT](p *plan, init [][]float64, momentum bool) *floatNet[F] {
	fn := &floatNet[F]{p: p, par: make([]*floatParam[F], len(p.layers)), stale: true}
	for j, i := range p.weights {
		l := p.layers[i].l
		fp := &floatParam[F]{w: make([]F, len(init[j])), gw: make([]float64, len(init[j]))}
		if g := p.layers[i].conv; g != nil {
			fp.wg = make([]F, g.weightsLen())
		} else if p.layers[i].attn != nil {
			fp.wg = make([]F, len(init[j]))
		} else {
			fp.w64 = make([]float64, len(init[j]))
		}
		convert(fp.w, init[j])
		if nb := l.BiasParams(); nb > 0 {
			fp.b, fp.gb, fp.b64 = make([]F, nb), make([]float64, nb), make([]float64, nb)
		}
		if momentum {
			fp.vw = make([]F, len(fp.w))
			fp.vb = make([]F, len(fp.b))
		}
		fn.par[i] = fp
	}
	fn.norm = make([]*normFloat, len(p.layers))
	for i, nl := range p.layers {
		if nl.norm != nil {
			fn.norm[i] = newNormFloat(nl.norm)
		}
	}
	return fn
}

// ensure sizes the batch buffers for n examples; buffers only grow, so a run allocates
// them once for its largest batch.
func (fn *floatNet[F]) ensure(n int) {
	if n <= fn.capN {
		return
	}
	p := fn.p
	fn.capN = n
	fn.input = make([]F, n*p.inElems)
	fn.ids = make([]int32, n*p.inElems)
	fn.act = make([][]F, len(p.layers))
	fn.err = make([][]F, p.errSlots())
	fn.cols = make([][]F, len(p.layers))
	fn.argmax = make([][]int32, len(p.layers))
	for i, nl := range p.layers {
		size := n * int(nl.l.Out.Elems())
		if nl.l.Kind == models.Flatten {
			fn.act[i] = inputOf(fn.p, fn.input, fn.act, i)[:size]
		} else {
			fn.act[i] = make([]F, size)
		}
		fn.err[i] = make([]F, size)
		if i > 0 && nl.src != i-1 {
			fn.err[p.dxSlot(i)] = make([]F, n*int(nl.l.In.Elems()))
		}
		if nl.conv != nil {
			fn.cols[i] = make([]F, nl.conv.colsLen(n))
		}
		if nl.l.Kind == models.MaxPool {
			fn.argmax[i] = make([]int32, size)
		}
	}
	// Flatten's input error aliases its output error (backwards, for chains).
	for i := len(p.layers) - 1; i > 0; i-- {
		if p.layers[i].l.Kind == models.Flatten {
			fn.err[p.dxSlot(i)] = fn.err[i]
		}
	}
	fn.s = newGEMMScratch[F](p, n)
	fn.split = make([]float64, (splitK-1)*p.maxW)
	fn.dxg = make([]F, n*p.maxAct)
	fn.gwg = make([]F, p.maxW)
	fn.skip = make([]F, n*p.maxAct)
	fn.attn = make([]*attnFloat[F], len(p.layers))
	for i, nl := range p.layers {
		if nl.attn != nil {
			fn.attn[i] = newAttnFloat[F](nl.attn, n, fn.qat != nil)
		}
	}
}

// layGEMMWeights lays w out as the GEMMs read it: in F where the layer has a GEMM copy
// (linear and convolution layers), else in float64.
func layGEMMWeights[S float32 | float64, F floatT](nl *netLayer, fp *floatParam[F], w []S) {
	if fp.wg != nil {
		setGEMMWeights(nl, w, fp.wg)
	} else {
		setGEMMWeights(nl, w, fp.w64)
	}
}

// refresh rebuilds the weights the GEMMs read from the stored (master) weights.
func (fn *floatNet[F]) refresh() {
	for _, i := range fn.p.weights {
		nl, fp := &fn.p.layers[i], fn.par[i]
		switch {
		case fn.qat != nil:
			layGEMMWeights(nl, fp, fn.qat.weights(fp.w, nl.weight, nl.segments()))
			copy(fp.b64, fn.qat.bias(fp.b, nl.weight, nl.segments()))
		case fn.fp8 != nil:
			layGEMMWeights(nl, fp, fp8Weights(fn.fp8, fp.w, nl.weight, nl.segments()))
			copy(fp.b64, fp8Bias(fn.fp8, fp.b, nl.weight, nl.segments()))
		default:
			layGEMMWeights(nl, fp, fp.w)
			convert(fp.b64, fp.b)
		}
	}
	fn.stale = false
}

// forward runs the network on n examples in x; train selects training behaviour
// (QAT's range statistics are updated only then).
func (fn *floatNet[F]) forward(x []float32, n int, train bool) error {
	fn.ensure(n)
	if fn.stale {
		fn.refresh()
	}
	p := fn.p
	x = x[:n*p.inElems]
	if p.embedIn {
		if err := tokenIDs(x, p.layers[0].l.Vocab, fn.ids); err != nil {
			return err
		}
	} else {
		convert(fn.input, x)
		if fn.fp8 != nil {
			fp8Activations(fn.fp8, -1, fn.input[:len(x)], train)
		}
	}
	for i := range p.layers {
		nl := &p.layers[i]
		l := nl.l
		src := inputOf(fn.p, fn.input, fn.act, i)[:n*int(l.In.Elems())]
		out := fn.act[i][:n*int(l.Out.Elems())]
		switch l.Kind {
		case models.Linear, models.Conv2D:
			fn.gemmForward(i, src, n, train)
		case models.Embedding:
			fp := fn.par[i]
			embedForward(fn.ids[:n*p.inElems], fp.w64, l.Out.C, out)
		case models.ReLU:
			reluForward(src, out)
		case models.MaxPool:
			maxPoolForward(nl.pool, src, n, out, fn.argmax[i])
		case models.AvgPool:
			avgPoolSum(nl.pool, src, n, out)
			scale(out, 1/float64(nl.pool.window()))
		case models.Add:
			sum(out, src, fn.act[l.From])
		case models.Concat:
			f := p.layers[l.From].l.Out.C
			concatForward(fn.act[l.From], f, src, l.In.C, n*l.Out.H*l.Out.W, out)
		case models.ShortcutAdd:
			skip := fn.skip[:len(out)]
			shortcutGather(nl.short, fn.act[l.From], n, skip)
			sum(out, src, skip)
		case models.PosEmbedding:
			// out = F(float64(src) + table), one table per example.
			copy(out, src)
			vec.AddRowBias(out, fn.par[i].w64)
		case models.BatchNorm, models.LayerNorm:
			fp := fn.par[i]
			normForwardFloat(nl.norm, fn.norm[i], src, n, fp.w64, fn.beta(i), train, out)
		case models.Attention:
			fn.attnForward(i, src, n, train)
		case models.Flatten:
			// act[i] aliases its input.
		}
		if fn.fp8 != nil && l.Kind != models.Flatten {
			fp8Activations(fn.fp8, i, out, train)
		}
	}
	return nil
}

// beta returns normalisation layer i's shift as its kernels read it (zeros without
// one).
func (fn *floatNet[F]) beta(i int) []float64 {
	if b := fn.par[i].b64; b != nil {
		return b
	}
	return make([]float64, fn.p.layers[i].norm.c)
}

func (fn *floatNet[F]) attnForward(i int, src []F, n int, train bool) {
	a, st, fp := fn.p.layers[i].attn, fn.attn[i], fn.par[i]
	var quantCtx func(o, oq []F)
	if fn.qat != nil {
		// Quantised straight into the attention's saved input.
		src = fn.qat.activations(i, src, st.x[:len(src)], train)
		quantCtx = func(o, oq []F) { fakeQuantAct(&fn.qat.ctx[i], o, oq, train) }
	} else {
		copy(st.x, src)
	}
	attnForwardFloat(a, st, n, fp.wg, fp.b64, fn.split, quantCtx)
	copy(fn.act[i][:len(src)], st.y[:len(src)])
}

func (fn *floatNet[F]) attnBackward(i int, dy, dx []F, n int) {
	nl := &fn.p.layers[i]
	st, fp := fn.attn[i], fn.par[i]
	copy(st.dy, dy)
	var steCtx func(dO []F)
	if fn.qat != nil {
		steCtx = func(dO []F) { straightThroughRange(&fn.qat.ctx[i], st.o[:len(dO)], dO) }
	}
	var dxg []F
	if nl.needDX {
		dxg = fn.dxg[:len(dy)]
	}
	attnBackwardFloat(nl.attn, st, n, fp.wg, fn.split, fp.gw, fp.gb, steCtx, dxg)
	if dxg != nil {
		copy(dx, dxg)
		if fn.qat != nil {
			fn.qat.straightThrough(i, inputOf(fn.p, fn.input, fn.act, i)[:len(dx)], dx)
		}
	}
}

func scale[F floatT](x []F, s float64) {
	for j, v := range x {
		x[j] = F(float64(v) * s)
	}
}

func (fn *floatNet[F]) gemmForward(i int, src []F, n int, train bool) {
	g, fp := fn.p.layers[i].conv, fn.par[i]
	if fn.qat != nil {
		// Quantised straight into the operand kept for the weight gradient, which
		// gemmForward then need not copy.
		src = fn.qat.activations(i, src, fn.cols[i][:len(src)], train)
	}
	out := fn.act[i][:n*g.positions()*g.cout]
	gemmForward(g, src, n, fp.wg, 0, fn.cols[i], &fn.s, out)
	if fp.b64 == nil {
		return
	}
	parallel(len(out)/g.cout, 256, func(r0, r1 int) { vec.AddRowBias(out[r0*g.cout:r1*g.cout], fp.b64) })
}

// loss computes the softmax cross-entropy of the last forward pass against labels
// (positions per example each) and writes the output error; it returns the summed loss
// and the correct count.
func (fn *floatNet[F]) loss(labels []int32, n int) (float64, int) {
	p := fn.p
	last := len(p.layers) - 1
	rows := n * p.positions
	return softmaxXentFloat(fn.act[last][:rows*p.classes], p.classes, labels[:rows], rows, fn.err[last][:rows*p.classes])
}

// backward propagates the output error through the network and leaves each weight
// layer's gradient in gw/gb.
func (fn *floatNet[F]) backward(n int) {
	p := fn.p
	for i := len(p.layers) - 1; i >= p.backStart; i-- {
		nl := &p.layers[i]
		l := nl.l
		if i < len(p.layers)-1 {
			fn.mergeErrors(i, n)
		}
		dy := fn.err[i][:n*int(l.Out.Elems())]
		if fn.fp8 != nil {
			fp8Errors(fn.fp8, i, dy)
		}
		var dx []F
		if i > 0 {
			dx = fn.err[p.dxSlot(i)][:n*int(l.In.Elems())]
		}
		switch l.Kind {
		case models.Linear, models.Conv2D:
			fn.gemmBackward(i, dy, dx, n)
		case models.Embedding:
			fp := fn.par[i]
			clear(fp.gw)
			embedBackward(fn.ids[:n*p.inElems], dy, l.Out.C, fp.gw)
		case models.ReLU:
			if nl.needDX {
				reluBackward(fn.act[i][:len(dy)], dy, dx)
			}
		case models.MaxPool:
			if nl.needDX {
				maxPoolBackward(dy, fn.argmax[i][:len(dy)], dx, n)
			}
		case models.AvgPool:
			if nl.needDX {
				avgPoolSpread(nl.pool, dy, n, dx)
				scale(dx, 1/float64(nl.pool.window()))
			}
		case models.Add, models.ShortcutAdd:
			copy(dx, dy)
		case models.Concat:
			if nl.needDX {
				channelSlice(dy, n*l.Out.H*l.Out.W, l.Out.C, l.Out.C-l.In.C, l.Out.C, dx)
			}
		case models.PosEmbedding:
			if nl.needDX {
				copy(dx, dy)
			}
			posGrad(dy, n, l.In.C, l.In.H*l.In.W, fn.par[i].gw)
		case models.BatchNorm, models.LayerNorm:
			fp := fn.par[i]
			var d []F
			if nl.needDX {
				d = dx
			}
			normBackwardFloat(nl.norm, fn.norm[i], inputOf(fn.p, fn.input, fn.act, i)[:len(dy)], dy, n, fp.w64, fp.gw, fp.gb, d)
		case models.Attention:
			fn.attnBackward(i, dy, dx, n)
		}
	}
}

// sum sets out to a + b, value by value (out shares no storage with b).
func sum[F floatT](out, a, b []F) {
	parallel(len(out), 1<<14, func(lo, hi int) {
		copy(out[lo:hi], a[lo:hi])
		addTo(out[lo:hi], b[lo:hi])
	})
}

// addAll adds src to dst, value by value, on all cores.
func addAll[F floatT](dst, src []F) {
	parallel(len(dst), 1<<14, func(lo, hi int) { addTo(dst[lo:hi], src[lo:hi]) })
}

// addTo adds src to dst, value by value.
func addTo[F floatT](dst, src []F) {
	src = src[:len(dst)]
	if d32, ok := any(dst).([]float32); ok {
		vec.AddFloat32(d32, any(src).([]float32))
		return
	}
	for k := range dst {
		dst[k] += src[k]
	}
}

// mergeErrors completes the error of layer j's output before its backward pass: the
// part the next layer wrote (when it reads this output), plus the error of a residual
// that adds it (through a shortcut's mapping) and of the inputs of branches that read
// it.
func (fn *floatNet[F]) mergeErrors(j, n int) {
	p := fn.p
	nl := &p.layers[j]
	dst := fn.err[j][:n*int(nl.l.Out.Elems())]
	have := nl.chained
	add := func(e []F) {
		if !have {
			copy(dst, e[:len(dst)])
			have = true
			return
		}
		addAll(dst, e)
	}
	if r := nl.residual; r >= 0 {
		add(residualError(p, j, r, n, fn.err[r], fn.skip[:len(dst)]))
	}
	for _, b := range nl.branches {
		add(fn.err[p.dxSlot(b)])
	}
}

// residualError is the part of the error of layer j's output (n examples) that
// comes from the residual r that adds it, given r's output error e: e itself, or e
// mapped into skip (the size of j's output) when r reaches j through a shortcut or
// joins it by Concat.
func residualError[T int8 | float32 | float64](p *plan, j, r, n int, e, skip []T) []T {
	e = e[:n*int(p.layers[r].l.Out.Elems())]
	if sg := p.layers[r].short; sg != nil {
		// A shortcut's error reaches the positions its skip operand came from.
		shortcutScatter(sg, e, n, skip)
		e = skip
	}
	if rl := p.layers[r].l; rl.Kind == models.Concat {
		// Joined first: its share is the first channels of the join's error.
		channelSlice(e, n*rl.Out.H*rl.Out.W, rl.Out.C, 0, p.layers[j].l.Out.C, skip)
		e = skip
	}
	return e
}

func (fn *floatNet[F]) gemmBackward(i int, dy, dx []F, n int) {
	nl := &fn.p.layers[i]
	g, fp := nl.conv, fn.par[i]
	if !nl.needDX {
		dx = nil
	}
	gw := fn.gwg[:len(fp.gw)]
	gemmBackward(g, dy, n, fp.wg, 0, fn.cols[i], &fn.s, gw, dx, fn.s.a)
	convertAll(fp.gw, gw)
	if dx != nil && fn.qat != nil {
		fn.qat.straightThrough(i, inputOf(fn.p, fn.input, fn.act, i)[:len(dx)], dx)
	}
	if fp.gb != nil {
		floatChannelSums(dy, g.cout, len(dy)/g.cout, fp.gb)
	}
}

// update applies SGD with momentum to every weight layer: v = mu*v + (g + wd*w),
// w -= lr*v (PyTorch's form; no weight decay on biases). Values are computed in
// float64 and stored as F.
func (fn *floatNet[F]) update() {
	for _, i := range fn.p.weights {
		fp := fn.par[i]
		nw, bias := fn.p.updated(i, len(fp.w))
		sgd(fp.w[:nw], fp.gw, prefix(fp.vw, nw), fn.lr, fn.mom, fn.wd)
		if bias {
			sgd(fp.b, fp.gb, fp.vb, fn.lr, fn.mom, 0)
		}
	}
	fn.stale = true
}

func sgd[F floatT](w []F, g []float64, v []F, lr, mom, wd float64) {
	parallel(len(w), 1<<14, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			d := g[j] + wd*float64(w[j])
			if v != nil {
				v[j] = F(mom*float64(v[j]) + d)
				d = float64(v[j])
			}
			w[j] = F(float64(w[j]) - lr*d)
		}
	})
}
