//go:build amd64 && !purego

package train

import "golang.org/x/sys/cpu"

// reluFast is reluForward on AVX2 for the longest prefix of x that is a multiple of 8
// values; it returns the prefix's length (0 without AVX2).
func reluFast(x, out []float32) int {
	n := len(x) &^ 7
	if !cpu.X86.HasAVX2 || n == 0 {
		return 0
	}
	out = out[:n]
	reluAVX2(&x[0], &out[0], n)
	return n
}

// maskFast is maskFloat32 on AVX2, as reluFast.
func maskFast(out, dy, dx []float32) int {
	n := len(out) &^ 7
	if !cpu.X86.HasAVX2 || n == 0 {
		return 0
	}
	dy, dx = dy[:n], dx[:n]
	maskAVX2(&out[0], &dy[0], &dx[0], n)
	return n
}

// addBiasFast is addRowBias on AVX2 for float32 rows; it reports false, doing
// nothing, when the CPU lacks AVX2 or the rows' length is not a multiple of 4.
func addBiasFast(m []float32, bias []float64) bool {
	c := len(bias)
	if !cpu.X86.HasAVX2 || c%4 != 0 || len(m) == 0 || len(m)%c != 0 {
		return false
	}
	addBiasAVX2(&m[0], len(m), c, &bias[0])
	return true
}

// addFast adds src to dst on AVX2 for the longest prefix of dst that is a multiple
// of 8 values; it returns the prefix's length (0 without AVX2).
func addFast(dst, src []float32) int {
	n := len(dst) &^ 7
	if !cpu.X86.HasAVX2 || n == 0 {
		return 0
	}
	src = src[:n]
	addAVX2(&dst[0], &src[0], n)
	return n
}

//go:noescape
func reluAVX2(x, out *float32, n int)

//go:noescape
func maskAVX2(out, dy, dx *float32, n int)

//go:noescape
func addBiasAVX2(m *float32, n, c int, bias *float64)

//go:noescape
func addAVX2(dst, src *float32, n int)
