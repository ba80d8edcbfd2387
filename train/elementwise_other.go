//go:build !amd64 || purego

package train

// reluFast does nothing: this build has no assembly.
func reluFast(x, out []float32) int { return 0 }

// maskFast does nothing: this build has no assembly.
func maskFast(out, dy, dx []float32) int { return 0 }

// addBiasFast reports false: this build has no assembly.
func addBiasFast(m []float32, bias []float64) bool { return false }

// addFast does nothing: this build has no assembly.
func addFast(dst, src []float32) int { return 0 }
