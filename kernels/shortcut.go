package kernels

import (
	"fmt"

	"github.com/rctsim/rctsim/models"
)

// A ShortcutAdd (ResNet's option A) adds the output of layer From, subsampled by S in
// both directions and placed P channels in, to its input. Forward streams the output
// in chunks of examples and channels: the input's chunk and the skip's channels that
// fall in it, of which the DMA fetches every S-th row (whole rows: the vector unit
// drops the columns between). Backward passes the error through unchanged and keeps
// the part of it that belongs to the skip, dy[P:P+Cs] at the subsampled positions, in
// a compact tensor of the output's resolution; when the backward pass reaches layer
// From, the merge scatters it onto every S-th row and column of that layer's error.

// everyNthRow returns the DMA regions of rows 0, s, 2s, ... (rows of them, full width)
// of images [n0,n1) and channels [c0,c1) of a.
func (a act4) everyNthRow(n0, n1, c0, c1, s, rows int64) []region {
	if s == 1 {
		return a.regions(n0, n1, c0, c1, 0, rows)
	}
	rowBytes := a.w * a.elemBytes
	plane := a.h * rowBytes
	at := func(n, c int64) uint64 { return a.base + uint64(n*a.imageBytes()+c*plane) }
	if a.h == s*rows {
		// Then the rows a channel keeps continue at the same stride into the next
		// channel's, and the next image's: one strided region per image, or one for
		// all of them when the chunk holds every channel.
		if c0 == 0 && c1 == a.c {
			return []region{{tensor: a.tensor, addr: at(n0, 0), rows: (n1 - n0) * a.c * rows, rowBytes: rowBytes, stride: s * rowBytes}}
		}
		out := make([]region, 0, n1-n0)
		for n := n0; n < n1; n++ {
			out = append(out, region{tensor: a.tensor, addr: at(n, c0), rows: (c1 - c0) * rows, rowBytes: rowBytes, stride: s * rowBytes})
		}
		return out
	}
	out := make([]region, 0, (n1-n0)*(c1-c0))
	for n := n0; n < n1; n++ {
		for c := c0; c < c1; c++ {
			out = append(out, region{tensor: a.tensor, addr: at(n, c), rows: rows, rowBytes: rowBytes, stride: s * rowBytes})
		}
	}
	return out
}

// shortcutGeometry returns a ShortcutAdd's subsampling and channel offset, and the
// output of the layer it adds.
func (c *compiler) shortcutGeometry(i int) (s, pad int64, skip act4) {
	l := &c.net.Layers[i]
	return int64(max(l.Stride, 1)), int64(l.Padding), c.out[l.From]
}

func (c *compiler) forwardShortcut(i int) error {
	c.beginKernel(i, models.Forward)
	l := &c.net.Layers[i]
	s, pad, skip := c.shortcutGeometry(i)
	rows := int64(l.Out.H)
	act := func(v act4) streamIn { return streamIn{v: v, class: ClassActivations, bits: c.num.actBits} }
	sub := act(skip)
	sub.at = func(n0, n1, c0, c1 int64) []region {
		// The output's channels [c0,c1) hold the skip's channels [c0-pad, c1-pad).
		lo, hi := max(c0-pad, 0), min(c1-pad, skip.c)
		if lo >= hi {
			return nil
		}
		return skip.everyNthRow(n0, n1, lo, hi, s, rows)
	}
	return c.emitStream(&streamKernel{images: c.batch, channels: int64(l.Out.C), split: true, vop: VAdd,
		ins: []streamIn{act(c.inputOf(i)), sub}, out: act(c.out[i])})
}

// backwardShortcut keeps the skip's part of the error (dy, the error of the layer's
// output) for layer From; the error itself passes to the previous layer unchanged.
func (c *compiler) backwardShortcut(i int, dy act4) error {
	c.beginKernel(i, models.BackwardData)
	l := &c.net.Layers[i]
	_, pad, skip := c.shortcutGeometry(i)
	h, w := int64(l.Out.H), int64(l.Out.W)
	compact := c.newAct(fmt.Sprintf("%s.skip_error", l.Name), ClassErrors, i, models.Shape{C: int(skip.c), H: l.Out.H, W: l.Out.W}, c.num.errBits)
	from := streamIn{v: dy, class: ClassErrors, bits: c.num.errBits,
		at: func(n0, n1, c0, c1 int64) []region { return dy.regions(n0, n1, c0+pad, c1+pad, 0, h) }}
	// The merge at layer From reads, for its chunk of channels, those channels of the
	// compact error: every row, to scatter onto every S-th of its own.
	c.skips[l.From] = append(c.skips[l.From], streamIn{v: compact, class: ClassErrors, bits: c.num.errBits,
		at: func(n0, n1, c0, c1 int64) []region { return compact.regions(n0, n1, c0, c1, 0, compact.h) }})
	return c.emitStream(&streamKernel{images: c.batch, channels: skip.c, split: true, vop: VCopy,
		ins: []streamIn{from}, out: streamIn{v: compact, class: ClassErrors, bits: c.num.errBits}, elemsPerUnit: h * w})
}
