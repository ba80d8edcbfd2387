package functional

import (
	"encoding/binary"
	"fmt"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// How operands lie in SRAM: activation and error boxes densely as [image][channel]
// [row][column] at the tensor's full width, packed matrix boxes row by row (see
// kernels.Box), accumulators as little-endian int32, and the per-channel or
// per-position records of normalisations as 32-bit fields (see norm.go).

// scratch is reused across instructions.
type scratch struct {
	a, b []int32 // a GEMM's operands
}

func grow[T any](s *[]T, n int64) []T {
	if int64(cap(*s)) < n {
		*s = make([]T, n)
	}
	return (*s)[:n]
}

func (d *Device) slot(o kernels.Operand) []byte { return d.sram[o.Buffer][o.Offset:o.End()] }

// actIndex is the index of element (n, c, h, w) of an activation box whose rows are
// wFull wide.
func actIndex(b kernels.Box, wFull, n, c, h, w int64) int64 {
	return (((n-b.N0)*(b.C1-b.C0)+(c-b.C0))*(b.H1-b.H0)+(h-b.H0))*wFull + w
}

// actAt reads an int8 element of an activation box held in slot s at (n, c, h, w); w
// spans the tensor's full width wFull.
func actAt(s []byte, b kernels.Box, wFull, n, c, h, w int64) int64 {
	return int64(int8(s[actIndex(b, wFull, n, c, h, w)]))
}

func setAct(s []byte, b kernels.Box, wFull, n, c, h, w int64, v int8) {
	s[actIndex(b, wFull, n, c, h, w)] = byte(v)
}

// inBox reports whether element (n, c, h) lies inside activation box b.
func inBox(b kernels.Box, n, c, h int64) bool {
	return n >= b.N0 && n < b.N1 && c >= b.C0 && c < b.C1 && h >= b.H0 && h < b.H1
}

// boxBytes is the bytes of an activation box of int8 values wFull wide.
func boxBytes(b kernels.Box, wFull int64) int64 {
	if b.N1 <= b.N0 || b.C1 <= b.C0 || b.H1 <= b.H0 {
		return 0
	}
	return (b.N1 - b.N0) * (b.C1 - b.C0) * (b.H1 - b.H0) * wFull
}

// checkBox verifies that an operand holds exactly an activation box of width wFull.
func checkBox(o kernels.Operand, b kernels.Box, wFull int64, what string) error {
	if want := boxBytes(b, wFull); o.Bytes != want {
		return fmt.Errorf("%s holds %d bytes, its box %v of width %d needs %d", what, o.Bytes, b, wFull, want)
	}
	return nil
}

// matBytes is the bytes of a packed matrix box of bits-wide values.
func matBytes(b kernels.Box, bits int) int64 {
	rowBytes, _ := matRow(b, bits)
	return (b.N1 - b.N0) * rowBytes
}

// matRow is the layout of each row of a matrix box bits wide: its bytes and the bit
// offset of its first value in its first byte.
func matRow(b kernels.Box, bits int) (rowBytes int64, off int) {
	first := b.C0 * int64(bits) / 8
	return (b.C1*int64(bits)+7)/8 - first, int(b.C0*int64(bits) - 8*first)
}

// matRows unpacks the rows of a matrix box held in slot s (bits wide) into vals, row
// by row (cols = C1-C0 values per row).
func matRows(s []byte, b kernels.Box, bits int, vals []int32) {
	rowBytes, off := matRow(b, bits)
	cols := b.C1 - b.C0
	for r := int64(0); r < b.N1-b.N0; r++ {
		numerics.UnpackBits(s[r*rowBytes:], bits, off, vals[r*cols:(r+1)*cols])
	}
}

func packRows(s []byte, b kernels.Box, bits int, vals []int32) {
	rowBytes, off := matRow(b, bits)
	cols := b.C1 - b.C0
	for r := int64(0); r < b.N1-b.N0; r++ {
		numerics.PackBitsAt(vals[r*cols:(r+1)*cols], bits, s[r*rowBytes:], off)
	}
}

// readMat unpacks an operand holding a matrix box, checking its size.
func (d *Device) readMat(o kernels.Operand, b kernels.Box, bits int, what string) ([]int32, error) {
	if want := matBytes(b, bits); o.Bytes != want {
		return nil, fmt.Errorf("%s holds %d bytes, its %d-bit matrix box %v needs %d", what, o.Bytes, bits, b, want)
	}
	vals := make([]int32, (b.N1-b.N0)*(b.C1-b.C0))
	matRows(d.slot(o), b, bits, vals)
	return vals, nil
}

func readAcc(s []byte, i int64) int32 { return int32(binary.LittleEndian.Uint32(s[4*i:])) }
func writeAcc(s []byte, i int64, v int32) {
	binary.LittleEndian.PutUint32(s[4*i:], uint32(v))
}

// accs reads an operand of n int32 accumulators.
func (d *Device) accs(o kernels.Operand, n int64, what string) ([]int32, error) {
	if o.Bytes != 4*n {
		return nil, fmt.Errorf("%s holds %d bytes, not %d accumulators", what, o.Bytes, n)
	}
	s := d.slot(o)
	out := make([]int32, n)
	for j := range out {
		out[j] = readAcc(s, int64(j))
	}
	return out, nil
}

// spatial decodes a flattened output-position index into (image, row, column).
func spatial(idx, h, w int64) (n, r, c int64) { return idx / (h * w), idx % (h * w) / w, idx % w }

// geom is a GEMM layer seen as a convolution (a linear layer: a 1x1 image of In.Elems
// channels; an attention projection: a 1x1 convolution over its sequence), with the
// device's padding rule: causal convolutions pad only on the left.
type geom struct {
	cin, h, w, cout, ho, wo, kh, kw, s, padT, padL int64
	groups                                         int64
}

func (g geom) cinG() int64  { return g.cin / g.groups }
func (g geom) coutG() int64 { return g.cout / g.groups }

// layerGeom is the geometry of layer l's product with role r.
func layerGeom(l *models.Layer, r kernels.Role) geom {
	switch {
	case l.Kind == models.Linear:
		return geom{cin: l.In.Elems(), h: 1, w: 1, cout: int64(l.Out.C), ho: 1, wo: 1, kh: 1, kw: 1, s: 1, groups: 1}
	case l.Kind == models.Attention:
		d, t := int64(l.In.C), int64(l.In.W)
		cout := d
		if r == kernels.RoleQKV {
			cout = 3 * d
		}
		return geom{cin: d, h: 1, w: t, cout: cout, ho: 1, wo: t, kh: 1, kw: 1, s: 1, groups: 1}
	}
	g := geom{cin: int64(l.In.C), h: int64(l.In.H), w: int64(l.In.W), cout: int64(l.Out.C), ho: int64(l.Out.H), wo: int64(l.Out.W),
		kh: int64(l.KernelH), kw: int64(l.KernelW), s: int64(max(l.Stride, 1)), padT: int64(l.Padding), padL: int64(l.Padding),
		groups: int64(l.NumGroups())}
	if l.Causal {
		g.padT, g.padL = 0, g.kw-1
	}
	return g
}

// putInt8s stores int8 values as bytes at the start of dst.
func putInt8s(dst []byte, src []int8) { convert(dst, src) }

// integer is the integer types the device converts between.
type integer interface {
	~int8 | ~uint8 | ~int16 | ~int32 | ~int64
}

// convert stores src's values, converted (wrapping) to dst's type, at the start of
// dst.
func convert[D, S integer](dst []D, src []S) {
	for k, v := range src {
		dst[k] = D(v)
	}
}
