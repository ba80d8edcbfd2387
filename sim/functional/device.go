// Package functional is the simulated chip's functional mode: a sim.Hook that executes
// each instruction of a compiled training step on real bytes held in simulated DRAM and
// SRAM images, with the integer semantics of train/numerics. The device check
// (sim/devcheck) runs it beside the host trainer and compares the two bit for bit.
//
// It lives apart from sim, which owns time and energy: the engine never depends on it,
// and a run with the device attached has the same timing and energy as one without.
package functional

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/train/numerics"
)

// Device is the simulator's functional mode: a Hook that carries real bytes. DRAM and
// each SRAM buffer are byte images; as the engine issues an instruction the device
// performs it on them: DMA transfers copy bytes (b-bit weights stay packed, see
// numerics.PackBits; a gather picks table rows by the indices its descriptor points
// at), GEMM tiles multiply the integers their SRAM operands hold (forming im2col rows
// on the fly from the layer's geometry, as the array's operand feeders do), and vector
// instructions apply the integer semantics of train/numerics. Register state the
// instructions do not carry in memory (exponents, delayed scales, the learning rate,
// the rounding seed, the exponents of fixed-point coefficients) comes from a
// numerics.IntState or is kept in the device's registers.
//
// Executing an instruction when it issues is faithful to the program: the engine issues
// it only after its producers completed, and a slot is overwritten only after its
// readers completed. Timing and energy do not depend on the device; a run with it
// gives the same Stats as one without.
//
// What the device executes is derived from the program, instruction by instruction
// (see Covers): every instruction of integer training (RCT, and NITI with its int16
// update buffers; either with an update mask) the compiler emits for the layer kinds
// it lowers has functional semantics; programs must be compiled with
// Options.Functional.
type Device struct {
	net   *models.Network
	prog  *kernels.Program
	state *numerics.IntState
	dram  []byte
	sram  [][]byte
	exec  []handler // per instruction

	weights  []int            // per network layer: its index among weight layers, or -1
	tensors  map[string]int32 // DRAM tensors by name
	residual []int            // per network layer: the residual layer that adds its output, or -1

	// Registers of the running step.
	inputExp int
	actExp   []int // exponent of each layer's stored output
	errExp   []int // exponent of the error of each layer's output
	actSet   []bool
	errSet   []bool
	fwd      []scaleTrack // per layer: the maxima that set the next step's scales
	bwd      []scaleTrack
	res      []scaleTrack
	inner    [][]scaleTrack
	regs     []layerRegs // per layer: exponents inside normalisations and attention
	grad     []gradRegs  // per weight layer
	niti     []nitiRegs  // per weight layer (NITI)
	newBits  []int       // per weight layer: width after this step's conversion
	gavg     []float64   // per weight layer: the controller's statistic
	lossSum  float64
	correct  int
	err      error // the first failure; the rest of the run is skipped
	scratch  scratch
	errs     [][]int8 // every layer's output error ([image][channel][row][column])

	// momRegs are each weight layer's momentum registers as the step began ([weights,
	// bias][segment]; RCT with momentum): every tile rescales from them.
	momRegs [][2][]numerics.ScaleReg

	// AfterExec, when set, is called after each instruction (its index in the program,
	// and the instruction) with the bytes it wrote (nil for a scatter), so that tests
	// can corrupt one value and see the check fail.
	AfterExec func(index int32, in *kernels.Instr, written []byte)
}

// MaxImageBytes bounds the memory images a Device allocates on the host (DRAM and the
// used part of each SRAM buffer): the device check runs small steps, and a program that
// needs more is refused with an error rather than exhausting the host's memory.
const MaxImageBytes = 4 << 30

// scaleTrack follows one delayed scale through a step: the largest magnitude its
// requantisations met and the exponent of their accumulators.
type scaleTrack struct {
	max  int64
	acc  int
	seen bool
}

func (t *scaleTrack) add(m int64, accExp int) { t.max, t.acc, t.seen = max(t.max, m), accExp, true }

// layerRegs are the scalar registers of a layer's step that no instruction stores.
type layerRegs struct {
	coefExp     int // a normalisation's forward coefficients (layer norm: x_hat's)
	backCoefExp int // the coefficients of a normalisation's input error
	qkv         [3]int
	o, do       int // the context and its error
	ds, dqkv    int // the scores' error and [dQ dK dV]
	gammaGrad   int // the exponent of a normalisation's scale gradient
	// A normalisation of several chunks: the largest coefficients its first passes
	// found (forward: of y, or layer normalisation's x_hat; backward: of dx's two terms,
	// and batch normalisation's largest scale gradient), and over how many positions
	// or channels.
	maxA, maxBackA, maxBackB, maxGrad float64
	maxCount, maxBackCount            int64
	// A loss of several chunks: the largest error its first pass found, over how many
	// positions.
	lossMax    float64
	lossCount  int64
	premerge   int // the error of the layer's output before a residual's error merges in
	merging    bool
	run        numerics.RunningStats // batch normalisation's running statistics registers (Exp, Set)
	runNext    numerics.RunningStats // and their values after this step
	runUpdated bool
}

// gradRegs are a weight layer's gradient registers: per segment (a run of rows with one
// gradient scale; attention has four) the exponent and the controller's sum of |g|,
// and the gradient itself (canonical order) for comparison.
type gradRegs struct {
	segExp  []int
	segSet  []bool
	segAbs  []uint64
	segRows int // rows per segment
	cols    int // columns of the weight matrix
	grad    []int32
	exp     []int       // per element: the exponent it was captured with
	tokens  map[int]int // embedding: the chunk that last updated each row
	chunk   int
}

// handler executes one instruction.
type handler func(d *Device, in *kernels.Instr) error

// New prepares the memory images of prog (compiled with Options.Functional for net),
// checks that every instruction has functional semantics (Covers) and loads the integer
// training state st into DRAM.
func New(net *models.Network, prog *kernels.Program, st *numerics.IntState) (*Device, error) {
	if !prog.Method.Integer() {
		return nil, fmt.Errorf("functional execution covers integer training (rct, niti), not %s", prog.Method)
	}
	if m := st.Method; m != "" && m != prog.Method || m == "" && prog.Method != numerics.RCT {
		return nil, fmt.Errorf("the state is of method %q, the program of %s", m, prog.Method)
	}
	if st.Update != nil && len(st.Update) != len(st.Layers) {
		return nil, fmt.Errorf("the state's update mask has %d layers, its parameters %d", len(st.Update), len(st.Layers))
	}
	if err := prog.Validate(); err != nil {
		return nil, err
	}
	if k := st.MomentumShift; k < 0 || k > numerics.MaxMomentumShift || k > 0 && prog.Method != numerics.RCT {
		return nil, fmt.Errorf("momentum shift %d in a state of method %s", k, prog.Method)
	}
	if has := hasMomentum(prog); has != (st.MomentumShift > 0) {
		return nil, fmt.Errorf("the state's momentum shift is %d, but the program's update has momentum: %v", st.MomentumShift, has)
	}
	d := &Device{net: net, prog: prog, state: st.Clone(), tensors: map[string]int32{}}
	n := len(net.Layers)
	j := d.indexLayers()
	if j != len(st.Layers) {
		return nil, fmt.Errorf("state has %d weight layers, %s has %d", len(st.Layers), net.Name, j)
	}
	if len(st.Fwd) != n || len(st.Bwd) != n || len(st.Res) != n {
		return nil, fmt.Errorf("state has scales for %d layers, %s has %d", len(st.Fwd), net.Name, n)
	}
	d.exec = make([]handler, prog.Len())
	for k, in := range prog.All() {
		h, err := d.lookup(&in)
		if err != nil {
			return nil, &CoverageError{Index: k, Instr: describe(net, &in), Err: err}
		}
		d.exec[k] = h
	}
	var top uint64
	for i, t := range prog.Tensors {
		top = max(top, t.Addr+uint64(t.Bytes))
		d.tensors[t.Name] = int32(i)
	}
	// The images hold what the program touches: DRAM up to its last tensor, each SRAM
	// buffer up to the end of its furthest operand (a chip with a TiB of SRAM runs a
	// LeNet step in the few MB it uses), and no more than MaxImageBytes in all.
	used := make([]int64, len(prog.Buffers))
	for _, in := range prog.All() {
		for _, o := range [3]kernels.Operand{in.A, in.B, in.C} {
			if o.Bytes > 0 {
				used[o.Buffer] = max(used[o.Buffer], o.End())
			}
		}
	}
	total := top
	for _, u := range used {
		total += uint64(u)
	}
	if total > MaxImageBytes {
		return nil, fmt.Errorf("the functional device of %s needs %d bytes of memory images (DRAM %d, SRAM %v), more than the %d it may allocate",
			net.Name, total, top, used, int64(MaxImageBytes))
	}
	d.dram = make([]byte, top)
	for _, u := range used {
		d.sram = append(d.sram, make([]byte, u))
	}
	d.actExp, d.errExp = make([]int, n), make([]int, n)
	d.actSet, d.errSet = make([]bool, n), make([]bool, n)
	d.fwd, d.bwd, d.res = make([]scaleTrack, n), make([]scaleTrack, n), make([]scaleTrack, n)
	d.inner = make([][]scaleTrack, n)
	d.regs = make([]layerRegs, n)
	d.errs = make([][]int8, n)
	d.grad, d.newBits, d.gavg = make([]gradRegs, j), make([]int, j), make([]float64, j)
	d.niti = make([]nitiRegs, j)
	d.momRegs = make([][2][]numerics.ScaleReg, j)
	for w, L := range d.state.Layers {
		d.momRegs[w] = [2][]numerics.ScaleReg{slices.Clone(L.GradW), slices.Clone(L.GradB)}
	}
	for i := range net.Layers {
		l := &net.Layers[i]
		if l.Kind == models.Attention {
			if len(st.Inner) != n || len(st.Inner[i]) != numerics.AttnScales {
				return nil, fmt.Errorf("state has no inner scales for attention layer %s", l.Name)
			}
			d.inner[i] = make([]scaleTrack, numerics.AttnScales)
		}
		if l.Kind == models.BatchNorm {
			if len(st.Running) != n || len(st.Running[i].Mean) != l.In.C || len(st.Running[i].Var) != l.In.C {
				return nil, fmt.Errorf("state has no running statistics for batch normalisation %s", l.Name)
			}
			r := st.Running[i]
			d.regs[i].run = numerics.RunningStats{Set: r.Set, Exp: r.Exp}
			if err := d.writeRunning(i, r.Mean, r.Var); err != nil {
				return nil, err
			}
		}
		w := d.weights[i]
		if w < 0 {
			continue
		}
		L := st.Layers[w]
		d.newBits[w] = L.Bits
		rows := paramRows(l)
		if rows == 0 || len(L.W)%rows != 0 {
			return nil, fmt.Errorf("layer %s: %d weights do not form %d rows", l.Name, len(L.W), rows)
		}
		g := &d.grad[w]
		g.cols, g.segRows = len(L.W)/rows, rows
		if l.Kind == models.Attention {
			g.segRows = l.In.C
		}
		segs := rows / g.segRows
		g.segExp, g.segSet, g.segAbs = make([]int, segs), make([]bool, segs), make([]uint64, segs)
		if err := d.writeMatrix(l.Name+".w", L.W, L.Bits, rows); err != nil {
			return nil, err
		}
		if l.BiasParams() > 0 {
			if err := d.writeMatrix(l.Name+".b", L.B, L.Bits, 1); err != nil {
				return nil, err
			}
		}
		if prog.Method == numerics.NITI || st.MomentumShift > 0 {
			if err := d.buffers(w, l.Name, rows, false); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// paramRows is the rows of a weight layer's weight matrix as the compiler lays it out
// (see kernels' paramShape).
func paramRows(l *models.Layer) int {
	switch l.Kind {
	case models.Embedding:
		return l.Vocab
	case models.BatchNorm, models.LayerNorm:
		return 1
	case models.Attention:
		return 4 * l.In.C
	case models.PosEmbedding:
		return l.In.C
	}
	return l.Out.C
}

// CoverageError is an instruction without functional semantics: the device cannot
// execute the program.
type CoverageError struct {
	Index int
	Instr string
	Err   error
}

func (e *CoverageError) Error() string {
	return fmt.Sprintf("instruction %d (%s) has no functional semantics: %v", e.Index, e.Instr, e.Err)
}

func (e *CoverageError) Unwrap() error { return e.Err }

// describe names an instruction: its op, its layer and its phase.
func describe(net *models.Network, in *kernels.Instr) string {
	what := in.Op.String()
	if in.Op == kernels.OpVector {
		what += " " + in.VOp.String()
	}
	if in.Fn != nil && in.Fn.Role != kernels.RoleNone {
		what += " (" + in.Fn.Role.String() + ")"
	}
	layer := "no layer"
	if in.Layer >= 0 && int(in.Layer) < len(net.Layers) {
		l := &net.Layers[in.Layer]
		layer = fmt.Sprintf("%s layer %s", l.Kind, l.Name)
	}
	return fmt.Sprintf("%s of %s, %s", what, layer, in.Phase)
}

// indexLayers sets d.weights (each layer's index among the weight layers, or -1) and
// d.residual (the residual layer each layer's output feeds, or -1) and returns how
// many weight layers d.net has.
func (d *Device) indexLayers() int {
	net := d.net
	d.weights = make([]int, len(net.Layers))
	d.residual = make([]int, len(net.Layers))
	j := 0
	for i := range net.Layers {
		d.weights[i], d.residual[i] = -1, -1
		if net.Layers[i].HasWeights() {
			d.weights[i] = j
			j++
		}
	}
	for i := range net.Layers {
		if l := &net.Layers[i]; l.IsResidual() {
			d.residual[l.From] = i
		}
	}
	return j
}

// Covers reports whether the device can execute every instruction of prog (compiled
// with Options.Functional for net): it returns a *CoverageError naming the first
// instruction without functional semantics, or nil.
func Covers(net *models.Network, prog *kernels.Program) error {
	d := &Device{net: net, prog: prog}
	d.indexLayers()
	for k, in := range prog.All() {
		if _, err := d.lookup(&in); err != nil {
			return &CoverageError{Index: k, Instr: describe(net, &in), Err: err}
		}
	}
	return nil
}

// writeMatrix packs a weight layer's integers into its DRAM tensor, rows padded to a
// byte as the compiler lays them out.
func (d *Device) writeMatrix(name string, vals []int32, bits, rows int) error {
	return d.matrixRows(name, vals, bits, rows, func(row []int32, packed []byte) { numerics.PackBits(row, bits, packed) })
}

// readMatrix unpacks a weight layer's DRAM tensor into vals (see writeMatrix).
func (d *Device) readMatrix(name string, vals []int32, bits, rows int) error {
	return d.matrixRows(name, vals, bits, rows, func(row []int32, packed []byte) { numerics.UnpackBits(packed, bits, 0, row) })
}

// matrixRows calls f for each row of the weight tensor name: the row's slice of vals
// and the DRAM bytes from the row's start (rows of bits-bit values padded to a byte).
func (d *Device) matrixRows(name string, vals []int32, bits, rows int, f func(row []int32, packed []byte)) error {
	t, ok := d.tensors[name]
	if !ok {
		return fmt.Errorf("program has no tensor %s", name)
	}
	if rows == 0 || len(vals)%rows != 0 {
		return fmt.Errorf("tensor %s: %d values do not form %d rows", name, len(vals), rows)
	}
	cols := len(vals) / rows
	pitch := (cols*bits + 7) / 8
	tn := d.prog.Tensors[t]
	if int64(rows*pitch) > tn.Bytes {
		return fmt.Errorf("tensor %s: %d rows of %d %d-bit values do not fit its %d bytes", name, rows, cols, bits, tn.Bytes)
	}
	for r := range rows {
		f(vals[r*cols:(r+1)*cols], d.dram[tn.Addr+uint64(r*pitch):])
	}
	return nil
}

// writeRunning stores batch normalisation layer i's running statistics in its DRAM
// tensor: per channel the mean, then the variance, as int32.
func (d *Device) writeRunning(i int, mean, vr []int32) error {
	t, ok := d.tensors[d.net.Layers[i].Name+".running"]
	if !ok {
		return fmt.Errorf("program has no running statistics of layer %s", d.net.Layers[i].Name)
	}
	s := d.dram[d.prog.Tensors[t].Addr:]
	for j := range mean {
		writeAcc(s, int64(2*j), mean[j])
		writeAcc(s, int64(2*j+1), vr[j])
	}
	return nil
}

func (d *Device) readRunning(i int, mean, vr []int32) {
	s := d.dram[d.prog.Tensors[d.tensors[d.net.Layers[i].Name+".running"]].Addr:]
	for j := range mean {
		mean[j], vr[j] = readAcc(s, int64(2*j)), readAcc(s, int64(2*j+1))
	}
}

// LoadBatch writes a step's input (int8 in [example][channel][row][column] order, with
// scale 2^exp; token ids for a network that embeds them) and labels into DRAM.
func (d *Device) LoadBatch(x []int8, exp int, labels []int32) error {
	in := d.prog.Tensors[d.tensors["input"]]
	if int64(len(x)) != in.Bytes {
		return fmt.Errorf("input batch has %d values, the program's input holds %d", len(x), in.Bytes)
	}
	putInt8s(d.dram[in.Addr:], x)
	d.inputExp = exp
	lt, ok := d.tensors["labels"]
	if !ok {
		return errors.New("program has no labels (compiled for inference?)")
	}
	lab := d.prog.Tensors[lt]
	width := lab.Bits / 8
	if int64(len(labels)*width) != lab.Bytes {
		return fmt.Errorf("%d labels, the program's label tensor holds %d", len(labels), lab.Bytes/int64(width))
	}
	for i, v := range labels {
		switch width {
		case 1:
			d.dram[lab.Addr+uint64(i)] = byte(v)
		default:
			binary.LittleEndian.PutUint32(d.dram[lab.Addr+uint64(4*i):], uint32(v))
		}
	}
	return nil
}

// OnIssue implements Hook: it performs the instruction.
func (d *Device) OnIssue(e sim.Event) {
	if d.err != nil {
		return
	}
	in := e.Instr
	if err := d.exec[e.Index](d, in); err != nil {
		d.err = fmt.Errorf("instruction %d (%s): %w", e.Index, describe(d.net, in), err)
		return
	}
	if d.AfterExec != nil {
		var out []byte
		switch {
		case in.Op == kernels.OpLoad:
			out = d.slot(in.A)
		case in.Op == kernels.OpStore && !in.Gather:
			out = d.dram[in.Addr : in.Addr+uint64((in.Rows-1)*in.Stride+in.RowBytes)]
		case in.C.Bytes > 0:
			out = d.slot(in.C)
		}
		d.AfterExec(e.Index, in, out)
	}
}

// OnComplete implements Hook.
func (d *Device) OnComplete(sim.Event) {}

// Program is the program the device executes.
func (d *Device) Program() *kernels.Program { return d.prog }

// Err is the first failure of the run, if any.
func (d *Device) Err() error { return d.err }

func (d *Device) dma(in *kernels.Instr) error {
	s := d.sram[in.A.Buffer][in.A.Offset:in.A.End()]
	if in.Gather {
		t := d.prog.Tensors[in.Tensor]
		f := in.Fn
		idx := d.sram[f.Index.Buffer][f.Index.Offset:f.Index.End()]
		if int64(len(idx)) != in.Rows {
			return fmt.Errorf("gather of %d rows with %d indices", in.Rows, len(idx))
		}
		for r := range in.Rows {
			a := t.Addr + uint64(int64(idx[r])*in.Stride)
			if a+uint64(in.RowBytes) > t.Addr+uint64(t.Bytes) {
				return fmt.Errorf("gather index %d is outside %s", idx[r], t.Name)
			}
			m := d.dram[a : a+uint64(in.RowBytes)]
			row := s[r*in.RowBytes : (r+1)*in.RowBytes]
			if in.Op == kernels.OpLoad {
				copy(row, m)
			} else {
				copy(m, row)
			}
		}
		return nil
	}
	for r := range in.Rows {
		a := in.Addr + uint64(r*in.Stride)
		m := d.dram[a : a+uint64(in.RowBytes)]
		row := s[r*in.RowBytes : (r+1)*in.RowBytes]
		if in.Op == kernels.OpLoad {
			copy(row, m)
		} else {
			copy(m, row)
		}
	}
	return nil
}

// Finish ends the step: the delayed scales take this step's maxima, conversions change
// the layers' steps, and the weights and running statistics are read back from DRAM.
// It returns the state the next step starts from.
func (d *Device) Finish() (*numerics.IntState, error) {
	if d.err != nil {
		return nil, d.err
	}
	st := d.state
	commit := func(r *numerics.ScaleReg, t scaleTrack) {
		if t.seen {
			*r = numerics.ScaleReg{Exp: t.acc + numerics.ShiftFor(t.max, 8), Set: true}
		}
	}
	for i := range d.net.Layers {
		commit(&st.Fwd[i], d.fwd[i])
		commit(&st.Bwd[i], d.bwd[i])
		commit(&st.Res[i], d.res[i])
		for k, t := range d.inner[i] {
			commit(&st.Inner[i][k], t)
		}
	}
	for i, l := range d.net.Layers {
		if l.Kind == models.BatchNorm {
			r := &st.Running[i]
			if reg := d.regs[i]; reg.runUpdated {
				r.Set, r.Exp = reg.runNext.Set, reg.runNext.Exp
			}
			d.readRunning(i, r.Mean, r.Var)
		}
		w := d.weights[i]
		if w < 0 {
			continue
		}
		L := &st.Layers[w]
		if to := d.newBits[w]; to != L.Bits {
			L.WExp -= to - L.Bits
			L.BExp -= to - L.Bits
			L.Bits = to
		}
		if err := d.readMatrix(l.Name+".w", L.W, L.Bits, paramRows(&l)); err != nil {
			return nil, err
		}
		if l.BiasParams() > 0 {
			if err := d.readMatrix(l.Name+".b", L.B, L.Bits, 1); err != nil {
				return nil, err
			}
		}
		if d.prog.Method == numerics.NITI || st.MomentumShift > 0 {
			if err := d.buffers(w, l.Name, paramRows(&l), true); err != nil {
				return nil, err
			}
		}
		if d.prog.Method == numerics.NITI {
			d.nitiFinish(w)
		}
	}
	st.Step++
	return st.Clone(), nil
}

// Activation returns layer i's output after the step, int8 in [image][channel][row]
// [column] order, and its exponent (ok is false for a layer that stores no output of
// its own: flatten, or a ReLU fused into its producer).
func (d *Device) Activation(i int) (vals []int8, exp int, ok bool) {
	t, found := d.tensors[d.net.Layers[i].Name+".out"]
	if !found || !d.actSet[i] {
		return nil, 0, false
	}
	ts := d.prog.Tensors[t]
	return int8s(d.dram[ts.Addr : ts.Addr+uint64(ts.Bytes)]), d.actExp[i], true
}

// OutputError returns the error of layer i's output as the step computed it, in
// [image][channel][row][column] order, and its exponent: the error the step wrote, or,
// where the next layer handed its own error through unchanged, that one (ok is false
// where no error of layer i's output was needed).
func (d *Device) OutputError(i int) (vals []int8, exp int, ok bool) {
	if d.errs[i] != nil && d.errSet[i] {
		return d.errs[i], d.errExp[i], true
	}
	if i+1 < len(d.net.Layers) && d.passesError(i+1) {
		return d.OutputError(i + 1)
	}
	return nil, 0, false
}

// Gradient returns weight layer w's gradient accumulators (canonical order) and their
// exponent. A layer whose gradient has segments of different scales (attention's
// projections) gives every value at the finest exponent, brought there exactly
// (saturating at int32), as the trainer reports it.
func (d *Device) Gradient(w int) ([]int32, int) {
	g := &d.grad[w]
	if g.grad == nil {
		return nil, 0
	}
	e := g.exp[0]
	for _, x := range g.exp {
		e = min(e, x)
	}
	out := make([]int32, len(g.grad))
	for k, v := range g.grad {
		out[k] = int32(numerics.Saturate(numerics.RoundShift(int64(v), e-g.exp[k]), 32))
	}
	return out, e
}

// Gavg returns each weight layer's controller statistic (zero where it did not run).
func (d *Device) Gavg() []float64 { return append([]float64(nil), d.gavg...) }

// Loss returns the step's summed loss over labelled positions and the positions whose
// largest logit was the label.
func (d *Device) Loss() (float64, int) { return d.lossSum, d.correct }
