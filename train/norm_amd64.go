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

// sumChannelsFast is sumChannels on AVX2 for float32 rows of c channels x: it sums
// channels j0 to j0+8, j0+8 to j0+16, ... as far as the last group of eight that ends
// by j1 and returns the number of channels it summed (none without AVX2).
func sumChannelsFast(x []float32, c, j0, j1 int, sum []float64) int {
	if !cpu.X86.HasAVX2 || len(x) < c || j1 > c {
		return 0
	}
	rows := len(x) / c
	j := j0
	for ; j+8 <= j1; j += 8 {
		bnSum8AVX2(&x[j], rows, c, &sum[j : j+8][0])
	}
	return j - j0
}

// sumSquaredDevsFast is sumSquaredDevs on AVX2, as sumChannelsFast.
func sumSquaredDevsFast(x []float32, c, j0, j1 int, mean, sum []float64) int {
	if !cpu.X86.HasAVX2 || len(x) < c || j1 > c {
		return 0
	}
	rows := len(x) / c
	j := j0
	for ; j+8 <= j1; j += 8 {
		bnSumSq8AVX2(&x[j], rows, c, &mean[j : j+8][0], &sum[j : j+8][0])
	}
	return j - j0
}

// gradSumsFast is batchGradSums's sums of a chunk of rows on AVX2, as sumChannelsFast.
func gradSumsFast(x, dy []float32, c, j0, j1 int, mean, rstd, sdy, sdx []float64) int {
	if !cpu.X86.HasAVX2 || len(x) < c || j1 > c {
		return 0
	}
	rows := len(x) / c
	dy = dy[:rows*c]
	j := j0
	for ; j+8 <= j1; j += 8 {
		bnGradSums8AVX2(&x[j], &dy[j], rows, c, &mean[j : j+8][0], &rstd[j : j+8][0], &sdy[j : j+8][0], &sdx[j : j+8][0])
	}
	return j - j0
}

//go:noescape
func bnSum8AVX2(x *float32, rows, c int, sum *float64)

//go:noescape
func bnSumSq8AVX2(x *float32, rows, c int, mean, sum *float64)

//go:noescape
func bnGradSums8AVX2(x, dy *float32, rows, c int, mean, rstd, sdy, sdx *float64)
