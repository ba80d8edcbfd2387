package kernels

import (
	"fmt"

	"github.com/rctsim/rctsim/models"
)

// concatPart is the part of a Concat's output channels [lo, lo+v.c) that tensor v
// fills, as a stream input over the output's channels: a chunk of channels reads v's
// share of it, nothing where v has no channels.
func concatPart(v act4, lo int64, class TensorClass, bits int) streamIn {
	return streamIn{v: v, class: class, bits: bits, at: func(n0, n1, c0, c1 int64) []region {
		a, b := max(c0, lo)-lo, min(c1, lo+v.c)-lo
		return v.regions(n0, n1, a, b, 0, v.h)
	}}
}

// forwardConcat copies layer From's output and the layer's input into the output's
// channels, From's first (models.Concat): one pass of the vector unit over the output.
func (c *compiler) forwardConcat(i int) error {
	c.beginKernel(i, models.Forward)
	l := &c.net.Layers[i]
	from, in := c.out[l.From], c.inputOf(i)
	bits := c.num.actBits
	return c.emitStream(&streamKernel{images: c.batch, channels: int64(l.Out.C), split: true, vop: VCopy,
		ins: []streamIn{concatPart(from, 0, ClassActivations, bits), concatPart(in, from.c, ClassActivations, bits)},
		out: streamIn{v: c.out[i], class: ClassActivations, bits: bits}, elemsPerUnit: int64(l.Out.H) * int64(l.Out.W)})
}

// backwardConcat splits the output's error (dy): its last In.C channels are the
// input's error (dx), its first channels are kept for layer From, whose error the
// backward pass completes when it gets there.
func (c *compiler) backwardConcat(i int, dy, dx act4) error {
	c.beginKernel(i, models.BackwardData)
	l := &c.net.Layers[i]
	bits := c.num.errBits
	f := c.net.Layers[l.From].Out
	cf := int64(f.C)
	hw := int64(l.Out.H) * int64(l.Out.W)
	kept := c.newAct(fmt.Sprintf("%s.from_error", l.Name), ClassErrors, i, f, bits)
	c.skips[l.From] = append(c.skips[l.From], streamIn{v: kept, class: ClassErrors, bits: bits})
	slice := func(lo int64) streamIn {
		return streamIn{v: dy, class: ClassErrors, bits: bits, at: func(n0, n1, c0, c1 int64) []region {
			return dy.regions(n0, n1, c0+lo, c1+lo, 0, dy.h)
		}}
	}
	if err := c.emitStream(&streamKernel{images: c.batch, channels: cf, split: true, vop: VCopy,
		ins: []streamIn{slice(0)}, out: streamIn{v: kept, class: ClassErrors, bits: bits}, elemsPerUnit: hw}); err != nil {
		return err
	}
	if !c.needsDX(i) {
		return nil
	}
	c.beginKernel(i, models.BackwardData) // a second pass, with buffers of its own
	return c.emitStream(&streamKernel{images: c.batch, channels: int64(l.In.C), split: true, vop: VCopy,
		ins: []streamIn{slice(cf)}, out: streamIn{v: dx, class: ClassErrors, bits: bits}, elemsPerUnit: hw})
}
