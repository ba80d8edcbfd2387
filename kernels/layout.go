package kernels

import "slices"

// region is one rectangular DRAM access: rows rows of rowBytes bytes, stride apart.
type region struct {
	tensor   int32
	addr     uint64
	rows     int64
	rowBytes int64
	stride   int64
	gather   bool // rows picked by data-held indices (see Instr.Gather)
	// index is where a gather's row indices are in SRAM (functional descriptors only).
	index SRAMRef
}

func (r region) bytes() int64 { return r.rows * r.rowBytes }

func regionsBytes(rs []region) int64 {
	var s int64
	for _, r := range rs {
		s += r.bytes()
	}
	return s
}

// act4 views an activation or error tensor as [images][c][h][w], row-major, with whole
// bytes per element. A linear layer's features are {c: features, h: 1, w: 1}.
type act4 struct {
	tensor    int32
	base      uint64
	c, h, w   int64
	elemBytes int64
}

func (a act4) imageBytes() int64 { return a.c * a.h * a.w * a.elemBytes }

// regions returns the DMA regions covering images [n0,n1), channels [c0,c1) and rows
// [h0,h1) (full width), merging dimensions that are contiguous in memory.
func (a act4) regions(n0, n1, c0, c1, h0, h1 int64) []region {
	return a.appendRegions(nil, actBox(n0, n1, c0, c1, h0, h1))
}

// appendRegions appends the regions of box b (see regions) to dst.
func (a act4) appendRegions(dst []region, b Box) []region {
	n0, n1, c0, c1, h0, h1 := b.N0, b.N1, b.C0, b.C1, b.H0, b.H1
	if n1 <= n0 || c1 <= c0 || h1 <= h0 {
		return dst
	}
	plane := a.h * a.w * a.elemBytes
	at := func(n, c, h int64) uint64 {
		return a.base + uint64(n*a.imageBytes()+c*plane+h*a.w*a.elemBytes)
	}
	fullH := h0 == 0 && h1 == a.h
	switch {
	case fullH && c0 == 0 && c1 == a.c:
		return append(dst, region{tensor: a.tensor, addr: at(n0, 0, 0), rows: 1, rowBytes: (n1 - n0) * a.imageBytes(), stride: 0})
	case fullH:
		return append(dst, region{tensor: a.tensor, addr: at(n0, c0, 0), rows: n1 - n0, rowBytes: (c1 - c0) * plane, stride: a.imageBytes()})
	}
	dst = slices.Grow(dst, int(n1-n0))
	for n := n0; n < n1; n++ {
		dst = append(dst, region{tensor: a.tensor, addr: at(n, c0, h0), rows: c1 - c0, rowBytes: (h1 - h0) * a.w * a.elemBytes, stride: plane})
	}
	return dst
}

// mat2 is a packed matrix [rows][cols] of bits-wide integers (or floats); each row is
// padded to a whole byte so that rows start on byte boundaries.
type mat2 struct {
	tensor     int32
	base       uint64
	rows, cols int64
	bits       int
}

func (m mat2) pitch() int64 { return ceilDiv(m.cols*int64(m.bits), 8) }

// gather is the region of n table rows picked by indices.
func (m mat2) gather(n int64) region {
	return region{tensor: m.tensor, addr: m.base, rows: n, rowBytes: m.pitch(), stride: m.pitch(), gather: true}
}

// region returns the DMA region covering rows [r0,r1) and columns [c0,c1): the bytes
// holding those bits, so a packed sub-row may carry a few neighbouring bits.
func (m mat2) region(r0, r1, c0, c1 int64) region {
	b := int64(m.bits)
	first := c0 * b / 8
	last := ceilDiv(c1*b, 8)
	if c0 == 0 && c1 == m.cols {
		return region{tensor: m.tensor, addr: m.base + uint64(r0*m.pitch()), rows: 1, rowBytes: (r1 - r0) * m.pitch()}
	}
	return region{tensor: m.tensor, addr: m.base + uint64(r0*m.pitch()+first), rows: r1 - r0, rowBytes: last - first, stride: m.pitch()}
}

// layout is how a tensor's boxes map to DMA regions.
type layout interface {
	// appendRegions appends box b's regions to dst (the GEMM pipeline reuses one
	// slice for every tile's: a new one each was a tenth of the allocations of a
	// ResNet-20 qat step's compile).
	appendRegions(dst []region, b Box) []region
	// boxBytes is the bytes of b's regions, without building them.
	boxBytes(b Box) int64
}

func (a act4) boxBytes(b Box) int64 {
	if b.N1 <= b.N0 || b.C1 <= b.C0 || b.H1 <= b.H0 {
		return 0
	}
	return (b.N1 - b.N0) * (b.C1 - b.C0) * (b.H1 - b.H0) * a.w * a.elemBytes
}

func (m mat2) appendRegions(dst []region, b Box) []region {
	if b.Empty() {
		return dst
	}
	return append(dst, m.region(b.N0, b.N1, b.C0, b.C1))
}

func (m mat2) boxBytes(b Box) int64 {
	if b.Empty() {
		return 0
	}
	return m.region(b.N0, b.N1, b.C0, b.C1).bytes()
}

// matBox is the box of rows [r0,r1) and columns [c0,c1) of a matrix.
func matBox(r0, r1, c0, c1 int64) Box { return Box{N0: r0, N1: r1, C0: c0, C1: c1} }

// actBox is the box of images, channels and rows of an activation tensor.
func actBox(n0, n1, c0, c1, h0, h1 int64) Box {
	return Box{N0: n0, N1: n1, C0: c0, C1: c1, H0: h0, H1: h1}
}
