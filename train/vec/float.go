package vec

import (
	"math"
	"slices"
)

// The float path's kernels below give, bit for bit, what the expressions in their
// documentation give evaluated value by value in Go: the assembly does the same
// float64 (or float32) operations in the same order, without fused multiply-adds
// (but for Exp, which follows math.Exp's assembly, fused multiply-adds and all).

// Float is the float path's element types.
type Float interface{ float32 | float64 }

// ReLUFloat32 writes max(v, 0) of each value of src to dst (at least as long; it may
// be src), with Go's max: +0 for -0 and a NaN for a NaN.
func ReLUFloat32(dst, src []float32) { relu(dst, src, block, relu32AVX2) }

// relu writes max(v, 0) of src to dst, whole blocks of per values with kernel when
// the CPU has AVX2.
func relu[T int8 | float32](dst, src []T, per int, kernel func(dst, src *T, blocks int)) {
	dst = dst[:len(src)]
	n := 0
	if useAVX2 {
		if n = len(src) / per * per; n > 0 {
			kernel(&dst[0], &src[0], n/per)
		}
	}
	for i, v := range src[n:] {
		dst[n+i] = max(v, 0)
	}
}

// MaskFloat32 is a ReLU's backward pass: dx gets dy's bits where the ReLU's output
// out > 0 and +0 elsewhere (dx may be dy). The Go loop masks the bits rather than
// branching, since the signs of a ReLU's outputs are as good as random.
func MaskFloat32(out, dy, dx []float32) {
	dy, dx = dy[:len(out)], dx[:len(out)]
	n := 0
	if useAVX2 {
		if n = len(out) / block * block; n > 0 {
			mask32AVX2(&out[0], &dy[0], &dx[0], n/block)
		}
	}
	for i := n; i < len(out); i++ {
		var m uint32
		if out[i] > 0 {
			m = ^uint32(0)
		}
		dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & m)
	}
}

// AddFloat32 adds src to dst (dst[i] += src[i] in float32; src at least as long).
func AddFloat32(dst, src []float32) { add(dst, src, add32AVX2) }

// add adds src to dst, whole blocks with kernel when the CPU has AVX2.
func add[T int32 | float32](dst, src []T, kernel func(dst, src *T, blocks int)) {
	src = src[:len(dst)]
	n := 0
	if useAVX2 {
		if n = len(dst) / block * block; n > 0 {
			kernel(&dst[0], &src[0], n/block)
		}
	}
	for i := n; i < len(dst); i++ {
		dst[i] += src[i]
	}
}

// AddRowBias adds bias to every row of m (rows of len(bias)): m[r*C+j] =
// F(float64(m[r*C+j]) + bias[j]).
func AddRowBias[F Float](m []F, bias []float64) {
	c := len(bias)
	if m32, ok := any(m).([]float32); ok && useAVX2 && fitsRows(len(m), c) {
		addBias32AVX2(&m32[0], len(m)/c, c, &bias[0])
		return
	}
	for r := 0; r < len(m); r += c {
		for j, b := range bias {
			m[r+j] = F(float64(m[r+j]) + b)
		}
	}
}

// fitsRows reports whether n values are whole rows of c channels, c a multiple of 4,
// as the per-row float kernels take them.
func fitsRows(n, c int) bool { return c%4 == 0 && n > 0 && n%c == 0 }

// BatchNormalize is batch normalisation's forward pass over rows of c channels x:
// out[r*c+j] = F(gamma[j]*((float64(x[r*c+j])-mean[j])*rstd[j]) + beta[j]).
func BatchNormalize[F Float](x, out []F, c int, mean, rstd, gamma, beta []float64) {
	out = out[:len(x)]
	if x32, ok := any(x).([]float32); ok && useAVX2 && fitsRows(len(x), c) {
		o32 := any(out).([]float32)
		bnNormalizeAVX2(&x32[0], &o32[0], len(x)/c, c, &mean[:c][0], &rstd[:c][0], &gamma[:c][0], &beta[:c][0])
		return
	}
	for r := 0; r+c <= len(x); r += c {
		xr, or := x[r:r+c], out[r:r+c]
		mean, rstd, gamma, beta := mean[:c], rstd[:c], gamma[:c], beta[:c]
		for j, e := range xr {
			or[j] = F(gamma[j]*((float64(e)-mean[j])*rstd[j]) + beta[j])
		}
	}
}

// BatchInputError is batch normalisation's input error over rows of c channels:
// dx[r*c+j] = F(gr[j]*(float64(dy[r*c+j]) - sdyInv[j] - xh*sdx[j]*inv)) with xh =
// (float64(x[r*c+j])-mean[j])*rstd[j].
func BatchInputError[F Float](x, dy, dx []F, c int, mean, rstd, gr, sdyInv, sdx []float64, inv float64) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	if x32, ok := any(x).([]float32); ok && useAVX2 && fitsRows(len(x), c) {
		d32, o32 := any(dy).([]float32), any(dx).([]float32)
		bnInputErrorAVX2(&x32[0], &d32[0], &o32[0], len(x)/c, c, &mean[:c][0], &rstd[:c][0], &gr[:c][0], &sdyInv[:c][0], &sdx[:c][0], inv)
		return
	}
	for r := 0; r+c <= len(x); r += c {
		xr, dr, or := x[r:r+c], dy[r:r+c], dx[r:r+c]
		mean, rstd, gr, sdyInv, sdx := mean[:c], rstd[:c], gr[:c], sdyInv[:c], sdx[:c]
		for j, e := range xr {
			xh := (float64(e) - mean[j]) * rstd[j]
			or[j] = F(gr[j] * (float64(dr[j]) - sdyInv[j] - xh*sdx[j]*inv))
		}
	}
}

// LayerNormalize is layer normalisation's forward pass over rows of c channels x, with
// per-row statistics: out[r*c+j] = F(gamma[j]*((float64(x[r*c+j])-mean[r])*rstd[r]) +
// beta[j]).
func LayerNormalize[F Float](x, out []F, c int, mean, rstd, gamma, beta []float64) {
	rows := len(x) / c
	out, mean, rstd = out[:rows*c], mean[:rows], rstd[:rows]
	if x32, ok := any(x).([]float32); ok && useAVX2 && fitsRows(len(x), c) {
		o32 := any(out).([]float32)
		lnNormalizeAVX2(&x32[0], &o32[0], rows, c, &mean[0], &rstd[0], &gamma[:c][0], &beta[:c][0])
		return
	}
	gamma, beta = gamma[:c], beta[:c]
	for r := range rows {
		xr, or := x[r*c:(r+1)*c], out[r*c:(r+1)*c]
		m, rs := mean[r], rstd[r]
		for j, e := range xr {
			or[j] = F(gamma[j]*((float64(e)-m)*rs) + beta[j])
		}
	}
}

// LayerInputError is layer normalisation's input error over rows of c channels, from
// the per-row statistics and sums sg (of gamma*dy) and sgx (of gamma*dy times the
// normalised input): dx[r*c+j] = F(rstd[r]*(gamma[j]*float64(dy[r*c+j]) - sg[r]*inv -
// xh*sgx[r]*inv)) with xh = (float64(x[r*c+j])-mean[r])*rstd[r].
func LayerInputError[F Float](x, dy, dx []F, c int, mean, rstd, gamma, sg, sgx []float64, inv float64) {
	rows := len(x) / c
	dy, dx = dy[:rows*c], dx[:rows*c]
	mean, rstd, sg, sgx = mean[:rows], rstd[:rows], sg[:rows], sgx[:rows]
	if x32, ok := any(x).([]float32); ok && useAVX2 && fitsRows(len(x), c) {
		d32, o32 := any(dy).([]float32), any(dx).([]float32)
		lnInputErrorAVX2(&x32[0], &d32[0], &o32[0], rows, c, &mean[0], &rstd[0], &gamma[:c][0], &sg[0], &sgx[0], inv)
		return
	}
	gamma = gamma[:c]
	for r := range rows {
		xr, dr, or := x[r*c:(r+1)*c], dy[r*c:(r+1)*c], dx[r*c:(r+1)*c]
		m, rs, g, gx := mean[r], rstd[r], sg[r], sgx[r]
		for j, e := range xr {
			xh := (float64(e) - m) * rs
			or[j] = F(rs * (gamma[j]*float64(dr[j]) - g*inv - xh*gx*inv))
		}
	}
}

// Exp replaces each value of x by math.Exp's, bit for bit: four at a time when math.Exp
// runs its FMA path (the assembly repeats that path's operations lane by lane), and
// through math.Exp itself for the values that leave its main path and on other CPUs.
func Exp(x []float64) {
	i := 0
	if useAVX2 && hasFMA {
		for i+4 <= len(x) {
			i += 4 * expAVX2(&x[i], (len(x)-i)/4)
			if i+4 <= len(x) { // four values with one off the main path
				for j := i; j < i+4; j++ {
					x[j] = math.Exp(x[j])
				}
				i += 4
			}
		}
	}
	for ; i < len(x); i++ {
		x[i] = math.Exp(x[i])
	}
}

// Range32 returns the smallest and the largest value of x as Go's min and max find
// them (-0 below +0; +Inf and -Inf when x is empty), or ok false when x holds a NaN.
// Float min and max make a chain of several dependent instructions per value; the
// same extremes come from integer keys in the values' order (orderKey32) through one
// compare each, eight lanes at a time in the assembly.
func Range32(x []float32) (lo, hi float32, ok bool) {
	kinf, kneg := orderKey32(float32(math.Inf(1))), orderKey32(float32(math.Inf(-1)))
	klo, khi := kinf, kneg
	i := 0
	if n := len(x) / block * block; useAVX2 && n > 0 {
		var lanes [2 * block]int32
		keyRange32AVX2(&x[0], n/block, &lanes)
		klo, khi = min(klo, slices.Min(lanes[:block])), max(khi, slices.Max(lanes[block:]))
		i = n
	}
	for _, v := range x[i:] {
		k := orderKey32(v)
		klo, khi = min(klo, k), max(khi, k)
	}
	// NaNs' keys lie beyond the infinities'.
	if klo < kneg || khi > kinf {
		return 0, 0, false
	}
	return fromOrderKey32(klo), fromOrderKey32(khi), true
}

// orderKey32 maps float32 values to int32 keys in the same order, -0 just below +0: a
// negative value's magnitude bits are inverted.
func orderKey32(v float32) int32 {
	b := int32(math.Float32bits(v))
	return b ^ (b >> 31 & math.MaxInt32)
}

// fromOrderKey32 inverts orderKey32.
func fromOrderKey32(k int32) float32 {
	return math.Float32frombits(uint32(k ^ (k >> 31 & math.MaxInt32)))
}

// The per-channel sums add each channel's values in row order, so their results do
// not depend on how channels are grouped: eight at a time in the assembly's lanes,
// else sumBlock with the sums in registers, else one.

// sumBlock is the number of channels the Go loops sum together.
const sumBlock = 4

// sumsFit reports whether the assembly sums channels up to j1 of n values, rows of c
// channels.
func sumsFit(n, c, j1 int) bool { return n >= c && j1 <= c }

// SumChannels adds, for channels [j0, j1) of the rows of c channels x, the values
// (as float64, in row order) to sum[j].
func SumChannels[F Float](x []F, c, j0, j1 int, sum []float64) {
	x = x[:len(x)/c*c]
	j := j0
	if x32, ok := any(x).([]float32); ok && useAVX2 && sumsFit(len(x), c, j1) {
		for ; j+8 <= j1; j += 8 {
			bnSum8AVX2(&x32[j], len(x)/c, c, &sum[j : j+8][0])
		}
	}
	for ; j+sumBlock <= j1; j += sumBlock {
		a0, a1, a2, a3 := sum[j], sum[j+1], sum[j+2], sum[j+3]
		for o := j; o < len(x); o += c {
			v := (*[sumBlock]F)(x[o : o+sumBlock])
			a0 += float64(v[0])
			a1 += float64(v[1])
			a2 += float64(v[2])
			a3 += float64(v[3])
		}
		sum[j], sum[j+1], sum[j+2], sum[j+3] = a0, a1, a2, a3
	}
	for ; j < j1; j++ {
		a := sum[j]
		for o := j; o < len(x); o += c {
			a += float64(x[o])
		}
		sum[j] = a
	}
}

// SumSquaredDevs adds, for channels [j0, j1) of the rows of c channels x, the squares
// d*d of the deviations d = float64(v)-mean[j] (in row order) to sum[j].
func SumSquaredDevs[F Float](x []F, c, j0, j1 int, mean, sum []float64) {
	x = x[:len(x)/c*c]
	j := j0
	if x32, ok := any(x).([]float32); ok && useAVX2 && sumsFit(len(x), c, j1) {
		for ; j+8 <= j1; j += 8 {
			bnSumSq8AVX2(&x32[j], len(x)/c, c, &mean[j : j+8][0], &sum[j : j+8][0])
		}
	}
	for ; j+sumBlock <= j1; j += sumBlock {
		a0, a1, a2, a3 := sum[j], sum[j+1], sum[j+2], sum[j+3]
		m0, m1, m2, m3 := mean[j], mean[j+1], mean[j+2], mean[j+3]
		for o := j; o < len(x); o += c {
			v := (*[sumBlock]F)(x[o : o+sumBlock])
			d0 := float64(v[0]) - m0
			d1 := float64(v[1]) - m1
			d2 := float64(v[2]) - m2
			d3 := float64(v[3]) - m3
			a0 += d0 * d0
			a1 += d1 * d1
			a2 += d2 * d2
			a3 += d3 * d3
		}
		sum[j], sum[j+1], sum[j+2], sum[j+3] = a0, a1, a2, a3
	}
	for ; j < j1; j++ {
		a, m := sum[j], mean[j]
		for o := j; o < len(x); o += c {
			d := float64(x[o]) - m
			a += d * d
		}
		sum[j] = a
	}
}

// BatchGradSums adds, for channels [j0, j1) of the rows of c channels x and dy (in
// row order), d = float64(dy[r*c+j]) to sdy[j] and d*((float64(x[r*c+j])-mean[j])*
// rstd[j]) to sdx[j]: batch normalisation's gradient sums.
func BatchGradSums[F Float](x, dy []F, c, j0, j1 int, mean, rstd, sdy, sdx []float64) {
	x = x[:len(x)/c*c]
	dy = dy[:len(x)]
	j := j0
	if x32, ok := any(x).([]float32); ok && useAVX2 && sumsFit(len(x), c, j1) {
		d32 := any(dy).([]float32)
		for ; j+8 <= j1; j += 8 {
			bnGradSums8AVX2(&x32[j], &d32[j], len(x)/c, c, &mean[j : j+8][0], &rstd[j : j+8][0], &sdy[j : j+8][0], &sdx[j : j+8][0])
		}
	}
	for ; j+sumBlock <= j1; j += sumBlock {
		a0, a1, a2, a3 := sdy[j], sdy[j+1], sdy[j+2], sdy[j+3]
		b0, b1, b2, b3 := sdx[j], sdx[j+1], sdx[j+2], sdx[j+3]
		m := (*[sumBlock]float64)(mean[j : j+sumBlock])
		s := (*[sumBlock]float64)(rstd[j : j+sumBlock])
		for o := j; o < len(x); o += c {
			v := (*[sumBlock]F)(x[o : o+sumBlock])
			d := (*[sumBlock]F)(dy[o : o+sumBlock])
			a0 += float64(d[0])
			b0 += float64(d[0]) * ((float64(v[0]) - m[0]) * s[0])
			a1 += float64(d[1])
			b1 += float64(d[1]) * ((float64(v[1]) - m[1]) * s[1])
			a2 += float64(d[2])
			b2 += float64(d[2]) * ((float64(v[2]) - m[2]) * s[2])
			a3 += float64(d[3])
			b3 += float64(d[3]) * ((float64(v[3]) - m[3]) * s[3])
		}
		sdy[j], sdy[j+1], sdy[j+2], sdy[j+3] = a0, a1, a2, a3
		sdx[j], sdx[j+1], sdx[j+2], sdx[j+3] = b0, b1, b2, b3
	}
	for ; j < j1; j++ {
		a, b, m, s := sdy[j], sdx[j], mean[j], rstd[j]
		for o := j; o < len(x); o += c {
			a += float64(dy[o])
			b += float64(dy[o]) * ((float64(x[o]) - m) * s)
		}
		sdy[j], sdx[j] = a, b
	}
}

// LayerGradSums is BatchGradSums for layer normalisation, whose mean and rstd are
// per row: d*((float64(x[r*c+j])-mean[r])*rstd[r]) is added to sdx[j].
func LayerGradSums[F Float](x, dy []F, c, j0, j1 int, mean, rstd, sdy, sdx []float64) {
	rows := len(x) / c
	dy = dy[:rows*c]
	j := j0
	if x32, ok := any(x).([]float32); ok && useAVX2 && sumsFit(len(x), c, j1) {
		d32 := any(dy).([]float32)
		for ; j+8 <= j1; j += 8 {
			lnGradSums8AVX2(&x32[j], &d32[j], rows, c, &mean[:rows][0], &rstd[:rows][0], &sdy[j : j+8][0], &sdx[j : j+8][0])
		}
	}
	for ; j+sumBlock <= j1; j += sumBlock {
		a0, a1, a2, a3 := sdy[j], sdy[j+1], sdy[j+2], sdy[j+3]
		b0, b1, b2, b3 := sdx[j], sdx[j+1], sdx[j+2], sdx[j+3]
		for r := range rows {
			m, s := mean[r], rstd[r]
			v := (*[sumBlock]F)(x[r*c+j : r*c+j+sumBlock])
			d := (*[sumBlock]F)(dy[r*c+j : r*c+j+sumBlock])
			a0 += float64(d[0])
			b0 += float64(d[0]) * ((float64(v[0]) - m) * s)
			a1 += float64(d[1])
			b1 += float64(d[1]) * ((float64(v[1]) - m) * s)
			a2 += float64(d[2])
			b2 += float64(d[2]) * ((float64(v[2]) - m) * s)
			a3 += float64(d[3])
			b3 += float64(d[3]) * ((float64(v[3]) - m) * s)
		}
		sdy[j], sdy[j+1], sdy[j+2], sdy[j+3] = a0, a1, a2, a3
		sdx[j], sdx[j+1], sdx[j+2], sdx[j+3] = b0, b1, b2, b3
	}
	for ; j < j1; j++ {
		a, b := sdy[j], sdx[j]
		for r := range rows {
			a += float64(dy[r*c+j])
			b += float64(dy[r*c+j]) * ((float64(x[r*c+j]) - mean[r]) * rstd[r])
		}
		sdy[j], sdx[j] = a, b
	}
}

// LayerErrorSums4 sets sg[i] and sgx[i], for the four rows x[i] and dy[i] of
// len(gamma) values, to the sums over j in order of v = gamma[j]*float64(dy[i][j]) and
// of v*((float64(x[i][j])-mean[i])*rstd[i]): layer normalisation's error sums. The
// four rows' chains of additions run side by side (in the assembly, a row a float64
// lane, when len(gamma) is a multiple of 4); each row's sums are its own.
func LayerErrorSums4[F Float](x, dy *[4][]F, gamma []float64, mean, rstd *[4]float64, sg, sgx *[4]float64) {
	c := len(gamma)
	if x32, ok := any(x).(*[4][]float32); ok && useAVX2 && c >= 4 && c%4 == 0 {
		d32 := any(dy).(*[4][]float32)
		var xp, dp [4]*float32
		for i := range 4 {
			xp[i], dp[i] = &x32[i][:c][0], &d32[i][:c][0]
		}
		stats := [8]float64{mean[0], mean[1], mean[2], mean[3], rstd[0], rstd[1], rstd[2], rstd[3]}
		var sums [8]float64
		lnErrorSums4AVX2(&xp, &dp, c, &gamma[0], &stats, &sums)
		copy(sg[:], sums[:4])
		copy(sgx[:], sums[4:])
		return
	}
	x0, x1, x2, x3 := x[0][:c], x[1][:c], x[2][:c], x[3][:c]
	d0, d1, d2, d3 := dy[0][:c], dy[1][:c], dy[2][:c], dy[3][:c]
	m0, m1, m2, m3 := mean[0], mean[1], mean[2], mean[3]
	s0, s1, s2, s3 := rstd[0], rstd[1], rstd[2], rstd[3]
	var g0, g1, g2, g3, h0, h1, h2, h3 float64
	for j, gm := range gamma {
		v0, v1, v2, v3 := gm*float64(d0[j]), gm*float64(d1[j]), gm*float64(d2[j]), gm*float64(d3[j])
		g0 += v0
		g1 += v1
		g2 += v2
		g3 += v3
		h0 += v0 * ((float64(x0[j]) - m0) * s0)
		h1 += v1 * ((float64(x1[j]) - m1) * s1)
		h2 += v2 * ((float64(x2[j]) - m2) * s2)
		h3 += v3 * ((float64(x3[j]) - m3) * s3)
	}
	*sg, *sgx = [4]float64{g0, g1, g2, g3}, [4]float64{h0, h1, h2, h3}
}

// FakeQuant quantises x into out on the grid of step s from qlo to qhi (qlo <= 0 <=
// qhi): out[i] = F(Round((min(max(float64(x[i]), qlo), qhi)-qlo)/s)*s + qlo), Go's
// min and max. The assembly's min and max differ from Go's only on NaNs, which it
// leaves to the Go loop, and on zeros of opposite signs: there the clamped value is a
// zero of either sign, but either gives the same result, its difference from qlo
// being -0 only for -0 - +0, where the result is -0 + +0 = +0 as Go's +0 gives.
func FakeQuant[F Float](x, out []F, qlo, qhi, s float64) {
	out = out[:len(x)]
	x32, fast := any(x).([]float32)
	o32, _ := any(out).([]float32)
	fast = fast && useAVX2
	inv := 1 / s
	margin := (qhi - qlo) * inv * 0x1p-50
	est, estimate := newQuantEstimate(qlo, qhi, s, inv)
	estimate = estimate && fast
	for j := 0; j < len(x); j++ {
		if estimate && len(x)-j >= 8 {
			if j += quantEst32AVX2(&x32[j], &o32[j], len(x)-j, est.lo, est.hi, est.qlo, est.inv, est.near, qlo, s); j == len(x) {
				break
			}
			if len(x)-j < 8 {
				j--
				continue
			}
			// An eight the estimate leaves (a NaN, or a quotient near a half-integer).
			if k := quant32AVX2(&x32[j], &o32[j], 8, qlo, qhi, s, inv, margin); k == 8 {
				j += 7
				continue
			}
		} else if fast && len(x)-j >= 8 {
			if j += quant32AVX2(&x32[j], &o32[j], len(x)-j, qlo, qhi, s, inv, margin); j == len(x) {
				break
			}
		}
		c := min(max(float64(x[j]), qlo), qhi)
		out[j] = F(Round((c-qlo)/s)*s + qlo)
	}
}

// quantEstimate holds the float32 parameters of quantEst32AVX2, which estimates a
// value's level, the quotient q = (c-qlo)/s of its clamped value c, in float32: the
// value clamped to [lo, hi] (qlo and qhi rounded outward), less qlo rounded to
// float32, times 1/s rounded to float32. Three float32 roundings and that of qlo make
// the estimate differ from q by at most (q + z)*3*2^-24 + 2^-49, where z = -qlo/s
// (the relative errors of normal float32 results; subnormal ones err by 2^-150 at
// most, times 1/s <= 2^100); a value between qhi and hi (or lo and qlo) moves it by
// at most an ulp of qhi (qlo) times 1/s more, under 256*2^-23. With q and z at most
// 256 (QAT's 8-bit grids: 255), that is below 2^-12 in all: an estimate more than
// 2^-12 from a half-integer rounds to the same integer as q, Round's level (so no
// level falls outside 0..Round((qhi-qlo)/s)); the kernel leaves the rest, and NaNs,
// to the float64 path.
type quantEstimate struct {
	lo, hi, qlo, inv, near float32
}

// newQuantEstimate returns the estimate's parameters, and whether the grid allows it.
func newQuantEstimate(qlo, qhi, s, inv float64) (quantEstimate, bool) {
	q, z := (qhi-qlo)*inv, -qlo*inv
	if !(q <= 256 && z <= 256 && z >= 0 && inv <= 0x1p100 && s > 0) {
		return quantEstimate{}, false
	}
	lo, hi := float32(qlo), float32(qhi)
	if float64(lo) > qlo {
		lo = math.Nextafter32(lo, float32(math.Inf(-1)))
	}
	if float64(hi) < qhi {
		hi = math.Nextafter32(hi, float32(math.Inf(1)))
	}
	return quantEstimate{lo: lo, hi: hi, qlo: float32(qlo), inv: float32(inv), near: 0.5 - 0x1p-12}, true
}

// QuantizeSym is QAT's symmetric weight quantisation: out[i] = Round(float64(x[i])/s)*s.
// The assembly takes float32 values four at a time when s > 0 and 1/s are finite and
// x holds no infinity or NaN (checked with Range32); the Go loop takes the rest.
func QuantizeSym[F Float](x []F, out []float64, s float64) {
	out = out[:len(x)]
	j := 0
	inv := 1 / s
	if x32, ok := any(x).([]float32); ok && useAVX2 && len(x) >= 4 && !math.IsInf(s, 0) && !math.IsInf(inv, 0) && s > 0 {
		if lo, hi, ok := Range32(x32); ok && !math.IsInf(float64(lo), 0) && !math.IsInf(float64(hi), 0) {
			j = len(x) / 4 * 4
			quantSym32AVX2(&x32[0], &out[0], j/4, s, inv)
		}
	}
	for ; j < len(x); j++ {
		out[j] = Round(float64(x[j])/s) * s
	}
}

// ClipMask is QAT's straight-through mask: it zeroes dx[i] where float64(x[i]) < qlo
// or > qhi (false for NaNs). The assembly compares float32 values with float32 bounds,
// eight at a time: for a float32 x, float64(x) < qlo exactly when x is below the
// smallest float32 at least qlo (ceil32), and likewise above.
func ClipMask[F Float](x, dx []F, qlo, qhi float64) {
	dx = dx[:len(x)]
	j := 0
	if x32, ok := any(x).([]float32); ok && useAVX2 {
		if j = len(x) / block * block; j > 0 {
			clipMask32AVX2(&x32[0], &any(dx).([]float32)[0], j/block, ceil32(qlo), floor32(qhi))
		}
	}
	for ; j < len(x); j++ {
		if f := float64(x[j]); f < qlo || f > qhi {
			dx[j] = 0
		}
	}
}

// ceil32 returns the smallest float32 at least q (NaN for NaN).
func ceil32(q float64) float32 {
	f := float32(q)
	if float64(f) < q {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return f
}

// floor32 returns the largest float32 at most q (NaN for NaN).
func floor32(q float64) float32 {
	f := float32(q)
	if float64(f) > q {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return f
}

// Round is math.Round (half away from zero) through math.Trunc, which the compiler
// turns into one instruction: x - Trunc(x) is exact, so the result is the same for
// every float64, zeros, infinities and NaN included. Whether the fraction reaches one
// half is as good as random, so it selects the addend, ±1 or a zero of x's sign
// (which leaves Trunc(x) as it is, -0 included), with a mask rather than a branch.
func Round(x float64) float64 {
	t := math.Trunc(x)
	var half uint64
	if math.Abs(x-t) >= 0.5 {
		half = 1
	}
	one := math.Float64bits(x)&(1<<63) | math.Float64bits(1)&-half
	return t + math.Float64frombits(one)
}
