//go:build !amd64 || purego

package train

// normalizeFast reports false: this build has no assembly.
func normalizeFast(x, out []float32, c int, mean, rstd, gamma, beta []float64) bool { return false }

// inputErrorFast reports false: this build has no assembly.
func inputErrorFast(x, dy, dx []float32, c int, mean, rstd, gr, sdyInv, sdx []float64, inv float64) bool {
	return false
}
