package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// maxPoolDef is MaxPool2x2 by its definition: a scan of each window's taps in order,
// a tap replacing the best only if greater.
func maxPoolDef[T int8 | float32](out []T, arg []int32, x []T, first int, g Pool2x2, count int) {
	for n := range count {
		o := first + n*g.Step + n/g.WO*g.RowSkip
		for ch := range g.C {
			best := o + ch
			for _, tap := range []int{o + g.C + ch, o + g.Down + ch, o + g.Down + g.C + ch} {
				if x[tap] > x[best] {
					best = tap
				}
			}
			out[n*g.C+ch], arg[n*g.C+ch] = x[best], int32(best)
		}
	}
}

// TestMaxPool2x2 checks MaxPool2x2, with and without the assembly kernels, against
// its definition, bit for bit, on windows of every example of a batch (2x2, strides
// 1 and 2) for channel counts around the kernels' blocks of eight, with ties, signed
// zeros, infinities and NaNs among the taps, and that nothing past the outputs is
// written.
func TestMaxPool2x2(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, pure := range []bool{false, true} {
		was := SetPureGo(pure)
		for _, c := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17, 24, 32} {
			for _, stride := range []int{1, 2} {
				const n, h, w = 3, 7, 6
				ho, wo := (h-2)/stride+1, (w-2)/stride+1
				g := Pool2x2{C: c, Down: w * c, Step: stride * c, WO: wo}
				g.RowSkip = stride*g.Down - wo*g.Step
				x := make([]float32, n*h*w*c)
				x8 := make([]int8, len(x))
				special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
				for i := range x {
					x[i] = float32(r.IntN(5) - 2) // many ties
					if r.IntN(8) == 0 {
						x[i] = special[r.IntN(len(special))]
					}
					x8[i] = int8(r.IntN(256) - 128)
					if r.IntN(2) == 0 {
						x8[i] = int8(r.IntN(3) - 1)
					}
				}
				count := ho * wo
				for b := range n {
					first := b * h * w * c
					name := fmt.Sprintf("pure %v, c %d, stride %d, example %d", pure, c, stride, b)
					checkMaxPool(t, name, x, first, g, count)
					checkMaxPool(t, name+", int8", x8, first, g, count)
				}
			}
		}
		SetPureGo(was)
	}
}

func checkMaxPool[T int8 | float32](t *testing.T, name string, x []T, first int, g Pool2x2, count int) {
	t.Helper()
	const sentinel = 99
	size := count * g.C
	out, arg := make([]T, size+16), make([]int32, size+16)
	for i := range out {
		out[i], arg[i] = sentinel, sentinel
	}
	want, wantArg := make([]T, size), make([]int32, size)
	maxPoolDef(want, wantArg, x, first, g, count)
	MaxPool2x2(out, arg, x, first, g, count)
	same := func(a, b T) bool {
		if f, ok := any(a).(float32); ok {
			return math.Float32bits(f) == math.Float32bits(any(b).(float32))
		}
		return a == b
	}
	if !slices.EqualFunc(out[:size], want, same) || !slices.Equal(arg[:size], wantArg) {
		t.Fatalf("%s: outputs or indices differ from the definition", name)
	}
	if slices.ContainsFunc(out[size:], func(v T) bool { return v != sentinel }) ||
		slices.ContainsFunc(arg[size:], func(v int32) bool { return v != sentinel }) {
		t.Fatalf("%s: wrote past the outputs", name)
	}
}
