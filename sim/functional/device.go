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

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/train/numerics"
)

// Device is the simulator's functional mode: a Hook that carries real bytes. DRAM and
// each SRAM buffer are byte images; as the engine issues an instruction the device
// performs it on them: DMA transfers copy bytes (b-bit weights stay packed, see
// numerics.PackBits), GEMM tiles multiply the integers their SRAM operands hold (forming
// im2col rows on the fly from the layer's geometry, as the array's operand feeders do),
// and vector instructions apply the integer semantics of train/numerics. Register
// state the instructions do not carry in memory (exponents, delayed scales, the
// learning rate, the rounding seed) comes from a numerics.IntState.
//
// Executing an instruction when it issues is faithful to the program: the engine issues
// it only after its producers completed, and a slot is overwritten only after its
// readers completed. Timing and energy do not depend on the device; a run with it
// gives the same Stats as one without.
//
// The device covers integer training (RCT) of the layer kinds the compiler lowers,
// except embedding lookups; programs must be compiled with Options.Functional.
type Device struct {
	net   *models.Network
	prog  *kernels.Program
	state *numerics.IntState
	dram  []byte
	sram  [][]byte

	weights []int            // per network layer: its index among weight layers, or -1
	tensors map[string]int32 // DRAM tensors by name

	// Registers of the running step.
	inputExp     int       // exponent of the input batch
	actExp       []int     // exponent of each layer's output
	errExp       []int     // exponent of the error of each layer's output
	actSet       []bool    //
	errSet       []bool    //
	fwdMax       []int64   // max |acc| of each layer's forward requantisation
	bwdMax       []int64   // max |acc| of each layer's backward-data requantisation
	fwdSeen      []bool    //
	bwdSeen      []bool    //
	fwdAcc       []int     // accumulator exponent of each forward requantisation
	bwdAcc       []int     // and of each backward-data one
	gradAbs      []uint64  // per weight layer: sum of |g| for the controller
	gradExp      []int     // per weight layer: exponent of the weight gradient
	newBits      []int     // per weight layer: width after this step's conversion
	gavg         []float64 // per weight layer: the controller's statistic
	lossSum      float64   //
	correct      int       //
	err          error     // the first failure; the rest of the run is skipped
	scratchValue []int32   // reused across instructions to avoid allocation
	// Captured for comparison with a host: every weight layer's gradient (canonical
	// order) and every layer's output error ([image][channel][row][column]).
	grads [][]int32
	errs  [][]int8
}

// MaxImageBytes bounds the memory images a Device allocates on the host (DRAM and the
// used part of each SRAM buffer): the device check runs small steps, and a program that
// needs more is refused with an error rather than exhausting the host's memory.
const MaxImageBytes = 4 << 30

// Check reports whether functional execution covers every layer of net:
// the layers of the MLP and LeNet-5 class (linear, ungrouped convolution, ReLU,
// pooling, flatten, residual add). The vector kernels of normalisation, attention,
// embeddings and shortcuts are timed but not executed on bytes yet.
func Check(net *models.Network) error {
	for i := range net.Layers {
		l := &net.Layers[i]
		if net.InputOf(i) != i-1 {
			return fmt.Errorf("functional execution does not cover branches (layer %s reads layer %d)", l.Name, net.InputOf(i))
		}
		switch l.Kind {
		case models.Linear, models.ReLU, models.MaxPool, models.AvgPool, models.Flatten, models.Add:
		case models.Conv2D:
			if l.Groups > 1 {
				return fmt.Errorf("functional execution does not cover grouped convolutions (layer %s)", l.Name)
			}
		default:
			return fmt.Errorf("functional execution does not cover %s layers (layer %s)", l.Kind, l.Name)
		}
	}
	return nil
}

// New prepares the memory images of prog (compiled with Options.Functional for
// net) and loads the integer training state st into them.
func New(net *models.Network, prog *kernels.Program, st *numerics.IntState) (*Device, error) {
	if prog.Method != numerics.RCT {
		return nil, fmt.Errorf("functional execution covers integer training (rct), not %s", prog.Method)
	}
	if err := Check(net); err != nil {
		return nil, err
	}
	if err := prog.Validate(); err != nil {
		return nil, err
	}
	d := &Device{net: net, prog: prog, state: st.Clone(), tensors: map[string]int32{}}
	var top uint64
	for i, t := range prog.Tensors {
		top = max(top, t.Addr+uint64(t.Bytes))
		d.tensors[t.Name] = int32(i)
	}
	// The images hold what the program touches: DRAM up to its last tensor, each SRAM
	// buffer up to the end of its furthest operand (a chip with a TiB of SRAM runs a
	// LeNet step in the few MB it uses), and no more than MaxImageBytes in all.
	used := make([]int64, len(prog.Buffers))
	for i := range prog.Instrs {
		in := &prog.Instrs[i]
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
	n := len(net.Layers)
	d.weights = make([]int, n)
	j := 0
	for i := range net.Layers {
		d.weights[i] = -1
		if net.Layers[i].HasWeights() {
			d.weights[i] = j
			j++
		}
	}
	if j != len(st.Layers) {
		return nil, fmt.Errorf("state has %d weight layers, %s has %d", len(st.Layers), net.Name, j)
	}
	if len(st.Fwd) != n || len(st.Bwd) != n {
		return nil, fmt.Errorf("state has scales for %d layers, %s has %d", len(st.Fwd), net.Name, n)
	}
	d.actExp, d.errExp = make([]int, n), make([]int, n)
	d.actSet, d.errSet = make([]bool, n), make([]bool, n)
	d.fwdMax, d.bwdMax = make([]int64, n), make([]int64, n)
	d.fwdSeen, d.bwdSeen = make([]bool, n), make([]bool, n)
	d.fwdAcc, d.bwdAcc = make([]int, n), make([]int, n)
	d.grads, d.errs = make([][]int32, j), make([][]int8, n)
	d.gradAbs, d.gradExp, d.newBits, d.gavg = make([]uint64, j), make([]int, j), make([]int, j), make([]float64, j)
	for i, l := range net.Layers {
		w := d.weights[i]
		if w < 0 {
			continue
		}
		L := st.Layers[w]
		d.newBits[w] = L.Bits
		if err := d.writeMatrix(l.Name+".w", L.W, L.Bits); err != nil {
			return nil, err
		}
		if l.Bias {
			if err := d.writeMatrix(l.Name+".b", L.B, L.Bits); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// writeMatrix packs a weight layer's integers into its DRAM tensor, rows padded to a
// byte as the compiler lays them out.
func (d *Device) writeMatrix(name string, vals []int32, bits int) error {
	return d.matrixRows(name, vals, bits, func(row []int32, packed []byte) { numerics.PackBits(row, bits, packed) })
}

// readMatrix unpacks a weight layer's DRAM tensor into vals (see writeMatrix).
func (d *Device) readMatrix(name string, vals []int32, bits int) error {
	return d.matrixRows(name, vals, bits, func(row []int32, packed []byte) { numerics.UnpackBits(packed, bits, 0, row) })
}

// matrixRows calls f for each row of the weight tensor name: the row's slice of vals
// and the DRAM bytes from the row's start (rows of bits-bit values padded to a byte).
func (d *Device) matrixRows(name string, vals []int32, bits int, f func(row []int32, packed []byte)) error {
	t, rows, cols, err := d.matrix(name, len(vals))
	if err != nil {
		return err
	}
	pitch := (cols*bits + 7) / 8
	base := d.prog.Tensors[t].Addr
	for r := range rows {
		f(vals[r*cols:(r+1)*cols], d.dram[base+uint64(r*pitch):])
	}
	return nil
}

// matrix finds a weight tensor and its shape (rows = output channels).
func (d *Device) matrix(name string, n int) (t int32, rows, cols int, err error) {
	t, ok := d.tensors[name]
	if !ok {
		return 0, 0, 0, fmt.Errorf("program has no tensor %s", name)
	}
	layer := d.net.Layers[d.prog.Tensors[t].Layer]
	rows = layer.Out.C
	if name == layer.Name+".b" {
		rows = 1
	}
	if rows == 0 || n%rows != 0 {
		return 0, 0, 0, fmt.Errorf("tensor %s: %d values do not form %d rows", name, n, rows)
	}
	return t, rows, n / rows, nil
}

// LoadBatch writes a step's input (int8 in [example][channel][row][column] order, with
// scale 2^exp) and labels into DRAM.
func (d *Device) LoadBatch(x []int8, exp int, labels []int32) error {
	in := d.prog.Tensors[d.tensors["input"]]
	if int64(len(x)) != in.Bytes {
		return fmt.Errorf("input batch has %d values, the program's input holds %d", len(x), in.Bytes)
	}
	for i, v := range x {
		d.dram[in.Addr+uint64(i)] = byte(v)
	}
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
	if err := d.exec(e.Instr); err != nil {
		d.err = fmt.Errorf("instruction %d (%s, layer %d, %s): %w", e.Index, e.Instr.Op, e.Instr.Layer, e.Instr.Phase, err)
	}
}

// OnComplete implements Hook.
func (d *Device) OnComplete(sim.Event) {}

// Err is the first failure of the run, if any.
func (d *Device) Err() error { return d.err }

func (d *Device) exec(in *kernels.Instr) error {
	switch in.Op {
	case kernels.OpLoad, kernels.OpStore:
		return d.dma(in)
	}
	if in.Fn == nil && !(in.Op == kernels.OpVector && in.VOp == kernels.VControl) {
		return errors.New("no functional descriptor: compile with Options.Functional")
	}
	if in.Op == kernels.OpGEMM {
		return d.gemm(in)
	}
	return d.vector(in)
}

func (d *Device) dma(in *kernels.Instr) error {
	if in.Gather {
		return errors.New("gathers (embedding lookups) are not executed functionally")
	}
	s := d.sram[in.A.Buffer][in.A.Offset:in.A.End()]
	for r := int64(0); r < in.Rows; r++ {
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

// geom is a GEMM layer seen as a convolution (a linear layer: a 1x1 image of In.Elems
// channels), with the device's padding rule: causal convolutions pad only on the left.
type geom struct {
	cin, h, w, cout, ho, wo, kh, kw, s, padT, padL int64
}

func layerGeom(l *models.Layer) geom {
	if l.Kind == models.Linear {
		return geom{cin: l.In.Elems(), h: 1, w: 1, cout: int64(l.Out.C), ho: 1, wo: 1, kh: 1, kw: 1, s: 1}
	}
	g := geom{cin: int64(l.In.C), h: int64(l.In.H), w: int64(l.In.W), cout: int64(l.Out.C), ho: int64(l.Out.H), wo: int64(l.Out.W),
		kh: int64(l.KernelH), kw: int64(l.KernelW), s: int64(max(l.Stride, 1)), padT: int64(l.Padding), padL: int64(l.Padding)}
	if l.Causal {
		g.padT, g.padL = 0, g.kw-1
	}
	return g
}

// actAt reads an int8 element of an activation box held in slot s at (n, c, h, w); w
// spans the tensor's full width wFull.
func actAt(s []byte, b kernels.Box, wFull, n, c, h, w int64) int64 {
	i := (((n-b.N0)*(b.C1-b.C0)+(c-b.C0))*(b.H1-b.H0)+(h-b.H0))*wFull + w
	return int64(int8(s[i]))
}

func setAct(s []byte, b kernels.Box, wFull, n, c, h, w int64, v int8) {
	i := (((n-b.N0)*(b.C1-b.C0)+(c-b.C0))*(b.H1-b.H0)+(h-b.H0))*wFull + w
	s[i] = byte(v)
}

// matRows unpacks the rows of a matrix box held in slot s (bits wide) into vals, row
// by row (cols = C1-C0 values per row).
func matRows(s []byte, b kernels.Box, bits int, vals []int32) {
	first := b.C0 * int64(bits) / 8
	rowBytes := (b.C1*int64(bits)+7)/8 - first
	off := int(b.C0*int64(bits) - 8*first)
	cols := b.C1 - b.C0
	for r := int64(0); r < b.N1-b.N0; r++ {
		numerics.UnpackBits(s[r*rowBytes:], bits, off, vals[r*cols:(r+1)*cols])
	}
}

func packRows(s []byte, b kernels.Box, bits int, vals []int32) {
	first := b.C0 * int64(bits) / 8
	rowBytes := (b.C1*int64(bits)+7)/8 - first
	off := int(b.C0*int64(bits) - 8*first)
	cols := b.C1 - b.C0
	for r := int64(0); r < b.N1-b.N0; r++ {
		numerics.PackBitsAt(vals[r*cols:(r+1)*cols], bits, s[r*rowBytes:], off)
	}
}

func (d *Device) slot(o kernels.Operand) []byte { return d.sram[o.Buffer][o.Offset:o.End()] }

func (d *Device) ints(n int64) []int32 {
	if int64(cap(d.scratchValue)) < n {
		d.scratchValue = make([]int32, n)
	}
	return d.scratchValue[:n]
}

func readAcc(s []byte, i int64) int32 { return int32(binary.LittleEndian.Uint32(s[4*i:])) }
func writeAcc(s []byte, i int64, v int32) {
	binary.LittleEndian.PutUint32(s[4*i:], uint32(v))
}

// spatial decodes a flattened output-position index into (image, row, column).
func spatial(idx, h, w int64) (n, r, c int64) { return idx / (h * w), idx % (h * w) / w, idx % w }

func (d *Device) gemm(in *kernels.Instr) error {
	if in.Format != kernels.FormatInt {
		return errors.New("float GEMMs are not executed functionally")
	}
	l := &d.net.Layers[in.Layer]
	g := layerGeom(l)
	f := in.Fn
	w := d.weights[in.Layer]
	bits := d.state.Layers[w].Bits
	a, b, c := d.slot(in.A), d.slot(in.B), d.slot(in.C)
	khkw := g.kh * g.kw
	M, N, K := in.M, in.N, in.K
	// Operand B unpacked once: weights are a matrix box; errors an activation box.
	var bw []int32
	if in.Phase != models.BackwardWeight {
		bw = d.ints((f.B.N1 - f.B.N0) * (f.B.C1 - f.B.C0))
		matRows(b, f.B, bits, bw)
	}
	bcols := f.B.C1 - f.B.C0
	for mi := range M {
		for ni := range N {
			var sum int64
			switch in.Phase {
			case models.Forward:
				img, oh, ow := spatial(f.M.Lo+mi, g.ho, g.wo)
				co := f.N.Lo + ni
				for ki := range K {
					kk := f.K.Lo + ki
					ci, r := kk/khkw, kk%khkw
					ih, iw := oh*g.s-g.padT+r/g.kw, ow*g.s-g.padL+r%g.kw
					if ih < 0 || ih >= g.h || iw < 0 || iw >= g.w {
						continue
					}
					x := actAt(a, f.A, g.w, img, ci, ih, iw)
					sum += x * int64(bw[(co-f.B.N0)*bcols+kk-f.B.C0])
				}
			case models.BackwardData:
				img, ih, iw := spatial(f.M.Lo+mi, g.h, g.w)
				ci := f.N.Lo + ni
				if f.A.Empty() {
					break
				}
				for ki := range K {
					kk := f.K.Lo + ki
					co, r := kk/khkw, kk%khkw
					th, tw := ih+g.padT-r/g.kw, iw+g.padL-r%g.kw
					if th < 0 || tw < 0 || th%g.s != 0 || tw%g.s != 0 {
						continue
					}
					oh, ow := th/g.s, tw/g.s
					if oh >= g.ho || ow >= g.wo {
						continue
					}
					e := actAt(a, f.A, g.wo, img, co, oh, ow)
					sum += e * int64(bw[(co-f.B.N0)*bcols+ci*khkw+r-f.B.C0])
				}
			default: // backward-weight: A = input, B = output error
				kk := f.M.Lo + mi
				ci, r := kk/khkw, kk%khkw
				co := f.N.Lo + ni
				for ki := range K {
					img, oh, ow := spatial(f.K.Lo+ki, g.ho, g.wo)
					ih, iw := oh*g.s-g.padT+r/g.kw, ow*g.s-g.padL+r%g.kw
					if ih < 0 || ih >= g.h || iw < 0 || iw >= g.w {
						continue
					}
					x := actAt(a, f.A, g.w, img, ci, ih, iw)
					e := actAt(b, f.B, g.wo, img, co, oh, ow)
					sum += x * e
				}
			}
			if in.Accumulate {
				sum += int64(readAcc(c, mi*N+ni))
			}
			writeAcc(c, mi*N+ni, int32(numerics.Saturate(sum, 32)))
		}
	}
	return nil
}

// inExp is the exponent of layer i's input.
func (d *Device) inExp(i int) (int, error) {
	for j := i - 1; j >= 0; j-- {
		if d.actSet[j] {
			return d.actExp[j], nil
		}
		k := d.net.Layers[j].Kind
		if k != models.Flatten && !(k == models.ReLU && j > 0 && d.weights[j-1] >= 0) {
			return 0, fmt.Errorf("the output exponent of layer %d is not known yet", j)
		}
	}
	return d.inputExp, nil
}

// outErrExp is the exponent of the error of layer i's output.
func (d *Device) outErrExp(i int) (int, error) {
	for j := i; j < len(d.net.Layers); j++ {
		if d.errSet[j] {
			return d.errExp[j], nil
		}
		if j+1 >= len(d.net.Layers) || d.net.Layers[j+1].Kind != models.Flatten {
			break
		}
	}
	return 0, fmt.Errorf("the error exponent of layer %d's output is not known yet", i)
}

// fusedReLU reports whether layer i+1 is a ReLU folded into layer i's requantisation.
func (d *Device) fusedReLU(i int) bool {
	return i+1 < len(d.net.Layers) && d.net.Layers[i+1].Kind == models.ReLU && d.weights[i] >= 0
}

func (d *Device) vector(in *kernels.Instr) error {
	i := int(in.Layer)
	switch in.VOp {
	case kernels.VRequant:
		return d.requant(in, i)
	case kernels.VReLU:
		return d.relu(in, i)
	case kernels.VMaxPool:
		return d.maxPool(in, i)
	case kernels.VMaxPoolBackward:
		return d.maxPoolBackward(in, i)
	case kernels.VReLUBackward:
		return d.reluBackward(in, i)
	case kernels.VSoftmaxXent:
		return d.loss(in, i)
	case kernels.VBiasGrad:
		return d.biasGrad(in)
	case kernels.VGradStat:
		w := d.weights[i]
		c := d.slot(in.A)
		for j := range in.Elems {
			g := int64(readAcc(c, j))
			d.gradAbs[w] += uint64(max(g, -g))
		}
		return nil
	case kernels.VControl:
		w := d.weights[i]
		L := d.state.Layers[w]
		sh := numerics.UpdateShift(d.state.LR, d.gradExp[w], L.WExp)
		d.gavg[w] = numerics.Gavg(d.gradAbs[w], len(L.W), d.state.LR.Mant, sh)
		return nil
	case kernels.VUpdate:
		return d.update(in, i)
	case kernels.VConvert:
		return d.convert(in, i)
	}
	return fmt.Errorf("vector op %s is not executed functionally", in.VOp)
}

// captureGrad records gradient element idx of weight layer w.
func (d *Device) captureGrad(w int, idx int64, g int32, exp int) {
	if d.grads[w] == nil {
		d.grads[w] = make([]int32, len(d.state.Layers[w].W))
	}
	d.grads[w][idx] = g
	d.gradExp[w] = exp
}

// captureErr copies an error box just written (the box of layer i's output error in
// slot s) into the layer's full error record.
func (d *Device) captureErr(i int, s []byte, b kernels.Box, width int64) {
	l := &d.net.Layers[i]
	c, h := int64(l.Out.C), int64(l.Out.H)
	if width != int64(l.Out.W) {
		// A flattened view: the error of a vector layer; index it as C x 1 x 1.
		c, h = l.Out.Elems(), 1
	}
	if d.errs[i] == nil {
		d.errs[i] = make([]int8, int64(d.prog.Batch)*c*h*width)
	}
	for n := b.N0; n < b.N1; n++ {
		for ch := b.C0; ch < b.C1; ch++ {
			for r := b.H0; r < b.H1; r++ {
				for x := range width {
					d.errs[i][((n*c+ch)*h+r)*width+x] = int8(actAt(s, b, width, n, ch, r, x))
				}
			}
		}
	}
}

// Finish ends the step: the delayed scales take this step's maxima, conversions change
// the layers' steps, and the weights are read back from DRAM. It returns the state
// the next step starts from.
func (d *Device) Finish() (*numerics.IntState, error) {
	if d.err != nil {
		return nil, d.err
	}
	st := d.state
	for i := range d.net.Layers {
		if d.fwdSeen[i] {
			st.Fwd[i] = numerics.ScaleReg{Exp: d.fwdAcc[i] + numerics.ShiftFor(d.fwdMax[i], 8), Set: true}
		}
		if d.bwdSeen[i] {
			st.Bwd[i] = numerics.ScaleReg{Exp: d.bwdAcc[i] + numerics.ShiftFor(d.bwdMax[i], 8), Set: true}
		}
	}
	for i, l := range d.net.Layers {
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
		if err := d.readMatrix(l.Name+".w", L.W, L.Bits); err != nil {
			return nil, err
		}
		if l.Bias {
			if err := d.readMatrix(l.Name+".b", L.B, L.Bits); err != nil {
				return nil, err
			}
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
	vals = make([]int8, ts.Bytes)
	for j := range vals {
		vals[j] = int8(d.dram[ts.Addr+uint64(j)])
	}
	return vals, d.actExp[i], true
}

// OutputError returns the error of layer i's output as the step computed it, in
// [image][channel][row][column] order, and its exponent.
func (d *Device) OutputError(i int) (vals []int8, exp int, ok bool) {
	if d.errs[i] == nil || !d.errSet[i] {
		return nil, 0, false
	}
	return d.errs[i], d.errExp[i], true
}

// Gradient returns weight layer w's gradient accumulators (canonical order) and their
// exponent.
func (d *Device) Gradient(w int) ([]int32, int) { return d.grads[w], d.gradExp[w] }

// Gavg returns each weight layer's controller statistic (zero where it did not run).
func (d *Device) Gavg() []float64 { return append([]float64(nil), d.gavg...) }

// Loss returns the step's summed loss over labelled positions and the positions whose
// largest logit was the label.
func (d *Device) Loss() (float64, int) { return d.lossSum, d.correct }
