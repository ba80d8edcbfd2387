// Package gemm holds the matrix-multiply kernels of the host trainer: a float32 GEMM
// for the float methods (FP32, QAT) and an exact integer GEMM for integer training
// (RCT).
//
// Both compute C = op(A) op(B) for row-major matrices, op(X) being X or its
// transpose, C being m x n and the reduction k long, and overwrite C. They run the
// usual way of fast GEMMs (Goto and van de Geijn; BLIS): the operands are copied into
// packed panels sized for the caches (op(B) in panels of nr columns, op(A) in panels
// of mr rows, both in blocks of kc of the reduction), and a register-blocked
// microkernel computes an mr x nr tile of C from a pair of panels. Tiles of C are
// split between goroutines (all cores, GOMAXPROCS), along whichever of m and n is
// longer.
//
// # Results
//
// F32: each element of C is the chain of fused multiply-adds over the reduction in
// order, c = fma(a[k-1], b[k-1], ... fma(a[1], b[1], fma(a[0], b[0], 0))), each
// rounded once to float32 (IEEE 754 fusedMultiplyAdd). Blocking the reduction
// carries the partial sum through C in float32, which is the same chain, so the
// result does not depend on the block sizes, on how tiles are split between cores, on
// GOMAXPROCS or on which microkernel runs: the assembly microkernels (FMA instructions)
// and the pure-Go one (an exact emulation of the float32 FMA, fma32) give identical
// bits, which the tests check.
//
// I32: each element of C is the exact integer sum of its k products, saturated to
// ±(2^31-1) (numerics.GEMMInt's definition). The caller states bounds on |A| and |B|;
// when both fit int16 and k*maxA*maxB < 2^31 (no partial sum can leave int32), the
// packed kernels multiply int16 pairs into int32 (PMADDWD); otherwise an exact int64
// path runs. Integer results are exact, so every path gives the same values.
//
// # Kernels and dispatch
//
// On amd64 with AVX2 and FMA (detected with golang.org/x/sys/cpu at start-up) the
// microkernels are Go assembly generated with avo (see _asm/; go generate): a 6x16
// float32 kernel of VFMADD231PS, and a 6x16 integer kernel of VPMADDWD and VPADDD, or
// of VPDPWSSD when the CPU has AVX512-VNNI. Elsewhere, or with the build tag purego,
// they are pure Go. Kernels reports which run; the tests run every set the CPU has
// and compare them bit for bit.
package gemm

//go:generate sh -c "cd _asm && go run . -out ../kernel_amd64.s -stubs ../kernel_amd64.go -pkg gemm"

import (
	"runtime"
	"sync"
)

// Register tile and cache blocks. The microkernels compute mr x nr tiles; kcBlock is
// the reduction block, mcBlock the rows of op(A) packed at once (a multiple of mr),
// ncBlock the columns of op(B) packed at once (a multiple of nr).
const (
	mr      = 6
	nr      = 16
	kcBlock = 256
	mcBlock = 96
	ncBlock = 1536
)

var _ = [1]int{}[mr-6] // the assembly kernels are written for mr = 6

// minParallel is the fewest multiply-adds worth a second goroutine.
const minParallel = 1 << 17

// Kernels names the microkernels in use: "avx2", "avx2+vnni" or "go".
func Kernels() string { return current.name }

// SetPureGo selects the pure-Go microkernels (true) or the fastest the CPU has
// (false), and returns the previous setting. It is for tests and benchmarks: the
// results are identical either way. It must not be called while a GEMM runs.
func SetPureGo(pure bool) (was bool) {
	was = current.name == "go"
	if pure {
		use(goKernels)
	} else {
		use(available()[0])
	}
	return was
}

// kernelSet is a float32 and an integer microkernel.
type kernelSet struct {
	name string
	// f32 computes an mr x nr tile c (row stride ldc) from kc steps of packed panels a
	// (mr rows of kc) and b (kc x nr): c = chain of FMAs starting from c (load) or 0.
	f32 func(kc int, a, b, c *float32, ldc int, load bool)
	// i16 computes an mr x nr int32 tile c from kc2 steps of packed int16 pair panels
	// a (mr rows of kc2 pairs) and b (kc2 x nr pairs): c += (or =, without load) the
	// sum of the pair products.
	i16 func(kc2 int, a, b *int16, c *int32, ldc int, load bool)
}

var goKernels = kernelSet{"go", f32KernelGo, i16KernelGo}

// current is the kernel set in use; f32Kernel and i16Kernel are its kernels.
var (
	current    kernelSet
	f32Kernel  func(kc int, a, b, c *float32, ldc int, load bool)
	i16Kernel  func(kc2 int, a, b *int16, c *int32, ldc int, load bool)
	kernelSets []kernelSet
)

func use(k kernelSet) { current, f32Kernel, i16Kernel = k, k.f32, k.i16 }

// available returns the kernel sets this CPU runs, fastest first, the pure-Go one
// last.
func available() []kernelSet {
	if kernelSets == nil {
		kernelSets = append(asmKernels(), goKernels)
	}
	return kernelSets
}

func init() { use(available()[0]) }

// tiles splits the m x n output between workers: it returns how many parts and
// whether they split the rows (else the columns).
func tiles(m, n, k int) (parts int, byRows bool) {
	parts = runtime.GOMAXPROCS(0)
	if work := m * n * k; work < 2*minParallel {
		parts = 1
	} else {
		parts = min(parts, work/minParallel)
	}
	byRows = m > n
	unit, length := nr, n
	if byRows {
		unit, length = mr, m
	}
	parts = max(1, min(parts, (length+unit-1)/unit))
	return parts, byRows
}

// run calls f on parts of [0, m) x [0, n): the rows or the columns cut at multiples of
// mr or nr.
func run(m, n, k int, f func(i0, i1, j0, j1 int)) {
	parts, byRows := tiles(m, n, k)
	if parts == 1 {
		f(0, m, 0, n)
		return
	}
	unit, length := nr, n
	if byRows {
		unit, length = mr, m
	}
	units := (length + unit - 1) / unit
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := min(length, p*units/parts*unit), min(length, (p+1)*units/parts*unit)
		if lo >= hi {
			continue
		}
		if byRows {
			wg.Go(func() { f(lo, hi, 0, n) })
		} else {
			wg.Go(func() { f(0, m, lo, hi) })
		}
	}
	wg.Wait()
}

// Buffers of packed panels, reused between calls.
var (
	f32Bufs = sync.Pool{New: func() any { return new(buffers[float32, float32]) }}
	i16Bufs = sync.Pool{New: func() any { return new(buffers[int16, int32]) }}
)

// buffers are one worker's packed panels of op(A) and op(B), a tile for the edges of
// C, and a row of the reduction for packing patches.
type buffers[P float32 | int16, O float32 | int32] struct {
	a    [mcBlock * kcBlock]P
	b    [ncBlock * kcBlock]P
	tile [mr * nr]O
	row  [2*max(kcBlock, ncBlock) + 1]P
	runs [max(kcBlock, ncBlock)]tapRun
}

// Mat is a GEMM operand: a dense row-major matrix (Data with row stride Ld, used
// transposed when Trans), or, when Patches is set, the patch matrix of a convolution's
// input (im2col without the copy; see Patches).
type Mat[T Elem] struct {
	Data    []T
	Ld      int
	Trans   bool
	Patches *Patches[T]
}

// Dense is a dense operand.
func Dense[T Elem](data []T, ld int, trans bool) Mat[T] {
	return Mat[T]{Data: data, Ld: ld, Trans: trans}
}

// check panics when the operand cannot be rows x cols.
func (x *Mat[T]) check(rows, cols int) {
	if p := x.Patches; p != nil {
		if p.Rows() != rows || p.Cols() != cols || len(p.X) < p.N*p.H*p.W*p.C {
			panic("gemm: patches do not match the operand's dimensions")
		}
		return
	}
	checkLen(x.Trans, rows, cols, len(x.Data), x.Ld)
}

// prepare checks the operands of C (m x n) = A (m x k) B (k x n) and reports whether
// there are products to compute; when k <= 0 it clears C instead.
func prepare[A, B Elem, O float32 | int32](m, n, k int, a *Mat[A], b *Mat[B], c []O, ldc int) bool {
	if m <= 0 || n <= 0 {
		return false
	}
	if k <= 0 {
		for i := range m {
			clear(c[i*ldc : i*ldc+n])
		}
		return false
	}
	a.check(m, k)
	b.check(k, n)
	checkLen(false, m, n, len(c), ldc)
	return true
}

// F32 computes C = op(A) op(B) in float32 (see the package documentation for the
// result's definition). a is m x k (k x m when transA), b is k x n (n x k when
// transB), c is m x n; lda, ldb and ldc are their row strides.
func F32(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	F32M(m, n, k, Dense(a, lda, transA), Dense(b, ldb, transB), c, ldc)
}

// F32M is F32 for any operands: C (m x n) = A (m x k) B (k x n).
func F32M(m, n, k int, a, b Mat[float32], c []float32, ldc int) {
	if !prepare(m, n, k, &a, &b, c, ldc) {
		return
	}
	run(m, n, k, func(i0, i1, j0, j1 int) {
		buf := f32Bufs.Get().(*buffers[float32, float32])
		defer f32Bufs.Put(buf)
		packA := func(ic, mcb, pc, kcb int) { packF32A(&a, ic, mcb, pc, kcb, buf.a[:], buf.runs[:0]) }
		packB := func(pc, kcb, jc, ncb int) { packF32B(&b, pc, kcb, jc, ncb, buf.b[:], buf.row[:], buf.runs[:0]) }
		drive(i0, i1, j0, j1, k, false, buf, packA, packB, f32Kernel, c, ldc)
	})
}

// drive runs the blocked loops over rows i0..i1 and columns j0..j1 of C: packB and
// packA fill buf's panels, kern computes tiles. With pairs, panels hold the reduction
// in pairs (the integer kernels) and kern counts pairs.
func drive[P float32 | int16, O float32 | int32](i0, i1, j0, j1, k int, pairs bool, buf *buffers[P, O],
	packA func(ic, mcb, pc, kcb int), packB func(pc, kcb, jc, ncb int), kern func(kc int, a, b *P, c *O, ldc int, load bool), c []O, ldc int) {
	for jc := j0; jc < j1; jc += ncBlock {
		ncb := min(ncBlock, j1-jc)
		for pc := 0; pc < k; pc += kcBlock {
			kcb := min(kcBlock, k-pc)
			steps, span := kcb, kcb // kernel steps, and values per panel row or column
			if pairs {
				steps = (kcb + 1) / 2
				span = 2 * steps
			}
			load := pc > 0
			packB(pc, kcb, jc, ncb)
			for ic := i0; ic < i1; ic += mcBlock {
				mcb := min(mcBlock, i1-ic)
				packA(ic, mcb, pc, kcb)
				for jr := 0; jr < ncb; jr += nr {
					bp := &buf.b[jr*span]
					w := min(nr, ncb-jr)
					for ir := 0; ir < mcb; ir += mr {
						ap := &buf.a[ir*span]
						h := min(mr, mcb-ir)
						off := (ic+ir)*ldc + jc + jr
						if w == nr && h == mr {
							kern(steps, ap, bp, &c[off], ldc, load)
							continue
						}
						t := buf.tile[:]
						if load {
							for i := range h {
								copy(t[i*nr:i*nr+w], c[off+i*ldc:])
							}
						}
						kern(steps, ap, bp, &t[0], nr, load)
						for i := range h {
							copy(c[off+i*ldc:off+i*ldc+w], t[i*nr:])
						}
					}
				}
			}
		}
	}
}

// checkLen panics when a rows x cols operand (cols x rows in memory when trans) with
// row stride ld does not fit a slice of length n.
func checkLen(trans bool, rows, cols, n, ld int) {
	if trans {
		rows, cols = cols, rows
	}
	if ld < cols || n < (rows-1)*ld+cols {
		panic("gemm: operand too short for its dimensions")
	}
}

// packF32A packs rows ic..ic+mcb of op(A), reduction pc..pc+kcb, into panels of mr
// rows: panel r holds element (i, p) at r*kcb + i*kcb + p (the kernels read the rows
// side by side), zero past the last row. Patches are unfolded straight into it.
func packF32A(x *Mat[float32], ic, mcb, pc, kcb int, dst []float32, runs []tapRun) {
	a, lda := x.Data, x.Ld
	if x.Patches != nil {
		runs = x.Patches.runs(pc, kcb, runs)
	}
	for r := 0; r < mcb; r += mr {
		panel := dst[r*kcb : r*kcb+mr*kcb]
		h := min(mr, mcb-r)
		switch {
		case x.Patches != nil:
			fillRows(x.Patches, ic+r, h, runs, panel, kcb, kcb)
		case !x.Trans:
			for i := range h {
				copy(panel[i*kcb:(i+1)*kcb], a[(ic+r+i)*lda+pc:])
			}
		default:
			for p := range kcb {
				for i, v := range a[(pc+p)*lda+ic+r:][:h] {
					panel[i*kcb+p] = v
				}
			}
		}
		clear(panel[h*kcb:])
	}
}

// packF32B packs columns jc..jc+ncb of op(B), reduction pc..pc+kcb, into panels of nr
// columns: panel q holds element (p, j) at q*nr*kcb + p*nr + j, zero past the last
// column.
func packF32B(x *Mat[float32], pc, kcb, jc, ncb int, dst, row []float32, runs []tapRun) {
	b, ldb := x.Data, x.Ld
	if x.Patches != nil {
		if w := ncb % nr; w != 0 {
			last := dst[(ncb-w)*kcb : (ncb-w+nr)*kcb]
			for p := range kcb {
				clear(last[p*nr+w : (p+1)*nr])
			}
		}
		packPatchesB(x.Patches, pc, kcb, jc, ncb, row, runs, func(p int, row []float32) {
			for q := 0; q < ncb; q += nr {
				w := min(nr, ncb-q)
				copy(dst[q*kcb+p*nr:q*kcb+p*nr+w], row[q:q+w])
			}
		})
		return
	}
	for q := 0; q < ncb; q += nr {
		panel := dst[q*kcb : q*kcb+nr*kcb]
		w := min(nr, ncb-q)
		switch {
		case !x.Trans:
			for p := range kcb {
				copy(panel[p*nr:p*nr+w], b[(pc+p)*ldb+jc+q:])
			}
		default:
			for j := range w {
				for p, v := range b[(jc+q+j)*ldb+pc:][:kcb] {
					panel[p*nr+j] = v
				}
			}
		}
		if w < nr {
			for p := range kcb {
				clear(panel[p*nr+w : (p+1)*nr])
			}
		}
	}
}

// packPatchesB packs the patch matrix as op(B): for each reduction step p (an output
// position, pc..pc+kcb) it fills row with columns jc..jc+ncb of that patch row, in
// one pass over the position's input, and hands it to put, which spreads it over the
// panels.
func packPatchesB[T Elem, P float32 | int16](x *Patches[T], pc, kcb, jc, ncb int, row []P, runs []tapRun, put func(p int, row []P)) {
	rs := x.runs(jc, ncb, runs)
	at := x.at(pc)
	for p := range kcb {
		fill(x, at, rs, row[:ncb])
		x.next(&at)
		put(p, row[:ncb])
	}
}
