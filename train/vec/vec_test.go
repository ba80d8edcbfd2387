package vec

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rctsim/rctsim/train/numerics"
)

// kernelSets runs f with the assembly kernels (when the CPU has them) and with pure Go.
func kernelSets(t testing.TB, f func(name string)) {
	for _, pure := range []bool{false, true} {
		if !pure && !hasAVX2 {
			continue
		}
		was := SetPureGo(pure)
		name := "avx2"
		if pure {
			name = "go"
		}
		f(name)
		SetPureGo(was)
	}
}

// randomAcc returns n accumulators of every magnitude, with the extremes appended.
func randomAcc(r *rand.Rand, n int) ([]int32, []int64) {
	a32 := make([]int32, n)
	a64 := make([]int64, n)
	for i := range n {
		bits := r.IntN(32)
		a32[i] = int32(r.Int64N(1<<bits) - r.Int64N(1<<bits))
		bits = r.IntN(64)
		a64[i] = int64(r.Uint64() >> (63 - bits))
		if r.IntN(2) == 0 {
			a64[i] = -a64[i]
		}
	}
	a32 = append(a32, math.MaxInt32, math.MinInt32, -math.MaxInt32, 0, 127, -127, 128)
	return a32, a64
}

// TestRequantMatchesNumerics checks Requant and Requant64 against the numerics
// functions they stand for, with every kernel set, on random values of every
// magnitude, every shift, both ReLU settings and lengths around the kernels' block.
func TestRequantMatchesNumerics(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	a32, a64 := randomAcc(r, 3000)
	huge := []int64{math.MaxInt64, math.MinInt64, -math.MaxInt64, 1 << 62, -(1 << 62), 1<<62 - 1, -(1<<62 - 1), 0}
	kernelSets(t, func(kernels string) {
		shifts := []int{-70, -40, -31, -8}
		for s := -7; s <= 65; s++ {
			shifts = append(shifts, s)
		}
		for _, shift := range shifts {
			for _, relu := range []bool{false, true} {
				for _, n := range []int{0, 1, 7, 8, 9, 16, 31, len(a32)} {
					x := a32[len(a32)-n:] // the extremes at the end are always in
					o1, o2 := make([]int8, n), make([]int8, n)
					m1, s1 := numerics.Requant(x, shift, relu, o1)
					m2, s2 := Requant(x, shift, relu, o2)
					if m1 != m2 || s1 != s2 || !slices.Equal(o1, o2) {
						t.Fatalf("%s: Requant of %d, shift %d, relu %v: (%d, %d) vs numerics (%d, %d)", kernels, n, shift, relu, m2, s2, m1, s1)
					}
				}
				for _, x := range [][]int64{a64, a64[:13], append(slices.Clone(a64[:20]), huge...), huge} {
					p1, p2 := make([]int8, len(x)), make([]int8, len(x))
					m1, s1 := numerics.Requant64(x, shift, relu, p1)
					m2, s2 := Requant64(x, shift, relu, p2)
					if m1 != m2 || s1 != s2 || !slices.Equal(p1, p2) {
						t.Fatalf("%s: Requant64 of %d, shift %d, relu %v: (%d, %d) vs numerics (%d, %d)", kernels, len(x), shift, relu, m2, s2, m1, s1)
					}
				}
			}
		}
	})
}

// BenchmarkRequant times requantising a tensor of 2^16 accumulators (a ResNet-20
// activation of one example is 16x32x32), per kernel set.
func BenchmarkRequant(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 1 << 16
	a32, a64 := make([]int32, n), make([]int64, n)
	for i := range n {
		a32[i] = int32(r.NormFloat64() * 4000)
		a64[i] = int64(a32[i]) << 8
	}
	out := make([]int8, n)
	kernelSets(b, func(kernels string) {
		for _, relu := range []bool{false, true} {
			b.Run(fmt.Sprintf("int32/%s/relu=%v", kernels, relu), func(b *testing.B) {
				b.SetBytes(n * 4)
				for b.Loop() {
					Requant(a32, 6, relu, out)
				}
			})
			b.Run(fmt.Sprintf("int64/%s/relu=%v", kernels, relu), func(b *testing.B) {
				b.SetBytes(n * 8)
				for b.Loop() {
					Requant64(a64, 14, relu, out)
				}
			})
		}
	})
}

func randomInt8(r *rand.Rand, n int) []int8 {
	x := make([]int8, n)
	for i := range x {
		x[i] = int8(r.IntN(256) - 128)
	}
	return x
}

// TestChannelSums checks ChannelSums against the sums by definition, with every kernel
// set, for channel counts the kernel takes and others, and for more rows than its
// int32 lanes could hold at once at the extremes (-128 * -128 in every row).
func TestChannelSums(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	kernelSets(t, func(kernels string) {
		for _, tc := range []struct{ c, rows int }{{1, 5}, {3, 7}, {16, 1}, {16, 33}, {32, 100}, {48, 9}, {64, 500}, {16, sumsRows + 3},
			// Channels that are not whole blocks, cut into rows of whole blocks and rows
			// left over.
			{6, 100}, {10, 13}, {100, 5}, {1, 40}, {6, sumsRows*3 + 5}} {
			u, v := randomInt8(r, tc.c*tc.rows), randomInt8(r, tc.c*tc.rows)
			if tc.rows > sumsRows {
				for i := range u {
					u[i], v[i] = -128, -128
				}
			}
			want1, want2 := make([]int64, tc.c), make([]int64, tc.c)
			for i, x := range u {
				want1[i%tc.c] += int64(x)
				want2[i%tc.c] += int64(x) * int64(v[i])
			}
			s1, s2 := make([]int64, tc.c), make([]int64, tc.c)
			s1[0], s2[0] = 5, -7 // ChannelSums adds
			want1[0], want2[0] = want1[0]+5, want2[0]-7
			ChannelSums(u, v, s1, s2)
			if !slices.Equal(s1, want1) || !slices.Equal(s2, want2) {
				t.Fatalf("%s: ChannelSums of %d rows of %d channels: %v %v, want %v %v", kernels, tc.rows, tc.c, s1, s2, want1, want2)
			}
		}
	})
}

// TestRowSums checks RowSums against the sums by definition, with every kernel set,
// for row lengths the kernel takes and others, and rows of -128s, the largest sums;
// of int8 rows and of the same values as int64.
func TestRowSums(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	kernelSets(t, func(kernels string) {
		for _, tc := range []struct{ rowLen, rows int }{{1, 5}, {3, 7}, {16, 1}, {16, 33}, {32, 100}, {48, 9}, {128, 500}, {1 << 16, 2}} {
			u, v := randomInt8(r, tc.rowLen*tc.rows), randomInt8(r, tc.rowLen*tc.rows)
			if tc.rowLen == 1<<16 {
				for i := range u[:tc.rowLen] {
					u[i], v[i] = -128, -128
				}
			}
			want1, want2 := make([]int64, tc.rows), make([]int64, tc.rows)
			for i, x := range u {
				want1[i/tc.rowLen] += int64(x)
				want2[i/tc.rowLen] += int64(x) * int64(v[i])
			}
			s1, s2 := make([]int64, tc.rows), make([]int64, tc.rows)
			RowSums(u, v, tc.rowLen, s1, s2)
			if !slices.Equal(s1, want1) || !slices.Equal(s2, want2) {
				t.Fatalf("%s: RowSums of %d rows of %d: %v %v, want %v %v", kernels, tc.rows, tc.rowLen, s1, s2, want1, want2)
			}
			u64 := make([]int64, len(u))
			for i, x := range u {
				u64[i] = int64(x)
			}
			RowSums(u64, v, tc.rowLen, s1, s2)
			if !slices.Equal(s1, want1) || !slices.Equal(s2, want2) {
				t.Fatalf("%s: RowSums of %d rows of %d int64: %v %v, want %v %v", kernels, tc.rows, tc.rowLen, s1, s2, want1, want2)
			}
		}
	})
}

// TestChannelAffine checks ChannelAffine against numerics.ChannelAffine, with every
// kernel set, with and without the second operand, for coefficients as FixCoefs makes
// them and for ones too large for the kernel.
func TestChannelAffine(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	coefs := func(n int, bits uint) []int64 {
		x := make([]int64, n)
		for i := range x {
			x[i] = r.Int64N(1<<bits) - r.Int64N(1<<bits)
		}
		return x
	}
	kernelSets(t, func(kernels string) {
		for _, tc := range []struct {
			c, rows int
			bits    uint
		}{{4, 1, 0}, {6, 5, 0}, {16, 37, 0}, {64, 9, 0}, {16, 3, 40}} {
			u, v := randomInt8(r, tc.c*tc.rows), randomInt8(r, tc.c*tc.rows)
			bits := cmp.Or(tc.bits, numerics.CoefBits-1)
			a, b, c := coefs(tc.c, bits), coefs(tc.c, bits), coefs(tc.c, 61)
			for _, second := range []bool{false, true} {
				vv, bb := v, b
				if !second {
					vv, bb = nil, nil
				}
				want, got := make([]int64, len(u)), make([]int64, len(u))
				numerics.ChannelAffine(u, vv, a, bb, c, want)
				ChannelAffine(u, vv, a, bb, c, got)
				if !slices.Equal(got, want) {
					t.Fatalf("%s: ChannelAffine of %d rows of %d channels (second operand %v) differs from numerics", kernels, tc.rows, tc.c, second)
				}
			}
		}
	})
}

// TestElementwise checks Widen, ReLU and Mask against their definitions, with every
// kernel set, on lengths around the kernels' blocks and every int8 value.
func TestElementwise(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	kernelSets(t, func(kernels string) {
		for _, n := range []int{0, 1, 7, 8, 15, 16, 31, 32, 33, 100, 256, 1000} {
			src, dy := randomInt8(r, n), randomInt8(r, n)
			if n == 256 {
				for i := range src {
					src[i] = int8(i)
				}
			}
			w16, w32 := make([]int16, n), make([]int32, n)
			Widen(w16, src)
			Widen(w32, src)
			relu, dx := make([]int8, n), make([]int8, n)
			ReLU(relu, src)
			Mask(src, dy, dx)
			for i, v := range src {
				want := dy[i]
				if v <= 0 {
					want = 0
				}
				if w16[i] != int16(v) || w32[i] != int32(v) || relu[i] != max(v, 0) || dx[i] != want {
					t.Fatalf("%s: value %d of %d (%d): widened %d %d, relu %d, mask %d (dy %d)", kernels, i, n, v, w16[i], w32[i], relu[i], dx[i], dy[i])
				}
			}
			in := slices.Clone(src)
			ReLU(in, in) // in place
			Mask(src, dy, dy)
			if !slices.Equal(in, relu) || !slices.Equal(dy, dx) {
				t.Fatalf("%s: ReLU or Mask in place differ", kernels)
			}
		}
	})
}

// TestMaskPairs checks Mask on every pair of int8 output and error, with every kernel
// set.
func TestMaskPairs(t *testing.T) {
	var out, dy []int8
	for o := range 256 {
		for d := range 256 {
			out, dy = append(out, int8(o-128)), append(dy, int8(d-128))
		}
	}
	kernelSets(t, func(kernels string) {
		dx := make([]int8, len(out))
		Mask(out, dy, dx)
		for i, v := range out {
			want := int8(0)
			if v > 0 {
				want = dy[i]
			}
			if dx[i] != want {
				t.Fatalf("%s: out %d, dy %d: dx %d, want %d", kernels, v, dy[i], dx[i], want)
			}
		}
	})
}

// TestScaleShift checks ScaleShift against numerics.ScaleShift, with every kernel set,
// on normalised values within 32 bits (the kernel's case, its extremes included) and
// of every magnitude (products that saturate), with and without beta, for shifts of
// both signs (some aligning beta beyond the kernel's range).
func TestScaleShift(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	kernelSets(t, func(kernels string) {
		for _, ch := range []int{1, 7, 64, 300} {
			for _, small := range []bool{true, false} {
				rows := 5
				xhat := make([]int64, ch*rows)
				for i := range xhat {
					xhat[i] = int64(r.Uint64() >> (1 + r.IntN(63)))
					if small {
						xhat[i] >>= 32
					}
					if r.IntN(2) == 0 {
						xhat[i] = -xhat[i]
					}
				}
				if small {
					xhat[0], xhat[len(xhat)-1] = math.MinInt32, math.MaxInt32
				} else {
					xhat[0], xhat[len(xhat)-1] = math.MinInt64, math.MaxInt64
				}
				gamma, beta := make([]int32, ch), make([]int32, ch)
				for j := range gamma {
					gamma[j], beta[j] = int32(r.Uint32()), int32(r.Uint32())
				}
				gamma[0] = math.MinInt32
				for _, shift := range []int{-40, -3, 0, 5, 31, 70} {
					for _, b := range [][]int32{beta, nil} {
						want, got := make([]int64, len(xhat)), make([]int64, len(xhat))
						numerics.ScaleShift(xhat, gamma, b, shift, want)
						ScaleShift(xhat, gamma, b, shift, got)
						if !slices.Equal(got, want) {
							t.Fatalf("%s: ScaleShift of %d channels (values within 32 bits %v), shift %d, beta %v: differs from numerics", kernels, ch, small, shift, b != nil)
						}
					}
				}
			}
		}
	})
}

// TestAddRows checks AddRows against numerics.AddBias (shift 0), with every kernel set,
// on sums that saturate either way and rows the kernel takes, takes a few at a time,
// or not.
func TestAddRows(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	kernelSets(t, func(kernels string) {
		for _, n := range []int{1, 3, 5, 6, 8, 12, 24, 64, 100} {
			rows := 13
			acc := make([]int32, n*rows)
			for i := range acc {
				acc[i] = int32(r.Uint32() >> r.IntN(32))
			}
			acc[0], acc[len(acc)-1] = math.MinInt32, math.MaxInt32
			bias := make([]int32, n)
			for j := range bias {
				bias[j] = max(int32(r.Uint32()>>r.IntN(32)), -math.MaxInt32)
			}
			bias[0] = -math.MaxInt32
			want := slices.Clone(acc)
			numerics.AddBias(want, n, bias, 0)
			AddRows(acc, bias)
			if !slices.Equal(acc, want) {
				t.Fatalf("%s: AddRows of %d rows of %d differs from numerics.AddBias", kernels, rows, n)
			}
		}
	})
}

// TestMulRows checks MulRows, with every kernel set, against its definition on
// extreme int8 values and int32 scales, for rows the kernel takes and others.
func TestMulRows(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	kernelSets(t, func(kernels string) {
		for _, tc := range []struct{ n, rows int }{{4, 1}, {8, 3}, {128, 17}, {6, 5}, {1, 2}} {
			x := randomInt8(r, tc.n*tc.rows)
			x[0] = -128
			w := make([]int32, tc.n)
			for j := range w {
				w[j] = int32(r.Uint32())
			}
			w[0] = math.MinInt32
			want := make([]int64, len(x))
			for i, v := range x {
				want[i] = int64(w[i%tc.n]) * int64(v)
			}
			got := make([]int64, len(x))
			MulRows(got, x, w)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: MulRows of %d rows of %d differs from the definition", kernels, tc.rows, tc.n)
			}
		}
	})
}

// TestAddInt32 checks AddInt32, with every kernel set, against Go's wrapping int32
// sums, extremes among the values.
func TestAddInt32(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	kernelSets(t, func(kernels string) {
		for _, n := range []int{0, 1, 8, 13, 1000} {
			dst, src := make([]int32, n), make([]int32, n)
			for i := range dst {
				dst[i], src[i] = int32(r.Uint32()), int32(r.Uint32())
				if r.IntN(8) == 0 {
					src[i] = []int32{math.MaxInt32, math.MinInt32, -1, 0}[r.IntN(4)]
				}
			}
			got := slices.Clone(dst)
			AddInt32(got, src)
			for i := range got {
				if want := dst[i] + src[i]; got[i] != want {
					t.Fatalf("%s: n %d: %d + %d = %d, want %d", kernels, n, dst[i], src[i], got[i], want)
				}
			}
		}
	})
}

// TestUpdateInt checks UpdateInt, with every kernel set, against numerics.UpdateInt:
// stochastic and nearest rounding, shifts from -3 to 64, mantissas of every size
// (at and past the kernel's bounds), weights at and near the bit width's limits
// (saturating either way), lengths that are not whole blocks, and first anywhere.
func TestUpdateInt(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	kernelSets(t, func(kernels string) {
		for range 400 {
			bits := 2 + r.IntN(15)
			lim := int32(numerics.Saturate(math.MaxInt64, bits))
			n := r.IntN(70)
			w, grad := make([]int32, n), make([]int32, n)
			for j := range w {
				w[j] = int32(r.IntN(2*int(lim)+1)) - lim
				grad[j] = int32(r.Uint32() >> r.IntN(32))
			}
			if n > 1 {
				w[0], w[n-1] = lim, -lim
			}
			mant := int64(r.Uint64()>>r.IntN(64)) * int64(1-2*r.IntN(2))
			if r.IntN(8) == 0 {
				mant = []int64{math.MinInt32, math.MinInt32 + 1, math.MaxInt32, math.MaxInt32 + 1}[r.IntN(4)]
			}
			shift := r.IntN(68) - 3
			rounding := numerics.RoundStochastic
			if r.IntN(8) == 0 {
				rounding = numerics.RoundNearest
			}
			key, first := r.Uint64(), r.Uint64()>>r.IntN(64)
			got, want := slices.Clone(w), slices.Clone(w)
			ns := UpdateInt(got, grad, mant, shift, bits, rounding, key, first)
			nw := numerics.UpdateInt(want, grad, mant, shift, bits, rounding, key, first)
			if ns != nw || !slices.Equal(got, want) {
				t.Fatalf("%s: bits %d, mant %d, shift %d, %d weights: %d saturated, want %d; weights equal: %v",
					kernels, bits, mant, shift, n, ns, nw, slices.Equal(got, want))
			}
		}
	})
}

// TestRowAffine checks RowAffine, with every kernel set, against numerics.RowAffine:
// int8 values alone and int64 values with int8 values, coefficients of every size
// (products that wrap included), rows the kernels take and others.
func TestRowAffine(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	kernelSets(t, func(kernels string) {
		for _, tc := range []struct{ rowLen, rows int }{{4, 1}, {8, 5}, {128, 9}, {6, 3}} {
			n := tc.rowLen * tc.rows
			u8, v := randomInt8(r, n), randomInt8(r, n)
			u64 := make([]int64, n)
			for i := range u64 {
				u64[i] = int64(r.Uint64() >> r.IntN(64))
				if r.IntN(2) == 0 {
					u64[i] = -u64[i]
				}
			}
			coefs := func() []int64 {
				x := make([]int64, tc.rows)
				for i := range x {
					x[i] = int64(r.Uint64() >> r.IntN(64))
					if r.IntN(2) == 0 {
						x[i] = -x[i]
					}
				}
				x[0] = math.MinInt64
				return x
			}
			a, b, c := coefs(), coefs(), coefs()
			got, want := make([]int64, n), make([]int64, n)
			RowAffine(u8, nil, tc.rowLen, a, nil, c, got)
			numerics.RowAffine(u8, nil, tc.rowLen, a, nil, c, want)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: RowAffine of int8 rows of %d differs from numerics.RowAffine", kernels, tc.rowLen)
			}
			RowAffine(u64, v, tc.rowLen, a, b, c, got)
			numerics.RowAffine(u64, v, tc.rowLen, a, b, c, want)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: RowAffine of int64 and int8 rows of %d differs from numerics.RowAffine", kernels, tc.rowLen)
			}
		}
	})
}
