// Layer kernels that are the same computation for every number type: pooling, ReLU,
// embedding lookups and their backward passes, generic over the element type so that
// the float path (float32, or float64 in gradient checks) and the integer path (int8
// with int32 accumulators) share one definition of which element goes where.

package train

import (
	"fmt"
	"math"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
	"github.com/rctsim/rctsim/train/vec"
)

// floatT is the storage type of the float path: float32 in training, float64 in the
// finite-difference gradient checks (same code, exact enough to check).
type floatT interface{ float32 | float64 }

// poolGeom is a pooling layer over NHWC images.
type poolGeom struct {
	c, h, w, ho, wo, kh, kw, stride int
}

func newPoolGeom(l *models.Layer) (*poolGeom, error) {
	p := &poolGeom{c: l.In.C, h: l.In.H, w: l.In.W, ho: l.Out.H, wo: l.Out.W, kh: l.KernelH, kw: l.KernelW, stride: l.Stride}
	if p.stride < 1 {
		p.stride = 1
	}
	if l.Padding != 0 || p.kh < 1 || p.kw < 1 || l.Out.C != l.In.C ||
		(p.h-p.kh)/p.stride+1 != p.ho || (p.w-p.kw)/p.stride+1 != p.wo {
		return nil, fmt.Errorf("pooling layer %s: input %v, window %dx%d, stride %d, padding %d do not give %v",
			l.Name, l.In, p.kh, p.kw, p.stride, l.Padding, l.Out)
	}
	return p, nil
}

// overlapping reports whether windows share input positions, so that a backward pass
// must sum several errors into one position.
func (p *poolGeom) overlapping() bool { return p.stride < p.kh || p.stride < p.kw }

func (p *poolGeom) window() int { return p.kh * p.kw }

// maxPoolForward takes the maximum of each window of n examples and records in argmax
// the input index it came from: the first position, in row-major window order, that
// holds the maximum (the device's backward pass must route errors by the same rule).
func maxPoolForward[T int8 | float32 | float64](p *poolGeom, x []T, n int, out []T, argmax []int32) {
	parallel(n, 4, func(b0, b1 int) { maxPoolRange(p, x, b0, b1, out, argmax) })
}

// maxPoolRange is maxPoolForward for examples b0..b1-1. Which tap of a window is
// largest is as good as random, so the scan has no branch on it: a tap's index
// replaces the best's through a mask (see b2i), and the best value is read back at
// that index.
func maxPoolRange[T int8 | float32 | float64](p *poolGeom, x []T, b0, b1 int, out []T, argmax []int32) {
	if p.kh == 2 && p.kw == 2 {
		maxPool2x2Range(p, x, b0, b1, out, argmax)
		return
	}
	c, w, stride := p.c, p.w, p.stride
	inSize, outSize := p.h*w*c, p.ho*p.wo*c
	// The taps after the first, as offsets from it in row-major window order.
	var buf [15]int
	taps := buf[:0]
	for t := 1; t < p.kh*p.kw; t++ {
		taps = append(taps, (t/p.kw*w+t%p.kw)*c)
	}
	for b := b0; b < b1; b++ {
		for oh := range p.ho {
			for ow := range p.wo {
				o := b*outSize + (oh*p.wo+ow)*c
				best, arg := out[o:o+c], argmax[o:o+c]
				corner := b*inSize + (oh*stride*w+ow*stride)*c
				for ch := range best {
					// A later tap wins only if strictly larger, so ties keep the
					// first position.
					first := corner + ch
					a := first
					for _, t := range taps {
						i := first + t
						a ^= (a ^ i) & -b2i(x[i] > x[a])
					}
					best[ch], arg[ch] = x[a], int32(a)
				}
			}
		}
	}
}

// maxPool2x2Range is maxPoolRange for 2x2 windows (LeNet-5's, VGG's): vec.MaxPool2x2,
// example by example, compares the taps in the same order with the same rule, a later
// tap winning only if strictly larger (so NaN and signed zeros go as in
// maxPoolRange), eight channels at a time where it can.
func maxPool2x2Range[T int8 | float32 | float64](p *poolGeom, x []T, b0, b1 int, out []T, argmax []int32) {
	inSize, outSize := p.h*p.w*p.c, p.ho*p.wo*p.c
	g := vec.Pool2x2{C: p.c, Down: p.w * p.c, Step: p.stride * p.c, WO: p.wo}
	g.RowSkip = p.stride*g.Down - p.wo*g.Step
	for b := b0; b < b1; b++ {
		vec.MaxPool2x2(out[b*outSize:(b+1)*outSize], argmax[b*outSize:(b+1)*outSize], x, b*inSize, g, p.ho*p.wo)
	}
}

// b2i is 1 for true, 0 for false; the compiler computes it with a SETcc instruction,
// without a branch.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// maxPoolBackward routes each output error to its window's argmax, summing where
// windows overlap; dx (n examples of input size) is overwritten. Each example's
// windows lie in its own input, so the examples go to the cores whole, each value's
// sum in the same order.
func maxPoolBackward[T int8 | float32 | float64, A int32 | float32 | float64](dy []T, argmax []int32, dx []A, n int) {
	outSize, inSize := len(dy)/n, len(dx)/n
	parallel(n, max(1, 1<<14/max(outSize, 1)), func(b0, b1 int) {
		clear(dx[b0*inSize : b1*inSize])
		for j, i := range argmax[b0*outSize : b1*outSize] {
			dx[i] += A(dy[b0*outSize+j])
		}
	})
}

// avgPoolSum sums each window of n examples into out.
func avgPoolSum[T int8 | float32 | float64, A int32 | float32 | float64](p *poolGeom, x []T, n int, out []A) {
	inSize, outSize := p.h*p.w*p.c, p.ho*p.wo*p.c
	for b := range n {
		for oh := range p.ho {
			for ow := range p.wo {
				o := out[b*outSize+(oh*p.wo+ow)*p.c:][:p.c]
				clear(o)
				for ki := range p.kh {
					for kj := range p.kw {
						src := x[b*inSize+((oh*p.stride+ki)*p.w+ow*p.stride+kj)*p.c:][:p.c]
						for c, v := range src {
							o[c] += A(v)
						}
					}
				}
			}
		}
	}
}

// avgPoolSpread is avgPoolSum's adjoint: every input position receives the sum of the
// errors of the windows containing it; dx is overwritten.
func avgPoolSpread[T int8 | float32 | float64, A int32 | float32 | float64](p *poolGeom, dy []T, n int, dx []A) {
	inSize, outSize := p.h*p.w*p.c, p.ho*p.wo*p.c
	clear(dx[:n*inSize])
	for b := range n {
		for oh := range p.ho {
			for ow := range p.wo {
				e := dy[b*outSize+(oh*p.wo+ow)*p.c:][:p.c]
				for ki := range p.kh {
					for kj := range p.kw {
						dst := dx[b*inSize+((oh*p.stride+ki)*p.w+ow*p.stride+kj)*p.c:][:p.c]
						for c, v := range e {
							dst[c] += A(v)
						}
					}
				}
			}
		}
	}
}

// reluForward writes max(x, 0).
func reluForward[T int8 | float32 | float64](x, out []T) {
	out = out[:len(x)]
	parallel(len(x), 1<<15, func(lo, hi int) {
		switch xs := any(x[lo:hi]).(type) {
		case []int8:
			vec.ReLU(any(out[lo:hi]).([]int8), xs)
		case []float32:
			vec.ReLUFloat32(any(out[lo:hi]).([]float32), xs)
		default:
			for i := lo; i < hi; i++ {
				out[i] = max(x[i], 0)
			}
		}
	})
}

// reluBackward passes the error where the ReLU's output is positive and zeroes it
// elsewhere (dx may alias dy).
func reluBackward[T int8 | float32 | float64](out, dy, dx []T) {
	dy, dx = dy[:len(out)], dx[:len(out)]
	parallel(len(out), 1<<15, func(lo, hi int) {
		switch o := any(out[lo:hi]).(type) {
		case []float32:
			vec.MaskFloat32(o, any(dy[lo:hi]).([]float32), any(dx[lo:hi]).([]float32))
		case []int8:
			vec.Mask(o, any(dy[lo:hi]).([]int8), any(dx[lo:hi]).([]int8))
		default:
			for i := lo; i < hi; i++ {
				if out[i] > 0 {
					dx[i] = dy[i]
				} else {
					dx[i] = 0
				}
			}
		}
	})
}

// tokenIDs reads the token ids an embedding's input holds as float32 values; an id
// outside the vocabulary is a data error reported with its position.
func tokenIDs(x []float32, vocab int, ids []int32) error {
	for i, v := range x {
		id := int32(v)
		if float32(id) != v || id < 0 || int(id) >= vocab {
			return fmt.Errorf("input %d holds %v, not a token id in 0..%d", i, v, vocab-1)
		}
		ids[i] = id
	}
	return nil
}

// embedForward copies table row ids[j] (dim values) into output position j.
func embedForward[T int32 | float32 | float64, A int32 | float32 | float64](ids []int32, table []T, dim int, out []A) {
	for j, id := range ids {
		convert(out[j*dim:(j+1)*dim], table[int(id)*dim:(int(id)+1)*dim])
	}
}

// embedBackward adds the error of every position to its token's row of grad (the
// sparse gradient, accumulated into a dense table that the caller cleared).
func embedBackward[T int8 | float32 | float64, A int32 | float64](ids []int32, dy []T, dim int, grad []A) {
	for j, id := range ids {
		row := grad[int(id)*dim : (int(id)+1)*dim]
		for e, v := range dy[j*dim : (j+1)*dim] {
			row[e] += A(v)
		}
	}
}

// softmaxXentFloat is the float loss: logits holds one row of `classes` values per
// label; it writes the error of the mean loss, (softmax - onehot)/denom, into dz
// (computed in float64, stored as F) and returns the summed loss and the number of
// rows whose first largest logit is the label. Rows are computed concurrently; their
// losses are summed in row order, so the sum does not depend on GOMAXPROCS.
func softmaxXentFloat[F floatT](logits []F, classes int, labels []int32, denom int, dz []F) (lossSum float64, correct int) {
	inv := 1 / float64(denom)
	losses := make([]float64, len(labels))
	hits := make([]bool, len(labels))
	parallel(len(labels), 64, func(r0, r1 int) {
		exps := make([]float64, classes) // each exponential is computed once
		for r := r0; r < r1; r++ {
			y := labels[r]
			z := logits[r*classes : (r+1)*classes]
			d := dz[r*classes : (r+1)*classes]
			best := numerics.FirstMax(z)
			hits[r] = best == int(y)
			zmax := float64(z[best])
			for c, v := range z {
				exps[c] = float64(v) - zmax
			}
			vec.Exp(exps)
			var sum float64
			for _, e := range exps {
				sum += e
			}
			losses[r] = math.Log(sum) - (float64(z[y]) - zmax)
			for c, e := range exps {
				g := e / sum
				if c == int(y) {
					g--
				}
				d[c] = F(g * inv)
			}
		}
	})
	for r, l := range losses {
		lossSum += l
		if hits[r] {
			correct++
		}
	}
	return lossSum, correct
}
