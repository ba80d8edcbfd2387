// ONNX import: a network from a .onnx file, in the same description as the built-ins.

package models

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/rctsim/rctsim/models/onnx/onnxpb"
)

// ONNX opsets import reads (of the default domain, ai.onnx): the operators' attributes
// and inputs are those of these versions (from opset 18 on, ReduceMean, Pad and others
// take as inputs what they took as attributes).
const (
	MinONNXOpset = 11
	MaxONNXOpset = 17
)

// maxONNXBytes bounds the files import reads; ONNX's protobuf encoding itself ends at
// 2 GiB (larger models keep their weights in external files, which are not read).
const maxONNXBytes = 2 << 30

// ONNXOperators lists the operators import reads, for error messages and
// documentation. How each maps to layers is in ReadONNX's documentation.
var ONNXOperators = []string{
	"Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant",
	"ConstantOfShape", "Conv", "Div", "Dropout", "Equal", "Expand", "Flatten", "Gather", "Gemm",
	"GlobalAveragePool", "Identity", "LayerNormalization", "LogSoftmax", "MatMul", "MaxPool",
	"Mul", "Pad", "Range", "ReduceMean", "Relu", "Reshape", "Shape", "Slice", "Softmax",
	"Squeeze", "Sub", "Transpose", "Unsqueeze", "Where",
}

// ErrONNX is wrapped by every error about the content of an ONNX file (not its
// reading), so that callers can tell a file rctsim cannot import from other failures.
var ErrONNX = errors.New("onnx")

// ONNXError is a problem with an ONNX file: it names the file and, when it is about one
// node, the node, its operator and the model's opset.
type ONNXError struct {
	File  string
	Node  string // "" for the file as a whole
	Op    string
	Opset int64
	Err   error
}

func (e *ONNXError) Error() string {
	if e.Node == "" {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s: node %q (%s, opset %d): %v", e.File, e.Node, e.Op, e.Opset, e.Err)
}

func (e *ONNXError) Unwrap() []error { return []error{ErrONNX, e.Err} }

// LayerValues are the initial values an imported file gives one weight layer, in
// rctsim's canonical layout (see Network.Initial).
type LayerValues struct {
	W, B []float32
}

// OpenOptions are the choices a caller makes when it opens a network.
type OpenOptions struct {
	// InputShape fills, per example, the input dimensions an ONNX file leaves open
	// (symbolic, such as a height and width exported as dynamic axes); zero fields fill
	// nothing. A dimension the file fixes must agree with it. For token ids ({1, 1, T})
	// only W, the context, applies.
	InputShape Shape
	// Values reads the initializers' values into Network.Initial (train
	// --init-from-model); without it only their dims are read.
	Values bool
}

// IsONNXPath reports whether a --model argument names an ONNX file rather than a
// built-in model: it ends in .onnx, or contains a path separator.
func IsONNXPath(s string) bool {
	return strings.HasSuffix(strings.ToLower(s), ".onnx") || strings.ContainsAny(s, `/\`)
}

// Open returns the network a --model argument names: a built-in model's name (ByName),
// or the path of an ONNX file (ReadONNXFile). It is the one resolver of every command
// and of sweep specs.
func Open(nameOrPath string, opt OpenOptions) (*Network, error) {
	if !IsONNXPath(nameOrPath) {
		if _, ok := registry[nameOrPath]; !ok {
			return nil, fmt.Errorf("%w %q (have %v, or the path of an .onnx file)", ErrUnknownModel, nameOrPath, AllNames())
		}
		if opt.InputShape != (Shape{}) {
			return nil, fmt.Errorf("an input shape applies to ONNX files; built-in model %s takes %v", nameOrPath, registry[nameOrPath].build().Input)
		}
		if opt.Values {
			return nil, fmt.Errorf("built-in model %s has no initial values; initialising from the model needs an ONNX file", nameOrPath)
		}
		return ByName(nameOrPath)
	}
	return ReadONNXFile(nameOrPath, opt)
}

// ReadONNXFile reads an ONNX model file (see ReadONNX).
func ReadONNXFile(path string, opt OpenOptions) (*Network, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadONNX(f, path, opt)
}

// ReadONNX reads an ONNX model (a serialised ModelProto) into a Network; file names the
// input in errors and gives the network its name (the file's base name without
// .onnx). Its layers are those of the graph in its order (ONNX keeps nodes
// topologically sorted), mapped onto the layer kinds rctsim has:
//
//	Conv                      Conv2D (groups, depthwise, strides, equal pads; dilation 1)
//	Gemm, MatMul (+ Add)      Linear on a vector; a 1x1 Conv2D at every position of a
//	                          sequence ({D, 1, T}, as the built-in transformer)
//	Relu, Clip(0, max)        ReLU (Clip as ReLU6, which models no differently; see
//	                          MobileNetV2)
//	MaxPool, AveragePool      MaxPool, AvgPool (a 1x1 window of stride 1 is dropped)
//	GlobalAveragePool,        AvgPool over the whole map
//	ReduceMean over H, W
//	BatchNormalization        BatchNorm (running statistics are state, not parameters)
//	LayerNormalization        LayerNorm over a sequence's channels (opset 17)
//	Add                       Add (residual); with a strided Slice and channel Pad of
//	                          its other operand, ShortcutAdd; with a (T, D) initializer
//	                          on a sequence, PosEmbedding
//	Concat on channels        Concat
//	Flatten, Reshape          Flatten (Reshape only to (batch, -1))
//	Gather of token ids       Embedding (the network's first layer)
//	MatMul, Reshape,          Attention, when they form multi-head scaled dot-product
//	Transpose, Div, Softmax   attention: q, k, v projections of one input split into
//	                          heads, Q K^T / sqrt(dh), an optional additive causal mask,
//	                          softmax, times V, heads merged, an output projection
//	Softmax, LogSoftmax       dropped at the output (the loss applies the softmax)
//	Identity, Dropout         nothing
//
// Constant, Shape and the integer arithmetic exporters emit to compute shapes are
// folded at import; the batch dimension is symbolic (whatever dimension 0 the file
// declares, a step's batch is the command's). Anything else is an error naming the
// node, its operator and the opset, and listing the operators read.
//
// Parameters are counted from the initializers' dims, so a file whose values were
// stripped still imports; with opt.Values, Network.Initial holds the values.
func ReadONNX(r io.Reader, file string, opt OpenOptions) (*Network, error) {
	fail := func(err error) error { return &ONNXError{File: file, Err: err} }
	data, err := io.ReadAll(io.LimitReader(r, maxONNXBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxONNXBytes {
		return nil, fail(errors.New("larger than 2 GiB, the most a protobuf file holds"))
	}
	if len(data) == 0 {
		return nil, fail(errors.New("empty file, not an ONNX model"))
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, fail(fmt.Errorf("not an ONNX model (protobuf: %v)", err))
	}
	if m.GetGraph() == nil || len(m.GetGraph().GetNode()) == 0 {
		return nil, fail(errors.New("no graph: not an ONNX model, or an empty one"))
	}
	opset := int64(-1)
	for _, o := range m.GetOpsetImport() {
		if d := o.GetDomain(); d == "" || d == "ai.onnx" {
			opset = o.GetVersion()
		}
	}
	if opset < MinONNXOpset || opset > MaxONNXOpset {
		if opset < 0 {
			return nil, fail(errors.New("no opset of the default ONNX domain"))
		}
		return nil, fail(fmt.Errorf("opset %d: rctsim reads opsets %d to %d (re-export with opset_version=%d)", opset, MinONNXOpset, MaxONNXOpset, MaxONNXOpset))
	}
	base := file
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	name := strings.TrimSuffix(strings.TrimSuffix(base, ".onnx"), ".ONNX")
	if name == "" {
		name = "onnx"
	}
	im := &importer{file: file, opset: opset, opt: opt, net: &Network{Name: name}, vals: map[string]*value{}, names: map[string]bool{}}
	if err := im.run(m.GetGraph()); err != nil {
		var oe *ONNXError
		if errors.As(err, &oe) {
			return nil, err
		}
		return nil, fail(err)
	}
	return im.net, nil
}

// layout is how an activation's ONNX dims map onto a Shape (dimension 0 is the batch).
type layout int

const (
	layImage  layout = iota // (N, C, H, W) -> {C, H, W}
	layVector               // (N, F) -> {F, 1, 1}
	laySeq                  // (N, T, D) -> {D, 1, T}
	layTokens               // (N, T) integer ids -> {1, 1, T}
)

func (l layout) rank() int { return [...]int{4, 2, 3, 2}[l] }

// onnxDims is the ONNX shape of an activation of shape s in layout l, with the batch
// sentinel.
func onnxDims(l layout, s Shape) []int64 {
	switch l {
	case layVector:
		return []int64{batchSentinel, int64(s.C)}
	case laySeq:
		return []int64{batchSentinel, int64(s.W), int64(s.C)}
	case layTokens:
		return []int64{batchSentinel, int64(s.W)}
	}
	return []int64{batchSentinel, int64(s.C), int64(s.H), int64(s.W)}
}

// value is what an ONNX value is at import: a constant or initializer (t), an
// activation (the output of a layer, or the network input), or a pending form that
// becomes a layer, or part of one, when a consumer says which.
type value struct {
	t *tensor // a constant or initializer
	// An activation: the layer whose output it is (-1: the network input), its layout
	// and per-example shape.
	act   bool
	layer int
	lay   layout
	shape Shape
	// Pending forms.
	lin   *pendingLinear  // a MatMul or Gemm product not yet made a layer
	view  *shortcutView   // a strided slice and channel padding of an activation
	attn  *attentionStage // a stage of a multi-head attention
	bnAux bool            // an extra output of BatchNormalization (training statistics)
	// softmax marks an activation normalised by a Softmax or LogSoftmax that the
	// import dropped: it may only be the graph's output.
	softmax bool
}

// pendingLinear is x times W (K x N), plus a bias of N when set: a Linear or 1x1
// Conv2D layer once a consumer needs its output, or a projection of an attention.
type pendingLinear struct {
	x    *value
	w    *tensor // K x N
	bias *tensor
}

// dims are the product's output width and the positions of its input.
func (p *pendingLinear) dims() (d, t int64) { return p.w.dims[1], int64(p.x.shape.W) }

// shortcutView is an activation subsampled by stride (every stride-th row and column
// from 0) and padded with zero channels before and after: the option-A shortcut.
type shortcutView struct {
	src              *value
	strideH, strideW int64
	before, after    int64
}

type importer struct {
	file  string
	opset int64
	opt   OpenOptions
	net   *Network
	vals  map[string]*value
	names map[string]bool
	// node is the node being read, for errors.
	node *onnxpb.NodeProto
	idx  int
	// initial collects the layers' values (parallel to net.Layers) when opt.Values.
	initial []*LayerValues
	// read marks the layers whose output a later layer reads (their index).
	read map[int]bool
}

// nodeErr wraps err with the current node.
func (im *importer) nodeErr(err error) error {
	n := im.node.GetName()
	if n == "" {
		n = fmt.Sprintf("#%d", im.idx)
		if outs := im.node.GetOutput(); len(outs) > 0 {
			n += " -> " + outs[0]
		}
	}
	return &ONNXError{File: im.file, Node: n, Op: im.node.GetOpType(), Opset: im.opset, Err: err}
}

func (im *importer) errorf(format string, args ...any) error {
	return im.nodeErr(fmt.Errorf(format, args...))
}

func (im *importer) run(g *onnxpb.GraphProto) error {
	for _, tp := range g.GetInitializer() {
		t, err := readTensor(tp, true)
		if err != nil {
			return fmt.Errorf("initializer %q: %w", tp.GetName(), err)
		}
		im.vals[tp.GetName()] = &value{t: t}
	}
	for _, vi := range g.GetInput() {
		if _, isInit := im.vals[vi.GetName()]; isInit {
			continue // old exporters list initializers among the inputs
		}
		if im.net.Input != (Shape{}) {
			return fmt.Errorf("inputs %q and more: rctsim trains networks of one input", vi.GetName())
		}
		v, err := im.input(vi)
		if err != nil {
			return fmt.Errorf("input %q: %w", vi.GetName(), err)
		}
		im.vals[vi.GetName()] = v
	}
	if im.net.Input == (Shape{}) {
		return errors.New("the graph has no input that is not an initializer")
	}
	im.read = map[int]bool{}
	for i, n := range g.GetNode() {
		im.node, im.idx = n, i
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			return im.errorf("operator domain %q: rctsim reads the default ONNX domain only", d)
		}
		outs, err := im.apply(n)
		if err != nil {
			var oe *ONNXError
			if errors.As(err, &oe) {
				return err
			}
			return im.nodeErr(err)
		}
		for j, name := range n.GetOutput() {
			if j < len(outs) && name != "" {
				im.vals[name] = outs[j]
			}
		}
	}
	im.node = nil
	return im.finish(g)
}

// input reads the graph's input: its type and dims, dimension 0 the batch.
func (im *importer) input(vi *onnxpb.ValueInfoProto) (*value, error) {
	tt := vi.GetType().GetTensorType()
	if tt == nil || tt.GetShape() == nil {
		return nil, errors.New("not a tensor of known rank")
	}
	dims := tt.GetShape().GetDim()
	open := func(i int) bool { return dims[i].GetDimParam() != "" || dims[i].GetDimValue() <= 0 }
	dim := func(i int, given int) (int, error) {
		if open(i) {
			if given <= 0 {
				return 0, fmt.Errorf("dimension %d (%q) is open; give the input shape (--input-shape CxHxW)", i, dims[i].GetDimParam())
			}
			return given, nil
		}
		v := dims[i].GetDimValue()
		if v > 1<<24 {
			return 0, fmt.Errorf("dimension %d is %d", i, v)
		}
		if given > 0 && int64(given) != v {
			return 0, fmt.Errorf("dimension %d is %d in the file, not %d as the input shape says", i, v, given)
		}
		return int(v), nil
	}
	g := im.opt.InputShape
	isInt := tt.GetElemType() == int32(onnxpb.TensorProto_INT64) || tt.GetElemType() == int32(onnxpb.TensorProto_INT32)
	v := &value{act: true, layer: -1}
	var err error
	switch {
	case len(dims) == 4 && !isInt:
		v.lay = layImage
		if v.shape.C, err = dim(1, g.C); err != nil {
			return nil, err
		}
		if v.shape.H, err = dim(2, g.H); err != nil {
			return nil, err
		}
		if v.shape.W, err = dim(3, g.W); err != nil {
			return nil, err
		}
	case len(dims) == 2 && isInt:
		v.lay, v.shape = layTokens, Shape{1, 1, 0}
		if v.shape.W, err = dim(1, g.W); err != nil {
			return nil, err
		}
	case len(dims) == 2:
		v.lay, v.shape = layVector, Shape{0, 1, 1}
		if v.shape.C, err = dim(1, g.C); err != nil {
			return nil, err
		}
	case len(dims) == 3 && !isInt:
		v.lay, v.shape = laySeq, Shape{0, 1, 0}
		if v.shape.W, err = dim(1, g.W); err != nil {
			return nil, err
		}
		if v.shape.C, err = dim(2, g.C); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("a %d-dimensional %s tensor: rctsim reads images (N, C, H, W), vectors (N, F), sequences (N, T, D) and token ids (N, T)",
			len(dims), onnxpb.TensorProto_DataType(tt.GetElemType()))
	}
	im.net.Input = v.shape
	return v, nil
}

// finish checks the graph's output and that every layer is used.
func (im *importer) finish(g *onnxpb.GraphProto) error {
	outs := g.GetOutput()
	if len(outs) != 1 {
		return fmt.Errorf("%d graph outputs: rctsim trains networks with one output (the logits)", len(outs))
	}
	v, ok := im.vals[outs[0].GetName()]
	if !ok {
		return fmt.Errorf("graph output %q is not computed by any node", outs[0].GetName())
	}
	v, err := im.materialise(v, "the graph output")
	if err != nil {
		return err
	}
	n := len(im.net.Layers)
	if n == 0 || v.layer != n-1 {
		return fmt.Errorf("graph output %q is not the last layer's output: layers after it lead nowhere", outs[0].GetName())
	}
	if v.lay == layImage && (v.shape.H != 1 || v.shape.W != 1) {
		return fmt.Errorf("graph output %q is a %v map; rctsim trains classifiers (a vector, or one per sequence position)", outs[0].GetName(), v.shape)
	}
	for i := range n - 1 {
		if !im.read[i] {
			return fmt.Errorf("layer %s: no later layer reads its output, and it is not the graph output", im.net.Layers[i].Name)
		}
	}
	im.net.Classes = im.net.Layers[n-1].Out.C
	if im.opt.Values {
		im.net.Initial = im.initial
	}
	if err := im.net.Validate(); err != nil {
		return err
	}
	return nil
}

// get returns input i of the current node ("" inputs are absent: nil).
func (im *importer) get(i int) (*value, error) {
	ins := im.node.GetInput()
	if i >= len(ins) || ins[i] == "" {
		return nil, nil
	}
	v, ok := im.vals[ins[i]]
	if !ok {
		return nil, fmt.Errorf("input %q is not computed before this node (nodes must be in topological order)", ins[i])
	}
	if v.bnAux {
		return nil, fmt.Errorf("input %q is a training statistic of BatchNormalization, which rctsim does not read", ins[i])
	}
	if v.softmax {
		return nil, fmt.Errorf("input %q is a Softmax of an activation: rctsim reads Softmax inside an attention, or at the network's output (where training's loss applies it)", ins[i])
	}
	return v, nil
}

// need returns input i, which must be present.
func (im *importer) need(i int) (*value, error) {
	v, err := im.get(i)
	if err == nil && v == nil {
		err = fmt.Errorf("input %d is missing", i)
	}
	return v, err
}

// needPair returns inputs 0 and 1, which must be present.
func (im *importer) needPair() (a, b *value, err error) {
	if a, err = im.need(0); err != nil {
		return nil, nil, err
	}
	if b, err = im.need(1); err != nil {
		return nil, nil, err
	}
	return a, b, nil
}

// inputLabel describes input i by its name, for materialise.
func (im *importer) inputLabel(i int) string {
	return fmt.Sprintf("input %q", im.node.GetInput()[i])
}

// constInput returns input i as a constant or initializer (nil when absent).
func (im *importer) constInput(i int) (*tensor, error) {
	v, err := im.get(i)
	if err != nil || v == nil {
		return nil, err
	}
	if v.t == nil {
		return nil, fmt.Errorf("input %q must be a constant (rctsim folds shapes and parameters at import)", im.node.GetInput()[i])
	}
	return v.t, nil
}

// constInts returns input i, a constant that must be present, as integers.
func (im *importer) constInts(i int, what, missing string) ([]int64, error) {
	t, err := im.constInput(i)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, errors.New(missing)
	}
	v, err := t.intList()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// attrs returns the node's attributes by name.
func (im *importer) attr(name string) *onnxpb.AttributeProto {
	for _, a := range im.node.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func (im *importer) attrInt(name string, def int64) int64 {
	if a := im.attr(name); a != nil {
		return a.GetI()
	}
	return def
}

func (im *importer) attrInts(name string) []int64 {
	if a := im.attr(name); a != nil {
		return a.GetInts()
	}
	return nil
}

func (im *importer) attrFloat(name string, def float32) float32 {
	if a := im.attr(name); a != nil {
		return a.GetF()
	}
	return def
}

func (im *importer) attrString(name, def string) string {
	if a := im.attr(name); a != nil {
		return string(a.GetS())
	}
	return def
}

// layerName is a unique name for a layer: from its weight's name (conv1.weight ->
// conv1), else the node's name, else its kind and index.
func (im *importer) layerName(weight string, kind Kind) string {
	name := strings.TrimSuffix(weight, ".weight")
	if name == "" {
		name = nodeLayerName(im.node.GetName())
	}
	if name == "" {
		name = fmt.Sprintf("%s%d", kind, len(im.net.Layers))
	}
	base := name
	for k := 2; im.names[name]; k++ {
		name = fmt.Sprintf("%s_%d", base, k)
	}
	im.names[name] = true
	return name
}

// nodeLayerName shortens PyTorch's node names, a path of modules ending in the
// operator ("/layer1/layer1.0/relu/Relu"), to the module's dotted name with the
// operator where it adds something ("layer1.0.relu"; "/layer1/layer1.0/Add" gives
// "layer1.0.add").
func nodeLayerName(node string) string {
	parts := strings.Split(strings.Trim(node, "/"), "/")
	if len(parts) < 2 {
		return strings.Trim(node, "/")
	}
	op := strings.ToLower(parts[len(parts)-1])
	var mods []string
	for i, m := range parts[:len(parts)-1] {
		// Each level repeats its parent's path ("layer1", "layer1.0"): keep the longest.
		if i+1 < len(parts)-1 && strings.HasPrefix(parts[i+1], m+".") {
			continue
		}
		mods = append(mods, m)
	}
	name := strings.Join(mods, ".")
	last := mods[len(mods)-1]
	if k := strings.LastIndex(last, "."); k >= 0 {
		last = last[k+1:]
	}
	if base, _, _ := strings.Cut(op, "_"); base != strings.ToLower(last) {
		name += "." + op
	}
	return name
}

// addLayer appends l reading the activation src and returns its output in layout lay.
// w and b are the layer's values in canonical layout (nil without).
func (im *importer) addLayer(l Layer, src *value, lay layout, w, b []float32) *value {
	l.In = src.shape
	if src.layer != len(im.net.Layers)-1 {
		l.Branch, l.Source = true, src.layer
	}
	if src.layer >= 0 {
		im.read[src.layer] = true
	}
	if l.IsResidual() || l.Kind == Concat {
		im.read[l.From] = true
	}
	im.net.Layers = append(im.net.Layers, l)
	var lv *LayerValues
	if l.HasWeights() && (w != nil || b != nil) {
		lv = &LayerValues{W: w, B: b}
	}
	im.initial = append(im.initial, lv)
	return &value{act: true, layer: len(im.net.Layers) - 1, lay: lay, shape: l.Out}
}

// activation returns input i as an activation, making a pending product a layer.
func (im *importer) activation(i int) (*value, error) {
	v, err := im.need(i)
	if err != nil {
		return nil, err
	}
	return im.materialise(v, fmt.Sprintf("input %q", im.node.GetInput()[i]))
}

// materialise turns a pending value into an activation (a product becomes a layer,
// shared by every later consumer); what describes the value in errors.
func (im *importer) materialise(v *value, what string) (*value, error) {
	switch {
	case v.act:
		return v, nil
	case v.lin != nil:
		nv, err := im.linearLayer(v.lin)
		if err != nil {
			return nil, err
		}
		*v = *nv
		return v, nil
	case v.view != nil:
		return nil, fmt.Errorf("%s is a strided slice or channel padding of an activation; rctsim reads those only as the shortcut operand of an Add (ResNet option A)", what)
	case v.attn != nil:
		return nil, fmt.Errorf("%s is an intermediate of an attention (%s); rctsim reads attention only as a whole: projections split into heads, Q K^T / sqrt(dh), an optional causal mask, softmax, times V, heads merged, output projection", what, v.attn.stage)
	}
	return nil, fmt.Errorf("%s is a constant where an activation is expected", what)
}

// apply reads one node and returns its outputs' values.
func (im *importer) apply(n *onnxpb.NodeProto) ([]*value, error) {
	op := n.GetOpType()
	// Fold what is constant: every input a constant (Shape reads only dims).
	if foldable[op] {
		if out, ok, err := im.fold(op); ok || err != nil {
			return out, err
		}
	}
	one := func(v *value, err error) ([]*value, error) {
		if err != nil {
			return nil, err
		}
		return []*value{v}, nil
	}
	switch op {
	case "Identity", "Dropout":
		v, err := im.need(0)
		return one(v, err)
	case "Conv":
		return one(im.conv())
	case "Gemm":
		return one(im.gemm())
	case "MatMul":
		return one(im.matmul())
	case "Add":
		return one(im.add())
	case "Relu":
		return one(im.simple(ReLU))
	case "Clip":
		return one(im.clip())
	case "MaxPool", "AveragePool":
		return one(im.pool(op))
	case "GlobalAveragePool":
		return one(im.globalPool())
	case "ReduceMean":
		return one(im.reduceMean())
	case "BatchNormalization":
		v, err := im.batchNorm()
		if err != nil {
			return nil, err
		}
		return []*value{v, {bnAux: true}, {bnAux: true}, {bnAux: true}, {bnAux: true}}, nil
	case "LayerNormalization":
		return one(im.layerNorm())
	case "Flatten":
		return one(im.flatten())
	case "Reshape":
		return one(im.reshape())
	case "Transpose":
		return one(im.transposeAct())
	case "Concat":
		return one(im.concatAct())
	case "Gather":
		return one(im.embedding())
	case "Slice":
		return one(im.sliceAct())
	case "Pad":
		return one(im.pad())
	case "Div", "Mul":
		return one(im.scale(op))
	case "Softmax", "LogSoftmax":
		return one(im.softmax(op))
	case "Shape":
		return one(im.shapeOf())
	}
	if foldable[op] {
		return nil, fmt.Errorf("an input is not a constant: rctsim folds %s only on constants and shapes", op)
	}
	return nil, fmt.Errorf("operator %s is not supported; rctsim reads %s", op, strings.Join(ONNXOperators, ", "))
}

// foldable lists the operators folded when their inputs are constant.
var foldable = map[string]bool{
	"Constant": true, "ConstantOfShape": true, "Shape": true, "Gather": true, "Unsqueeze": true,
	"Squeeze": true, "Concat": true, "Slice": true, "Reshape": true, "Transpose": true, "Cast": true,
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Equal": true, "Where": true, "Expand": true,
	"Range": true, "Identity": true, "Dropout": true,
}

// fold evaluates op on constant inputs; ok is false when an input is not constant.
func (im *importer) fold(op string) ([]*value, bool, error) {
	ins := im.node.GetInput()
	var ts []*tensor
	for i := range ins {
		v, err := im.get(i)
		if err != nil {
			return nil, false, err
		}
		switch {
		case v == nil:
			ts = append(ts, nil)
		case v.t != nil:
			ts = append(ts, v.t)
		case op == "Shape" && v.act:
			ts = append(ts, &tensor{dims: onnxDims(v.lay, v.shape)}) // only its dims are read
		default:
			return nil, false, nil
		}
	}
	t, err := im.foldOp(op, ts)
	if err != nil {
		return nil, true, err
	}
	return []*value{{t: t}}, true, nil
}

func (im *importer) foldOp(op string, ts []*tensor) (*tensor, error) {
	arg := func(i int) (*tensor, error) {
		if i >= len(ts) || ts[i] == nil {
			return nil, fmt.Errorf("input %d is missing", i)
		}
		return ts[i], nil
	}
	// args returns the first n inputs, which must be present.
	args := func(n int) ([]*tensor, error) {
		out := make([]*tensor, n)
		for i := range out {
			t, err := arg(i)
			if err != nil {
				return nil, err
			}
			out[i] = t
		}
		return out, nil
	}
	optInts := func(i int) ([]int64, error) {
		if i >= len(ts) || ts[i] == nil {
			return nil, nil
		}
		return ts[i].intList()
	}
	switch op {
	case "Constant":
		a := im.attr("value")
		switch {
		case a != nil && a.GetT() != nil:
			return readTensor(a.GetT(), true)
		case im.attr("value_int") != nil:
			return newInts(nil, []int64{im.attrInt("value_int", 0)}), nil
		case im.attr("value_ints") != nil:
			v := slices.Clone(im.attrInts("value_ints"))
			return newInts([]int64{int64(len(v))}, v), nil
		case im.attr("value_float") != nil:
			return newFloats(nil, []float64{float64(im.attrFloat("value_float", 0))}), nil
		}
		return nil, errors.New("a Constant without a tensor, integer or float value")
	case "Identity", "Dropout":
		return arg(0)
	case "Shape":
		t, err := arg(0)
		if err != nil {
			return nil, err
		}
		d := slices.Clone(t.dims)
		r := int64(len(d))
		lo, hi := im.attrInt("start", 0), im.attrInt("end", r)
		lo, hi, _, err = sliceRange(lo, hi, 1, r)
		if err != nil {
			return nil, err
		}
		d = d[lo:max(lo, hi)]
		return newInts([]int64{int64(len(d))}, d), nil
	case "ConstantOfShape":
		shape, err := optInts(0)
		if err != nil {
			return nil, err
		}
		if err := checkFold(shape); err != nil {
			return nil, err
		}
		fill := newFloats(nil, []float64{0})
		if a := im.attr("value"); a != nil && a.GetT() != nil {
			if fill, err = readTensor(a.GetT(), true); err != nil {
				return nil, err
			}
			if elems(fill.dims) != 1 || !fill.hasData() {
				return nil, errors.New("the fill value is not one value")
			}
		}
		n := elems(shape)
		return fill.gatherFrom(slices.Clone(shape), func(int64) int64 { return 0 }).withLen(n), nil
	case "Cast":
		t, err := arg(0)
		if err != nil {
			return nil, err
		}
		to := int32(im.attrInt("to", 0))
		if _, ok := floatTypes[to]; ok {
			return toFloats(t), nil
		}
		if _, ok := intTypes[to]; ok {
			return toInts(t), nil
		}
		return nil, fmt.Errorf("cast to %s", onnxpb.TensorProto_DataType(to))
	case "Unsqueeze", "Squeeze":
		t, err := arg(0)
		if err != nil {
			return nil, err
		}
		axes := im.attrInts("axes") // before opset 13
		if im.opset >= 13 {
			if axes, err = optInts(1); err != nil {
				return nil, err
			}
		}
		return squeeze(t, axes, op == "Unsqueeze")
	case "Concat":
		list, err := args(len(ts))
		if err != nil {
			return nil, err
		}
		return concat(list, im.attrInt("axis", 0))
	case "Gather":
		in, err := args(2)
		if err != nil {
			return nil, err
		}
		return in[0].gather(in[1], im.attrInt("axis", 0))
	case "Slice":
		t, err := arg(0)
		if err != nil {
			return nil, err
		}
		var p [4][]int64
		for i := range p {
			if p[i], err = optInts(i + 1); err != nil {
				return nil, err
			}
		}
		return t.slice(p[0], p[1], p[2], p[3])
	case "Reshape":
		t, err := arg(0)
		if err != nil {
			return nil, err
		}
		target, err := optInts(1)
		if err != nil {
			return nil, err
		}
		dims, err := reshapeDims(t.dims, target, im.attrInt("allowzero", 0) != 0)
		if err != nil {
			return nil, err
		}
		out := *t
		out.dims = dims
		return &out, nil
	case "Transpose":
		t, err := arg(0)
		if err != nil {
			return nil, err
		}
		return t.transpose(im.attrInts("perm"))
	case "Add", "Sub", "Mul", "Div", "Equal":
		in, err := args(2)
		if err != nil {
			return nil, err
		}
		return arith(op, in[0], in[1])
	case "Where":
		in, err := args(3)
		if err != nil {
			return nil, err
		}
		c, x, y := in[0], in[1], in[2]
		// where(c, x, y) = c*x + (1-c)*y elementwise, exact for 0/1 conditions.
		pick, err := broadcast(c, x, func(a, b float64) float64 { return a }, func(a, b int64) (int64, error) { return a, nil })
		if err != nil {
			return nil, err
		}
		xs, err := arith("Mul", x, toOnes(pick))
		if err != nil {
			return nil, err
		}
		ys, err := arith("Mul", y, toOnes(pick))
		if err != nil {
			return nil, err
		}
		out := *xs
		for i := range elems(out.dims) {
			if pick.at(int(i)) == 0 {
				if out.isFloat {
					out.floats[i] = ys.at(int(i))
				} else {
					out.ints[i] = ys.ints[i]
				}
			}
		}
		return &out, nil
	case "Expand":
		t, err := arg(0)
		if err != nil {
			return nil, err
		}
		shape, err := optInts(1)
		if err != nil {
			return nil, err
		}
		if err := checkFold(shape); err != nil {
			return nil, err
		}
		ones := newInts(shape, make([]int64, elems(shape)))
		for i := range ones.ints {
			ones.ints[i] = 1
		}
		return arith("Mul", t, ones)
	case "Range":
		var v [3]float64
		for i := range v {
			t, err := arg(i)
			if err != nil {
				return nil, err
			}
			if v[i], err = t.scalar(); err != nil {
				return nil, err
			}
		}
		if v[2] == 0 {
			return nil, errors.New("range step 0")
		}
		n := math.Max(math.Ceil((v[1]-v[0])/v[2]), 0)
		if n > maxFoldElems {
			return nil, fmt.Errorf("a range of %v values", n)
		}
		out := newFloats([]int64{int64(n)}, make([]float64, int(n)))
		for i := range out.floats {
			out.floats[i] = v[0] + float64(i)*v[2]
		}
		if !ts[0].isFloat {
			return toInts(out), nil
		}
		return out, nil
	}
	return nil, fmt.Errorf("no fold for %s", op)
}

// withLen gives a one-value tensor of dims its n copies (ConstantOfShape).
func (t *tensor) withLen(n int64) *tensor {
	if t.isFloat {
		t.floats = slices.Repeat(t.floats[:min(1, len(t.floats))], int(n))
		if n == 0 {
			t.floats = []float64{}
		}
	} else {
		t.ints = slices.Repeat(t.ints[:min(1, len(t.ints))], int(n))
		if n == 0 {
			t.ints = []int64{}
		}
	}
	return t
}

// toOnes is a tensor of t's dims holding ones (a broadcasting helper).
func toOnes(t *tensor) *tensor {
	out := newInts(t.dims, make([]int64, elems(t.dims)))
	for i := range out.ints {
		out.ints[i] = 1
	}
	return out
}

// squeeze removes (or, unsqueeze, inserts) axes of size 1.
func squeeze(t *tensor, axes []int64, unsqueeze bool) (*tensor, error) {
	out := *t
	if unsqueeze {
		r := len(t.dims) + len(axes)
		dims := make([]int64, r)
		set := make([]bool, r)
		for _, a := range axes {
			ax, err := axis(a, r)
			if err != nil {
				return nil, err
			}
			if set[ax] {
				return nil, fmt.Errorf("axis %d twice", a)
			}
			set[ax] = true
		}
		k := 0
		for i := range dims {
			dims[i] = 1
			if !set[i] {
				dims[i] = t.dims[k]
				k++
			}
		}
		out.dims = dims
		return &out, nil
	}
	drop := make([]bool, len(t.dims))
	for _, a := range axes {
		ax, err := axis(a, len(t.dims))
		if err != nil {
			return nil, err
		}
		if t.dims[ax] != 1 {
			return nil, fmt.Errorf("axis %d has size %d, not 1", a, t.dims[ax])
		}
		drop[ax] = true
	}
	out.dims = nil
	for i, d := range t.dims {
		if (axes == nil && d == 1) || drop[i] {
			continue
		}
		out.dims = append(out.dims, d)
	}
	return &out, nil
}

// shapeOf is Shape of a pending value that is no activation yet.
func (im *importer) shapeOf() (*value, error) {
	v, err := im.activation(0)
	if err != nil {
		return nil, err
	}
	t, err := im.foldOp("Shape", []*tensor{{dims: onnxDims(v.lay, v.shape)}})
	return &value{t: t}, err
}

// weight returns input i as an initializer of rank r.
func (im *importer) weight(i, rank int, what string) (*tensor, error) {
	t, err := im.constInput(i)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("%s is missing", what)
	}
	if len(t.dims) != rank {
		return nil, fmt.Errorf("%s has dims %v, not rank %d", what, t.dims, rank)
	}
	if !t.isFloat {
		return nil, fmt.Errorf("%s is not floating point", what)
	}
	if slices.Contains(t.dims, 0) || slices.ContainsFunc(t.dims, func(d int64) bool { return d > 1<<24 }) {
		return nil, fmt.Errorf("%s has dims %v", what, t.dims)
	}
	return t, nil
}

// imageInput returns input 0 as an image activation.
func (im *importer) imageInput(op string) (*value, error) {
	x, err := im.activation(0)
	if err != nil {
		return nil, err
	}
	if x.lay != layImage {
		return nil, fmt.Errorf("%s reads an image (N, C, H, W), not a tensor of dims %v", op, onnxDims(x.lay, x.shape))
	}
	return x, nil
}

// window reads kernel_shape, strides, pads and dilations, and checks what a
// layer can express: one stride, one padding on every side, dilation 1.
func (im *importer) window(kernel []int64) (stride, pad int, err error) {
	if len(kernel) != 2 || kernel[0] < 1 || kernel[1] < 1 || kernel[0] > 1<<12 || kernel[1] > 1<<12 {
		return 0, 0, fmt.Errorf("kernel %v: rctsim reads 2-D windows", kernel)
	}
	dilations := im.attrInts("dilations")
	if slices.ContainsFunc(dilations, func(d int64) bool { return d != 1 }) {
		return 0, 0, fmt.Errorf("dilations %v: rctsim's convolutions and pools have dilation 1", dilations)
	}
	strides := im.attrInts("strides")
	if strides == nil {
		strides = []int64{1, 1}
	}
	if len(strides) != 2 || strides[0] != strides[1] || strides[0] < 1 || strides[0] > 1<<12 {
		return 0, 0, fmt.Errorf("strides %v: rctsim's layers have one stride for both axes", strides)
	}
	pads := im.attrInts("pads")
	if pads == nil {
		pads = []int64{0, 0, 0, 0}
	}
	switch ap := im.attrString("auto_pad", "NOTSET"); ap {
	case "NOTSET", "VALID":
		if ap == "VALID" {
			pads = []int64{0, 0, 0, 0}
		}
	default:
		return 0, 0, fmt.Errorf("auto_pad %s: export explicit pads", ap)
	}
	if len(pads) != 4 || pads[0] != pads[1] || pads[0] != pads[2] || pads[0] != pads[3] || pads[0] < 0 || pads[0] > 1<<12 {
		return 0, 0, fmt.Errorf("pads %v: rctsim's layers pad every side equally", pads)
	}
	return int(strides[0]), int(pads[0]), nil
}

// windowOut is the output size of a window over n with padding and stride.
func windowOut(n, k, s, p int) int { return (n+2*p-k)/s + 1 }

func (im *importer) conv() (*value, error) {
	x, err := im.imageInput("Conv")
	if err != nil {
		return nil, err
	}
	w, err := im.weight(1, 4, "the weight")
	if err != nil {
		return nil, err
	}
	b, err := im.constInput(2)
	if err != nil {
		return nil, err
	}
	kernel := im.attrInts("kernel_shape")
	if kernel == nil {
		kernel = w.dims[2:]
	}
	if !slices.Equal(kernel, w.dims[2:]) {
		return nil, fmt.Errorf("kernel_shape %v but weight dims %v", kernel, w.dims)
	}
	stride, pad, err := im.window(kernel)
	if err != nil {
		return nil, err
	}
	groups := im.attrInt("group", 1)
	cout := w.dims[0]
	if groups < 1 || int64(x.shape.C)%groups != 0 || cout%groups != 0 || w.dims[1]*groups != int64(x.shape.C) {
		return nil, fmt.Errorf("weight dims %v with %d groups do not fit %d input channels", w.dims, groups, x.shape.C)
	}
	kh, kw := int(kernel[0]), int(kernel[1])
	ho, wo := windowOut(x.shape.H, kh, stride, pad), windowOut(x.shape.W, kw, stride, pad)
	if ho < 1 || wo < 1 {
		return nil, fmt.Errorf("a %dx%d kernel does not fit input %v with padding %d", kh, kw, x.shape, pad)
	}
	l := Layer{Name: im.layerName(w.name, Conv2D), Kind: Conv2D, Out: Shape{int(cout), ho, wo}, KernelH: kh, KernelW: kw,
		Stride: stride, Padding: pad, Bias: b != nil, Groups: int(groups)}
	if b != nil && (len(b.dims) != 1 || b.dims[0] != cout) {
		return nil, fmt.Errorf("bias dims %v for %d output channels", b.dims, cout)
	}
	return im.addLayer(l, x, layImage, w.float32s(), biasValues(b)), nil
}

func biasValues(b *tensor) []float32 {
	if b == nil {
		return nil
	}
	return b.float32s()
}

func (im *importer) gemm() (*value, error) {
	x, err := im.activation(0)
	if err != nil {
		return nil, err
	}
	if x.lay != layVector {
		return nil, fmt.Errorf("a Gemm reads a matrix (N, F), not a tensor of dims %v; flatten first", onnxDims(x.lay, x.shape))
	}
	if im.attrInt("transA", 0) != 0 || im.attrFloat("alpha", 1) != 1 || im.attrFloat("beta", 1) != 1 {
		return nil, errors.New("transA, alpha or beta other than 0, 1 and 1: rctsim reads Gemm as a linear layer")
	}
	w, err := im.weight(1, 2, "B")
	if err != nil {
		return nil, err
	}
	if im.attrInt("transB", 0) != 0 {
		if w, err = w.transpose(nil); err != nil {
			return nil, err
		}
	}
	c, err := im.constInput(2)
	if err != nil {
		return nil, err
	}
	return im.linearLayer(&pendingLinear{x: x, w: w, bias: c})
}

// linearLayer makes a pending product a layer: Linear on a vector, a 1x1 Conv2D on a
// sequence, or the output projection that completes an attention.
func (im *importer) linearLayer(p *pendingLinear) (*value, error) {
	if p.x.attn != nil {
		return im.attentionLayer(p)
	}
	x, err := im.materialise(p.x, "the product's input")
	if err != nil {
		return nil, err
	}
	k, n := p.w.dims[0], p.w.dims[1]
	if p.bias != nil {
		if d := p.bias.dims; elems(d) != n || (len(d) != 1 && !(len(d) == 2 && d[0] == 1)) {
			return nil, fmt.Errorf("bias dims %v for %d outputs", d, n)
		}
	}
	if x.lay != layVector && x.lay != laySeq {
		return nil, fmt.Errorf("a product of a tensor of dims %v: rctsim reads matrix products of vectors (N, F) and sequences (N, T, D)", onnxDims(x.lay, x.shape))
	}
	in := int64(x.shape.C)
	if k != in {
		return nil, fmt.Errorf("weight dims %v for %d input features", p.w.dims, in)
	}
	wt, err := p.w.transpose(nil) // canonical: a row of K per output
	if err != nil {
		return nil, err
	}
	name := p.w.name
	if x.lay == layVector {
		l := Layer{Name: im.layerName(name, Linear), Kind: Linear, Out: Shape{int(n), 1, 1}, Bias: p.bias != nil}
		return im.addLayer(l, x, layVector, wt.float32s(), biasValues(p.bias)), nil
	}
	l := Layer{Name: im.layerName(name, Conv2D), Kind: Conv2D, Out: Shape{int(n), 1, x.shape.W}, KernelH: 1, KernelW: 1, Stride: 1, Bias: p.bias != nil, Groups: 1}
	return im.addLayer(l, x, laySeq, wt.float32s(), biasValues(p.bias)), nil
}

func (im *importer) matmul() (*value, error) {
	a, b, err := im.needPair()
	if err != nil {
		return nil, err
	}
	if a.attn != nil || b.attn != nil {
		return im.attentionProduct(a, b)
	}
	if b.t == nil {
		return nil, errors.New("a product of two activations outside an attention")
	}
	if len(b.t.dims) != 2 || !b.t.isFloat || slices.Contains(b.t.dims, 0) {
		return nil, fmt.Errorf("the weight has dims %v; rctsim reads products with a 2-D weight", b.t.dims)
	}
	x, err := im.materialise(a, im.inputLabel(0))
	if err != nil {
		return nil, err
	}
	return &value{lin: &pendingLinear{x: x, w: b.t}}, nil
}

func (im *importer) add() (*value, error) {
	a, b, err := im.needPair()
	if err != nil {
		return nil, err
	}
	if a.t != nil && b.t == nil {
		a, b = b, a // the constant second
	}
	switch {
	case b.t != nil && a.lin != nil && a.lin.bias == nil:
		lin := *a.lin
		lin.bias = b.t
		return &value{lin: &lin}, nil
	case b.t != nil && a.attn != nil:
		return im.attentionMask(a, b.t)
	case b.t != nil:
		x, err := im.materialise(a, "the added activation")
		if err != nil {
			return nil, err
		}
		return im.posEmbedding(x, b.t)
	case a.view != nil || b.view != nil:
		if a.view != nil {
			a, b = b, a
		}
		return im.shortcut(a, b.view)
	}
	x, err := im.materialise(a, im.inputLabel(0))
	if err != nil {
		return nil, err
	}
	y, err := im.materialise(b, im.inputLabel(1))
	if err != nil {
		return nil, err
	}
	if x.shape != y.shape || x.lay != y.lay {
		return nil, fmt.Errorf("adds tensors of dims %v and %v: rctsim's residual adds outputs of one shape", onnxDims(x.lay, x.shape), onnxDims(y.lay, y.shape))
	}
	// The layer reads the later operand (the previous layer when it is one) and adds
	// the other (From).
	if x.layer > y.layer {
		x, y = y, x
	}
	if x.layer < 0 || x.layer == y.layer {
		return nil, errors.New("adds the network input or an output to itself: rctsim's residuals add two layers' outputs")
	}
	l := Layer{Name: im.layerName("", Add), Kind: Add, Out: y.shape, From: x.layer}
	return im.addLayer(l, y, y.lay, nil, nil), nil
}

// posEmbedding is an activation plus a learned table of one example's shape.
func (im *importer) posEmbedding(x *value, t *tensor) (*value, error) {
	want := onnxDims(x.lay, x.shape)[1:]
	d := t.dims
	if len(d) == len(want)+1 && d[0] == 1 {
		d = d[1:]
	}
	if !slices.Equal(d, want) || !t.isFloat || t.name == "" {
		return nil, fmt.Errorf("adds a constant of dims %v to an activation of dims %v: rctsim reads an added initializer of one example's shape as a learned position embedding, and nothing else", t.dims, onnxDims(x.lay, x.shape))
	}
	var w []float32
	if t.hasData() {
		tt := &tensor{dims: want, isFloat: true, floats: t.floats}
		if x.lay == laySeq { // (T, D) -> canonical [D][T]
			tt, _ = tt.transpose(nil)
		}
		w = tt.float32s()
	}
	l := Layer{Name: im.layerName(t.name, PosEmbedding), Kind: PosEmbedding, Out: x.shape}
	return im.addLayer(l, x, x.lay, w, nil), nil
}

// simple is a layer of one input that keeps its shape.
func (im *importer) simple(kind Kind) (*value, error) {
	x, err := im.activation(0)
	if err != nil {
		return nil, err
	}
	l := Layer{Name: im.layerName("", kind), Kind: kind, Out: x.shape}
	return im.addLayer(l, x, x.lay, nil, nil), nil
}

// clip reads Clip(x, 0, max) as a ReLU: a ReLU6 when max is 6.
func (im *importer) clip() (*value, error) {
	lo, err := im.constInput(1)
	if err != nil {
		return nil, err
	}
	hi, err := im.constInput(2)
	if err != nil {
		return nil, err
	}
	loV, hiV := math.Inf(-1), math.Inf(1)
	if lo != nil {
		if loV, err = lo.scalar(); err != nil {
			return nil, fmt.Errorf("min: %w", err)
		}
	}
	if hi != nil {
		if hiV, err = hi.scalar(); err != nil {
			return nil, fmt.Errorf("max: %w", err)
		}
	}
	if loV != 0 || !(hiV > 0) {
		return nil, fmt.Errorf("clips to [%v, %v]: rctsim reads Clip as a ReLU (min 0, such as ReLU6)", loV, hiV)
	}
	return im.simple(ReLU)
}

func (im *importer) pool(op string) (*value, error) {
	x, err := im.imageInput(op)
	if err != nil {
		return nil, err
	}
	kernel := im.attrInts("kernel_shape")
	stride, pad, err := im.window(kernel)
	if err != nil {
		return nil, err
	}
	kh, kw := int(kernel[0]), int(kernel[1])
	ho, wo := windowOut(x.shape.H, kh, stride, pad), windowOut(x.shape.W, kw, stride, pad)
	if im.attrInt("ceil_mode", 0) != 0 {
		ch := (x.shape.H+2*pad-kh+stride-1)/stride + 1
		cw := (x.shape.W+2*pad-kw+stride-1)/stride + 1
		if ch != ho || cw != wo {
			return nil, fmt.Errorf("ceil_mode gives %dx%d where rctsim's pools give %dx%d", ch, cw, ho, wo)
		}
	}
	if ho < 1 || wo < 1 {
		return nil, fmt.Errorf("a %dx%d window does not fit input %v", kh, kw, x.shape)
	}
	if kh == 1 && kw == 1 && stride == 1 && pad == 0 {
		return x, nil // an identity (VGG's closing AvgPool2d(1, 1))
	}
	kind := MaxPool
	if op == "AveragePool" {
		kind = AvgPool
		if pad > 0 && im.attrInt("count_include_pad", 0) == 0 {
			return nil, errors.New("padded average pooling that excludes the padding from the count: rctsim's average divides by the window")
		}
	}
	l := Layer{Name: im.layerName("", kind), Kind: kind, Out: Shape{x.shape.C, ho, wo}, KernelH: kh, KernelW: kw, Stride: stride, Padding: pad}
	return im.addLayer(l, x, layImage, nil, nil), nil
}

// globalAvg averages each channel of an image over the whole map.
func (im *importer) globalAvg(x *value, lay layout) *value {
	s := x.shape
	l := Layer{Name: im.layerName("", AvgPool), Kind: AvgPool, Out: Shape{s.C, 1, 1}, KernelH: s.H, KernelW: s.W, Stride: max(s.H, s.W)}
	return im.addLayer(l, x, lay, nil, nil)
}

func (im *importer) globalPool() (*value, error) {
	x, err := im.imageInput("GlobalAveragePool")
	if err != nil {
		return nil, err
	}
	return im.globalAvg(x, layImage), nil
}

func (im *importer) reduceMean() (*value, error) {
	x, err := im.activation(0)
	if err != nil {
		return nil, err
	}
	attrAxes := im.attrInts("axes")
	axes := slices.Clone(attrAxes)
	for i, a := range axes {
		if a < 0 {
			axes[i] = a + int64(x.lay.rank())
		}
	}
	slices.Sort(axes)
	if x.lay != layImage || !slices.Equal(axes, []int64{2, 3}) {
		return nil, fmt.Errorf("ReduceMean over axes %v of a tensor of dims %v: rctsim reads a mean over H and W of an image (a global average pool); a layer normalisation needs opset 17's LayerNormalization",
			attrAxes, onnxDims(x.lay, x.shape))
	}
	lay := layImage
	if im.attrInt("keepdims", 1) == 0 {
		lay = layVector
	}
	return im.globalAvg(x, lay), nil
}

func (im *importer) batchNorm() (*value, error) {
	x, err := im.activation(0)
	if err != nil {
		return nil, err
	}
	if x.lay != layImage && x.lay != layVector {
		return nil, fmt.Errorf("BatchNormalization of a tensor of dims %v: rctsim normalises images and vectors per channel", onnxDims(x.lay, x.shape))
	}
	scale, err := im.weight(1, 1, "the scale")
	if err != nil {
		return nil, err
	}
	b, err := im.weight(2, 1, "the bias")
	if err != nil {
		return nil, err
	}
	c := int64(x.shape.C)
	if scale.dims[0] != c || b.dims[0] != c {
		return nil, fmt.Errorf("scale and bias of %d and %d values for %d channels", scale.dims[0], b.dims[0], c)
	}
	l := Layer{Name: im.layerName(scale.name, BatchNorm), Kind: BatchNorm, Out: x.shape, Bias: true}
	return im.addLayer(l, x, x.lay, scale.float32s(), b.float32s()), nil
}

func (im *importer) layerNorm() (*value, error) {
	x, err := im.activation(0)
	if err != nil {
		return nil, err
	}
	attrAx := im.attrInt("axis", -1)
	ax := attrAx
	if ax < 0 {
		ax += int64(x.lay.rank())
	}
	if x.lay != laySeq || ax != 2 {
		return nil, fmt.Errorf("LayerNormalization over axis %d of a tensor of dims %v: rctsim normalises a sequence's channels (the last axis of (N, T, D))", attrAx, onnxDims(x.lay, x.shape))
	}
	scale, err := im.weight(1, 1, "the scale")
	if err != nil {
		return nil, err
	}
	b, err := im.constInput(2)
	if err != nil {
		return nil, err
	}
	if scale.dims[0] != int64(x.shape.C) || (b != nil && !slices.Equal(b.dims, scale.dims)) {
		return nil, fmt.Errorf("scale and bias do not have %d values", x.shape.C)
	}
	l := Layer{Name: im.layerName(scale.name, LayerNorm), Kind: LayerNorm, Out: x.shape, Bias: b != nil}
	return im.addLayer(l, x, laySeq, scale.float32s(), biasValues(b)), nil
}

// flattenLayer flattens an image into a vector.
func (im *importer) flattenLayer(x *value) *value {
	l := Layer{Name: im.layerName("", Flatten), Kind: Flatten, Out: Shape{int(x.shape.Elems()), 1, 1}}
	return im.addLayer(l, x, layVector, nil, nil)
}

func (im *importer) flatten() (*value, error) {
	x, err := im.activation(0)
	if err != nil {
		return nil, err
	}
	if ax := im.attrInt("axis", 1); ax != 1 {
		return nil, fmt.Errorf("a Flatten at axis %d: rctsim flattens each example (axis 1)", ax)
	}
	switch x.lay {
	case layVector:
		return x, nil
	case layImage:
		return im.flattenLayer(x), nil
	}
	return nil, fmt.Errorf("a Flatten of a tensor of dims %v: rctsim flattens images", onnxDims(x.lay, x.shape))
}

func (im *importer) reshape() (*value, error) {
	v, err := im.need(0)
	if err != nil {
		return nil, err
	}
	shape, err := im.constInts(1, "the shape", "the shape is missing")
	if err != nil {
		return nil, err
	}
	if v.lin != nil || v.attn != nil {
		return im.attentionReshape(v, shape)
	}
	x, err := im.materialise(v, "the reshaped tensor")
	if err != nil {
		return nil, err
	}
	in := onnxDims(x.lay, x.shape)
	out, err := reshapeDims(in, shape, im.attrInt("allowzero", 0) != 0)
	if err != nil {
		return nil, err
	}
	switch {
	case slices.Equal(out, in):
		return x, nil
	case len(out) == 2 && out[0] == batchSentinel && x.lay == layImage:
		return im.flattenLayer(x), nil
	}
	return nil, fmt.Errorf("reshapes %v to %v: rctsim reads a Reshape that flattens each example (to (N, -1)), or one that splits or merges attention heads", in, shapeText(out))
}

// shapeText prints a shape with the batch sentinel as N.
func shapeText(d []int64) string {
	parts := make([]string, len(d))
	for i, v := range d {
		switch {
		case v == batchSentinel:
			parts[i] = "N"
		case v%batchSentinel == 0 && v != 0:
			parts[i] = fmt.Sprintf("%d*N", v/batchSentinel)
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (im *importer) transposeAct() (*value, error) {
	v, err := im.need(0)
	if err != nil {
		return nil, err
	}
	if v.attn != nil {
		return im.attentionTranspose(v, im.attrInts("perm"))
	}
	x, err := im.materialise(v, "the transposed tensor")
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("transposes an activation of dims %v: rctsim reads Transpose only to split or merge attention heads", onnxDims(x.lay, x.shape))
}

func (im *importer) concatAct() (*value, error) {
	if ax := im.attrInt("axis", 0); ax != 1 {
		return nil, fmt.Errorf("a Concat of activations on axis %d: rctsim joins images on channels (axis 1)", ax)
	}
	ins := im.node.GetInput()
	if len(ins) < 2 {
		return nil, errors.New("a Concat of fewer than two activations")
	}
	acc, err := im.activation(0)
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(ins); i++ {
		x, err := im.activation(i)
		if err != nil {
			return nil, err
		}
		if acc.lay != layImage || x.lay != layImage || acc.shape.H != x.shape.H || acc.shape.W != x.shape.W {
			return nil, fmt.Errorf("joins tensors of dims %v and %v: rctsim joins images of one size on channels", onnxDims(acc.lay, acc.shape), onnxDims(x.lay, x.shape))
		}
		if acc.layer < 0 || acc.layer == x.layer {
			return nil, errors.New("joins the network input or an output with itself")
		}
		l := Layer{Name: im.layerName("", Concat), Kind: Concat, Out: Shape{acc.shape.C + x.shape.C, x.shape.H, x.shape.W}, From: acc.layer}
		acc = im.addLayer(l, x, layImage, nil, nil)
	}
	return acc, nil
}

// embedding is Gather of token ids from a table: an Embedding layer.
func (im *importer) embedding() (*value, error) {
	table, err := im.weight(0, 2, "the table")
	if err != nil {
		return nil, err
	}
	ids, err := im.activation(1)
	if err != nil {
		return nil, err
	}
	if ids.lay != layTokens || im.attrInt("axis", 0) != 0 {
		return nil, fmt.Errorf("a Gather of a table by a tensor of dims %v: rctsim reads Gather as an embedding of the token ids (N, T) that are the network's input", onnxDims(ids.lay, ids.shape))
	}
	l := Layer{Name: im.layerName(table.name, Embedding), Kind: Embedding, Out: Shape{int(table.dims[1]), 1, ids.shape.W}, Vocab: int(table.dims[0])}
	return im.addLayer(l, ids, laySeq, table.float32s(), nil), nil
}

// sliceAct reads a strided Slice of an image's rows or columns from 0 to the end: the
// subsampling of an option-A shortcut.
func (im *importer) sliceAct() (*value, error) {
	v, err := im.need(0)
	if err != nil {
		return nil, err
	}
	var p [4][]int64
	for i := range p {
		t, err := im.constInput(i + 1)
		if err != nil {
			return nil, err
		}
		if t != nil {
			if p[i], err = t.intList(); err != nil {
				return nil, err
			}
		}
	}
	view := &shortcutView{strideH: 1, strideW: 1}
	switch {
	case v.view != nil && v.view.before == 0 && v.view.after == 0:
		*view = *v.view
	case v.act && v.lay == layImage:
		view.src = v
	default:
		if _, err := im.materialise(v, "the sliced tensor"); err != nil {
			return nil, err
		}
		return nil, errors.New("slices an activation that is no image")
	}
	starts, ends, axes, steps := p[0], p[1], p[2], p[3]
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	bad := fmt.Errorf("slices %v:%v on axes %v by %v: rctsim reads a Slice only as every s-th row or column from 0 (x[:, :, ::s, ::s])", starts, ends, axes, steps)
	if len(ends) != len(starts) || len(axes) != len(starts) || (steps != nil && len(steps) != len(starts)) {
		return nil, bad
	}
	src := view.src.shape
	for j := range starts {
		st := int64(1)
		if steps != nil {
			st = steps[j]
		}
		a := axes[j]
		if a < 0 {
			a += 4
		}
		n := int64(src.H)
		if a == 3 {
			n = int64(src.W)
		}
		if (a != 2 && a != 3) || starts[j] != 0 || ends[j] < n || st < 1 {
			return nil, bad
		}
		if a == 2 {
			view.strideH *= st
		} else {
			view.strideW *= st
		}
	}
	return &value{view: view}, nil
}

// pad reads a constant zero Pad: of nothing (an identity), or of channels around a
// subsampled activation (an option-A shortcut).
func (im *importer) pad() (*value, error) {
	v, err := im.need(0)
	if err != nil {
		return nil, err
	}
	if m := im.attrString("mode", "constant"); m != "constant" {
		return nil, fmt.Errorf("pad mode %s: rctsim reads zero padding", m)
	}
	pads, err := im.constInts(1, "the pads", "the pads are missing")
	if err != nil {
		return nil, err
	}
	if cv, err := im.constInput(2); err != nil {
		return nil, err
	} else if cv != nil {
		if f, err := cv.scalar(); err != nil || f != 0 {
			return nil, errors.New("padding with a value other than zero")
		}
	}
	zero := func(idx ...int) bool {
		for _, i := range idx {
			if pads[i] != 0 {
				return false
			}
		}
		return true
	}
	if len(pads) == 8 && zero(0, 1, 2, 3, 4, 5, 6, 7) {
		return v, nil
	}
	bad := fmt.Errorf("pads %v: rctsim reads a Pad only as zero channels around a subsampled shortcut (ResNet option A); convolutions and pools carry their own padding", pads)
	if len(pads) != 8 || !zero(0, 2, 3, 4, 6, 7) || pads[1] < 0 || pads[5] < 0 || pads[1] > 1<<20 || pads[5] > 1<<20 {
		return nil, bad
	}
	view := &shortcutView{strideH: 1, strideW: 1}
	switch {
	case v.view != nil:
		*view = *v.view
	case v.act && v.lay == layImage:
		view.src = v
	default:
		return nil, bad
	}
	view.before += pads[1]
	view.after += pads[5]
	return &value{view: view}, nil
}

// shortcut is an activation plus a subsampled, channel-padded earlier output: a
// ShortcutAdd.
func (im *importer) shortcut(a *value, v *shortcutView) (*value, error) {
	x, err := im.materialise(a, "the activation a shortcut is added to")
	if err != nil {
		return nil, err
	}
	s := v.src.shape
	if v.strideH != v.strideW {
		return nil, fmt.Errorf("a shortcut subsampled by %d and %d: rctsim's shortcut has one stride", v.strideH, v.strideW)
	}
	st := int(v.strideH)
	want := Shape{s.C + int(v.before+v.after), (s.H-1)/st + 1, (s.W-1)/st + 1}
	if want != x.shape || x.lay != layImage {
		return nil, fmt.Errorf("adds a shortcut of shape %v to an activation of shape %v", want, x.shape)
	}
	if v.src.layer < 0 || v.src.layer == x.layer {
		return nil, errors.New("a shortcut from the network input or from the activation it is added to")
	}
	l := Layer{Name: im.layerName("", ShortcutAdd), Kind: ShortcutAdd, Out: x.shape, From: v.src.layer, Stride: st, Padding: int(v.before)}
	return im.addLayer(l, x, layImage, nil, nil), nil
}

// scale reads Div and Mul of an activation: only the scaling of attention scores.
func (im *importer) scale(op string) (*value, error) {
	a, b, err := im.needPair()
	if err != nil {
		return nil, err
	}
	if op == "Mul" && a.t != nil && b.t == nil {
		a, b = b, a
	}
	if a.attn != nil && b.t != nil {
		return im.attentionScale(a, b.t, op)
	}
	if _, err := im.materialise(a, "the scaled tensor"); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%s of an activation: rctsim reads it only as the 1/sqrt(dh) scaling of attention scores", op)
}

// softmax reads Softmax inside an attention, and a Softmax or LogSoftmax on the
// network's output, which training drops (its loss applies the softmax).
func (im *importer) softmax(op string) (*value, error) {
	v, err := im.need(0)
	if err != nil {
		return nil, err
	}
	if v.attn != nil && op == "Softmax" {
		return im.attentionSoftmax(v)
	}
	x, err := im.materialise(v, "the normalised tensor")
	if err != nil {
		return nil, err
	}
	return &value{act: x.act, layer: x.layer, lay: x.lay, shape: x.shape, softmax: true}, nil
}
