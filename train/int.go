// The integer path of RCT: int8 activations and errors with per-tensor power-of-two
// scales, b-bit integer weights, exact integer GEMMs, integer requantisation and
// update (see doc.go for the numerics and train/numerics for each operation).

package train

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
	"github.com/rctsim/rctsim/train/vec"
)

// maxExactGEMM bounds |sum| of an integer GEMM computed in float64: below 2^53 every
// partial sum is an exactly represented integer.
const maxExactGEMM = 1 << 53

// intNet trains a network RCT's way. st is its whole persistent state; everything else
// is scratch that each step overwrites before reading.
type intNet struct {
	p        *plan
	st       rctState
	lr       numerics.FixedLR
	rounding numerics.Rounding // of the weight update
	// lossRounding rounds the loss error (Config.LossRounding).
	lossRounding numerics.Rounding
	seed         uint64

	capN  int
	stale bool
	// reestimate is, during Trainer.ReestimateBN, the ordinal (from 1) of the batch
	// whose training forward pass is averaged into the running statistics; 0 in
	// training, where they move by numerics.RunningUpdate.
	reestimate int64
	w64        [][]float64 // per position embedding: its integers
	wg         [][]int32   // per linear, convolution or attention layer: its weights in GEMM layout
	wmax       []int64     // per linear, convolution or attention layer: its largest |weight|
	tables     [][]int32   // per position embedding: its table in NHWC order (scratch)
	xExp       int         // exponent of the quantised input batch
	x8         []int8
	ids        []int32
	act        [][]int8
	actExp     []int
	err        [][]int8
	errExp     []int
	cols       [][]int16 // per GEMM layer: the operand saved for the weight gradient
	d16        []int16   // a GEMM layer's output error, as the kernels read it
	argmax     [][]int32
	s          gemmScratch[int32]
	acc        []int32 // accumulators
	g32        []int32 // weight-gradient accumulators
	gb         []int32 // bias-gradient accumulators
	prob       []float64
	losses     []float64 // each row's loss
	acc64      []int64   // wide accumulators (normalisation, attention)
	skip8      []int8    // a shortcut's mapped skip operand or error
	norms      []*normInt
	attns      []*attnInt
	sat        Saturations
	// onGrad, when set, observes each weight layer's gradient accumulators just before
	// the update (for tests and diagnostics): the weights' and the biases' segments the
	// update changes (cut by the update mask).
	onGrad func(layer int, w, b []gradSeg)
	// niti, when set, makes the update NITI's (niti.go); noQAS drops RCT's
	// quantization-aware scaling (sparse.go).
	niti  *nitiState
	noQAS bool
	// mom, when set, gives RCT's update an integer momentum (momentum.go).
	mom *rctMomentum
}

// Saturations counts values clipped by integer training, since the start of the run.
type Saturations struct {
	Input       int64 // input values clipped by quantisation
	Activations int64 // forward requantisations
	Errors      int64 // backward requantisations (the loss error never saturates)
	Weights     int64 // weight and bias updates, and narrowing bit changes
	// MomentumBuffer counts momentum buffer values clipped to 16 bits.
	MomentumBuffer int64 `json:",omitempty"`
}

func newIntNet(p *plan, st rctState, lr numerics.FixedLR, rounding numerics.Rounding, seed uint64) (*intNet, error) {
	for _, i := range p.weights {
		nl := &p.layers[i]
		if nl.conv == nil {
			continue
		}
		// Forward reduces k products of int8 x 32-bit weights, backward-data cout.
		if float64(max(nl.conv.k, nl.conv.cout))*127*math.MaxInt32 >= maxExactGEMM {
			return nil, fmt.Errorf("layer %s: a reduction of %d is too long for exact integer GEMMs in float64", nl.l.Name, max(nl.conv.k, nl.conv.cout))
		}
	}
	for i := range p.layers {
		nl := &p.layers[i]
		if l := nl.l; l.Kind == models.AvgPool {
			if w := nl.pool.window(); w&(w-1) != 0 {
				return nil, fmt.Errorf("layer %s: integer average pooling needs a power-of-two window, has %d", l.Name, w)
			}
		}
		if nl.attn != nil {
			if err := checkAttnInt(nl.l.Name, nl.attn); err != nil {
				return nil, err
			}
		}
		if nl.norm != nil {
			if err := checkNormInt(nl.l.Name, nl.norm, 1); err != nil {
				return nil, err
			}
		}
	}
	in := &intNet{p: p, st: st, lr: lr, rounding: rounding, seed: seed, stale: true, w64: make([][]float64, len(p.layers)),
		wg: make([][]int32, len(p.layers)), wmax: make([]int64, len(p.layers)), tables: make([][]int32, len(p.layers))}
	maxW, maxB := 0, 0
	for j, i := range p.weights {
		if g := p.layers[i].conv; g != nil {
			in.wg[i] = make([]int32, g.weightsLen())
		} else if p.layers[i].attn != nil {
			in.wg[i] = make([]int32, len(st.Layers[j].W))
		} else {
			in.w64[i] = make([]float64, len(st.Layers[j].W))
		}
		if p.layers[i].l.Kind == models.PosEmbedding {
			in.tables[i] = make([]int32, len(st.Layers[j].W))
		}
		maxW = max(maxW, len(st.Layers[j].W))
		maxB = max(maxB, len(st.Layers[j].B))
	}
	in.g32, in.gb = make([]int32, maxW), make([]int32, maxB)
	return in, nil
}

// ensure sizes the batch buffers for n examples (they only grow).
func (in *intNet) ensure(n int) error {
	if n <= in.capN {
		return nil
	}
	p := in.p
	for i, nl := range p.layers {
		if g := nl.conv; g != nil && float64(n*g.positions())*127*127 >= maxExactGEMM {
			return fmt.Errorf("batch %d is too large for exact weight-gradient GEMMs of layer %s in float64", n, nl.l.Name)
		}
		if a := nl.attn; a != nil && float64(n*a.t)*127*127 >= maxExactGEMM {
			return fmt.Errorf("batch %d is too large for exact weight-gradient GEMMs of layer %s in float64", n, nl.l.Name)
		}
		if nl.norm != nil {
			if err := checkNormInt(p.layers[i].l.Name, nl.norm, n); err != nil {
				return err
			}
		}
	}
	in.capN = n
	in.x8 = make([]int8, n*p.inElems)
	in.ids = make([]int32, n*p.inElems)
	in.act = make([][]int8, len(p.layers))
	in.err = make([][]int8, p.errSlots())
	in.actExp = make([]int, len(p.layers))
	in.errExp = make([]int, p.errSlots())
	in.cols = make([][]int16, len(p.layers))
	in.argmax = make([][]int32, len(p.layers))
	for i, nl := range p.layers {
		size := n * int(nl.l.Out.Elems())
		if nl.l.Kind == models.Flatten || nl.fused {
			in.act[i] = in.input(i)[:size]
		} else {
			in.act[i] = make([]int8, size)
		}
		in.err[i] = make([]int8, size)
		if i > 0 && nl.src != i-1 {
			in.err[p.dxSlot(i)] = make([]int8, n*int(nl.l.In.Elems()))
		}
		if nl.conv != nil {
			in.cols[i] = make([]int16, nl.conv.colsLen(n))
		}
		if nl.l.Kind == models.MaxPool {
			in.argmax[i] = make([]int32, size)
		}
	}
	for i := len(p.layers) - 1; i > 0; i-- {
		if p.layers[i].l.Kind == models.Flatten {
			in.err[p.dxSlot(i)] = in.err[i]
		}
	}
	in.s = newGEMMScratch[int32](p, n)
	in.d16 = make([]int16, n*p.maxAct)
	in.acc = make([]int32, n*p.maxAct)
	last := p.layers[len(p.layers)-1].l
	in.prob = make([]float64, n*int(last.Out.Elems()))
	in.losses = make([]float64, n*p.positions)
	in.acc64 = make([]int64, n*p.maxAct)
	in.skip8 = make([]int8, n*p.maxAct)
	in.norms = make([]*normInt, len(p.layers))
	in.attns = make([]*attnInt, len(p.layers))
	for i, nl := range p.layers {
		if nl.norm != nil {
			in.norms[i] = newNormInt(nl.norm, n)
		}
		if nl.attn != nil {
			in.attns[i] = newAttnInt(nl.attn, n)
		}
	}
	return nil
}

// input returns layer i's input activations.
func (in *intNet) input(i int) []int8 { return inputOf(in.p, in.x8, in.act, i) }

// inExp is the exponent of layer i's input.
func (in *intNet) inExp(i int) int {
	if src := in.p.layers[i].src; src >= 0 {
		return in.actExp[src]
	}
	return in.xExp
}

func (in *intNet) refresh() {
	for j, i := range in.p.weights {
		if in.wg[i] != nil {
			setGEMMWeights(&in.p.layers[i], in.st.Layers[j].W, in.wg[i])
			in.wmax[i] = maxAbs(in.st.Layers[j].W)
		} else {
			setGEMMWeights(&in.p.layers[i], in.st.Layers[j].W, in.w64[i])
		}
	}
	in.stale = false
}

// forward runs the network on n examples with the delayed scales sc (the training
// state's, or an evaluation copy); train selects training behaviour (batch
// normalisation's batch statistics and running-statistics update).
func (in *intNet) forward(x []float32, n int, sc *scales, train bool) error {
	if err := in.ensure(n); err != nil {
		return err
	}
	if in.stale {
		in.refresh()
	}
	p := in.p
	x = x[:n*p.inElems]
	if p.embedIn {
		if err := tokenIDs(x, p.layers[0].l.Vocab, in.ids); err != nil {
			return err
		}
	} else {
		// The input batch is quantised with the scale of its own max: it is in memory
		// in full before the step starts.
		in.xExp = numerics.QuantExp(maxAbsFloat(x), 8)
		var saturated atomic.Int64
		parallel(len(x), 1<<14, func(lo, hi int) {
			saturated.Add(int64(numerics.Quantize(x[lo:hi], in.xExp, in.x8[lo:hi])))
		})
		in.sat.Input += saturated.Load()
	}
	for i := range p.layers {
		nl := &p.layers[i]
		l := nl.l
		src := in.input(i)[:n*int(l.In.Elems())]
		size := n * int(l.Out.Elems())
		out := in.act[i][:size]
		relu := i+1 < len(p.layers) && p.layers[i+1].fused
		switch l.Kind {
		case models.Linear, models.Conv2D:
			in.gemmForward(i, src, n, relu, sc)
		case models.Embedding:
			L := &in.st.Layers[nl.weight]
			acc := in.acc[:size]
			embedForward(in.ids[:n*p.inElems], L.W, l.Out.C, acc)
			in.actExp[i] = in.requant(acc, L.WExp, relu, &sc.Fwd[i], out, &in.sat.Activations)
		case models.ReLU:
			if !nl.fused {
				reluForward(src, out)
			}
			in.actExp[i] = in.inExp(i)
		case models.MaxPool:
			maxPoolForward(nl.pool, src, n, out, in.argmax[i])
			in.actExp[i] = in.inExp(i)
		case models.AvgPool:
			acc := in.acc[:size]
			avgPoolSum(nl.pool, src, n, acc)
			in.actExp[i] = in.requant(acc, in.inExp(i)-log2(nl.pool.window()), relu, &sc.Fwd[i], out, &in.sat.Activations)
		case models.Add:
			acc := in.acc[:size]
			e := addAligned(src, in.inExp(i), in.act[l.From][:size], in.actExp[l.From], acc)
			in.actExp[i] = in.requant(acc, e, relu, &sc.Fwd[i], out, &in.sat.Activations)
		case models.Concat:
			in.actExp[i] = in.concatForward(i, src, n, sc, out)
		case models.ShortcutAdd:
			// The skip operand mapped onto the output's shape (zeros where it adds
			// nothing), then added like a residual.
			skip := in.skip8[:size]
			shortcutGather(nl.short, in.act[l.From], n, skip)
			acc := in.acc[:size]
			e := addAligned(src, in.inExp(i), skip, in.actExp[l.From], acc)
			in.actExp[i] = in.requant(acc, e, relu, &sc.Fwd[i], out, &in.sat.Activations)
		case models.PosEmbedding:
			L := &in.st.Layers[nl.weight]
			acc, table := in.acc[:size], in.w32(i)
			// Element by element, so whole repeats of the table go to the cores.
			e := numerics.AddTableExp(in.inExp(i), L.WExp, L.Bits)
			parallel(size/len(table), 16, func(r0, r1 int) {
				numerics.AddTable(src[r0*len(table):r1*len(table)], in.inExp(i), table, L.WExp, L.Bits, acc[r0*len(table):r1*len(table)])
			})
			in.actExp[i] = in.requant(acc, e, relu, &sc.Fwd[i], out, &in.sat.Activations)
		case models.BatchNorm, models.LayerNorm:
			in.actExp[i] = in.normForward(i, src, n, relu, train, sc, out)
		case models.Attention:
			in.actExp[i] = in.attnForward(i, src, n, relu, sc, out)
		case models.Flatten:
			in.actExp[i] = in.inExp(i)
		}
	}
	return nil
}

// w32 returns position-embedding layer i's table in one example's NHWC order, as the
// integers themselves (refreshed with the GEMM weights).
func (in *intNet) w32(i int) []int32 {
	w := in.w64[i]
	t := in.tables[i][:len(w)]
	for j, v := range w {
		t[j] = int32(v)
	}
	return t
}

func log2(n int) int {
	e := 0
	for 1<<e < n {
		e++
	}
	return e
}

func (in *intNet) requant(acc []int32, accExp int, relu bool, s *scaleState, out []int8, sat *int64) int {
	e, n := delayedRequant(acc, 1, accExp, relu, s, out, nil)
	*sat += int64(n)
	return e
}

// requant64 is requant for int64 accumulators (numerics.Requant64).
func (in *intNet) requant64(acc []int64, accExp int, relu bool, s *scaleState, out []int8, sat *int64) int {
	e, n := delayedRequant64(acc, accExp, relu, s, out)
	*sat += int64(n)
	return e
}

// update applies the integer update to what the update mask changes, and hands those
// gradient segments (none for frozen tensors) to the observer, if any.
func (in *intNet) update(nl *netLayer, i, step int, w, b []gradSeg, stats []LayerStats) {
	L := &in.st.Layers[nl.weight]
	w, b, nw := in.p.maskGrads(i, len(L.W), w, b)
	if in.onGrad != nil {
		in.onGrad(nl.weight, w, b)
	}
	if in.niti != nil {
		in.sat.Weights += int64(in.niti.update(L, w, b))
	} else {
		// The layer as the update sees it: the weights it changes, the bias if it does.
		part := *L
		part.W = L.W[:nw]
		if b == nil {
			part.B = nil
		}
		if in.mom != nil {
			sat, clipped := in.mom.update(&part, i, step, w, b, in.lr, in.rounding, in.seed, in.noQAS, statsAt(stats, nl.weight))
			in.sat.Weights += int64(sat)
			in.sat.MomentumBuffer += int64(clipped)
		} else {
			in.sat.Weights += int64(updateSegments(&part, i, step, w, b, in.lr, in.rounding, in.seed, in.noQAS, statsAt(stats, nl.weight)))
		}
	}
	in.stale = true
}

func (in *intNet) gemmForward(i int, x []int8, n int, relu bool, sc *scales) {
	nl := &in.p.layers[i]
	g, L := nl.conv, &in.st.Layers[nl.weight]
	acc := in.acc[:n*g.positions()*g.cout]
	gemmForward(g, x, n, in.wg[i], in.wmax[i], in.cols[i], &in.s, acc)
	accExp := in.inExp(i) + L.WExp
	// The epilogue (the bias) works row by row, one output position's channels, fused
	// with the requantisation.
	var prepare func(lo, hi int)
	if L.B != nil {
		prepare = func(lo, hi int) { addBias(acc[lo:hi], g.cout, L.B, accExp-L.BExp) }
	}
	e, sat := delayedRequant(acc, g.cout, accExp, relu, &sc.Fwd[i], in.act[i][:len(acc)], prepare)
	in.actExp[i] = e
	in.sat.Activations += int64(sat)
}

// loss computes the softmax cross-entropy of the last forward pass
// (numerics.SoftmaxXentRound, random bits from stream numerics.LossStream(step)) and
// leaves the int8 output error with its exponent.
func (in *intNet) loss(labels []int32, n, step int) (float64, int) {
	p := in.p
	last := len(p.layers) - 1
	rows := n * p.positions
	size := rows * p.classes
	key := numerics.RandKey(in.seed, numerics.LossStream(step))
	e, loss, correct := softmaxXentInt(in.act[last][:size], in.actExp[last], p.classes, labels[:rows], in.lossRounding, key,
		in.prob[:size], in.losses[:rows], in.err[last][:size])
	in.errExp[last] = e
	return loss, correct
}

// softmaxXentInt is numerics.SoftmaxXentRound (the error of the mean loss over the
// rows, random bits from element 0 of key's stream) with its two passes on all cores:
// the rows (their losses into losses, then summed in row order), then the rounding
// with the scale of the largest error.
func softmaxXentInt(logits []int8, exp, classes int, labels []int32, rounding numerics.Rounding, key uint64,
	prob, losses []float64, errOut []int8) (errExp int, loss float64, correct int) {
	rows := len(labels)
	var mu sync.Mutex
	var maxErr float64
	parallel(rows, 16, func(r0, r1 int) {
		m, c := numerics.SoftmaxXentRows(vec.Exp, logits, exp, classes, labels, rows, r0, r1, prob, losses[r0:r1])
		mu.Lock()
		maxErr, correct = max(maxErr, m), correct+c
		mu.Unlock()
	})
	for _, l := range losses[:rows] {
		loss += l
	}
	errExp = numerics.QuantExp(maxErr, 8)
	parallel(rows*classes, 1<<12, func(lo, hi int) {
		numerics.RoundErrors(prob[lo:hi], errExp, rounding, key, uint64(lo), errOut[lo:hi])
	})
	return errExp, loss, correct
}

// backward propagates the output error and updates every weight layer as soon as its
// gradient is complete (after its backward-data GEMM, which reads the old weights).
// stats, when not nil, receives each weight layer's Gavg.
func (in *intNet) backward(n, step int, stats []LayerStats) {
	p := in.p
	sc := &in.st.Scales
	for i := len(p.layers) - 1; i >= p.backStart; i-- {
		nl := &p.layers[i]
		l := nl.l
		if i < len(p.layers)-1 {
			in.mergeErrors(i, n)
		}
		dy := in.err[i][:n*int(l.Out.Elems())]
		ee := in.errExp[i]
		var dx []int8
		dxe := -1 // the slot of dx's exponent
		if i > 0 {
			dxe = p.dxSlot(i)
			dx = in.err[dxe][:n*int(l.In.Elems())]
		}
		inSize := n * int(l.In.Elems())
		switch l.Kind {
		case models.Linear, models.Conv2D:
			in.gemmBackward(i, dy, n, step, stats)
		case models.Embedding:
			L := &in.st.Layers[nl.weight]
			g := in.g32[:len(L.W)]
			clear(g)
			embedBackward(in.ids[:n*p.inElems], dy, l.Out.C, g)
			in.update(nl, i, step, []gradSeg{{0, g, ee}}, nil, stats)
		case models.PosEmbedding:
			// The error passes to the input unchanged; the table's gradient is the
			// error summed over the batch.
			if nl.needDX {
				copy(dx, dy)
				in.errExp[dxe] = ee
			}
			L := &in.st.Layers[nl.weight]
			g := in.g32[:len(L.W)]
			posGrad(dy, n, l.In.C, l.In.H*l.In.W, g)
			in.update(nl, i, step, []gradSeg{{0, g, ee}}, nil, stats)
		case models.BatchNorm, models.LayerNorm:
			in.normBackward(i, dy, n, step, stats)
		case models.Attention:
			in.attnBackward(i, dy, n, step, stats)
		case models.ReLU:
			if nl.needDX {
				reluBackward(in.act[i][:len(dy)], dy, dx)
				in.errExp[dxe] = ee
			}
		case models.MaxPool:
			if nl.needDX {
				acc := in.acc[:inSize]
				maxPoolBackward(dy, in.argmax[i][:len(dy)], acc, n)
				in.errExp[dxe] = in.spread(acc, ee, nl.pool, &sc.Bwd[i], dx)
			}
		case models.AvgPool:
			if nl.needDX {
				acc := in.acc[:inSize]
				avgPoolSpread(nl.pool, dy, n, acc)
				in.errExp[dxe] = in.spread(acc, ee-log2(nl.pool.window()), nl.pool, &sc.Bwd[i], dx)
			}
		case models.Add, models.ShortcutAdd:
			copy(dx, dy)
			in.errExp[dxe] = ee
		case models.Concat:
			if nl.needDX {
				channelSlice(dy, n*l.Out.H*l.Out.W, l.Out.C, l.Out.C-l.In.C, l.Out.C, dx)
				in.errExp[dxe] = ee
			}
		case models.Flatten:
			if i > 0 {
				in.errExp[dxe] = ee // the error itself is shared
			}
		}
	}
}

// mergeErrors completes the error of layer j's output before its backward pass (see
// floatNet.mergeErrors): the parts align their exponents and add in int32, and the
// sum is requantised with the layer's residual scale (newPlan allows two parts).
func (in *intNet) mergeErrors(j, n int) {
	p := in.p
	nl := &p.layers[j]
	dst := in.err[j][:n*int(nl.l.Out.Elems())]
	have := nl.chained
	add := func(other []int8, exp int) {
		if !have {
			copy(dst, other[:len(dst)])
			in.errExp[j] = exp
			have = true
			return
		}
		acc := in.acc[:len(dst)]
		e := addAligned(dst, in.errExp[j], other[:len(dst)], exp, acc)
		in.errExp[j] = in.requant(acc, e, false, &in.st.Scales.Res[j], dst, &in.sat.Errors)
	}
	if r := nl.residual; r >= 0 {
		add(residualError(p, j, r, n, in.err[r], in.skip8[:len(dst)]), in.errExp[r])
	}
	for _, b := range nl.branches {
		add(in.err[p.dxSlot(b)], in.errExp[p.dxSlot(b)])
	}
}

// spread finishes a pooling layer's backward pass: without overlapping windows each
// input position received at most one error, unchanged, so the int32 sums convert to
// int8 exactly; overlapping windows may sum several and are requantised.
func (in *intNet) spread(acc []int32, accExp int, pool *poolGeom, s *scaleState, dx []int8) int {
	if pool.overlapping() {
		return in.requant(acc, accExp, false, s, dx, &in.sat.Errors)
	}
	convert(dx, acc)
	return accExp
}

func statsAt(stats []LayerStats, j int) *LayerStats {
	if stats == nil {
		return nil
	}
	return &stats[j]
}

func (in *intNet) gemmBackward(i int, dy []int8, n, step int, stats []LayerStats) {
	nl := &in.p.layers[i]
	g, L := nl.conv, &in.st.Layers[nl.weight]
	ee := in.errExp[i]
	var acc []int32
	if nl.needDX {
		acc = in.acc[:n*g.inElems()]
	}
	grad := in.g32[:g.cout*g.k]
	gemmBackward(g, dy, n, in.wg[i], in.wmax[i], in.cols[i], &in.s, grad, acc, in.d16)
	if acc != nil {
		slot := in.p.dxSlot(i)
		in.errExp[slot] = in.requant(acc, ee+L.WExp, false, &in.st.Scales.Bwd[i], in.err[slot][:len(acc)], &in.sat.Errors)
	}
	var gb []int32
	if L.B != nil {
		gb = in.gb[:g.cout]
		channelSums8(dy, gb)
	}
	var b []gradSeg
	if L.B != nil {
		b = []gradSeg{{0, gb, ee}}
	}
	in.update(nl, i, step, []gradSeg{{0, grad, in.inExp(i) + ee}}, b, stats)
}

// channelSums8 sets sum to the per-channel sums of the rows of len(sum) int8 values x
// (a bias's gradient; exact in int32 for fewer than 2^24 rows). The rows are cut
// among the cores, each part's sums added after: integer sums in any order.
func channelSums8(x []int8, sum []int32) {
	c := len(sum)
	clear(sum)
	var mu sync.Mutex
	parallel(len(x)/c, max(1, 1<<15/c), func(r0, r1 int) {
		s := make([]int64, 2*c)
		vec.ChannelSums(x[r0*c:r1*c], x[r0*c:r1*c], s[:c], s[c:]) // the second sums are not needed
		mu.Lock()
		for j, v := range s[:c] {
			sum[j] += int32(v)
		}
		mu.Unlock()
	})
}

// concatForward joins layer From's output and layer i's input (src) on channels. The
// two have exponents of their own: both are placed in int32 on a common exponent (at
// most 24 bits below the larger, so that int8 values shifted up stay in range; values
// below it round to nearest) and requantised with the layer's delayed scale.
func (in *intNet) concatForward(i int, src []int8, n int, sc *scales, out []int8) int {
	l := in.p.layers[i].l
	ea, eb := in.actExp[l.From], in.inExp(i)
	e := max(min(ea, eb), max(ea, eb)-24)
	acc := in.acc[:len(out)]
	f := in.p.layers[l.From].l.Out.C
	place := func(x int8, exp int) int32 {
		if s := exp - e; s >= 0 {
			return int32(x) << s
		}
		return int32(numerics.RoundShift(int64(x), e-exp))
	}
	a, c, cb := in.act[l.From], l.Out.C, l.In.C
	for q := range n * l.Out.H * l.Out.W {
		for k, x := range a[q*f : (q+1)*f] {
			acc[q*c+k] = place(x, ea)
		}
		for k, x := range src[q*cb : (q+1)*cb] {
			acc[q*c+f+k] = place(x, eb)
		}
	}
	return in.requant(acc, e, false, &sc.Fwd[i], out, &in.sat.Activations)
}

// maxAbs is the largest |v| of integer weights.
func maxAbs(w []int32) int64 {
	var mu sync.Mutex
	var m int64
	parallel(len(w), 1<<14, func(lo, hi int) {
		var part int64
		for _, v := range w[lo:hi] {
			part = max(part, int64(v), -int64(v))
		}
		mu.Lock()
		m = max(m, part)
		mu.Unlock()
	})
	return m
}
