package functional

import (
	"fmt"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// gemm executes a GEMM tile: it gathers the tile's operands from their SRAM boxes into
// an M x K and an N x K matrix of integers (the im2col rows the array's feeders form,
// zeros in the padding), multiplies them exactly and adds the int32 accumulators
// (numerics.GEMMInt: exact sums, saturated to int32).
func (d *Device) gemm(in *kernels.Instr) error {
	f := in.Fn
	M, N, K := in.M, in.N, in.K
	if f.M.Hi-f.M.Lo != M || f.N.Hi-f.N.Lo != N || f.K.Hi-f.K.Lo != K {
		return fmt.Errorf("tiles %v, %v, %v do not give %dx%dx%d", f.M, f.N, f.K, M, N, K)
	}
	a := grow(&d.scratch.a, M*K)
	bt := grow(&d.scratch.b, N*K)
	var err error
	switch f.Role {
	case kernels.RoleNone, kernels.RoleQKV, kernels.RoleOut:
		err = d.convOperands(in, a, bt)
	default:
		err = d.headOperands(in, a, bt)
	}
	if err != nil {
		return err
	}
	if in.C.Bytes != 4*M*N {
		return fmt.Errorf("accumulators of %d bytes for a %dx%d tile", in.C.Bytes, M, N)
	}
	c := d.slot(in.C)
	for mi := range M {
		arow := a[mi*K : (mi+1)*K]
		for ni := range N {
			brow := bt[ni*K : (ni+1)*K]
			var s int64
			for k, x := range arow {
				s += int64(x) * int64(brow[k])
			}
			if in.Accumulate {
				s += int64(readAcc(c, mi*N+ni))
			}
			writeAcc(c, mi*N+ni, int32(numerics.Saturate(s, 32)))
		}
	}
	return nil
}

// convOperands gathers the operands of a weight layer's product seen as a convolution
// (linear layers, convolutions, grouped or not, attention's projections): a = M x K,
// bt = N x K.
func (d *Device) convOperands(in *kernels.Instr, a, bt []int32) error {
	l := &d.net.Layers[in.Layer]
	f := in.Fn
	g := layerGeom(l, f.Role)
	M, N, K := in.M, in.N, in.K
	khkw := g.kh * g.kw
	grp := f.Group
	if grp < 0 || grp >= g.groups {
		return fmt.Errorf("group %d of a convolution of %d groups", grp, g.groups)
	}
	sa, sb := d.slot(in.A), d.slot(in.B)
	// Per reduction index: the kernel tap and the channel (absolute) it reads.
	type tap struct{ c, dy, dx, r int64 }
	var taps []tap
	if in.Phase != models.BackwardWeight { // there the reduction is over positions
		taps = make([]tap, K)
		for ki := range K {
			kk := f.K.Lo + ki
			r := kk % khkw
			taps[ki] = tap{c: kk / khkw, dy: r / g.kw, dx: r % g.kw, r: r}
		}
	}
	switch in.Phase {
	case models.Forward:
		if err := checkBox(in.A, f.A, g.w, "the input tile"); err != nil {
			return err
		}
		bw, err := d.readMat(in.B, f.B, in.WeightBits, "the weight tile")
		if err != nil {
			return err
		}
		bcols := f.B.C1 - f.B.C0
		if f.B.N1-f.B.N0 != N {
			return fmt.Errorf("weight tile of %d rows for %d outputs", f.B.N1-f.B.N0, N)
		}
		for mi := range M {
			img, oh, ow := spatial(f.M.Lo+mi, g.ho, g.wo)
			row := a[mi*K : (mi+1)*K]
			for ki, t := range taps {
				ih, iw := oh*g.s-g.padT+t.dy, ow*g.s-g.padL+t.dx
				if ih < 0 || ih >= g.h || iw < 0 || iw >= g.w {
					row[ki] = 0
					continue
				}
				c := grp*g.cinG() + t.c
				if !inBox(f.A, img, c, ih) {
					return fmt.Errorf("input (%d, %d, %d, %d) is outside the tile's box %v", img, c, ih, iw, f.A)
				}
				row[ki] = int32(actAt(sa, f.A, g.w, img, c, ih, iw))
			}
		}
		for ni := range N {
			for ki := range K {
				bt[ni*K+ki] = bw[ni*bcols+f.K.Lo+ki-f.B.C0]
			}
		}
	case models.BackwardData:
		bw, err := d.readMat(in.B, f.B, in.WeightBits, "the weight tile")
		if err != nil {
			return err
		}
		bcols := f.B.C1 - f.B.C0
		empty := f.A.Empty() || f.A.H1 <= f.A.H0
		if !empty {
			if err := checkBox(in.A, f.A, g.wo, "the error tile"); err != nil {
				return err
			}
		}
		for mi := range M {
			img, ih, iw := spatial(f.M.Lo+mi, g.h, g.w)
			row := a[mi*K : (mi+1)*K]
			for ki, t := range taps {
				row[ki] = 0
				th, tw := ih+g.padT-t.dy, iw+g.padL-t.dx
				if empty || th < 0 || tw < 0 || th%g.s != 0 || tw%g.s != 0 {
					continue
				}
				oh, ow := th/g.s, tw/g.s
				if oh >= g.ho || ow >= g.wo {
					continue
				}
				c := grp*g.coutG() + t.c
				if !inBox(f.A, img, c, oh) {
					return fmt.Errorf("error (%d, %d, %d, %d) is outside the tile's box %v", img, c, oh, ow, f.A)
				}
				row[ki] = int32(actAt(sa, f.A, g.wo, img, c, oh, ow))
			}
		}
		for ni := range N {
			ci := f.N.Lo + ni
			for ki, t := range taps {
				bt[ni*K+int64(ki)] = bw[(t.c-f.K.C0)*bcols+ci*khkw+t.r-f.B.C0]
			}
		}
	default: // backward-weight: A = input, B = output error, K over output positions
		if err := checkBox(in.A, f.A, g.w, "the input tile"); err != nil {
			return err
		}
		if err := checkBox(in.B, f.B, g.wo, "the error tile"); err != nil {
			return err
		}
		// Per output position of the reduction: its example's offset in each box, and
		// its row and column.
		type at struct{ img, oh, ow int64 }
		pos := make([]at, K)
		for ki := range K {
			img, oh, ow := spatial(f.K.Lo+ki, g.ho, g.wo)
			if img < f.A.N0 || img >= f.A.N1 || img < f.B.N0 || img >= f.B.N1 || oh < f.B.H0 || oh >= f.B.H1 {
				return fmt.Errorf("position (%d, %d, %d) is outside the tiles' boxes %v and %v", img, oh, ow, f.A, f.B)
			}
			pos[ki] = at{img, oh, ow}
		}
		for mi := range M {
			kk := f.M.Lo + mi
			r := kk % khkw
			c := grp*g.cinG() + kk/khkw
			if c < f.A.C0 || c >= f.A.C1 {
				return fmt.Errorf("input channel %d is outside the tile's box %v", c, f.A)
			}
			dy, dx := r/g.kw-g.padT, r%g.kw-g.padL
			row := a[mi*K : (mi+1)*K]
			for ki, p := range pos {
				ih, iw := p.oh*g.s+dy, p.ow*g.s+dx
				if ih < 0 || ih >= g.h || iw < 0 || iw >= g.w {
					row[ki] = 0
					continue
				}
				if ih < f.A.H0 || ih >= f.A.H1 {
					return fmt.Errorf("input row %d is outside the tile's box %v", ih, f.A)
				}
				row[ki] = int32(actAt(sa, f.A, g.w, p.img, c, ih, iw))
			}
		}
		for ni := range N {
			c := grp*g.coutG() + f.N.Lo + ni
			if c < f.B.C0 || c >= f.B.C1 {
				return fmt.Errorf("output channel %d is outside the tile's box %v", c, f.B)
			}
			row := bt[ni*K : (ni+1)*K]
			for ki, p := range pos {
				row[ki] = int32(actAt(sb, f.B, g.wo, p.img, c, p.oh, p.ow))
			}
		}
	}
	return nil
}

// headOperands gathers the operands of one of attention's per-head products. Q, K, V,
// the context and their errors are viewed with positions as rows ({channels, T, 1}),
// P and dS as matrices of a row per query; each product reads them as its role says.
func (d *Device) headOperands(in *kernels.Instr, a, bt []int32) error {
	f := in.Fn
	M, N, K := in.M, in.N, in.K
	sa, sb := d.slot(in.A), d.slot(in.B)
	// act reads (position, channel) of an activation box of one example; mat (row,
	// column) of an 8-bit matrix box.
	act := func(s []byte, b kernels.Box, pos, ch int64) int32 {
		return int32(int8(s[(ch-b.C0)*(b.H1-b.H0)+pos-b.H0]))
	}
	mat := func(s []byte, b kernels.Box, r, c int64) int32 { return int32(int8(s[(r-b.N0)*(b.C1-b.C0)+c-b.C0])) }
	actSize := func(o kernels.Operand, b kernels.Box, what string) error {
		if b.N1-b.N0 != 1 {
			return fmt.Errorf("%s box %v spans several examples", what, b)
		}
		return checkBox(o, b, 1, what)
	}
	matSize := func(o kernels.Operand, b kernels.Box, what string) error {
		if o.Bytes != (b.N1-b.N0)*(b.C1-b.C0) {
			return fmt.Errorf("%s holds %d bytes, its box %v needs %d", what, o.Bytes, b, (b.N1-b.N0)*(b.C1-b.C0))
		}
		return nil
	}
	var aMat, aT bool // A is a matrix (P or dS), transposed
	switch f.Role {
	case kernels.RoleContext, kernels.RoleDQ:
		aMat = true
	case kernels.RoleDV, kernels.RoleDK:
		aMat, aT = true, true
	}
	if aMat {
		if err := matSize(in.A, f.A, "the probabilities' tile"); err != nil {
			return err
		}
		for mi := range M {
			for ki := range K {
				if aT {
					a[mi*K+ki] = mat(sa, f.A, f.A.N0+ki, f.A.C0+mi)
				} else {
					a[mi*K+ki] = mat(sa, f.A, f.A.N0+mi, f.A.C0+ki)
				}
			}
		}
	} else {
		if err := actSize(in.A, f.A, "the A tile"); err != nil {
			return err
		}
		for mi := range M {
			for ki := range K {
				a[mi*K+ki] = act(sa, f.A, f.A.H0+mi, f.A.C0+ki)
			}
		}
	}
	if err := actSize(in.B, f.B, "the B tile"); err != nil {
		return err
	}
	// B is (channels x positions) for the scores and dP, else (positions x channels).
	keysAsColumns := f.Role == kernels.RoleScores || f.Role == kernels.RoleDP
	for ni := range N {
		for ki := range K {
			if keysAsColumns {
				bt[ni*K+ki] = act(sb, f.B, f.B.H0+ni, f.B.C0+ki)
			} else {
				bt[ni*K+ki] = act(sb, f.B, f.B.H0+ki, f.B.C0+ni)
			}
		}
	}
	return nil
}
