package gemm

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// exactFMA32 is a*b+c rounded once to float32, computed with math/big.
func exactFMA32(a, b, c float32) float32 {
	x := new(big.Float).SetPrec(200).SetFloat64(float64(a))
	x.Mul(x, new(big.Float).SetPrec(200).SetFloat64(float64(b)))
	x.Add(x, new(big.Float).SetPrec(200).SetFloat64(float64(c)))
	f, _ := x.Float32()
	return f
}

func TestFMA32IsExactlyRounded(t *testing.T) {
	// a*b = 2^6(1-2^-46) added to 2^30+2^7: the float64 sum is the float32 midpoint
	// 2^30+3*2^6 and ties to even would go up; the exact value lies below it.
	cases := [][3]float32{
		{64 * (1 + 0x1p-23), 1 - 0x1p-23, 0x1p30 + 0x1p7},
		{-64 * (1 + 0x1p-23), 1 - 0x1p-23, -0x1p30 - 0x1p7},
		{64 * (1 + 0x1p-23), 1 + 0x1p-23, 0x1p30},
		{1, 1, -1}, {-1, 0, 0}, {0x1p-100, 0x1p-100, 0}, {3, 5, math.MaxFloat32},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		// Operands near powers of two with few low bits: sums land on float32
		// midpoints often.
		near := func() float32 {
			v := math.Ldexp(1+float64(r.IntN(9)-4)*0x1p-23, r.IntN(20)-10)
			if r.IntN(2) == 0 {
				v = -v
			}
			return float32(v)
		}
		cases = append(cases, [3]float32{near(), near(), near() * float32(math.Ldexp(1, r.IntN(30)))})
		cases = append(cases, [3]float32{float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64())})
	}
	for _, c := range cases {
		if got, want := fma32(c[0], c[1], c[2]), exactFMA32(c[0], c[1], c[2]); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma32(%g, %g, %g) = %g, want %g", c[0], c[1], c[2], got, want)
		}
	}
}

// refF32 is the definition: per element the in-order FMA chain from 0.
func refF32(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for i := range m {
		for j := range n {
			var s float32
			for p := range k {
				x, y := a[i*lda+p], b[p*ldb+j]
				if transA {
					x = a[p*lda+i]
				}
				if transB {
					y = b[j*ldb+p]
				}
				s = fma32(x, y, s)
			}
			c[i*ldc+j] = s
		}
	}
}

var shapes = []struct{ m, n, k int }{
	{1, 1, 1}, {6, 16, 1}, {7, 17, 3}, {5, 3, 300}, {13, 40, 257}, {64, 70, 513},
	{100, 33, 29}, {3, 1600, 20}, {200, 9, 700}, {97, 1601, 5},
}

// strides are the row strides of the test operands of shape m, n, k (A and B
// transposed as tr says), each wider than a row.
func strides(m, n, k int, tr [2]bool) (lda, ldb, ldc int) {
	lda, ldb, ldc = k+1, n+2, n+3
	if tr[0] {
		lda = m + 1
	}
	if tr[1] {
		ldb = k + 2
	}
	return lda, ldb, ldc
}

func TestF32MatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, ks := range available() {
		was := current
		use(ks)
		for _, s := range shapes {
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				lda, ldb, ldc := strides(s.m, s.n, s.k, tr)
				a := make([]float32, max(s.m, s.k)*lda)
				b := make([]float32, max(s.k, s.n)*ldb)
				for i := range a {
					a[i] = float32(r.NormFloat64())
				}
				for i := range b {
					// Integers times powers of two: many sums are float32 ties.
					b[i] = float32(math.Ldexp(float64(r.IntN(1<<12)-1<<11), r.IntN(8)))
				}
				want := make([]float32, s.m*ldc)
				got := make([]float32, s.m*ldc)
				for i := range got {
					got[i] = float32(i) // overwritten inside the m x n part, kept elsewhere
					want[i] = got[i]
				}
				refF32(tr[0], tr[1], s.m, s.n, s.k, a, lda, b, ldb, want, ldc)
				F32(tr[0], tr[1], s.m, s.n, s.k, a, lda, b, ldb, got, ldc)
				if !slices.EqualFunc(got, want, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) }) {
					t.Errorf("kernels %s, %dx%dx%d trans %v: F32 differs from the FMA chain", Kernels(), s.m, s.n, s.k, tr)
				}
			}
		}
		use(was)
	}
}

// TestF32IndependentOfCores checks that the split between goroutines changes no bit,
// whichever way A is stored (m is not a multiple of mr).
func TestF32IndependentOfCores(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m, n, k := 151, 900, 300
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	for i := range b {
		b[i] = float32(r.NormFloat64())
	}
	var outs [][]float32
	for _, procs := range []int{1, 2, 3, 8} {
		old := runtime.GOMAXPROCS(procs)
		for _, way := range []string{"A", "C^T", "A^T"} {
			c := make([]float32, m*n)
			switch way {
			case "A":
				F32(false, false, m, n, k, a, k, b, n, c, n)
			case "C^T": // the same product as C^T = B^T A^T, split along the other side
				ct := make([]float32, n*m)
				F32(true, true, n, m, k, b, n, a, k, ct, m)
				for i := range m {
					for j := range n {
						c[i*n+j] = ct[j*m+i]
					}
				}
			case "A^T":
				at := make([]float32, k*m)
				for i := range m {
					for p := range k {
						at[p*m+i] = a[i*k+p]
					}
				}
				F32(true, false, m, n, k, at, m, b, n, c, n)
			}
			outs = append(outs, c)
		}
		runtime.GOMAXPROCS(old)
	}
	for _, o := range outs[1:] {
		if !slices.Equal(o, outs[0]) {
			t.Fatal("F32 depends on GOMAXPROCS or on the split")
		}
	}
}

func refI32[A, B Int](transA, transB bool, m, n, k int, a []A, lda int, b []B, ldb int, c []int32, ldc int) {
	for i := range m {
		for j := range n {
			var s int64
			for p := range k {
				var x, y int64
				if transA {
					x = int64(a[p*lda+i])
				} else {
					x = int64(a[i*lda+p])
				}
				if transB {
					y = int64(b[j*ldb+p])
				} else {
					y = int64(b[p*ldb+j])
				}
				s += x * y
			}
			c[i*ldc+j] = int32(min(max(s, -math.MaxInt32), math.MaxInt32))
		}
	}
}

func testI32[A, B Int](t *testing.T, r *rand.Rand, maxA, maxB int64) {
	for _, s := range shapes {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			lda, ldb, ldc := strides(s.m, s.n, s.k, tr)
			a := make([]A, max(s.m, s.k)*lda)
			b := make([]B, max(s.k, s.n)*ldb)
			for i := range a {
				a[i] = A(r.Int64N(2*maxA+1) - maxA)
			}
			for i := range b {
				b[i] = B(r.Int64N(2*maxB+1) - maxB)
			}
			want := make([]int32, s.m*ldc)
			got := make([]int32, s.m*ldc)
			for i := range got {
				got[i] = int32(i)
				want[i] = got[i]
			}
			refI32(tr[0], tr[1], s.m, s.n, s.k, a, lda, b, ldb, want, ldc)
			I32(tr[0], tr[1], s.m, s.n, s.k, a, lda, maxA, b, ldb, maxB, got, ldc)
			if !slices.Equal(got, want) {
				t.Errorf("kernels %s, %T x %T bounded by %d, %d: %dx%dx%d trans %v: I32 is not exact", Kernels(), a, b, maxA, maxB, s.m, s.n, s.k, tr)
			}
		}
	}
}

func TestI32IsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, ks := range available() {
		was := current
		use(ks)
		testI32[int8, int8](t, r, 127, 127)
		testI32[int8, int32](t, r, 127, 2047)
		testI32[int32, int8](t, r, 32767, 127)    // int16 kernels for short reductions only
		testI32[int16, int16](t, r, 32767, 32767) // the exact int64 path
		testI32[int16, int16](t, r, 127, 127)     // int16 kernels from int16 rows (pairs, transposes)
		testI32[int32, int8](t, r, 1<<30, 127)    // too wide for int16
		testI32[int32, int32](t, r, 1<<30, 1<<30) // saturates
		testI32[int8, int16](t, r, 100, 20000)    // mixed
		use(was)
	}
}

func TestFits16(t *testing.T) {
	for _, c := range []struct {
		k          int
		maxA, maxB int64
		want       bool
	}{{1, 32767, 32767, true}, {2, 32767, 32767, true}, {3, 32767, 32767, false}, {1, 32768, 1, false},
		{133144, 127, 127, true}, {133145, 127, 127, false}, {10, -1, 1, false}} {
		if got := Fits16(c.k, c.maxA, c.maxB); got != c.want {
			t.Errorf("Fits16(%d, %d, %d) = %v", c.k, c.maxA, c.maxB, got)
		}
	}
}

// BenchmarkF32 times dense float32 products per kernel set: two shapes of the
// convolutions' size and the transformer's widest weight gradient, dY^T X (op(A)
// transposed, a long reduction).
func BenchmarkF32(b *testing.B) {
	for _, s := range []struct {
		m, n, k int
		transA  bool
	}{{64, 1024, 576, false}, {256, 256, 256, false}, {512, 128, 2048, true}} {
		a, bb, c := make([]float32, s.m*s.k), make([]float32, s.k*s.n), make([]float32, s.m*s.n)
		lda, name := s.k, fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k)
		if s.transA {
			lda, name = s.m, name+"/transA" // the transformer's widest weight gradient, dY^T X
		}
		for _, ks := range available() {
			b.Run(ks.name+"/"+name, func(b *testing.B) {
				was := current
				use(ks)
				defer use(was)
				for b.Loop() {
					F32(s.transA, false, s.m, s.n, s.k, a, lda, bb, s.n, c, s.n)
				}
				b.ReportMetric(float64(2*s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}

// BenchmarkConvF32 runs the convolution GEMMs of ResNet-20's layers (a batch of 8)
// and LeNet-5's (a batch of 32, 5x5 kernels, output channels as in the network): the
// patches as A (the forward pass) and as B (the weight gradient).
func BenchmarkConvF32(b *testing.B) {
	r := rand.New(rand.NewPCG(13, 14))
	type conv struct {
		s    Patches[float32]
		cout int
	}
	var convs []conv
	for _, hw := range []int{32, 16, 8} {
		convs = append(convs, conv{Patches[float32]{N: 8, H: hw, W: hw, C: 512 / hw, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1, HO: hw, WO: hw}, 512 / hw})
	}
	convs = append(convs,
		conv{Patches[float32]{N: 32, H: 28, W: 28, C: 1, KH: 5, KW: 5, Stride: 1, HO: 24, WO: 24}, 6},
		conv{Patches[float32]{N: 32, H: 12, W: 12, C: 6, KH: 5, KW: 5, Stride: 1, HO: 8, WO: 8}, 16})
	for _, c := range convs {
		s, cout := c.s, c.cout
		s.X = make([]float32, s.N*s.H*s.W*s.C)
		rows, k := s.Rows(), s.Cols()
		w, e := make([]float32, k*cout), make([]float32, rows*cout)
		for _, v := range [][]float32{s.X, w, e} {
			for i := range v {
				v[i] = float32(r.NormFloat64())
			}
		}
		y, g := make([]float32, rows*cout), make([]float32, cout*k)
		name := fmt.Sprintf("%dx%dx%d", s.H, s.W, s.C)
		if s.KH != 3 {
			name += fmt.Sprintf("k%d", s.KH)
		}
		b.Run("A/"+name, func(b *testing.B) {
			for b.Loop() {
				F32M(rows, cout, k, Mat[float32]{Patches: &s}, Dense(w, cout, false), y, cout)
			}
		})
		b.Run("B/"+name, func(b *testing.B) {
			for b.Loop() {
				F32M(cout, k, rows, Dense(e, cout, true), Mat[float32]{Patches: &s}, g, k)
			}
		})
	}
}

func BenchmarkI32(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{{64, 1024, 576}, {256, 256, 256}} {
		a, bb, c := make([]int8, s.m*s.k), make([]int8, s.k*s.n), make([]int32, s.m*s.n)
		for _, ks := range available() {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", ks.name, s.m, s.n, s.k), func(b *testing.B) {
				was := current
				use(ks)
				defer use(was)
				for b.Loop() {
					I32(false, false, s.m, s.n, s.k, a, s.k, 127, bb, s.n, 127, c, s.n)
				}
				b.ReportMetric(float64(2*s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
			})
		}
	}
}

// unfold materialises a Patches operand.
func unfold[T Elem](p *Patches[T]) []T {
	out := make([]T, p.Rows()*p.Cols())
	for r := range p.Rows() {
		patchRow(p, r, 0, out[r*p.Cols():(r+1)*p.Cols()])
	}
	return out
}

var convShapes = []Patches[float32]{
	{N: 2, H: 7, W: 6, C: 3, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1},
	{N: 3, H: 9, W: 9, C: 5, KH: 3, KW: 3, Stride: 2, PadT: 1, PadL: 1},
	{N: 2, H: 1, W: 20, C: 17, KH: 1, KW: 4, Stride: 1, PadL: 3},
	{N: 1, H: 12, W: 12, C: 40, KH: 5, KW: 5, Stride: 1},
	{N: 4, H: 12, W: 12, C: 8, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1}, // reductions over several blocks
	{N: 3, H: 11, W: 9, C: 1, KH: 5, KW: 5, Stride: 1, PadT: 2, PadL: 2},
	// Long runs, which F32 reads in place: padding on every side, strides,
	// channels not a multiple of anything, reductions over several blocks cutting
	// runs, kernels wider than the input, and more positions than a block of rows.
	{N: 2, H: 8, W: 8, C: 16, KH: 3, KW: 3, Stride: 2, PadT: 1, PadL: 1},
	{N: 3, H: 5, W: 7, C: 19, KH: 3, KW: 3, Stride: 2, PadT: 1, PadL: 1},
	{N: 2, H: 9, W: 7, C: 32, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1},
	{N: 1, H: 8, W: 8, C: 64, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1},
	{N: 1, H: 1, W: 1, C: 20, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1},
	{N: 2, H: 4, W: 3, C: 16, KH: 5, KW: 5, Stride: 1, PadT: 2, PadL: 2},
	{N: 4, H: 16, W: 13, C: 16, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1},
	{N: 2, H: 6, W: 6, C: 6, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1},   // runs of 18
	{N: 2, H: 5, W: 4, C: 200, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1}, // columns over several blocks
	// Short runs copied as blocks (blockRows), many rows a call: LeNet-5's first
	// layer (more positions than a reduction block), and runs that cross panels.
	{N: 3, H: 14, W: 14, C: 1, KH: 5, KW: 5, Stride: 1},
	{N: 2, H: 12, W: 10, C: 2, KH: 3, KW: 3, Stride: 1},
}

// sized sets the output size of one of convShapes: padding on both sides, or, for a
// causal convolution (KH 1), on the left only.
func sized(s Patches[float32]) Patches[float32] {
	s.HO = (s.H+2*s.PadT-s.KH)/s.Stride + 1
	s.WO = (s.W+2*s.PadL-s.KW)/s.Stride + 1
	if s.KH == 1 {
		s.WO = s.W
	}
	return s
}

// TestPackF32BPatches checks patches packed as B panels, float32 and int16 pairs,
// against the unfolded matrix packed as a dense one, zeros past the last column
// included, for reduction blocks at several offsets.
func TestPackF32BPatches(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, ks := range available() {
		was := current
		use(ks)
		for _, s := range convShapes {
			s = sized(s)
			s.X = make([]float32, s.N*s.H*s.W*s.C)
			for i := range s.X {
				s.X[i] = float32(r.NormFloat64())
			}
			u, k := unfold(&s), s.Cols()
			for _, pc := range []int{0, s.Rows() / 3, max(0, s.Rows()-kcBlock)} {
				kcb, ncb := min(kcBlock, s.Rows()-pc), min(k, maxRowPanels*nr)
				size := (ncb + nr - 1) / nr * nr * kcb
				got, want := make([]float32, size), make([]float32, size)
				for i := range got {
					got[i] = float32(math.NaN()) // what was there before
				}
				var buf f32Buffers
				q, release := &s, func() {}
				if padded(q) { // as F32M does
					q, release = unpad(q)
				}
				packF32B(&Mat[float32]{Patches: q}, pc, kcb, 0, ncb, got, buf.row[:], buf.runs[:0], buf.origins[:])
				release()
				dense := Dense(u, k, false)
				packF32B(&dense, pc, kcb, 0, ncb, want, buf.row[:], buf.runs[:0], buf.origins[:])
				if i := slices.IndexFunc(got, func(v float32) bool { return v != v }); i >= 0 || !slices.Equal(got, want) {
					t.Errorf("%s %+v: reduction %d..%d packed as B differs from the unfolded matrix's panels", Kernels(), s, pc, pc+kcb)
				}
				// The integer panels: int16 pairs of reduction steps.
				var ibuf i16Buffers
				p16 := Patches[int16]{X: make([]int16, len(s.X)), N: s.N, H: s.H, W: s.W, C: s.C, KH: s.KH, KW: s.KW, Stride: s.Stride, PadT: s.PadT, PadL: s.PadL, HO: s.HO, WO: s.WO}
				for i := range p16.X {
					p16.X[i] = int16(r.IntN(4001) - 2000)
				}
				isize := (ncb + nr - 1) / nr * nr * 2 * ((kcb + 1) / 2)
				igot, iwant := make([]int16, isize), make([]int16, isize)
				for i := range igot {
					igot[i] = -1 // what was there before
				}
				packI16B(&Mat[int16]{Patches: &p16}, pc, kcb, 0, ncb, igot, ibuf.row[:], ibuf.runs[:0], ibuf.origins[:])
				idense := Dense(unfold(&p16), k, false)
				packI16B(&idense, pc, kcb, 0, ncb, iwant, ibuf.row[:], ibuf.runs[:0], ibuf.origins[:])
				if !slices.Equal(igot, iwant) {
					t.Errorf("%s %+v: reduction %d..%d packed as integer B differs from the unfolded matrix's panels", Kernels(), s, pc, pc+kcb)
				}
			}
		}
		use(was)
	}
}

// TestPatchesMatchUnfolded checks patch operands, as A and as B, against the same
// products of the unfolded matrix: bit for bit for float32, exactly for integers, with
// every kernel set (the pure-Go one too).
func TestPatchesMatchUnfolded(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, ks := range available() {
		was := current
		use(ks)
		for _, s := range convShapes {
			s = sized(s)
			x := make([]float32, s.N*s.H*s.W*s.C)
			x8, x16 := make([]int8, len(x)), make([]int16, len(x))
			for i := range x {
				x8[i] = int8(r.IntN(255) - 127)
				x16[i] = int16(r.IntN(4001) - 2000)
				x[i] = float32(r.NormFloat64())
			}
			p := s
			p.X = x
			p8 := Patches[int8]{X: x8, N: s.N, H: s.H, W: s.W, C: s.C, KH: s.KH, KW: s.KW, Stride: s.Stride, PadT: s.PadT, PadL: s.PadL, HO: s.HO, WO: s.WO}
			// int16 patches with even channels are read in place as A.
			p16 := Patches[int16]{X: x16, N: s.N, H: s.H, W: s.W, C: s.C, KH: s.KH, KW: s.KW, Stride: s.Stride, PadT: s.PadT, PadL: s.PadL, HO: s.HO, WO: s.WO}
			rows, k := p.Rows(), p.Cols()
			u, u8, u16 := unfold(&p), unfold(&p8), unfold(&p16)
			const n = 21
			w := make([]float32, k*n)
			w32 := make([]int32, k*n)
			for i := range w {
				w[i] = float32(r.NormFloat64())
				w32[i] = int32(r.IntN(2001) - 1000)
			}
			// As A: C (rows x n) = P W.
			want, got := make([]float32, rows*n), make([]float32, rows*n)
			F32(false, false, rows, n, k, u, k, w, n, want, n)
			F32M(rows, n, k, Mat[float32]{Patches: &p}, Dense(w, n, false), got, n)
			if !slices.Equal(got, want) {
				t.Errorf("%s %+v: patches as A differ", Kernels(), s)
			}
			wi, gi := make([]int32, rows*n), make([]int32, rows*n)
			refI32(false, false, rows, n, k, u8, k, w32, n, wi, n)
			I32M(rows, n, k, Mat[int8]{Patches: &p8}, 127, Dense(w32, n, false), 1000, gi, n)
			if !slices.Equal(gi, wi) {
				t.Errorf("%s %+v: integer patches as A differ", Kernels(), s)
			}
			I32M(rows, n, k, Mat[int8]{Patches: &p8}, 127, Dense(w32, n, false), 1<<20, gi, n) // the int64 path
			if !slices.Equal(gi, wi) {
				t.Errorf("%s %+v: integer patches as A differ on the int64 path", Kernels(), s)
			}
			refI32(false, false, rows, n, k, u16, k, w32, n, wi, n)
			I32M(rows, n, k, Mat[int16]{Patches: &p16}, 2000, Dense(w32, n, false), 1000, gi, n)
			if !slices.Equal(gi, wi) {
				t.Errorf("%s %+v: int16 patches as A differ", Kernels(), s)
			}
			// As B: C (n x k) = E^T P, the reduction over the positions.
			e := make([]float32, rows*n)
			e32 := make([]int32, rows*n)
			for i := range e {
				e[i] = float32(r.NormFloat64())
				e32[i] = int32(r.IntN(255) - 127)
			}
			want, got = make([]float32, n*k), make([]float32, n*k)
			F32(true, false, n, k, rows, e, n, u, k, want, k)
			F32M(n, k, rows, Dense(e, n, true), Mat[float32]{Patches: &p}, got, k)
			if !slices.Equal(got, want) {
				t.Errorf("%s %+v: patches as B differ", Kernels(), s)
			}
			wi, gi = make([]int32, n*k), make([]int32, n*k)
			refI32(true, false, n, k, rows, e32, n, u8, k, wi, k)
			I32M(n, k, rows, Dense(e32, n, true), 127, Mat[int8]{Patches: &p8}, 127, gi, k)
			if !slices.Equal(gi, wi) {
				t.Errorf("%s %+v: integer patches as B differ", Kernels(), s)
			}
			I32M(n, k, rows, Dense(e32, n, true), 1<<30, Mat[int8]{Patches: &p8}, 127, gi, k)
			if !slices.Equal(gi, wi) {
				t.Errorf("%s %+v: integer patches as B differ on the int64 path", Kernels(), s)
			}
			refI32(true, false, n, k, rows, e32, n, u16, k, wi, k)
			I32M(n, k, rows, Dense(e32, n, true), 127, Mat[int16]{Patches: &p16}, 2000, gi, k)
			if !slices.Equal(gi, wi) {
				t.Errorf("%s %+v: int16 patches as B differ", Kernels(), s)
			}
		}
		use(was)
	}
}

// unfoldDef is the patch matrix by its definition, tap by tap.
func unfoldDef[T Elem](p *Patches[T]) []T {
	out := make([]T, 0, p.Rows()*p.Cols())
	for b := range p.N {
		for oh := range p.HO {
			for ow := range p.WO {
				for ki := range p.KH {
					for kj := range p.KW {
						ih, iw := oh*p.Stride-p.PadT+ki, ow*p.Stride-p.PadL+kj
						for c := range p.C {
							var v T
							if ih >= 0 && ih < p.H && iw >= 0 && iw < p.W {
								v = p.X[((b*p.H+ih)*p.W+iw)*p.C+c]
							}
							out = append(out, v)
						}
					}
				}
			}
		}
	}
	return out
}

// TestPatchRowsMatchDefinition checks the unfolding of patches (whole rows, and
// columns k0..k1 of them, converted, as the panels take them) against its definition:
// shapes with and without padding, strides, one input channel, odd sizes, kernels as
// wide as the input.
func TestPatchRowsMatchDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	shapes := []Patches[int16]{
		{N: 2, H: 32, W: 32, C: 1, KH: 5, KW: 5, Stride: 1},
		{N: 2, H: 14, W: 14, C: 6, KH: 5, KW: 5, Stride: 1},
		{N: 3, H: 11, W: 9, C: 1, KH: 5, KW: 5, Stride: 1, PadT: 2, PadL: 2},
		{N: 2, H: 7, W: 6, C: 3, KH: 3, KW: 3, Stride: 1, PadT: 1, PadL: 1},
		{N: 3, H: 9, W: 9, C: 5, KH: 3, KW: 3, Stride: 2, PadT: 1, PadL: 1},
		{N: 2, H: 10, W: 7, C: 1, KH: 3, KW: 3, Stride: 2},
		{N: 1, H: 9, W: 13, C: 2, KH: 3, KW: 4, Stride: 3, PadT: 1, PadL: 2},
		{N: 2, H: 5, W: 5, C: 17, KH: 5, KW: 5, Stride: 1},
		{N: 2, H: 5, W: 5, C: 3, KH: 5, KW: 5, Stride: 1, PadT: 4, PadL: 4},
		{N: 2, H: 1, W: 20, C: 17, KH: 1, KW: 4, Stride: 1, PadL: 3},
		{N: 2, H: 8, W: 8, C: 40, KH: 1, KW: 1, Stride: 2},
		{N: 2, H: 6, W: 6, C: 8, KH: 2, KW: 1, Stride: 1},   // runs of one block of float32
		{N: 2, H: 6, W: 9, C: 4, KH: 2, KW: 4, Stride: 1},   // one block of int16
		{N: 2, H: 6, W: 9, C: 3, KH: 2, KW: 3, Stride: 2},   // shorter than a block
		{N: 2, H: 5, W: 17, C: 1, KH: 3, KW: 17, Stride: 1}, // longer than a block of int16
	}
	for _, s := range shapes {
		padB, padR := s.PadT, s.PadL
		if s.KH == 1 && s.PadL > 0 { // causal: padding on the left only
			padR = 0
		}
		s.HO = (s.H+s.PadT+padB-s.KH)/s.Stride + 1
		s.WO = (s.W+s.PadL+padR-s.KW)/s.Stride + 1
		s.X = make([]int16, s.N*s.H*s.W*s.C)
		for i := range s.X {
			s.X[i] = int16(r.IntN(255) - 127)
		}
		f := Patches[float32]{X: make([]float32, len(s.X)), N: s.N, H: s.H, W: s.W, C: s.C, KH: s.KH, KW: s.KW, Stride: s.Stride, PadT: s.PadT, PadL: s.PadL, HO: s.HO, WO: s.WO}
		for i, v := range s.X {
			f.X[i] = float32(v)
		}
		want, wantF := unfoldDef(&s), unfoldDef(&f)
		k := s.Cols()
		got, gotF := make([]int16, len(want)), make([]float32, len(want))
		Unfold(&s, got)
		Unfold(&f, gotF)
		if !slices.Equal(got, want) || !slices.Equal(gotF, wantF) {
			t.Errorf("%+v: Unfold differs from the definition", s)
		}
		// Packed as A (fillRows), without conversion.
		const n = 7
		w, w16 := make([]float32, k*n), make([]int16, k*n)
		for i := range w {
			w16[i] = int16(r.IntN(255) - 127)
			w[i] = float32(w16[i])
		}
		c, cw := make([]float32, s.Rows()*n), make([]float32, s.Rows()*n)
		F32M(s.Rows(), n, k, Mat[float32]{Patches: &f}, Dense(w, n, false), c, n)
		F32(false, false, s.Rows(), n, k, wantF, k, w, n, cw, n)
		ci, ciw := make([]int32, s.Rows()*n), make([]int32, s.Rows()*n)
		I32M(s.Rows(), n, k, Mat[int16]{Patches: &s}, 127, Dense(w16, n, false), 127, ci, n)
		refI32(false, false, s.Rows(), n, k, want, k, w16, n, ciw, n)
		if !slices.Equal(c, cw) || !slices.Equal(ci, ciw) {
			t.Errorf("%+v: patches packed as A differ from the definition", s)
		}
		for range 40 {
			k0 := r.IntN(k)
			k1 := k0 + 1 + r.IntN(k-k0)
			row := r.IntN(s.Rows())
			got, gotF := make([]int16, k1-k0), make([]float32, k1-k0)
			patchRow(&s, row, k0, got)  // the same type
			patchRow(&s, row, k0, gotF) // converting
			if !slices.Equal(got, want[row*k+k0:row*k+k1]) || !slices.Equal(gotF, wantF[row*k+k0:row*k+k1]) {
				t.Fatalf("%+v: row %d, columns %d..%d differ from the definition", s, row, k0, k1)
			}
		}
	}
}

// TestUnpadWritesEveryValue checks unpad's copy made over a pooled buffer that holds
// an earlier copy's values (NaNs): its patch matrix must be the padded input's, the
// zeros of the padding included.
func TestUnpadWritesEveryValue(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	reused := 0
	for _, s := range convShapes {
		s = sized(s)
		if !padded(&s) {
			continue
		}
		s.X = make([]float32, s.N*s.H*s.W*s.C)
		stale := s
		stale.X = make([]float32, len(s.X))
		for i := range s.X {
			s.X[i] = float32(r.NormFloat64())
			stale.X[i] = float32(math.NaN())
		}
		q0, release := unpad(&stale)
		for i := range q0.X {
			q0.X[i] = float32(math.NaN()) // the padding too
		}
		release()
		q, release := unpad(&s)
		if &q.X[0] == &q0.X[0] {
			reused++
		}
		if got, want := unfold(q), unfold(&s); !slices.EqualFunc(got, want, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
			t.Errorf("%+v: the copy's patches differ from the padded input's", s)
		}
		release()
	}
	if reused == 0 {
		t.Fatal("no copy was made over an earlier one: the test checks nothing stale")
	}
}
