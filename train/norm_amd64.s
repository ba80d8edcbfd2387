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

// The sums run over rows rows of c channels, eight channels at a time, adding each
// channel's values in row order in its lane as the scalar loops do.

// func bnSum8AVX2(x *float32, rows, c int, sum *float64)
// sum[0:8] += x.
TEXT ·bnSum8AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ c+16(FP), DX
	MOVQ sum+24(FP), DI
	SHLQ $2, DX
	VMOVUPD (DI), Y0
	VMOVUPD 32(DI), Y1
	TESTQ CX, CX
	JLE sumDone

sumRow:
	VCVTPS2PD (SI), Y2
	VCVTPS2PD 16(SI), Y3
	VADDPD Y2, Y0, Y0
	VADDPD Y3, Y1, Y1
	ADDQ DX, SI
	DECQ CX
	JNZ sumRow

sumDone:
	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VZEROUPPER
	RET

// func bnSumSq8AVX2(x *float32, rows, c int, mean, sum *float64)
// sum[0:8] += (x-mean)^2.
TEXT ·bnSumSq8AVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ c+16(FP), DX
	MOVQ mean+24(FP), R8
	MOVQ sum+32(FP), DI
	SHLQ $2, DX
	VMOVUPD (DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD (R8), Y4
	VMOVUPD 32(R8), Y5
	TESTQ CX, CX
	JLE sqDone

sqRow:
	VCVTPS2PD (SI), Y2
	VCVTPS2PD 16(SI), Y3
	VSUBPD Y4, Y2, Y2
	VSUBPD Y5, Y3, Y3
	VMULPD Y2, Y2, Y2
	VMULPD Y3, Y3, Y3
	VADDPD Y2, Y0, Y0
	VADDPD Y3, Y1, Y1
	ADDQ DX, SI
	DECQ CX
	JNZ sqRow

sqDone:
	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VZEROUPPER
	RET

// func bnGradSums8AVX2(x, dy *float32, rows, c int, mean, rstd, sdy, sdx *float64)
// sdy[0:8] += dy; sdx[0:8] += dy*((x-mean)*rstd).
TEXT ·bnGradSums8AVX2(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ dy+8(FP), BX
	MOVQ rows+16(FP), CX
	MOVQ c+24(FP), DX
	MOVQ mean+32(FP), R8
	MOVQ rstd+40(FP), R9
	MOVQ sdy+48(FP), DI
	MOVQ sdx+56(FP), R10
	SHLQ $2, DX
	VMOVUPD (DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD (R10), Y2
	VMOVUPD 32(R10), Y3
	VMOVUPD (R8), Y8
	VMOVUPD 32(R8), Y9
	VMOVUPD (R9), Y10
	VMOVUPD 32(R9), Y11
	TESTQ CX, CX
	JLE gradDone

gradRow:
	VCVTPS2PD (BX), Y4
	VCVTPS2PD 16(BX), Y5
	VCVTPS2PD (SI), Y6
	VCVTPS2PD 16(SI), Y7
	VSUBPD Y8, Y6, Y6
	VSUBPD Y9, Y7, Y7
	VMULPD Y10, Y6, Y6
	VMULPD Y11, Y7, Y7
	VMULPD Y4, Y6, Y6
	VMULPD Y5, Y7, Y7
	VADDPD Y4, Y0, Y0
	VADDPD Y5, Y1, Y1
	VADDPD Y6, Y2, Y2
	VADDPD Y7, Y3, Y3
	ADDQ DX, SI
	ADDQ DX, BX
	DECQ CX
	JNZ gradRow

gradDone:
	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, (R10)
	VMOVUPD Y3, 32(R10)
	VZEROUPPER
	RET
