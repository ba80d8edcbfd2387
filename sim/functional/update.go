package functional

import (
	"errors"
	"fmt"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// gradElem is one gradient value an update or the controller's statistic reads: its
// parameter's index in the tensor's canonical layout, its position among the values
// of the instruction's parameter box, and its segment (see gradRegs).
type gradElem struct {
	idx, pos int64
	g        int32
	seg      int
}

// gradTile lists the gradients of an update or statistic instruction of a layer's
// weights (bias false) or bias: the accumulators of a backward-weight GEMM tile (M
// over a weight row's columns, N over rows), a normalisation's per-channel plane, a
// position embedding's rows, or a bias row.
func (d *Device) gradTile(in *kernels.Instr, bias bool) ([]gradElem, error) {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	w := d.weights[i]
	gr := &d.grad[w]
	cols := int64(gr.cols)
	var out []gradElem
	row := func(n int64) []gradElem { return make([]gradElem, 0, n) }
	switch {
	case bias || l.Kind == models.BatchNorm || l.Kind == models.LayerNorm:
		n := f.B.C1 - f.B.C0
		if f.B.N1-f.B.N0 != 1 || f.N.Hi-f.N.Lo != n {
			return nil, fmt.Errorf("a parameter row %v for columns %v", f.B, f.N)
		}
		acc, err := d.accs(in.A, n, "the gradient row")
		if err != nil {
			return nil, err
		}
		out = row(n)
		for j, g := range acc {
			c := f.B.C0 + int64(j)
			seg := 0
			if l.Kind == models.Attention {
				seg = int(c / int64(l.In.C))
			}
			out = append(out, gradElem{idx: c, pos: int64(j), g: g, seg: seg})
		}
	case l.Kind == models.PosEmbedding || l.Kind == models.Embedding: // whole rows of the table
		rows := f.B.N1 - f.B.N0
		if f.B.C0 != 0 || f.B.C1 != cols {
			return nil, fmt.Errorf("table rows %v", f.B)
		}
		acc, err := d.accs(in.A, rows*cols, "the gradient rows")
		if err != nil {
			return nil, err
		}
		out = row(rows * cols)
		for j, g := range acc {
			out = append(out, gradElem{idx: f.B.N0*cols + int64(j), pos: int64(j), g: g})
		}
	default: // a backward-weight GEMM's tile
		M, N := f.M.Hi-f.M.Lo, f.N.Hi-f.N.Lo
		if f.B.N1-f.B.N0 != N || f.B.C1-f.B.C0 != M {
			return nil, fmt.Errorf("parameter box %v for a %dx%d gradient tile", f.B, M, N)
		}
		acc, err := d.accs(in.A, M*N, "the gradient tile")
		if err != nil {
			return nil, err
		}
		out = row(M * N)
		for mi := range M {
			for ni := range N {
				r := f.B.N0 + ni
				out = append(out, gradElem{idx: r*cols + f.B.C0 + mi, pos: ni*M + mi, g: acc[mi*N+ni], seg: int(r / int64(gr.segRows))})
			}
		}
	}
	for _, e := range out {
		if e.seg >= len(gr.segExp) && !bias {
			return nil, fmt.Errorf("row of segment %d of %d", e.seg, len(gr.segExp))
		}
	}
	return out, nil
}

// gradExp is the exponent of weight layer i's gradient (bias false) or bias gradient
// in the segment seg: the exponents of the two operands whose products it sums.
func (d *Device) gradExp(in *kernels.Instr, bias bool, seg int) (int, error) {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	r := &d.regs[i]
	if l.Kind == models.Attention && !bias && (seg < 3) == (in.Fn.Role == kernels.RoleOut) {
		return 0, fmt.Errorf("segment %d updated by the %s projection", seg, in.Fn.Role)
	}
	switch l.Kind {
	case models.Attention:
		if seg < 3 {
			if bias {
				return r.dqkv, nil
			}
			x, err := d.inExp(i)
			return x + r.dqkv, err
		}
		e, err := d.outErrExp(i)
		if bias {
			return e, err
		}
		return r.o + e, err
	case models.BatchNorm, models.LayerNorm:
		if bias {
			return d.outErrExp(i)
		}
		return r.gammaGrad, nil
	case models.Linear, models.Conv2D:
		e, err := d.outErrExp(i)
		if bias || err != nil {
			return e, err
		}
		x, err := d.inExp(i)
		return x + e, err
	}
	return d.outErrExp(i) // embeddings: sums of errors
}

// capture records weight layer w's gradient value at canonical index idx.
func (d *Device) capture(w int, idx int64, g int32, exp int) {
	gr := &d.grad[w]
	if gr.grad == nil {
		gr.grad = make([]int32, len(d.state.Layers[w].W))
		gr.exp = make([]int, len(gr.grad))
		for k := range gr.exp {
			gr.exp[k] = exp // rows no token used keep a zero gradient at the layer's scale
		}
	}
	gr.grad[idx], gr.exp[idx] = g, exp
}

// gradStat adds the sum of |g| of a tile of weight gradients to the controller's
// statistic of their segment.
func (d *Device) gradStat(in *kernels.Instr) error {
	w := d.weights[in.Layer]
	gr := &d.grad[w]
	if in.Fn.Index.Bytes > 0 {
		sums, err := d.tokenGrads(in)
		if err != nil {
			return err
		}
		for _, t := range sums {
			gr.segAbs[0] += numerics.GradAbsSum(t.g)
		}
		e, err := d.gradExp(in, false, 0)
		gr.segExp[0], gr.segSet[0] = e, true
		return err
	}
	elems, err := d.gradTile(in, false)
	if err != nil {
		return err
	}
	for _, e := range elems {
		gr.segAbs[e.seg] += numerics.GradAbsSum([]int32{e.g})
		if !gr.segSet[e.seg] {
			x, err := d.gradExp(in, false, e.seg)
			if err != nil {
				return err
			}
			gr.segExp[e.seg], gr.segSet[e.seg] = x, true
		}
	}
	return nil
}

// update applies RCT's integer update (numerics.UpdateInt) to a tile of a layer's
// weights or bias: each value with its gradient, the shift of its segment's scale and
// the random bits of its canonical index.
func (d *Device) update(in *kernels.Instr) error {
	i := int(in.Layer)
	f := in.Fn
	w := d.weights[i]
	L := &d.state.Layers[w]
	st := d.state
	if in.B != in.C {
		return errors.New("an update that does not write the parameters it reads")
	}
	if f.Index.Bytes > 0 {
		return d.embeddingUpdate(in)
	}
	bias := f.Role == kernels.RoleBias
	elems, err := d.gradTile(in, bias)
	if err != nil {
		return err
	}
	vals, err := d.readMat(in.B, f.B, L.Bits, "the parameter tile")
	if err != nil {
		return err
	}
	key := d.updateKey(i, bias)
	shifts, err := d.updateShifts(in, bias, elems, stepExp(L, bias))
	if err != nil {
		return err
	}
	for _, e := range elems {
		numerics.UpdateInt(vals[e.pos:e.pos+1], []int32{e.g}, st.LR.Mant, shifts[e.seg], L.Bits, st.Rounding, key, uint64(e.idx))
	}
	packRows(d.slot(in.C), f.B, L.Bits, vals)
	return nil
}

// updateKey is the key of the random bits of this step's update of weight layer i's
// weights (bias false) or bias: the trainer's stream for them.
func (d *Device) updateKey(i int, bias bool) uint64 {
	tensor := 0
	if bias {
		tensor = 1
	}
	return numerics.RandKey(d.state.Seed, numerics.RandStream(d.state.Step, i, tensor))
}

// stepExp is the exponent of the grid step of L's weights (bias false) or bias.
func stepExp(L *numerics.IntLayer, bias bool) int {
	if bias {
		return L.BExp
	}
	return L.WExp
}

// updateShifts is the update shift of each segment the gradients elems of a tile of
// weight layer in.Layer's weights (bias false) or bias fall in, for parameters of step
// 2^stepExp. For the weights it also records each segment's gradient exponent and
// each gradient (capture), which the controller and the device check read.
func (d *Device) updateShifts(in *kernels.Instr, bias bool, elems []gradElem, stepExp int) ([4]int, error) {
	w := d.weights[in.Layer]
	var shifts [4]int
	var known [4]bool
	for _, e := range elems {
		if !known[e.seg] {
			x, err := d.gradExp(in, bias, e.seg)
			if err != nil {
				return shifts, err
			}
			shifts[e.seg], known[e.seg] = d.updateShift(x, stepExp), true
			if !bias {
				d.grad[w].segExp[e.seg], d.grad[w].segSet[e.seg] = x, true
			}
		}
		if !bias {
			d.capture(w, e.idx, e.g, d.grad[w].segExp[e.seg])
		}
	}
	return shifts, nil
}

// updateShift is the integer update's shift (numerics.UpdateShift; without
// quantization-aware scaling for the state's NoQAS ablation).
func (d *Device) updateShift(gradExp, stepExp int) int {
	if d.state.NoQAS {
		return numerics.UpdateShiftNoQAS(d.state.LR, gradExp, stepExp)
	}
	return numerics.UpdateShift(d.state.LR, gradExp, stepExp)
}

// tokenGrad is the gradient of one embedding row in a chunk: the sum of the errors of
// every position of the chunk that holds its token, and those positions (rows of the
// gathered slot).
type tokenGrad struct {
	id   int
	g    []int32
	rows []int64
}

// tokenGrads sums an embedding's error chunk per token: the rows of the table the
// chunk's tokens use, each once (the trainer sums a token's errors before its update).
func (d *Device) tokenGrads(in *kernels.Instr) ([]tokenGrad, error) {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	f := in.Fn
	dim := int64(l.Out.C)
	ids := d.sram[f.Index.Buffer][f.Index.Offset:f.Index.End()]
	imgs, toks := f.A.N1-f.A.N0, f.A.H1-f.A.H0
	if int64(len(ids)) != imgs*toks || f.A.C0 != 0 || f.A.C1 != dim {
		return nil, fmt.Errorf("%d token ids for an error box %v", len(ids), f.A)
	}
	if err := checkBox(in.A, f.A, 1, "the error chunk"); err != nil {
		return nil, err
	}
	dy := d.slot(in.A)
	var out []tokenGrad
	at := map[int]int{}
	for n := range imgs {
		for t := range toks {
			r := n*toks + t
			id := int(ids[r])
			if id >= l.Vocab {
				return nil, fmt.Errorf("token id %d outside the vocabulary of %d", id, l.Vocab)
			}
			k, ok := at[id]
			if !ok {
				k = len(out)
				at[id] = k
				out = append(out, tokenGrad{id: id, g: make([]int32, dim)})
			}
			tg := &out[k]
			tg.rows = append(tg.rows, r)
			for e := range dim {
				tg.g[e] += int32(int8(dy[(n*dim+e)*toks+t]))
			}
		}
	}
	return out, nil
}

// embeddingUpdate updates the table rows a chunk's tokens use, each once with the sum
// of its errors, and writes the new row to every gathered copy (the scatter stores
// them all). A row updated by an earlier chunk of the step would be updated twice,
// where the trainer sums all its errors first: that is an error.
func (d *Device) embeddingUpdate(in *kernels.Instr) error {
	i := int(in.Layer)
	l := &d.net.Layers[i]
	w := d.weights[i]
	L := &d.state.Layers[w]
	st := d.state
	gr := &d.grad[w]
	dim := int64(l.Out.C)
	sums, err := d.tokenGrads(in)
	if err != nil {
		return err
	}
	pitch := (dim*int64(L.Bits) + 7) / 8
	rows := int64(len(d.sram[in.Fn.Index.Buffer][in.Fn.Index.Offset:in.Fn.Index.End()]))
	if in.B.Bytes != rows*pitch {
		return fmt.Errorf("%d bytes of gathered rows for %d tokens", in.B.Bytes, rows)
	}
	if gr.tokens == nil {
		gr.tokens = map[int]int{}
	}
	gr.chunk++
	e, err := d.gradExp(in, false, 0)
	if err != nil {
		return err
	}
	gr.segExp[0], gr.segSet[0] = e, true
	sh := d.updateShift(e, L.WExp)
	key := d.updateKey(i, false)
	s := d.slot(in.B)
	vals := make([]int32, dim)
	for _, t := range sums {
		if c, ok := gr.tokens[t.id]; ok && c != gr.chunk {
			return fmt.Errorf("token %d's row is updated by two chunks of the batch, but integer training sums all its errors before one update", t.id)
		}
		gr.tokens[t.id] = gr.chunk
		numerics.UnpackBits(s[t.rows[0]*pitch:], L.Bits, 0, vals)
		numerics.UpdateInt(vals, t.g, st.LR.Mant, sh, L.Bits, st.Rounding, key, uint64(int64(t.id)*dim))
		for _, r := range t.rows {
			numerics.PackBits(vals, L.Bits, s[r*pitch:(r+1)*pitch])
		}
		for k, g := range t.g {
			d.capture(w, int64(t.id)*dim+int64(k), g, e)
		}
	}
	return nil
}

// tokenSums adds a chunk's errors into the gradient-table rows of its tokens, gathered
// in index order: each token's rows get its row's sum once, every gathered copy the
// same (the scatter stores them all).
func (d *Device) tokenSums(in *kernels.Instr) error {
	l := &d.net.Layers[in.Layer]
	dim := int64(l.Out.C)
	sums, err := d.tokenGrads(in)
	if err != nil {
		return err
	}
	rows := int64(len(d.sram[in.Fn.Index.Buffer][in.Fn.Index.Offset:in.Fn.Index.End()]))
	if in.B != in.C || in.C.Bytes != rows*dim*4 {
		return fmt.Errorf("%d bytes of gradient rows for %d tokens of %d values", in.C.Bytes, rows, dim)
	}
	s := d.slot(in.C)
	for _, t := range sums {
		for e := range dim {
			v := int64(readAcc(s, t.rows[0]*dim+e)) + int64(t.g[e])
			if v != int64(int32(v)) {
				return fmt.Errorf("the gradient of token %d overflows its 32-bit accumulator", t.id)
			}
			for _, r := range t.rows {
				writeAcc(s, r*dim+e, int32(v))
			}
		}
	}
	return nil
}

// clearGrad clears gradient rows after their update (a copy from no source).
func (d *Device) clearGrad(in *kernels.Instr) error {
	clear(d.slot(in.C))
	return nil
}
