package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// col2imDef is col2im by its definition: tap by tap, in output-row, output-column,
// kernel-row, kernel-column order.
func col2imDef[E elem | int64](g *convGeom, dp []E, n int, dx []E) {
	for b := range n {
		img := dx[b*g.inElems() : (b+1)*g.inElems()]
		clear(img)
		for oh := range g.ho {
			for ow := range g.wo {
				row := dp[((b*g.ho+oh)*g.wo+ow)*g.k:][:g.k]
				g.forTaps(oh, ow, func(tap, ipos int) {
					for c := range g.cin {
						img[ipos*g.cin+c] += row[tap*g.cin+c]
					}
				})
			}
		}
	}
}

// testGeoms are convolution geometries with and without padding, strided, with one
// input channel, of odd sizes, with kernels as large as the input.
func testGeoms() []*convGeom {
	var gs []*convGeom
	for _, s := range []struct{ cin, h, w, kh, kw, stride, padT, padL, padB, padR int }{
		{1, 32, 32, 5, 5, 1, 0, 0, 0, 0},
		{6, 14, 14, 5, 5, 1, 0, 0, 0, 0},
		{1, 11, 9, 5, 5, 1, 2, 2, 2, 2},
		{3, 7, 6, 3, 3, 1, 1, 1, 1, 1},
		{5, 9, 9, 3, 3, 2, 1, 1, 1, 1},
		{1, 10, 7, 3, 3, 2, 0, 0, 0, 0},
		{2, 9, 13, 3, 4, 3, 1, 2, 1, 2},
		{3, 5, 5, 5, 5, 1, 4, 4, 4, 4},
		{17, 1, 20, 1, 4, 1, 0, 3, 0, 0},
		{4, 6, 6, 2, 2, 2, 0, 0, 0, 0},
	} {
		g := &convGeom{cin: s.cin, h: s.h, w: s.w, cout: 3, kh: s.kh, kw: s.kw, stride: s.stride, padT: s.padT, padL: s.padL}
		g.ho = (s.h+s.padT+s.padB-s.kh)/s.stride + 1
		g.wo = (s.w+s.padL+s.padR-s.kw)/s.stride + 1
		g.k = s.cin * s.kh * s.kw
		gs = append(gs, g)
	}
	return gs
}

// TestCol2imMatchesDefinition checks col2im against its definition, bit for bit for
// float32 (the same order of sums) and exactly for integers.
func TestCol2imMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	const n = 3
	for _, g := range testGeoms() {
		dp := make([]float32, n*g.positions()*g.k)
		di := make([]int32, len(dp))
		for i := range dp {
			dp[i] = float32(r.NormFloat64())
			di[i] = int32(r.IntN(1<<20) - 1<<19)
		}
		want, got := make([]float32, n*g.inElems()), make([]float32, n*g.inElems())
		for i := range got {
			got[i] = float32(i) // overwritten
		}
		col2imDef(g, dp, n, want)
		col2im(g, dp, n, got)
		if !slices.EqualFunc(got, want, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) }) {
			t.Errorf("%+v: float32 col2im differs from the definition", *g)
		}
		wi, gi := make([]int32, n*g.inElems()), make([]int32, n*g.inElems())
		col2imDef(g, di, n, wi)
		col2im(g, di, n, gi)
		if !slices.Equal(gi, wi) {
			t.Errorf("%+v: int32 col2im differs from the definition", *g)
		}
	}
}
