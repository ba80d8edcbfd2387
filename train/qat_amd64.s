//go:build amd64 && !purego

#include "textflag.h"

// func quantAVX2(x, out *float32, n int, qlo, qhi, s float64) int
// out = round((min(max(x, qlo), qhi)-qlo)/s)*s + qlo, rounding half away from zero,
// four values at a time with fakeQuantAct's operations in its order (see quantFast),
// up to the last whole four of the n values or the first four holding a NaN; it
// returns the number of values done.
TEXT ·quantAVX2(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ out+8(FP), DI
	MOVQ n+16(FP), CX
	VBROADCASTSD qlo+24(FP), Y8
	VBROADCASTSD qhi+32(FP), Y9
	VBROADCASTSD s+40(FP), Y10
	MOVQ $0x8000000000000000, AX
	MOVQ AX, X11
	VPBROADCASTQ X11, Y11
	VPCMPEQQ Y12, Y12, Y12
	VPSRLQ $1, Y12, Y12
	MOVQ $0x3fe0000000000000, AX
	MOVQ AX, X13
	VPBROADCASTQ X13, Y13
	MOVQ $0x3ff0000000000000, AX
	MOVQ AX, X14
	VPBROADCASTQ X14, Y14
	XORQ DX, DX

quantLoop:
	LEAQ 4(DX), AX
	CMPQ AX, CX
	JGT quantDone
	VCVTPS2PD (SI)(DX*4), Y0
	VCMPPD $3, Y0, Y0, Y6
	VMOVMSKPD Y6, AX
	TESTL AX, AX
	JNZ quantDone
	VMAXPD Y8, Y0, Y0
	VMINPD Y9, Y0, Y0
	VSUBPD Y8, Y0, Y0
	VDIVPD Y10, Y0, Y0

	// round: t + (the sign of q | 1 if |q-t| >= 0.5 else 0), t = trunc(q).
	VROUNDPD $3, Y0, Y1
	VSUBPD Y1, Y0, Y2
	VANDPD Y12, Y2, Y2
	VCMPPD $0x1d, Y13, Y2, Y3
	VANDPD Y11, Y0, Y4
	VANDPD Y14, Y3, Y5
	VORPD Y5, Y4, Y4
	VADDPD Y4, Y1, Y1

	VMULPD Y10, Y1, Y1
	VADDPD Y8, Y1, Y1
	VCVTPD2PSY Y1, X1
	VMOVUPS X1, (DI)(DX*4)
	ADDQ $4, DX
	JMP quantLoop

quantDone:
	MOVQ DX, ret+48(FP)
	VZEROUPPER
	RET

// func clipMaskAVX2(x, dx *float32, n int, qlo, qhi float64)
// dx = +0 where x < qlo or x > qhi (ordered compares: false for NaNs) for n values,
// n a multiple of 4.
TEXT ·clipMaskAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ dx+8(FP), DI
	MOVQ n+16(FP), CX
	VBROADCASTSD qlo+24(FP), Y8
	VBROADCASTSD qhi+32(FP), Y9
	TESTQ CX, CX
	JLE clipDone

clipLoop:
	VCVTPS2PD (SI), Y0
	VCMPPD $0x11, Y8, Y0, Y1
	VCMPPD $0x1e, Y9, Y0, Y2
	VORPD Y2, Y1, Y1
	VEXTRACTF128 $1, Y1, X2
	VSHUFPS $0x88, X2, X1, X1
	VANDNPS (DI), X1, X1
	VMOVUPS X1, (DI)
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $4, CX
	JGT clipLoop

clipDone:
	VZEROUPPER
	RET
