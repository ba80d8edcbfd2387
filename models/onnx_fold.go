// Constant tensors of an ONNX graph and the shape arithmetic folded at import.

package models

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/rctsim/rctsim/models/onnx/onnxpb"
)

// maxConstElems bounds an initializer (its values are in the file, so this only
// bounds what a file may claim), maxFoldElems a constant that folding computes (shape
// arithmetic and masks are small): a file that asks for more is refused rather than
// allocated.
const (
	maxConstElems = 1 << 31
	maxFoldElems  = 1 << 20
)

// batchSentinel stands for the batch size in folded shape arithmetic: Shape of an
// activation gives it as dimension 0, and a Reshape target that holds it (or a multiple
// of it) is read back as the batch. It is a large prime, so no real dimension is
// mistaken for it and products with it stay recognisable.
const batchSentinel = 1_000_003

// tensor is a constant or an initializer: its dims, and its values when the file holds
// them (ints for integer and boolean types, floats for floating-point ones; both nil for
// an initializer whose values were left out, whose dims still count parameters).
type tensor struct {
	dims    []int64
	isFloat bool
	ints    []int64
	floats  []float64
	// name is the initializer's name, "" for a folded constant.
	name string
}

func (t *tensor) hasData() bool { return t.ints != nil || t.floats != nil }

// elems is the product of dims (dims are validated non-negative and bounded).
func elems(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n
}

// checkDims refuses negative dims and initializers too large to hold.
func checkDims(dims []int64) error { return checkSize(dims, maxConstElems) }

// checkFold refuses negative dims and folded constants too large to compute.
func checkFold(dims []int64) error { return checkSize(dims, maxFoldElems) }

func checkSize(dims []int64, limit int64) error {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return fmt.Errorf("negative dimension %d in %v", d, dims)
		}
		if d > 0 && n > limit/d {
			return fmt.Errorf("dims %v hold more than %d values", dims, limit)
		}
		n *= d
	}
	return nil
}

// value returns element i as a float64 (for either kind of data).
func (t *tensor) at(i int) float64 {
	if t.isFloat {
		return t.floats[i]
	}
	return float64(t.ints[i])
}

// intList returns the values of an integer tensor of rank 0 or 1.
func (t *tensor) intList() ([]int64, error) {
	if !t.hasData() {
		return nil, errors.New("its values are not in the file")
	}
	if len(t.dims) > 1 {
		return nil, fmt.Errorf("a list of integers has rank 1, not dims %v", t.dims)
	}
	if t.isFloat {
		out := make([]int64, len(t.floats))
		for i, v := range t.floats {
			if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
				return nil, fmt.Errorf("%v is not an integer", v)
			}
			out[i] = int64(v)
		}
		return out, nil
	}
	return t.ints, nil
}

// scalar returns the single value of a tensor of one element.
func (t *tensor) scalar() (float64, error) {
	if !t.hasData() {
		return 0, errors.New("its value is not in the file")
	}
	if elems(t.dims) != 1 {
		return 0, fmt.Errorf("%v values where one is expected", t.dims)
	}
	return t.at(0), nil
}

// float32s returns the values as float32 (nil without data).
func (t *tensor) float32s() []float32 {
	if !t.hasData() {
		return nil
	}
	out := make([]float32, elems(t.dims))
	for i := range out {
		out[i] = float32(t.at(i))
	}
	return out
}

// Tensor element types import reads.
var (
	floatTypes = map[int32]int{int32(onnxpb.TensorProto_FLOAT): 4, int32(onnxpb.TensorProto_DOUBLE): 8, int32(onnxpb.TensorProto_FLOAT16): 2}
	intTypes   = map[int32]int{int32(onnxpb.TensorProto_INT64): 8, int32(onnxpb.TensorProto_INT32): 4, int32(onnxpb.TensorProto_INT8): 1,
		int32(onnxpb.TensorProto_UINT8): 1, int32(onnxpb.TensorProto_BOOL): 1, int32(onnxpb.TensorProto_INT16): 2}
)

// readTensor converts a TensorProto. withData false keeps only dims and type (a
// parameter count needs no values).
func readTensor(tp *onnxpb.TensorProto, withData bool) (*tensor, error) {
	t := &tensor{dims: slices.Clone(tp.GetDims()), name: tp.GetName()}
	if err := checkDims(t.dims); err != nil {
		return nil, err
	}
	dt := tp.GetDataType()
	size, isFloat := floatTypes[dt]
	if !isFloat {
		var ok bool
		if size, ok = intTypes[dt]; !ok {
			return nil, fmt.Errorf("element type %s is not read (want float, double, float16 or an integer type)", onnxpb.TensorProto_DataType(dt))
		}
	}
	t.isFloat = isFloat
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(tp.GetExternalData()) > 0 {
		if withData {
			return nil, errors.New("its values are in an external file, which import does not read")
		}
		return t, nil
	}
	n := int(elems(t.dims))
	raw := tp.GetRawData()
	present := len(raw) > 0 || len(tp.GetFloatData()) > 0 || len(tp.GetDoubleData()) > 0 || len(tp.GetInt32Data()) > 0 || len(tp.GetInt64Data()) > 0
	if !withData || !present {
		if n == 0 {
			t.floats, t.ints = []float64{}, []int64{} // empty, but complete
			if !isFloat {
				t.floats = nil
			} else {
				t.ints = nil
			}
		}
		return t, nil
	}
	mismatch := func(have int) error { return fmt.Errorf("dims %v need %d values, the file holds %d", t.dims, n, have) }
	if len(raw) > 0 {
		if len(raw) != n*size {
			return nil, mismatch(len(raw) / size)
		}
		if isFloat {
			t.floats = make([]float64, n)
		} else {
			t.ints = make([]int64, n)
		}
		for i := range n {
			b := raw[i*size : (i+1)*size]
			switch onnxpb.TensorProto_DataType(dt) {
			case onnxpb.TensorProto_FLOAT:
				t.floats[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
			case onnxpb.TensorProto_DOUBLE:
				t.floats[i] = math.Float64frombits(binary.LittleEndian.Uint64(b))
			case onnxpb.TensorProto_FLOAT16:
				t.floats[i] = halfToFloat(binary.LittleEndian.Uint16(b))
			case onnxpb.TensorProto_INT64:
				t.ints[i] = int64(binary.LittleEndian.Uint64(b))
			case onnxpb.TensorProto_INT32:
				t.ints[i] = int64(int32(binary.LittleEndian.Uint32(b)))
			case onnxpb.TensorProto_INT16:
				t.ints[i] = int64(int16(binary.LittleEndian.Uint16(b)))
			case onnxpb.TensorProto_INT8:
				t.ints[i] = int64(int8(b[0]))
			default: // UINT8, BOOL
				t.ints[i] = int64(b[0])
			}
		}
		return t, nil
	}
	switch {
	case isFloat && dt == int32(onnxpb.TensorProto_DOUBLE):
		if len(tp.GetDoubleData()) != n {
			return nil, mismatch(len(tp.GetDoubleData()))
		}
		t.floats = slices.Clone(tp.GetDoubleData())
	case isFloat && dt == int32(onnxpb.TensorProto_FLOAT):
		if len(tp.GetFloatData()) != n {
			return nil, mismatch(len(tp.GetFloatData()))
		}
		t.floats = make([]float64, n)
		for i, v := range tp.GetFloatData() {
			t.floats[i] = float64(v)
		}
	case isFloat: // float16 in int32_data, one value per element
		if len(tp.GetInt32Data()) != n {
			return nil, mismatch(len(tp.GetInt32Data()))
		}
		t.floats = make([]float64, n)
		for i, v := range tp.GetInt32Data() {
			t.floats[i] = halfToFloat(uint16(v))
		}
	case dt == int32(onnxpb.TensorProto_INT64):
		if len(tp.GetInt64Data()) != n {
			return nil, mismatch(len(tp.GetInt64Data()))
		}
		t.ints = slices.Clone(tp.GetInt64Data())
	default:
		if len(tp.GetInt32Data()) != n {
			return nil, mismatch(len(tp.GetInt32Data()))
		}
		t.ints = make([]int64, n)
		for i, v := range tp.GetInt32Data() {
			t.ints[i] = int64(v)
		}
	}
	return t, nil
}

// halfToFloat converts an IEEE 754 binary16 value.
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, frac := int(h>>10&0x1f), float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * frac * math.Pow(2, -24)
	case 31:
		if frac != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * (1 + frac/1024) * math.Pow(2, float64(exp-15))
}

// newInts and newFloats make data tensors.
func newInts(dims []int64, v []int64) *tensor { return &tensor{dims: dims, ints: v} }
func newFloats(dims []int64, v []float64) *tensor {
	return &tensor{dims: dims, isFloat: true, floats: v}
}

// strides returns row-major strides of dims.
func strides(dims []int64) []int64 {
	s := make([]int64, len(dims))
	acc := int64(1)
	for i := len(dims) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= dims[i]
	}
	return s
}

// gatherFrom builds a tensor of dims whose element at flat index i is t's element at
// src(i); without data it keeps only the dims.
func (t *tensor) gatherFrom(dims []int64, src func(i int64) int64) *tensor {
	out := &tensor{dims: dims, isFloat: t.isFloat}
	if !t.hasData() {
		return out
	}
	n := elems(dims) // at most the source's elements, or checked by the caller
	if t.isFloat {
		out.floats = make([]float64, n)
		for i := range n {
			out.floats[i] = t.floats[src(i)]
		}
	} else {
		out.ints = make([]int64, n)
		for i := range n {
			out.ints[i] = t.ints[src(i)]
		}
	}
	return out
}

// transpose permutes the axes (perm nil reverses them).
func (t *tensor) transpose(perm []int64) (*tensor, error) {
	r := len(t.dims)
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	if len(perm) != r {
		return nil, fmt.Errorf("perm %v for rank %d", perm, r)
	}
	seen := make([]bool, r)
	dims := make([]int64, r)
	for i, p := range perm {
		if p < 0 || p >= int64(r) || seen[p] {
			return nil, fmt.Errorf("perm %v is not a permutation of %d axes", perm, r)
		}
		seen[p] = true
		dims[i] = t.dims[p]
	}
	in, outS := strides(t.dims), strides(dims)
	out := t.gatherFrom(dims, func(i int64) int64 {
		var s int64
		for a := range r {
			s += (i / outS[a] % dims[a]) * in[perm[a]]
		}
		return s
	})
	out.name = t.name // a transposed weight is still that weight
	return out, nil
}

// axis normalises a possibly negative axis for rank r.
func axis(a int64, r int) (int, error) {
	if a < 0 {
		a += int64(r)
	}
	if a < 0 || a >= int64(r) {
		return 0, fmt.Errorf("axis %d outside rank %d", a, r)
	}
	return int(a), nil
}

// slice is ONNX Slice with constant starts, ends, axes and steps.
func (t *tensor) slice(starts, ends, axes, steps []int64) (*tensor, error) {
	r := len(t.dims)
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if steps == nil {
		steps = slices.Repeat([]int64{1}, len(starts))
	}
	if len(ends) != len(starts) || len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, errors.New("starts, ends, axes and steps differ in length")
	}
	start := make([]int64, r)
	step := slices.Repeat([]int64{1}, r)
	dims := slices.Clone(t.dims)
	for j := range starts {
		a, err := axis(axes[j], r)
		if err != nil {
			return nil, err
		}
		lo, hi, st, err := sliceRange(starts[j], ends[j], steps[j], t.dims[a])
		if err != nil {
			return nil, err
		}
		start[a], step[a] = lo, st
		dims[a] = sliceLen(lo, hi, st)
	}
	in, outS := strides(t.dims), strides(dims)
	return t.gatherFrom(dims, func(i int64) int64 {
		var s int64
		for a := range r {
			s += (start[a] + (i/outS[a]%dims[a])*step[a]) * in[a]
		}
		return s
	}), nil
}

// sliceRange clamps a Slice's start and end on an axis of n as ONNX defines it.
func sliceRange(start, end, step, n int64) (lo, hi, st int64, err error) {
	if step == 0 {
		return 0, 0, 0, errors.New("slice step 0")
	}
	fix := func(v, lo, hi int64) int64 {
		if v < 0 {
			v += n // no overflow: v < 0 <= n
		}
		return min(max(v, lo), hi)
	}
	if step > 0 {
		return fix(start, 0, n), fix(end, 0, n), step, nil
	}
	return fix(start, 0, n-1), max(fix(end, -1, n-1), -1), step, nil
}

func sliceLen(lo, hi, st int64) int64 {
	if st > 0 {
		if hi <= lo {
			return 0
		}
		return (hi - lo + st - 1) / st
	}
	if hi >= lo {
		return 0
	}
	return (lo - hi - st - 1) / -st
}

// concat joins tensors along an axis.
func concat(ts []*tensor, ax int64) (*tensor, error) {
	if len(ts) == 0 {
		return nil, errors.New("nothing to join")
	}
	r := len(ts[0].dims)
	a, err := axis(ax, r)
	if err != nil {
		return nil, err
	}
	dims := slices.Clone(ts[0].dims)
	dims[a] = 0
	isFloat, data := ts[0].isFloat, true
	for _, t := range ts {
		if len(t.dims) != r || t.isFloat != isFloat {
			return nil, errors.New("joined tensors differ in rank or type")
		}
		for i := range r {
			if i != a && t.dims[i] != ts[0].dims[i] {
				return nil, fmt.Errorf("dims %v and %v do not join on axis %d", ts[0].dims, t.dims, a)
			}
		}
		dims[a] += t.dims[a]
		data = data && t.hasData()
	}
	if err := checkDims(dims); err != nil {
		return nil, err
	}
	if err := checkFold(dims); data && err != nil {
		return nil, err
	}
	out := &tensor{dims: dims, isFloat: isFloat}
	if !data {
		return out, nil
	}
	outer := elems(dims[:a])
	for o := range outer {
		for _, t := range ts {
			inner := elems(t.dims[a:])
			if isFloat {
				out.floats = append(out.floats, t.floats[o*inner:(o+1)*inner]...)
			} else {
				out.ints = append(out.ints, t.ints[o*inner:(o+1)*inner]...)
			}
		}
	}
	if out.isFloat && out.floats == nil {
		out.floats = []float64{}
	} else if !out.isFloat && out.ints == nil {
		out.ints = []int64{}
	}
	return out, nil
}

// gather is ONNX Gather on constant data and indices.
func (t *tensor) gather(idx *tensor, ax int64) (*tensor, error) {
	r := len(t.dims)
	a, err := axis(ax, r)
	if err != nil {
		return nil, err
	}
	ids, err := idx.intList()
	if len(idx.dims) > 1 {
		return nil, fmt.Errorf("indices of dims %v (import folds rank 0 and 1)", idx.dims)
	}
	if err != nil {
		return nil, err
	}
	n := t.dims[a]
	for i, v := range ids {
		if v < -n || v >= n {
			return nil, fmt.Errorf("index %d outside an axis of %d", v, n)
		}
		if v < 0 {
			ids[i] = v + n
		}
	}
	dims := slices.Concat(t.dims[:a], idx.dims, t.dims[a+1:])
	if err := checkFold(dims); t.hasData() && err != nil {
		return nil, err
	}
	inner := elems(t.dims[a+1:])
	k := int64(len(ids))
	return t.gatherFrom(dims, func(i int64) int64 {
		o, rest := i/(k*inner), i%(k*inner)
		return (o*n+ids[rest/inner])*inner + rest%inner
	}), nil
}

// broadcast applies f elementwise with numpy broadcasting.
func broadcast(a, b *tensor, f func(x, y float64) float64, fi func(x, y int64) (int64, error)) (*tensor, error) {
	if !a.hasData() || !b.hasData() {
		return nil, errors.New("an operand's values are not in the file")
	}
	r := max(len(a.dims), len(b.dims))
	pad := func(d []int64) []int64 { return append(slices.Repeat([]int64{1}, r-len(d)), d...) }
	da, db := pad(a.dims), pad(b.dims)
	dims := make([]int64, r)
	for i := range r {
		switch {
		case da[i] == db[i], db[i] == 1:
			dims[i] = da[i]
		case da[i] == 1:
			dims[i] = db[i]
		default:
			return nil, fmt.Errorf("dims %v and %v do not broadcast", a.dims, b.dims)
		}
	}
	if err := checkFold(dims); err != nil {
		return nil, err
	}
	sa, sb, so := strides(da), strides(db), strides(dims)
	index := func(i int64, d, s []int64) int64 {
		var k int64
		for x := range r {
			if d[x] != 1 {
				k += (i / so[x] % dims[x]) * s[x]
			}
		}
		return k
	}
	n := elems(dims)
	isFloat := a.isFloat || b.isFloat
	out := &tensor{dims: dims, isFloat: isFloat}
	for i := range n {
		ia, ib := index(i, da, sa), index(i, db, sb)
		if isFloat {
			out.floats = append(out.floats, f(a.at(int(ia)), b.at(int(ib))))
			continue
		}
		v, err := fi(a.ints[ia], b.ints[ib])
		if err != nil {
			return nil, err
		}
		out.ints = append(out.ints, v)
	}
	if isFloat && out.floats == nil {
		out.floats = []float64{}
	} else if !isFloat && out.ints == nil {
		out.ints = []int64{}
	}
	return out, nil
}

// arith is the fold of the binary arithmetic operators.
func arith(op string, a, b *tensor) (*tensor, error) {
	switch op {
	case "Add":
		return broadcast(a, b, func(x, y float64) float64 { return x + y }, func(x, y int64) (int64, error) { return x + y, nil })
	case "Sub":
		return broadcast(a, b, func(x, y float64) float64 { return x - y }, func(x, y int64) (int64, error) { return x - y, nil })
	case "Mul":
		return broadcast(a, b, func(x, y float64) float64 { return x * y }, func(x, y int64) (int64, error) { return x * y, nil })
	case "Div":
		return broadcast(a, b, func(x, y float64) float64 { return x / y }, func(x, y int64) (int64, error) {
			if y == 0 {
				return 0, errors.New("integer division by zero")
			}
			q := x / y
			if (x%y != 0) && ((x < 0) != (y < 0)) {
				q-- // ONNX integer Div floors, as numpy does
			}
			return q, nil
		})
	case "Equal":
		t, err := broadcast(a, b, func(x, y float64) float64 { return b2f(x == y) }, func(x, y int64) (int64, error) { return int64(b2f(x == y)), nil })
		if err != nil {
			return nil, err
		}
		return toInts(t), nil
	}
	return nil, fmt.Errorf("no fold for %s", op)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// toInts converts a tensor's data to integers (a Cast to an integer type).
func toInts(t *tensor) *tensor {
	if !t.isFloat {
		return t
	}
	out := &tensor{dims: t.dims}
	if t.floats != nil {
		out.ints = make([]int64, len(t.floats))
		for i, v := range t.floats {
			switch {
			case math.IsNaN(v):
			case v >= math.MaxInt64:
				out.ints[i] = math.MaxInt64
			case v <= math.MinInt64:
				out.ints[i] = math.MinInt64
			default:
				out.ints[i] = int64(v)
			}
		}
	}
	return out
}

// toFloats converts a tensor's data to floats (a Cast to a float type).
func toFloats(t *tensor) *tensor {
	if t.isFloat {
		return t
	}
	out := &tensor{dims: t.dims, isFloat: true}
	if t.ints != nil {
		out.floats = make([]float64, len(t.ints))
		for i, v := range t.ints {
			out.floats[i] = float64(v)
		}
	}
	return out
}

// reshapeDims resolves a Reshape target (0 copies the input's dimension unless
// allowzero, -1 is inferred) for an input of dims in.
func reshapeDims(in, target []int64, allowZero bool) ([]int64, error) {
	out := slices.Clone(target)
	infer := -1
	known := int64(1)
	for i, d := range out {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v infers two dimensions", target)
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dimension %d of %v", target, i, in)
			}
			out[i] = in[i]
		case d < 0:
			return nil, fmt.Errorf("shape %v has a negative dimension", target)
		}
		if out[i] > 0 && known > math.MaxInt64/out[i] {
			return nil, fmt.Errorf("shape %v is too large", target)
		}
		known *= out[i]
	}
	total := elems(in)
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", in, target)
		}
		out[infer] = total / known
	} else if known != total {
		return nil, fmt.Errorf("cannot reshape %v (%d values) to %v", in, total, target)
	}
	return out, nil
}
