// Package vec holds the host trainer's kernels that sweep whole tensors outside the
// GEMMs. For the integer path: requantising int32 and int64 accumulators to int8,
// batch normalisation's per-channel sums and affine map, layer normalisation's scale
// and shift, adding a bias to every row, widening int8 tensors into GEMM operands, and
// the ReLU's two passes. Each returns exactly what the train/numerics function (or
// definition) it stands for returns, so RCT's numerics are still defined once, in
// train/numerics. For the float path: batch normalisation's per-channel sums, forward
// pass and input error, the ReLU's two passes, QAT's fake quantisation and
// straight-through mask, and adding a bias or an error; each gives, bit for bit, what
// the Go expression its documentation states gives.
//
// On amd64 with AVX2 (detected with golang.org/x/sys/cpu at start-up) they run 4 to
// 32 values an instruction in Go assembly generated with avo (see _asm/; go
// generate), where the values allow (a kernel that cannot give the definition's
// result, such as a saturating 64-bit product, leaves those values to Go); elsewhere,
// with the build tag purego, or after SetPureGo(true), pure Go runs. Both give
// identical results, which the tests check against numerics and the float
// definitions.
package vec

//go:generate sh -c "cd _asm && go run . -out ../kernel_amd64.s -stubs ../kernel_amd64.go -pkg vec"

import (
	"math"

	"github.com/rctsim/rctsim/train/numerics"
)

// block is the values the assembly kernels take at a time.
const block = 8

// useAVX2 selects the assembly kernels; it is set at start-up from the CPU and by
// SetPureGo.
var useAVX2 = hasAVX2

// SetPureGo selects the pure-Go loops (true) or the fastest the CPU has (false), and
// returns the previous setting. It is for tests and benchmarks: the results are
// identical either way. It must not be called while a kernel runs.
func SetPureGo(pure bool) (was bool) {
	was = !useAVX2
	useAVX2 = hasAVX2 && !pure
	return was
}

// Requant is numerics.Requant: out[i] is acc[i] (clipped at 0 when relu) shifted right
// by shift with rounding half away from zero, saturated to ±127; it returns the largest
// magnitude (after the ReLU, at most 2^31-1) and how many outputs saturated.
func Requant(acc []int32, shift int, relu bool, out []int8) (maxAbs int32, saturated int) {
	out = out[:len(acc)]
	if shift <= 0 {
		n := len(acc) / block * block
		if !useAVX2 || n == 0 {
			return numerics.Requant(acc, shift, relu, out)
		}
		var lanes [2 * block]uint32
		requantLeft32AVX2(&acc[0], &out[0], n/block, uint64(-shift), relu, &lanes)
		var m int64
		saturated = n
		for i := range block {
			m = max(m, int64(lanes[i]))
			saturated -= int(lanes[block+i])
		}
		pm, ps := numerics.Requant(acc[n:], shift, relu, out[n:])
		return int32(min(max(m, int64(pm)), math.MaxInt32)), saturated + ps
	}
	if shift >= 62 {
		return numerics.Requant(acc, shift, relu, out)
	}
	var m int64
	if n := len(acc) / block * block; useAVX2 && shift < 32 && n > 0 {
		var lanes [2 * block]uint32
		requant32AVX2(&acc[0], &out[0], n/block, uint64(shift), 1<<(shift-1), relu, &lanes)
		for i := range block {
			m = max(m, int64(lanes[i]))
			saturated += int(lanes[block+i])
		}
		acc, out = acc[n:], out[n:]
	}
	pm, ps := requantGo(acc, shift, relu, out)
	return int32(min(max(m, pm), math.MaxInt32)), saturated + ps
}

// requantGo is Requant for shifts 1..61, branch-free, with a loop of its own for a
// ReLU's outputs (never negative). Its maximum is not yet capped at 2^31-1.
func requantGo(acc []int32, shift int, relu bool, out []int8) (maxAbs int64, saturated int) {
	out = out[:len(acc)]
	half := int64(1) << (shift - 1)
	var m int64
	if relu {
		for i, a := range acc {
			v := max(int64(a), 0)
			m = max(m, v)
			r := (v + half) >> shift
			saturated += int(uint64(127-r) >> 63) // r > 127
			out[i] = int8(min(r, 127))
		}
		return m, saturated
	}
	for i, a := range acc {
		v := int64(a)
		neg := v >> 63 // 0 or -1
		av := (v ^ neg) - neg
		m = max(m, av)
		r := (av + half) >> shift
		saturated += int(uint64(127-r) >> 63) // r > 127
		r = min(r, 127)
		out[i] = int8((r ^ neg) - neg)
	}
	return m, saturated
}

// Requant64 is numerics.Requant64, Requant for int64 accumulators.
func Requant64(acc []int64, shift int, relu bool, out []int8) (maxAbs int64, saturated int) {
	if shift <= 0 || shift >= 62 {
		return numerics.Requant64(acc, shift, relu, out)
	}
	out = out[:len(acc)]
	if n := len(acc) / block * block; useAVX2 && n > 0 {
		var lanes [block]uint64
		if !requant64AVX2(&acc[0], &out[0], n/block, uint64(shift), 1<<(shift-1), relu, &lanes) {
			for i := range block / 2 {
				maxAbs = max(maxAbs, int64(lanes[i]))
				saturated += int(lanes[block/2+i])
			}
			acc, out = acc[n:], out[n:]
		}
	}
	m, s := requant64Go(acc, shift, relu, out)
	return max(maxAbs, m), saturated + s
}

// requant64Go is Requant64 for shifts 1..61: branch-free for |v| < 2^62, the
// definition itself for anything else.
func requant64Go(acc []int64, shift int, relu bool, out []int8) (maxAbs int64, saturated int) {
	out = out[:len(acc)]
	half := int64(1) << (shift - 1)
	for i, v := range acc {
		if relu {
			v = max(v, 0)
		}
		neg := v >> 63
		av := (v ^ neg) - neg
		if av >= 1<<62 || av < 0 {
			m, s := numerics.Requant64(acc[i:i+1], shift, relu, out[i:i+1])
			maxAbs, saturated = max(maxAbs, m), saturated+s
			continue
		}
		maxAbs = max(maxAbs, av)
		r := (av + half) >> shift
		saturated += int(uint64(127-r) >> 63)
		r = min(r, 127)
		out[i] = int8((r ^ neg) - neg)
	}
	return maxAbs, saturated
}

// sumsRows is the most rows sums16AVX2 takes at once: |u*v| <= 2^14 summed over 2^16
// rows stays within int32.
const sumsRows = 1 << 16

// ChannelSums adds, per channel of the rows of len(s1) channels in u and v, Σu to s1
// and Σu*v to s2 (exact integers; v may be u, for the sums of x and x²).
func ChannelSums(u, v []int8, s1, s2 []int64) {
	c := len(s1)
	rows := len(u) / c
	v = v[:len(u)]
	if p := periodOf(c, 16); useAVX2 && c%16 != 0 && p <= maxPeriod && rows >= p/c {
		// Rows of p values (p/c rows of c) go through the kernel; their sums fold
		// back onto the c channels.
		var t1, t2 [maxPeriod]int64
		whole := rows / (p / c) * p
		ChannelSums(u[:whole], v[:whole], t1[:p], t2[:p])
		for j := range p {
			s1[j%c] += t1[j]
			s2[j%c] += t2[j]
		}
		u, v, rows = u[whole:], v[whole:], rows-whole/c
	}
	if useAVX2 && c%16 == 0 && rows > 0 {
		for r := 0; r < rows; r += sumsRows {
			n := min(sumsRows, rows-r)
			for g := 0; g < c; g += 16 {
				var sums [32]int32
				sums16AVX2(&u[r*c+g], &v[r*c+g], n, c, &sums)
				for j := range 16 {
					s1[g+j] += int64(sums[j])
					s2[g+j] += int64(sums[16+j])
				}
			}
		}
		return
	}
	for r := 0; r < rows*c; r += c {
		vr := v[r : r+c]
		for j, x := range u[r : r+c] {
			s1[j] += int64(x)
			s2[j] += int64(x) * int64(vr[j])
		}
	}
}

// RowSums writes, per row of rowLen values u and v (int8), s1[r] = Σu and s2[r] = Σu*v.
func RowSums[U int8 | int64](u []U, v []int8, rowLen int, s1, s2 []int64) {
	rows := len(u) / rowLen
	v = v[:rows*rowLen]
	r := 0
	if u8, ok := any(u).([]int8); ok && useAVX2 && rowLen%16 == 0 && rowLen <= 1<<16 && rows > 0 {
		rowSums16AVX2(&u8[0], &v[0], rows, rowLen/16, &s1[:rows][0], &s2[:rows][0])
		r = rows
	}
	for ; r < rows; r++ {
		var a, b int64
		vr := v[r*rowLen : (r+1)*rowLen]
		for j, x := range u[r*rowLen : (r+1)*rowLen] {
			a += int64(x)
			b += int64(x) * int64(vr[j])
		}
		s1[r], s2[r] = a, b
	}
}

// ChannelAffine is numerics.ChannelAffine for int8 operands: acc[r*C+j] =
// a[j]*u[r*C+j] + b[j]*v[r*C+j] + c[j] over rows of C = len(a) channels; v and b may be
// nil.
func ChannelAffine(u, v []int8, a, b, c []int64, acc []int64) {
	ch := len(a)
	rows := len(u) / ch
	if !useAVX2 || ch%4 != 0 || rows == 0 || !fits32(a) || !fits32(b) {
		numerics.ChannelAffine(u, v, a, b, c, acc)
		return
	}
	acc, c = acc[:rows*ch], c[:ch]
	if v == nil {
		affine8AVX2(&u[0], rows, ch, &a[0], &c[0], &acc[0])
		return
	}
	v, b = v[:rows*ch], b[:ch]
	affine8TwoAVX2(&u[0], &v[0], rows, ch, &a[0], &b[0], &c[0], &acc[0])
}

// fits32 reports whether every coefficient is a signed 32-bit value, which VPMULDQ
// multiplies (FixCoefs' are below 2^23).
func fits32(coefs []int64) bool {
	for _, x := range coefs {
		if x != int64(int32(x)) {
			return false
		}
	}
	return true
}

// Widen writes src, sign-extended, to dst (at least as long): the integer GEMMs'
// operands are int16 or int32 copies of int8 tensors.
func Widen[D int16 | int32](dst []D, src []int8) {
	dst = dst[:len(src)]
	n := 0
	if useAVX2 {
		switch d := any(dst).(type) {
		case []int16:
			if n = len(src) / 16 * 16; n > 0 {
				widen16AVX2(&d[0], &src[0], n/16)
			}
		case []int32:
			if n = len(src) / 8 * 8; n > 0 {
				widen32AVX2(&d[0], &src[0], n/8)
			}
		}
	}
	for i, v := range src[n:] {
		dst[n+i] = D(v)
	}
}

// ReLU writes max(v, 0) of each value of src to dst (at least as long; it may be src).
func ReLU(dst, src []int8) { relu(dst, src, 32, relu8AVX2) }

// Mask is a ReLU's backward pass: dx gets dy where the ReLU's output out is positive
// and 0 elsewhere (dx may be dy). The Go loop takes the mask from the sign of -v, all
// ones exactly when v > 0, in int32 arithmetic: a condition on int8 values stays a
// branch, which random signs mispredict.
func Mask(out, dy, dx []int8) {
	dy, dx = dy[:len(out)], dx[:len(out)]
	n := 0
	if useAVX2 {
		if n = len(out) / 32 * 32; n > 0 {
			mask8AVX2(&out[0], &dy[0], &dx[0], n/32)
		}
	}
	for i, v := range out[n:] {
		dx[n+i] = dy[n+i] & int8(-int32(v)>>31)
	}
}

// ScaleShift is numerics.ScaleShift: acc = gamma[j]*xhat + RoundShift(beta[j], shift)
// per channel j of rows of len(gamma), each step saturating at ±(2^63-1). beta's term
// is aligned once per channel, not once per value, and a product with |xhat| < 2^32
// cannot overflow (|gamma| <= 2^31), so it needs no check; larger ones take numerics'
// saturating multiply, through numerics.ScaleShift of that one value.
func ScaleShift(xhat []int64, gamma, beta []int32, shift int, acc []int64) {
	ch := len(gamma)
	acc = acc[:len(xhat)]
	var buf [256]int64
	rb := buf[:0]
	if ch > len(buf) {
		rb = make([]int64, 0, ch)
	}
	if beta != nil {
		for _, b := range beta[:ch] {
			rb = append(rb, numerics.RoundShift(int64(b), shift))
		}
	}
	if scaleShiftFast(xhat, gamma, rb, acc) {
		return
	}
	for r := 0; r+ch <= len(xhat); r += ch {
		xr, ar := xhat[r:r+ch], acc[r:r+ch]
		for j, x := range xr {
			if x >= 1<<32 || x <= -(1<<32) {
				numerics.ScaleShift(xr[j:j+1], gamma[j:j+1], betaOf(beta, j), shift, ar[j:j+1])
				continue
			}
			v := int64(gamma[j]) * x
			if beta != nil {
				v = numerics.AddSat(v, rb[j])
			}
			ar[j] = v
		}
	}
}

// scaleShiftFast is ScaleShift's common case on AVX2, four channels a step: with
// |xhat| < 2^31 a product is at most 2^62 in magnitude, and with the aligned betas rb
// (none: nil) below 2^62 the sum cannot overflow, so saturation never applies. It
// reports false, leaving the work to the caller, when the CPU, the channel count, a
// beta or a value does not allow it.
func scaleShiftFast(xhat []int64, gamma []int32, rb []int64, acc []int64) bool {
	ch := len(gamma)
	rows := len(xhat) / ch
	if !useAVX2 || ch%4 != 0 || rows == 0 || ch > 256 {
		return false
	}
	var g, b [256]int64
	for j, v := range gamma {
		g[j] = int64(v)
	}
	for j, v := range rb {
		if v >= 1<<62 || v <= -(1<<62) {
			return false
		}
		b[j] = v
	}
	return !scaleShiftAVX2(&xhat[0], rows, ch, &g[0], &b[0], &acc[:rows*ch][0])
}

// betaOf is channel j's beta as a one-channel slice, or nil without beta.
func betaOf(beta []int32, j int) []int32 {
	if beta == nil {
		return nil
	}
	return beta[j : j+1]
}

// AddRows adds bias[j] to every row's value j (rows of len(bias) values), each sum
// saturated to ±(2^31-1) as numerics.AddBias does; every bias must be within that
// range.
func AddRows(acc []int32, bias []int32) {
	n := len(bias)
	rows := len(acc) / n
	if p := periodOf(n, 8); useAVX2 && n%8 != 0 && p <= maxPeriod && rows >= p/n {
		// Rows of p values (p/n rows of n) go through the kernel, with the bias
		// repeated p/n times.
		var tile [maxPeriod]int32
		for j := range p {
			tile[j] = bias[j%n]
		}
		whole := rows / (p / n) * p
		addRows32AVX2(&acc[0], whole/p, p, &tile[0])
		acc, rows = acc[whole:], rows-whole/n
	}
	if useAVX2 && n%8 == 0 && rows > 0 {
		addRows32AVX2(&acc[0], rows, n, &bias[0])
		return
	}
	for r := 0; r+n <= len(acc); r += n {
		row := acc[r : r+n]
		for j, b := range bias {
			row[j] = int32(min(max(int64(row[j])+int64(b), -math.MaxInt32), math.MaxInt32))
		}
	}
}

// UpdateInt is numerics.UpdateInt, four weights at a time in its common case:
// stochastic rounding by a right shift of 1 to 62, with a mantissa below 2^31 in
// magnitude (the products and sums then stay far inside int64).
func UpdateInt(w, grad []int32, mant int64, shift, bits int, rounding numerics.Rounding, key, first uint64) (saturated int) {
	done := 0
	if useAVX2 && rounding == numerics.RoundStochastic && shift > 0 && shift <= 62 &&
		mant > math.MinInt32 && mant <= math.MaxInt32 && len(w) >= 4 {
		grad = grad[:len(w)]
		lim := numerics.Saturate(math.MaxInt64, bits)
		var consts [6][4]uint64
		step := uint64(numerics.RandStep)
		for i := range 4 {
			consts[0][i] = key + (first+uint64(i)+1)*step
			consts[1][i] = 4 * step
			consts[2][i] = 1<<shift - 1
			consts[3][i] = uint64(-mant)
			consts[4][i] = uint64(lim)
			consts[5][i] = uint64(-lim)
		}
		blocks := len(w) / 4
		saturated = updateIntAVX2(&w[0], &grad[0], blocks, &consts, uint64(shift))
		done = 4 * blocks
	}
	return saturated + numerics.UpdateInt(w[done:], grad[done:len(w)], mant, shift, bits, rounding, key, first+uint64(done))
}

// RowAffine is numerics.RowAffine (one coefficient set per row of rowLen values),
// four values a step when rowLen is a multiple of 4: of int8 values alone (v nil), or
// of int64 values plus int8 values v. Products wrap as Go's int64 products do.
func RowAffine[U int8 | int64](u []U, v []int8, rowLen int, a, b, c []int64, acc []int64) {
	rows := len(u) / rowLen
	if useAVX2 && rowLen%4 == 0 && rows > 0 {
		acc = acc[:rows*rowLen]
		a, c = a[:rows], c[:rows]
		switch u := any(u).(type) {
		case []int8:
			if v == nil {
				rowAffine8AVX2(&u[0], rows, rowLen, &a[0], &c[0], &acc[0])
				return
			}
		case []int64:
			if v != nil {
				v, b = v[:rows*rowLen], b[:rows]
				rowAffine64TwoAVX2(&u[0], &v[0], rows, rowLen, &a[0], &b[0], &c[0], &acc[0])
				return
			}
		}
	}
	numerics.RowAffine(u, v, rowLen, a, b, c, acc)
}

// MulRows writes u[r*n+j] = int64(w[j]) * int64(x[r*n+j]) for the rows of n = len(w)
// values of x (a layer normalisation's gamma times its output error, exact).
func MulRows(u []int64, x []int8, w []int32) {
	n := len(w)
	rows := len(x) / n
	u = u[:rows*n]
	r := 0
	if useAVX2 && n%4 == 0 && rows > 0 {
		mulRows64AVX2(&u[0], &x[0], &w[0], rows, n)
		r = rows
	}
	for i := r * n; i < rows*n; i += n {
		for j, v := range x[i : i+n] {
			u[i+j] = int64(w[j]) * int64(v)
		}
	}
}

// periodOf is the least common multiple of n and the kernels' lanes: a row of that
// many values holds whole rows of n and whole blocks of lanes.
func periodOf(n, lanes int) int {
	a, b := n, lanes
	for b != 0 {
		a, b = b, a%b
	}
	return n / a * lanes
}

// maxPeriod is the longest period (periodOf) that AddRows and ChannelSums cut rows
// into: every row length up to 64.
const maxPeriod = 1024

// AddInt32 adds src to dst (dst[i] += src[i], wrapping; src at least as long).
func AddInt32(dst, src []int32) { add(dst, src, addI32AVX2) }
