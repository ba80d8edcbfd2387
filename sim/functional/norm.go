package functional

import (
	"fmt"
	"math"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// Normalisation on the device. The compiler gives batch normalisation a 16-byte record
// per channel and layer normalisation an 8-byte record per position (kernels/norm.go);
// the device lays its integers out in them as fields of a few bytes, little-endian,
// and fails, naming the field, when a value does not fit:
//
//	batch norm, forward    [0,4) Σx int32  [4,8) Σx² uint32  then [8,11) A int24, [11,16) C int40,
//	                       the coefficients of y = A*x + C (records saved for backward)
//	batch norm, backward   the saved record with [8,12) Σdy int32, [12,16) Σdy*x int32,
//	                       then [0,3) A int24, [3,6) B int24, [6,14) C int64 of
//	                       dx = A*dy + B*x + C
//	layer norm, forward    per position [0,4) Σx int32, [4,8) Σx² int32, then the
//	                       coefficients of x_hat = A*x + C: [0,4) A, [4,8) C (saved);
//	                       per channel after the positions: [0,4) gamma, [4,8) beta
//	layer norm, backward   the saved records and the parameters as forward, then per
//	                       position [0,4) Σu, [4,8) Σu*x with u = gamma*dy
//
// The coefficients are fixed-point integers at one exponent for the whole layer
// (numerics.FixCoefs), a register like the tensors' exponents; so is the exponent of a
// normalisation's scale gradient. Batch normalisation's running statistics are int32
// [mean, variance] per channel in DRAM, their exponent a register.

// normRecord is the bytes of a batch normalisation record and of a layer normalisation
// record (the compiler's normFields and layerNormFields 32-bit values).
const (
	bnRecord = 16
	lnRecord = 8
)

// field reads a little-endian signed (or, with unsigned, unsigned) integer of width
// bytes at off.
func field(s []byte, off, width int64, unsigned bool) int64 {
	var u uint64
	for k := width - 1; k >= 0; k-- {
		u = u<<8 | uint64(s[off+k])
	}
	if unsigned {
		return int64(u)
	}
	shift := 64 - 8*width
	return int64(u<<shift) >> shift
}

// putField writes v as a little-endian integer of width bytes at off, or fails when it
// does not fit.
func putField(s []byte, off, width int64, unsigned bool, v int64, what string) error {
	bits := 8 * width
	var ok bool
	if unsigned {
		ok = v >= 0 && (bits == 64 || v < 1<<bits)
	} else {
		ok = bits == 64 || (v >= -(1<<(bits-1)) && v < 1<<(bits-1))
	}
	if !ok {
		return fmt.Errorf("%s %d does not fit its %d-byte record field", what, v, width)
	}
	u := uint64(v)
	for k := range width {
		s[off+k] = byte(u >> (8 * k))
	}
	return nil
}

// chunkOperand checks a streamed chunk of whole rows of width w that holds, back to
// back, the boxes of count tensors (dy then x for a backward pass).
func chunkOperand(o kernels.Operand, b kernels.Box, w int64, count int64) ([]int64, error) {
	n := boxBytes(b, w)
	if o.Bytes != count*n {
		return nil, fmt.Errorf("a chunk of %d bytes for %d boxes %v of width %d", o.Bytes, count, b, w)
	}
	offs := make([]int64, count)
	for k := range offs {
		offs[k] = int64(k) * n
	}
	return offs, nil
}

// records checks a records operand of count records of size bytes.
func records(o kernels.Operand, count, size int64, what string) error {
	if o.Bytes < count*size {
		return fmt.Errorf("%s of %d bytes for %d records of %d", what, o.Bytes, count, size)
	}
	return nil
}

// params unpacks a normalisation's scale and shift of channels [c0,c1), loaded back to
// back (the shift only when the layer has one).
func (d *Device) params(o kernels.Operand, l *models.Layer, L *numerics.IntLayer, c0, c1 int64) (gamma, beta []int32, err error) {
	box := kernels.Box{N0: 0, N1: 1, C0: c0, C1: c1}
	n := matBytes(box, L.Bits)
	parts := int64(1)
	if l.BiasParams() > 0 {
		parts = 2
	}
	if o.Bytes != parts*n {
		return nil, nil, fmt.Errorf("parameters of %d bytes for %d tensors of channels %d..%d", o.Bytes, parts, c0, c1)
	}
	s := d.slot(o)
	gamma = make([]int32, c1-c0)
	matRows(s, box, L.Bits, gamma)
	if parts == 2 {
		beta = make([]int32, c1-c0)
		matRows(s[n:], box, L.Bits, beta)
	}
	return gamma, beta, nil
}

// eachInChannel calls f with the index of every element of channel c of activation
// box b (rows w wide), example by example and row by row.
func eachInChannel(b kernels.Box, w, c int64, f func(k int64)) {
	for n := b.N0; n < b.N1; n++ {
		for h := b.H0; h < b.H1; h++ {
			for col := range w {
				f(actIndex(b, w, n, c, h, col))
			}
		}
	}
}

// normStats takes a chunk's sums of x and x²: per channel for batch normalisation,
// accumulated from the first chunk of the pass on; per position for layer
// normalisation.
func (d *Device) normStats(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	w := int64(l.In.W)
	if _, err := chunkOperand(in.A, f.A, w, 1); err != nil {
		return err
	}
	x, rec := d.slot(in.A), d.slot(in.C)
	if in.B != in.C {
		return fmt.Errorf("statistics that do not accumulate in place")
	}
	if l.Kind == models.LayerNorm {
		positions := int64(l.In.H) * w
		ch := int64(l.In.C)
		if err := lnBoxes(f, l); err != nil {
			return err
		}
		if err := records(in.C, f.N.Hi-f.N.Lo, lnRecord, "records"); err != nil {
			return err
		}
		for n := f.A.N0; n < f.A.N1; n++ {
			for p := range positions {
				var s1, s2 int64
				for c := range ch {
					v := actAt(x, f.A, w, n, c, p/w, p%w)
					s1 += v
					s2 += v * v
				}
				r := ((n-f.A.N0)*positions + p) * lnRecord
				if err := putField(rec, r, 4, false, s1, "Σx"); err != nil {
					return err
				}
				if err := putField(rec, r+4, 4, false, s2, "Σx²"); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if f.A.C0 != f.N.C0 || f.A.C1 != f.N.C1 {
		return fmt.Errorf("chunk %v for the records of channels %v", f.A, f.N)
	}
	if err := records(in.C, f.N.C1-f.N.C0, bnRecord, "records"); err != nil {
		return err
	}
	first := f.A.N0 == 0 && f.A.H0 == 0
	for c := f.A.C0; c < f.A.C1; c++ {
		r := (c - f.N.C0) * bnRecord
		var s1, s2 int64
		if !first {
			s1, s2 = field(rec, r, 4, false), field(rec, r+4, 4, true)
		}
		eachInChannel(f.A, w, c, func(k int64) {
			v := int64(int8(x[k]))
			s1 += v
			s2 += v * v
		})
		if err := putField(rec, r, 4, false, s1, "Σx"); err != nil {
			return err
		}
		if err := putField(rec, r+4, 4, true, s2, "Σx²"); err != nil {
			return err
		}
	}
	return nil
}

// batchNormScale is batch normalisation's per-channel step (VNormScale), by role:
// the forward coefficients, the running statistics, the gradients of gamma and beta,
// and the coefficients of the input's error.
func (d *Device) batchNormScale(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	L := &d.state.Layers[d.weights[i]]
	c0, c1 := f.N.C0, f.N.C1
	nc := c1 - c0
	n := int64(d.prog.Batch) * int64(l.In.H*l.In.W) // values per channel
	rec := d.slot(in.A)
	if err := records(in.A, nc, bnRecord, "records"); err != nil {
		return err
	}
	ex, err := d.inExp(i)
	if err != nil {
		return err
	}
	r := &d.regs[i]
	sums := func(c int64) (s1, s2 int64) {
		return field(rec, c*bnRecord, 4, false), field(rec, c*bnRecord+4, 4, true)
	}
	role := f.Role
	if role == kernels.RoleNormMax && in.Phase == models.Forward {
		role = kernels.RoleNormCoefs
	}
	switch role {
	case kernels.RoleNormCoefs:
		gamma, beta, err := d.params(in.B, l, L, c0, c1)
		if err != nil {
			return err
		}
		a, c := make([]float64, nc), make([]float64, nc)
		for j := range nc {
			s1, s2 := sums(j)
			rs := numerics.NormInvStd(n, s1, s2, ex)
			b := 0.0
			if beta != nil {
				b = math.Ldexp(float64(beta[j]), L.BExp)
			}
			a[j], c[j] = numerics.NormForwardCoefs(float64(s1)/float64(n), rs, math.Ldexp(float64(gamma[j]), L.WExp), b)
		}
		if f.Role == kernels.RoleNormMax {
			// The first of two loops over chunks of channels: the largest coefficient.
			for _, v := range a {
				r.maxA = max(r.maxA, math.Abs(v))
			}
			r.maxCount += nc
			return nil
		}
		if nc != int64(l.In.C) {
			// Channels of several chunks: the exponent of the layer's largest
			// coefficient, found by the first loop.
			if r.maxCount != int64(l.In.C) {
				return fmt.Errorf("coefficients of %d of %d channels, but the first loop saw %d", nc, l.In.C, r.maxCount)
			}
			a, c = append(a, r.maxA), append(c, 0)
		}
		A, C := make([]int64, len(a)), make([]int64, len(a))
		r.coefExp = numerics.FixCoefs(a, nil, c, A, nil, C)
		out := d.slot(in.C)
		for j := range nc {
			if err := putField(out, j*bnRecord+8, 3, false, A[j], "coefficient A"); err != nil {
				return err
			}
			if err := putField(out, j*bnRecord+11, 5, false, C[j], "coefficient C"); err != nil {
				return err
			}
		}
	case kernels.RoleNormRunning:
		if in.B != in.C || in.B.Bytes != 8*nc {
			return fmt.Errorf("running statistics of %d bytes for %d channels", in.B.Bytes, nc)
		}
		run := d.slot(in.B)
		exp := ex - numerics.RunningFracBits
		old := r.run
		for j := range nc {
			mean, vr := int64(readAcc(run, 2*j)), int64(readAcc(run, 2*j+1))
			if old.Set && exp != old.Exp {
				sh := exp - old.Exp
				mean = numerics.Saturate(numerics.RoundShift(mean, sh), 32)
				vr = numerics.Saturate(numerics.RoundShift(vr, 2*sh), 32)
			}
			s1, s2 := sums(j)
			m, v := numerics.BatchMoments(n, s1, s2)
			if old.Set {
				mean, vr = int64(numerics.RunningUpdate(int32(mean), m)), int64(numerics.RunningUpdate(int32(vr), v))
			} else {
				mean, vr = numerics.Saturate(m, 32), numerics.Saturate(v, 32)
			}
			writeAcc(run, 2*j, int32(mean))
			writeAcc(run, 2*j+1, int32(vr))
		}
		r.runNext, r.runUpdated = numerics.RunningStats{Set: true, Exp: exp}, true
	case kernels.RoleNormGrads, kernels.RoleNormBackCoefs, kernels.RoleNormMax:
		ee, err := d.outErrExp(i)
		if err != nil {
			return err
		}
		gamma, err := d.readMat(in.B, kernels.Box{N0: 0, N1: 1, C0: c0, C1: c1}, L.Bits, "gamma")
		if err != nil {
			return err
		}
		a, b, c, dg := make([]float64, nc), make([]float64, nc), make([]float64, nc), make([]float64, nc)
		su := make([]int64, nc)
		for j := range nc {
			s1, s2 := sums(j)
			su[j] = field(rec, j*bnRecord+8, 4, false)
			sux := field(rec, j*bnRecord+12, 4, false)
			rs := numerics.NormInvStd(n, s1, s2, ex)
			scale := math.Ldexp(float64(gamma[j]), L.WExp+ee-ex)
			a[j], b[j], c[j], dg[j] = numerics.NormBackwardCoefs(n, float64(s1)/float64(n), rs, float64(su[j]), float64(sux), scale)
		}
		out := d.slot(in.C)
		whole := nc == int64(l.In.C)
		if f.Role == kernels.RoleNormMax {
			// The first of two loops over chunks of channels: the largest gradient and
			// coefficients.
			for j := range nc {
				r.maxGrad = max(r.maxGrad, math.Abs(dg[j]))
				r.maxBackA, r.maxBackB = max(r.maxBackA, math.Abs(a[j])), max(r.maxBackB, math.Abs(b[j]))
			}
			r.maxBackCount += nc
			return nil
		}
		if !whole {
			if r.maxBackCount != int64(l.In.C) {
				return fmt.Errorf("gradients of %d of %d channels, but the first loop saw %d", nc, l.In.C, r.maxBackCount)
			}
			dg, a, b, c = append(dg, r.maxGrad), append(a, r.maxBackA), append(b, r.maxBackB), append(c, 0)
		}
		if f.Role == kernels.RoleNormGrads {
			if in.C.Bytes != 8*nc {
				return fmt.Errorf("gradients of %d bytes for %d channels", in.C.Bytes, nc)
			}
			gw := make([]int32, len(dg))
			r.gammaGrad = ee + numerics.FixGrads(dg, gw)
			for j := range nc {
				writeAcc(out, j, gw[j])
				writeAcc(out, nc+j, int32(numerics.Saturate(su[j], 32)))
			}
			return nil
		}
		A, B, C := make([]int64, len(a)), make([]int64, len(a)), make([]int64, len(a))
		r.backCoefExp = numerics.FixCoefs(a, b, c, A, B, C)
		for j := range nc {
			o := j * bnRecord
			if err := putField(out, o, 3, false, A[j], "coefficient A"); err != nil {
				return err
			}
			if err := putField(out, o+3, 3, false, B[j], "coefficient B"); err != nil {
				return err
			}
			if err := putField(out, o+6, 8, false, C[j], "coefficient C"); err != nil {
				return err
			}
		}
	}
	return nil
}

// batchNormApply is y = A*x + C per channel, requantised with the output's delayed
// scale (and a fused ReLU).
func (d *Device) batchNormApply(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	w := int64(l.In.W)
	if _, err := chunkOperand(in.A, f.A, w, 1); err != nil {
		return err
	}
	if err := checkBox(in.C, f.C, w, "the output chunk"); err != nil {
		return err
	}
	x, rec, y := d.slot(in.A), d.slot(in.B), d.slot(in.C)
	acc := make([]int64, in.A.Bytes)
	for c := f.A.C0; c < f.A.C1; c++ {
		r := (c - f.N.C0) * bnRecord
		A, C := field(rec, r+8, 3, false), field(rec, r+11, 5, false)
		eachInChannel(f.A, w, c, func(k int64) { acc[k] = A*int64(int8(x[k])) + C })
	}
	out := make([]int8, len(acc))
	e, err := requantize64(acc, d.regs[i].coefExp, d.state.Fwd[i], &d.fwd[i], d.fusedReLU(i), out)
	if err != nil {
		return err
	}
	putInt8s(y, out)
	d.actExp[i], d.actSet[i] = e, true
	return nil
}

// batchNormGradStats accumulates per channel Σdy and Σdy*x of a chunk (dy and x back
// to back) into the records, from the pass's first chunk on.
func (d *Device) batchNormGradStats(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	w := int64(l.In.W)
	offs, err := chunkOperand(in.A, f.A, w, 2)
	if err != nil {
		return err
	}
	if in.B != in.C {
		return fmt.Errorf("sums that do not accumulate in place")
	}
	s, rec := d.slot(in.A), d.slot(in.C)
	dy, x := s[offs[0]:], s[offs[1]:]
	first := f.A.N0 == 0 && f.A.H0 == 0
	for c := f.A.C0; c < f.A.C1; c++ {
		r := (c - f.N.C0) * bnRecord
		var su, sux int64
		if !first {
			su, sux = field(rec, r+8, 4, false), field(rec, r+12, 4, false)
		}
		eachInChannel(f.A, w, c, func(k int64) {
			e := int64(int8(dy[k]))
			su += e
			sux += e * int64(int8(x[k]))
		})
		if err := putField(rec, r+8, 4, false, su, "Σdy"); err != nil {
			return err
		}
		if err := putField(rec, r+12, 4, false, sux, "Σdy*x"); err != nil {
			return err
		}
	}
	return nil
}

// batchNormBackward is dx = A*dy + B*x + C per channel, requantised with the delayed
// scale of the input's error.
func (d *Device) batchNormBackward(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	w := int64(l.In.W)
	offs, err := chunkOperand(in.A, f.A, w, 2)
	if err != nil {
		return err
	}
	if err := checkBox(in.C, f.C, w, "the error chunk"); err != nil {
		return err
	}
	s, rec, dx := d.slot(in.A), d.slot(in.B), d.slot(in.C)
	dy, x := s[offs[0]:], s[offs[1]:]
	acc := make([]int64, in.C.Bytes)
	for c := f.A.C0; c < f.A.C1; c++ {
		r := (c - f.N.C0) * bnRecord
		A, B, C := field(rec, r, 3, false), field(rec, r+3, 3, false), field(rec, r+6, 8, false)
		eachInChannel(f.A, w, c, func(k int64) { acc[k] = A*int64(int8(dy[k])) + B*int64(int8(x[k])) + C })
	}
	out := make([]int8, len(acc))
	e, err := requantize64(acc, d.regs[i].backCoefExp, d.state.Bwd[i], &d.bwd[i], false, out)
	if err != nil {
		return err
	}
	putInt8s(dx, out)
	d.setErr(i-1, e, dx, f.C, w)
	return nil
}

// layerNormScale is layer normalisation's per-position step: forward, the
// coefficients of x_hat = A*x + C of every position from its sums (one exponent for
// the batch) and the parameters after them; backward, the parameters after the saved
// coefficients.
func (d *Device) layerNormScale(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	L := &d.state.Layers[d.weights[i]]
	ch := int64(l.In.C)
	pos := f.N.Hi - f.N.Lo
	all := int64(d.prog.Batch) * int64(l.In.H*l.In.W)
	regs := &d.regs[i]
	if err := records(in.A, pos, lnRecord, "records"); err != nil {
		return err
	}
	if f.Role != kernels.RoleNormMax {
		if err := records(in.C, pos+ch, lnRecord, "records"); err != nil {
			return err
		}
	}
	gamma, beta, err := d.params(in.B, l, L, 0, ch)
	if err != nil {
		return err
	}
	out := d.slot(in.C)
	if f.Role == kernels.RoleNormCoefs || f.Role == kernels.RoleNormMax {
		ex, err := d.inExp(i)
		if err != nil {
			return err
		}
		rec := d.slot(in.A)
		a, c := make([]float64, pos), make([]float64, pos)
		for r := range pos {
			s1, s2 := field(rec, r*lnRecord, 4, false), field(rec, r*lnRecord+4, 4, false)
			rs := numerics.NormInvStd(ch, s1, s2, ex)
			a[r], c[r] = numerics.NormForwardCoefs(float64(s1)/float64(ch), rs, 1, 0)
		}
		if f.Role == kernels.RoleNormMax {
			// The first of two passes: only the largest coefficient.
			for _, v := range a {
				regs.maxA = max(regs.maxA, math.Abs(v))
			}
			regs.maxCount += pos
			return nil
		}
		if pos != all {
			// One chunk of several: the exponent of the batch's largest coefficient,
			// which the first pass found, is the one FixCoefs gives with it included.
			if regs.maxCount != all {
				return fmt.Errorf("coefficients of %d of the batch's %d positions, but the first pass saw %d", pos, all, regs.maxCount)
			}
			a, c = append(a, regs.maxA), append(c, 0)
		}
		A, C := make([]int64, len(a)), make([]int64, len(a))
		regs.coefExp = numerics.FixCoefs(a, nil, c, A, nil, C)
		for r := range pos {
			if err := putField(out, r*lnRecord, 4, false, A[r], "coefficient A"); err != nil {
				return err
			}
			if err := putField(out, r*lnRecord+4, 4, false, C[r], "coefficient C"); err != nil {
				return err
			}
		}
	}
	for j := range ch {
		o := (pos + j) * lnRecord
		var b int64
		if beta != nil {
			b = int64(beta[j])
		}
		writeAcc(out, o/4, gamma[j])
		writeAcc(out, o/4+1, int32(b))
	}
	return nil
}

// lnChunk checks a layer normalisation chunk (whole examples, count tensors back to
// back) and returns where each tensor starts.
func lnChunk(in *kernels.Instr, l *models.Layer, count int64) ([]int64, error) {
	if err := lnBoxes(in.Fn, l); err != nil {
		return nil, err
	}
	return chunkOperand(in.A, in.Fn.A, int64(l.In.W), count)
}

// lnBoxes checks that a layer normalisation chunk holds whole examples of layer l and
// its records are their positions.
func lnBoxes(f *kernels.FuncDesc, l *models.Layer) error {
	positions := int64(l.In.H * l.In.W)
	if f.A.C0 != 0 || f.A.C1 != int64(l.In.C) || f.A.H0 != 0 || f.A.H1 != int64(l.In.H) || f.N.Lo != f.A.N0*positions || f.N.Hi != f.A.N1*positions {
		return fmt.Errorf("layer normalisation chunk %v with records %v", f.A, f.N)
	}
	return nil
}

// lnRow gathers the channels of position p of example n of a chunk (channel-major
// box of rows w wide) from slot s.
func lnRow[T int8 | int64](s []byte, b kernels.Box, w, n, p int64, row []T) {
	for c := range int64(len(row)) {
		row[c] = T(int8(s[actIndex(b, w, n, c, p/w, p%w)]))
	}
}

// lnPut scatters row, the channels of position p of example n, into a chunk's values
// acc (the inverse of lnRow).
func lnPut(acc []int64, b kernels.Box, w, n, p int64, row []int64) {
	for c, v := range row {
		acc[actIndex(b, w, n, int64(c), p/w, p%w)] = v
	}
}

// layerNormApply is y = gamma*x_hat + beta with x_hat = A*x + C per position
// (numerics.RowAffine, numerics.ScaleShift), requantised with the output's delayed
// scale.
func (d *Device) layerNormApply(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	L := &d.state.Layers[d.weights[i]]
	offs, err := lnChunk(in, l, 1)
	if err != nil {
		return err
	}
	if err := checkBox(in.C, f.C, int64(l.In.W), "the output chunk"); err != nil {
		return err
	}
	ch, w := int64(l.In.C), int64(l.In.W)
	positions := int64(l.In.H) * w
	pos := f.N.Hi - f.N.Lo
	rec := d.slot(in.B)
	if err := records(in.B, pos+ch, lnRecord, "records"); err != nil {
		return err
	}
	gamma, beta := make([]int32, ch), make([]int32, ch)
	for j := range ch {
		gamma[j], beta[j] = readAcc(rec, 2*(pos+j)), readAcc(rec, 2*(pos+j)+1)
	}
	if l.BiasParams() == 0 {
		beta = nil
	}
	e := d.regs[i].coefExp + L.WExp
	x, y := d.slot(in.A)[offs[0]:], d.slot(in.C)
	acc := make([]int64, in.C.Bytes)
	row := make([]int8, ch)
	xhat, a := make([]int64, ch), make([]int64, ch)
	for n := f.A.N0; n < f.A.N1; n++ {
		for p := range positions {
			r := (n-f.A.N0)*positions + p
			A, C := int64(readAcc(rec, 2*r)), int64(readAcc(rec, 2*r+1))
			lnRow(x, f.A, w, n, p, row)
			numerics.RowAffine(row, nil, int(ch), []int64{A}, nil, []int64{C}, xhat)
			numerics.ScaleShift(xhat, gamma, beta, e-L.BExp, a)
			lnPut(acc, f.A, w, n, p, a)
		}
	}
	out := make([]int8, len(acc))
	oe, err := requantize64(acc, e, d.state.Fwd[i], &d.fwd[i], d.fusedReLU(i), out)
	if err != nil {
		return err
	}
	putInt8s(y, out)
	d.actExp[i], d.actSet[i] = oe, true
	return nil
}

// layerNormWGrad is the gradients of gamma (Σ dy*x_hat, exact, narrowed to int32 with
// numerics.Narrow32) and beta (Σ dy) over the whole batch.
func (d *Device) layerNormWGrad(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	offs, err := lnChunk(in, l, 2)
	if err != nil {
		return err
	}
	ch, w := int64(l.In.C), int64(l.In.W)
	positions := int64(l.In.H) * w
	all := int64(d.prog.Batch) * positions
	whole := f.N.Lo == 0 && f.N.Hi == all
	// The whole batch at once: dgamma and dbeta as int32 planes. A chunk of several:
	// dgamma's exact sum as int64, then dbeta's as int32, accumulated from the first
	// chunk on (layerNormNarrow finishes them).
	if (whole && in.C.Bytes != 8*ch) || (!whole && in.C.Bytes != 12*ch) {
		return fmt.Errorf("gradients of %d bytes for %d channels", in.C.Bytes, ch)
	}
	s, rec := d.slot(in.A), d.slot(in.B)
	dy, x := s[offs[0]:], s[offs[1]:]
	gsum, gb := make([]int64, ch), make([]int64, ch)
	out := d.slot(in.C)
	if !whole && f.N.Lo > 0 {
		lnPartialGrads(out, gsum, gb)
	}
	xr, dr, xhat := make([]int8, ch), make([]int8, ch), make([]int64, ch)
	for n := f.A.N0; n < f.A.N1; n++ {
		for p := range positions {
			r := (n-f.A.N0)*positions + p
			A, C := int64(readAcc(rec, 2*r)), int64(readAcc(rec, 2*r+1))
			lnRow(x, f.A, w, n, p, xr)
			lnRow(dy, f.A, w, n, p, dr)
			numerics.RowAffine(xr, nil, int(ch), []int64{A}, nil, []int64{C}, xhat)
			for c, e := range dr {
				gsum[c] += int64(e) * xhat[c]
				gb[c] += int64(e)
			}
		}
	}
	if !whole {
		for c := range ch {
			if err := putField(out, 8*c, 8, false, gsum[c], "Σdy*x_hat"); err != nil {
				return err
			}
			if err := putField(out, 8*ch+4*c, 4, false, gb[c], "Σdy"); err != nil {
				return err
			}
		}
		return nil
	}
	return d.layerNormGrads(i, gsum, gb, out)
}

// layerNormGrads writes layer normalisation's gradients: gamma's exact sums narrowed
// to int32 with one shift (numerics.Narrow32), beta's saturated to int32.
func (d *Device) layerNormGrads(i int, gsum, gb []int64, out []byte) error {
	ee, err := d.outErrExp(i)
	if err != nil {
		return err
	}
	ch := int64(len(gsum))
	gw := make([]int32, ch)
	d.regs[i].gammaGrad = ee + d.regs[i].coefExp + numerics.Narrow32(gsum, gw)
	for c := range ch {
		writeAcc(out, c, gw[c])
		writeAcc(out, ch+c, int32(numerics.Saturate(gb[c], 32)))
	}
	return nil
}

// layerNormNarrow finishes the gradients a layer normalisation of several chunks
// accumulated (see layerNormWGrad).
func (d *Device) layerNormNarrow(in *kernels.Instr) error {
	i := int(in.Layer)
	ch := int64(d.net.Layers[i].In.C)
	if in.A.Bytes != 12*ch || in.C.Bytes != 8*ch || in.A.Offset != in.C.Offset || in.A.Buffer != in.C.Buffer {
		return fmt.Errorf("narrowing %d bytes of gradients into %d for %d channels", in.A.Bytes, in.C.Bytes, ch)
	}
	gsum, gb := make([]int64, ch), make([]int64, ch)
	lnPartialGrads(d.slot(in.A), gsum, gb)
	return d.layerNormGrads(i, gsum, gb, d.slot(in.C))
}

// lnPartialGrads reads the gradients a layer normalisation of several chunks has
// accumulated in s (see layerNormWGrad): dgamma's sums into gsum, dbeta's into gb.
func lnPartialGrads(s []byte, gsum, gb []int64) {
	ch := int64(len(gsum))
	for c := range ch {
		gsum[c], gb[c] = field(s, 8*c, 8, false), int64(readAcc(s, 2*ch+c))
	}
}

// layerNormDGradStats takes per position Σu and Σu*x, u = gamma*dy.
func (d *Device) layerNormDGradStats(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	offs, err := lnChunk(in, l, 2)
	if err != nil {
		return err
	}
	ch, w := int64(l.In.C), int64(l.In.W)
	positions := int64(l.In.H) * w
	pos := f.N.Hi - f.N.Lo
	s, rec, out := d.slot(in.A), d.slot(in.B), d.slot(in.C)
	if err := records(in.B, pos+ch, lnRecord, "records"); err != nil {
		return err
	}
	if err := records(in.C, pos, lnRecord, "sums"); err != nil {
		return err
	}
	dy, x := s[offs[0]:], s[offs[1]:]
	xr, dr := make([]int8, ch), make([]int8, ch)
	for n := f.A.N0; n < f.A.N1; n++ {
		for p := range positions {
			r := (n-f.A.N0)*positions + p
			lnRow(x, f.A, w, n, p, xr)
			lnRow(dy, f.A, w, n, p, dr)
			var su, sux int64
			for c := range ch {
				u := int64(readAcc(rec, 2*(pos+c))) * int64(dr[c])
				su += u
				sux += u * int64(xr[c])
			}
			if err := putField(out, r*lnRecord, 4, false, su, "Σu"); err != nil {
				return err
			}
			if err := putField(out, r*lnRecord+4, 4, false, sux, "Σu*x"); err != nil {
				return err
			}
		}
	}
	if f.Role == kernels.RoleNormMax {
		// The first of two passes: the largest coefficients of dx.
		a, b, _, err := d.layerNormBackCoefs(in, out)
		if err != nil {
			return err
		}
		regs := &d.regs[i]
		for r := range a {
			regs.maxBackA, regs.maxBackB = max(regs.maxBackA, math.Abs(a[r])), max(regs.maxBackB, math.Abs(b[r]))
		}
		regs.maxBackCount += pos
	}
	return nil
}

// layerNormBackCoefs computes the coefficients of dx = a*u + b*x + c for the positions
// of a backward chunk (numerics.NormBackwardCoefs): the sums of x from x itself, those
// of u from the sums records.
func (d *Device) layerNormBackCoefs(in *kernels.Instr, sums []byte) (a, b, c []float64, err error) {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	L := &d.state.Layers[d.weights[i]]
	ch, w := int64(l.In.C), int64(l.In.W)
	positions := int64(l.In.H) * w
	pos := f.N.Hi - f.N.Lo
	ex, err := d.inExp(i)
	if err != nil {
		return nil, nil, nil, err
	}
	ee, err := d.outErrExp(i)
	if err != nil {
		return nil, nil, nil, err
	}
	x := d.slot(in.A)[boxBytes(f.A, w):]
	scale := math.Ldexp(1, L.WExp+ee-ex)
	a, b, c = make([]float64, pos), make([]float64, pos), make([]float64, pos)
	xr := make([]int8, ch)
	for r := range pos {
		n, p := f.A.N0+r/positions, r%positions
		lnRow(x, f.A, w, n, p, xr)
		var s1, s2 int64
		for _, v := range xr {
			s1 += int64(v)
			s2 += int64(v) * int64(v)
		}
		su := field(sums, r*lnRecord, 4, false)
		sux := field(sums, r*lnRecord+4, 4, false)
		rs := numerics.NormInvStd(ch, s1, s2, ex)
		a[r], b[r], c[r], _ = numerics.NormBackwardCoefs(ch, float64(s1)/float64(ch), rs, float64(su), float64(sux), scale)
	}
	return a, b, c, nil
}

// layerNormBackward is dx = A*u + B*x + C per position (numerics.NormBackwardCoefs,
// fixed at one exponent for the batch), u = gamma*dy, requantised with the delayed
// scale of the input's error. The sums of x come from x itself.
func (d *Device) layerNormBackward(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	offs, err := lnChunk(in, l, 2)
	if err != nil {
		return err
	}
	if err := checkBox(in.C, f.C, int64(l.In.W), "the error chunk"); err != nil {
		return err
	}
	ch, w := int64(l.In.C), int64(l.In.W)
	positions := int64(l.In.H) * w
	pos := f.N.Hi - f.N.Lo
	s, rec := d.slot(in.A), d.slot(in.B)
	if err := records(in.B, 2*pos+ch, lnRecord, "records"); err != nil {
		return err
	}
	dy, x := s[offs[0]:], s[offs[1]:]
	gamma := make([]int64, ch)
	for c := range ch {
		gamma[c] = int64(readAcc(rec, 2*(pos+c)))
	}
	a, b, c, err := d.layerNormBackCoefs(in, rec[(pos+ch)*lnRecord:])
	if err != nil {
		return err
	}
	if all := int64(d.prog.Batch) * positions; pos != all {
		// One chunk of several: the exponent of the batch's largest coefficients,
		// found by the first pass.
		regs := &d.regs[i]
		if regs.maxBackCount != all {
			return fmt.Errorf("the input's error at %d of the batch's %d positions, but the first pass saw %d", pos, all, regs.maxBackCount)
		}
		a, b, c = append(a, regs.maxBackA), append(b, regs.maxBackB), append(c, 0)
	}
	xr := make([]int8, ch)
	A, B, C := make([]int64, len(a)), make([]int64, len(a)), make([]int64, len(a))
	e := numerics.FixCoefs(a, b, c, A, B, C)
	acc := make([]int64, in.C.Bytes)
	u, dr, row := make([]int64, ch), make([]int8, ch), make([]int64, ch)
	for r := range pos {
		n, p := f.A.N0+r/positions, r%positions
		lnRow(x, f.A, w, n, p, xr)
		lnRow(dy, f.A, w, n, p, dr)
		for k := range ch {
			u[k] = gamma[k] * int64(dr[k])
		}
		numerics.RowAffine(u, xr, int(ch), A[r:r+1], B[r:r+1], C[r:r+1], row)
		lnPut(acc, f.A, w, n, p, row)
	}
	out := make([]int8, len(acc))
	oe, err := requantize64(acc, e, d.state.Bwd[i], &d.bwd[i], false, out)
	if err != nil {
		return err
	}
	dx := d.slot(in.C)
	putInt8s(dx, out)
	d.setErr(i-1, oe, dx, f.C, w)
	return nil
}
