//go:build amd64 && !purego

#include "textflag.h"

// Each kernel runs over n float32 values, rows of c channels (c a multiple of 4),
// four channels at a time in float64 lanes. Every lane does the scalar code's
// operations in its order and rounding (no fused multiply-add), so the results are
// the same bit for bit.

// func bnNormalizeAVX2(x, out *float32, n, c int, mean, rstd, gamma, beta *float64)
// out = gamma*((x-mean)*rstd) + beta.
TEXT ·bnNormalizeAVX2(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ out+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ c+24(FP), DX
	MOVQ mean+32(FP), R8
	MOVQ rstd+40(FP), R9
	MOVQ gamma+48(FP), R10
	MOVQ beta+56(FP), R11
	TESTQ CX, CX
	JLE normDone

normRow:
	XORQ AX, AX

normCol:
	VCVTPS2PD (SI)(AX*4), Y0
	VSUBPD (R8)(AX*8), Y0, Y0
	VMULPD (R9)(AX*8), Y0, Y0
	VMULPD (R10)(AX*8), Y0, Y0
	VADDPD (R11)(AX*8), Y0, Y0
	VCVTPD2PSY Y0, X0
	VMOVUPS X0, (DI)(AX*4)
	ADDQ $4, AX
	CMPQ AX, DX
	JLT normCol
	LEAQ (SI)(DX*4), SI
	LEAQ (DI)(DX*4), DI
	SUBQ DX, CX
	JGT normRow

normDone:
	VZEROUPPER
	RET

// func bnInputErrorAVX2(x, dy, dx *float32, n, c int, mean, rstd, gr, sdyInv, sdx *float64, inv float64)
// dx = gr*((dy-sdyInv) - ((x-mean)*rstd*sdx)*inv).
TEXT ·bnInputErrorAVX2(SB), NOSPLIT, $0-88
	MOVQ x+0(FP), SI
	MOVQ dy+8(FP), BX
	MOVQ dx+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), DX
	MOVQ mean+40(FP), R8
	MOVQ rstd+48(FP), R9
	MOVQ gr+56(FP), R10
	MOVQ sdyInv+64(FP), R11
	MOVQ sdx+72(FP), R12
	VBROADCASTSD inv+80(FP), Y2
	TESTQ CX, CX
	JLE errDone

errRow:
	XORQ AX, AX

errCol:
	VCVTPS2PD (SI)(AX*4), Y0
	VSUBPD (R8)(AX*8), Y0, Y0
	VMULPD (R9)(AX*8), Y0, Y0
	VMULPD (R12)(AX*8), Y0, Y0
	VMULPD Y2, Y0, Y0
	VCVTPS2PD (BX)(AX*4), Y1
	VSUBPD (R11)(AX*8), Y1, Y1
	VSUBPD Y0, Y1, Y1
	VMULPD (R10)(AX*8), Y1, Y1
	VCVTPD2PSY Y1, X1
	VMOVUPS X1, (DI)(AX*4)
	ADDQ $4, AX
	CMPQ AX, DX
	JLT errCol
	LEAQ (SI)(DX*4), SI
	LEAQ (BX)(DX*4), BX
	LEAQ (DI)(DX*4), DI
	SUBQ DX, CX
	JGT errRow

errDone:
	VZEROUPPER
	RET
