//go:build amd64 && !purego

#include "textflag.h"

// func reluAVX2(x, out *float32, n int)
// out = max(x, 0) for n values, n a multiple of 8, with Go's max: the bits of x where
// x > 0, +0 where x <= 0, and a NaN with its sign cleared. As int32 values the bits
// of x >= +0 are non-negative and those of x <= -0 negative, so an integer max with 0
// does all but negative NaNs, whose magnitude bits lie above the infinity's.
TEXT ·reluAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ out+8(FP), DI
	MOVQ n+16(FP), CX
	VPXOR Y3, Y3, Y3
	VPCMPEQD Y4, Y4, Y4
	VPSRLD $1, Y4, Y4
	MOVL $0x7f800000, AX
	MOVD AX, X5
	VPBROADCASTD X5, Y5
	TESTQ CX, CX
	JLE reluDone

reluLoop:
	VMOVDQU (SI), Y0
	VPMAXSD Y3, Y0, Y1
	VPAND Y4, Y0, Y2
	VPCMPGTD Y5, Y2, Y6
	VPBLENDVB Y6, Y2, Y1, Y1
	VMOVDQU Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JGT reluLoop

reluDone:
	VZEROUPPER
	RET

// func maskAVX2(out, dy, dx *float32, n int)
// dx = dy where out > 0 (an ordered compare: false for NaNs), +0 elsewhere, for n
// values, n a multiple of 8.
TEXT ·maskAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), SI
	MOVQ dy+8(FP), BX
	MOVQ dx+16(FP), DI
	MOVQ n+24(FP), CX
	VXORPS Y3, Y3, Y3
	TESTQ CX, CX
	JLE maskDone

maskLoop:
	VMOVUPS (SI), Y0
	VCMPPS $0x1e, Y3, Y0, Y1
	VANDPS (BX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, BX
	ADDQ $32, DI
	SUBQ $8, CX
	JGT maskLoop

maskDone:
	VZEROUPPER
	RET

// func addBiasAVX2(m *float32, n, c int, bias *float64)
// m = float64(m) + bias for n values, rows of c channels (c a multiple of 4).
TEXT ·addBiasAVX2(SB), NOSPLIT, $0-32
	MOVQ m+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ c+16(FP), DX
	MOVQ bias+24(FP), R8
	TESTQ CX, CX
	JLE biasDone

biasRow:
	XORQ AX, AX

biasCol:
	VCVTPS2PD (SI)(AX*4), Y0
	VADDPD (R8)(AX*8), Y0, Y0
	VCVTPD2PSY Y0, X0
	VMOVUPS X0, (SI)(AX*4)
	ADDQ $4, AX
	CMPQ AX, DX
	JLT biasCol
	LEAQ (SI)(DX*4), SI
	SUBQ DX, CX
	JGT biasRow

biasDone:
	VZEROUPPER
	RET

// func addAVX2(dst, src *float32, n int)
// dst += src for n values, n a multiple of 8.
TEXT ·addAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JLE addDone

addLoop:
	VMOVUPS (DI), Y0
	VADDPS (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JGT addLoop

addDone:
	VZEROUPPER
	RET
