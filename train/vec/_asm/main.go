// Command _asm generates the amd64 kernels of package vec with avo:
//
//	cd train/vec/_asm && go run . -out ../kernel_amd64.s -stubs ../kernel_amd64.go -pkg vec
//
// (go generate in train/vec runs it). It is a module of its own so that avo is not
// a dependency of rctsim.
package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!purego")
	gather = table("gather", 0, 4, 0, 4, 0, 4, 0, 4)
	low32 = table("low32", 0, 2, 4, 6, 0, 2, 4, 6)
	requant32()
	requantLeft32()
	requant64()
	sums16()
	rowSums16()
	affine("affine8AVX2", false)
	affine("affine8TwoAVX2", true)
	scaleShift()
	widen("widen16AVX2", 16, VPMOVSXBW)
	widen("widen32AVX2", 8, VPMOVSXBD)
	relu8()
	mask8()
	addRows()
	relu32()
	mask32()
	addBias32()
	addLanes("add32AVX2", "float32", "", func(from, to Op) { VMOVUPS(from, to) }, func(m, x, to Op) { VADDPS(m, x, to) })
	addLanes("addI32AVX2", "int32", ", wrapping", VMOVDQU, func(m, x, to Op) { VPADDD(m, x, to) })
	normalize("bnNormalizeAVX2", false, "bnNormalizeAVX2 writes out = float32(gamma*((float64(x)-mean)*rstd) + beta) per",
		"channel for rows rows of c channels, c a multiple of 4.")
	bnInputError()
	normalize("lnNormalizeAVX2", true, "lnNormalizeAVX2 writes out = float32(gamma*((float64(x)-mean)*rstd) + beta), with",
		"mean and rstd per row and gamma and beta per channel, for rows rows of c channels,",
		"c a multiple of 4.")
	lnInputError()
	lnErrorSums4()
	expKernel()
	bnSum8()
	bnSumSq8()
	gradSums8("bnGradSums8AVX2", false, "bnGradSums8AVX2 adds, for eight channels j and rows rows in row order, d =",
		"float64(dy[r*c+j]) to sdy[j] and d*((float64(x[r*c+j])-mean[j])*rstd[j]) to sdx[j].")
	gradSums8("lnGradSums8AVX2", true, "lnGradSums8AVX2 adds, for eight channels j and rows rows in row order, d =",
		"float64(dy[r*c+j]) to sdy[j] and d*((float64(x[r*c+j])-mean[r])*rstd[r]) to sdx[j].")
	quant32()
	quantEst32()
	quantSym32()
	clipMask32()
	keyRange32()
	mulRows()
	updateInt()
	rowAffine("rowAffine8AVX2", false)
	rowAffine("rowAffine64TwoAVX2", true)
	iota8 = table("iota8", 0, 1, 2, 3, 4, 5, 6, 7)
	maxPool2x2("maxPool2x2F32AVX2", "float32", 2, func(m Mem, r reg.VecVirtual) { VMOVUPS(m, r) },
		func(mask, x, v Op) { VCMPPS(U8(0x1e), v, x, mask) }, // x > v, ordered and quiet (GT_OQ): false for a NaN
		func(v reg.VecVirtual, m Mem) { VMOVUPS(v, m) })
	maxPool2x2("maxPool2x2I8AVX2", "int8", 0, func(m Mem, r reg.VecVirtual) { VPMOVSXBD(m, r) },
		func(mask, x, v Op) { VPCMPGTD(v, x, mask) },
		func(v reg.VecVirtual, m Mem) {
			hi, w := XMM(), XMM()
			VEXTRACTI128(U8(1), v, hi)
			VPACKSSDW(hi, v.AsX(), w) // the int8 values, exact
			VPACKSSWB(w, w, w)
			VMOVQ(w, m)
		})
	Generate()
}

// VPERMD indexes: gather moves dwords 0 and 4 (the eight bytes pack8 keeps) into the
// low qword; low32 moves the low dwords of four qwords into the low 128 bits.
var gather, low32 Mem

// table declares read-only dwords.
func table(name string, dwords ...uint32) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i, v := range dwords {
		DATA(4*i, U32(v))
	}
	return m
}

// lanes64 declares read-only qwords, 32 bytes a slot: each value in the four lanes
// of a YMM register. The assembler takes DATA in increasing offsets (a caller may add
// more past the slots); floats go in as their bits (f64): it reads avo's float
// constants without a decimal point, such as $(1), as integers.
func lanes64(name string, values ...Constant) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for slot, v := range values {
		for i := range 4 {
			DATA(32*slot+8*i, v)
		}
	}
	return m
}

// broadcast32 returns a YMM register holding v in every dword.
// It moves v with VMOVQ: MOVQ, an SSE instruction, run while the upper halves of the
// YMM registers are in use costs a change of state (on this project's AMD machine,
// hundreds of cycles; maxPool2x2's loop took about 30 times as long with it).
func broadcast32(v reg.Register) reg.VecVirtual {
	x, y := XMM(), YMM()
	VMOVQ(v, x)
	VPBROADCASTD(x, y)
	return y
}

// broadcast64 returns a YMM register holding v in every qword (with VMOVQ, as
// broadcast32).
func broadcast64(v reg.Register) reg.VecVirtual {
	x, y := XMM(), YMM()
	VMOVQ(v, x)
	VPBROADCASTQ(x, y)
	return y
}

// pack8 stores eight int32 values of r, each in [-127, 127], as eight int8 at dst:
// the saturating packs keep them, and the permutation joins the two 128-bit lanes.
func pack8(r reg.VecVirtual, gather reg.VecVirtual, dst Mem) {
	VPACKSSDW(r, r, r) // words: lane 0 = r0..r3 twice, lane 1 = r4..r7 twice
	VPACKSSWB(r, r, r) // bytes: dword 0 = r0..r3, dword 4 = r4..r7
	VPERMD(r, gather, r)
	VMOVQ(r.AsX(), dst)
}

// blockLoops emits the loop over blocks of eight values twice, without and with a
// ReLU first (relu picks one at run time), each block running body and then moving acc
// on by accBytes and out by eight; both end at the label "done", where the code after
// the call follows.
func blockLoops(acc, out, blocks, relu reg.Register, accBytes int, body func(clip bool)) {
	TESTQ(blocks, blocks)
	JEQ(LabelRef("done"))
	CMPB(relu, U8(0))
	JNE(LabelRef("reluLoop"))
	for _, label := range []string{"loop", "reluLoop"} {
		Label(label)
		body(label == "reluLoop")
		ADDQ(U32(accBytes), acc)
		ADDQ(U32(8), out)
		DECQ(blocks)
		JNE(LabelRef(label))
		JMP(LabelRef("done"))
	}
	Label("done")
}

// storeLanes stores the lanes' maxima m and counts cnt at the parameter lanes.
func storeLanes(m, cnt reg.VecVirtual) {
	lanes := Load(Param("lanes"), GP64())
	VMOVDQU(m, Mem{Base: lanes})
	VMOVDQU(cnt, Mem{Base: lanes}.Offset(32))
}

// requantSetup loads the parameters the right-shift requantisations share and sets
// up their registers: the shift count, half and 127 in every lane (broadcast fills
// dwords or qwords), zero, the lanes' maxima and counts (0) and pack8's permutation.
func requantSetup(broadcast func(reg.Register) reg.VecVirtual) (acc, out, blocks, relu reg.Register,
	shift, half, max8, zero, m, cnt, perm reg.VecVirtual) {
	acc = Load(Param("acc"), GP64())
	out = Load(Param("out"), GP64())
	blocks = Load(Param("blocks"), GP64())
	shift = XMM()
	MOVQ(Load(Param("shift"), GP64()), shift)
	half = broadcast(Load(Param("half"), GP64()))
	c127 := GP64()
	MOVQ(U32(127), c127)
	max8 = broadcast(c127)
	relu = Load(Param("relu"), GP8())
	zero, m, cnt = YMM(), YMM(), YMM()
	VPXOR(zero, zero, zero)
	VPXOR(m, m, m)
	VPXOR(cnt, cnt, cnt)
	perm = YMM()
	VMOVDQU(gather, perm)
	return
}

// requant32 is the int32 requantisation of 8 values a block (see requant32AVX2's
// documentation in the generated stubs).
func requant32() {
	TEXT("requant32AVX2", NOSPLIT, "func(acc *int32, out *int8, blocks int, shift, half uint64, relu bool, lanes *[16]uint32)")
	Doc("requant32AVX2 requantises blocks*8 values of acc into out for a shift of 1..31 and",
		"half = 2^(shift-1): r = sign(v) min((|v|+half)>>shift, 127), v first clipped at 0",
		"when relu. It leaves the lanes' largest |v| in lanes[0:8] and how many values",
		"saturated in lanes[8:16]. |v| <= 2^31 and half <= 2^30 keep |v|+half within 32",
		"unsigned bits.")
	acc, out, blocks, relu, shift, half, max8, zero, m, cnt, perm := requantSetup(broadcast32)

	blockLoops(acc, out, blocks, relu, 32, func(clip bool) {
		v, r, s := YMM(), YMM(), YMM()
		VMOVDQU(Mem{Base: acc}, v)
		if clip {
			VPMAXSD(zero, v, v)
		}
		VPABSD(v, r) // 2^31 for -2^31, read unsigned below
		VPMAXUD(r, m, m)
		VPADDD(half, r, r)
		VPSRLD(shift, r, r)
		VPCMPGTD(max8, r, s) // r > 127: -1
		VPSUBD(s, cnt, cnt)
		VPMINUD(max8, r, r)
		VPSIGND(v, r, r) // v's sign; v = 0 gives r = 0 as (0+half)>>shift does
		pack8(r, perm, Mem{Base: out})
	})
	storeLanes(m, cnt)
	VZEROUPPER()
	RET()
}

// requantLeft32 is the int32 requantisation for shifts of 0 or less, 8 values a block.
func requantLeft32() {
	TEXT("requantLeft32AVX2", NOSPLIT, "func(acc *int32, out *int8, blocks int, left uint64, relu bool, lanes *[16]uint32)")
	Doc("requantLeft32AVX2 requantises blocks*8 values of acc into out for a shift of -left",
		"(0 or less): r = sign(v) min(|v|<<left, 127), v first clipped at 0 when relu. It",
		"leaves the lanes' largest |v| in lanes[0:8] and how many values did not saturate",
		"in lanes[8:16]. |v| > 127>>left saturates, so only values at most that are shifted.")
	acc := Load(Param("acc"), GP64())
	out := Load(Param("out"), GP64())
	blocks := Load(Param("blocks"), GP64())
	left := Load(Param("left"), GP64())
	shift := XMM()
	MOVQ(left, shift)
	c127 := GP64()
	MOVQ(U32(127), c127)
	max8 := broadcast32(c127)
	limit := GP64() // 127 >> left, 0 from left 7 on
	MOVQ(c127, limit)
	CMPQ(left, U8(7))
	JLS(LabelRef("small"))
	XORQ(limit, limit)
	JMP(LabelRef("limit"))
	Label("small")
	MOVQ(left, reg.RCX)
	SHRQ(reg.CL, limit)
	Label("limit")
	lim := broadcast32(limit)
	relu := Load(Param("relu"), GP8())
	zero, m, kept := YMM(), YMM(), YMM()
	VPXOR(zero, zero, zero)
	VPXOR(m, m, m)
	VPXOR(kept, kept, kept)
	perm := YMM()
	VMOVDQU(gather, perm)

	blockLoops(acc, out, blocks, relu, 32, func(clip bool) {
		v, a, low, r := YMM(), YMM(), YMM(), YMM()
		VMOVDQU(Mem{Base: acc}, v)
		if clip {
			VPMAXSD(zero, v, v)
		}
		VPABSD(v, a)
		VPMAXUD(a, m, m)
		VPMINUD(lim, a, low)
		VPCMPEQD(a, low, a) // |v| <= limit: kept, -1
		VPSUBD(a, kept, kept)
		VPSLLD(shift, low, low)
		VPBLENDVB(a, low, max8, r) // kept ? |v|<<left : 127
		VPSIGND(v, r, r)
		pack8(r, perm, Mem{Base: out})
	})
	storeLanes(m, kept)
	VZEROUPPER()
	RET()
}

// requant64 is the int64 requantisation of 8 values a block, two registers of four.
func requant64() {
	TEXT("requant64AVX2", NOSPLIT, "func(acc *int64, out *int8, blocks int, shift, half uint64, relu bool, lanes *[8]uint64) (big bool)")
	Doc("requant64AVX2 requantises blocks*8 values of acc into out for a shift of 1..61 and",
		"half = 2^(shift-1), as requant32AVX2 does, leaving the largest |v| of its lanes in",
		"lanes[0:4] and their saturation counts in lanes[4:8]. It reports big when some |v|",
		"is 2^62 or more (or v is -2^63), where |v|+half could overflow: the outputs are",
		"then not all right and the caller must compute them another way.")
	acc, out, blocks, relu, shift, half, max8, zero, m, cnt, perm := requantSetup(broadcast64)
	big, low := YMM(), YMM()
	VPXOR(big, big, big)
	VMOVDQU(low32, low)

	// four requantises the four values at src into int32s in the low 128 bits of the
	// returned register.
	four := func(src Mem, clip bool) reg.VecVirtual {
		v, neg, r, s := YMM(), YMM(), YMM(), YMM()
		VMOVDQU(src, v)
		if clip {
			VPCMPGTQ(zero, v, s) // v > 0
			VPAND(s, v, v)
		}
		VPCMPGTQ(v, zero, neg) // v < 0: -1
		VPXOR(neg, v, r)
		VPSUBQ(neg, r, r) // |v|
		VPSRLQ(U8(62), r, s)
		VPOR(s, big, big)
		VPCMPGTQ(m, r, s) // |v| > m
		VPBLENDVB(s, r, m, m)
		VPADDQ(half, r, r)
		VPSRLQ(shift, r, r)
		VPCMPGTQ(max8, r, s) // r > 127: -1
		VPSUBQ(s, cnt, cnt)
		VPBLENDVB(s, max8, r, r)
		VPXOR(neg, r, r)
		VPSUBQ(neg, r, r) // v's sign back
		VPERMD(r, low, r)
		return r
	}
	blockLoops(acc, out, blocks, relu, 64, func(clip bool) {
		lo := four(Mem{Base: acc}, clip)
		hi := four(Mem{Base: acc}.Offset(32), clip)
		VINSERTI128(U8(1), hi.AsX(), lo, lo)
		pack8(lo, perm, Mem{Base: out})
	})
	storeLanes(m, cnt)
	flag := GP64()
	XORQ(flag, flag)
	VPTEST(big, big)
	SETNE(flag.As8())
	Store(flag.As8(), Return("big"))
	VZEROUPPER()
	RET()
}

// sums16 sums, over rows, sixteen int8 channels and their products with another
// tensor's, in int32 lanes.
func sums16() {
	TEXT("sums16AVX2", NOSPLIT, "func(u, v *int8, rows, stride int, sums *[32]int32)")
	Doc("sums16AVX2 adds, for 16 channels at u and v and rows rows stride bytes apart, Σu to",
		"sums[0:16] and Σu*v to sums[16:32]. The caller keeps the int32 lanes from",
		"overflowing: |u*v| <= 2^14, so up to 2^16 rows.")
	u := Load(Param("u"), GP64())
	v := Load(Param("v"), GP64())
	rows := Load(Param("rows"), GP64())
	stride := Load(Param("stride"), GP64())
	sums := Load(Param("sums"), GP64())
	acc := make([]reg.VecVirtual, 4) // Σu of channels 0-7, 8-15; Σu*v likewise
	for i := range acc {
		acc[i] = YMM()
		VMOVDQU(Mem{Base: sums}.Offset(32*i), acc[i])
	}
	loop(rows, func() {
		for h := range 2 {
			x, y := YMM(), YMM()
			VPMOVSXBD(Mem{Base: u}.Offset(8*h), x)
			VPMOVSXBD(Mem{Base: v}.Offset(8*h), y)
			VPADDD(x, acc[h], acc[h])
			VPMULLD(x, y, y)
			VPADDD(y, acc[2+h], acc[2+h])
		}
	}, move{stride, u}, move{stride, v})
	for i := range acc {
		VMOVDQU(acc[i], Mem{Base: sums}.Offset(32*i))
	}
	VZEROUPPER()
	RET()
}

// rowSums16 sums rows of int8 values and their products with another row, 16
// values a step: VPMADDWD adds pairs of products (and, against ones, pairs of
// values) into eight int32 lanes, which the row's end adds up.
func rowSums16() {
	TEXT("rowSums16AVX2", NOSPLIT, "func(u, v *int8, rows, blocks int, s1, s2 *int64)")
	Doc("rowSums16AVX2 writes, for rows rows of blocks*16 int8 values u and v, Σu to s1[r]",
		"and Σu*v to s2[r]. The caller keeps the int32 lanes from overflowing: |u*v| <=",
		"2^14, so up to 2^16 values a row.")
	u := Load(Param("u"), GP64())
	v := Load(Param("v"), GP64())
	rows := Load(Param("rows"), GP64())
	blocks := Load(Param("blocks"), GP64())
	s1 := Load(Param("s1"), GP64())
	s2 := Load(Param("s2"), GP64())
	ones := YMM()
	VPCMPEQW(ones, ones, ones)
	VPSRLW(U8(15), ones, ones) // 1 in every word
	TESTQ(rows, rows)
	JEQ(LabelRef("done"))
	Label("row")
	a1, a2 := YMM(), YMM()
	VPXOR(a1, a1, a1)
	VPXOR(a2, a2, a2)
	n := GP64()
	MOVQ(blocks, n)
	Label("step")
	x, y := YMM(), YMM()
	VPMOVSXBW(Mem{Base: u}, x)
	VPMOVSXBW(Mem{Base: v}, y)
	VPMADDWD(y, x, y)
	VPADDD(y, a2, a2)
	VPMADDWD(ones, x, x)
	VPADDD(x, a1, a1)
	ADDQ(U8(16), u)
	ADDQ(U8(16), v)
	DECQ(n)
	JNE(LabelRef("step"))
	for i, acc := range []reg.VecVirtual{a1, a2} {
		hi := XMM()
		VEXTRACTI128(U8(1), acc, hi)
		VPADDD(hi, acc.AsX(), hi)
		t := XMM()
		VPSHUFD(U8(0x4E), hi, t)
		VPADDD(t, hi, hi)
		VPSHUFD(U8(0xB1), hi, t)
		VPADDD(t, hi, hi)
		sum32, sum := GP32(), GP64()
		VMOVD(hi, sum32)
		MOVLQSX(sum32, sum)
		MOVQ(sum, Mem{Base: []reg.Register{s1, s2}[i]})
	}
	ADDQ(U8(8), s1)
	ADDQ(U8(8), s2)
	DECQ(rows)
	JNE(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// affineParams loads the parameters of affine's and rowAffine's kernels (v and b
// only when two; n, the row length named length, in steps of four) and skips to done
// when there are no rows.
func affineParams(two bool, length string) (u, v, b, rows, n, a, c, acc reg.Register) {
	u = Load(Param("u"), GP64())
	if two {
		v = Load(Param("v"), GP64())
		b = Load(Param("b"), GP64())
	}
	rows = Load(Param("rows"), GP64())
	n = Load(Param(length), GP64())
	a = Load(Param("a"), GP64())
	c = Load(Param("c"), GP64())
	acc = Load(Param("acc"), GP64())
	SHRQ(U8(2), n) // steps of four a row
	TESTQ(rows, rows)
	JEQ(LabelRef("done"))
	return u, v, b, rows, n, a, c, acc
}

// affine computes a per-channel affine map of int8 tensors into int64, four channels
// a step, with VPMULDQ: the coefficients fit 32 bits and the operands 8.
func affine(name string, two bool) {
	sig := "func(u *int8, rows, channels int, a, c *int64, acc *int64)"
	if two {
		sig = "func(u, v *int8, rows, channels int, a, b, c *int64, acc *int64)"
	}
	TEXT(name, NOSPLIT, sig)
	if two {
		Doc(name+" writes acc[r*channels+j] = a[j]*u[r*channels+j] + b[j]*v[r*channels+j] +",
			"c[j] for rows rows, channels a multiple of 4, |a[j]| and |b[j]| below 2^31.")
	} else {
		Doc(name+" writes acc[r*channels+j] = a[j]*u[r*channels+j] + c[j] for rows rows,",
			"channels a multiple of 4, |a[j]| below 2^31.")
	}
	u, v, b, rows, channels, a, c, acc := affineParams(two, "channels")
	Label("row")
	j := GP64() // the step's offset in the coefficients, bytes
	XORQ(j, j)
	k := GP64()
	MOVQ(channels, k)
	Label("step")
	x, t := YMM(), YMM()
	VPMOVSXBQ(Mem{Base: u}, x)
	VPMULDQ(Mem{Base: a, Index: j, Scale: 1}, x, x)
	if two {
		y := YMM()
		VPMOVSXBQ(Mem{Base: v}, y)
		VPMULDQ(Mem{Base: b, Index: j, Scale: 1}, y, y)
		VPADDQ(y, x, x)
		ADDQ(U32(4), v)
	}
	VMOVDQU(Mem{Base: c, Index: j, Scale: 1}, t)
	VPADDQ(t, x, x)
	VMOVDQU(x, Mem{Base: acc})
	ADDQ(U32(4), u)
	ADDQ(U32(32), acc)
	ADDQ(U32(32), j)
	DECQ(k)
	JNE(LabelRef("step"))
	DECQ(rows)
	JNE(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// scaleShift is layer normalisation's scale and shift of int64 values, four channels a
// step with VPMULDQ, for values that fit 32 bits.
func scaleShift() {
	TEXT("scaleShiftAVX2", NOSPLIT, "func(x *int64, rows, channels int, gamma, beta *int64, acc *int64) (big bool)")
	Doc("scaleShiftAVX2 writes acc[r*channels+j] = gamma[j]*x[r*channels+j] + beta[j] for",
		"rows rows, channels a multiple of 4, gamma[j] a signed 32-bit value. It reports big",
		"when some x is not a signed 32-bit value, whose product VPMULDQ does not give:",
		"the outputs are then not all right and the caller must compute them another way.")
	x := Load(Param("x"), GP64())
	rows := Load(Param("rows"), GP64())
	channels := Load(Param("channels"), GP64())
	gamma := Load(Param("gamma"), GP64())
	beta := Load(Param("beta"), GP64())
	acc := Load(Param("acc"), GP64())
	bias := broadcastU64(1 << 31) // x + 2^31 < 2^32 exactly when x fits 32 bits
	big := YMM()
	VPXOR(big, big, big)
	SHRQ(U8(2), channels)
	TESTQ(rows, rows)
	JEQ(LabelRef("done"))
	Label("row")
	j := GP64()
	XORQ(j, j)
	k := GP64()
	MOVQ(channels, k)
	Label("step")
	v, t := YMM(), YMM()
	VMOVDQU(Mem{Base: x}, v)
	VPADDQ(bias, v, t)
	VPSRLQ(U8(32), t, t)
	VPOR(t, big, big)
	VPMULDQ(Mem{Base: gamma, Index: j, Scale: 1}, v, v)
	VPADDQ(Mem{Base: beta, Index: j, Scale: 1}, v, v)
	VMOVDQU(v, Mem{Base: acc})
	ADDQ(U32(32), x)
	ADDQ(U32(32), acc)
	ADDQ(U32(32), j)
	DECQ(k)
	JNE(LabelRef("step"))
	DECQ(rows)
	JNE(LabelRef("row"))
	Label("done")
	flag := GP64()
	XORQ(flag, flag)
	VPTEST(big, big)
	SETNE(flag.As8())
	Store(flag.As8(), Return("big"))
	VZEROUPPER()
	RET()
}

// widen sign-extends int8 values to a wider integer, per a register of per values
// (ext reads them from memory).
func widen(name string, per int, ext func(ops ...Op)) {
	bytes := 32 / per
	TEXT(name, NOSPLIT, fmt.Sprintf("func(dst *int%d, src *int8, blocks int)", 8*bytes))
	Doc(fmt.Sprintf("%s writes blocks*%d int8 values of src, sign-extended, to dst.", name, per))
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	blocks := Load(Param("blocks"), GP64())
	loop(blocks, func() {
		x := YMM()
		ext(Mem{Base: src}, x)
		VMOVDQU(x, Mem{Base: dst})
	}, move{U32(per), src}, move{U32(32), dst})
	VZEROUPPER()
	RET()
}

// relu8 is a ReLU of int8 values, 32 a step.
func relu8() {
	TEXT("relu8AVX2", NOSPLIT, "func(dst, src *int8, blocks int)")
	Doc("relu8AVX2 writes max(v, 0) of blocks*32 int8 values of src to dst.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	blocks := Load(Param("blocks"), GP64())
	zero := YMM()
	VPXOR(zero, zero, zero)
	loop(blocks, func() {
		x := YMM()
		VPMAXSB(Mem{Base: src}, zero, x)
		VMOVDQU(x, Mem{Base: dst})
	}, move{U32(32), src}, move{U32(32), dst})
	VZEROUPPER()
	RET()
}

// mask8 is a ReLU's backward pass over int8 values, 32 a step.
func mask8() {
	TEXT("mask8AVX2", NOSPLIT, "func(out, dy, dx *int8, blocks int)")
	Doc("mask8AVX2 writes dy where out > 0 and 0 elsewhere to dx, blocks*32 int8 values",
		"(dx may be dy).")
	out := Load(Param("out"), GP64())
	dy := Load(Param("dy"), GP64())
	dx := Load(Param("dx"), GP64())
	blocks := Load(Param("blocks"), GP64())
	zero := YMM()
	VPXOR(zero, zero, zero)
	loop(blocks, func() {
		m, x := YMM(), YMM()
		VMOVDQU(Mem{Base: out}, m)
		VPCMPGTB(zero, m, m) // out > 0
		VPAND(Mem{Base: dy}, m, x)
		VMOVDQU(x, Mem{Base: dx})
	}, move{U32(32), out}, move{U32(32), dy}, move{U32(32), dx})
	VZEROUPPER()
	RET()
}

// addRows adds a row of int32 values to every row of a matrix, saturating.
func addRows() {
	TEXT("addRows32AVX2", NOSPLIT, "func(acc *int32, rows, n int, bias *int32)")
	Doc("addRows32AVX2 adds bias[j] to acc[r*n+j] for rows rows, n a multiple of 8, each sum",
		"saturated to ±(2^31-1); every bias is within that range.")
	acc := Load(Param("acc"), GP64())
	rows := Load(Param("rows"), GP64())
	n := Load(Param("n"), GP64())
	bias := Load(Param("bias"), GP64())
	lim := GP64()
	MOVQ(U32(0x7fffffff), lim)
	top := broadcast32(lim) // 2^31-1
	low := YMM()            // -(2^31-1)
	VPXOR(low, low, low)
	VPSUBD(top, low, low)
	SHRQ(U8(3), n) // steps of eight a row
	TESTQ(rows, rows)
	JEQ(LabelRef("done"))
	Label("row")
	j := GP64()
	XORQ(j, j)
	k := GP64()
	MOVQ(n, k)
	Label("step")
	a, b, r, o, t := YMM(), YMM(), YMM(), YMM(), YMM()
	VMOVDQU(Mem{Base: acc}, a)
	VMOVDQU(Mem{Base: bias, Index: j, Scale: 1}, b)
	VPADDD(b, a, r)
	// Overflow iff a and b share the sign r lacks: the sign of (a^r)&(b^r).
	VPXOR(a, r, o)
	VPXOR(b, r, t)
	VPAND(t, o, o)
	VPSRAD(U8(31), o, o) // all of a lane's bytes, for VPBLENDVB
	VPSRAD(U8(31), a, t)
	VPXOR(top, t, t) // a's side: 2^31-1, or -2^31 (raised below)
	VPBLENDVB(o, t, r, r)
	VPMAXSD(low, r, r)
	VMOVDQU(r, Mem{Base: acc})
	ADDQ(U32(32), acc)
	ADDQ(U32(32), j)
	DECQ(k)
	JNE(LabelRef("step"))
	DECQ(rows)
	JNE(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// The float path's kernels below do in float32 or float64 lanes what the pure-Go
// loops do value by value, operation for operation in the same order and without
// fused multiply-adds, so that every rounding, and so every result, is the same.

// broadcastU64 returns a YMM register holding the constant v in every qword.
func broadcastU64(v uint64) reg.VecVirtual {
	r := GP64()
	MOVQ(U64(v), r)
	return broadcast64(r)
}

// relu32 is a ReLU of float32 values, 8 a step.
func relu32() {
	TEXT("relu32AVX2", NOSPLIT, "func(dst, src *float32, blocks int)")
	Doc("relu32AVX2 writes max(v, 0) of blocks*8 float32 values of src to dst, with Go's max:",
		"v's bits where v > 0, +0 where v <= 0, and a NaN with its sign cleared. As int32",
		"values the bits of v >= +0 are non-negative and those of v <= -0 negative, so an",
		"integer max with 0 does all but negative NaNs, whose magnitude bits lie above the",
		"infinity's.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	blocks := Load(Param("blocks"), GP64())
	zero, abs := YMM(), YMM()
	VPXOR(zero, zero, zero)
	VPCMPEQD(abs, abs, abs)
	VPSRLD(U8(1), abs, abs) // 0x7fffffff
	inf := GP64()
	MOVQ(U32(0x7f800000), inf)
	infs := broadcast32(inf)
	loop(blocks, func() {
		x, r, a, nan := YMM(), YMM(), YMM(), YMM()
		VMOVDQU(Mem{Base: src}, x)
		VPMAXSD(zero, x, r)
		VPAND(abs, x, a)
		VPCMPGTD(infs, a, nan) // |v| above the infinity's bits: a NaN
		VPBLENDVB(nan, a, r, r)
		VMOVDQU(r, Mem{Base: dst})
	}, move{U32(32), src}, move{U32(32), dst})
	VZEROUPPER()
	RET()
}

// mask32 is a ReLU's backward pass over float32 values, 8 a step.
func mask32() {
	TEXT("mask32AVX2", NOSPLIT, "func(out, dy, dx *float32, blocks int)")
	Doc("mask32AVX2 writes dy where out > 0 (an ordered compare: false for NaNs) and +0",
		"elsewhere to dx, blocks*8 float32 values (dx may be dy).")
	out := Load(Param("out"), GP64())
	dy := Load(Param("dy"), GP64())
	dx := Load(Param("dx"), GP64())
	blocks := Load(Param("blocks"), GP64())
	zero := YMM()
	VXORPS(zero, zero, zero)
	loop(blocks, func() {
		x, m := YMM(), YMM()
		VMOVUPS(Mem{Base: out}, x)
		VCMPPS(U8(0x1e), zero, x, m) // out > 0, ordered
		VANDPS(Mem{Base: dy}, m, m)
		VMOVUPS(m, Mem{Base: dx})
	}, move{U32(32), out}, move{U32(32), dy}, move{U32(32), dx})
	VZEROUPPER()
	RET()
}

// addBias32 adds a row of float64 biases to every row of a float32 matrix, 4 a step.
func addBias32() {
	TEXT("addBias32AVX2", NOSPLIT, "func(m *float32, rows, c int, bias *float64)")
	Doc("addBias32AVX2 writes m[r*c+j] = float32(float64(m[r*c+j]) + bias[j]) for rows rows,",
		"c a multiple of 4.")
	m := Load(Param("m"), GP64())
	rows := Load(Param("rows"), GP64())
	c := Load(Param("c"), GP64())
	bias := Load(Param("bias"), GP64())
	channelRows(rows, c, []reg.Register{m}, nil, nil, func(j reg.Register) {
		x := YMM()
		VCVTPS2PD(Mem{Base: m, Index: j, Scale: 4}, x)
		VADDPD(Mem{Base: bias, Index: j, Scale: 8}, x, x)
		VCVTPD2PSY(x, x.AsX())
		VMOVUPS(x.AsX(), Mem{Base: m, Index: j, Scale: 4})
	})
	VZEROUPPER()
	RET()
}

// addLanes emits name, which adds blocks*8 values of 32 bits of src to dst's, 8 a step:
// mov loads and stores the lanes, add adds them (float32 or wrapping int32).
func addLanes(name, elem, note string, mov func(from, to Op), add func(m, x, to Op)) {
	TEXT(name, NOSPLIT, "func(dst, src *"+elem+", blocks int)")
	Doc(name + " adds blocks*8 " + elem + " values of src to dst's" + note + ".")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	blocks := Load(Param("blocks"), GP64())
	loop(blocks, func() {
		x := YMM()
		mov(Mem{Base: dst}, x)
		add(Mem{Base: src}, x, x)
		mov(x, Mem{Base: dst})
	}, move{U32(32), src}, move{U32(32), dst})
	VZEROUPPER()
	RET()
}

// normalize emits name, normalisation's forward pass over float32 rows, 4 channels a
// step in float64 lanes: gamma and beta per channel; mean and rstd per channel (batch
// normalisation) or, perRow, per row, broadcast at each row (layer normalisation).
func normalize(name string, perRow bool, doc ...string) {
	TEXT(name, NOSPLIT, "func(x, out *float32, rows, c int, mean, rstd, gamma, beta *float64)")
	Doc(doc...)
	x := Load(Param("x"), GP64())
	out := Load(Param("out"), GP64())
	rows := Load(Param("rows"), GP64())
	c := Load(Param("c"), GP64())
	mean := Load(Param("mean"), GP64())
	rstd := Load(Param("rstd"), GP64())
	gamma := Load(Param("gamma"), GP64())
	beta := Load(Param("beta"), GP64())
	var perRowPtrs []reg.Register
	var broadcast func()
	var m, rs reg.VecVirtual
	if perRow {
		m, rs = YMM(), YMM()
		perRowPtrs = []reg.Register{mean, rstd}
		broadcast = func() {
			VBROADCASTSD(Mem{Base: mean}, m)
			VBROADCASTSD(Mem{Base: rstd}, rs)
		}
	}
	channelRows(rows, c, []reg.Register{x, out}, perRowPtrs, broadcast, func(j reg.Register) {
		v := YMM()
		at := func(p reg.Register) Mem { return Mem{Base: p, Index: j, Scale: 8} }
		var mv, rv Op = at(mean), at(rstd)
		if perRow {
			mv, rv = m, rs
		}
		VCVTPS2PD(Mem{Base: x, Index: j, Scale: 4}, v)
		VSUBPD(mv, v, v)
		VMULPD(rv, v, v)
		VMULPD(at(gamma), v, v)
		VADDPD(at(beta), v, v)
		VCVTPD2PSY(v, v.AsX())
		VMOVUPS(v.AsX(), Mem{Base: out, Index: j, Scale: 4})
	})
	VZEROUPPER()
	RET()
}

// bnInputError is batch normalisation's input error over float32 rows, 4 channels a
// step in float64 lanes.
func bnInputError() {
	TEXT("bnInputErrorAVX2", NOSPLIT, "func(x, dy, dx *float32, rows, c int, mean, rstd, gr, sdyInv, sdx *float64, inv float64)")
	Doc("bnInputErrorAVX2 writes dx = float32(gr*((float64(dy)-sdyInv) -",
		"((float64(x)-mean)*rstd*sdx)*inv)) per channel for rows rows of c channels, c a",
		"multiple of 4.")
	x := Load(Param("x"), GP64())
	dy := Load(Param("dy"), GP64())
	dx := Load(Param("dx"), GP64())
	rows := Load(Param("rows"), GP64())
	c := Load(Param("c"), GP64())
	mean := Load(Param("mean"), GP64())
	rstd := Load(Param("rstd"), GP64())
	gr := Load(Param("gr"), GP64())
	sdyInv := Load(Param("sdyInv"), GP64())
	sdx := Load(Param("sdx"), GP64())
	inv := YMM()
	VBROADCASTSD(param("inv"), inv)
	channelRows(rows, c, []reg.Register{x, dy, dx}, nil, nil, func(j reg.Register) {
		at := func(p reg.Register) Mem { return Mem{Base: p, Index: j, Scale: 8} }
		xh, d := YMM(), YMM()
		VCVTPS2PD(Mem{Base: x, Index: j, Scale: 4}, xh)
		VSUBPD(at(mean), xh, xh)
		VMULPD(at(rstd), xh, xh)
		VMULPD(at(sdx), xh, xh)
		VMULPD(inv, xh, xh)
		VCVTPS2PD(Mem{Base: dy, Index: j, Scale: 4}, d)
		VSUBPD(at(sdyInv), d, d)
		VSUBPD(xh, d, d)
		VMULPD(at(gr), d, d)
		VCVTPD2PSY(d, d.AsX())
		VMOVUPS(d.AsX(), Mem{Base: dx, Index: j, Scale: 4})
	})
	VZEROUPPER()
	RET()
}

// lnErrorSums4 is layer normalisation's per-row error sums over four float32 rows at
// once, a row in each float64 lane: four columns of the rows are loaded and transposed,
// then added in column order, so that each lane's sums are its row's chain of
// additions.
func lnErrorSums4() {
	TEXT("lnErrorSums4AVX2", NOSPLIT, "func(x, dy *[4]*float32, c int, gamma *float64, stats *[8]float64, sums *[8]float64)")
	Doc("lnErrorSums4AVX2 sets, for the four rows x[i] and dy[i] of c values (c a",
		"positive multiple of 4), sums[i] to the sum over j in order of v = gamma[j] *",
		"float64(dy[i][j]) and sums[4+i] to that of v * ((float64(x[i][j]) - stats[i]) *",
		"stats[4+i]) (the rows' means and reciprocal deviations).")
	xp := Load(Param("x"), GP64())
	dp := Load(Param("dy"), GP64())
	c := Load(Param("c"), GP64())
	gamma := Load(Param("gamma"), GP64())
	stats := Load(Param("stats"), GP64())
	var xr, dr [4]reg.GPVirtual
	for i := range 4 {
		xr[i], dr[i] = GP64(), GP64()
		MOVQ(Mem{Base: xp, Disp: 8 * i}, xr[i])
		MOVQ(Mem{Base: dp, Disp: 8 * i}, dr[i])
	}
	m, rs, g, h := YMM(), YMM(), YMM(), YMM()
	VMOVUPD(Mem{Base: stats}, m)
	VMOVUPD(Mem{Base: stats, Disp: 32}, rs)
	VXORPD(g, g, g)
	VXORPD(h, h, h)
	// columns loads four values of each row at column j and returns them by column.
	columns := func(rows [4]reg.GPVirtual, j reg.Register) [4]reg.VecVirtual {
		var r, t, col [4]reg.VecVirtual
		for i := range 4 {
			r[i] = YMM()
			VCVTPS2PD(Mem{Base: rows[i], Index: j, Scale: 4}, r[i])
		}
		for i := range 4 {
			t[i], col[i] = YMM(), YMM()
		}
		VUNPCKLPD(r[1], r[0], t[0]) // a0 b0 a2 b2
		VUNPCKHPD(r[1], r[0], t[1]) // a1 b1 a3 b3
		VUNPCKLPD(r[3], r[2], t[2]) // c0 d0 c2 d2
		VUNPCKHPD(r[3], r[2], t[3]) // c1 d1 c3 d3
		VPERM2F128(U8(0x20), t[2], t[0], col[0])
		VPERM2F128(U8(0x20), t[3], t[1], col[1])
		VPERM2F128(U8(0x31), t[2], t[0], col[2])
		VPERM2F128(U8(0x31), t[3], t[1], col[3])
		return col
	}
	j := GP64()
	XORQ(j, j)
	Label("loop")
	xs := columns(xr, j)
	ds := columns(dr, j)
	for t := range 4 {
		v, xn := YMM(), YMM()
		VBROADCASTSD(Mem{Base: gamma, Index: j, Scale: 8, Disp: 8 * t}, v)
		VMULPD(ds[t], v, v)
		VADDPD(v, g, g)
		VSUBPD(m, xs[t], xn)
		VMULPD(rs, xn, xn)
		VMULPD(xn, v, v)
		VADDPD(v, h, h)
	}
	ADDQ(U8(4), j)
	CMPQ(j, c)
	JLT(LabelRef("loop"))
	sums := Load(Param("sums"), GP64())
	VMOVUPD(g, Mem{Base: sums})
	VMOVUPD(h, Mem{Base: sums, Disp: 32})
	VZEROUPPER()
	RET()
}

// lnInputError is layer normalisation's input error over float32 rows, 4 channels a
// step in float64 lanes, with each row's statistics and sums broadcast.
func lnInputError() {
	TEXT("lnInputErrorAVX2", NOSPLIT, "func(x, dy, dx *float32, rows, c int, mean, rstd, gamma, sg, sgx *float64, inv float64)")
	Doc("lnInputErrorAVX2 writes dx = float32(rstd*((gamma*float64(dy) - sg*inv) -",
		"((float64(x)-mean)*rstd*sgx)*inv)), with mean, rstd, sg and sgx per row and gamma",
		"per channel, for rows rows of c channels, c a multiple of 4.")
	x := Load(Param("x"), GP64())
	dy := Load(Param("dy"), GP64())
	dx := Load(Param("dx"), GP64())
	rows := Load(Param("rows"), GP64())
	c := Load(Param("c"), GP64())
	mean := Load(Param("mean"), GP64())
	rstd := Load(Param("rstd"), GP64())
	gamma := Load(Param("gamma"), GP64())
	sg := Load(Param("sg"), GP64())
	sgx := Load(Param("sgx"), GP64())
	inv := YMM()
	VBROADCASTSD(param("inv"), inv)
	m, rs, sgInv, gx := YMM(), YMM(), YMM(), YMM()
	channelRows(rows, c, []reg.Register{x, dy, dx}, []reg.Register{mean, rstd, sg, sgx}, func() {
		VBROADCASTSD(Mem{Base: mean}, m)
		VBROADCASTSD(Mem{Base: rstd}, rs)
		VBROADCASTSD(Mem{Base: sg}, sgInv)
		VMULPD(inv, sgInv, sgInv)
		VBROADCASTSD(Mem{Base: sgx}, gx)
	}, func(j reg.Register) {
		xh, d := YMM(), YMM()
		VCVTPS2PD(Mem{Base: x, Index: j, Scale: 4}, xh)
		VSUBPD(m, xh, xh)
		VMULPD(rs, xh, xh)
		VMULPD(gx, xh, xh)
		VMULPD(inv, xh, xh)
		VCVTPS2PD(Mem{Base: dy, Index: j, Scale: 4}, d)
		VMULPD(Mem{Base: gamma, Index: j, Scale: 8}, d, d)
		VSUBPD(sgInv, d, d)
		VSUBPD(xh, d, d)
		VMULPD(rs, d, d)
		VCVTPD2PSY(d, d.AsX())
		VMOVUPS(d.AsX(), Mem{Base: dx, Index: j, Scale: 4})
	})
	VZEROUPPER()
	RET()
}

// expSlot indexes expConsts, 32 bytes a slot: each constant of math.Exp's amd64 FMA
// path (math/exp_amd64.s) in every lane, and the masks and bounds that pick out the
// values the path does not take.
const (
	expAbsMask = iota
	expMaxFinite
	expOverflow
	expLog2E
	expLn2U
	expLn2L
	expSixteenth
	expC64 // the Taylor coefficients, highest first, at their offsets in exprodata
	expC56
	expC48
	expC40
	expC32
	expC24
	expHalf
	expOne
	expTwo
	expBias   // dwords: the exponent bias 0x3FF
	expMaxExp // dwords: the largest biased exponent of a finite value, 0x7FE
)

// f64 is a float64 constant as its bits.
func f64(v float64) U64 { return U64(math.Float64bits(v)) }

// expKernel is math.Exp (as it runs on amd64 with FMA) four values at a time: the
// same operations in the same order on each lane, so that every result is its bits.
func expKernel() {
	consts := lanes64("expConsts", []Constant{
		expAbsMask:   U64(1<<63 - 1),
		expMaxFinite: U64(0x7FEFFFFFFFFFFFFF),
		expOverflow:  f64(7.09782712893384e+02),
		expLog2E:     f64(1.4426950408889634073599246810018920),
		expLn2U:      f64(0.69314718055966295651160180568695068359375),
		expLn2L:      f64(0.28235290563031577122588448175013436025525412068e-12),
		expSixteenth: f64(0.0625),
		expC64:       f64(2.4801587301587301587e-5),
		expC56:       f64(1.9841269841269841270e-4),
		expC48:       f64(1.3888888888888888889e-3),
		expC40:       f64(8.3333333333333333333e-3),
		expC32:       f64(4.1666666666666666667e-2),
		expC24:       f64(1.6666666666666666667e-1),
		expHalf:      f64(0.5),
		expOne:       f64(1.0),
		expTwo:       f64(2.0),
	}...)
	at := func(slot int) Mem { return consts.Offset(32 * slot) }
	for i := range 8 {
		DATA(32*expBias+4*i, U32(0x3FF))
	}
	for i := range 8 {
		DATA(32*expMaxExp+4*i, U32(0x7FE))
	}

	TEXT("expAVX2", NOSPLIT, "func(x *float64, blocks int) int")
	Doc("expAVX2 replaces blocks*4 values of x by math.Exp's, as math.Exp computes them",
		"on a CPU with FMA, four at a time. It stops before the first four with a value",
		"math.Exp does not take through its main path (not finite, above its overflow",
		"bound, or with a result whose exponent is not that of a normal float64) and",
		"returns the blocks done.")
	x := Load(Param("x"), GP64())
	blocks := Load(Param("blocks"), GP64())
	done := GP64()
	XORQ(done, done)
	Label("block")
	CMPQ(done, blocks)
	JEQ(LabelRef("end"))
	v := YMM()
	VMOVUPD(Mem{Base: x}, v)

	// k = int32(round(x*log2(e))) and its biased exponent k+0x3FF.
	t, kf := YMM(), YMM()
	k, kb := XMM(), XMM()
	VMULPD(at(expLog2E), v, t)
	VCVTPD2DQY(t, k)
	VCVTDQ2PD(k, kf)
	VPADDD(at(expBias), k, kb)

	// The lanes math.Exp sends elsewhere: |x| not finite, x > the overflow bound
	// (ordered), a biased exponent outside [1, 0x7FE].
	a, big := YMM(), YMM()
	VANDPD(at(expAbsMask), v, a)
	VPCMPGTQ(at(expMaxFinite), a, a)
	VCMPPD(U8(0x1E), at(expOverflow), v, big) // greater than, ordered, quiet
	VORPD(big, a, a)
	high, positive, zero := XMM(), XMM(), XMM()
	VPCMPGTD(at(expMaxExp), kb, high)
	VPXOR(zero, zero, zero)
	VPCMPGTD(zero, kb, positive)
	special, m := GP32(), GP32()
	VMOVMSKPD(a, special)
	VMOVMSKPS(high, m)
	ORL(m, special)
	VMOVMSKPS(positive, m)
	XORL(U8(0xF), m)
	ORL(m, special)
	JNE(LabelRef("end"))

	// r = (x - k*ln2u - k*ln2l)/16, then the Taylor series of e^r - 1 and four
	// squarings (e^(16r) = ((((e^r)^2)^2)^2)^2, each as y = y*(y+2) on y = e^r - 1),
	// exactly as math.Exp's FMA path.
	VFNMADD231PD(at(expLn2U), kf, v)
	VFNMADD231PD(at(expLn2L), kf, v)
	VMULPD(at(expSixteenth), v, v)
	p := YMM()
	VMOVUPD(at(expC64), p)
	for _, c := range []int{expC56, expC48, expC40, expC32, expC24, expHalf, expOne} {
		VFMADD213PD(at(c), v, p)
	}
	VMULPD(p, v, v)
	for range 3 {
		VADDPD(at(expTwo), v, p)
		VMULPD(p, v, v)
	}
	VADDPD(at(expTwo), v, p)
	VFMADD213PD(at(expOne), p, v)

	// Times 2^k: the biased exponent moved into a float64's exponent field.
	scale := YMM()
	VPMOVSXDQ(kb, scale)
	VPSLLQ(U8(52), scale, scale)
	VMULPD(scale, v, v)
	VMOVUPD(v, Mem{Base: x})
	ADDQ(U8(32), x)
	INCQ(done)
	JMP(LabelRef("block"))

	Label("end")
	Store(done, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// The per-channel sums below take eight channels of float32 rows, in two registers of
// four float64 lanes, each channel's lane adding its values in row order.

// load8 loads eight float64 values at p into two registers.
func load8(p reg.Register) [2]reg.VecVirtual {
	r := [2]reg.VecVirtual{YMM(), YMM()}
	VMOVUPD(Mem{Base: p}, r[0])
	VMOVUPD(Mem{Base: p}.Offset(32), r[1])
	return r
}

// store8 stores two registers of four float64 values at p.
func store8(r [2]reg.VecVirtual, p reg.Register) {
	VMOVUPD(r[0], Mem{Base: p})
	VMOVUPD(r[1], Mem{Base: p}.Offset(32))
}

// widen8 converts eight float32 values at p into two registers of float64.
func widen8(p reg.Register) [2]reg.VecVirtual {
	r := [2]reg.VecVirtual{YMM(), YMM()}
	VCVTPS2PD(Mem{Base: p}, r[0])
	VCVTPS2PD(Mem{Base: p}.Offset(16), r[1])
	return r
}

func bnSum8() {
	TEXT("bnSum8AVX2", NOSPLIT, "func(x *float32, rows, c int, sum *float64)")
	Doc("bnSum8AVX2 adds float64(x[r*c+j]) to sum[j] for eight channels j and rows rows in",
		"row order.")
	x := Load(Param("x"), GP64())
	rows := Load(Param("rows"), GP64())
	stride := Load(Param("c"), GP64())
	sum := Load(Param("sum"), GP64())
	SHLQ(U8(2), stride)
	s := load8(sum)
	TESTQ(rows, rows)
	JEQ(LabelRef("done"))
	Label("row")
	v := widen8(x)
	for h := range 2 {
		VADDPD(v[h], s[h], s[h])
	}
	ADDQ(stride, x)
	DECQ(rows)
	JNE(LabelRef("row"))
	Label("done")
	store8(s, sum)
	VZEROUPPER()
	RET()
}

func bnSumSq8() {
	TEXT("bnSumSq8AVX2", NOSPLIT, "func(x *float32, rows, c int, mean, sum *float64)")
	Doc("bnSumSq8AVX2 adds d*d, d = float64(x[r*c+j])-mean[j], to sum[j] for eight channels j",
		"and rows rows in row order.")
	x := Load(Param("x"), GP64())
	rows := Load(Param("rows"), GP64())
	stride := Load(Param("c"), GP64())
	meanp := Load(Param("mean"), GP64())
	sum := Load(Param("sum"), GP64())
	SHLQ(U8(2), stride)
	s := load8(sum)
	m := load8(meanp)
	TESTQ(rows, rows)
	JEQ(LabelRef("done"))
	Label("row")
	v := widen8(x)
	for h := range 2 {
		VSUBPD(m[h], v[h], v[h])
		VMULPD(v[h], v[h], v[h])
		VADDPD(v[h], s[h], s[h])
	}
	ADDQ(stride, x)
	DECQ(rows)
	JNE(LabelRef("row"))
	Label("done")
	store8(s, sum)
	VZEROUPPER()
	RET()
}

// gradSums8 emits name, which adds normalisation's gradient sums over float32 rows
// to eight channels' sums, in row order: mean and rstd per channel (batch
// normalisation) or, perRow, per row, broadcast at each row (layer normalisation).
func gradSums8(name string, perRow bool, doc ...string) {
	TEXT(name, NOSPLIT, "func(x, dy *float32, rows, c int, mean, rstd, sdy, sdx *float64)")
	Doc(doc...)
	x := Load(Param("x"), GP64())
	dy := Load(Param("dy"), GP64())
	rows := Load(Param("rows"), GP64())
	stride := Load(Param("c"), GP64())
	meanp := Load(Param("mean"), GP64())
	rstdp := Load(Param("rstd"), GP64())
	sdyp := Load(Param("sdy"), GP64())
	sdxp := Load(Param("sdx"), GP64())
	SHLQ(U8(2), stride)
	a, b := load8(sdyp), load8(sdxp)
	var m, s [2]reg.VecVirtual
	if !perRow {
		m, s = load8(meanp), load8(rstdp)
	}
	TESTQ(rows, rows)
	JEQ(LabelRef("done"))
	Label("row")
	if perRow {
		mb, sb := YMM(), YMM()
		VBROADCASTSD(Mem{Base: meanp}, mb)
		VBROADCASTSD(Mem{Base: rstdp}, sb)
		m, s = [2]reg.VecVirtual{mb, mb}, [2]reg.VecVirtual{sb, sb}
	}
	d := widen8(dy)
	v := widen8(x)
	for h := range 2 {
		VSUBPD(m[h], v[h], v[h])
		VMULPD(s[h], v[h], v[h])
		VMULPD(d[h], v[h], v[h])
		VADDPD(d[h], a[h], a[h])
		VADDPD(v[h], b[h], b[h])
	}
	ADDQ(stride, x)
	ADDQ(stride, dy)
	if perRow {
		ADDQ(U8(8), meanp)
		ADDQ(U8(8), rstdp)
	}
	DECQ(rows)
	JNE(LabelRef("row"))
	Label("done")
	store8(a, sdyp)
	store8(b, sdxp)
	VZEROUPPER()
	RET()
}

// quant32 is QAT's fake quantisation of float32 values, 8 a step in two registers of
// float64 lanes. The clamped values less qlo are never negative (at most -0), which
// spares roundQuotient's signs: the integer part is the floor and the part above it is
// f itself.
func quant32() {
	consts := lanes64("quantConsts", U64(1<<63-1), f64(0.5), f64(1))
	abs, half, one := consts, consts.Offset(32), consts.Offset(64)

	TEXT("quant32AVX2", NOSPLIT, "func(x, out *float32, n int, qlo, qhi, s, inv, margin float64) (done int)")
	Doc("quant32AVX2 writes out = float32(Round((min(max(float64(x), qlo), qhi)-qlo)/s)*s + qlo)",
		"for the values of x, eight at a time, up to the last whole eight of the n values or",
		"the first eight holding a NaN, and returns how many it wrote. Its min and max are",
		"the vector instructions', which differ from Go's only on NaNs, left to the caller,",
		"and on zeros of opposite signs: there the clamped value is a zero of either sign,",
		"but with qlo <= 0 <= qhi either gives the same result (see FakeQuant). The",
		"quotient q is taken as the product by inv = 1/s, off by at most 1.5*2^-52*q, and",
		"as the quotient for the eights with a lane whose product lies within margin of a",
		"half-integer (or is not a number): margin must be at least 2^-50 times every q,",
		"which (qhi-qlo)*inv*2^-50 is.")
	x := Load(Param("x"), GP64())
	out := Load(Param("out"), GP64())
	n := Load(Param("n"), GP64())
	qlo, qhi, s, inv, margin := YMM(), YMM(), YMM(), YMM(), YMM()
	VBROADCASTSD(param("qlo"), qlo)
	VBROADCASTSD(param("qhi"), qhi)
	VBROADCASTSD(param("s"), s)
	VBROADCASTSD(param("inv"), inv)
	VBROADCASTSD(param("margin"), margin)
	eightsNoNaN(x, n, func(i, mask reg.GPVirtual, _ reg.VecVirtual) {
		quant32Body(x, out, i, mask, qlo, qhi, s, inv, margin, abs, half, one)
	})
}

// quant32Body is quant32's step on the eight values at index i.
func quant32Body(x, out reg.Register, i, mask reg.GPVirtual, qlo, qhi, s, inv, margin reg.VecVirtual, abs, half, one Mem) {
	// clamped leaves the four clamped values of half h, less qlo, in v.
	clamped := func(h int, v reg.VecVirtual) {
		VCVTPS2PD(Mem{Base: x, Index: i, Scale: 4, Disp: 16 * h}, v)
		VMAXPD(qlo, v, v)
		VMINPD(qhi, v, v)
		VSUBPD(qlo, v, v)
	}
	var q, t, f [2]reg.VecVirtual
	parts := func(h int) {
		VROUNDPD(U8(1), q[h], t[h]) // floor
		VSUBPD(t[h], q[h], f[h])
	}
	for h := range 2 {
		q[h], t[h], f[h] = YMM(), YMM(), YMM()
		clamped(h, q[h])
		VMULPD(inv, q[h], q[h])
		parts(h)
	}
	var far [2]reg.VecVirtual
	for h := range 2 {
		far[h] = YMM()
		VSUBPD(half, f[h], far[h])
		VANDPD(abs, far[h], far[h])
		VCMPPD(U8(0x1e), margin, far[h], far[h]) // greater, ordered: false for NaNs
	}
	VANDPD(far[1], far[0], far[0])
	VMOVMSKPD(far[0], mask.As32())
	CMPL(mask.As32(), U8(0xF))
	JEQ(LabelRef("rounded"))
	for h := range 2 {
		clamped(h, f[h])
		VDIVPD(s, f[h], q[h])
		parts(h)
	}
	Label("rounded")
	for h := range 2 {
		up := YMM()
		VCMPPD(U8(0x1d), half, f[h], up) // >= 0.5, ordered
		VANDPD(one, up, up)
		VADDPD(up, t[h], t[h])
		VMULPD(s, t[h], t[h])
		VADDPD(qlo, t[h], t[h])
		VCVTPD2PSY(t[h], t[h].AsX())
		VMOVUPS(t[h].AsX(), Mem{Base: out, Index: i, Scale: 4, Disp: 16 * h})
	}
}

// eightsNoNaN emits the quantisation kernels' loop over the float32 values of x, eight
// a step: it stops before the last whole eight of the n values ends or before an eight
// holding a NaN, and returns the count done as the result "done". body gets the
// index, a free register for masks and the eight values; it may jump to "done".
func eightsNoNaN(x, n reg.Register, body func(i, mask reg.GPVirtual, v reg.VecVirtual)) {
	i, end, mask := GP64(), GP64(), GP64()
	XORQ(i, i)
	Label("loop")
	LEAQ(Mem{Base: i}.Offset(8), end)
	CMPQ(end, n)
	JGT(LabelRef("done"))
	v, nan := YMM(), YMM()
	VMOVUPS(Mem{Base: x, Index: i, Scale: 4}, v)
	VCMPPS(U8(3), v, v, nan) // unordered: NaN
	VMOVMSKPS(nan, mask.As32())
	TESTL(mask.As32(), mask.As32())
	JNE(LabelRef("done"))
	body(i, mask, v)
	ADDQ(U8(8), i)
	JMP(LabelRef("loop"))
	Label("done")
	Store(i, Return("done"))
	VZEROUPPER()
	RET()
}

// quantEst32 is QAT's fake quantisation of float32 values, 8 a step, with the level
// estimated in float32 (see quantEst32AVX2's documentation) and the output computed
// from it in float64 as the definition does.
func quantEst32() {
	abs := table("absF32", 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff)
	TEXT("quantEst32AVX2", NOSPLIT, "func(x, out *float32, n int, lo, hi, qlo32, inv32, near float32, qlo, s float64) (done int)")
	Doc("quantEst32AVX2 writes out = float32(k*s + qlo) for the values of x, eight at a",
		"time, with k = round(q) and q = (min(max(x, lo), hi) - qlo32) * inv32 in",
		"float32, up to the last whole eight of the n values, the first eight",
		"holding a NaN, or the first eight with a q whose distance from the nearest integer",
		"is not below near, and returns how many it wrote. FakeQuant chooses the",
		"parameters so that k is then its level, Round((c-qlo)/s).")
	x := Load(Param("x"), GP64())
	out := Load(Param("out"), GP64())
	n := Load(Param("n"), GP64())
	lo, hi, qlo32, inv32, near := YMM(), YMM(), YMM(), YMM(), YMM()
	VBROADCASTSS(param("lo"), lo)
	VBROADCASTSS(param("hi"), hi)
	VBROADCASTSS(param("qlo32"), qlo32)
	VBROADCASTSS(param("inv32"), inv32)
	VBROADCASTSS(param("near"), near)
	qlo, s := YMM(), YMM()
	VBROADCASTSD(param("qlo"), qlo)
	VBROADCASTSD(param("s"), s)
	eightsNoNaN(x, n, func(i, mask reg.GPVirtual, q reg.VecVirtual) {
		quantEst32Body(out, i, mask, q, lo, hi, qlo32, inv32, near, qlo, s, abs)
	})
}

// quantEst32Body is quantEst32's step on the eight values q at index i.
func quantEst32Body(out reg.Register, i, mask reg.GPVirtual, q, lo, hi, qlo32, inv32, near, qlo, s reg.VecVirtual, abs Mem) {
	r, d := YMM(), YMM()
	VMAXPS(lo, q, q)
	VMINPS(hi, q, q)
	VSUBPS(qlo32, q, q)
	VMULPS(inv32, q, q)
	VROUNDPS(U8(0), q, r) // nearest
	VSUBPS(r, q, d)
	VANDPS(abs, d, d)
	VCMPPS(U8(0x11), near, d, d) // below near, ordered
	VMOVMSKPS(d, mask.As32())
	CMPL(mask.As32(), U32(0xFF))
	JNE(LabelRef("done"))
	k := YMM()
	VCVTPS2DQ(r, k)
	for h := range 2 {
		t := YMM()
		if h == 0 {
			VCVTDQ2PD(k.AsX(), t)
		} else {
			kx := XMM()
			VEXTRACTI128(U8(1), k, kx)
			VCVTDQ2PD(kx, t)
		}
		VMULPD(s, t, t)
		VADDPD(qlo, t, t)
		VCVTPD2PSY(t, t.AsX())
		VMOVUPS(t.AsX(), Mem{Base: out, Index: i, Scale: 4, Disp: 16 * h})
	}
}

// quantSym32 is QAT's symmetric weight quantisation of float32 values, four a step.
func quantSym32() {
	TEXT("quantSym32AVX2", NOSPLIT, "func(x *float32, out *float64, blocks int, s, inv float64)")
	Doc("quantSym32AVX2 writes out = Round(float64(x)/s)*s for blocks*4 values of x, which",
		"must be finite, the quotient rounded as roundQuotient does, inv = 1/s.")
	x := Load(Param("x"), GP64())
	out := Load(Param("out"), GP64())
	blocks := Load(Param("blocks"), GP64())
	rq := newRounder()
	scratch := GP32()
	loop(blocks, func() {
		v := YMM()
		VCVTPS2PD(Mem{Base: x}, v)
		t := rq.round(v, scratch)
		VMULPD(rq.s, t, t)
		VMOVUPD(t, Mem{Base: out})
	}, move{U8(16), x}, move{U8(32), out})
	VZEROUPPER()
	RET()
}

// rounder holds the registers of roundQuotient's constants.
type rounder struct {
	s, inv, sign, abs, half, one, tiny reg.VecVirtual
}

// newRounder loads the parameters s and inv and the constants roundQuotient uses.
func newRounder() *rounder {
	r := &rounder{s: YMM(), inv: YMM(), abs: YMM()}
	VBROADCASTSD(param("s"), r.s)
	VBROADCASTSD(param("inv"), r.inv)
	r.sign = broadcastU64(1 << 63)
	VPCMPEQQ(r.abs, r.abs, r.abs)
	VPSRLQ(U8(1), r.abs, r.abs)
	r.half = broadcastU64(0x3fe0000000000000) // 0.5
	r.one = broadcastU64(0x3ff0000000000000)  // 1
	r.tiny = broadcastU64(0x3cd0000000000000) // 2^-50
	return r
}

// round returns a new register holding Round(v/s) lane by lane (Go's math.Round:
// halves away from zero), with scratch a free 32-bit register. The quotient is taken
// as the product q = v*inv, which differs from it by at most 1.5*2^-52*|q|, and as
// the quotient for the fours with a lane whose product lies within 2^-50*|q| of a
// half-integer (or is not a number): elsewhere the quotient lies on the same side of
// every half-integer, and the two round alike. Each use needs its label "rounded"
// once in its function.
func (r *rounder) round(v reg.VecVirtual, scratch reg.Register) reg.VecVirtual {
	// q's integer part t and the distance f of q from it.
	q, t, f := YMM(), YMM(), YMM()
	parts := func() {
		VROUNDPD(U8(3), q, t)
		VSUBPD(t, q, f)
		VANDPD(r.abs, f, f)
	}
	VMULPD(r.inv, v, q)
	parts()
	far, margin := YMM(), YMM()
	VSUBPD(r.half, f, far)
	VANDPD(r.abs, far, far)
	VANDPD(r.abs, q, margin)
	VMULPD(r.tiny, margin, margin)
	VCMPPD(U8(0x1e), margin, far, far) // greater, ordered: false for NaNs
	VMOVMSKPD(far, scratch)
	CMPL(scratch, U8(0xF))
	JEQ(LabelRef("rounded"))
	VDIVPD(r.s, v, q)
	parts()
	Label("rounded")
	// t + (q's sign | 1 if |q-t| >= 0.5, else 0).
	ge, a := YMM(), YMM()
	VCMPPD(U8(0x1d), r.half, f, ge) // >= 0.5, ordered
	VANDPD(r.sign, q, a)
	VANDPD(r.one, ge, ge)
	VORPD(ge, a, a)
	VADDPD(a, t, t)
	return t
}

// clipMask32 is QAT's straight-through mask on float32 values, 8 a step, against
// float32 bounds.
func clipMask32() {
	TEXT("clipMask32AVX2", NOSPLIT, "func(x, dx *float32, blocks int, lo, hi float32)")
	Doc("clipMask32AVX2 writes +0 to dx where x < lo or x > hi (ordered compares: false",
		"for NaNs), for blocks*8 float32 values.")
	x := Load(Param("x"), GP64())
	dx := Load(Param("dx"), GP64())
	blocks := Load(Param("blocks"), GP64())
	lo, hi := YMM(), YMM()
	VBROADCASTSS(param("lo"), lo)
	VBROADCASTSS(param("hi"), hi)
	loop(blocks, func() {
		v, below, above := YMM(), YMM(), YMM()
		VMOVUPS(Mem{Base: x}, v)
		VCMPPS(U8(0x11), lo, v, below) // < lo, ordered
		VCMPPS(U8(0x1e), hi, v, above) // > hi, ordered
		VORPS(above, below, below)
		VANDNPS(Mem{Base: dx}, below, below)
		VMOVUPS(below, Mem{Base: dx})
	}, move{U8(32), x}, move{U8(32), dx})
	VZEROUPPER()
	RET()
}

// keyRange32 finds the smallest and largest order keys of float32 values (the bits as
// an int32, a negative value's magnitude bits inverted), eight lanes at a time.
func keyRange32() {
	TEXT("keyRange32AVX2", NOSPLIT, "func(x *float32, blocks int, lanes *[16]int32)")
	Doc("keyRange32AVX2 leaves in lanes[0:8] the smallest and in lanes[8:16] the largest",
		"order keys, k = b ^ ((b >> 31) & 0x7fffffff) of the bits b of each value, of",
		"blocks*8 float32 values, lane by lane.")
	x := Load(Param("x"), GP64())
	blocks := Load(Param("blocks"), GP64())
	lanes := Load(Param("lanes"), GP64())
	magnitude, lo, hi := YMM(), YMM(), YMM()
	VPCMPEQD(magnitude, magnitude, magnitude)
	VPSRLD(U8(1), magnitude, magnitude) // 0x7fffffff: also the largest key
	VMOVDQU(magnitude, lo)
	VPCMPEQD(hi, hi, hi)
	VPXOR(magnitude, hi, hi) // 0x80000000: the smallest key
	loop(blocks, func() {
		v, sign := YMM(), YMM()
		VMOVDQU(Mem{Base: x}, v)
		VPSRAD(U8(31), v, sign)
		VPAND(magnitude, sign, sign)
		VPXOR(sign, v, v)
		VPMINSD(v, lo, lo)
		VPMAXSD(v, hi, hi)
	}, move{U8(32), x})
	VMOVDQU(lo, Mem{Base: lanes})
	VMOVDQU(hi, Mem{Base: lanes}.Offset(32))
	VZEROUPPER()
	RET()
}

// channelRows emits a kernel's loops over rows rows of c channels, four a step (c a
// multiple of 4, none when rows is 0): perRow (when not nil) at the start of each
// row, step at each step with j the step's first channel; after each row, every
// pointer of rowPtrs (to float32 rows) moves on by a row, and every pointer of
// perRowPtrs (to one float64 per row) by one value.
func channelRows(rows, c reg.Register, rowPtrs, perRowPtrs []reg.Register, perRow func(), step func(j reg.Register)) {
	TESTQ(rows, rows)
	JEQ(LabelRef("done"))
	Label("row")
	if perRow != nil {
		perRow()
	}
	j := GP64()
	XORQ(j, j)
	Label("step")
	step(j)
	ADDQ(U8(4), j)
	CMPQ(j, c)
	JLT(LabelRef("step"))
	for _, p := range rowPtrs {
		LEAQ(Mem{Base: p, Index: c, Scale: 4}, p)
	}
	for _, p := range perRowPtrs {
		ADDQ(U8(8), p)
	}
	DECQ(rows)
	JNE(LabelRef("row"))
	Label("done")
}

// move is a pointer a kernel's loop moves on by after each block.
type move struct {
	by Op
	p  reg.Register
}

// loop emits a kernel's loop over n blocks, none when n is 0: body, then each pointer
// moved on, for every block; the code after it runs once the blocks are done.
func loop(n reg.Register, body func(), moves ...move) {
	TESTQ(n, n)
	JEQ(LabelRef("done"))
	Label("loop")
	body()
	for _, m := range moves {
		ADDQ(m.by, m.p)
	}
	DECQ(n)
	JNE(LabelRef("loop"))
	Label("done")
}

// param is the address of a float64 argument, for the instructions that read it from
// memory.
func param(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// iota8 is the dwords 0 to 7.
var iota8 Mem

// maxPool2x2 emits name, 2x2 max pooling of values of elem (1<<shift bytes each) over
// count output positions, eight channels a step: load widens eight values to dwords
// (float32 bits or int32), greater sets a lane's mask where x > v, and store narrows
// and writes eight. A channel block past c reads and writes the next position's
// values, which that position then writes again; the caller keeps the last position
// and every block within its slices.
func maxPool2x2(name, elem string, shift uint8, load func(m Mem, r reg.VecVirtual), greater func(mask, x, v Op), store func(v reg.VecVirtual, m Mem)) {
	TEXT(name, NOSPLIT, "func(out *"+elem+", arg *int32, x *"+elem+", first, c, down, step, rowSkip, wo, count int)")
	Doc(name+" writes, for count output positions n of c channels ch, the largest of",
		"x[o], x[o+c], x[o+down] and x[o+down+c], o = n*step + (n/wo)*rowSkip + ch (a later",
		"tap only if greater), to out[n*c+ch], and first plus its index to arg[n*c+ch].")
	scale := uint8(1) << shift
	out := Load(Param("out"), GP64())
	arg := Load(Param("arg"), GP64())
	x0 := Load(Param("x"), GP64())
	first := Load(Param("first"), GP64())
	c := Load(Param("c"), GP64())
	count := Load(Param("count"), GP64())
	pix := Load(Param("wo"), GP64())
	down := Load(Param("down"), GP64())
	off1, off2, off3 := broadcast32(c), broadcast32(down), YMM()
	VPADDD(off1, off2, off3)
	// The taps' addresses: x1 = x0 + c, x2 = x0 + down, x3 = x2 + c values.
	x1, x2, x3, t := GP64(), GP64(), GP64(), GP64()
	LEAQ(Mem{Base: x0, Index: c, Scale: scale}, x1)
	LEAQ(Mem{Base: x0, Index: down, Scale: scale}, x2)
	LEAQ(Mem{Base: x2, Index: c, Scale: scale}, x3)
	ch := GP64()
	TESTQ(count, count)
	JEQ(LabelRef("done"))
	Label("position")
	XORQ(ch, ch)
	Label("block")
	v, a := YMM(), YMM()
	load(Mem{Base: x0, Index: ch, Scale: scale}, v)
	VPXOR(a, a, a)
	for _, tap := range []struct {
		p   reg.Register
		off reg.VecVirtual
	}{{x1, off1}, {x2, off2}, {x3, off3}} {
		xt, mask := YMM(), YMM()
		load(Mem{Base: tap.p, Index: ch, Scale: scale}, xt)
		greater(mask, xt, v)
		VPBLENDVB(mask, xt, v, v)
		VPBLENDVB(mask, tap.off, a, a)
	}
	LEAQ(Mem{Base: first, Index: ch, Scale: 1}, t)
	idx := broadcast32(t)
	VPADDD(iota8, idx, idx)
	VPADDD(a, idx, idx)
	VMOVDQU(idx, Mem{Base: arg, Index: ch, Scale: 4})
	store(v, Mem{Base: out, Index: ch, Scale: scale})
	ADDQ(U8(8), ch)
	CMPQ(ch, c)
	JLT(LabelRef("block"))
	// The next position: step values on, and rowSkip more after the row's last.
	advance := func(by string) {
		Load(Param(by), t)
		ADDQ(t, first)
		if shift != 0 {
			SHLQ(U8(shift), t)
		}
		for _, p := range []reg.Register{x0, x1, x2, x3} {
			ADDQ(t, p)
		}
	}
	advance("step")
	LEAQ(Mem{Base: out, Index: c, Scale: scale}, out)
	LEAQ(Mem{Base: arg, Index: c, Scale: 4}, arg)
	DECQ(pix)
	JNE(LabelRef("next"))
	advance("rowSkip")
	Load(Param("wo"), pix)
	Label("next")
	DECQ(count)
	JNE(LabelRef("position"))
	Label("done")
	VZEROUPPER()
	RET()
}

// mulRows scales rows of int8 values by a per-column int32, into int64, four a step.
func mulRows() {
	TEXT("mulRows64AVX2", NOSPLIT, "func(u *int64, x *int8, w *int32, rows, n int)")
	Doc("mulRows64AVX2 writes u[r*n+j] = int64(w[j]) * int64(x[r*n+j]) for rows rows, n a",
		"multiple of 4: VPMULDQ of the two widened to qwords, exact.")
	u := Load(Param("u"), GP64())
	x := Load(Param("x"), GP64())
	w := Load(Param("w"), GP64())
	rows := Load(Param("rows"), GP64())
	n := Load(Param("n"), GP64())
	SHRQ(U8(2), n) // steps of four a row
	TESTQ(rows, rows)
	JEQ(LabelRef("done"))
	TESTQ(n, n)
	JEQ(LabelRef("done"))
	Label("row")
	j, k := GP64(), GP64()
	XORQ(j, j)
	MOVQ(n, k)
	Label("step")
	a, b := YMM(), YMM()
	VPMOVSXBQ(Mem{Base: x}, a)
	VPMOVSXDQ(Mem{Base: w, Index: j, Scale: 1}, b)
	VPMULDQ(b, a, a)
	VMOVDQU(a, Mem{Base: u})
	ADDQ(U8(4), x)
	ADDQ(U8(16), j)
	ADDQ(U8(32), u)
	DECQ(k)
	JNE(LabelRef("step"))
	DECQ(rows)
	JNE(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// updateInt is numerics.UpdateInt's stochastic update, four weights a step in qword
// lanes: RandAt's SplitMix64 (64-bit products from three VPMULUDQ), the gradient
// times -mant (VPMULDQ: both fit in 32 bits), the random low bits added and an
// arithmetic right shift (a logical one between complements by the sign), the sum
// with the weight saturated to ±lim and narrowed to int32.
func updateInt() {
	TEXT("updateIntAVX2", NOSPLIT, "func(w, grad *int32, blocks int, consts *[6][4]uint64, shift uint64) int")
	Doc("updateIntAVX2 updates blocks*4 weights w[j] += StochasticShift(-mant*grad[j], shift,",
		"RandAt(key, first+j)), saturated to ±lim, and returns how many saturated. consts holds,",
		"four lanes each: RandAt's arguments for j = 0..3, 4γ, the mask 2^shift-1, -mant,",
		"lim and -lim; 0 < shift <= 62 and |mant| < 2^31.")
	c1 := table("mix1", 0x1ce4e5b9, 0xbf58476d, 0x1ce4e5b9, 0xbf58476d, 0x1ce4e5b9, 0xbf58476d, 0x1ce4e5b9, 0xbf58476d)
	c1hi := table("mix1hi", 0xbf58476d, 0, 0xbf58476d, 0, 0xbf58476d, 0, 0xbf58476d, 0)
	c2 := table("mix2", 0x133111eb, 0x94d049bb, 0x133111eb, 0x94d049bb, 0x133111eb, 0x94d049bb, 0x133111eb, 0x94d049bb)
	c2hi := table("mix2hi", 0x94d049bb, 0, 0x94d049bb, 0, 0x94d049bb, 0, 0x94d049bb, 0)
	w := Load(Param("w"), GP64())
	grad := Load(Param("grad"), GP64())
	blocks := Load(Param("blocks"), GP64())
	k := Load(Param("consts"), GP64())
	at := func(i int) Mem { return Mem{Base: k, Disp: 32 * i} }
	shift := Load(Param("shift"), GP64())
	count := XMM()
	VMOVQ(shift, count)
	z, zero := YMM(), YMM()
	VMOVDQU(at(0), z)
	VPXOR(zero, zero, zero)
	saturated, bits := GP64(), GP64()
	XORQ(saturated, saturated)
	narrow := YMM()
	VMOVDQU(low32, narrow)
	// mul sets t to t*c mod 2^64 in every lane: lo*lo + (hi*lo + lo*hi) << 32.
	mul := func(t reg.VecVirtual, c, chi Mem) {
		lo, hi, cross := YMM(), YMM(), YMM()
		VPMULUDQ(c, t, lo)
		VPSRLQ(U8(32), t, hi)
		VPMULUDQ(c, hi, hi)
		VPMULUDQ(chi, t, cross)
		VPADDQ(cross, hi, hi)
		VPSLLQ(U8(32), hi, hi)
		VPADDQ(hi, lo, t)
	}
	xorShift := func(t reg.VecVirtual, by uint8) {
		u := YMM()
		VPSRLQ(U8(by), t, u)
		VPXOR(u, t, t)
	}
	loop(blocks, func() {
		r := YMM()
		VMOVDQA(z, r)
		xorShift(r, 30)
		mul(r, c1, c1hi)
		xorShift(r, 27)
		mul(r, c2, c2hi)
		xorShift(r, 31)
		VPADDQ(at(1), z, z)
		g, t, sign := YMM(), YMM(), YMM()
		VPMOVSXDQ(Mem{Base: grad}, g)
		VPMULDQ(at(3), g, g) // -mant * g
		VPAND(at(2), r, t)
		VPADDQ(g, t, t)
		VPCMPGTQ(t, zero, sign) // t < 0
		VPXOR(sign, t, t)
		VPSRLQ(count, t, t)
		VPXOR(sign, t, t) // floor(t / 2^shift)
		v, lim, nlim, over, under := YMM(), YMM(), YMM(), YMM(), YMM()
		VPMOVSXDQ(Mem{Base: w}, v)
		VPADDQ(t, v, v)
		VMOVDQU(at(4), lim)
		VMOVDQU(at(5), nlim)
		VPCMPGTQ(lim, v, over)   // v > lim
		VPCMPGTQ(v, nlim, under) // v < -lim
		VPBLENDVB(over, lim, v, v)
		VPBLENDVB(under, nlim, v, v)
		VPOR(under, over, over)
		VMOVMSKPD(over, bits.As32())
		POPCNTQ(bits, bits)
		ADDQ(bits, saturated)
		VPERMD(v, narrow, v)
		VMOVDQU(v.AsX(), Mem{Base: w})
	}, move{U32(16), w}, move{U32(16), grad})
	Store(saturated, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// mulLanes returns x*a mod 2^64 in every qword lane, given a's low dwords in lo and
// its high dwords in hi (as their lanes' low dwords): lo*lo + (hi*lo + lo*hi) << 32,
// from three VPMULUDQ, right for any signed or unsigned values.
func mulLanes(x, lo, hi Op) reg.VecVirtual {
	p, xh, cross := YMM(), YMM(), YMM()
	VPMULUDQ(lo, x, p)
	VPSRLQ(U8(32), x, xh)
	VPMULUDQ(lo, xh, xh)
	VPMULUDQ(hi, x, cross)
	VPADDQ(cross, xh, xh)
	VPSLLQ(U8(32), xh, xh)
	VPADDQ(xh, p, p)
	return p
}

// rowAffine emits numerics.RowAffine with coefficients per row, four values a step in
// qword lanes, products wrapping as Go's int64 do (mulLanes): of int8 values (one
// term) or of int64 values plus int8 values times b (two).
func rowAffine(name string, two bool) {
	sig := "func(u *int8, rows, rowLen int, a, c *int64, acc *int64)"
	if two {
		sig = "func(u *int64, v *int8, rows, rowLen int, a, b, c *int64, acc *int64)"
	}
	TEXT(name, NOSPLIT, sig)
	if two {
		Doc(name+" writes acc[r*rowLen+j] = a[r]*u[r*rowLen+j] + b[r]*v[r*rowLen+j] + c[r]",
			"(int64, wrapping) for rows rows, rowLen a multiple of 4.")
	} else {
		Doc(name+" writes acc[r*rowLen+j] = a[r]*u[r*rowLen+j] + c[r] (int64, wrapping) for",
			"rows rows, rowLen a multiple of 4.")
	}
	u, v, b, rows, rowLen, a, c, acc := affineParams(two, "rowLen")
	TESTQ(rowLen, rowLen)
	JEQ(LabelRef("done"))
	Label("row")
	// The row's coefficients in every lane; a high dword beside each low one.
	coef := func(p reg.Register) (lo, hi reg.VecVirtual) {
		lo, hi = YMM(), YMM()
		VPBROADCASTQ(Mem{Base: p}, lo)
		VPSRLQ(U8(32), lo, hi)
		ADDQ(U8(8), p)
		return lo, hi
	}
	alo, ahi := coef(a)
	var blo, bhi reg.VecVirtual
	if two {
		blo, bhi = coef(b)
	}
	cv := YMM()
	VPBROADCASTQ(Mem{Base: c}, cv)
	ADDQ(U8(8), c)
	k := GP64()
	MOVQ(rowLen, k)
	Label("step")
	x := YMM()
	if two {
		VMOVDQU(Mem{Base: u}, x)
		ADDQ(U8(32), u)
	} else {
		VPMOVSXBQ(Mem{Base: u}, x)
		ADDQ(U8(4), u)
	}
	p := mulLanes(x, alo, ahi)
	if two {
		y := YMM()
		VPMOVSXBQ(Mem{Base: v}, y)
		ADDQ(U8(4), v)
		VPADDQ(mulLanes(y, blo, bhi), p, p)
	}
	VPADDQ(cv, p, p)
	VMOVDQU(p, Mem{Base: acc})
	ADDQ(U8(32), acc)
	DECQ(k)
	JNE(LabelRef("step"))
	DECQ(rows)
	JNE(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}
