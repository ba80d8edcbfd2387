package train

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// newTestTrainer builds a trainer or fails the test.
func newTestTrainer(t *testing.T, net *models.Network, cfg Config) *Trainer {
	t.Helper()
	tr, err := NewTrainer(net, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestNITIUpdateIsUpdateNITI checks NITI's integer path against its definition: every
// weight layer's new weights, buffers and registers are numerics.UpdateNITI of the
// step's gradient accumulators with the shift of the previous registers.
func TestNITIUpdateIsUpdateNITI(t *testing.T) {
	for _, net := range []*models.Network{models.LeNet5(), gradCheckNets(t)[0]} {
		cfg := DefaultConfig(numerics.NITI)
		tr := newTestTrainer(t, net, cfg)
		type seen struct {
			w, b []gradSeg
		}
		var grads []seen
		tr.in.onGrad = func(layer int, w, b []gradSeg) {
			cp := func(s []gradSeg) []gradSeg {
				out := make([]gradSeg, len(s))
				for k, sg := range s {
					out[k] = gradSeg{sg.lo, slices.Clone(sg.grad), sg.exp}
				}
				return out
			}
			grads[layer] = seen{cp(w), cp(b)}
		}
		for s := range 3 {
			grads = make([]seen, len(tr.p.weights))
			before := tr.in.st.clone()
			x, y := randomBatchData(net, 4, uint64(s))
			tr.Step(x, y)
			for j := range tr.p.weights {
				want := before.Layers[j]
				for _, part := range []struct {
					vals []int32
					acc  []int16
					regs []scaleState
					segs []gradSeg
				}{{want.W, want.AccW, want.GradW, grads[j].w}, {want.B, want.AccB, want.GradB, grads[j].b}} {
					for k, sg := range part.segs {
						m := numerics.GradMaxAbs(sg.grad)
						sh := numerics.NITIShift(numerics.ScaleReg{Exp: part.regs[k].Exp, Set: part.regs[k].Set}, sg.exp, m, cfg.NITIUpdateBits)
						hi := sg.lo + len(sg.grad)
						numerics.UpdateNITI(part.vals[sg.lo:hi], part.acc[sg.lo:hi], sg.grad, sh, cfg.NITIUpdateBits)
						r := numerics.NITIRegister(sg.exp, m, cfg.NITIUpdateBits)
						part.regs[k] = scaleState{Exp: r.Exp, Set: r.Set}
					}
				}
				got := tr.in.st.Layers[j]
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s step %d layer %d: the NITI update differs from numerics.UpdateNITI", net.Name, s, j)
				}
				if got.Bits != 8 {
					t.Fatalf("%s: layer %d at %d bits", net.Name, j, got.Bits)
				}
			}
		}
	}
}

// TestStepDependsOnlyOnState is TestRCTStepDependsOnlyOnIntState for NITI (whose
// buffers and registers are state) and for a sparse update.
func TestStepDependsOnlyOnState(t *testing.T) {
	niti := DefaultConfig(numerics.NITI)
	sparse := DefaultConfig(numerics.RCT)
	sparse.Update = "last:2"
	sparse.Policy.Interval = 2
	partial := DefaultConfig(numerics.NITI)
	partial.Update = "layers:0,b,0.5,1,1"
	for _, c := range []struct {
		net *models.Network
		cfg Config
	}{{models.LeNet5(), niti}, {models.LeNet5(), sparse}, {models.LeNet5(), partial}, {models.CharLM(), niti}} {
		a := newTestTrainer(t, c.net, c.cfg)
		const n = 4
		for s := range 5 {
			x, y := randomBatchData(c.net, n, uint64(s))
			a.Step(x, y)
		}
		b := newTestTrainer(t, c.net, c.cfg)
		x, y := randomBatchData(c.net, n, 5)
		b.Step(x, y)
		b.in.st = a.in.st.clone()
		b.in.stale = true
		b.step, b.bits = a.step, slices.Clone(a.bits)
		for s := range 3 {
			x, y := randomBatchData(c.net, n, uint64(100+s))
			ra, rb := a.Step(x, y), b.Step(x, y)
			if ra.Loss != rb.Loss || !reflect.DeepEqual(a.in.st, b.in.st) {
				t.Fatalf("%s %s %q: step %d from a copied state diverged", c.net.Name, c.cfg.Method, c.cfg.Update, a.step)
			}
		}
	}
}

// params returns a trainer's parameters, per weight layer, as float64 (integers for
// the integer methods, masters for the float ones).
func params(tr *Trainer) (w, b [][]float64) {
	for j, i := range tr.p.weights {
		var wj, bj []float64
		if tr.in != nil {
			L := tr.in.st.Layers[j]
			wj, bj = make([]float64, len(L.W)), make([]float64, len(L.B))
			convert(wj, L.W)
			convert(bj, L.B)
		} else {
			fp := tr.fn.par[i]
			wj, bj = make([]float64, len(fp.w)), make([]float64, len(fp.b))
			convert(wj, fp.w)
			convert(bj, fp.b)
		}
		w, b = append(w, wj), append(b, bj)
	}
	return w, b
}

// paramsAcross3Steps returns tr's weights and biases (as params) before and after 3
// steps on random batches of 8 examples of net (seeds 0, 1 and 2).
func paramsAcross3Steps(tr *Trainer, net *models.Network) (w0, b0, w1, b1 [][]float64) {
	w0, b0 = params(tr)
	for s := range 3 {
		x, y := randomBatchData(net, 8, uint64(s))
		tr.Step(x, y)
	}
	w1, b1 = params(tr)
	return w0, b0, w1, b1
}

// moved counts the elements that differ between a and b.
func moved(a, b []float64) int {
	n := 0
	for k := range a {
		if a[k] != b[k] {
			n++
		}
	}
	return n
}

// TestUpdateMask trains every method with masks and checks what moved: frozen
// parameters never, a partial layer only its first output channels.
func TestUpdateMask(t *testing.T) {
	net := models.LeNet5() // weight layers conv1 (6), conv2 (16), fc1 (120), fc2 (84), fc3 (10)
	for _, m := range numerics.Methods {
		for _, spec := range []string{"last:2", "bias-only", "layers:0,b,0.25,0,1"} {
			cfg := DefaultConfig(m)
			cfg.Update = spec
			if m == numerics.NITI {
				cfg.NITIUpdateBits = 12 // updates of several steps, so that 3 steps move weights
			}
			tr := newTestTrainer(t, net, cfg)
			w0, b0, w1, b1 := paramsAcross3Steps(tr, net)
			u, _ := numerics.ParseUpdate(spec)
			ups, _ := u.Layers(len(w0))
			for j, u := range ups {
				rows := net.Layers[tr.p.weights[j]].Out.C
				per := len(w0[j]) / rows
				upd := u.UpdatedRows(rows) * per
				if n := moved(w0[j][upd:], w1[j][upd:]); n > 0 {
					t.Errorf("%s %s: layer %d: %d frozen weights moved", m, spec, j, n)
				}
				if upd > 0 && moved(w0[j][:upd], w1[j][:upd]) == 0 {
					t.Errorf("%s %s: layer %d: no updated weight moved", m, spec, j)
				}
				if n := moved(b0[j], b1[j]); (n > 0) != u.Bias {
					t.Errorf("%s %s: layer %d: %d biases moved, bias update %v", m, spec, j, n, u.Bias)
				}
			}
			if m == numerics.RCT && slices.Max(tr.Bits()) != slices.Min(tr.Bits()) {
				t.Errorf("%s: widths %v", spec, tr.Bits())
			}
		}
	}
}

// TestFullMaskIsTheDefault: a mask that lists every layer as updated trains exactly as
// no mask, for every method.
func TestFullMaskIsTheDefault(t *testing.T) {
	net := models.LeNet5()
	for _, m := range numerics.Methods {
		a := newTestTrainer(t, net, DefaultConfig(m))
		cfg := DefaultConfig(m)
		cfg.Update = "layers:1,1,1,1,1"
		b := newTestTrainer(t, net, cfg)
		for s := range 3 {
			x, y := randomBatchData(net, 4, uint64(s))
			if ra, rb := a.Step(x, y), b.Step(x, y); ra.Loss != rb.Loss {
				t.Fatalf("%s step %d: loss %v vs %v", m, s, ra.Loss, rb.Loss)
			}
		}
		wa, ba := params(a)
		wb, bb := params(b)
		if !reflect.DeepEqual(wa, wb) || !reflect.DeepEqual(ba, bb) {
			t.Errorf("%s: parameters differ", m)
		}
	}
}

// TestSparseBackwardStops: with last:2 the gradients of the updated layers are those
// of full training (the error does not depend on what is updated before it), and no
// error reaches the layers before them.
func TestSparseBackwardStops(t *testing.T) {
	net := models.LeNet5()
	full := newTestTrainer(t, net, DefaultConfig(numerics.RCT))
	cfg := DefaultConfig(numerics.RCT)
	cfg.Update = "last:2"
	sparse := newTestTrainer(t, net, cfg)
	got := map[int][]int32{}
	want := map[int][]int32{}
	full.in.onGrad = func(l int, w, _ []gradSeg) { want[l] = slices.Clone(w[0].grad) }
	sparse.in.onGrad = func(l int, w, _ []gradSeg) { got[l] = slices.Clone(w[0].grad) }
	x, y := randomBatchData(net, 8, 1)
	full.Step(x, y)
	sparse.Step(x, y)
	if len(got) != 2 || !reflect.DeepEqual(got[3], want[3]) || !reflect.DeepEqual(got[4], want[4]) {
		t.Errorf("sparse gradients of layers %v differ from full training's", slices.Sorted(func(yield func(int) bool) {
			for k := range got {
				if !yield(k) {
					return
				}
			}
		}))
	}
	fc2 := sparse.p.weights[3]
	for i, nl := range sparse.p.layers {
		if nl.needDX != (i > fc2) {
			t.Errorf("layer %s: needDX %v", nl.l.Name, nl.needDX)
		}
	}
}

// TestNoQASAblation: without quantization-aware scaling RCT's updates shrink by Δ^2
// (about 2^-16 for LeNet-5's 8-bit grids): the weights barely move.
func TestNoQASAblation(t *testing.T) {
	net := models.LeNet5()
	count := func(noQAS bool) int {
		cfg := DefaultConfig(numerics.RCT)
		cfg.NoQAS = noQAS
		w0, _, w1, _ := paramsAcross3Steps(newTestTrainer(t, net, cfg), net)
		n := 0
		for j := range w0 {
			n += moved(w0[j], w1[j])
		}
		return n
	}
	with, without := count(false), count(true)
	if without*100 > with {
		t.Errorf("%d weights moved without QAS, %d with", without, with)
	}
}

// TestFP8StoresFP8: after a step every stored activation, error and weight copy lies
// on its FP8 grid, and the last layer's weight gradient is exactly the product of the
// stored E5M2 error and E4M3 input.
func TestFP8StoresFP8(t *testing.T) {
	net := models.MLP()
	tr := newTestTrainer(t, net, DefaultConfig(numerics.FP8))
	x, y := randomBatchData(net, 8, 3)
	tr.Step(x, y)
	fn, s := tr.fn, tr.fn.fp8
	onGrid := func(f numerics.FP8Format, v []float32, e int) bool {
		for _, a := range v {
			if f.RoundScaled(float64(a), e) != float64(a) {
				return false
			}
		}
		return true
	}
	// The registers have moved to this step's amax; the stored values used the last
	// step's (here the calibration: the same). One more step with the same batch makes
	// them agree.
	tr.Step(x, y)
	for i, nl := range tr.p.layers {
		if nl.l.Kind == models.Flatten {
			continue
		}
		n := 8 * int(nl.l.Out.Elems())
		if !onGrid(numerics.E4M3, fn.act[i][:n], s.act[i].exp) && !onGridAnyScale(numerics.E4M3, fn.act[i][:n]) {
			t.Errorf("layer %s: activations off the E4M3 grid", nl.l.Name)
		}
		if !onGridAnyScale(numerics.E5M2, fn.err[i][:n]) {
			t.Errorf("layer %s: errors off the E5M2 grid", nl.l.Name)
		}
	}
	last := tr.p.weights[len(tr.p.weights)-1]
	fp := fn.par[last]
	g := fn.p.layers[last].conv
	w32 := make([]float32, len(fp.w64))
	convert(w32, fp.w64)
	if !onGridAnyScale(numerics.E4M3, w32) {
		t.Error("the GEMM weights are off the E4M3 grid")
	}
	in := fn.act[last-1][:8*g.k]
	dy := fn.err[last][:8*g.cout]
	for o := range g.cout {
		for k := range g.k {
			var want float64
			for e := range 8 {
				want += float64(dy[e*g.cout+o]) * float64(in[e*g.k+k])
			}
			if got := fp.gw[o*g.k+k]; math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
				t.Fatalf("gradient [%d][%d] = %v, want %v from the FP8 operands", o, k, got, want)
			}
		}
	}
}

// onGridAnyScale reports whether v lies on the format's grid at some power-of-two
// scale: the one its amax calls for.
func onGridAnyScale(f numerics.FP8Format, v []float32) bool {
	var amax float64
	for _, a := range v {
		amax = max(amax, math.Abs(float64(a)))
	}
	e := f.FP8ScaleExp(amax)
	for d := -2; d <= 2; d++ {
		ok := true
		for _, a := range v {
			if f.RoundScaled(float64(a), e+d) != float64(a) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// TestFP8GradientsNearFP32: from the same weights and batch, FP8's gradients point
// where FP32's do (cosine similarity per layer), the float methods' gradient check
// once the operands are rounded to 8 bits.
func TestFP8GradientsNearFP32(t *testing.T) {
	for _, net := range []*models.Network{models.MLP(), models.LeNet5()} {
		a := newTestTrainer(t, net, DefaultConfig(numerics.FP32))
		b := newTestTrainer(t, net, DefaultConfig(numerics.FP8))
		x, y := randomBatchData(net, 16, 9)
		for _, tr := range []*Trainer{a, b} {
			if err := tr.fn.forward(x, 16, true); err != nil {
				t.Fatal(err)
			}
			tr.fn.loss(y, 16)
			tr.fn.backward(16)
		}
		for _, i := range a.p.weights {
			ga, gb := a.fn.par[i].gw, b.fn.par[i].gw
			var dot, na, nb float64
			for k := range ga {
				dot += ga[k] * gb[k]
				na += ga[k] * ga[k]
				nb += gb[k] * gb[k]
			}
			t.Logf("%s %s: cosine %.4f", net.Name, a.p.layers[i].l.Name, dot/math.Sqrt(na*nb))
			if c := dot / math.Sqrt(na*nb); !(c > 0.9) {
				t.Errorf("%s layer %s: cosine %v between fp8 and fp32 gradients", net.Name, a.p.layers[i].l.Name, c)
			}
		}
	}
}

func TestMethodConfigErrors(t *testing.T) {
	for _, c := range []struct {
		method numerics.Method
		edit   func(*Config)
		field  string
	}{
		{numerics.NITI, func(c *Config) { c.Policy = DefaultPolicyConfig(PolicyRCT) }, "policy.kind"},
		{numerics.NITI, func(c *Config) { c.NITIUpdateBits = 0 }, "niti_update_bits"},
		{numerics.QAT, func(c *Config) { c.NoQAS = true }, "no_qas"},
		{numerics.FP8, func(c *Config) { c.Update = "last:0" }, "update"},
	} {
		cfg := DefaultConfig(c.method)
		c.edit(&cfg)
		err := cfg.Validate()
		var fe *FieldError
		if err == nil || !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: error %v, want one about %s", c.method, err, c.field)
		}
	}
	cfg := DefaultConfig(numerics.RCT)
	cfg.Update = "layers:1,1,1,1,0.5"
	if _, err := NewTrainer(models.CharLM(), cfg); err == nil || !strings.Contains(err.Error(), "weight layers") {
		t.Errorf("a mask of the wrong length: %v", err)
	}
}
