package vec

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// bits32 and bits64 report whether two slices hold the same bits.
func bits32(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func bits64(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

// randomBits32 returns n float32 values of random bits, NaNs of both signs,
// infinities, zeros and subnormals among them.
func randomBits32(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = math.Float32frombits(r.Uint32())
		if r.IntN(8) == 0 {
			x[i] = []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(-1)), math.Float32frombits(0xff800001), math.Float32frombits(0xffc00000)}[r.IntN(5)]
		}
	}
	return x
}

// TestReLUMaskFloat32Bits checks ReLUFloat32 and MaskFloat32, with every kernel set,
// bit for bit against Go's max and the ordered compare out > 0 on random bit patterns,
// at lengths around the kernels' block, out of place and in place.
func TestReLUMaskFloat32Bits(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	kernelSets(t, func(kernels string) {
		for _, n := range []int{0, 1, 7, 8, 9, 31, 100000} {
			x, dy := randomBits32(r, n), randomBits32(r, n)
			out, dx := make([]float32, n), make([]float32, n)
			ReLUFloat32(out, x)
			MaskFloat32(x, dy, dx)
			for i, v := range x {
				want := max(v, 0)
				var wantDX float32
				if v > 0 {
					wantDX = dy[i]
				}
				if math.Float32bits(out[i]) != math.Float32bits(want) || math.Float32bits(dx[i]) != math.Float32bits(wantDX) {
					t.Fatalf("%s: n %d: x %08x dy %08x: relu %08x, error %08x; want %08x, %08x", kernels, n, math.Float32bits(v), math.Float32bits(dy[i]),
						math.Float32bits(out[i]), math.Float32bits(dx[i]), math.Float32bits(want), math.Float32bits(wantDX))
				}
			}
			in := slices.Clone(x)
			ReLUFloat32(in, in)
			MaskFloat32(x, dy, dy)
			if !bits32(in, out) || !bits32(dy, dx) {
				t.Fatalf("%s: n %d: ReLUFloat32 or MaskFloat32 in place differ", kernels, n)
			}
		}
	})
}

// TestAddFloat32Bits checks AddFloat32, with every kernel set, bit for bit against
// Go's float32 sums.
func TestAddFloat32Bits(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	kernelSets(t, func(kernels string) {
		for _, n := range []int{0, 1, 8, 13, 1000} {
			dst, src := make([]float32, n), make([]float32, n)
			for i := range dst {
				dst[i], src[i] = float32(r.NormFloat64()), float32(r.NormFloat64()*1e-3)
			}
			got := slices.Clone(dst)
			AddFloat32(got, src)
			for i := range got {
				if want := dst[i] + src[i]; math.Float32bits(got[i]) != math.Float32bits(want) {
					t.Fatalf("%s: n %d: %v + %v = %v, want %v", kernels, n, dst[i], src[i], got[i], want)
				}
			}
		}
	})
}

// TestAddRowBiasBits checks AddRowBias on float32 rows, with every kernel set, bit for
// bit against the sum in float64 rounded to float32, for row lengths with and without
// a kernel.
func TestAddRowBiasBits(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	kernelSets(t, func(kernels string) {
		for _, c := range []int{1, 3, 4, 12, 128} {
			m, bias := make([]float32, 37*c), make([]float64, c)
			for i := range m {
				m[i] = float32(r.NormFloat64())
			}
			for j := range bias {
				bias[j] = r.NormFloat64()
			}
			got := slices.Clone(m)
			AddRowBias(got, bias)
			for i, v := range m {
				if want := float32(float64(v) + bias[i%c]); math.Float32bits(got[i]) != math.Float32bits(want) {
					t.Fatalf("%s: c %d: %v + %v = %v, want %v", kernels, c, v, bias[i%c], got[i], want)
				}
			}
		}
	})
}

// TestBatchNormBits checks batch normalisation's kernels, with every kernel set, bit
// for bit against their definitions written as plain loops over all values, for
// channel counts the kernels take and others, and channel ranges starting anywhere.
func TestBatchNormBits(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	kernelSets(t, func(kernels string) {
		for _, c := range []int{1, 3, 4, 6, 8, 16, 20, 64} {
			for _, rows := range []int{1, 5, 300} {
				x, dy := make([]float32, rows*c), make([]float32, rows*c)
				for i := range x {
					x[i] = float32(r.NormFloat64()*3 + 1)
					dy[i] = float32(r.NormFloat64())
				}
				ch := func(f func() float64) []float64 {
					v := make([]float64, c)
					for j := range v {
						v[j] = f()
					}
					return v
				}
				mean, rstd, gamma, beta := ch(r.NormFloat64), ch(r.Float64), ch(r.Float64), ch(r.NormFloat64)
				sdyInv, sdx := ch(r.NormFloat64), ch(r.NormFloat64)
				inv := 1 / float64(rows)

				wantOut, wantDX := make([]float32, len(x)), make([]float32, len(x))
				for i, e := range x {
					j := i % c
					wantOut[i] = float32(gamma[j]*((float64(e)-mean[j])*rstd[j]) + beta[j])
					xh := (float64(e) - mean[j]) * rstd[j]
					wantDX[i] = float32(gamma[j] * (float64(dy[i]) - sdyInv[j] - xh*sdx[j]*inv))
				}
				out, dx := make([]float32, len(x)), make([]float32, len(x))
				BatchNormalize(x, out, c, mean, rstd, gamma, beta)
				BatchInputError(x, dy, dx, c, mean, rstd, gamma, sdyInv, sdx, inv)
				if !bits32(out, wantOut) || !bits32(dx, wantDX) {
					t.Fatalf("%s: c %d rows %d: BatchNormalize or BatchInputError differ", kernels, c, rows)
				}

				for _, j0 := range []int{0, 1, 4, 8} {
					if j0 >= c {
						continue
					}
					// The sums add to what the sums hold.
					start := ch(r.NormFloat64)
					w1, w2, w3, w4 := slices.Clone(start), slices.Clone(start), slices.Clone(start), slices.Clone(start)
					for i, e := range x {
						if j := i % c; j >= j0 {
							d := float64(e) - mean[j]
							w1[j] += float64(e)
							w2[j] += d * d
							w3[j] += float64(dy[i])
							w4[j] += float64(dy[i]) * ((float64(e) - mean[j]) * rstd[j])
						}
					}
					s1, s2, s3, s4 := slices.Clone(start), slices.Clone(start), slices.Clone(start), slices.Clone(start)
					SumChannels(x, c, j0, c, s1)
					SumSquaredDevs(x, c, j0, c, mean, s2)
					BatchGradSums(x, dy, c, j0, c, mean, rstd, s3, s4)
					if !bits64(s1, w1) || !bits64(s2, w2) || !bits64(s3, w3) || !bits64(s4, w4) {
						t.Fatalf("%s: c %d rows %d channels %d..%d: sums differ", kernels, c, rows, j0, c)
					}
				}
			}
		}
	})
}

// TestLayerNormBits checks layer normalisation's kernels, with every kernel set, bit
// for bit against their definitions written as plain loops over all values, for
// channel counts the kernels take and others, and channel ranges starting anywhere.
func TestLayerNormBits(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	kernelSets(t, func(kernels string) {
		for _, c := range []int{1, 3, 4, 6, 8, 20, 128} {
			for _, rows := range []int{1, 5, 300} {
				x, dy := make([]float32, rows*c), make([]float32, rows*c)
				for i := range x {
					x[i] = float32(r.NormFloat64()*3 + 1)
					dy[i] = float32(r.NormFloat64())
				}
				vals := func(n int, f func() float64) []float64 {
					v := make([]float64, n)
					for j := range v {
						v[j] = f()
					}
					return v
				}
				gamma, beta := vals(c, r.Float64), vals(c, r.NormFloat64)
				mean, rstd := vals(rows, r.NormFloat64), vals(rows, r.Float64)
				sg, sgx := vals(rows, r.NormFloat64), vals(rows, r.NormFloat64)
				inv := 1 / float64(c)
				// In odd rows the input error's terms nearly cancel, and in the last
				// odd row the output's, so that a float64 rounding taken in another
				// order shows in the float32 results.
				for i, e := range x {
					if k, j := i/c, i%c; k%2 == 1 {
						xh := (float64(e) - mean[k]) * rstd[k]
						dy[i] = float32((sg[k]*inv + xh*sgx[k]*inv) / gamma[j])
						beta[j] = -gamma[j] * xh * (1 + 1e-7*r.NormFloat64())
					}
				}

				wantOut, wantDX := make([]float32, len(x)), make([]float32, len(x))
				for i, e := range x {
					k, j := i/c, i%c
					wantOut[i] = float32(gamma[j]*((float64(e)-mean[k])*rstd[k]) + beta[j])
					xh := (float64(e) - mean[k]) * rstd[k]
					wantDX[i] = float32(rstd[k] * (gamma[j]*float64(dy[i]) - sg[k]*inv - xh*sgx[k]*inv))
				}
				out, dx := make([]float32, len(x)), make([]float32, len(x))
				LayerNormalize(x, out, c, mean, rstd, gamma, beta)
				LayerInputError(x, dy, dx, c, mean, rstd, gamma, sg, sgx, inv)
				if !bits32(out, wantOut) || !bits32(dx, wantDX) {
					t.Fatalf("%s: c %d rows %d: LayerNormalize or LayerInputError differ", kernels, c, rows)
				}

				for _, j0 := range []int{0, 1, 8} {
					if j0 >= c {
						continue
					}
					// The sums add to what the sums hold.
					start := vals(c, r.NormFloat64)
					w1, w2, s1, s2 := slices.Clone(start), slices.Clone(start), slices.Clone(start), slices.Clone(start)
					for i, e := range x {
						if k, j := i/c, i%c; j >= j0 {
							w1[j] += float64(dy[i])
							w2[j] += float64(dy[i]) * ((float64(e) - mean[k]) * rstd[k])
						}
					}
					LayerGradSums(x, dy, c, j0, c, mean, rstd, s1, s2)
					if !bits64(s1, w1) || !bits64(s2, w2) {
						t.Fatalf("%s: c %d rows %d channels %d..%d: LayerGradSums differ", kernels, c, rows, j0, c)
					}
				}
			}
		}
	})
}

// TestExpBits checks Exp, with every kernel set, bit for bit against math.Exp: on
// softmax's arguments (at most 0), on every magnitude, on random bit patterns, and on
// the values around the bounds of math.Exp's main path (overflow, results near the
// smallest normal and subnormal, infinities, NaNs and zeros), each special value in
// every lane of a block of four, at lengths that leave values past the last block.
func TestExpBits(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	special := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), -math.NaN(),
		7.09782712893384e+02, math.Nextafter(7.09782712893384e+02, 1000), 709.4, 709.5, 710, 1e300, -1e300,
		-708.39, -708.4, -709, -745.1, -745.2, -746, math.MaxFloat64, -math.MaxFloat64,
		math.SmallestNonzeroFloat64, 1e-300, -1e-300, 1, -1, 0.5 * math.Ln2, -0.5 * math.Ln2}
	var x []float64
	for range 20000 {
		x = append(x, -r.ExpFloat64()*8)
	}
	for range 20000 {
		x = append(x, (r.Float64()*2-1)*math.Pow(2, float64(r.IntN(12)-2)))
	}
	for range 20000 {
		x = append(x, math.Float64frombits(r.Uint64()))
	}
	for _, v := range special {
		for lane := range 4 {
			block := []float64{-1.5, 0.25, -3, 2}
			block[lane] = v
			x = append(x, block...)
		}
	}
	if hasAVX2 && hasFMA {
		ordinary := []float64{-1, -2.5, 0.75, -30}
		if expAVX2(&ordinary[0], 1) != 1 {
			t.Errorf("the kernel left four ordinary values to math.Exp")
		}
	}
	kernelSets(t, func(kernels string) {
		for _, n := range []int{len(x), len(x) - 1, len(x) - 3, 5, 3} {
			got := slices.Clone(x[len(x)-n:])
			Exp(got)
			for i, v := range x[len(x)-n:] {
				if want := math.Exp(v); math.Float64bits(got[i]) != math.Float64bits(want) {
					t.Fatalf("%s: Exp(%v) (bits %016x) = %v, math.Exp gives %v", kernels, v, math.Float64bits(v), got[i], want)
				}
			}
		}
	})
}

// TestRange32 checks Range32, with every kernel set, against Go's min and max, bit for
// bit, on random values, zeros of both signs, infinities, subnormals and NaNs, at
// lengths around and past the kernel's block of eight.
func TestRange32(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32,
		math.Float32frombits(0x7fc00001), math.Float32frombits(0xff800001)}
	kernelSets(t, func(kernels string) {
		for range 20000 {
			x := make([]float32, []int{r.IntN(40), 1000}[r.IntN(2)])
			odds := 1 + r.IntN(200) // how rare the special values are
			for i := range x {
				switch {
				case r.IntN(odds) == 0:
					x[i] = special[r.IntN(len(special))]
				case r.IntN(2) == 0:
					x[i] = math.Float32frombits(r.Uint32()&^(0xff<<23) | uint32(r.IntN(255))<<23) // never NaN
				default:
					x[i] = float32(r.NormFloat64())
				}
			}
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, v := range x {
				lo, hi = min(lo, float64(v)), max(hi, float64(v))
			}
			glo, ghi, ok := Range32(x)
			if nan := math.IsNaN(lo) || math.IsNaN(hi); ok == nan ||
				ok && (math.Float64bits(float64(glo)) != math.Float64bits(lo) || math.Float64bits(float64(ghi)) != math.Float64bits(hi)) {
				t.Fatalf("%s: Range32 of %d values = %v, %v, %v; min and max give %v, %v", kernels, len(x), glo, ghi, ok, lo, hi)
			}
		}
	})
}

// TestFakeQuantHalfQuotients checks FakeQuant, with every kernel set, on values whose
// quotient (x-qlo)/s is a half-integer or within an ulp or two of one, for steps s
// whose reciprocal is not exact: there a product by 1/s can round the other way than
// the quotient, which the assembly must then take. The test counts the values where
// the product and the quotient do round differently, so that it cannot pass without
// meeting them.
func TestFakeQuantHalfQuotients(t *testing.T) {
	steps := []float64{1.1, 1.3, 3, 7, 0.1, 0.3}
	xs := make([][]float32, len(steps))
	differ := 0
	for i, s := range steps {
		for k := range 2000 {
			f := float32((float64(k) + 0.5) * s)
			for _, v := range []float32{f, math.Nextafter32(f, 0), math.Nextafter32(f, math.MaxFloat32)} {
				xs[i] = append(xs[i], v)
				if Round(float64(v)/s) != Round(float64(v)*(1/s)) {
					differ++
				}
			}
		}
	}
	if differ == 0 {
		t.Fatal("no value where a product by the reciprocal rounds otherwise: the test meets no hard case")
	}
	kernelSets(t, func(kernels string) {
		for i, s := range steps {
			x := xs[i]
			out := make([]float32, len(x))
			FakeQuant(x, out, 0, 1e6, s)
			for j, v := range x {
				if want := float32(Round(float64(v)/s) * s); math.Float32bits(out[j]) != math.Float32bits(want) {
					t.Fatalf("%s: step %v: %v quantises to %v, want %v", kernels, s, v, out[j], want)
				}
			}
		}
	})
}

// TestQuantizeSymBits checks QuantizeSym, with every kernel set, bit for bit against
// its definition: on weights of both signs and zeros of both signs at the scales QAT
// gives them, on quotients at and an ulp from half-integers of both signs for steps
// with inexact reciprocals, and with an infinity or a NaN among the values (the Go
// loop's).
func TestQuantizeSymBits(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	type tc struct {
		x []float32
		s float64
	}
	var cases []tc
	for _, n := range []int{1, 3, 4, 5, 13, 4000} {
		x := make([]float32, n)
		m := 0.0
		for i := range x {
			x[i] = float32(r.NormFloat64() * 0.1)
			if r.IntN(16) == 0 {
				x[i] = float32(math.Copysign(0, float64(r.IntN(2)-1)))
			}
			m = max(m, math.Abs(float64(x[i])))
		}
		for _, bits := range []int{2, 4, 8, 16} {
			cases = append(cases, tc{x, max(m, 1e-9) / float64(int64(1)<<(bits-1)-1)})
		}
	}
	for _, s := range []float64{1.1, 1.3, 3, 0.3} {
		var x []float32
		for k := -500; k < 500; k++ {
			f := float32((float64(k) + 0.5) * s)
			x = append(x, f, math.Nextafter32(f, 0), math.Nextafter32(f, -math.MaxFloat32), math.Nextafter32(f, math.MaxFloat32))
		}
		cases = append(cases, tc{x, s})
	}
	odd := []float32{1, -2, float32(math.Inf(1)), 3, 0.5}
	cases = append(cases, tc{odd, 0.5}, tc{append(odd[:2:2], float32(math.NaN()), 1, 2), 0.5})
	kernelSets(t, func(kernels string) {
		for _, c := range cases {
			out := make([]float64, len(c.x))
			QuantizeSym(c.x, out, c.s)
			for i, v := range c.x {
				if want := Round(float64(v)/c.s) * c.s; math.Float64bits(out[i]) != math.Float64bits(want) {
					t.Fatalf("%s: step %v: %v quantises to %v (%016x), want %v (%016x)", kernels, c.s, v, out[i], math.Float64bits(out[i]), want, math.Float64bits(want))
				}
			}
		}
	})
}

// TestFakeQuantBits checks FakeQuant, with every kernel set, bit for bit against its
// definition on grids whose ends are zeros of either sign, with values outside the
// grid, halfway between grid points (the grid of [-7.9375, 8] has step 1/16), zeros of
// both signs and NaNs, at lengths around the kernel's four.
func TestFakeQuantBits(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	kernelSets(t, func(kernels string) {
		for _, grid := range [][2]float64{{-3, 2}, {0, 4}, {-4, 0}, {math.Copysign(0, -1), 1}, {-1e-3, 1e-3}, {-7.9375, 8}} {
			s := (grid[1] - grid[0]) / 255
			for _, n := range []int{1, 3, 4, 5, 13, 7000} {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(grid[0] + r.Float64()*(grid[1]-grid[0]))
					switch r.IntN(16) {
					case 0:
						x[i] = float32(math.Copysign(0, float64(r.IntN(2)-1)))
					case 1:
						x[i] *= 3
					case 2, 3:
						x[i] = float32(math.Round(float64(x[i])*32) / 32)
					case 4:
						if r.IntN(8) == 0 {
							x[i] = math.Float32frombits(0x7fc00000 | r.Uint32()&0x803fffff)
						}
					}
				}
				out := make([]float32, n)
				FakeQuant(x, out, grid[0], grid[1], s)
				for i, v := range x {
					c := min(max(float64(v), grid[0]), grid[1])
					want := float32(Round((c-grid[0])/s)*s + grid[0])
					if math.Float32bits(out[i]) != math.Float32bits(want) {
						t.Fatalf("%s: grid %v, n %d: %08x quantises to %08x, want %08x", kernels, grid, n, math.Float32bits(v), math.Float32bits(out[i]), math.Float32bits(want))
					}
				}
			}
		}
	})
}

// TestClipMaskBits checks ClipMask, with every kernel set, against its compares
// written as a plain loop, NaNs, infinities and zeros of both signs among the inputs
// and the grid's ends, for ends that are float32 values and ends that are not (with
// inputs at them and next to them).
func TestClipMaskBits(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	kernelSets(t, func(kernels string) {
		for _, grid := range [][2]float64{{-1, 1}, {0, 2}, {math.Copysign(0, -1), 0.5}, {-0.5, 0},
			{-0.1, 0.1}, {-1.0 / 3, 2.0 / 3}, {-1e-40, 1e-40}, {-1e39, 1e39}, {math.Inf(-1), math.Inf(1)}} {
			// Values at the bounds as float32 and at their neighbours: the bounds
			// need not be float32 values.
			near := func(q float64) float32 {
				f := float32(q)
				switch r.IntN(3) {
				case 0:
					f = math.Nextafter32(f, float32(math.Inf(-1)))
				case 1:
					f = math.Nextafter32(f, float32(math.Inf(1)))
				}
				return f
			}
			for _, n := range []int{1, 3, 4, 5, 8, 9, 1000} {
				x, dy := make([]float32, n), make([]float32, n)
				for i := range x {
					x[i], dy[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
					switch r.IntN(8) {
					case 0:
						x[i] = float32(math.Copysign(0, float64(r.IntN(2)-1)))
					case 1:
						x[i] = math.Float32frombits(0x7fc00000 | r.Uint32()&0x803fffff)
					case 2:
						x[i] = near(grid[0])
					case 3:
						x[i] = near(grid[1])
					case 4:
						x[i] = float32(math.Inf(2*r.IntN(2) - 1))
					}
				}
				dx := slices.Clone(dy)
				ClipMask(x, dx, grid[0], grid[1])
				for i, v := range x {
					want := dy[i]
					if f := float64(v); f < grid[0] || f > grid[1] {
						want = 0
					}
					if math.Float32bits(dx[i]) != math.Float32bits(want) {
						t.Fatalf("%s: grid %v, n %d: x %v passes %v, want %v", kernels, grid, n, v, dx[i], want)
					}
				}
			}
		}
	})
}

// TestRoundIsMathRound checks Round against math.Round on random values of every
// magnitude and on the values where rounding changes.
func TestRoundIsMathRound(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	xs := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1.5, -1.5, 2.5, 0.49999999999999994, -0.49999999999999994,
		1 << 52, 1<<52 + 1, 1 << 53, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN()}
	for range 200000 {
		xs = append(xs, math.Ldexp(r.NormFloat64(), r.IntN(120)-60), float64(r.IntN(2001)-1000)/2, math.Float64frombits(r.Uint64()))
	}
	for _, x := range xs {
		if got, want := Round(x), math.Round(x); math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("Round(%v) = %v, math.Round gives %v", x, got, want)
		}
	}
}

// BenchmarkExp times Exp on a row of 96 softmax arguments (the character models'
// vocabulary), per kernel set.
func BenchmarkExp(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	args := make([]float64, 96)
	for i := range args {
		args[i] = -r.ExpFloat64() * 6
	}
	x := make([]float64, len(args))
	kernelSets(b, func(kernels string) {
		b.Run(kernels, func(b *testing.B) {
			for b.Loop() {
				copy(x, args)
				Exp(x)
			}
		})
	})
}

// TestLayerErrorSums4Bits checks LayerErrorSums4, with every kernel set, bit for bit
// against its definition taken one row at a time: rows of several lengths (multiples
// of 4 and not), values of many magnitudes and signs, a repeated row (as the trainer
// passes past its last), and a NaN and an infinity.
func TestLayerErrorSums4Bits(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	kernelSets(t, func(kernels string) {
		for _, c := range []int{4, 8, 12, 128, 6, 1, 130} {
			for trial := range 3 {
				var x, dy [4][]float32
				var mean, rstd [4]float64
				gamma := make([]float64, c)
				for j := range gamma {
					gamma[j] = r.NormFloat64()
				}
				for i := range 4 {
					x[i], dy[i] = make([]float32, c), make([]float32, c)
					for j := range c {
						x[i][j] = float32(r.NormFloat64() * math.Exp2(float64(r.IntN(20)-10)))
						dy[i][j] = float32(r.NormFloat64() * math.Exp2(float64(r.IntN(20)-10)))
					}
					mean[i], rstd[i] = r.NormFloat64(), r.ExpFloat64()
				}
				switch trial {
				case 1:
					x[3], dy[3], mean[3], rstd[3] = x[2], dy[2], mean[2], rstd[2]
				case 2:
					x[1][c-1] = float32(math.NaN())
					dy[2][0] = float32(math.Inf(-1))
				}
				var sg, sgx [4]float64
				LayerErrorSums4(&x, &dy, gamma, &mean, &rstd, &sg, &sgx)
				for i := range 4 {
					var g, h float64
					for j, gm := range gamma {
						v := gm * float64(dy[i][j])
						g += v
						h += v * ((float64(x[i][j]) - mean[i]) * rstd[i])
					}
					if !bits64([]float64{sg[i], sgx[i]}, []float64{g, h}) {
						t.Fatalf("%s: c %d, trial %d, row %d: sums %v %v, want %v %v", kernels, c, trial, i, sg[i], sgx[i], g, h)
					}
				}
			}
		}
	})
}

// TestFakeQuantEstimateNearHalves checks FakeQuant, with every kernel set, bit for bit
// against its definition on QAT's 8-bit grids (qlo = -z*s, qhi = (255-z)*s, as
// fakeQuantAct makes them) at the values nearest each level's half-way point and a
// few ulps around it, where the float32 estimate must hand over to the float64 path,
// and at and past the grid's ends; and on grids of many levels, past the estimate's
// reach, a little off the half-way points, which a float32 estimate of so large a
// level would misjudge.
func TestFakeQuantEstimateNearHalves(t *testing.T) {
	type grid struct{ lo, hi, s float64 }
	var grids []grid
	var xs [][]float32
	for _, g := range []grid{{-1.3, 2.9, 0}, {-0.01, 0.07, 0}, {0, 6.1, 0}, {-5.3, 0, 0}, {-1e-3, 3e-3, 0}, {-3.7e4, 1.1e5, 0}} {
		s := (g.hi - g.lo) / 255
		z := math.Round(-g.lo / s)
		qlo, qhi := -z*s, (255-z)*s
		var x []float32
		for k := -2; k <= 257; k++ {
			h := float32(qlo + (float64(k)+0.5)*s)
			for v, i := h, 0; i < 4; v, i = math.Nextafter32(v, float32(math.Inf(1))), i+1 {
				x = append(x, v)
			}
			for v, i := math.Nextafter32(h, float32(math.Inf(-1))), 0; i < 3; v, i = math.Nextafter32(v, float32(math.Inf(-1))), i+1 {
				x = append(x, v)
			}
		}
		x = append(x, float32(qlo), float32(qhi), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)))
		grids, xs = append(grids, grid{qlo, qhi, s}), append(xs, x)
	}
	misjudged := 0
	for _, s := range []float64{1.1, 0.3} {
		var x []float32
		for k := 300.0; k < 2e7; k *= 1.1 {
			h := float32((math.Round(k) + 0.5) * s)
			for v, i := math.Nextafter32(h, 0), 0; i < 16; v, i = math.Nextafter32(v, float32(math.Inf(1))), i+1 {
				x = append(x, v)
				// What an estimate let loose on so large a level would do.
				q := float64(v * float32(1/s))
				if r := math.RoundToEven(q); math.Abs(q-r) < 0.5-0x1p-12 && r != Round(float64(v)/s) {
					misjudged++
				}
			}
		}
		grids, xs = append(grids, grid{0, 2e7 * s, s}), append(xs, x)
	}
	if misjudged == 0 {
		t.Fatal("no value of the many-level grids would be misjudged by an estimate: the test cannot see one used there")
	}
	kernelSets(t, func(kernels string) {
		for gi, g := range grids {
			x := xs[gi]
			out := make([]float32, len(x))
			FakeQuant(x, out, g.lo, g.hi, g.s)
			for i, v := range x {
				c := min(max(float64(v), g.lo), g.hi)
				want := float32(Round((c-g.lo)/g.s)*g.s + g.lo)
				if math.Float32bits(out[i]) != math.Float32bits(want) {
					t.Fatalf("%s: grid %v: %v (%08x) quantises to %v, want %v", kernels, g, v, math.Float32bits(v), out[i], want)
				}
			}
		}
	})
}
