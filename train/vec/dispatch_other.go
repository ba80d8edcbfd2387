//go:build !amd64 || purego

package vec

// hasAVX2 is false: this build has no assembly.
const hasAVX2 = false

func requant32AVX2(acc *int32, out *int8, blocks int, shift, half uint64, relu bool, lanes *[16]uint32) {
	panic("vec: no assembly in this build")
}

func requant64AVX2(acc *int64, out *int8, blocks int, shift, half uint64, relu bool, lanes *[8]uint64) bool {
	panic("vec: no assembly in this build")
}

func sums16AVX2(u, v *int8, rows, stride int, sums *[32]int32) {
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
