//go:build amd64 && !purego

package train

import "golang.org/x/sys/cpu"

// normalizeFast is batch normalisation's forward pass over float32 rows of c channels
// x (out = gamma*((x-mean)*rstd) + beta) on AVX2; it reports false, doing nothing,
// when the CPU lacks AVX2 or c is not a multiple of 4.
func normalizeFast(x, out []float32, c int, mean, rstd, gamma, beta []float64) bool {
	if !cpu.X86.HasAVX2 || c%4 != 0 || len(x) == 0 || len(x)%c != 0 {
		return false
	}
	out = out[:len(x)]
	bnNormalizeAVX2(&x[0], &out[0], len(x), c, &mean[:c][0], &rstd[:c][0], &gamma[:c][0], &beta[:c][0])
	return true
}

// inputErrorFast is batch normalisation's input error (dx = gr*((dy-sdyInv) -
// ((x-mean)*rstd*sdx)*inv)) on AVX2, as normalizeFast.
func inputErrorFast(x, dy, dx []float32, c int, mean, rstd, gr, sdyInv, sdx []float64, inv float64) bool {
	if !cpu.X86.HasAVX2 || c%4 != 0 || len(x) == 0 || len(x)%c != 0 {
		return false
	}
	dy, dx = dy[:len(x)], dx[:len(x)]
	bnInputErrorAVX2(&x[0], &dy[0], &dx[0], len(x), c, &mean[:c][0], &rstd[:c][0], &gr[:c][0], &sdyInv[:c][0], &sdx[:c][0], inv)
	return true
}

//go:noescape
func bnNormalizeAVX2(x, out *float32, n, c int, mean, rstd, gamma, beta *float64)

//go:noescape
func bnInputErrorAVX2(x, dy, dx *float32, n, c int, mean, rstd, gr, sdyInv, sdx *float64, inv float64)
