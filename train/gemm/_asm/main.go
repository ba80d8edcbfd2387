// Command _asm generates the amd64 microkernels of package gemm with avo:
//
//	cd train/gemm/_asm && go run . -out ../kernel_amd64.s -stubs ../kernel_amd64.go -pkg gemm
//
// (go generate in train/gemm runs it). It is a module of its own so that avo is not a
// dependency of rctsim.
package main

import (
	"math/bits"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The register tile, as in gemm.go: mr rows of nr = 16 columns (two YMM registers).
const mr = 6

// nr is the B panels' columns.
const nr = 16

func main() {
	ConstraintExpr("amd64,!purego")
	f32Kernel()
	f32KernelRows()
	i16Kernel()
	i16KernelVNNI()
	pairRows()
	pairCols()
	transpose6()
	transpose6F32()
	transposeB32()
	panelRows()
	copyRuns()
	pairRuns()
	Generate()
}

// rows loads the parameters c and ldc and returns the addresses of the tile's rows.
func rows() []Mem {
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc) // elements of 4 bytes
	c3 := GP64()
	LEAQ(Mem{Base: c, Index: ldc, Scale: 2}, c3)
	ADDQ(ldc, c3)
	return []Mem{
		{Base: c}, {Base: c, Index: ldc, Scale: 1}, {Base: c, Index: ldc, Scale: 2},
		{Base: c3}, {Base: c3, Index: ldc, Scale: 1}, {Base: c3, Index: ldc, Scale: 2},
	}
}

// aRows loads the parameters a (the addresses of A's mr rows) and the step count
// named steps, and returns the rows' ends and an index that counts from -steps up to
// 0: the rows are read through one index (4-byte steps), a row address each, and the
// loop needs no compare with the step count.
func aRows(steps string) (step reg.Register, a []reg.GPVirtual) {
	step = Load(Param(steps), GP64())
	ap := Load(Param("a"), GP64())
	a = make([]reg.GPVirtual, mr)
	for i := range a {
		a[i] = GP64()
		MOVQ(Mem{Base: ap, Disp: 8 * i}, a[i])
		LEAQ(Mem{Base: a[i], Index: step, Scale: 4}, a[i])
	}
	NEGQ(step)
	return step, a
}

// accumulators returns 2*mr YMM registers, loaded from the tile when the parameter
// load is true and zero otherwise.
func accumulators(row []Mem, zero func(r reg.VecVirtual), load func(m Mem, r reg.VecVirtual)) []reg.VecVirtual {
	acc := make([]reg.VecVirtual, 2*mr)
	for i := range acc {
		acc[i] = YMM()
	}
	flag := Load(Param("load"), GP8())
	CMPB(flag, U8(0))
	JEQ(LabelRef("zero"))
	for i := range mr {
		load(row[i], acc[2*i])
		load(row[i].Offset(32), acc[2*i+1])
	}
	JMP(LabelRef("loop"))
	Label("zero")
	for _, r := range acc {
		zero(r)
	}
	return acc
}

func f32Kernel() {
	TEXT("f32KernelAVX2", NOSPLIT, "func(kc int, a *[6]*float32, b, c *float32, ldc int, load bool)")
	Doc("f32KernelAVX2 is f32Kernel with AVX2 and FMA: acc = fma(a, b, acc), one VFMADD231PS per 8 lanes.")
	step, a := aRows("kc")
	b := Load(Param("b"), GP64())
	f32Loop(step, a, func() Mem { return Mem{Base: b} }, func() { ADDQ(U32(64), b) })
}

func f32KernelRows() {
	TEXT("f32KernelRowsAVX2", NOSPLIT, "func(kc int, a *[6]*float32, b *float32, offs *int, c *float32, ldc int, load bool)")
	Doc("f32KernelRowsAVX2 is f32KernelRows with AVX2 and FMA: f32KernelAVX2 with B's row",
		"p read at b+offs[p] (offs in float32 values) instead of a packed panel.")
	step, a := aRows("kc")
	b := Load(Param("b"), GP64())
	offs := Load(Param("offs"), GP64())
	o := GP64()
	MOVQ(step, o) // -kc: step counts up to 0, offs is read from its end
	NEGQ(o)
	LEAQ(Mem{Base: offs, Index: o, Scale: 8}, offs)
	f32Loop(step, a, func() Mem {
		MOVQ(Mem{Base: offs, Index: step, Scale: 8}, o)
		return Mem{Base: b, Index: o, Scale: 4}
	}, func() {})
}

// f32Loop emits the float32 kernel's tile loop over the steps counted by step up to 0:
// bRow returns the address of the current step's B row (emitting what it needs), and
// next moves B on to the next step.
func f32Loop(step reg.Register, a []reg.GPVirtual, bRow func() Mem, next func()) {
	row := rows()
	acc := accumulators(row, func(r reg.VecVirtual) { VXORPS(r, r, r) }, func(m Mem, r reg.VecVirtual) { VMOVUPS(m, r) })
	Label("loop")
	b0, b1, t := YMM(), YMM(), YMM()
	bm := bRow()
	VMOVUPS(bm, b0)
	VMOVUPS(bm.Offset(32), b1)
	for i := range mr {
		VBROADCASTSS(Mem{Base: a[i], Index: step, Scale: 4}, t)
		VFMADD231PS(b0, t, acc[2*i])
		VFMADD231PS(b1, t, acc[2*i+1])
	}
	next()
	INCQ(step)
	JNE(LabelRef("loop"))
	for i := range mr {
		VMOVUPS(acc[2*i], row[i])
		VMOVUPS(acc[2*i+1], row[i].Offset(32))
	}
	VZEROUPPER()
	RET()
}

func i16Kernel() {
	TEXT("i16KernelAVX2", NOSPLIT, "func(kc2 int, a *[6]*int16, b *int16, c *int32, ldc int, load bool)")
	Doc("i16KernelAVX2 is i16Kernel with AVX2: VPMADDWD of int16 pairs, VPADDD into int32 lanes.")
	step, a := aRows("kc2")
	b := Load(Param("b"), GP64())
	row := rows()
	acc := accumulators(row, func(r reg.VecVirtual) { VPXOR(r, r, r) }, func(m Mem, r reg.VecVirtual) { VMOVDQU(m, r) })
	Label("loop")
	b0, b1 := YMM(), YMM()
	VMOVDQU(Mem{Base: b}, b0)
	VMOVDQU(Mem{Base: b}.Offset(32), b1)
	for i := range mr {
		t, p := YMM(), YMM()
		VPBROADCASTD(Mem{Base: a[i], Index: step, Scale: 4}, t)
		VPMADDWD(b0, t, p)
		VPADDD(p, acc[2*i], acc[2*i])
		VPMADDWD(b1, t, t)
		VPADDD(t, acc[2*i+1], acc[2*i+1])
	}
	ADDQ(U32(64), b)
	INCQ(step)
	JNE(LabelRef("loop"))
	for i := range mr {
		VMOVDQU(acc[2*i], row[i])
		VMOVDQU(acc[2*i+1], row[i].Offset(32))
	}
	VZEROUPPER()
	RET()
}

// vpdpwssd emits VPDPWSSD b, t, acc (acc += the pair products of t and b's int16
// lanes, in int32 lanes; AVX512_VNNI with AVX512VL for YMM), which avo's instruction
// database does not list.
func vpdpwssd(b, t, acc Op) {
	Instruction(&ir.Instruction{Opcode: "VPDPWSSD", Operands: []Op{b, t, acc},
		Inputs: []Op{b, t, acc}, Outputs: []Op{acc}, ISA: []string{"AVX512_VNNI", "AVX512VL"}})
}

func i16KernelVNNI() {
	TEXT("i16KernelVNNI", NOSPLIT, "func(kc2 int, a *[6]*int16, b *int16, c *int32, ldc int, load bool)")
	Doc("i16KernelVNNI is i16Kernel with AVX512-VNNI on YMM registers: one VPDPWSSD per 8 lanes of int16 pairs.")
	step, a := aRows("kc2")
	b := Load(Param("b"), GP64())
	row := rows()
	acc := accumulators(row, func(r reg.VecVirtual) { VPXOR(r, r, r) }, func(m Mem, r reg.VecVirtual) { VMOVDQU(m, r) })
	Label("loop")
	b0, b1 := YMM(), YMM()
	VMOVDQU(Mem{Base: b}, b0)
	VMOVDQU(Mem{Base: b}.Offset(32), b1)
	for i := range mr {
		t := YMM()
		VPBROADCASTD(Mem{Base: a[i], Index: step, Scale: 4}, t)
		vpdpwssd(b0, t, acc[2*i])
		vpdpwssd(b1, t, acc[2*i+1])
	}
	ADDQ(U32(64), b)
	INCQ(step)
	JNE(LabelRef("loop"))
	for i := range mr {
		VMOVDQU(acc[2*i], row[i])
		VMOVDQU(acc[2*i+1], row[i].Offset(32))
	}
	VZEROUPPER()
	RET()
}

// interleave16 stores the 16 pairs (even[j], odd[j]) of the 16 int16 values at even
// and odd at dst, even in each pair's low half: unpacks pair them within each 128-bit
// lane, and VPERM2I128 puts the lanes' halves back in order.
func interleave16(even, odd, dst Mem) {
	e, o, lo, hi := YMM(), YMM(), YMM(), YMM()
	VMOVDQU(even, e)
	VMOVDQU(odd, o)
	VPUNPCKLWD(o, e, lo) // per 128-bit lane: pairs 0-3, then 8-11
	VPUNPCKHWD(o, e, hi) // pairs 4-7, then 12-15
	VPERM2I128(U8(0x20), hi, lo, e)
	VPERM2I128(U8(0x31), hi, lo, o)
	VMOVDQU(e, dst)
	VMOVDQU(o, dst.Offset(32))
}

// pairRows interleaves two rows of int16 values into the int16 pairs of the integer
// kernels' B panels, nr columns a panel.
func pairRows() {
	TEXT("pairRowsAVX2", NOSPLIT, "func(dst *uint32, stride int, even, odd *int16, panels int)")
	Doc("pairRowsAVX2 writes the pairs (even[j], odd[j]) of panels*16 columns, the 16 of",
		"panel q at dst + q*stride (uint32 units), as pair does: even in the low half.")
	dst := Load(Param("dst"), GP64())
	stride := Load(Param("stride"), GP64())
	SHLQ(U8(2), stride)
	even := Load(Param("even"), GP64())
	odd := Load(Param("odd"), GP64())
	panels := Load(Param("panels"), GP64())
	TESTQ(panels, panels)
	JEQ(LabelRef("done"))
	Label("loop")
	interleave16(Mem{Base: even}, Mem{Base: odd}, Mem{Base: dst})
	ADDQ(U32(32), even)
	ADDQ(U32(32), odd)
	ADDQ(stride, dst)
	DECQ(panels)
	JNE(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// pairCols writes one B panel's int16 pairs straight from the input of a patch
// matrix: 16 columns of the two rows of each reduction pair, at their offsets in the
// input, interleaved as pairRows does, the pairs' 16 words one after the other.
func pairCols() {
	TEXT("pairColsAVX2", NOSPLIT, "func(dst *uint32, x *int16, origins *int, pairs int)")
	Doc("pairColsAVX2 writes, for q < pairs, the pairs (x[origins[2q]+j], x[origins[2q+1]+j])",
		"of 16 columns j at dst + 16*q, as pair does: the even row in the low half.")
	dst := Load(Param("dst"), GP64())
	x := Load(Param("x"), GP64())
	origins := Load(Param("origins"), GP64())
	pairs := Load(Param("pairs"), GP64())
	TESTQ(pairs, pairs)
	JEQ(LabelRef("done"))
	Label("loop")
	o0, o1 := GP64(), GP64()
	MOVQ(Mem{Base: origins}, o0)
	MOVQ(Mem{Base: origins, Disp: 8}, o1)
	interleave16(Mem{Base: x, Index: o0, Scale: 2}, Mem{Base: x, Index: o1, Scale: 2}, Mem{Base: dst})
	ADDQ(U32(16), origins)
	ADDQ(U32(64), dst)
	DECQ(pairs)
	JNE(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// copyRuns copies the runs of patch rows inside the input, a 32-byte block each, as
// package gemm's copyRuns does for one row: a row's runs in order, so that a block
// written past its run is overwritten by the next run (or the next row).
func copyRuns() {
	TEXT("copyRunsAVX2", NOSPLIT, "func(dst *byte, stride int, x *byte, origins *int, rows int, runs *int, nruns int)")
	Doc("copyRunsAVX2 copies, for i < rows and q < nruns, the 32 bytes at",
		"x + origins[i] + runs[2q] to dst + i*stride + runs[2q+1] (all in bytes), q in order.")
	runRows(1, func(x []reg.GPVirtual, src, dst Mem) {
		block := YMM()
		VMOVDQU(Mem{Base: x[0], Index: src.Index, Scale: 1}, block)
		VMOVDQU(block, dst)
	})
}

// pairRuns is copyRuns for the integer kernels' B panels: the runs of two patch rows
// (two reduction steps) interleaved into int16 pairs as interleave16 pairs them,
// eight pairs (a 32-byte block) a run.
func pairRuns() {
	TEXT("pairRunsAVX2", NOSPLIT, "func(dst *byte, stride int, x *byte, origins *int, rows int, runs *int, nruns int)")
	Doc("pairRunsAVX2 writes, for i < rows and q < nruns, the pairs of the eight int16 at",
		"x + origins[2i] + runs[2q] and the eight at x + origins[2i+1] + runs[2q], the first",
		"in each pair's low half, to the 32 bytes at dst + i*stride + runs[2q+1] (all in",
		"bytes), q in order.")
	runRows(2, func(x []reg.GPVirtual, src, dst Mem) {
		e, o, lo, hi := XMM(), XMM(), XMM(), XMM()
		VMOVDQU(Mem{Base: x[0], Index: src.Index, Scale: 1}, e)
		VMOVDQU(Mem{Base: x[1], Index: src.Index, Scale: 1}, o)
		VPUNPCKLWD(o, e, lo) // pairs 0-3
		VPUNPCKHWD(o, e, hi) // pairs 4-7
		VMOVDQU(lo, dst)
		VMOVDQU(hi, dst.Offset(16))
	})
}

// runRows emits the loops of copyRuns and pairRuns over rows and their runs: each row
// reads from origins patch rows of the input (their offsets in x, one after another in
// the origins parameter), and move writes a run, given the rows' addresses, the run's
// offset from them (as the index of src) and its destination.
func runRows(origins int, move func(x []reg.GPVirtual, src, dst Mem)) {
	dst := Load(Param("dst"), GP64())
	stride := Load(Param("stride"), GP64())
	x := Load(Param("x"), GP64())
	offsets := Load(Param("origins"), GP64())
	rows := Load(Param("rows"), GP64())
	runs := Load(Param("runs"), GP64())
	nruns := Load(Param("nruns"), GP64())
	TESTQ(rows, rows)
	JEQ(LabelRef("done"))
	TESTQ(nruns, nruns)
	JEQ(LabelRef("done"))
	Label("row")
	bases := make([]reg.GPVirtual, origins)
	for i := range bases {
		bases[i] = GP64()
		MOVQ(x, bases[i])
		ADDQ(Mem{Base: offsets, Disp: 8 * i}, bases[i])
	}
	r, n := GP64(), GP64()
	MOVQ(runs, r)
	MOVQ(nruns, n)
	Label("run")
	src, off := GP64(), GP64()
	MOVQ(Mem{Base: r}, src)
	MOVQ(Mem{Base: r, Disp: 8}, off)
	move(bases, Mem{Index: src, Scale: 1}, Mem{Base: dst, Index: off, Scale: 1})
	ADDQ(U32(16), r)
	DECQ(n)
	JNE(LabelRef("run"))
	ADDQ(stride, dst)
	ADDQ(U32(8*origins), offsets)
	DECQ(rows)
	JNE(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// transpose6 packs mr rows of an integer A panel from the columns of a row-major
// int16 matrix (op(A) = A transposed), eight reduction steps a block: an 8x8
// transposition in three rounds of unpacks, of which the panel keeps six rows.
// transposeKernel emits name, which writes dst[i*rs+p] = src[p*lda+i] for i < 6 and
// p < 8*blocks of values of elem, size bytes each, eight steps a block: load reads a
// source row (eight values) into a new register, and swap transposes the eight rows
// and stores the six panel rows at the addresses rowAt gives.
func transposeKernel(name, elem string, size uint8, load func(m Mem) reg.VecVirtual, swap func(r []reg.VecVirtual, rowAt func() []Mem)) {
	TEXT(name, NOSPLIT, "func(dst *"+elem+", rs int, src *"+elem+", lda int, blocks int)")
	Doc(name+" writes dst[i*rs+p] = src[p*lda+i] for i < 6 and p < 8*blocks;",
		"it reads eight values of each source row.")
	shift := U8(bits.TrailingZeros8(size)) // log2 of the size
	dst := Load(Param("dst"), GP64())
	rs := Load(Param("rs"), GP64())
	SHLQ(shift, rs)
	src := Load(Param("src"), GP64())
	lda := Load(Param("lda"), GP64())
	SHLQ(shift, lda)
	blocks := Load(Param("blocks"), GP64())
	TESTQ(blocks, blocks)
	JEQ(LabelRef("done"))
	Label("loop")
	r, p := loadRows(src, lda, load)
	swap(r, func() []Mem {
		d3 := GP64()
		LEAQ(Mem{Base: dst, Index: rs, Scale: 2}, d3)
		ADDQ(rs, d3)
		return []Mem{{Base: dst}, {Base: dst, Index: rs, Scale: 1}, {Base: dst, Index: rs, Scale: 2},
			{Base: d3}, {Base: d3, Index: rs, Scale: 1}, {Base: d3, Index: rs, Scale: 2}}
	})
	LEAQ(Mem{Base: p, Index: lda, Scale: 1}, src)
	ADDQ(U32(8*uint32(size)), dst)
	DECQ(blocks)
	JNE(LabelRef("loop"))
	Label("done")
}

// loadRows loads eight rows of a matrix, stride bytes apart, from src on with load,
// and returns them and the address of the last.
func loadRows(src, stride reg.Register, load func(m Mem) reg.VecVirtual) ([]reg.VecVirtual, reg.GPVirtual) {
	r := make([]reg.VecVirtual, 8)
	p := GP64()
	MOVQ(src, p)
	for i := range r {
		r[i] = load(Mem{Base: p})
		if i < 7 {
			ADDQ(stride, p)
		}
	}
	return r, p
}

func transpose6() {
	transposeKernel("transpose6AVX2", "int16", 2, func(m Mem) reg.VecVirtual {
		x := XMM()
		VMOVDQU(m, x)
		return x
	}, func(r []reg.VecVirtual, rowAt func() []Mem) {
		// Round 1, words: t[2k] pairs rows 2k and 2k+1 in columns 0-3, t[2k+1] in 4-7.
		t := make([]reg.VecVirtual, 8)
		for k := range 4 {
			t[2*k], t[2*k+1] = XMM(), XMM()
			VPUNPCKLWD(r[2*k+1], r[2*k], t[2*k])
			VPUNPCKHWD(r[2*k+1], r[2*k], t[2*k+1])
		}
		// Round 2, dwords: rows 0-3 (from t0, t2; t1, t3) and 4-7 (t4, t6; t5, t7) by
		// column pairs 0-1, 2-3 and 4-5.
		u0, u1, u2, u3, u4, u6 := XMM(), XMM(), XMM(), XMM(), XMM(), XMM()
		VPUNPCKLDQ(t[2], t[0], u0)
		VPUNPCKHDQ(t[2], t[0], u1)
		VPUNPCKLDQ(t[6], t[4], u2)
		VPUNPCKHDQ(t[6], t[4], u3)
		VPUNPCKLDQ(t[3], t[1], u4)
		VPUNPCKLDQ(t[7], t[5], u6)
		// Round 3, qwords: column c's eight rows, stored as panel row c.
		rows := rowAt()
		for i, pair := range [][2]reg.VecVirtual{{u0, u2}, {u0, u2}, {u1, u3}, {u1, u3}, {u4, u6}, {u4, u6}} {
			c := XMM()
			if i%2 == 0 {
				VPUNPCKLQDQ(pair[1], pair[0], c)
			} else {
				VPUNPCKHQDQ(pair[1], pair[0], c)
			}
			VMOVDQU(c, rows[i])
		}
	})
	RET()
}

func transpose6F32() {
	transposeKernel("transpose6F32AVX2", "float32", 4, func(m Mem) reg.VecVirtual {
		y := YMM()
		VMOVUPS(m, y)
		return y
	}, func(r []reg.VecVirtual, rowAt func() []Mem) {
		column := transpose8x8(r)
		// Column c's eight rows, stored as panel row c (columns 0-5).
		rows := rowAt()
		for c := range mr {
			VMOVUPS(column(c), rows[c])
		}
	})
	VZEROUPPER()
	RET()
}

// transpose8x8 transposes the 8x8 block of 32-bit values in rows r: it returns a
// function that emits column c (the eight rows' values c) into a new register.
func transpose8x8(r []reg.VecVirtual) func(c int) reg.VecVirtual {
	// Round 1: t[2k] interleaves rows 2k and 2k+1 in columns 0-1 and 4-5, t[2k+1] in
	// columns 2-3 and 6-7.
	t := make([]reg.VecVirtual, 8)
	for k := range 4 {
		t[2*k], t[2*k+1] = YMM(), YMM()
		VUNPCKLPS(r[2*k+1], r[2*k], t[2*k])
		VUNPCKHPS(r[2*k+1], r[2*k], t[2*k+1])
	}
	// Round 2: u[c] holds column c of rows 0-3 in its low half and column c+4 in its
	// high half; u[4+c] the same of rows 4-7.
	u := make([]reg.VecVirtual, 8)
	for half := range 2 {
		a, b, c, d := t[4*half], t[4*half+2], t[4*half+1], t[4*half+3]
		for i, pick := range []struct {
			lo, hi reg.VecVirtual
			imm    uint8
		}{{a, b, 0x44}, {a, b, 0xEE}, {c, d, 0x44}, {c, d, 0xEE}} {
			u[4*half+i] = YMM()
			VSHUFPS(U8(pick.imm), pick.hi, pick.lo, u[4*half+i])
		}
	}
	// Round 3: the low halves of u[c] and u[4+c] make column c, the high halves of
	// u[c-4] and u[c] column c >= 4.
	return func(c int) reg.VecVirtual {
		col := YMM()
		if c < 4 {
			VPERM2F128(U8(0x20), u[4+c], u[c], col)
		} else {
			VPERM2F128(U8(0x31), u[c], u[c-4], col)
		}
		return col
	}
}

// transposeB32 packs eight columns of a B panel from the rows of a row-major matrix
// of 32-bit values (op(B) = B transposed: float32 values, or int16 pairs), eight
// reduction steps a block, through transpose8x8.
func transposeB32() {
	TEXT("transposeB32AVX2", NOSPLIT, "func(dst *uint32, src *uint32, lds int, blocks int)")
	Doc("transposeB32AVX2 writes dst[p*16+j] = src[j*lds+p] for j < 8 and p < 8*blocks.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	SHLQ(U8(2), lds)
	blocks := Load(Param("blocks"), GP64())
	TESTQ(blocks, blocks)
	JEQ(LabelRef("done"))
	Label("loop")
	r, _ := loadRows(src, lds, func(m Mem) reg.VecVirtual {
		y := YMM()
		VMOVUPS(m, y)
		return y
	})
	column := transpose8x8(r)
	for c := range 8 {
		VMOVUPS(column(c), Mem{Base: dst, Disp: 4 * nr * c})
	}
	ADDQ(U32(32), src)
	ADDQ(U32(8*4*nr), dst)
	DECQ(blocks)
	JNE(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// panelRows packs a B panel from a row-major op(B): nr values of each row, the rows
// lds values apart, a panel row (two YMM registers) each.
func panelRows() {
	TEXT("panelRowsAVX2", NOSPLIT, "func(dst, src *float32, lds int, rows int)")
	Doc("panelRowsAVX2 writes dst[p*16+j] = src[p*lds+j] for j < 16 and p < rows.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	SHLQ(U8(2), lds)
	rows := Load(Param("rows"), GP64())
	TESTQ(rows, rows)
	JEQ(LabelRef("done"))
	Label("loop")
	lo, hi := YMM(), YMM()
	VMOVUPS(Mem{Base: src}, lo)
	VMOVUPS(Mem{Base: src, Disp: 32}, hi)
	VMOVUPS(lo, Mem{Base: dst})
	VMOVUPS(hi, Mem{Base: dst, Disp: 32})
	ADDQ(lds, src)
	ADDQ(U32(4*nr), dst)
	DECQ(rows)
	JNE(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}
