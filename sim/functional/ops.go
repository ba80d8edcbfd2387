package functional

import (
	"errors"
	"fmt"
	"math"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// Exponents. Every stored tensor's exponent is a register set by the instruction that
// requantises it; a layer that stores nothing of its own (flatten, a fused ReLU) has
// its input's, and an error that passes a layer unchanged keeps its exponent.

// fusedReLU reports whether layer i+1 is a ReLU the compiler folded into layer i's
// requantisation.
func (d *Device) fusedReLU(i int) bool {
	if i+1 >= len(d.net.Layers) || d.net.Layers[i+1].Kind != models.ReLU {
		return false
	}
	switch d.net.Layers[i].Kind {
	case models.Linear, models.Conv2D, models.Embedding, models.BatchNorm, models.LayerNorm:
		return true
	}
	return false
}

// inExp is the exponent of layer i's input.
func (d *Device) inExp(i int) (int, error) {
	for j := i - 1; j >= 0; j-- {
		if d.actSet[j] {
			return d.actExp[j], nil
		}
		if k := d.net.Layers[j].Kind; k != models.Flatten && !(k == models.ReLU && d.fusedReLU(j-1)) {
			return 0, fmt.Errorf("the output exponent of layer %s is not known yet", d.net.Layers[j].Name)
		}
	}
	return d.inputExp, nil
}

// passesError reports whether layer i's backward pass hands the error of its output to
// its input unchanged (its input's error is the same tensor).
func (d *Device) passesError(i int) bool {
	switch d.net.Layers[i].Kind {
	case models.Flatten, models.Add, models.ShortcutAdd, models.PosEmbedding:
		return true
	}
	return false
}

// outErrExp is the exponent of the error of layer i's output.
func (d *Device) outErrExp(i int) (int, error) {
	for j := i; j < len(d.net.Layers); j++ {
		if d.errSet[j] {
			return d.errExp[j], nil
		}
		if j+1 >= len(d.net.Layers) || !d.passesError(j+1) {
			break
		}
	}
	return 0, fmt.Errorf("the error exponent of layer %s's output is not known yet", d.net.Layers[i].Name)
}

// setErr records the error of layer i's output written into slot s (box b, rows w
// wide) and its exponent.
func (d *Device) setErr(i int, exp int, s []byte, b kernels.Box, w int64) {
	d.errExp[i], d.errSet[i] = exp, true
	d.captureErr(i, s, b, w)
}

// captureErr copies an error box just written (the box of layer i's output error in
// slot s) into the layer's full error record.
func (d *Device) captureErr(i int, s []byte, b kernels.Box, width int64) {
	l := &d.net.Layers[i]
	c, h := int64(l.Out.C), int64(l.Out.H)
	if width != int64(l.Out.W) || b.C1 > c || b.H1 > h {
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

// errScaleUnset is requantize's error for a tensor whose delayed scale is not set.
var errScaleUnset = errors.New("the tensor's delayed scale is not set: start the device from a state after the first (calibration) step")

// requantize turns accumulators with exponent accExp into int8 with the delayed scale
// reg (numerics.Requant), tracking this step's maximum in t; it returns the output's
// exponent.
func requantize(acc []int32, accExp int, reg numerics.ScaleReg, t *scaleTrack, relu bool, out []int8) (int, error) {
	if !reg.Set {
		return 0, errScaleUnset
	}
	m, _ := numerics.Requant(acc, reg.Exp-accExp, relu, out)
	t.add(int64(m), accExp)
	return reg.Exp, nil
}

// requantize64 is requantize for int64 accumulators (numerics.Requant64).
func requantize64(acc []int64, accExp int, reg numerics.ScaleReg, t *scaleTrack, relu bool, out []int8) (int, error) {
	if !reg.Set {
		return 0, errScaleUnset
	}
	m, _ := numerics.Requant64(acc, reg.Exp-accExp, relu, out)
	t.add(m, accExp)
	return reg.Exp, nil
}

// requant runs a GEMM epilogue: the bias (forward), the requantisation with the
// tensor's delayed scale, a fused ReLU, and the scatter of the M x N accumulator tile
// into the output's box.
func (d *Device) requant(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	w := d.weights[i]
	if w < 0 {
		return errors.New("requantisation of a layer without weights")
	}
	L := &d.state.Layers[w]
	M, N := f.M.Hi-f.M.Lo, f.N.Hi-f.N.Lo
	acc, err := d.accs(in.A, M*N, "the accumulator tile")
	if err != nil {
		return err
	}
	out := make([]int8, M*N)
	dst := d.slot(in.C)
	regs := &d.regs[i]
	switch f.Role {
	case kernels.RoleContext, kernels.RoleDV, kernels.RoleDQ, kernels.RoleDK:
		return d.headRequant(in, acc, out)
	}
	g := layerGeom(l, f.Role)
	// The scatter: forward tiles cover output positions, backward-data tiles input
	// positions; columns are channels of the output box.
	h, wd := g.ho, g.wo
	if in.Phase == models.BackwardData {
		h, wd = g.h, g.w
	}
	if err := checkBox(in.C, f.C, wd, "the output tile"); err != nil {
		return err
	}
	if f.C.C1-f.C.C0 != N {
		return fmt.Errorf("output box %v for %d columns", f.C, N)
	}
	scatter := func() {
		for mi := range M {
			img, r, c := spatial(f.M.Lo+mi, h, wd)
			for ni := range N {
				setAct(dst, f.C, wd, img, f.C.C0+ni, r, c, out[mi*N+ni])
			}
		}
	}
	var accExp int
	switch in.Phase {
	case models.Forward:
		x, err := d.inExp(i)
		if err != nil {
			return err
		}
		if f.Role == kernels.RoleOut {
			x = regs.o
		}
		accExp = x + L.WExp
		if in.B.Bytes > 0 {
			bias, err := d.readMat(in.B, f.B, L.Bits, "the bias")
			if err != nil {
				return err
			}
			if int64(len(bias)) != g.cout || f.C.C1 > g.cout {
				return fmt.Errorf("a bias of %d values for %d outputs", len(bias), g.cout)
			}
			numerics.AddBias(acc, int(N), bias[f.C.C0:f.C.C1], accExp-L.BExp)
		}
		if f.Role == kernels.RoleQKV {
			// Q, K and V each have their own scale: requantise the tile's columns of each.
			return d.qkvRequant(in, acc, accExp, scatter, out)
		}
		e, err := requantize(acc, accExp, d.state.Fwd[i], &d.fwd[i], d.fusedReLU(i), out)
		if err != nil {
			return err
		}
		scatter()
		d.actExp[i], d.actSet[i] = e, true
	case models.BackwardData:
		var e int
		if f.Role == kernels.RoleQKV {
			e = regs.dqkv
		} else if e, err = d.outErrExp(i); err != nil {
			return err
		}
		accExp = e + L.WExp
		if f.Role == kernels.RoleOut {
			// The context's error, inside the layer.
			if regs.do, err = requantize(acc, accExp, d.state.Inner[i][numerics.AttnScaleDO], &d.inner[i][numerics.AttnScaleDO], false, out); err != nil {
				return err
			}
			scatter()
			return nil
		}
		e, err := requantize(acc, accExp, d.state.Bwd[i], &d.bwd[i], false, out)
		if err != nil {
			return err
		}
		scatter()
		d.setErr(i-1, e, dst, f.C, wd)
	default:
		return fmt.Errorf("requantisation in phase %s", in.Phase)
	}
	return nil
}

// qkvRequant requantises a tile of attention's [Q K V] projection: columns [0, D) with
// Q's scale, [D, 2D) with K's, [2D, 3D) with V's.
func (d *Device) qkvRequant(in *kernels.Instr, acc []int32, accExp int, scatter func(), out []int8) error {
	i := int(in.Layer)
	f := in.Fn
	dim := int64(d.net.Layers[i].In.C)
	M, N := f.M.Hi-f.M.Lo, f.N.Hi-f.N.Lo
	for m := range int64(3) {
		lo, hi := max(f.C.C0, m*dim), min(f.C.C1, (m+1)*dim)
		if lo >= hi {
			continue
		}
		cols := hi - lo
		part := make([]int32, M*cols)
		for mi := range M {
			copy(part[mi*cols:(mi+1)*cols], acc[mi*N+lo-f.C.C0:mi*N+hi-f.C.C0])
		}
		o := make([]int8, len(part))
		e, err := requantize(part, accExp, d.state.Inner[i][numerics.AttnScaleQ+m], &d.inner[i][numerics.AttnScaleQ+m], false, o)
		if err != nil {
			return err
		}
		d.regs[i].qkv[m] = e
		for mi := range M {
			copy(out[mi*N+lo-f.C.C0:mi*N+hi-f.C.C0], o[mi*cols:(mi+1)*cols])
		}
	}
	scatter()
	return nil
}

// headRequant finishes one of attention's per-head products into Q, K, V's layout
// ({channels, T, 1}): the context with its scale; dV, dQ and dK into [dQ dK dV], each
// block first brought exactly to the finest of the three blocks' exponents, then
// requantised with the one scale of [dQ dK dV].
func (d *Device) headRequant(in *kernels.Instr, acc []int32, out []int8) error {
	i := int(in.Layer)
	f := in.Fn
	r := &d.regs[i]
	M, N := f.M.Hi-f.M.Lo, f.N.Hi-f.N.Lo
	if f.C.N1-f.C.N0 != 1 || f.C.H1-f.C.H0 != M || f.C.C1-f.C.C0 != N {
		return fmt.Errorf("output box %v for a %dx%d tile of one example", f.C, M, N)
	}
	if err := checkBox(in.C, f.C, 1, "the output tile"); err != nil {
		return err
	}
	if f.Role == kernels.RoleContext {
		e, err := requantize(acc, numerics.ProbExp+r.qkv[2], d.state.Inner[i][numerics.AttnScaleO], &d.inner[i][numerics.AttnScaleO], false, out)
		if err != nil {
			return err
		}
		r.o = e
	} else {
		blocks := [3]int{r.ds + r.qkv[1], r.ds + r.qkv[0], numerics.ProbExp + r.do} // dQ, dK, dV
		e := min(blocks[0], blocks[1], blocks[2])
		var b int
		switch f.Role {
		case kernels.RoleDQ:
			b = blocks[0]
		case kernels.RoleDK:
			b = blocks[1]
		default:
			b = blocks[2]
		}
		acc64 := make([]int64, len(acc))
		for j, v := range acc {
			acc64[j] = numerics.RoundShift(int64(v), e-b)
		}
		reg := numerics.AttnScaleDQKV
		var err error
		if r.dqkv, err = requantize64(acc64, e, d.state.Inner[i][reg], &d.inner[i][reg], false, out); err != nil {
			return err
		}
	}
	dst := d.slot(in.C)
	for mi := range M {
		for ni := range N {
			dst[ni*M+mi] = byte(out[mi*N+ni])
		}
	}
	return nil
}

func log2(n int64) int {
	e := 0
	for int64(1)<<e < n {
		e++
	}
	return e
}

func (d *Device) relu(in *kernels.Instr) error {
	i := int(in.Layer)
	if in.A.Bytes != in.C.Bytes {
		return fmt.Errorf("ReLU of %d bytes into %d", in.A.Bytes, in.C.Bytes)
	}
	a, c := d.slot(in.A), d.slot(in.C)
	for j := range in.A.Bytes {
		c[j] = byte(max(int8(a[j]), 0))
	}
	e, err := d.inExp(i)
	d.actExp[i], d.actSet[i] = e, true
	return err
}

func (d *Device) reluBackward(in *kernels.Instr) error {
	i := int(in.Layer)
	if in.A.Bytes != in.B.Bytes || in.A.Bytes != in.C.Bytes {
		return fmt.Errorf("ReLU backward of %d and %d bytes into %d", in.A.Bytes, in.B.Bytes, in.C.Bytes)
	}
	dy, act, dx := d.slot(in.A), d.slot(in.B), d.slot(in.C)
	for j := range in.A.Bytes {
		if int8(act[j]) > 0 {
			dx[j] = dy[j]
		} else {
			dx[j] = 0
		}
	}
	e, err := d.outErrExp(i)
	if err != nil {
		return err
	}
	d.setErr(i-1, e, dx, in.Fn.C, boxWidth(in.C, in.Fn.C))
	return nil
}

// boxWidth is the full width of the tensor a stream operand's box belongs to.
func boxWidth(o kernels.Operand, b kernels.Box) int64 {
	per := (b.N1 - b.N0) * (b.C1 - b.C0) * (b.H1 - b.H0)
	if per == 0 {
		return 0
	}
	return o.Bytes / per
}

// eachPoolOutput calls f for every output position (oh, ow) of a pooling chunk, ho
// rows of wo, of each example n and channel ch of box b.
func eachPoolOutput(b kernels.Box, ho, wo int64, f func(n, ch, oh, ow int64)) {
	for n := b.N0; n < b.N1; n++ {
		for ch := b.C0; ch < b.C1; ch++ {
			for oh := range ho {
				for ow := range wo {
					f(n, ch, oh, ow)
				}
			}
		}
	}
}

// poolGeom checks a pooling chunk: input box A and output box C over whole images'
// channels.
func poolBoxes(in *kernels.Instr, l *models.Layer) error {
	f := in.Fn
	if f.A.H0 != 0 || f.A.H1 != int64(l.In.H) || f.C.H0 != 0 || f.C.H1 != int64(l.Out.H) {
		return fmt.Errorf("pooling chunk boxes %v and %v do not hold whole images", f.A, f.C)
	}
	return nil
}

func (d *Device) maxPool(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	if err := poolBoxes(in, l); err != nil {
		return err
	}
	a, c := d.slot(in.A), d.slot(in.C)
	wi, wo := int64(l.In.W), int64(l.Out.W)
	s := int64(max(l.Stride, 1))
	eachPoolOutput(f.A, int64(l.Out.H), wo, func(n, ch, oh, ow int64) {
		var best int64
		for ki := range int64(l.KernelH) {
			for kj := range int64(l.KernelW) {
				v := actAt(a, f.A, wi, n, ch, oh*s+ki, ow*s+kj)
				// Ties keep the first tap in row-major window order.
				if (ki == 0 && kj == 0) || v > best {
					best = v
				}
			}
		}
		setAct(c, f.C, wo, n, ch, oh, ow, int8(best))
	})
	e, err := d.inExp(i)
	d.actExp[i], d.actSet[i] = e, true
	return err
}

// maxPoolBackward routes each output error to the first maximum of its window,
// recomputed from the saved input (the forward pass keeps no argmax).
func (d *Device) maxPoolBackward(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	dy, x, dx := d.slot(in.A), d.slot(in.B), d.slot(in.C)
	wi, wo := int64(l.In.W), int64(l.Out.W)
	s := int64(l.Stride)
	clear(dx[:in.C.Bytes])
	eachPoolOutput(f.A, int64(l.Out.H), wo, func(n, ch, oh, ow int64) {
		bh, bw := oh*s, ow*s
		best := actAt(x, f.B, wi, n, ch, bh, bw)
		for ki := range int64(l.KernelH) {
			for kj := range int64(l.KernelW) {
				if v := actAt(x, f.B, wi, n, ch, oh*s+ki, ow*s+kj); v > best {
					best, bh, bw = v, oh*s+ki, ow*s+kj
				}
			}
		}
		// Windows do not overlap: each input gets at most one error, exactly.
		setAct(dx, f.C, wi, n, ch, bh, bw, int8(actAt(dy, f.A, wo, n, ch, oh, ow)))
	})
	e, err := d.outErrExp(i)
	if err != nil {
		return err
	}
	d.setErr(i-1, e, dx, f.C, wi)
	return nil
}

// avgPool sums each window into int32 (the scale divided by the power-of-two window)
// and requantises with the output's delayed scale.
func (d *Device) avgPool(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	if err := poolBoxes(in, l); err != nil {
		return err
	}
	window := int64(l.KernelH * l.KernelW)
	if window&(window-1) != 0 {
		return fmt.Errorf("a window of %d values is not a power of two", window)
	}
	a, c := d.slot(in.A), d.slot(in.C)
	wi, ho, wo := int64(l.In.W), int64(l.Out.H), int64(l.Out.W)
	s := int64(max(l.Stride, 1))
	acc := make([]int32, in.C.Bytes)
	eachPoolOutput(f.A, ho, wo, func(n, ch, oh, ow int64) {
		var sum int64
		for ki := range int64(l.KernelH) {
			for kj := range int64(l.KernelW) {
				sum += actAt(a, f.A, wi, n, ch, oh*s+ki, ow*s+kj)
			}
		}
		acc[actIndex(f.C, wo, n, ch, oh, ow)] = int32(sum)
	})
	x, err := d.inExp(i)
	if err != nil {
		return err
	}
	out := make([]int8, len(acc))
	e, err := requantize(acc, x-log2(window), d.state.Fwd[i], &d.fwd[i], d.fusedReLU(i), out)
	if err != nil {
		return err
	}
	putInt8s(c, out)
	d.actExp[i], d.actSet[i] = e, true
	return nil
}

// avgPoolBackward hands every input position the error of each window holding it,
// with the scale divided by the window: exact when windows do not overlap, else
// summed and requantised with the delayed scale of the input's error.
func (d *Device) avgPoolBackward(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	dy, dx := d.slot(in.A), d.slot(in.C)
	wi, ho, wo := int64(l.In.W), int64(l.Out.H), int64(l.Out.W)
	s := int64(max(l.Stride, 1))
	window := int64(l.KernelH * l.KernelW)
	acc := make([]int32, in.C.Bytes)
	eachPoolOutput(f.A, ho, wo, func(n, ch, oh, ow int64) {
		e := int32(actAt(dy, f.A, wo, n, ch, oh, ow))
		for ki := range int64(l.KernelH) {
			for kj := range int64(l.KernelW) {
				acc[actIndex(f.C, wi, n, ch, oh*s+ki, ow*s+kj)] += e
			}
		}
	})
	ee, err := d.outErrExp(i)
	if err != nil {
		return err
	}
	e := ee - log2(window)
	if s < int64(l.KernelH) || s < int64(l.KernelW) {
		out := make([]int8, len(acc))
		if e, err = requantize(acc, e, d.state.Bwd[i], &d.bwd[i], false, out); err != nil {
			return err
		}
		putInt8s(dx, out)
	} else {
		convert(dx, acc)
	}
	d.setErr(i-1, e, dx, f.C, wi)
	return nil
}

// loss runs numerics.SoftmaxXentRound on the logits of every labelled position (rows
// of classes, gathered from the channel-major layout) and scatters the error back.
//
// A batch too large to hold at once is two passes of chunks: the first stores nothing
// and finds the largest error, whose exponent quantises every error in the second.
// Each row's loss and error are then numerics.SoftmaxXentRound's of that row, the
// summed loss is added row by row in the batch's order, and the errors are quantised
// as SoftmaxXentRound quantises them, with the batch's exponent and the random bits of
// their place in the batch.
func (d *Device) loss(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	classes, positions := int64(l.Out.C), int64(l.Out.H*l.Out.W)
	imgs := f.A.N1 - f.A.N0
	rows := imgs * positions
	all := int64(d.prog.Batch) * positions
	logits := make([]int8, rows*classes)
	labels := make([]int32, rows)
	a, lab := d.slot(in.A), d.slot(in.B)
	store := in.C.Bytes > 0
	if in.A.Bytes != rows*classes || (store && in.C.Bytes != rows*classes) {
		return fmt.Errorf("logits of %d bytes and errors of %d for %d positions of %d classes", in.A.Bytes, in.C.Bytes, rows, classes)
	}
	labelBytes := in.B.Bytes / rows
	for n := range imgs {
		for p := range positions {
			r := n*positions + p
			for cl := range classes {
				logits[r*classes+cl] = int8(a[(n*classes+cl)*positions+p])
			}
			if labelBytes == 1 {
				labels[r] = int32(lab[r])
			} else {
				labels[r] = readAcc(lab, r)
			}
			if labels[r] < 0 || int64(labels[r]) >= classes {
				return fmt.Errorf("label %d outside %d classes", labels[r], classes)
			}
		}
	}
	exp, err := d.inExp(i + 1)
	if err != nil {
		return err
	}
	errs := make([]int8, len(logits))
	prob := make([]float64, len(logits))
	st := d.state
	key := numerics.RandKey(st.Seed, numerics.LossStream(st.Step))
	scatter := func() {
		c := d.slot(in.C)
		for n := range imgs {
			for p := range positions {
				for cl := range classes {
					c[(n*classes+cl)*positions+p] = byte(errs[(n*positions+p)*classes+cl])
				}
			}
		}
	}
	if rows == all && store {
		e, loss, correct := numerics.SoftmaxXentRound(logits, exp, int(classes), labels, int(rows), st.LossRounding, key, 0, prob, errs)
		scatter()
		d.lossSum, d.correct = loss, correct
		d.setErr(i, e, d.slot(in.C), f.C, positions)
		return nil
	}
	// A chunk of several: row by row.
	first := f.A.N0 * positions * classes // the chunk's first error in the batch
	var maxErr float64
	row := make([]int8, classes)
	for r := range rows {
		_, loss, correct := numerics.SoftmaxXentRound(logits[r*classes:(r+1)*classes], exp, int(classes), labels[r:r+1], int(all),
			st.LossRounding, key, 0, prob[r*classes:(r+1)*classes], row)
		for _, g := range prob[r*classes : (r+1)*classes] {
			maxErr = max(maxErr, math.Abs(g))
		}
		if store {
			d.lossSum += loss
			d.correct += correct
		}
	}
	regs := &d.regs[i]
	if !store {
		regs.lossMax = max(regs.lossMax, maxErr)
		regs.lossCount += rows
		return nil
	}
	if regs.lossCount != all {
		return fmt.Errorf("errors of %d of the batch's %d positions, but the first pass saw %d", rows, all, regs.lossCount)
	}
	e := numerics.QuantExp(regs.lossMax, 8)
	for j, g := range prob {
		v := math.Ldexp(g, -e)
		if st.LossRounding == numerics.RoundStochastic {
			v = math.Floor(v + float64(numerics.RandAt(key, uint64(first)+uint64(j))>>11)*0x1p-53)
		} else {
			v = math.Round(v)
		}
		errs[j] = int8(v)
	}
	scatter()
	d.setErr(i, e, d.slot(in.C), f.C, positions)
	return nil
}

// copySkip keeps the error of a residual's output for the merge at the layer it adds
// (a shortcut's: the channels its skip operand occupies); the error itself passes to
// the residual's input unchanged.
func (d *Device) copySkip(in *kernels.Instr) error {
	if in.A.Bytes != in.C.Bytes {
		return fmt.Errorf("a copy of %d bytes into %d", in.A.Bytes, in.C.Bytes)
	}
	copy(d.slot(in.C), d.slot(in.A))
	return nil
}

// add is a residual connection's forward pass (an Add, an option-A shortcut) or a
// position embedding's: the two operands aligned to a common exponent
// (numerics.AddAligned, numerics.AddTable) and requantised with the output's delayed
// scale.
func (d *Device) add(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	ch, h, w := int64(l.Out.C), int64(l.Out.H), int64(l.Out.W)
	if f.A.H0 != 0 || f.A.H1 != h || f.C != f.A {
		return fmt.Errorf("chunk boxes %v and %v", f.A, f.C)
	}
	if err := checkBox(in.A, f.A, w, "the input chunk"); err != nil {
		return err
	}
	if err := checkBox(in.C, f.C, w, "the output chunk"); err != nil {
		return err
	}
	if f.A.C1 > ch {
		return fmt.Errorf("chunk %v outside %d channels", f.A, ch)
	}
	x, err := d.inExp(i)
	if err != nil {
		return err
	}
	a, out := d.slot(in.A), d.slot(in.C)
	acc := make([]int32, in.A.Bytes)
	var accExp int
	switch l.Kind {
	case models.Add:
		if err := checkBox(in.B, f.A, w, "the skip chunk"); err != nil {
			return err
		}
		b := d.slot(in.B)
		eb, err := d.inExp(l.From + 1) // the exponent of layer From's output
		if err != nil {
			return err
		}
		accExp = numerics.AddAligned(int8s(a), x, int8s(b), eb, acc)
	case models.ShortcutAdd:
		from := &d.net.Layers[l.From]
		eb, err := d.inExp(l.From + 1)
		if err != nil {
			return err
		}
		s, pad := int64(max(l.Stride, 1)), int64(l.Padding)
		cs, ws := int64(from.Out.C), int64(from.Out.W)
		// The skip's channels [lo,hi) land in the chunk; the DMA fetched every S-th of
		// their rows, whole, and the vector unit keeps every S-th column.
		lo, hi := max(f.A.C0-pad, 0), min(f.A.C1-pad, cs)
		skip := make([]int8, in.A.Bytes)
		if lo < hi {
			box := kernels.Box{N0: f.A.N0, N1: f.A.N1, C0: lo, C1: hi, H0: 0, H1: h}
			if err := checkBox(in.B, box, ws, "the skip chunk"); err != nil {
				return err
			}
			b := d.slot(in.B)
			for n := f.A.N0; n < f.A.N1; n++ {
				for c := lo; c < hi; c++ {
					for r := range h {
						for col := range w {
							skip[actIndex(f.A, w, n, c+pad, r, col)] = int8(actAt(b, box, ws, n, c, r, col*s))
						}
					}
				}
			}
		} else if in.B.Bytes != 0 {
			return fmt.Errorf("a skip operand of %d bytes for channels outside the skip", in.B.Bytes)
		}
		accExp = numerics.AddAligned(int8s(a), x, skip, eb, acc)
	case models.PosEmbedding:
		L := &d.state.Layers[d.weights[i]]
		table, err := d.readMat(in.B, kernels.Box{N0: f.A.C0, N1: f.A.C1, C0: 0, C1: h * w}, L.Bits, "the table rows")
		if err != nil {
			return err
		}
		// AddTable works on rows of the table's length; here a row is one channel's
		// positions of one example.
		plane := h * w
		for n := range f.A.N1 - f.A.N0 {
			for c := range f.A.C1 - f.A.C0 {
				off := (n*(f.A.C1-f.A.C0) + c) * plane
				accExp = numerics.AddTable(int8s(a[off:off+plane]), x, table[c*plane:(c+1)*plane], L.WExp, L.Bits, acc[off:off+plane])
			}
		}
	}
	o := make([]int8, len(acc))
	e, err := requantize(acc, accExp, d.state.Fwd[i], &d.fwd[i], d.fusedReLU(i), o)
	if err != nil {
		return err
	}
	putInt8s(out, o)
	d.actExp[i], d.actSet[i] = e, true
	return nil
}

// int8s views bytes as int8 values.
func int8s(b []byte) []int8 {
	out := make([]int8, len(b))
	convert(out, b)
	return out
}

// merge adds a residual branch's saved error to the error of layer j's output (the
// layer the residual adds): an Add's error as it is, a shortcut's onto every S-th row
// and column of the channels its skip came from; then the sum is requantised with
// the delayed scale of that merged error.
func (d *Device) merge(in *kernels.Instr) error {
	j := int(in.Layer)
	l := &d.net.Layers[j]
	r := d.residual[j]
	res := &d.net.Layers[r]
	f := in.Fn
	ch, h, w := int64(l.Out.C), int64(l.Out.H), int64(l.Out.W)
	if f.A.H0 != 0 || f.A.H1 != h || f.C != f.A || f.A.C1 > ch {
		return fmt.Errorf("chunk boxes %v and %v", f.A, f.C)
	}
	if err := checkBox(in.A, f.A, w, "the error chunk"); err != nil {
		return err
	}
	if err := checkBox(in.C, f.C, w, "the output chunk"); err != nil {
		return err
	}
	other := make([]int8, in.A.Bytes)
	b := d.slot(in.B)
	if res.Kind == models.Add {
		if err := checkBox(in.B, f.A, w, "the skip's error"); err != nil {
			return err
		}
		copy(other, int8s(b))
	} else {
		s := int64(max(res.Stride, 1))
		ho, wo := int64(res.Out.H), int64(res.Out.W)
		box := kernels.Box{N0: f.A.N0, N1: f.A.N1, C0: f.A.C0, C1: f.A.C1, H0: 0, H1: ho}
		if err := checkBox(in.B, box, wo, "the skip's error"); err != nil {
			return err
		}
		for n := f.A.N0; n < f.A.N1; n++ {
			for c := f.A.C0; c < f.A.C1; c++ {
				for oh := range ho {
					for ow := range wo {
						if oh*s < h && ow*s < w {
							other[actIndex(f.A, w, n, c, oh*s, ow*s)] = int8(actAt(b, box, wo, n, c, oh, ow))
						}
					}
				}
			}
		}
	}
	regs := &d.regs[j]
	if !regs.merging {
		// The first chunk of the merge: the error of layer j's output so far.
		e, err := d.outErrExp(j)
		if err != nil {
			return err
		}
		regs.premerge, regs.merging = e, true
	}
	ea := regs.premerge
	eb, err := d.outErrExp(r)
	if err != nil {
		return err
	}
	acc := make([]int32, len(other))
	accExp := numerics.AddAligned(int8s(d.slot(in.A)), ea, other, eb, acc)
	o := make([]int8, len(acc))
	e, err := requantize(acc, accExp, d.state.Res[j], &d.res[j], false, o)
	if err != nil {
		return err
	}
	dst := d.slot(in.C)
	putInt8s(dst, o)
	d.mergedExp(j, e, dst, f.C, w)
	return nil
}

// mergedExp records a merged error chunk: the error of layer j's output from now on.
// Chunks of one merge share the exponent, so the first sets it and the rest follow.
func (d *Device) mergedExp(j, e int, s []byte, b kernels.Box, w int64) {
	d.errExp[j], d.errSet[j] = e, true
	d.captureErr(j, s, b, w)
}

// biasGrad sums output errors per channel: a GEMM's bias gradient, one tile of errors
// at a time, or a position embedding's gradient, the error summed over the batch.
func (d *Device) biasGrad(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	g := d.slot(in.C)
	if l.Kind == models.PosEmbedding {
		plane := int64(l.Out.H * l.Out.W)
		if err := checkBox(in.A, f.A, int64(l.Out.W), "the error chunk"); err != nil {
			return err
		}
		if in.C.Bytes != 4*(f.A.C1-f.A.C0)*plane {
			return fmt.Errorf("a gradient of %d bytes for channels %d..%d", in.C.Bytes, f.A.C0, f.A.C1)
		}
		dy := d.slot(in.A)
		for c := range f.A.C1 - f.A.C0 {
			for p := range plane {
				var s int64
				if f.A.N0 > 0 {
					s = int64(readAcc(g, c*plane+p))
				}
				for n := range f.A.N1 - f.A.N0 {
					s += int64(int8(dy[(n*(f.A.C1-f.A.C0)+c)*plane+p]))
				}
				writeAcc(g, c*plane+p, int32(s))
			}
		}
		return nil
	}
	dy := d.slot(in.A)
	width := boxWidth(in.A, f.B)
	if in.C.Bytes != 4*(f.N.Hi-f.N.Lo) || f.B.C1-f.B.C0 != f.N.Hi-f.N.Lo {
		return fmt.Errorf("bias gradients of %d bytes for columns %v and errors %v", in.C.Bytes, f.N, f.B)
	}
	for co := f.N.Lo; co < f.N.Hi; co++ {
		var s int64
		if f.K.Lo > 0 {
			s = int64(readAcc(g, co-f.N.Lo))
		}
		ch := f.B.C0 + co - f.N.Lo
		for n := f.B.N0; n < f.B.N1; n++ {
			for h := f.B.H0; h < f.B.H1; h++ {
				for x := range width {
					s += actAt(dy, f.B, width, n, ch, h, x)
				}
			}
		}
		writeAcc(g, co-f.N.Lo, int32(s))
	}
	return nil
}

// control is the controller's statistic of a weight layer: Gavg = mean(|lr*g|)/Δ, the
// sum over the gradient's segments (each with its scale) of numerics.Gavg, in segment
// order, as the trainer adds them.
func (d *Device) control(in *kernels.Instr) error {
	w := d.weights[in.Layer]
	L := d.state.Layers[w]
	g := &d.grad[w]
	var gavg float64
	// The mean is over the weights the update changes (all but under a partial mask).
	rows := g.segRows * len(g.segAbs)
	n := d.accRows(w, rows) * (len(L.W) / rows)
	for s := range g.segAbs {
		if !g.segSet[s] {
			return fmt.Errorf("the gradient of segment %d has no exponent yet", s)
		}
		if d.state.MomentumShift > 0 { // the sum of |acc| after accumulation
			gavg += numerics.Gavg(g.segAbs[s], n, 1, numerics.MomentumFracBits)
			continue
		}
		gavg += numerics.Gavg(g.segAbs[s], n, d.state.LR.Mant, d.updateShift(g.segExp[s], L.WExp))
	}
	d.gavg[w] = gavg
	return nil
}

// convert moves weight rows to a new width (numerics.ConvertInt); the layer's steps
// change when the step ends.
func (d *Device) convert(in *kernels.Instr) error {
	i := int(in.Layer)
	f := in.Fn
	rows := f.A.C1 - f.A.C0
	cols := in.Elems / rows
	from, to := in.A.Bits, in.C.Bits
	inPitch, outPitch := (cols*int64(from)+7)/8, (cols*int64(to)+7)/8
	if in.A.Bytes != rows*inPitch || in.C.Bytes != rows*outPitch {
		return fmt.Errorf("converting %d rows of %d values: %d bytes in, %d out", rows, cols, in.A.Bytes, in.C.Bytes)
	}
	a, c := d.slot(in.A), d.slot(in.C)
	vals := make([]int32, cols)
	for r := range rows {
		numerics.UnpackBits(a[r*inPitch:], from, 0, vals)
		numerics.ConvertInt(vals, from, to)
		numerics.PackBits(vals, to, c[r*outPitch:(r+1)*outPitch])
	}
	w := d.weights[i]
	if d.newBits[w] != d.state.Layers[w].Bits && d.newBits[w] != to {
		return fmt.Errorf("layer converted to %d and %d bits", d.newBits[w], to)
	}
	d.newBits[w] = to
	return nil
}

// embed turns an embedding's gathered table rows (b-bit integers with the layer's
// step) into activations: requantised with the output's delayed scale, written in the
// output's layout ({E, T, 1}: per example and channel, the chunk's tokens).
func (d *Device) embed(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	L := &d.state.Layers[d.weights[i]]
	dim := int64(l.Out.C)
	imgs, toks := f.C.N1-f.C.N0, f.C.H1-f.C.H0
	rows := imgs * toks
	pitch := (dim*int64(L.Bits) + 7) / 8
	if in.A.Bytes != rows*pitch || f.C.C0 != 0 || f.C.C1 != dim {
		return fmt.Errorf("%d bytes of gathered rows for %d tokens of %d values, box %v", in.A.Bytes, rows, dim, f.C)
	}
	if err := checkBox(in.C, f.C, 1, "the output chunk"); err != nil {
		return err
	}
	a := d.slot(in.A)
	acc := make([]int32, rows*dim) // token-major, as gathered
	for r := range rows {
		numerics.UnpackBits(a[r*pitch:], L.Bits, 0, acc[r*dim:(r+1)*dim])
	}
	out := make([]int8, len(acc))
	e, err := requantize(acc, L.WExp, d.state.Fwd[i], &d.fwd[i], d.fusedReLU(i), out)
	if err != nil {
		return err
	}
	c := d.slot(in.C)
	for n := range imgs {
		for t := range toks {
			for ch := range dim {
				c[(n*dim+ch)*toks+t] = byte(out[(n*toks+t)*dim+ch])
			}
		}
	}
	d.actExp[i], d.actSet[i] = e, true
	return nil
}
