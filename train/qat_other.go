//go:build !amd64 || purego

package train

// quantFast does nothing: this build has no assembly.
func quantFast(x, out []float32, qlo, qhi, s float64) int { return 0 }

// clipMaskFast does nothing: this build has no assembly.
func clipMaskFast(x, dx []float32, qlo, qhi float64) int { return 0 }
