package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// mkNet builds a network from layers whose In shapes are filled from the previous
// layer's Out.
func mkNet(t testing.TB, name string, input models.Shape, layers ...models.Layer) *models.Network {
	t.Helper()
	net := &models.Network{Name: name, Input: input}
	cur := input
	for i, l := range layers {
		l.In = cur
		if l.Branch {
			l.In = input
			if l.Source >= 0 {
				l.In = layers[l.Source].Out
			}
		}
		if l.Name == "" {
			l.Name = fmt.Sprintf("%s%d", l.Kind, i)
		}
		net.Layers = append(net.Layers, l)
		cur = l.Out
	}
	net.Classes = cur.C
	if err := net.Validate(); err != nil {
		t.Fatal(err)
	}
	return net
}

// gradCheckNets are small networks that together exercise every layer kind's forward
// and backward pass, with strides, padding, causal convolutions, overlapping pools and
// residual adds. Every layer's backward-data path lies between the loss and the first
// weight layer, so the first layer's weight gradient checks it.
func gradCheckNets(t testing.TB) []*models.Network {
	S := func(c, h, w int) models.Shape { return models.Shape{C: c, H: h, W: w} }
	return []*models.Network{
		mkNet(t, "conv", S(2, 7, 7),
			models.Layer{Kind: models.Conv2D, Out: S(3, 4, 4), KernelH: 3, KernelW: 3, Stride: 2, Padding: 1, Bias: true},
			models.Layer{Kind: models.ReLU, Out: S(3, 4, 4)},
			models.Layer{Kind: models.Conv2D, Out: S(4, 4, 4), KernelH: 3, KernelW: 3, Stride: 1, Padding: 1, Bias: true},
			models.Layer{Kind: models.MaxPool, Out: S(4, 2, 2), KernelH: 2, KernelW: 2, Stride: 2},
			models.Layer{Kind: models.Flatten, Out: S(16, 1, 1)},
			models.Layer{Kind: models.Linear, Out: S(5, 1, 1), Bias: true},
		),
		mkNet(t, "pools", S(2, 6, 6),
			models.Layer{Kind: models.Conv2D, Out: S(3, 6, 6), KernelH: 3, KernelW: 3, Stride: 1, Padding: 1},
			models.Layer{Kind: models.AvgPool, Out: S(3, 5, 5), KernelH: 2, KernelW: 2, Stride: 1},
			models.Layer{Kind: models.MaxPool, Out: S(3, 2, 2), KernelH: 3, KernelW: 3, Stride: 2},
			models.Layer{Kind: models.AvgPool, Out: S(3, 1, 1), KernelH: 2, KernelW: 2, Stride: 2},
			models.Layer{Kind: models.Flatten, Out: S(3, 1, 1)},
			models.Layer{Kind: models.Linear, Out: S(4, 1, 1), Bias: true},
		),
		mkNet(t, "seq", S(1, 1, 6),
			models.Layer{Kind: models.Embedding, Out: S(4, 1, 6), Vocab: 7},
			models.Layer{Kind: models.Conv2D, Out: S(5, 1, 6), KernelH: 1, KernelW: 3, Stride: 1, Causal: true, Bias: true},
			models.Layer{Kind: models.ReLU, Out: S(5, 1, 6)},
			models.Layer{Kind: models.Conv2D, Out: S(5, 1, 6), KernelH: 1, KernelW: 2, Stride: 1, Causal: true, Bias: true},
			models.Layer{Kind: models.Add, Out: S(5, 1, 6), From: 1},
			models.Layer{Kind: models.Conv2D, Out: S(7, 1, 6), KernelH: 1, KernelW: 1, Stride: 1, Bias: true},
		),
		// Batch normalisation, an option-A shortcut that subsamples and pads channels,
		// a depthwise and a grouped convolution.
		mkNet(t, "bn-shortcut", S(2, 8, 8),
			models.Layer{Kind: models.Conv2D, Out: S(4, 8, 8), KernelH: 3, KernelW: 3, Stride: 1, Padding: 1},
			models.Layer{Kind: models.BatchNorm, Out: S(4, 8, 8), Bias: true},
			models.Layer{Kind: models.ReLU, Out: S(4, 8, 8)},
			models.Layer{Kind: models.Conv2D, Out: S(8, 4, 4), KernelH: 3, KernelW: 3, Stride: 2, Padding: 1},
			models.Layer{Kind: models.BatchNorm, Out: S(8, 4, 4), Bias: true},
			models.Layer{Kind: models.ShortcutAdd, Out: S(8, 4, 4), From: 2, Stride: 2, Padding: 2},
			models.Layer{Kind: models.ReLU, Out: S(8, 4, 4)},
			models.Layer{Kind: models.Conv2D, Out: S(8, 4, 4), KernelH: 3, KernelW: 3, Stride: 1, Padding: 1, Groups: 8, Bias: true},
			models.Layer{Kind: models.BatchNorm, Out: S(8, 4, 4), Bias: true},
			models.Layer{Kind: models.Add, Out: S(8, 4, 4), From: 5},
			models.Layer{Kind: models.Conv2D, Out: S(6, 2, 2), KernelH: 3, KernelW: 3, Stride: 2, Padding: 1, Groups: 2, Bias: true},
			models.Layer{Kind: models.AvgPool, Out: S(6, 1, 1), KernelH: 2, KernelW: 2, Stride: 2},
			models.Layer{Kind: models.Flatten, Out: S(6, 1, 1)},
			models.Layer{Kind: models.Linear, Out: S(5, 1, 1), Bias: true},
		),
		// A pre-normalisation transformer block with causal attention of two heads.
		mkNet(t, "transformer", S(1, 1, 6),
			models.Layer{Kind: models.Embedding, Out: S(8, 1, 6), Vocab: 7},
			models.Layer{Kind: models.PosEmbedding, Out: S(8, 1, 6)},
			models.Layer{Kind: models.LayerNorm, Out: S(8, 1, 6), Bias: true},
			models.Layer{Kind: models.Attention, Out: S(8, 1, 6), Heads: 2, Causal: true, Bias: true},
			models.Layer{Kind: models.Add, Out: S(8, 1, 6), From: 1},
			models.Layer{Kind: models.LayerNorm, Out: S(8, 1, 6), Bias: true},
			models.Layer{Kind: models.Conv2D, Out: S(16, 1, 6), KernelH: 1, KernelW: 1, Stride: 1, Bias: true},
			models.Layer{Kind: models.ReLU, Out: S(16, 1, 6)},
			models.Layer{Kind: models.Conv2D, Out: S(8, 1, 6), KernelH: 1, KernelW: 1, Stride: 1, Bias: true},
			models.Layer{Kind: models.Add, Out: S(8, 1, 6), From: 4},
			models.Layer{Kind: models.LayerNorm, Out: S(8, 1, 6), Bias: true},
			models.Layer{Kind: models.Conv2D, Out: S(7, 1, 6), KernelH: 1, KernelW: 1, Stride: 1, Bias: true},
		),
		// Attention without a mask or biases on real-valued inputs, after a projection
		// (so that its input's error is checked), with a position embedding that is not
		// after an embedding.
		mkNet(t, "attn-plain", S(3, 1, 5),
			models.Layer{Kind: models.Conv2D, Out: S(4, 1, 5), KernelH: 1, KernelW: 1, Stride: 1},
			models.Layer{Kind: models.PosEmbedding, Out: S(4, 1, 5)},
			models.Layer{Kind: models.Attention, Out: S(4, 1, 5), Heads: 1},
			models.Layer{Kind: models.LayerNorm, Out: S(4, 1, 5)},
			models.Layer{Kind: models.Flatten, Out: S(20, 1, 1)},
			models.Layer{Kind: models.Linear, Out: S(3, 1, 1), Bias: true},
		),
		// A block whose shortcut is a strided 1x1 projection with batch normalisation
		// (option B), a branch reading the block's input: the block's input error sums
		// the main path's and the branch's, and the main path's last output gets its
		// error from the residual alone.
		mkNet(t, "branch", S(2, 8, 8),
			models.Layer{Kind: models.Conv2D, Out: S(4, 8, 8), KernelH: 3, KernelW: 3, Stride: 1, Padding: 1},
			models.Layer{Kind: models.ReLU, Out: S(4, 8, 8)},
			models.Layer{Kind: models.Conv2D, Out: S(8, 4, 4), KernelH: 3, KernelW: 3, Stride: 2, Padding: 1},
			models.Layer{Kind: models.BatchNorm, Out: S(8, 4, 4), Bias: true},
			models.Layer{Kind: models.ReLU, Out: S(8, 4, 4)},
			models.Layer{Kind: models.Conv2D, Out: S(8, 4, 4), KernelH: 3, KernelW: 3, Stride: 1, Padding: 1},
			models.Layer{Kind: models.Conv2D, Out: S(8, 4, 4), KernelH: 1, KernelW: 1, Stride: 2, Branch: true, Source: 1},
			models.Layer{Kind: models.BatchNorm, Out: S(8, 4, 4), Bias: true},
			models.Layer{Kind: models.Add, Out: S(8, 4, 4), From: 5},
			models.Layer{Kind: models.ReLU, Out: S(8, 4, 4)},
			models.Layer{Kind: models.AvgPool, Out: S(8, 1, 1), KernelH: 4, KernelW: 4, Stride: 4},
			models.Layer{Kind: models.Flatten, Out: S(8, 1, 1)},
			models.Layer{Kind: models.Linear, Out: S(5, 1, 1), Bias: true},
		),
		// A SqueezeNet fire module: 1x1 and 3x3 expansions of a squeeze side by side
		// (the second a branch), joined on channels.
		mkNet(t, "fire", S(2, 6, 6),
			models.Layer{Kind: models.Conv2D, Out: S(3, 6, 6), KernelH: 1, KernelW: 1, Stride: 1, Bias: true},
			models.Layer{Kind: models.ReLU, Out: S(3, 6, 6)},
			models.Layer{Kind: models.Conv2D, Out: S(4, 6, 6), KernelH: 1, KernelW: 1, Stride: 1, Bias: true},
			models.Layer{Kind: models.ReLU, Out: S(4, 6, 6)},
			models.Layer{Kind: models.Conv2D, Out: S(5, 6, 6), KernelH: 3, KernelW: 3, Stride: 1, Padding: 1, Bias: true, Branch: true, Source: 1},
			models.Layer{Kind: models.ReLU, Out: S(5, 6, 6)},
			models.Layer{Kind: models.Concat, Out: S(9, 6, 6), From: 3},
			models.Layer{Kind: models.Conv2D, Out: S(4, 3, 3), KernelH: 3, KernelW: 3, Stride: 2, Padding: 1, Bias: true},
			models.Layer{Kind: models.Flatten, Out: S(36, 1, 1)},
			models.Layer{Kind: models.Linear, Out: S(5, 1, 1), Bias: true},
		),
		// A stride-1 convolution with 16 input channels, whose backward-data pass runs
		// on the error's patches with the flipped kernel (convGeom.flip), and a causal
		// one.
		mkNet(t, "flip", S(2, 4, 5),
			models.Layer{Kind: models.Conv2D, Out: S(16, 4, 5), KernelH: 1, KernelW: 1, Stride: 1, Bias: true},
			models.Layer{Kind: models.Conv2D, Out: S(3, 4, 5), KernelH: 3, KernelW: 3, Stride: 1, Padding: 1, Bias: true},
			models.Layer{Kind: models.Flatten, Out: S(60, 1, 1)},
			models.Layer{Kind: models.Linear, Out: S(3, 1, 1), Bias: true},
		),
		mkNet(t, "flip-causal", S(1, 1, 6),
			models.Layer{Kind: models.Embedding, Out: S(16, 1, 6), Vocab: 7},
			models.Layer{Kind: models.Conv2D, Out: S(5, 1, 6), KernelH: 1, KernelW: 3, Stride: 1, Causal: true, Bias: true},
			models.Layer{Kind: models.ReLU, Out: S(5, 1, 6)},
			models.Layer{Kind: models.Conv2D, Out: S(7, 1, 6), KernelH: 1, KernelW: 1, Stride: 1, Bias: true},
		),
		mkNet(t, "mlp-res", S(1, 3, 4),
			models.Layer{Kind: models.Flatten, Out: S(12, 1, 1)},
			models.Layer{Kind: models.Linear, Out: S(6, 1, 1), Bias: true},
			models.Layer{Kind: models.ReLU, Out: S(6, 1, 1)},
			models.Layer{Kind: models.Linear, Out: S(6, 1, 1)},
			models.Layer{Kind: models.Add, Out: S(6, 1, 1), From: 2},
			models.Layer{Kind: models.ReLU, Out: S(6, 1, 1)},
			models.Layer{Kind: models.Linear, Out: S(3, 1, 1), Bias: true},
		),
	}
}

// randomBatch returns n random examples for net (token ids for an embedding) and labels.
func randomBatch(net *models.Network, n int, seed uint64) ([]float32, []int32) {
	r := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, n*int(net.Input.Elems()))
	last := net.Layers[len(net.Layers)-1].Out
	labels := make([]int32, n*last.H*last.W)
	for i := range x {
		if net.Layers[0].Kind == models.Embedding {
			x[i] = float32(r.IntN(net.Layers[0].Vocab))
		} else {
			x[i] = float32(r.Float64()*2 - 1)
		}
	}
	for i := range labels {
		labels[i] = int32(r.IntN(net.Classes))
	}
	return x, labels
}

// TestGradientsFiniteDifference checks every weight and bias gradient of the float
// path against central differences of the mean loss, in float64.
func TestGradientsFiniteDifference(t *testing.T) {
	for _, net := range gradCheckNets(t) {
		t.Run(net.Name, func(t *testing.T) {
			p, err := newPlan(net)
			if err != nil {
				t.Fatal(err)
			}
			init := initWeights(p, 3)
			fn := newFloatNet[float64](p, init, false)
			// Non-zero biases so that their gradients matter too, normalisation scales
			// away from 1, and attention weights large enough that the scores, not a
			// nearly uniform softmax, decide the gradients of Wq and Wk.
			r := rand.New(rand.NewPCG(5, 5))
			for _, i := range p.weights {
				for k := range fn.par[i].b {
					fn.par[i].b[k] = r.Float64()*0.2 - 0.1
				}
				switch p.layers[i].l.Kind {
				case models.BatchNorm, models.LayerNorm:
					for k := range fn.par[i].w {
						fn.par[i].w[k] = 0.5 + r.Float64()
					}
				case models.Attention:
					for k := range fn.par[i].w {
						fn.par[i].w[k] *= 4
					}
				}
			}
			const n = 3
			x, labels := randomBatch(net, n, 11)
			loss := func() float64 {
				fn.stale = true
				if err := fn.forward(x, n, true); err != nil {
					t.Fatal(err)
				}
				l, _ := fn.loss(labels, n)
				return l / float64(len(labels))
			}
			loss()
			fn.backward(n)
			const h = 1e-6
			for _, i := range p.weights {
				fp := fn.par[i]
				check := func(what string, v []float64, g []float64) {
					analytic := append([]float64(nil), g...)
					for k := range v {
						orig := v[k]
						v[k] = orig + h
						lp := loss()
						v[k] = orig - h
						lm := loss()
						v[k] = orig
						num := (lp - lm) / (2 * h)
						if d := math.Abs(num - analytic[k]); d > 1e-6+1e-4*math.Abs(num) {
							t.Errorf("layer %s %s[%d]: analytic %.9g, numeric %.9g", p.layers[i].l.Name, what, k, analytic[k], num)
						}
					}
				}
				check("w", fp.w, fp.gw)
				check("b", fp.b, fp.gb)
			}
		})
	}
}

// TestSoftmaxXentGradient checks the loss error against central differences.
func TestSoftmaxXentGradient(t *testing.T) {
	const classes, rows = 5, 4
	r := rand.New(rand.NewPCG(1, 2))
	z := make([]float64, classes*rows)
	for i := range z {
		z[i] = r.Float64()*6 - 3
	}
	labels := []int32{0, 4, 2, 2}
	dz := make([]float64, len(z))
	softmaxXentFloat(z, classes, labels, rows, dz)
	scratch := make([]float64, len(z))
	mean := func() float64 {
		l, _ := softmaxXentFloat(z, classes, labels, rows, scratch)
		return l / rows
	}
	const h = 1e-6
	for k := range z {
		orig := z[k]
		z[k] = orig + h
		lp := mean()
		z[k] = orig - h
		lm := mean()
		z[k] = orig
		if num := (lp - lm) / (2 * h); math.Abs(num-dz[k]) > 1e-8 {
			t.Errorf("dz[%d] = %v, numeric %v", k, dz[k], num)
		}
	}
}

// TestSoftmaxXentIndependentOfCores computes the loss of enough rows to be split
// across cores on 1, 2 and 3 of them: the loss, the count and the error must be
// bit-identical, the loss summed in row order.
func TestSoftmaxXentIndependentOfCores(t *testing.T) {
	const classes, rows = 7, 301
	r := rand.New(rand.NewPCG(3, 4))
	z := make([]float32, classes*rows)
	for i := range z {
		z[i] = float32(r.NormFloat64() * 4)
	}
	labels := make([]int32, rows)
	for i := range labels {
		labels[i] = int32(r.IntN(classes))
	}
	var want float64
	wantCorrect := 0
	for k, y := range labels {
		row := z[k*classes : (k+1)*classes]
		l, c := softmaxXentFloat(row, classes, []int32{y}, rows, make([]float32, classes))
		want += l
		wantCorrect += c
	}
	var first []float32
	for _, procs := range []int{1, 2, 3} {
		prev := runtime.GOMAXPROCS(procs)
		dz := make([]float32, len(z))
		loss, correct := softmaxXentFloat(z, classes, labels, rows, dz)
		runtime.GOMAXPROCS(prev)
		if loss != want || correct != wantCorrect {
			t.Errorf("%d cores: loss %v and %d correct, row by row %v and %d", procs, loss, correct, want, wantCorrect)
		}
		if first == nil {
			first = dz
		} else if !slices.Equal(first, dz) {
			t.Errorf("%d cores: the error differs from one core's", procs)
		}
	}
}

// TestSoftmaxXentIntIndependentOfCores checks the integer loss on all cores against
// numerics.SoftmaxXentRound, whose passes run row by row: the loss, the count, the
// error's scale and every rounded error, stochastic and to nearest.
func TestSoftmaxXentIntIndependentOfCores(t *testing.T) {
	const classes, rows, exp = 65, 301, -4
	r := rand.New(rand.NewPCG(5, 6))
	z := make([]int8, classes*rows)
	for i := range z {
		z[i] = int8(r.IntN(255) - 127)
	}
	labels := make([]int32, rows)
	for i := range labels {
		labels[i] = int32(r.IntN(classes))
	}
	for _, rounding := range []numerics.Rounding{numerics.RoundStochastic, numerics.RoundNearest} {
		key := numerics.RandKey(7, numerics.LossStream(3))
		want := make([]int8, len(z))
		wantExp, wantLoss, wantCorrect := numerics.SoftmaxXentRound(z, exp, classes, labels, rows, rounding, key, 0, make([]float64, len(z)), want)
		for _, procs := range []int{1, 2, 3} {
			prev := runtime.GOMAXPROCS(procs)
			got := make([]int8, len(z))
			e, loss, correct := softmaxXentInt(z, exp, classes, labels, rounding, key, make([]float64, len(z)), make([]float64, rows), got)
			runtime.GOMAXPROCS(prev)
			if e != wantExp || loss != wantLoss || correct != wantCorrect || !slices.Equal(got, want) {
				t.Errorf("rounding %v, %d cores: scale 2^%d, loss %v, %d correct (errors equal: %v); row by row 2^%d, %v, %d",
					rounding, procs, e, loss, correct, slices.Equal(got, want), wantExp, wantLoss, wantCorrect)
			}
		}
	}
}

// TestConvMatchesDirectDefinition checks the GEMM lowering of every linear and
// convolution layer against convolution written out from its definition, exactly, on
// integers, and its backward pass as the exact adjoint of the forward pass.
func TestConvMatchesDirectDefinition(t *testing.T) {
	forEachConv(t, func(p *plan, i int, nl *netLayer) {
		g := nl.conv
		const n = 2
		r := rand.New(rand.NewPCG(uint64(i), 9))
		x := make([]int8, n*g.inElems())
		for k := range x {
			x[k] = int8(r.IntN(255) - 127)
		}
		// Weights of 15 bits, and weights so wide that the integer path's sums might
		// leave int32 (its exact int64 routes; the values drawn do not saturate).
		wide := 3 << 30 / (127 * int64(max(g.k, g.cout*g.kh*g.kw)))
		for _, lim := range []int64{1 << 14, wide} {
			w := make([]int32, g.cout*g.k)
			for k := range w {
				w[k] = int32(r.Int64N(2*lim+1) - lim)
			}
			// Direct definition: NHWC input, canonical [o][c][ki][kj] weights.
			want := make([]int64, n*g.positions()*g.cout)
			for b := range n {
				for oh := range g.ho {
					for ow := range g.wo {
						for o := range g.cout {
							var s int64
							// Group o/coutG reads input channels from c0 on.
							c0 := o / g.coutG * g.cinG
							for c := range g.cinG {
								for ki := range g.kh {
									for kj := range g.kw {
										ih, iw := oh*g.stride+ki-g.padT, ow*g.stride+kj-g.padL
										if ih < 0 || ih >= g.h || iw < 0 || iw >= g.w {
											continue
										}
										s += int64(x[b*g.inElems()+(ih*g.w+iw)*g.cin+c0+c]) * int64(w[o*g.k+(c*g.kh+ki)*g.kw+kj])
									}
								}
							}
							want[((b*g.ho+oh)*g.wo+ow)*g.cout+o] = s
						}
					}
				}
			}
			dy := make([]int8, len(want))
			for k := range dy {
				dy[k] = int8(r.IntN(255) - 127)
			}
			checkConvLowering[float64, float64](t, p, nl, x, w, dy, want, n)
			checkConvLowering[int32, int32](t, p, nl, x, w, dy, want, n)
			checkConvLowering[int32, int16](t, p, nl, x, w, dy, want, n)
		}
	})
}

// forEachConv calls f for every linear and convolution layer nl (layer i of plan p)
// of the gradient-check networks.
func forEachConv(t *testing.T, f func(p *plan, i int, nl *netLayer)) {
	t.Helper()
	for _, net := range gradCheckNets(t) {
		p, err := newPlan(net)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range p.weights {
			if nl := &p.layers[i]; nl.conv != nil {
				f(p, i, nl)
			}
		}
	}
}

// checkConvLowering runs the lowering of layer nl with element type E (float64, or the
// integer path's int32) and saved inputs of type C on integers and compares its output
// with want, the direct convolution, and its backward pass with the adjoint identities.
func checkConvLowering[E float64 | int32, C float64 | int32 | int16](t *testing.T, p *plan, nl *netLayer, x []int8, w []int32, dy []int8, want []int64, n int) {
	t.Helper()
	g := nl.conv
	name := fmt.Sprintf("%s layer %s (%T, %T)", p.net.Name, nl.l.Name, *new(E), *new(C))
	cols := make([]C, g.colsLen(n))
	wg := make([]E, g.weightsLen())
	setGEMMWeights(nl, w, wg)
	sc := newGEMMScratch[E](p, n)
	y := make([]E, len(want))
	gemmForward(g, x, n, wg, maxAbs(w), cols, &sc, y)
	for k := range want {
		if int64(y[k]) != want[k] || float64(int64(y[k])) != float64(y[k]) {
			t.Fatalf("%s: output %d = %v, direct convolution gives %d", name, k, y[k], want[k])
		}
	}
	// The backward pass is the adjoint, exactly: <dy, W*x> = <dx, x> = <gw, w>.
	gw := make([]E, len(w))
	dx := make([]E, len(x))
	gemmBackward(g, dy, n, wg, maxAbs(w), cols, &sc, gw, dx, make([]C, len(dy)))
	var s1, s2, s3 float64
	for k := range y {
		s1 += float64(dy[k]) * float64(y[k])
	}
	for k := range x {
		s2 += float64(dx[k]) * float64(x[k])
	}
	for k := range w {
		s3 += float64(gw[k]) * float64(w[k])
	}
	if s1 != s2 || s1 != s3 {
		t.Errorf("%s: <dy,y> = %v, <dx,x> = %v, <gw,w> = %v", name, s1, s2, s3)
	}
}

// TestCausalConvSeesOnlyThePast changes the last token of a sequence and checks that
// the logits of every earlier position stay the same, and that the change does reach
// the last position.
func TestCausalConvSeesOnlyThePast(t *testing.T) {
	net := gradCheckNets(t)[2]
	p, err := newPlan(net)
	if err != nil {
		t.Fatal(err)
	}
	fn := newFloatNet[float64](p, initWeights(p, 1), false)
	x, _ := randomBatch(net, 1, 3)
	T := net.Input.W
	logits := func() []float64 {
		if err := fn.forward(x, 1, false); err != nil {
			t.Fatal(err)
		}
		return append([]float64(nil), fn.act[len(p.layers)-1]...)
	}
	before := logits()
	x[T-1] = float32((int(x[T-1]) + 1) % net.Layers[0].Vocab)
	after := logits()
	C := net.Classes
	for k := range before {
		pos := k / C
		if changed := before[k] != after[k]; changed != (pos == T-1) {
			t.Errorf("position %d logit %d: changed=%v after changing the last token", pos, k%C, changed)
		}
	}
}

// TestFloat32LoweringMatchesFloat64 runs every linear and convolution layer's lowering
// in float32 (package gemm's FMA chains, the float path's) and in float64 (gonum, the
// reference) on the same random values: outputs, weight gradients and input errors
// agree within float32 rounding of sums of their length.
func TestFloat32LoweringMatchesFloat64(t *testing.T) {
	forEachConv(t, func(p *plan, i int, nl *netLayer) {
		g := nl.conv
		const n = 3
		r := rand.New(rand.NewPCG(uint64(i), 10))
		x := make([]float32, n*g.inElems())
		for k := range x {
			x[k] = float32(r.NormFloat64())
		}
		w := make([]float32, g.cout*g.k)
		for k := range w {
			w[k] = float32(r.NormFloat64())
		}
		dy := make([]float32, n*g.positions()*g.cout)
		for k := range dy {
			dy[k] = float32(r.NormFloat64())
		}
		run := func(y, gw, dx any) {
			switch y := y.(type) {
			case []float32:
				wg, cols, s := make([]float32, g.weightsLen()), make([]float32, g.colsLen(n)), newGEMMScratch[float32](p, n)
				setGEMMWeights(nl, w, wg)
				gemmForward(g, x, n, wg, 0, cols, &s, y)
				gemmBackward(g, dy, n, wg, 0, cols, &s, gw.([]float32), dx.([]float32), make([]float32, len(dy)))
			case []float64:
				wg, cols, s := make([]float64, g.weightsLen()), make([]float64, g.colsLen(n)), newGEMMScratch[float64](p, n)
				setGEMMWeights(nl, w, wg)
				gemmForward(g, x, n, wg, 0, cols, &s, y)
				gemmBackward(g, dy, n, wg, 0, cols, &s, gw.([]float64), dx.([]float64), make([]float64, len(dy)))
			}
		}
		y32, gw32, dx32 := make([]float32, len(dy)), make([]float32, len(w)), make([]float32, len(x))
		y64, gw64, dx64 := make([]float64, len(dy)), make([]float64, len(w)), make([]float64, len(x))
		run(y32, gw32, dx32)
		run(y64, gw64, dx64)
		for _, c := range []struct {
			what   string
			got    []float32
			want   []float64
			length int
		}{{"output", y32, y64, g.k}, {"weight gradient", gw32, gw64, n * g.positions()}, {"input error", dx32, dx64, g.cout * g.kh * g.kw}} {
			// Each value is a sum of `length` products of unit normals: float32
			// rounding leaves an error below length * 2^-23 * sqrt(length).
			tol := float64(c.length) * math.Sqrt(float64(c.length)) * 0x1p-23
			for k, v := range c.want {
				if d := math.Abs(float64(c.got[k]) - v); d > tol {
					t.Fatalf("%s layer %s: %s %d = %v in float32, %v in float64", p.net.Name, nl.l.Name, c.what, k, c.got[k], v)
				}
			}
		}
	})
}

// maxPoolDef is max pooling by its definition: taps in row-major window order, a
// later one taking over only when strictly larger.
func maxPoolDef[T int8 | float32 | float64](p *poolGeom, x []T, n int, out []T, argmax []int32) {
	for b := range n {
		for oh := range p.ho {
			for ow := range p.wo {
				for c := range p.c {
					o := ((b*p.ho+oh)*p.wo+ow)*p.c + c
					for ki := range p.kh {
						for kj := range p.kw {
							i := ((b*p.h+oh*p.stride+ki)*p.w+ow*p.stride+kj)*p.c + c
							if (ki == 0 && kj == 0) || x[i] > out[o] {
								out[o], argmax[o] = x[i], int32(i)
							}
						}
					}
				}
			}
		}
	}
}

func testMaxPool[T int8 | float32 | float64](t *testing.T, p *poolGeom, x []T, n int) {
	t.Helper()
	size := n * p.ho * p.wo * p.c
	want, got := make([]T, size), make([]T, size)
	wantArg, gotArg := make([]int32, size), make([]int32, size)
	maxPoolDef(p, x, n, want, wantArg)
	maxPoolForward(p, x, n, got, gotArg)
	same := func(a, b T) bool {
		if fa, ok := any(a).(float32); ok {
			return math.Float32bits(fa) == math.Float32bits(any(b).(float32))
		}
		if fa, ok := any(a).(float64); ok {
			return math.Float64bits(fa) == math.Float64bits(any(b).(float64))
		}
		return a == b
	}
	if !slices.EqualFunc(got, want, same) || !slices.Equal(gotArg, wantArg) {
		t.Errorf("%T %+v: max pooling differs from the definition", x, *p)
	}
}

// TestMaxPoolMatchesDefinition checks max pooling against its definition, maxima
// and their positions, on windows that overlap or not, one channel or several, with
// ties, signed zeros and NaN.
func TestMaxPoolMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	special := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 1, -1}
	for _, p := range []*poolGeom{
		{c: 6, h: 28, w: 28, kh: 2, kw: 2, stride: 2},
		{c: 3, h: 5, w: 7, kh: 2, kw: 2, stride: 1},
		{c: 1, h: 7, w: 9, kh: 3, kw: 3, stride: 2},
		{c: 3, h: 5, w: 5, kh: 3, kw: 2, stride: 1},
		{c: 16, h: 4, w: 6, kh: 4, kw: 6, stride: 1},
	} {
		p.ho, p.wo = (p.h-p.kh)/p.stride+1, (p.w-p.kw)/p.stride+1
		const n = 3
		size := n * p.h * p.w * p.c
		x8, x32, x64 := make([]int8, size), make([]float32, size), make([]float64, size)
		for i := range size {
			x8[i] = int8(r.IntN(7) - 3) // many ties
			v := float64(r.IntN(5) - 2)
			if r.IntN(4) == 0 {
				v = special[r.IntN(len(special))]
			}
			x32[i], x64[i] = float32(v), v
		}
		testMaxPool(t, p, x8, n)
		testMaxPool(t, p, x32, n)
		testMaxPool(t, p, x64, n)
	}
}

// TestReluFloat32Bits checks the float32 ReLU, forward and backward, bit for bit
// against Go's max and the ordered compare out > 0 on random bit patterns (NaNs,
// infinities, zeros and subnormals among them) at every offset and length a kernel's
// tail can take.
func TestReluFloat32Bits(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{1, 7, 8, 9, 31, 100000} {
		x, dy := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], dy[i] = math.Float32frombits(r.Uint32()), math.Float32frombits(r.Uint32())
			if r.IntN(8) == 0 {
				x[i] = []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(-1)), math.Float32frombits(0xff800001), math.Float32frombits(0xffc00000)}[r.IntN(5)]
			}
		}
		out, dx := make([]float32, n), make([]float32, n)
		reluForward(x, out)
		reluBackward(x, dy, dx)
		for i, v := range x {
			want := max(v, 0)
			var wantDX float32
			if v > 0 {
				wantDX = dy[i]
			}
			if math.Float32bits(out[i]) != math.Float32bits(want) || math.Float32bits(dx[i]) != math.Float32bits(wantDX) {
				t.Fatalf("n %d: x %08x dy %08x: relu %08x, error %08x; want %08x, %08x", n, math.Float32bits(v), math.Float32bits(dy[i]),
					math.Float32bits(out[i]), math.Float32bits(dx[i]), math.Float32bits(want), math.Float32bits(wantDX))
			}
		}
	}
}

// BenchmarkMaxPool pools LeNet-5's two layers (2x2, stride 2) at batch 32, int8 and
// float32, on activations half of which are zero as after a ReLU.
func BenchmarkMaxPool(b *testing.B) {
	for _, p := range []*poolGeom{{c: 6, h: 28, w: 28, kh: 2, kw: 2, stride: 2}, {c: 16, h: 10, w: 10, kh: 2, kw: 2, stride: 2}} {
		p.ho, p.wo = (p.h-p.kh)/p.stride+1, (p.w-p.kw)/p.stride+1
		b.Run(fmt.Sprintf("int8/%dx%dx%d", p.h, p.w, p.c), func(b *testing.B) { benchMaxPool[int8](b, p) })
		b.Run(fmt.Sprintf("float32/%dx%dx%d", p.h, p.w, p.c), func(b *testing.B) { benchMaxPool[float32](b, p) })
	}
}

func benchMaxPool[T int8 | float32](b *testing.B, p *poolGeom) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 32
	x := make([]T, n*p.h*p.w*p.c)
	for i := range x {
		if r.IntN(2) == 0 {
			x[i] = T(r.IntN(100))
		}
	}
	out, arg := make([]T, n*p.ho*p.wo*p.c), make([]int32, n*p.ho*p.wo*p.c)
	for b.Loop() {
		maxPoolRange(p, x, 0, n, out, arg)
	}
}

// TestMaxPoolBackwardMatchesDefinition checks maxPoolBackward, whose examples go to
// the cores in parts, against its definition (every error added at its argmax in
// output order), bit for bit, with overlapping windows (several errors per input)
// and a batch big enough to be cut.
func TestMaxPoolBackwardMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	p := &poolGeom{c: 16, h: 34, w: 34, kh: 3, kw: 3, stride: 1}
	p.ho, p.wo = (p.h-p.kh)/p.stride+1, (p.w-p.kw)/p.stride+1
	const n = 5
	x := make([]float32, n*p.h*p.w*p.c)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	out, arg := make([]float32, n*p.ho*p.wo*p.c), make([]int32, n*p.ho*p.wo*p.c)
	maxPoolForward(p, x, n, out, arg)
	dy := make([]float32, len(out))
	for i := range dy {
		dy[i] = float32(r.NormFloat64())
	}
	want, got := make([]float32, len(x)), make([]float32, len(x))
	for j, i := range arg {
		want[i] += dy[j]
	}
	for i := range got {
		got[i] = float32(math.NaN()) // overwritten
	}
	maxPoolBackward(dy, arg, got, n)
	if !slices.EqualFunc(got, want, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
		t.Error("max pooling's backward pass differs from its definition")
	}
}
