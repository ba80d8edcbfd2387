package functional

import (
	"fmt"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// Attention on the device: the projections run as 1x1 convolutions over the sequence
// (gemm.go), the per-head products as GEMMs of one (example, head) each, and their
// epilogues here and in ops.go. The scores are exact integer products; the 1/sqrt(dh)
// scaling is part of their exponent (dh a power of four).

// headScaleExp is the exponent of sqrt(dh), the scores' scaling of attention layer l
// (dh its channels per head).
func headScaleExp(l *models.Layer) int { return log2(int64(l.In.C/l.Heads)) / 2 }

// softmax turns a tile of scores (whole rows: every key of the tile's queries) into
// int8 probabilities with step 2^numerics.ProbExp (numerics.SoftmaxProbs), the later
// keys of a causal layer masked.
func (d *Device) softmax(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	t := int64(l.In.W)
	M := f.M.Hi - f.M.Lo
	if f.N.Hi-f.N.Lo != t || f.C.C0 != 0 || f.C.C1 != t || f.C.N1-f.C.N0 != M || in.C.Bytes != M*t {
		return fmt.Errorf("a softmax tile of %v queries and %v keys into %v (%d bytes)", f.M, f.N, f.C, in.C.Bytes)
	}
	scores, err := d.accs(in.A, M*t, "the scores")
	if err != nil {
		return err
	}
	r := &d.regs[i]
	exp := r.qkv[0] + r.qkv[1] - headScaleExp(l)
	out := make([]int8, t)
	p := d.slot(in.C)
	for mi := range M {
		q := f.M.Lo + mi
		valid := t
		if l.Causal {
			valid = q + 1
		}
		numerics.SoftmaxProbs(scores[mi*t:(mi+1)*t], exp, int(valid), out)
		putInt8s(p[mi*t:], out)
	}
	return nil
}

// softmaxBackward turns the error of a tile's probabilities (dP, exact integers) into
// the error of its scores, dS = P*(dP*2^7 - Σ P*dP) exactly (numerics.SoftmaxGradInt),
// requantised with the delayed scale of dS.
func (d *Device) softmaxBackward(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	t := int64(l.In.W)
	M := f.M.Hi - f.M.Lo
	if f.N.Hi-f.N.Lo != t || in.B.Bytes != M*t || in.C.Bytes != M*t || f.B != f.C {
		return fmt.Errorf("a softmax backward tile of %v queries and %v keys, probabilities %v (%d bytes) into %v (%d bytes)", f.M, f.N, f.B, in.B.Bytes, f.C, in.C.Bytes)
	}
	dp, err := d.accs(in.A, M*t, "the probabilities' error")
	if err != nil {
		return err
	}
	p := int8s(d.slot(in.B))
	ds := make([]int64, M*t)
	row := make([]int64, t)
	for mi := range M {
		for k := range t {
			row[k] = int64(dp[mi*t+k])
		}
		numerics.SoftmaxGradInt(p[mi*t:(mi+1)*t], row, ds[mi*t:(mi+1)*t])
	}
	r := &d.regs[i]
	accExp := r.do + r.qkv[2] + 2*numerics.ProbExp - headScaleExp(l)
	out := make([]int8, len(ds))
	reg := numerics.AttnScaleDS
	if r.ds, err = requantize64(ds, accExp, d.state.Inner[i][reg], &d.inner[i][reg], false, out); err != nil {
		return err
	}
	c := d.slot(in.C)
	putInt8s(c, out)
	return nil
}
