//go:build !amd64 || purego

package vec

// hasAVX2 and hasFMA are false: this build has no assembly.
const hasAVX2, hasFMA = false, false

func requant32AVX2(acc *int32, out *int8, blocks int, shift, half uint64, relu bool, lanes *[16]uint32) {
	panic("vec: no assembly in this build")
}

func requant64AVX2(acc *int64, out *int8, blocks int, shift, half uint64, relu bool, lanes *[8]uint64) bool {
	panic("vec: no assembly in this build")
}

func sums16AVX2(u, v *int8, rows, stride int, sums *[32]int32) {
	panic("vec: no assembly in this build")
}

func rowSums16AVX2(u, v *int8, rows, blocks int, s1, s2 *int64) {
	panic("vec: no assembly in this build")
}

func affine8AVX2(u *int8, rows, channels int, a, c *int64, acc *int64) {
	panic("vec: no assembly in this build")
}

func affine8TwoAVX2(u, v *int8, rows, channels int, a, b, c *int64, acc *int64) {
	panic("vec: no assembly in this build")
}

func widen16AVX2(dst *int16, src *int8, blocks int) { panic("vec: no assembly in this build") }

func widen32AVX2(dst *int32, src *int8, blocks int) { panic("vec: no assembly in this build") }

func relu8AVX2(dst, src *int8, blocks int) { panic("vec: no assembly in this build") }

func mask8AVX2(out, dy, dx *int8, blocks int) { panic("vec: no assembly in this build") }

func requantLeft32AVX2(acc *int32, out *int8, blocks int, left uint64, relu bool, lanes *[16]uint32) {
	panic("vec: no assembly in this build")
}

func addRows32AVX2(acc *int32, rows, n int, bias *int32) { panic("vec: no assembly in this build") }

func relu32AVX2(dst, src *float32, blocks int) { panic("vec: no assembly in this build") }

func mask32AVX2(out, dy, dx *float32, blocks int) { panic("vec: no assembly in this build") }

func add32AVX2(dst, src *float32, blocks int) { panic("vec: no assembly in this build") }

func addI32AVX2(dst, src *int32, blocks int) { panic("vec: no assembly in this build") }

func addBias32AVX2(m *float32, rows, c int, bias *float64) { panic("vec: no assembly in this build") }

func bnNormalizeAVX2(x, out *float32, rows, c int, mean, rstd, gamma, beta *float64) {
	panic("vec: no assembly in this build")
}

func bnInputErrorAVX2(x, dy, dx *float32, rows, c int, mean, rstd, gr, sdyInv, sdx *float64, inv float64) {
	panic("vec: no assembly in this build")
}

func lnNormalizeAVX2(x, out *float32, rows, c int, mean, rstd, gamma, beta *float64) {
	panic("vec: no assembly in this build")
}

func lnInputErrorAVX2(x, dy, dx *float32, rows, c int, mean, rstd, gamma, sg, sgx *float64, inv float64) {
	panic("vec: no assembly in this build")
}

func expAVX2(x *float64, blocks int) int { panic("vec: no assembly in this build") }

func bnSum8AVX2(x *float32, rows, c int, sum *float64) { panic("vec: no assembly in this build") }

func bnSumSq8AVX2(x *float32, rows, c int, mean, sum *float64) {
	panic("vec: no assembly in this build")
}

func bnGradSums8AVX2(x, dy *float32, rows, c int, mean, rstd, sdy, sdx *float64) {
	panic("vec: no assembly in this build")
}

func lnGradSums8AVX2(x, dy *float32, rows, c int, mean, rstd, sdy, sdx *float64) {
	panic("vec: no assembly in this build")
}

func quant32AVX2(x, out *float32, n int, qlo, qhi, s, inv, margin float64) int {
	panic("vec: no assembly in this build")
}

func quantSym32AVX2(x *float32, out *float64, blocks int, s, inv float64) {
	panic("vec: no assembly in this build")
}

func clipMask32AVX2(x, dx *float32, blocks int, lo, hi float32) {
	panic("vec: no assembly in this build")
}

func keyRange32AVX2(x *float32, blocks int, lanes *[16]int32) {
	panic("vec: no assembly in this build")
}

func scaleShiftAVX2(x *int64, rows, channels int, gamma, beta *int64, acc *int64) bool {
	panic("vec: no assembly in this build")
}

func maxPool2x2F32AVX2(out *float32, arg *int32, x *float32, first, c, down, step, rowSkip, wo, count int) {
	panic("vec: no assembly in this build")
}

func maxPool2x2I8AVX2(out *int8, arg *int32, x *int8, first, c, down, step, rowSkip, wo, count int) {
	panic("vec: no assembly in this build")
}

func mulRows64AVX2(u *int64, x *int8, w *int32, rows, n int) {
	panic("vec: no assembly in this build")
}

func updateIntAVX2(w, grad *int32, blocks int, consts *[6][4]uint64, shift uint64) int {
	panic("vec: no assembly in this build")
}

func rowAffine8AVX2(u *int8, rows, rowLen int, a, c *int64, acc *int64) {
	panic("vec: no assembly in this build")
}

func rowAffine64TwoAVX2(u *int64, v *int8, rows, rowLen int, a, b, c *int64, acc *int64) {
	panic("vec: no assembly in this build")
}

func lnErrorSums4AVX2(x, dy *[4]*float32, c int, gamma *float64, stats *[8]float64, sums *[8]float64) {
	panic("vec: no assembly in this build")
}

func quantEst32AVX2(x, out *float32, n int, lo, hi, qlo32, inv32, near float32, qlo, s float64) int {
	panic("vec: no assembly in this build")
}
