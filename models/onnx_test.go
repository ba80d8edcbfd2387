package models

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/rctsim/rctsim/models/onnx/onnxpb"
)

// The fixtures are written by testdata/make_onnx.py with PyTorch's exporter.

// sameStructure reports the first difference between two networks' layers, names
// aside: kinds, shapes, windows, groups, biases, residual sources, branches, heads.
func sameStructure(a, b *Network) string {
	if a.Input != b.Input || a.Classes != b.Classes || len(a.Layers) != len(b.Layers) {
		return "input, classes or number of layers differ: " + a.Input.String() + " " + b.Input.String()
	}
	for i := range a.Layers {
		x, y := a.Layers[i], b.Layers[i]
		x.Name, y.Name = "", ""
		if x != y {
			return fmt.Sprintf("layer %s differs from %s: %+v, %+v", a.Layers[i].Name, b.Layers[i].Name, x, y)
		}
	}
	return ""
}

func TestONNXBuiltins(t *testing.T) {
	for _, tc := range []struct{ file, builtin string }{
		{"lenet5", "lenet5"},
		{"resnet20", "resnet20"},
		{"vgg11", "vgg11"},
		{"mobilenet_v2", "mobilenetv2"}, // torchvision's, with ReLU6 and dropout
		{"transformer", "transformer"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Open(filepath.Join("testdata", tc.file+".onnx"), OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want, err := ByName(tc.builtin)
			if err != nil {
				t.Fatal(err)
			}
			if d := sameStructure(got, want); d != "" {
				t.Fatal(d)
			}
			if got.Params() != want.Params() {
				t.Errorf("%d parameters, built-in has %d", got.Params(), want.Params())
			}
			for p := Forward; p <= BackwardWeight; p++ {
				if g, w := got.MACs(p, 1), want.MACs(p, 1); g != w {
					t.Errorf("%v: %d MACs, built-in has %d", p, g, w)
				}
			}
		})
	}
}

// TestONNXTorchvision checks the published counts of torchvision's networks: parameters
// and the MACs of convolutions and linear layers (the fvcore convention torchvision's
// model table quotes as GFLOPS; pooling, normalisation, residual adds and Concat are
// vector work and not counted).
func TestONNXTorchvision(t *testing.T) {
	for _, tc := range []struct {
		file             string
		params, macs     int64
		branches, concat int
	}{
		{"resnet18", 11_689_512, 1_814_073_344, 3, 0},   // 1.814 G
		{"mobilenet_v2", 3_504_872, 300_774_272, 0, 0},  // 300.8 M
		{"squeezenet1_1", 1_235_496, 349_151_936, 8, 8}, // 349.2 M
	} {
		net, err := ReadONNXFile(filepath.Join("testdata", tc.file+".onnx"), OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if net.Params() != tc.params || net.MACs(Forward, 1) != tc.macs {
			t.Errorf("%s: %d parameters and %d MACs, want %d and %d", tc.file, net.Params(), net.MACs(Forward, 1), tc.params, tc.macs)
		}
		branches, concat := 0, 0
		for i := range net.Layers {
			if net.Layers[i].Branch {
				branches++
			}
			if net.Layers[i].Kind == Concat {
				concat++
			}
		}
		if branches != tc.branches || concat != tc.concat {
			t.Errorf("%s: %d branches and %d concats, want %d and %d", tc.file, branches, concat, tc.branches, tc.concat)
		}
	}
}

func TestONNXValues(t *testing.T) {
	net, err := ReadONNXFile("testdata/lenet5.onnx", OpenOptions{Values: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(net.Initial) != len(net.Layers) {
		t.Fatalf("%d initial values for %d layers", len(net.Initial), len(net.Layers))
	}
	for i, l := range net.Layers {
		v := net.Initial[i]
		if !l.HasWeights() {
			if v != nil {
				t.Errorf("layer %s has no weights but values", l.Name)
			}
			continue
		}
		if v == nil || int64(len(v.W)) != l.WeightParams() || int64(len(v.B)) != l.BiasParams() {
			t.Errorf("layer %s: values %v do not fit %d weights and %d biases", l.Name, v != nil, l.WeightParams(), l.BiasParams())
		}
	}
	plain, err := ReadONNXFile("testdata/lenet5.onnx", OpenOptions{})
	if err != nil || plain.Initial != nil {
		t.Errorf("without Values: %v, initial values %v", err, plain.Initial != nil)
	}
}

func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		arg   string
		opt   OpenOptions
		want  string // network name, or the error's text
		isErr bool
	}{
		{arg: "lenet5", want: "lenet5"},
		{arg: "testdata/lenet5.onnx", want: "lenet5"},
		{arg: "nosuchnet", want: "unknown model", isErr: true},
		{arg: "lenet5", opt: OpenOptions{InputShape: Shape{1, 32, 32}}, want: "applies to ONNX files", isErr: true},
		{arg: "testdata/missing.onnx", want: "no such file", isErr: true},
		{arg: "testdata/lenet5.onnx", opt: OpenOptions{InputShape: Shape{3, 32, 32}}, want: "dimension 1 is 1 in the file, not 3", isErr: true},
	} {
		net, err := Open(tc.arg, tc.opt)
		switch {
		case tc.isErr && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Open(%q): error %v, want one saying %q", tc.arg, err, tc.want)
		case !tc.isErr && (err != nil || net.Name != tc.want):
			t.Errorf("Open(%q): %v, %v; want network %s", tc.arg, net, err, tc.want)
		}
	}
	if _, err := Open("nosuchnet", OpenOptions{}); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("an unknown name is not ErrUnknownModel: %v", err)
	}
}

// A tiny graph builder for the error cases.

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func node(name, op string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{Name: proto.String(name), OpType: proto.String(op), Input: in, Output: out, Attribute: attrs}
}

func initializer(name string, dims ...int64) *onnxpb.TensorProto {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: make([]float32, n)}
}

func valueInfo(name string, elem onnxpb.TensorProto_DataType, dims ...any) *onnxpb.ValueInfoProto {
	var ds []*onnxpb.TensorShapeProto_Dimension
	for _, d := range dims {
		switch d := d.(type) {
		case string:
			ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}})
		case int:
			ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		}
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(elem)), Shape: &onnxpb.TensorShapeProto{Dim: ds}}}}}
}

// graph is a model of opset 13 with an input x (N, 1, 8, 8), a 3x3 convolution c to 4
// channels, then the given nodes ending in y, the output.
func graph(opset int64, nodes []*onnxpb.NodeProto, inits ...*onnxpb.TensorProto) []byte {
	g := &onnxpb.GraphProto{
		Name:        proto.String("g"),
		Input:       []*onnxpb.ValueInfoProto{valueInfo("x", onnxpb.TensorProto_FLOAT, "N", 1, 8, 8)},
		Output:      []*onnxpb.ValueInfoProto{valueInfo("y", onnxpb.TensorProto_FLOAT, "N", 10)},
		Initializer: append([]*onnxpb.TensorProto{initializer("w", 4, 1, 3, 3), initializer("fc", 10, 256)}, inits...),
		Node:        append([]*onnxpb.NodeProto{node("conv", "Conv", []string{"x", "w"}, []string{"c"}, attrInts("pads", 1, 1, 1, 1))}, nodes...),
	}
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g, OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}}}
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// head flattens h and classifies it into y.
func head(h string) []*onnxpb.NodeProto {
	return []*onnxpb.NodeProto{
		node("flat", "Flatten", []string{h}, []string{"f"}),
		node("fc", "Gemm", []string{"f", "fc"}, []string{"y"}, attrInt("transB", 1)),
	}
}

func withHead(h string, nodes ...*onnxpb.NodeProto) []*onnxpb.NodeProto {
	return append(nodes, head(h)...)
}

// errorCases are files import must refuse, with what the error must say.
func errorCases() []struct {
	name string
	data []byte
	want []string
} {
	return []struct {
		name string
		data []byte
		want []string
	}{
		{"valid", graph(13, withHead("c")), nil},
		{"empty", nil, []string{"bad.onnx", "empty file"}},
		{"garbage", []byte("this is not a protobuf"), []string{"bad.onnx", "not an ONNX model"}},
		{"no graph", func() []byte { b, _ := proto.Marshal(&onnxpb.ModelProto{IrVersion: proto.Int64(8)}); return b }(), []string{"no graph"}},
		{"old opset", graph(10, withHead("c")), []string{"opset 10", "11 to 17"}},
		{"new opset", graph(18, withHead("c")), []string{"opset 18"}},
		{"unsupported op", graph(13, withHead("a", node("act", "LeakyRelu", []string{"c"}, []string{"a"}))),
			[]string{"bad.onnx", `node "act"`, "LeakyRelu", "opset 13", "not supported", "Conv, Div"}},
		{"dilation", graph(13, withHead("d", node("dil", "Conv", []string{"c", "w4"}, []string{"d"}, attrInts("dilations", 2, 2), attrInts("pads", 2, 2, 2, 2))), initializer("w4", 4, 4, 3, 3)),
			[]string{`node "dil"`, "dilations [2 2]", "dilation 1"}},
		{"asymmetric pads", graph(13, withHead("d", node("pad", "Conv", []string{"c", "w4"}, []string{"d"}, attrInts("pads", 0, 0, 2, 2))), initializer("w4", 4, 4, 3, 3)),
			[]string{`node "pad"`, "pads [0 0 2 2]"}},
		{"two strides", graph(13, withHead("d", node("st", "MaxPool", []string{"c"}, []string{"d"}, attrInts("kernel_shape", 2, 2), attrInts("strides", 1, 2)))),
			[]string{`node "st"`, "strides [1 2]"}},
		{"softmax inside", graph(13, withHead("r", node("sm", "Softmax", []string{"c"}, []string{"s"}), node("r", "Relu", []string{"s"}, []string{"r"}))),
			[]string{`node "r"`, "Softmax"}},
		{"dead layer", graph(13, withHead("c", node("dead", "Relu", []string{"c"}, []string{"unused"}))),
			[]string{"no later layer reads"}},
		{"missing input", graph(13, withHead("r", node("r", "Relu", []string{"nowhere"}, []string{"r"}))),
			[]string{`node "r"`, `"nowhere" is not computed`}},
		{"bad weight", graph(13, withHead("d", node("conv2", "Conv", []string{"c", "w5"}, []string{"d"})), initializer("w5", 4, 3, 3, 3)),
			[]string{`node "conv2"`, "do not fit 4 input channels"}},
		{"reshape", graph(13, withHead("r", node("k", "Constant", nil, []string{"shape"}, &onnxpb.AttributeProto{Name: proto.String("value"),
			T: &onnxpb.TensorProto{Dims: []int64{4}, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{0, 2, 32, 8}}}),
			node("r", "Reshape", []string{"c", "shape"}, []string{"r"}))), []string{`node "r"`, "cannot reshape"}},
		{"data mismatch", graph(13, withHead("c"), &onnxpb.TensorProto{Name: proto.String("odd"), Dims: []int64{3}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: []float32{1}}),
			[]string{`initializer "odd"`, "need 3 values, the file holds 1"}},
	}
}

func TestONNXErrors(t *testing.T) {
	for _, tc := range errorCases() {
		t.Run(tc.name, func(t *testing.T) {
			net, err := ReadONNX(bytes.NewReader(tc.data), "bad.onnx", OpenOptions{})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if net.Params() != 36+2560 {
					t.Errorf("%d parameters", net.Params())
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one saying %q", tc.want)
			}
			if !errors.Is(err, ErrONNX) {
				t.Errorf("error %v is not ErrONNX", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestONNXInputShape(t *testing.T) {
	open := graph(13, withHead("c"))
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(open, m); err != nil {
		t.Fatal(err)
	}
	m.Graph.Input = []*onnxpb.ValueInfoProto{valueInfo("x", onnxpb.TensorProto_FLOAT, "N", 1, "H", "W")}
	data, _ := proto.Marshal(m)
	if _, err := ReadONNX(bytes.NewReader(data), "open.onnx", OpenOptions{}); err == nil || !strings.Contains(err.Error(), "--input-shape") {
		t.Errorf("an open input without a shape: %v", err)
	}
	net, err := ReadONNX(bytes.NewReader(data), "open.onnx", OpenOptions{InputShape: Shape{1, 8, 8}})
	if err != nil || net.Input != (Shape{1, 8, 8}) {
		t.Errorf("with the shape: %v, %v", net, err)
	}
	if _, err := ReadONNX(bytes.NewReader(data), "open.onnx", OpenOptions{InputShape: Shape{1, 16, 16}}); err == nil || !strings.Contains(err.Error(), "256") {
		t.Errorf("a shape the classifier does not fit: %v", err)
	}
}

func FuzzReadONNX(f *testing.F) {
	for _, tc := range errorCases() {
		f.Add(tc.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		net, err := ReadONNX(bytes.NewReader(data), "fuzz.onnx", OpenOptions{Values: true})
		if err != nil {
			return
		}
		if err := net.Validate(); err != nil {
			t.Fatalf("imported an invalid network: %v", err)
		}
	})
}

func TestNodeLayerName(t *testing.T) {
	for node, want := range map[string]string{
		"/layer1/layer1.0/relu/Relu":                   "layer1.0.relu",
		"/layer1/layer1.0/Add":                         "layer1.0.add",
		"/features/features.3/squeeze_activation/Relu": "features.3.squeeze_activation.relu",
		"/Relu_1":          "Relu_1",
		"act":              "act",
		"/maxpool/MaxPool": "maxpool",
	} {
		if got := nodeLayerName(node); got != want {
			t.Errorf("nodeLayerName(%q) = %q, want %q", node, got, want)
		}
	}
}
