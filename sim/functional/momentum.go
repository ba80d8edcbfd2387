package functional

import (
	"errors"
	"fmt"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/train/numerics"
)

// RCT's integer momentum on the device (numerics.MomentumAccumulate, MomentumApply):
// per tile of a layer's weights (or bias), the int16 buffer (the DRAM tensor NITI's
// buffer uses, name.acc_w or name.acc_bw, loaded and stored with the parameters) gains
// the tile's update, the controller's statistic reads it (weights only), and it moves
// the weights. The registers of the buffers' units (IntLayer.GradW, GradB) are read
// as the step found them: every tile of a segment rescales from the same unit, and
// the new unit is what the state keeps when the step ends.

// hasMomentum reports whether prog's update runs RCT's momentum.
func hasMomentum(prog *kernels.Program) bool {
	for _, in := range prog.All() {
		if in.Op == kernels.OpVector && in.VOp == kernels.VMomentumAccumulate {
			return true
		}
	}
	return false
}

// momentumReg is the register of segment seg of weight layer w's weights (bias false)
// or bias as the step began.
func (d *Device) momentumReg(w int, bias bool, seg int) (numerics.ScaleReg, error) {
	regs := d.momRegs[w][0]
	if bias {
		regs = d.momRegs[w][1]
	}
	if seg >= len(regs) {
		return numerics.ScaleReg{}, fmt.Errorf("segment %d of %d momentum registers", seg, len(regs))
	}
	return regs[seg], nil
}

// momentumAccumulate is numerics.MomentumAccumulate on a tile: each buffer value
// (B, written to C) with its gradient (A), the update shift of its segment's scale,
// its segment's register and the random bits of its canonical index.
func (d *Device) momentumAccumulate(in *kernels.Instr) error {
	i := int(in.Layer)
	f := in.Fn
	w := d.weights[i]
	L := &d.state.Layers[w]
	st := d.state
	if in.B != in.C {
		return errors.New("a momentum accumulation that does not write the buffer it reads")
	}
	bias := f.Role == kernels.RoleBias
	elems, err := d.gradTile(in, bias)
	if err != nil {
		return err
	}
	vals, err := d.readMat(in.B, f.B, numerics.NITIAccBits, "the momentum buffer tile")
	if err != nil {
		return err
	}
	regs := L.GradW
	if bias {
		regs = L.GradB
	}
	key := d.updateKey(i, bias)
	unit := numerics.MomentumUnit(stepExp(L, bias))
	shifts, err := d.updateShifts(in, bias, elems, stepExp(L, bias))
	if err != nil {
		return err
	}
	acc, g := make([]int16, 1), make([]int32, 1)
	for _, e := range elems {
		old, err := d.momentumReg(w, bias, e.seg)
		if err != nil {
			return err
		}
		acc[0], g[0] = int16(vals[e.pos]), e.g
		numerics.MomentumAccumulate(acc, g, st.LR.Mant, shifts[e.seg], st.MomentumShift, old, unit, st.Rounding, key, uint64(e.idx))
		vals[e.pos] = int32(acc[0])
		regs[e.seg] = numerics.ScaleReg{Exp: unit, Set: true}
	}
	packRows(d.slot(in.C), f.B, numerics.NITIAccBits, vals)
	return nil
}

// momentumApply is numerics.MomentumApply on a tile: the buffer's (A) update added to
// the weights (B, written to C), each row of the tile with the random bits of its
// values' canonical indices.
func (d *Device) momentumApply(in *kernels.Instr) error {
	i := int(in.Layer)
	f := in.Fn
	w := d.weights[i]
	L := &d.state.Layers[w]
	st := d.state
	if in.B != in.C {
		return errors.New("a momentum step that does not write the parameters it reads")
	}
	acc, err := d.readMat(in.A, f.B, numerics.NITIAccBits, "the momentum buffer tile")
	if err != nil {
		return err
	}
	vals, err := d.readMat(in.B, f.B, L.Bits, "the parameter tile")
	if err != nil {
		return err
	}
	bias := f.Role == kernels.RoleBias
	cols := int64(d.grad[w].cols)
	if bias {
		cols = 0 // a bias is one row
	}
	key := d.updateKey(i, bias)
	width := f.B.C1 - f.B.C0
	for r := range f.B.N1 - f.B.N0 {
		row := vals[r*width : (r+1)*width]
		first := (f.B.N0+r)*cols + f.B.C0
		numerics.MomentumApply(row, to16(acc[r*width:(r+1)*width]), L.Bits, st.Rounding, key, uint64(first))
	}
	packRows(d.slot(in.C), f.B, L.Bits, vals)
	return nil
}

// momentumStat is the controller's statistic under momentum: the sum of |acc| of a
// tile of the weights' buffer (A) after its accumulation, per segment.
func (d *Device) momentumStat(in *kernels.Instr) error {
	f := in.Fn
	gr := &d.grad[d.weights[in.Layer]]
	acc, err := d.readMat(in.A, f.B, numerics.NITIAccBits, "the momentum buffer tile")
	if err != nil {
		return err
	}
	width := f.B.C1 - f.B.C0
	for r := range f.B.N1 - f.B.N0 {
		seg := int((f.B.N0 + r) / int64(gr.segRows))
		if seg >= len(gr.segAbs) {
			return fmt.Errorf("row of segment %d of %d", seg, len(gr.segAbs))
		}
		gr.segAbs[seg] += numerics.MomentumAbsSum(to16(acc[r*width : (r+1)*width]))
	}
	return nil
}
