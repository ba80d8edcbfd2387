package functional

import (
	"errors"
	"fmt"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// requant runs a GEMM epilogue: bias (forward), requantisation with the tensor's
// delayed scale, fused ReLU, and the scatter of the M x N accumulator tile into the
// output's [image][channel][row][column] box.
func (d *Device) requant(in *kernels.Instr, i int) error {
	l := &d.net.Layers[i]
	g := layerGeom(l)
	f := in.Fn
	w := d.weights[i]
	if w < 0 {
		return errors.New("requantisation of a layer without weights")
	}
	L := &d.state.Layers[w]
	M, N := f.M.Hi-f.M.Lo, f.N.Hi-f.N.Lo
	acc := make([]int32, M*N)
	src := d.slot(in.A)
	for j := range acc {
		acc[j] = readAcc(src, int64(j))
	}
	var accExp int
	var reg *numerics.ScaleReg
	relu := false
	switch in.Phase {
	case models.Forward:
		x, err := d.inExp(i)
		if err != nil {
			return err
		}
		accExp = x + L.WExp
		if in.B.Bytes > 0 {
			bias := d.ints(f.B.C1 - f.B.C0)
			matRows(d.slot(in.B), f.B, L.Bits, bias)
			numerics.AddBias(acc, int(N), bias[f.N.Lo:f.N.Hi], accExp-L.BExp)
		}
		reg, relu = &d.state.Fwd[i], d.fusedReLU(i)
	case models.BackwardData:
		e, err := d.outErrExp(i)
		if err != nil {
			return err
		}
		accExp = e + L.WExp
		reg = &d.state.Bwd[i]
	default:
		return fmt.Errorf("requantisation in phase %s", in.Phase)
	}
	if !reg.Set {
		return errors.New("the tensor's delayed scale is not set: start the device from a state after the first (calibration) step")
	}
	shift := reg.Exp - accExp
	out := make([]int8, len(acc))
	m, _ := numerics.Requant(acc, shift, relu, out)
	dst := d.slot(in.C)
	for mi := range M {
		for ni := range N {
			v := out[mi*N+ni]
			if in.Phase == models.Forward {
				img, oh, ow := spatial(f.M.Lo+mi, g.ho, g.wo)
				setAct(dst, f.C, g.wo, img, f.N.Lo+ni, oh, ow, v)
			} else {
				img, ih, iw := spatial(f.M.Lo+mi, g.h, g.w)
				setAct(dst, f.C, g.w, img, f.N.Lo+ni, ih, iw, v)
			}
		}
	}
	if in.Phase == models.Forward {
		d.fwdMax[i], d.fwdSeen[i], d.fwdAcc[i] = max(d.fwdMax[i], int64(m)), true, accExp
		d.actExp[i], d.actSet[i] = accExp+shift, true
	} else {
		d.bwdMax[i], d.bwdSeen[i], d.bwdAcc[i] = max(d.bwdMax[i], int64(m)), true, accExp
		d.errExp[i-1], d.errSet[i-1] = accExp+shift, true
		d.captureErr(i-1, dst, f.C, g.w)
	}
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

func (d *Device) relu(in *kernels.Instr, i int) error {
	a, c := d.slot(in.A), d.slot(in.C)
	for j := range in.A.Bytes {
		c[j] = byte(max(int8(a[j]), 0))
	}
	e, err := d.inExp(i)
	d.actExp[i], d.actSet[i] = e, true
	return err
}

func (d *Device) maxPool(in *kernels.Instr, i int) error {
	l := &d.net.Layers[i]
	f := in.Fn
	a, c := d.slot(in.A), d.slot(in.C)
	wi, wo := int64(l.In.W), int64(l.Out.W)
	s := int64(max(l.Stride, 1))
	for n := f.A.N0; n < f.A.N1; n++ {
		for ch := f.A.C0; ch < f.A.C1; ch++ {
			for oh := range int64(l.Out.H) {
				for ow := range wo {
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
				}
			}
		}
	}
	e, err := d.inExp(i)
	d.actExp[i], d.actSet[i] = e, true
	return err
}

// maxPoolBackward routes each output error to the first maximum of its window,
// recomputed from the saved input (the forward pass keeps no argmax).
func (d *Device) maxPoolBackward(in *kernels.Instr, i int) error {
	l := &d.net.Layers[i]
	if l.Stride < l.KernelH || l.Stride < l.KernelW {
		return errors.New("overlapping max-pooling windows are not executed functionally")
	}
	f := in.Fn
	dy, x, dx := d.slot(in.A), d.slot(in.B), d.slot(in.C)
	wi, wo := int64(l.In.W), int64(l.Out.W)
	s := int64(l.Stride)
	clear(dx[:in.C.Bytes])
	for n := f.A.N0; n < f.A.N1; n++ {
		for ch := f.A.C0; ch < f.A.C1; ch++ {
			for oh := range int64(l.Out.H) {
				for ow := range wo {
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
				}
			}
		}
	}
	e, err := d.outErrExp(i)
	d.errExp[i-1], d.errSet[i-1] = e, true
	d.captureErr(i-1, dx, f.C, wi)
	return err
}

func (d *Device) reluBackward(in *kernels.Instr, i int) error {
	dy, act, dx := d.slot(in.A), d.slot(in.B), d.slot(in.C)
	for j := range in.A.Bytes {
		if int8(act[j]) > 0 {
			dx[j] = dy[j]
		} else {
			dx[j] = 0
		}
	}
	e, err := d.outErrExp(i)
	d.errExp[i-1], d.errSet[i-1] = e, true
	d.captureErr(i-1, dx, in.Fn.C, boxWidth(in.C, in.Fn.C))
	return err
}

// loss runs numerics.SoftmaxXent on the logits of every labelled position (rows of
// classes, gathered from the channel-major layout) and scatters the error back.
func (d *Device) loss(in *kernels.Instr, i int) error {
	l := &d.net.Layers[i]
	f := in.Fn
	classes, positions := int64(l.Out.C), int64(l.Out.H*l.Out.W)
	imgs := f.A.N1 - f.A.N0
	if imgs != int64(d.prog.Batch) {
		return errors.New("a loss split over several chunks is not executed functionally")
	}
	rows := imgs * positions
	logits := make([]int8, rows*classes)
	labels := make([]int32, rows)
	a, lab, c := d.slot(in.A), d.slot(in.B), d.slot(in.C)
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
		}
	}
	exp, err := d.inExp(i + 1)
	if err != nil {
		return err
	}
	errs := make([]int8, len(logits))
	prob := make([]float64, len(logits))
	st := d.state
	e, loss, correct := numerics.SoftmaxXentRound(logits, exp, int(classes), labels, int(rows), st.LossRounding,
		numerics.RandKey(st.Seed, numerics.LossStream(st.Step)), 0, prob, errs)
	for n := range imgs {
		for p := range positions {
			for cl := range classes {
				c[(n*classes+cl)*positions+p] = byte(errs[(n*positions+p)*classes+cl])
			}
		}
	}
	d.errExp[i], d.errSet[i] = e, true
	d.lossSum, d.correct = loss, correct
	d.captureErr(i, c, f.C, positions)
	return nil
}

// biasGrad sums a tile of output errors per channel into the bias gradient.
func (d *Device) biasGrad(in *kernels.Instr) error {
	f := in.Fn
	dy, g := d.slot(in.A), d.slot(in.C)
	width := boxWidth(in.A, f.B)
	for co := f.N.Lo; co < f.N.Hi; co++ {
		var s int64
		if f.K.Lo > 0 {
			s = int64(readAcc(g, co-f.N.Lo))
		}
		for n := f.B.N0; n < f.B.N1; n++ {
			for h := f.B.H0; h < f.B.H1; h++ {
				for x := range width {
					s += actAt(dy, f.B, width, n, co, h, x)
				}
			}
		}
		writeAcc(g, co-f.N.Lo, int32(s))
	}
	return nil
}

// update applies RCT's integer update (numerics.UpdateInt) to a tile of weights (an M x
// N gradient tile: M over the reduction index, N over output channels) or to the bias.
func (d *Device) update(in *kernels.Instr, i int) error {
	l := &d.net.Layers[i]
	f := in.Fn
	w := d.weights[i]
	L := &d.state.Layers[w]
	st := d.state
	grad, par := d.slot(in.A), d.slot(in.B)
	vals := make([]int32, (f.B.N1-f.B.N0)*(f.B.C1-f.B.C0))
	matRows(par, f.B, L.Bits, vals)
	cols := f.B.C1 - f.B.C0
	e, err := d.outErrExp(i)
	if err != nil {
		return err
	}
	if f.M.Hi > f.M.Lo { // weights
		x, err := d.inExp(i)
		if err != nil {
			return err
		}
		gradExp := x + e
		d.gradExp[w] = gradExp
		sh := numerics.UpdateShift(st.LR, gradExp, L.WExp)
		key := numerics.RandKey(st.Seed, numerics.RandStream(st.Step, i, 0))
		_, _, k := l.GEMMDims()
		N := f.N.Hi - f.N.Lo
		for mi := range f.M.Hi - f.M.Lo {
			for ni := range N {
				co, kk := f.N.Lo+ni, f.M.Lo+mi
				g := readAcc(grad, mi*N+ni)
				d.captureGrad(w, co*k+kk, g, gradExp)
				j := (co-f.B.N0)*cols + kk - f.B.C0
				numerics.UpdateInt(vals[j:j+1], []int32{g}, st.LR.Mant, sh, L.Bits, st.Rounding, key, uint64(co*k+kk))
			}
		}
	} else { // bias: one row
		sh := numerics.UpdateShift(st.LR, e, L.BExp)
		key := numerics.RandKey(st.Seed, numerics.RandStream(st.Step, i, 1))
		for co := f.N.Lo; co < f.N.Hi; co++ {
			g := readAcc(grad, co)
			j := co - f.B.C0
			numerics.UpdateInt(vals[j:j+1], []int32{g}, st.LR.Mant, sh, L.Bits, st.Rounding, key, uint64(co))
		}
	}
	packRows(d.slot(in.C), f.B, L.Bits, vals)
	return nil
}

// convert moves weight rows to a new width (numerics.ConvertInt); the layer's steps
// change when the step ends.
func (d *Device) convert(in *kernels.Instr, i int) error {
	f := in.Fn
	rows := f.A.C1 - f.A.C0
	cols := in.Elems / rows
	from, to := in.A.Bits, in.C.Bits
	a, c := d.slot(in.A), d.slot(in.C)
	vals := make([]int32, cols)
	inPitch, outPitch := (cols*int64(from)+7)/8, (cols*int64(to)+7)/8
	for r := range rows {
		numerics.UnpackBits(a[r*inPitch:], from, 0, vals)
		numerics.ConvertInt(vals, from, to)
		numerics.PackBits(vals, to, c[r*outPitch:(r+1)*outPitch])
	}
	d.newBits[d.weights[i]] = to
	return nil
}
