// Option-A shortcuts and position embeddings: the two layers that add something to
// their input without a GEMM, shared by the float and integer paths.

package train

import "github.com/rctsim/rctsim/models"

// shortcutGeom is a ShortcutAdd's mapping from its skip operand s ({cs, hs, ws}, the
// output of layer From) to its output ({c, h, w}): out channel c reads s's channel
// c-pad at row h*stride and column w*stride, for pad <= c < pad+cs; the other channels
// get nothing (models.ShortcutAdd).
type shortcutGeom struct {
	c, h, w      int
	cs, hs, ws   int
	stride, pad  int
	from         int
	identityCopy bool // the mapping is the identity (same shape, stride 1, no offset)
}

func newShortcutGeom(net *models.Network, l *models.Layer) *shortcutGeom {
	s := net.Layers[l.From].Out
	g := &shortcutGeom{c: l.Out.C, h: l.Out.H, w: l.Out.W, cs: s.C, hs: s.H, ws: s.W, stride: max(l.Stride, 1), pad: l.Padding, from: l.From}
	g.identityCopy = g.stride == 1 && g.pad == 0 && g.cs == g.c && g.hs == g.h && g.ws == g.w
	return g
}

// shortcutGather writes the skip operand of n examples mapped onto the output's
// shape into out, zero where no skip value lands.
func shortcutGather[T int8 | float32 | float64](g *shortcutGeom, skip []T, n int, out []T) {
	if g.identityCopy {
		copy(out[:n*g.c*g.h*g.w], skip)
		return
	}
	for b := range n {
		for oh := range g.h {
			for ow := range g.w {
				o := out[((b*g.h+oh)*g.w+ow)*g.c:][:g.c]
				clear(o)
				src := skip[((b*g.hs+oh*g.stride)*g.ws+ow*g.stride)*g.cs:][:g.cs]
				copy(o[g.pad:g.pad+g.cs], src)
			}
		}
	}
}

// shortcutScatter is shortcutGather's adjoint: the error of the skip operand of n
// examples from the output's error dy, zero at the positions the subsampling skips.
func shortcutScatter[T int8 | float32 | float64](g *shortcutGeom, dy []T, n int, dskip []T) {
	if g.identityCopy {
		copy(dskip[:n*g.cs*g.hs*g.ws], dy)
		return
	}
	clear(dskip[:n*g.cs*g.hs*g.ws])
	for b := range n {
		for oh := range g.h {
			for ow := range g.w {
				src := dy[((b*g.h+oh)*g.w+ow)*g.c:][:g.c]
				copy(dskip[((b*g.hs+oh*g.stride)*g.ws+ow*g.stride)*g.cs:][:g.cs], src[g.pad:g.pad+g.cs])
			}
		}
	}
}

// posTable writes a position embedding's canonical table w ([C][positions], one
// example's channel-major layout) in the NHWC order of one example, dst[p*C+c].
func posTable[T int32 | float32 | float64, D int32 | float32 | float64](w []T, c, positions int, dst []D) {
	for ch := range c {
		for p := range positions {
			dst[p*c+ch] = D(w[ch*positions+p])
		}
	}
}

// posGrad sums the NHWC error of n examples into a position embedding's canonical
// gradient ([C][positions]).
func posGrad[T int8 | float32 | float64, A int32 | float64](dy []T, n, c, positions int, grad []A) {
	clear(grad[:c*positions])
	for b := range n {
		ex := dy[b*c*positions:]
		for p := range positions {
			for ch, v := range ex[p*c : (p+1)*c] {
				grad[ch*positions+p] += A(v)
			}
		}
	}
}

// channelSlice copies channels [lo, hi) of each of positions positions of c channels
// (channels last) from src into dst (hi-lo per position): a Concat's split of its
// output's error.
func channelSlice[T int8 | float32 | float64](src []T, positions, c, lo, hi int, dst []T) {
	w := hi - lo
	for q := range positions {
		copy(dst[q*w:(q+1)*w], src[q*c+lo:q*c+hi])
	}
}

// concatForward joins a (ca channels) and b (cb channels) at each of positions
// positions, a's first (models.Concat).
func concatForward[T int8 | float32 | float64](a []T, ca int, b []T, cb, positions int, out []T) {
	c := ca + cb
	for q := range positions {
		copy(out[q*c:q*c+ca], a[q*ca:(q+1)*ca])
		copy(out[q*c+ca:(q+1)*c], b[q*cb:(q+1)*cb])
	}
}
