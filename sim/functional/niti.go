package functional

import (
	"fmt"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/train/numerics"
)

// NITI's update on the device (numerics.UpdateNITI): per tile of a layer's weights (or
// bias), a statistic instruction tracks the largest |g| for the next step's shift,
// then three passes run over the int16 update buffer (a DRAM tensor, name.acc_w or
// name.acc_bw, loaded and stored with the parameters) and the int8 weights.

// nitiRegs are a weight layer's NITI registers of the running step: per segment of its
// weights and of its bias, the largest |g| seen and the gradient's exponent.
type nitiRegs struct {
	max  [2][]int64 // [weights, bias][segment]
	exp  [2][]int
	seen [2][]bool
}

// accName is the DRAM tensor of a layer's update buffer.
func accName(layer string, bias bool) string {
	if bias {
		return layer + ".acc_bw"
	}
	return layer + ".acc_w"
}

// nitiPart is 1 for a bias tile (its descriptor's role), 0 for weights.
func nitiPart(in *kernels.Instr) int {
	if in.Fn.Role == kernels.RoleBias {
		return 1
	}
	return 0
}

// nitiTrack records the largest |g| and the exponent of a gradient element's segment.
func (d *Device) nitiTrack(in *kernels.Instr, e gradElem) error {
	w := d.weights[in.Layer]
	part := nitiPart(in)
	r := &d.niti[w]
	if r.max[part] == nil {
		n := len(d.state.Layers[w].GradW)
		if part == 1 {
			n = len(d.state.Layers[w].GradB)
		}
		r.max[part], r.exp[part], r.seen[part] = make([]int64, n), make([]int, n), make([]bool, n)
	}
	if e.seg >= len(r.max[part]) {
		return fmt.Errorf("segment %d of %d NITI registers", e.seg, len(r.max[part]))
	}
	x, err := d.gradExp(in, part == 1, e.seg)
	if err != nil {
		return err
	}
	r.max[part][e.seg] = max(r.max[part][e.seg], int64(e.g), -int64(e.g))
	r.exp[part][e.seg], r.seen[part][e.seg] = x, true
	return nil
}

// nitiStat is NITI's gradient statistic: the largest |g| of each segment, which sets
// the next step's shift (numerics.NITIRegister when the step ends).
func (d *Device) nitiStat(in *kernels.Instr) error {
	elems, err := d.gradTile(in, nitiPart(in) == 1)
	if err != nil {
		return err
	}
	for _, e := range elems {
		if err := d.nitiTrack(in, e); err != nil {
			return err
		}
	}
	return nil
}

// nitiAccumulate is numerics.NITIAccumulate on a tile: each gradient normalised with
// its segment's delayed shift and subtracted from its buffer value.
func (d *Device) nitiAccumulate(in *kernels.Instr) error {
	i := int(in.Layer)
	f := in.Fn
	w := d.weights[i]
	L := &d.state.Layers[w]
	part := nitiPart(in)
	if in.B != in.C {
		return fmt.Errorf("an update of the buffer that does not write the buffer it reads")
	}
	elems, err := d.gradTile(in, part == 1)
	if err != nil {
		return err
	}
	vals, err := d.readMat(in.B, f.B, numerics.NITIAccBits, "the update buffer tile")
	if err != nil {
		return err
	}
	regs := L.GradW
	if part == 1 {
		regs = L.GradB
	}
	acc := make([]int16, 1)
	for _, e := range elems {
		if e.seg >= len(regs) || !regs[e.seg].Set {
			return fmt.Errorf("segment %d has no NITI shift yet (the first step sets it from its own gradients)", e.seg)
		}
		x, err := d.gradExp(in, part == 1, e.seg)
		if err != nil {
			return err
		}
		if part == 0 {
			d.grad[w].segExp[e.seg], d.grad[w].segSet[e.seg] = x, true
			d.capture(w, e.idx, e.g, x)
		}
		acc[0] = int16(vals[e.pos])
		numerics.NITIAccumulate(acc, []int32{e.g}, numerics.NITIShift(regs[e.seg], x, 0, d.state.NITIUpdateBits), d.state.NITIUpdateBits)
		vals[e.pos] = int32(acc[0])
	}
	packRows(d.slot(in.C), f.B, numerics.NITIAccBits, vals)
	return nil
}

// nitiCarry is numerics.NITICarry on a tile: the buffer's (A) whole grid steps added
// to the weights (B, written to C).
func (d *Device) nitiCarry(in *kernels.Instr) error {
	f := in.Fn
	L := &d.state.Layers[d.weights[in.Layer]]
	if in.B != in.C {
		return fmt.Errorf("a carry that does not write the weights it reads")
	}
	acc, err := d.readMat(in.A, f.B, numerics.NITIAccBits, "the update buffer tile")
	if err != nil {
		return err
	}
	vals, err := d.readMat(in.B, f.B, L.Bits, "the parameter tile")
	if err != nil {
		return err
	}
	numerics.NITICarry(vals, to16(acc))
	packRows(d.slot(in.C), f.B, L.Bits, vals)
	return nil
}

// nitiRemainder is numerics.NITIRemainder on a tile of the buffer (A, written to C).
func (d *Device) nitiRemainder(in *kernels.Instr) error {
	f := in.Fn
	if in.A != in.C {
		return fmt.Errorf("a remainder that does not write the buffer it reads")
	}
	vals, err := d.readMat(in.A, f.B, numerics.NITIAccBits, "the update buffer tile")
	if err != nil {
		return err
	}
	acc := to16(vals)
	numerics.NITIRemainder(acc)
	convert(vals, acc)
	packRows(d.slot(in.C), f.B, numerics.NITIAccBits, vals)
	return nil
}

func to16(v []int32) []int16 {
	out := make([]int16, len(v))
	convert(out, v)
	return out
}

// accRows is how many rows of weight layer w's weights (of rows) its update changes:
// the rows its update buffer has.
func (d *Device) accRows(w, rows int) int {
	if u := d.state.Update; u != nil {
		return u[w].UpdatedRows(rows)
	}
	return rows
}

// biasUpdated reports whether weight layer w's bias is updated.
func (d *Device) biasUpdated(w int) bool {
	if u := d.state.Update; u != nil {
		return u[w].Bias
	}
	return true
}

// buffers writes the update buffers of weight layer w (network layer name, rows weight
// rows; NITI's, or RCT's momentum) into DRAM, or (read) reads them back.
func (d *Device) buffers(w int, name string, rows int, read bool) error {
	L := &d.state.Layers[w]
	xfer := func(tensor string, acc []int16, rows int) error {
		if len(acc) == 0 || rows == 0 {
			return nil
		}
		if _, ok := d.tensors[tensor]; !ok {
			return fmt.Errorf("program has no update buffer %s", tensor)
		}
		n := len(acc) / max(rows, 1)
		vals := make([]int32, n*rows)
		if read {
			if err := d.readMatrix(tensor, vals, numerics.NITIAccBits, rows); err != nil {
				return err
			}
			convert(acc, vals)
			return nil
		}
		convert(vals, acc[:len(vals)])
		return d.writeMatrix(tensor, vals, numerics.NITIAccBits, rows)
	}
	if r := d.accRows(w, rows); r > 0 && len(L.AccW) > 0 {
		if err := xfer(accName(name, false), L.AccW[:r*(len(L.AccW)/rows)], r); err != nil {
			return err
		}
	}
	if d.biasUpdated(w) && len(L.AccB) > 0 {
		return xfer(accName(name, true), L.AccB, 1)
	}
	return nil
}

// nitiFinish sets each NITI register from the step's largest gradient.
func (d *Device) nitiFinish(w int) {
	L := &d.state.Layers[w]
	r := &d.niti[w]
	for part, regs := range [2][]numerics.ScaleReg{L.GradW, L.GradB} {
		for k := range r.seen[part] {
			if r.seen[part][k] && k < len(regs) {
				regs[k] = numerics.NITIRegister(r.exp[part][k], r.max[part][k], d.state.NITIUpdateBits)
			}
		}
	}
}
