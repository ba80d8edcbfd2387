// Multi-head self-attention on the float path (the integer path is in
// attention_int.go).
//
// An Attention layer over a sequence {D, 1, T} (NHWC: T rows of D channels per
// example) holds four projection matrices in the order Wq, Wk, Wv, Wo, each D x D in
// PyTorch's nn.Linear layout [out][in], and their four biases. Per example:
//
//	[Q K V] = x [Wq Wk Wv]^T + [bq bk bv]          one GEMM, T x 3D
//	S_h     = Q_h K_h^T / sqrt(dh)                  per head h, T x T
//	P_h     = softmax(S_h) by rows                  causal: key j > query i masked
//	O_h     = P_h V_h                               T x dh, heads side by side in O
//	y       = O Wo^T + bo
//
// Backward, with dS_h = P_h∘(dP_h - rowsum(dP_h∘P_h)) / sqrt(dh):
//
//	dO = dy Wo;  dWo = dy^T O;  dP_h = dO_h V_h^T;  dV_h = P_h^T dO_h
//	dQ_h = dS_h K_h;  dK_h = dS_h^T Q_h;  [dWq dWk dWv] = [dQ dK dV]^T x
//	dx = [dQ dK dV] [Wq Wk Wv]
//
// Q, K, V and their errors live side by side in T x 3D matrices, so that the
// projections and their gradients are one GEMM each.

package train

import (
	"math"

	"github.com/rctsim/rctsim/models"
	kgemm "github.com/rctsim/rctsim/train/gemm"
	"github.com/rctsim/rctsim/train/vec"
)

// attnGeom is an Attention layer's shape: d channels, t positions, heads of dh.
type attnGeom struct {
	d, t, heads, dh int
	causal          bool
}

func newAttnGeom(l *models.Layer) *attnGeom {
	h := max(l.Heads, 1)
	return &attnGeom{d: l.In.C, t: l.In.W, heads: h, dh: l.In.C / h, causal: l.Causal}
}

// valid is the number of keys query row i sees.
func (a *attnGeom) valid(i int) int {
	if a.causal {
		return i + 1
	}
	return a.t
}

// attnFloat holds what a float attention layer's forward pass saves and its
// backward pass's scratch, for up to capN examples.
// Its tensors are of the path's storage type F (float32 in training), and so are the
// products: float32 FMA chains with package gemm, float64 through gonum for the
// gradient checks (mulF).
type attnFloat[F floatT] struct {
	x   []F // the input the projections read (fake-quantised under QAT)
	qkv []F // [Q K V], n*T x 3D
	p   []F // probabilities, n*H x T x T
	o   []F // context O, n*T x D
	oq  []F // O as Wo reads it (fake-quantised under QAT; else o)
	dy  []F
	dO  []F
	dp  []F // per (example, head): dP, then dS
	dqk []F // [dQ dK dV], n*T x 3D
	y   []F
	gw  []F // the projections' gradients
}

func newAttnFloat[F floatT](a *attnGeom, n int, qat bool) *attnFloat[F] {
	rows := n * a.t
	s := &attnFloat[F]{x: make([]F, rows*a.d), qkv: make([]F, rows*3*a.d), p: make([]F, n*a.heads*a.t*a.t),
		o: make([]F, rows*a.d), dy: make([]F, rows*a.d), dO: make([]F, rows*a.d),
		dp: make([]F, n*a.heads*a.t*a.t), dqk: make([]F, rows*3*a.d), y: make([]F, rows*a.d), gw: make([]F, 4*a.d*a.d)}
	s.oq = s.o
	if qat {
		s.oq = make([]F, rows*a.d)
	}
	return s
}

// mulF is C = op(A) op(B) in the float path's type: package gemm's float32 kernels, or
// float64 through gonum (gemm, with split as its scratch).
func mulF[F floatT](transA, transB bool, m, n, k int, a []F, lda int, b []F, ldb int, c []F, ldc int, split []float64) {
	switch a := any(a).(type) {
	case []float32:
		kgemm.F32(transA, transB, m, n, k, a, lda, any(b).([]float32), ldb, any(c).([]float32), ldc)
	case []float64:
		gemm(transA, transB, m, n, k, a, lda, any(b).([]float64), ldb, any(c).([]float64), ldc, split)
	}
}

// attnForwardFloat runs the layer on the n examples in s.x and leaves the output
// (before any conversion) in s.y. quantCtx, when not nil, fake-quantises the context
// from s.o into s.oq.
func attnForwardFloat[F floatT](a *attnGeom, s *attnFloat[F], n int, w []F, b64, split []float64, quantCtx func(o, oq []F)) {
	d, t, rows := a.d, a.t, n*a.t
	mulF(false, true, rows, 3*d, d, s.x, d, w[:3*d*d], d, s.qkv, 3*d, split)
	if b64 != nil {
		vec.AddRowBias(s.qkv[:rows*3*d], b64[:3*d])
	}
	scale := 1 / math.Sqrt(float64(a.dh))
	parallel(n*a.heads, 1, func(j0, j1 int) {
		exps := make([]float64, t)
		for j := j0; j < j1; j++ {
			b, h := j/a.heads, j%a.heads
			base := b*t*3*d + h*a.dh
			q, k, v := s.qkv[base:], s.qkv[base+d:], s.qkv[base+2*d:]
			p := s.p[j*t*t : (j+1)*t*t]
			mulF(false, true, t, t, a.dh, q, 3*d, k, 3*d, p, t, nil)
			for i := range t {
				softmaxRow(p[i*t:(i+1)*t], a.valid(i), scale, exps)
			}
			mulF(false, false, t, a.dh, t, p, t, v, 3*d, s.o[b*t*d+h*a.dh:], d, nil)
		}
	})
	if quantCtx != nil {
		quantCtx(s.o[:rows*d], s.oq[:rows*d])
	}
	mulF(false, true, rows, d, d, s.oq, d, w[3*d*d:], d, s.y, d, split)
	if b64 != nil {
		vec.AddRowBias(s.y[:rows*d], b64[3*d:])
	}
}

// softmaxRow replaces the first `valid` values of a row of scores z by
// softmax(scale*z) and zeroes the rest (masked keys).
// It computes in float64, in buf (at least valid long), and stores F.
func softmaxRow[F floatT](z []F, valid int, scale float64, buf []float64) {
	zmax := math.Inf(-1)
	for _, v := range z[:valid] {
		zmax = max(zmax, float64(v))
	}
	buf = buf[:valid]
	for j, v := range z[:valid] {
		buf[j] = (float64(v) - zmax) * scale
	}
	vec.Exp(buf)
	var sum float64
	for _, e := range buf {
		sum += e
	}
	for j, v := range buf {
		z[j] = F(v / sum)
	}
	clear(z[valid:])
}

// attnBackwardFloat computes the gradients of the four projections (gw, canonical)
// and their biases (gb, when not nil) and, when dx is not nil, the input's error, from
// the output error in s.dy. steCtx, when not nil, masks the context's error where QAT
// clipped the context.
func attnBackwardFloat[F floatT](a *attnGeom, s *attnFloat[F], n int, w []F, split, gw, gb []float64, steCtx func(dO []F), dx []F) {
	d, t, rows := a.d, a.t, n*a.t
	dy := s.dy[:rows*d]
	g := s.gw
	mulF(true, false, d, d, rows, dy, d, s.oq, d, g[3*d*d:], d, split)
	if gb != nil {
		floatChannelSums(dy, d, rows, gb[3*d:4*d])
	}
	mulF(false, false, rows, d, d, dy, d, w[3*d*d:], d, s.dO, d, split)
	if steCtx != nil {
		steCtx(s.dO[:rows*d])
	}
	scale := 1 / math.Sqrt(float64(a.dh))
	parallel(n*a.heads, 1, func(j0, j1 int) {
		for j := j0; j < j1; j++ {
			b, h := j/a.heads, j%a.heads
			base := b*t*3*d + h*a.dh
			q, k, v := s.qkv[base:], s.qkv[base+d:], s.qkv[base+2*d:]
			dq, dk, dv := s.dqk[base:], s.dqk[base+d:], s.dqk[base+2*d:]
			dO := s.dO[b*t*d+h*a.dh:]
			p := s.p[j*t*t : (j+1)*t*t]
			dp := s.dp[j*t*t : (j+1)*t*t]
			mulF(false, true, t, t, a.dh, dO, d, v, 3*d, dp, t, nil)
			mulF(true, false, t, a.dh, t, p, t, dO, d, dv, 3*d, nil)
			for i := range t {
				pr, dr := p[i*t:(i+1)*t], dp[i*t:(i+1)*t]
				var sum float64
				for jj, pv := range pr {
					sum += float64(pv) * float64(dr[jj])
				}
				for jj, pv := range pr {
					dr[jj] = F(float64(pv) * (float64(dr[jj]) - sum) * scale)
				}
			}
			mulF(false, false, t, a.dh, t, dp, t, k, 3*d, dq, 3*d, nil)
			mulF(true, false, t, a.dh, t, dp, t, q, 3*d, dk, 3*d, nil)
		}
	})
	dqk := s.dqk[:rows*3*d]
	mulF(true, false, 3*d, d, rows, dqk, 3*d, s.x, d, g[:3*d*d], d, split)
	if gb != nil {
		floatChannelSums(dqk, 3*d, rows, gb[:3*d])
	}
	convertAll(gw, g)
	if dx != nil {
		mulF(false, false, rows, d, 3*d, dqk, 3*d, w[:3*d*d], d, dx[:rows*d], d, split)
	}
}
