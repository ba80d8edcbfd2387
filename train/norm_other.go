//go:build !amd64 || purego

package train

// normalizeFast reports false: this build has no assembly.
func normalizeFast(x, out []float32, c int, mean, rstd, gamma, beta []float64) bool { return false }

// inputErrorFast reports false: this build has no assembly.
func inputErrorFast(x, dy, dx []float32, c int, mean, rstd, gr, sdyInv, sdx []float64, inv float64) bool {
	return false
}

// sumChannelsFast sums nothing: this build has no assembly.
func sumChannelsFast(x []float32, c, j0, j1 int, sum []float64) int { return 0 }

// sumSquaredDevsFast sums nothing: this build has no assembly.
func sumSquaredDevsFast(x []float32, c, j0, j1 int, mean, sum []float64) int { return 0 }

// gradSumsFast sums nothing: this build has no assembly.
func gradSumsFast(x, dy []float32, c, j0, j1 int, mean, rstd, sdy, sdx []float64) int { return 0 }
