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
// split between the cores (GOMAXPROCS), along whichever of m and n is longer, through
// package par.
//
// The float32 kernel reads its mr rows of op(A) through an address each, which lets
// F32 read a dense op(A) that is not transposed where it is (a packed row would be the
// same values in the same order), and a convolution's patch matrix as op(A) in place
// (implicit GEMM): a block of
// the reduction is cut into runs of patch columns that are contiguous in the input
// (the taps of one kernel row; see Patches), and for each run the kernel reads the
// rows of a tile straight from the input, or from zeros for a kernel row in the
// padding; only runs partly in the padding are copied. That is a kernel call per run,
// so patches whose runs are short (few input channels) are packed instead. The
// integer kernel reads its rows the same way, as int16 pairs (two consecutive
// reduction steps a 32-bit word), so I32 reads int16 patches in place when their
// channels are even, which makes every run whole pairs; others are packed, as int16.
// As op(B), patches are packed straight from the input, panel by panel where the
// patch rows are inside it, or, when every panel of nr columns lies in one kernel row
// (KW*C a multiple of nr: most weight gradients), not packed at all: the float32
// kernel then takes each of a panel's rows at its own address in the input
// (f32KernelRows), which is where the packed row would have come from.
//
// # Results
//
// F32: each element of C is the chain of fused multiply-adds over the reduction in
// order, c = fma(a[k-1], b[k-1], ... fma(a[1], b[1], fma(a[0], b[0], 0))), each
// rounded once to float32 (IEEE 754 fusedMultiplyAdd). Blocking the reduction, and
// cutting blocks into runs of patch columns, carries the partial sum through C in
// float32, which is the same chain, so the result does not depend on the block sizes,
// on whether patches are read in place, on how tiles are split between cores, on
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
// of VPDPWSSD when the CPU has AVX512-VNNI; packing int16 operands (interleaving two
// reduction steps into pairs, transposing op(A)) has AVX2 routines of its own, which
// run with those kernels. Elsewhere, or with the build tag purego, all are pure Go.
// Kernels reports which run; the tests run every set the CPU has and compare them bit
// for bit.
package gemm

//go:generate sh -c "cd _asm && go run . -out ../kernel_amd64.s -stubs ../kernel_amd64.go -pkg gemm"

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/rctsim/rctsim/train/par"
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
	// f32 computes an mr x nr tile c (row stride ldc) from kc steps of the mr rows of
	// A that a points to (kc values each) and of the packed panel b (kc x nr): c =
	// chain of FMAs starting from c (load) or 0.
	f32 func(kc int, a *[mr]*float32, b, c *float32, ldc int, load bool)
	// f32Rows is f32 with B's row p read in place at b+offs[p] (in float32 values):
	// a convolution's patches, nr columns of one kernel row each.
	f32Rows func(kc int, a *[mr]*float32, b *float32, offs *int, c *float32, ldc int, load bool)
	// i16 computes an mr x nr int32 tile c from kc2 steps of the mr rows of A that a
	// points to (kc2 int16 pairs each) and of the packed pair panel b (kc2 x nr
	// pairs): c += (or =, without load) the sum of the pair products.
	i16 func(kc2 int, a *[mr]*int16, b *int16, c *int32, ldc int, load bool)
}

var goKernels = kernelSet{"go", f32KernelGo, f32KernelRowsGo, i16KernelGo}

// current is the kernel set in use; f32Kernel, f32KernelRows and i16Kernel are its
// kernels.
var (
	current       kernelSet
	f32Kernel     func(kc int, a *[mr]*float32, b, c *float32, ldc int, load bool)
	f32KernelRows func(kc int, a *[mr]*float32, b *float32, offs *int, c *float32, ldc int, load bool)
	i16Kernel     func(kc2 int, a *[mr]*int16, b *int16, c *int32, ldc int, load bool)
	kernelSets    []kernelSet
)

func use(k kernelSet) { current, f32Kernel, f32KernelRows, i16Kernel = k, k.f32, k.f32Rows, k.i16 }

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
	par.Do(parts, func(p int) {
		lo, hi := min(length, p*units/parts*unit), min(length, (p+1)*units/parts*unit)
		switch {
		case lo >= hi:
		case byRows:
			f(lo, hi, 0, n)
		default:
			f(0, m, lo, hi)
		}
	})
}

// minDirectRun is the shortest average run of patch columns (a kernel call each) for
// which reading patches in place beats packing them.
const minDirectRun = 16

// Buffers of packed panels, reused between calls.
var (
	f32Bufs = sync.Pool{New: func() any { return new(f32Buffers) }}
	i16Bufs = sync.Pool{New: func() any { return new(i16Buffers) }}
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

// f32Buffers are buffers for F32, with the rows of op(A) that the kernel reads.
type f32Buffers struct {
	buffers[float32, float32]
	rows    rowsA[float32]
	origins [kcBlock]int // for patchesB
}

// i16Buffers are buffers for I32's int16 kernels, with the rows of op(A) that the
// kernel reads.
type i16Buffers struct {
	buffers[int16, int32]
	rows    rowsA[int16]
	origins [kcBlock]int // for patchesI16B
}

// rowsA locates the rows of op(A) for the kernel, for a block of rows and a block of
// the reduction cut into runs (the whole block, for packed rows; the runs of patch
// columns, for patches read in place): row i's values of run q start at
// ptr[q*mcBlock+i], so that the kernel's mr rows are side by side.
type rowsA[P float32 | int16] struct {
	runs   []tapRun
	runBuf [kcBlock + 1]tapRun // the block as one run, then its runs of patch columns
	ptr    [kcBlock / minDirectRun * mcBlock]*P
	// packedAs is the rows and row stride of the packed rows that ptr holds, zero when
	// it holds others.
	packedAs [2]int
}

// packed sets the block's rows to mcb packed rows, row i at dst[i*stride:] (dst is
// always the same buffer), as one run of n reduction steps, and the rows from mcb to
// the end of the last panel of mr rows to zeros. Most blocks have the rows and stride
// of the previous one, and then the addresses are left as they are, which saves
// setting them and the garbage collector's write barriers, much of the cost of small
// products.
func (d *rowsA[P]) packed(mcb, n int, dst []P, stride int) {
	d.runs = append(d.runBuf[:0], tapRun{n: n})
	if d.packedAs == [2]int{mcb, stride} {
		return
	}
	for i := range mcb {
		d.ptr[i] = &dst[i*stride]
	}
	d.padRows(mcb)
	d.packedAs = [2]int{mcb, stride}
}

// inPlace sets the block's runs to runs of patch columns read in place, whose
// addresses the caller sets for mcb rows, and points the rows from mcb to the end of
// the last panel of mr rows at zeros.
func (d *rowsA[P]) inPlace(runs []tapRun, mcb int) {
	d.runs, d.packedAs = runs, [2]int{}
	d.padRows(mcb)
}

// padRows points the rows from mcb to the end of the last panel of mr rows at zeros,
// in every run.
func (d *rowsA[P]) padRows(mcb int) {
	for q := range d.runs {
		for i := mcb; i < (mcb+mr-1)/mr*mr; i++ {
			d.ptr[q*mcBlock+i] = zero[P]()
		}
	}
}

// release forgets the rows, so that a pooled buffer does not keep a patch operand's
// input alive.
func (d *rowsA[P]) release() {
	clear(d.ptr[:])
	d.packedAs = [2]int{}
}

// zeros are the values of a run of patch columns in the padding, and of the rows
// past op(A)'s last: kcBlock float32 zeros or int16 pairs.
var zeros [kcBlock]float32

// zero returns the address of zeros as P values (zero bits are the zero of both).
func zero[P float32 | int16]() *P { return (*P)(unsafe.Pointer(&zeros[0])) }

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
	// Patches packed as B (a weight gradient) with padding are copied with their
	// padding first: rows in the padding would each be filled and spread over the
	// panels, and the copy costs less. As A, few rows touch the padding, and most of
	// those are read in place.
	if p := b.Patches; p != nil && padded(p) {
		q, release := unpad(p)
		defer release()
		b.Patches = q
	}
	// Patches whose panels each lie in one kernel row (rowsInPlace) are read where
	// they lie, from their rows' origins, not copied into panels.
	inPlace := b.Patches != nil && rowsInPlace(b.Patches)
	run(m, n, k, func(i0, i1, j0, j1 int) {
		buf := f32Bufs.Get().(*f32Buffers)
		defer func() {
			if a.Patches != nil || !a.Trans {
				buf.rows.release() // it points into A
			}
			f32Bufs.Put(buf)
		}()
		packA := func(ic, mcb, pc, kcb int) { packF32A(&a, ic, mcb, pc, kcb, buf.a[:], &buf.rows) }
		bjc := 0 // the block's first column
		packB := func(pc, kcb, jc, ncb int) {
			if bjc = jc; inPlace {
				b.Patches.origins(pc, buf.origins[:kcb])
				return
			}
			packF32B(&b, pc, kcb, jc, ncb, buf.b[:], buf.row[:], buf.runs[:0], buf.origins[:])
		}
		tile := func(kcb, ir, jr int, c *float32, ldc int, load bool) {
			bp := buf.b[jr*kcb:]
			var x *float32
			if inPlace {
				x = &b.Patches.X[b.Patches.column(bjc+jr)]
			}
			for q := range buf.rows.runs {
				r := &buf.rows.runs[q]
				if ptr := (*[mr]*float32)(buf.rows.ptr[q*mcBlock+ir:]); inPlace {
					f32KernelRows(r.n, ptr, x, &buf.origins[r.off], c, ldc, load)
				} else {
					f32Kernel(r.n, ptr, &bp[r.off*nr], c, ldc, load)
				}
				load = true
			}
		}
		drive(i0, i1, j0, j1, k, &buf.buffers, packA, packB, tile, c, ldc)
	})
}

// drive runs the blocked loops over rows i0..i1 and columns j0..j1 of C: for each
// block of the reduction pc..pc+kcb, packB and packA prepare op(B)'s columns jc..
// and op(A)'s rows ic.., and tile computes the mr x nr tile of C (row stride ldc)
// from rows ir.. and columns jr.. of them (counted from ic and jc), starting from C
// when load.
func drive[P float32 | int16, O float32 | int32](i0, i1, j0, j1, k int, buf *buffers[P, O],
	packA func(ic, mcb, pc, kcb int), packB func(pc, kcb, jc, ncb int), tile func(kcb, ir, jr int, c *O, ldc int, load bool), c []O, ldc int) {
	for jc := j0; jc < j1; jc += ncBlock {
		ncb := min(ncBlock, j1-jc)
		for pc := 0; pc < k; pc += kcBlock {
			kcb := min(kcBlock, k-pc)
			load := pc > 0
			packB(pc, kcb, jc, ncb)
			for ic := i0; ic < i1; ic += mcBlock {
				mcb := min(mcBlock, i1-ic)
				packA(ic, mcb, pc, kcb)
				for jr := 0; jr < ncb; jr += nr {
					w := min(nr, ncb-jr)
					for ir := 0; ir < mcb; ir += mr {
						h := min(mr, mcb-ir)
						off := (ic+ir)*ldc + jc + jr
						if w == nr && h == mr {
							tile(kcb, ir, jr, &c[off], ldc, load)
							continue
						}
						t := buf.tile[:]
						if load {
							for i := range h {
								copy(t[i*nr:i*nr+w], c[off+i*ldc:])
							}
						}
						tile(kcb, ir, jr, &t[0], nr, load)
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

// packF32A prepares rows ic..ic+mcb of op(A), reduction pc..pc+kcb, for the kernel
// (see rowsA). Patches are read in place when their runs are long enough
// (minDirectRun) to be worth a kernel call each: a run inside the input is read in X,
// a run in a padding row is zeros, and a run partly in the padding is filled into
// dst at row i's offset i*kcb. A dense op(A) that is not transposed is read in place
// too. Otherwise rows are packed, row i at dst[i*kcb:], and patches unfolded straight
// into it. Rows from mcb to the end of the last panel of mr rows read zeros.
func packF32A(x *Mat[float32], ic, mcb, pc, kcb int, dst []float32, d *rowsA[float32]) {
	var runs []tapRun
	if p := x.Patches; p != nil {
		runs = p.runs(pc, kcb, d.runBuf[1:1])
		if kcb >= minDirectRun*len(runs) {
			d.inPlace(runs, mcb)
			patchesInPlace(p, ic, mcb, kcb, runs, dst, d.ptr[:])
			return
		}
	}
	if x.Patches == nil && !x.Trans {
		// A row-major A's rows are read where they are: a packed row is the same kcb
		// values one after another.
		d.runs, d.packedAs = append(d.runBuf[:0], tapRun{n: kcb}), [2]int{}
		for i := range mcb {
			d.ptr[i] = &x.Data[(ic+i)*x.Ld+pc]
		}
		d.padRows(mcb)
		return
	}
	d.packed(mcb, kcb, dst, kcb)
	switch p := x.Patches; {
	case p != nil:
		fillRows(p, ic, mcb, runs, dst, kcb, kcb)
	default:
		for r := 0; r < mcb; r += mr {
			panel := dst[r*kcb : r*kcb+mr*kcb]
			h := min(mr, mcb-r)
			if h == mr {
				// A step's mr values are side by side in A: a pointer to them, and
				// a slice for each row of the panel, which avoids index arithmetic
				// and most bounds checks.
				p0, p1, p2 := panel[:kcb], panel[kcb:2*kcb], panel[2*kcb:3*kcb]
				p3, p4, p5 := panel[3*kcb:4*kcb], panel[4*kcb:5*kcb], panel[5*kcb:6*kcb]
				for p := transposeF32A(x.Data, x.Ld, pc, ic+r, kcb, panel); p < kcb; p++ {
					v := (*[mr]float32)(x.Data[(pc+p)*x.Ld+ic+r:])
					p0[p], p1[p], p2[p], p3[p], p4[p], p5[p] = v[0], v[1], v[2], v[3], v[4], v[5]
				}
				continue
			}
			for p := range kcb {
				for i, v := range x.Data[(pc+p)*x.Ld+ic+r:][:h] {
					panel[i*kcb+p] = v
				}
			}
		}
	}
}

// patchesInPlace sets ptr[q*mcBlock+i] to the values of run q of patch row ic+i, for
// the mcb rows from ic on: in X when the run is inside the input, zeros when its
// kernel row is in the padding, and filled into dst[i*stride:] (at the run's offset)
// when some of its taps are left or right of the input.
func patchesInPlace[P float32 | int16](p *Patches[P], ic, mcb, stride int, runs []tapRun, dst []P, ptr []*P) {
	at := p.at(ic)
	for i := range mcb {
		if origin, inside := p.inside(at); inside {
			// Most patches: every run at its fixed offset from the first tap.
			x := p.X[origin:]
			for q := range runs {
				ptr[q*mcBlock+i] = &x[runs[q].src]
			}
			p.next(&at)
			continue
		}
		ih0, iw0 := at.oh*p.Stride-p.PadT, at.ow*p.Stride-p.PadL
		for q := range runs {
			r := &runs[q]
			var v *P
			switch ih := ih0 + r.ki; {
			case uint(ih) >= uint(p.H):
				v = zero[P]()
			case iw0+r.kj >= 0 && iw0+r.last < p.W:
				v = &p.X[((at.b*p.H+ih)*p.W+iw0+r.kj)*p.C+r.c]
			default:
				d := dst[i*stride+r.off : i*stride+r.off+r.n]
				in := (at.b*p.H + ih) * p.W * p.C // the input row
				fillRun(d, p.X[in:in+p.W*p.C], (iw0+r.kj)*p.C+r.c)
				v = &d[0]
			}
			ptr[q*mcBlock+i] = v
		}
		p.next(&at)
	}
}

// transposeF32A packs the first reduction steps of mr rows of op(A) = A transposed
// into panel (rows kcb apart) when the assembly kernels run, as transposePanel does.
func transposeF32A(a []float32, lda, pc, col, kcb int, panel []float32) int {
	return transposePanel(a, lda, pc, col, kcb, panel, kcb, transposeF32Asm)
}

// transposePanel packs the first reduction steps of mr rows of op(A) = A transposed
// into panel (rows rs apart) with kernel, when the assembly kernels run: columns
// col..col+mr of A's rows pc.. become the panel's rows. It returns how many steps it
// packed, whole blocks of 8 (each reads 8 values of a row, which must lie within a).
func transposePanel[E float32 | int16](a []E, lda, pc, col, kcb int, panel []E, rs int, kernel func(dst *E, rs int, src *E, lda, blocks int)) int {
	if kernel == nil || current.name == "go" {
		return 0
	}
	blocks := kcb / 8
	for blocks > 0 && (pc+8*blocks-1)*lda+col+8 > len(a) {
		blocks-- // the last rows' eighth values would lie past a's end
	}
	if blocks == 0 {
		return 0
	}
	_ = panel[(mr-1)*rs+8*blocks-1]
	kernel(&panel[0], rs, &a[pc*lda+col], lda, blocks)
	return 8 * blocks
}

// packF32B packs columns jc..jc+ncb of op(B), reduction pc..pc+kcb, into panels of nr
// columns: panel q holds element (p, j) at q*nr*kcb + p*nr + j, zero past the last
// column. Patches must not read their padding: F32M copies padded ones out first
// (unpad), so that every patch row is read from the input.
func packF32B(x *Mat[float32], pc, kcb, jc, ncb int, dst, row []float32, runs []tapRun, origins []int) {
	b, ldb := x.Data, x.Ld
	if x.Patches != nil {
		if padded(x.Patches) {
			panic("gemm: padded patches packed as B")
		}
		rs := x.Patches.runs(jc, ncb, runs)
		if ncb <= maxRowPanels*nr && misaligned(rs, ncb) {
			patchRowsB(x.Patches, pc, kcb, ncb, dst, row, rs)
			return
		}
		clearPastColumns(dst[ncb/nr*nr*kcb:], ncb%nr, 0, kcb)
		patchesB(x.Patches, pc, kcb, ncb, dst, rs, origins)
		return
	}
	for q := 0; q < ncb; q += nr {
		panel := dst[q*kcb : q*kcb+nr*kcb]
		w := min(nr, ncb-q)
		switch {
		case !x.Trans && w == nr && panelRowsAsm != nil && current.name != "go":
			_ = b[(pc+kcb-1)*ldb+jc+q+nr-1] // the last value the kernel reads
			panelRowsAsm(&panel[0], &b[pc*ldb+jc+q], ldb, kcb)
		case !x.Trans && w == nr:
			// A whole panel row is a fixed-size move through a local, which the
			// compiler inlines (it calls memmove for copy, and for an array copied
			// between two pointers that may overlap).
			for p := range kcb {
				v := *(*[nr]float32)(b[(pc+p)*ldb+jc+q:])
				*(*[nr]float32)(panel[p*nr:]) = v
			}
		case !x.Trans:
			for p := range kcb {
				copy(panel[p*nr:p*nr+w], b[(pc+p)*ldb+jc+q:])
			}
		default:
			_ = b[(jc+q+w-1)*ldb+pc+kcb-1] // the last value transposeB may read
			j0, p0 := transposeB(panel, unsafe.Pointer(&b[(jc+q)*ldb+pc]), ldb, w, kcb)
			for j := range w {
				from := 0
				if j < j0 {
					from = p0 // the rest of the columns transposeB packed
				}
				for p, v := range b[(jc+q+j)*ldb+pc+from:][:kcb-from] {
					panel[(from+p)*nr+j] = v
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

// transposeB packs the first reduction steps of the first columns of a B panel from
// a transposed op(B) of 32-bit values (float32, or int16 pairs) at src, ld values a
// row, w columns and steps long, when the assembly kernels run: eight columns and
// eight steps a block. It returns how many columns and steps it packed.
func transposeB[E float32 | uint32](panel []E, src unsafe.Pointer, ld, w, steps int) (cols, done int) {
	if transposeB32Asm == nil || current.name == "go" || w < 8 || steps < 8 {
		return 0, 0
	}
	cols, done = w/8*8, steps/8*8
	for j := 0; j < cols; j += 8 {
		transposeB32Asm((*uint32)(unsafe.Pointer(&panel[j])), (*uint32)(unsafe.Add(src, 4*j*ld)), ld, done/8)
	}
	return cols, done
}

// maxRowPanels is the most panels of patch columns patchRowsB packs: as many streams
// of writes as panels, few enough not to share cache sets.
const maxRowPanels = 12

// misaligned reports whether a run of patch columns other than the last starts or ends
// inside a panel: patchesB would then copy its pieces one value at a time.
func misaligned(runs []tapRun, ncb int) bool {
	for _, r := range runs {
		if r.off%nr != 0 || r.n%nr != 0 && r.off+r.n != ncb {
			return true
		}
	}
	return false
}

// patchRowsB packs the patch matrix as op(B) into dst, as packF32B, row by row, the
// columns that runs describe (ncb of them). Patches whose runs do not fall on panels
// (a first layer's few input channels, runs of a few values) go faster this way than
// through patchesB. The runs go straight into the panels as blocks (runBlocks), many
// rows a call (blockRows): a block written past a run's end lands on columns of the
// same panel row that later runs write, or on the panel's next row, which the next
// patch row writes; so the last row, and runs that do not cut into blocks, are filled
// into row (whose slack takes the blocks copyRuns writes past the last run), their
// columns past ncb zeroed, and moved into the panels a whole panel row at a time.
func patchRowsB(x *Patches[float32], pc, kcb, ncb int, dst, row []float32, rs []tapRun) {
	padded := (ncb + nr - 1) / nr * nr
	byRow := func(p int) {
		fill(x, x.at(pc+p), rs, row)
		clear(row[ncb:padded])
		toPanels(dst, kcb, p, 0, row[:padded])
	}
	var pieces runBlocks
	if !pieces.setPanels(rs, kcb) {
		for p := range kcb {
			byRow(p)
		}
		return
	}
	var origins [mcBlock]int
	for p := 0; p < kcb-1; {
		j := min(len(origins), kcb-1-p)
		x.origins(pc+p, origins[:j]) // every patch is inside (see packF32B)
		done := blockRows(dst[p*nr:], nr, x.X, origins[:j], &pieces)
		clearPastColumns(dst[(padded-nr)*kcb:], ncb%nr, p, p+done)
		for i := done; i < j; i++ {
			copyRuns(row[:ncb], x.X[origins[i]:], rs)
			clear(row[ncb:padded])
			toPanels(dst, kcb, p+i, 0, row[:padded])
		}
		p += j
	}
	byRow(kcb - 1)
}

// clearPastColumns zeroes, in rows r0..r1 of a B panel (nr values a row), the columns
// from w on (none when w is 0): those of the last panel past the matrix's last
// column, which must read as zeros and which the blocks of copyRunsAsm and
// pairRunsAsm may write.
func clearPastColumns[E float32 | uint32](panel []E, w, r0, r1 int) {
	if w == 0 {
		return
	}
	for i := r0; i < r1; i++ {
		clear(panel[i*nr+w : (i+1)*nr])
	}
}

// patchesB packs the patch matrix as op(B) into dst, as packF32B, the columns that rs
// describe (ncb of them), with origins (kcb long) to hold the offsets in X of the
// patch rows. Those are copied panel by panel, where spreading each patch row over the
// panels, as packPatchesB and patchRowsB do, writes ncb/nr streams 4*nr*kcb bytes
// apart, which share cache sets.
func patchesB(x *Patches[float32], pc, kcb, ncb int, dst []float32, rs []tapRun, origins []int) {
	origins = origins[:kcb]
	x.origins(pc, origins) // every patch is inside (see packF32B)
	// Whole panel rows go through copyRunsAsm, all the rows in one call: the origins
	// in bytes, and a panel row as two blocks.
	byBlocks := copyRunsAsm != nil && current.name != "go"
	var bytes [kcBlock]int
	if byBlocks {
		for p, o := range origins {
			bytes[p] = 4 * o
		}
	}
	for i := range rs {
		r := &rs[i]
		// The run's columns in each panel: w of them from column j.
		for t := 0; t < r.n; {
			j := r.off + t
			q := j / nr * nr
			w := min(nr-(j-q), r.n-t)
			panel, src := dst[q*kcb+j-q:], r.src+t
			if w == nr && byBlocks {
				blocks := [4]int{4 * src, 0, 4*src + blockBytes, blockBytes}
				copyRunsAsm((*byte)(unsafe.Pointer(&panel[0])), 4*nr, (*byte)(unsafe.Pointer(&x.X[0])), &bytes[0], kcb, &blocks[0], 2)
				t += w
				continue
			}
			for p, o := range origins {
				d, s := panel[p*nr:], x.X[o+src:]
				if w == nr {
					// Through a variable: an assignment between pointers that may
					// overlap would call memmove.
					v := *(*[nr]float32)(s)
					*(*[nr]float32)(d) = v
					continue
				}
				//lint:ignore S1001 fewer than nr values: copy would call memmove
				for k, v := range s[:w] {
					d[k] = v
				}
			}
			t += w
		}
	}
}

// toPanels writes src, columns j.. of reduction step p, into panels of nr columns
// kcb steps long (as packF32B).
func toPanels(dst []float32, kcb, p, j int, src []float32) {
	for len(src) > 0 {
		q := j / nr * nr
		w := min(nr-(j-q), len(src))
		d := dst[q*kcb+p*nr+j-q:]
		if w == nr {
			// Through a variable: an assignment between pointers that may overlap
			// would call memmove.
			v := *(*[nr]float32)(src)
			*(*[nr]float32)(d) = v
		} else {
			copy(d[:w], src)
		}
		j, src = j+w, src[w:]
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

// padded reports whether some patch reads the padding.
func padded[T Elem](p *Patches[T]) bool {
	return p.PadT > 0 || p.PadL > 0 || (p.HO-1)*p.Stride+p.KH > p.H || (p.WO-1)*p.Stride+p.KW > p.W
}

// padBufs are the inputs unpad writes, reused between calls.
var padBufs = sync.Pool{New: func() any { return new([]float32) }}

// unpad returns p over a copy of its input with the padding written out as zeros
// (and no padding: the same patches, every one inside the input), and a function that
// gives the copy back for reuse once the product is done.
func unpad(p *Patches[float32]) (*Patches[float32], func()) {
	h := max(p.H+p.PadT, (p.HO-1)*p.Stride+p.KH)
	w := max(p.W+p.PadL, (p.WO-1)*p.Stride+p.KW)
	buf := padBufs.Get().(*[]float32)
	size := p.N * h * w * p.C
	if cap(*buf) < size {
		*buf = make([]float32, size)
	}
	x := (*buf)[:size]
	// The images on all cores: a serial copy was 6% of a two-core ResNet-20 step.
	parts := min(runtime.GOMAXPROCS(0), p.N)
	par.Do(parts, func(part int) {
		for b := part * p.N / parts; b < (part+1)*p.N/parts; b++ {
			unpadImage(x[b*h*w*p.C:(b+1)*h*w*p.C], p.X[b*p.H*p.W*p.C:(b+1)*p.H*p.W*p.C], p, w)
		}
	})
	q := *p
	q.X, q.H, q.W, q.PadT, q.PadL = x, h, w, 0, 0
	return &q, func() { padBufs.Put(buf) }
}

// unpadImage writes one image src of p's input into dst, w columns wide, at p's
// padding, and zeros around it: every value of dst, which may hold an earlier call's.
func unpadImage(dst, src []float32, p *Patches[float32], w int) {
	c, row := p.C, p.W*p.C
	top := p.PadT * w * c
	clear(dst[:top])
	for i := range p.H {
		line := dst[top+i*w*c : top+(i+1)*w*c]
		clear(line[:p.PadL*c])
		copy(line[p.PadL*c:], src[i*row:(i+1)*row])
		clear(line[p.PadL*c+row:])
	}
	clear(dst[top+p.H*w*c:])
}
