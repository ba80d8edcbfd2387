package kernels

import "github.com/rctsim/rctsim/hw"

// A GEMM dimension is one of three kinds, and a tile of it is a range that respects the
// kind's structure, so that the DMA can fetch it as a few rectangular regions:
//   - flat: any range of a plain index (features, channels);
//   - groups: whole groups of g consecutive indices (a channel and its kh*kw window
//     positions in an im2col reduction);
//   - spatial: output positions (image, row, column), tiled by whole rows of one image
//     or by whole images.
type dimKind uint8

const (
	dimFlat dimKind = iota
	dimGroups
	dimSpatial
)

type dim struct {
	kind dimKind
	// groups: count groups of g; flat: count values (g = 1).
	count, g int64
	// spatial: images x h x w.
	images, h, w int64
}

func flatDim(n int64) dim               { return dim{kind: dimFlat, count: n, g: 1} }
func groupDim(channels, g int64) dim    { return dim{kind: dimGroups, count: channels, g: g} }
func spatialDim(images, h, w int64) dim { return dim{kind: dimSpatial, images: images, h: h, w: w} }
func (d dim) imageSize() int64          { return d.h * d.w }
func (d dim) size() int64 {
	if d.kind == dimSpatial {
		return d.images * d.h * d.w
	}
	return d.count * d.g
}

// tile is a range of a dimension. lo/hi index the flattened dimension; for groups and
// flat dims c0/c1 is the range of channels (groups); for spatial dims n0/n1 are images
// and h0/h1 rows (full rows always). grp is the independent product the tile belongs
// to when a kernel repeats one GEMM shape over different data (the groups of a grouped
// convolution, the (example, head) pairs of attention; see gemmKernel.groups), 0
// otherwise: the ranges are then within that product's operands.
type tile struct {
	lo, hi int64
	c0, c1 int64
	n0, n1 int64
	h0, h1 int64
	grp    int64
}

func (t tile) len() int64 { return t.hi - t.lo }

// candidates lists the tile sizes a dimension allows, largest first.
func (d dim) candidates() []int64 {
	var out []int64
	add := func(v int64) {
		if v > 0 && (len(out) == 0 || out[len(out)-1] > v) {
			out = append(out, v)
		}
	}
	parts := func(n int64, unit int64) {
		for k := int64(1); k <= n; {
			add(ceilDiv(n, k) * unit)
			// Dense steps while tiles are large, geometric steps after.
			if k < 16 {
				k++
			} else {
				k *= 2
			}
		}
		add(unit)
	}
	switch d.kind {
	case dimSpatial:
		parts(d.images, d.imageSize())
		if d.h > 1 {
			// Below one image: whole rows.
			for k := int64(2); k <= d.h; {
				add(ceilDiv(d.h, k) * d.w)
				if k < 16 {
					k++
				} else {
					k *= 2
				}
			}
			add(d.w)
		}
	default:
		parts(d.count, d.g)
	}
	return out
}

// tileCount is len(d.tiles(t)), without cutting them.
func (d dim) tileCount(t int64) int64 {
	switch {
	case d.kind != dimSpatial:
		return ceilDiv(d.count, max(t/d.g, 1))
	case t >= d.imageSize():
		return ceilDiv(d.images, t/d.imageSize())
	}
	return hw.MulSat(d.images, ceilDiv(d.h, max(t/d.w, 1)))
}

// tiles cuts the dimension into tiles of size t (a value from candidates).
func (d dim) tiles(t int64) []tile {
	var out []tile
	switch d.kind {
	case dimSpatial:
		img := d.imageSize()
		if t >= img {
			per := t / img
			for n := int64(0); n < d.images; n += per {
				n1 := min(n+per, d.images)
				out = append(out, tile{lo: n * img, hi: n1 * img, n0: n, n1: n1, h0: 0, h1: d.h})
			}
			return out
		}
		rows := max(t/d.w, 1)
		for n := int64(0); n < d.images; n++ {
			for h := int64(0); h < d.h; h += rows {
				h1 := min(h+rows, d.h)
				out = append(out, tile{lo: n*img + h*d.w, hi: n*img + h1*d.w, n0: n, n1: n + 1, h0: h, h1: h1})
			}
		}
	default:
		per := max(t/d.g, 1)
		for c := int64(0); c < d.count; c += per {
			c1 := min(c+per, d.count)
			out = append(out, tile{lo: c * d.g, hi: c1 * d.g, c0: c, c1: c1})
		}
	}
	return out
}

// samples returns representative tiles of size t, for sizing SRAM slots without
// enumerating every tile: the first one and, for row tiles, the second one (which
// carries a full convolution halo where the first is clipped at the image border).
func (d dim) samples(t int64) []tile {
	switch {
	case d.kind != dimSpatial:
		per := max(t/d.g, 1)
		c1 := min(per, d.count)
		return []tile{{lo: 0, hi: c1 * d.g, c0: 0, c1: c1}}
	case t >= d.imageSize():
		per := min(t/d.imageSize(), d.images)
		return []tile{{lo: 0, hi: per * d.imageSize(), n0: 0, n1: per, h0: 0, h1: d.h}}
	}
	rows := max(t/d.w, 1)
	first := tile{lo: 0, hi: rows * d.w, n0: 0, n1: 1, h0: 0, h1: min(rows, d.h)}
	if rows >= d.h {
		return []tile{first}
	}
	h1 := min(2*rows, d.h)
	return []tile{first, {lo: rows * d.w, hi: h1 * d.w, n0: 0, n1: 1, h0: rows, h1: h1}}
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
