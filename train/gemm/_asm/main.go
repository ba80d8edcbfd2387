// Command _asm generates the amd64 microkernels of package gemm with avo:
//
//	cd train/gemm/_asm && go run . -out ../kernel_amd64.s -stubs ../kernel_amd64.go -pkg gemm
//
// (go generate in train/gemm runs it). It is a module of its own so that avo is not a
// dependency of rctsim.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The register tile, as in gemm.go: mr rows of nr = 16 columns (two YMM registers).
const mr = 6

func main() {
	ConstraintExpr("amd64,!purego")
	f32Kernel()
	i16Kernel()
	i16KernelVNNI()
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

// aRows loads the parameter a, whose panel holds mr rows of kc 4-byte values each
// (kc the kernel's step count), and returns its two base registers (rows 0 and 3)
// and the row stride.
func aRows(kc reg.Register) (a, a3, sa reg.Register) {
	a = Load(Param("a"), GP64())
	sa = GP64()
	MOVQ(kc, sa)
	SHLQ(U8(2), sa)
	a3 = GP64()
	LEAQ(Mem{Base: a, Index: sa, Scale: 2}, a3)
	ADDQ(sa, a3)
	return a, a3, sa
}

// aRow is the address of step's value in row i of A's panel.
func aRow(a, a3, sa reg.Register, i int) Mem {
	switch i {
	case 0:
		return Mem{Base: a}
	case 1:
		return Mem{Base: a, Index: sa, Scale: 1}
	case 2:
		return Mem{Base: a, Index: sa, Scale: 2}
	case 3:
		return Mem{Base: a3}
	case 4:
		return Mem{Base: a3, Index: sa, Scale: 1}
	}
	return Mem{Base: a3, Index: sa, Scale: 2}
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
	// The rows of A are read through one index, which counts from -kc up to 0 from
	// the rows' ends: a row address each, and no compare with kc.
	step := Load(Param("kc"), GP64())
	ap := Load(Param("a"), GP64())
	a := make([]reg.GPVirtual, mr)
	for i := range a {
		a[i] = GP64()
		MOVQ(Mem{Base: ap, Disp: 8 * i}, a[i])
		LEAQ(Mem{Base: a[i], Index: step, Scale: 4}, a[i])
	}
	NEGQ(step)
	b := Load(Param("b"), GP64())
	row := rows()
	acc := accumulators(row, func(r reg.VecVirtual) { VXORPS(r, r, r) }, func(m Mem, r reg.VecVirtual) { VMOVUPS(m, r) })
	Label("loop")
	b0, b1, t := YMM(), YMM(), YMM()
	VMOVUPS(Mem{Base: b}, b0)
	VMOVUPS(Mem{Base: b}.Offset(32), b1)
	for i := range mr {
		VBROADCASTSS(Mem{Base: a[i], Index: step, Scale: 4}, t)
		VFMADD231PS(b0, t, acc[2*i])
		VFMADD231PS(b1, t, acc[2*i+1])
	}
	ADDQ(U32(64), b)
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
	TEXT("i16KernelAVX2", NOSPLIT, "func(kc2 int, a, b *int16, c *int32, ldc int, load bool)")
	Doc("i16KernelAVX2 is i16Kernel with AVX2: VPMADDWD of int16 pairs, VPADDD into int32 lanes.")
	kc := Load(Param("kc2"), GP64())
	a, a3, sa := aRows(kc)
	b := Load(Param("b"), GP64())
	row := rows()
	acc := accumulators(row, func(r reg.VecVirtual) { VPXOR(r, r, r) }, func(m Mem, r reg.VecVirtual) { VMOVDQU(m, r) })
	Label("loop")
	b0, b1 := YMM(), YMM()
	VMOVDQU(Mem{Base: b}, b0)
	VMOVDQU(Mem{Base: b}.Offset(32), b1)
	for i := range mr {
		t, p := YMM(), YMM()
		VPBROADCASTD(aRow(a, a3, sa, i), t)
		VPMADDWD(b0, t, p)
		VPADDD(p, acc[2*i], acc[2*i])
		VPMADDWD(b1, t, t)
		VPADDD(t, acc[2*i+1], acc[2*i+1])
	}
	ADDQ(U32(4), a)
	ADDQ(U32(4), a3)
	ADDQ(U32(64), b)
	DECQ(kc)
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
	TEXT("i16KernelVNNI", NOSPLIT, "func(kc2 int, a, b *int16, c *int32, ldc int, load bool)")
	Doc("i16KernelVNNI is i16Kernel with AVX512-VNNI on YMM registers: one VPDPWSSD per 8 lanes of int16 pairs.")
	kc := Load(Param("kc2"), GP64())
	a, a3, sa := aRows(kc)
	b := Load(Param("b"), GP64())
	row := rows()
	acc := accumulators(row, func(r reg.VecVirtual) { VPXOR(r, r, r) }, func(m Mem, r reg.VecVirtual) { VMOVDQU(m, r) })
	Label("loop")
	b0, b1 := YMM(), YMM()
	VMOVDQU(Mem{Base: b}, b0)
	VMOVDQU(Mem{Base: b}.Offset(32), b1)
	for i := range mr {
		t := YMM()
		VPBROADCASTD(aRow(a, a3, sa, i), t)
		vpdpwssd(b0, t, acc[2*i])
		vpdpwssd(b1, t, acc[2*i+1])
	}
	ADDQ(U32(4), a)
	ADDQ(U32(4), a3)
	ADDQ(U32(64), b)
	DECQ(kc)
	JNE(LabelRef("loop"))
	for i := range mr {
		VMOVDQU(acc[2*i], row[i])
		VMOVDQU(acc[2*i+1], row[i].Offset(32))
	}
	VZEROUPPER()
	RET()
}
