//go:build amd64 && !purego

package train

import "golang.org/x/sys/cpu"

// quantFast is fakeQuantAct's quantisation of float32 values on AVX2, for a prefix of
// x: it stops before the last values short of four and before four holding a NaN, and
// returns the prefix's length (0 without AVX2). Its min and max are the vector
// instructions, which differ from Go's only on NaNs, left to the caller, and on zeros
// of opposite signs: there the clamped value c is a zero of either sign, but with
// qlo <= 0 <= qhi either gives the same result, c-qlo being -0 only for c = -0 and
// qlo = +0, where the result is -0 + +0 = +0 as Go's +0 gives.
func quantFast(x, out []float32, qlo, qhi, s float64) int {
	if !cpu.X86.HasAVX2 || len(x) < 4 {
		return 0
	}
	out = out[:len(x)]
	return quantAVX2(&x[0], &out[0], len(x), qlo, qhi, s)
}

// clipMaskFast is straightThroughRange on AVX2 for the longest prefix of x that is a
// multiple of 4 values; it returns the prefix's length (0 without AVX2).
func clipMaskFast(x, dx []float32, qlo, qhi float64) int {
	n := len(x) &^ 3
	if !cpu.X86.HasAVX2 || n == 0 {
		return 0
	}
	dx = dx[:n]
	clipMaskAVX2(&x[0], &dx[0], n, qlo, qhi)
	return n
}

//go:noescape
func quantAVX2(x, out *float32, n int, qlo, qhi, s float64) int

//go:noescape
func clipMaskAVX2(x, dx *float32, n int, qlo, qhi float64)
