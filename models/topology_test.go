package models

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/traces/fileio"
)

const convHeader = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"

const gemmHeader = "Layer Name, M, N, K,\n"

func conv(name string, c, h, w, kh, kw, nf, stride, line int) TopologyLayer {
	return TopologyLayer{
		Layer: Layer{
			Name: name, Kind: Conv2D,
			In:  Shape{c, h, w},
			Out: Shape{nf, (h-kh)/stride + 1, (w-kw)/stride + 1},
			// Padding 0 and Bias false: SCALE-Sim's layers have neither.
			KernelH: kh, KernelW: kw, Stride: stride,
		},
		Batch: 1,
		Line:  line,
	}
}

func gemmRow(name string, m, n, k, line int) TopologyLayer {
	return TopologyLayer{
		Layer: Layer{Name: name, Kind: Linear, In: Shape{k, 1, 1}, Out: Shape{n, 1, 1}},
		Batch: m,
		Line:  line,
	}
}

func equalLayers(t *testing.T, got, want []TopologyLayer) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d layers, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("layer %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestReadTopologyTestdata(t *testing.T) {
	tests := []struct {
		file string
		gemm bool
		want []TopologyLayer
	}{
		{"lenet_conv.csv", false, []TopologyLayer{
			conv("conv1", 1, 32, 32, 5, 5, 6, 1, 2),
			conv("conv2", 6, 14, 14, 5, 5, 16, 1, 3),
			conv("fc1", 400, 1, 1, 1, 1, 120, 1, 4),
			conv("fc2", 120, 1, 1, 1, 1, 84, 1, 5),
			conv("fc3", 84, 1, 1, 1, 1, 10, 1, 6),
		}},
		{"gemm.csv", true, []TopologyLayer{
			gemmRow("conv1_fwd", 25088, 6, 25, 2),
			gemmRow("conv2_fwd", 3200, 16, 150, 3),
			gemmRow("fc1_fwd", 32, 120, 400, 4),
			gemmRow("fc1_bwd_data", 32, 400, 120, 5),
			gemmRow("fc1_bwd_weight", 400, 120, 32, 6),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := ReadTopology(f, tt.file, tt.gemm)
			if err != nil {
				t.Fatal(err)
			}
			equalLayers(t, got, tt.want)
		})
	}
}

// The LeNet-5 topology file describes the same products as models.LeNet5: the same
// forward multiply-accumulates, layer by layer.
func TestLeNetTopologyMatchesModel(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "lenet_conv.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ReadTopology(bytes.NewReader(data), "lenet_conv.csv", false)
	if err != nil {
		t.Fatal(err)
	}
	net := LeNet5()
	idx := net.WeightLayers()
	if len(rows) != len(idx) {
		t.Fatalf("%d rows, want %d", len(rows), len(idx))
	}
	var total int64
	for i, r := range rows {
		ml := &net.Layers[idx[i]]
		if got, want := r.Layer.MACs(Forward)*int64(r.Batch), ml.MACs(Forward); got != want {
			t.Errorf("%s: %d MACs, model layer %s has %d", r.Layer.Name, got, ml.Name, want)
		}
		if got, want := r.Layer.WeightParams(), ml.WeightParams(); got != want {
			t.Errorf("%s: %d weights, model has %d", r.Layer.Name, got, want)
		}
		total += r.Layer.MACs(Forward) * int64(r.Batch)
	}
	if total != 416_520 {
		t.Errorf("total forward MACs %d, want 416,520", total)
	}
}

func TestReadTopologyGood(t *testing.T) {
	tests := []struct {
		name string
		in   string
		gemm bool
		want []TopologyLayer
	}{
		{
			name: "canonical",
			in:   convHeader + "Conv1, 224, 224, 11, 11, 3, 96, 4,\n",
			want: []TopologyLayer{conv("Conv1", 3, 224, 224, 11, 11, 96, 4, 2)},
		},
		{
			name: "no trailing commas, CRLF, blank and space-only lines",
			in: "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides\r\n" +
				"\r\n   \r\nconv1, 32, 32, 5, 5, 1, 6, 1\r\n,,,,\r\n\r\nconv2, 14, 14, 5, 5, 6, 16, 1\r\n",
			want: []TopologyLayer{conv("conv1", 1, 32, 32, 5, 5, 6, 1, 4), conv("conv2", 6, 14, 14, 5, 5, 16, 1, 7)},
		},
		{
			name: "padded columns as in SCALE-Sim's alexnet.csv",
			in:   convHeader + "Conv2     ,27         ,27        ,5            ,5           ,96      ,256       ,1      ,\n",
			want: []TopologyLayer{conv("Conv2", 96, 27, 27, 5, 5, 256, 1, 2)},
		},
		{
			name: "header spelled as in SCALE-Sim's resnet_fwd.csv",
			in:   "Layer name,Ifmap height,ifmap width,filter height,filter width,channels,num filters,strides,\nfc1000,1,1,1,1,2048,1000,1,\n",
			want: []TopologyLayer{conv("fc1000", 2048, 1, 1, 1, 1, 1000, 1, 2)},
		},
		{
			name: "byte-order mark, blank line, upper-case header",
			in:   "\ufeff\nLAYER NAME,IFMAP HEIGHT,IFMAP WIDTH,FILTER HEIGHT,FILTER WIDTH,CHANNELS,NUM FILTER,STRIDES,\nc,8,8,3,3,4,4,1,\n",
			want: []TopologyLayer{conv("c", 4, 8, 8, 3, 3, 4, 1, 3)},
		},
		{
			name: "SCALE-Sim's nine-column writer format with equal strides",
			in:   "Layer name,IFMAP height,IFMAP width,Filter height,Filter width,Channels,Num filter,Stride height,Stride width,\nc,9,9,3,3,2,5,2,2,\n",
			want: []TopologyLayer{conv("c", 2, 9, 9, 3, 3, 5, 2, 2)},
		},
		{
			name: "stride that does not divide: floor((7-2)/2)+1 = 3, rectangular",
			in:   convHeader + "c, 7, 10, 2, 3, 1, 1, 2,\n",
			want: []TopologyLayer{{
				Layer: Layer{Name: "c", Kind: Conv2D, In: Shape{1, 7, 10}, Out: Shape{1, 3, 4}, KernelH: 2, KernelW: 3, Stride: 2},
				Batch: 1, Line: 2,
			}},
		},
		{
			name: "filter equal to the input, duplicated names, names with spaces and quotes",
			in:   convHeader + "Convolution Layer 1, 5, 5, 5, 5, 1, 6, 1,\nConvolution Layer 1, 5, 5, 5, 5, 1, 6, 1,\n\"a, b\", 3, 3, 1, 1, 1, 1, 1,\n",
			want: []TopologyLayer{
				{Layer: Layer{Name: "Convolution Layer 1", Kind: Conv2D, In: Shape{1, 5, 5}, Out: Shape{6, 1, 1}, KernelH: 5, KernelW: 5, Stride: 1}, Batch: 1, Line: 2},
				{Layer: Layer{Name: "Convolution Layer 1", Kind: Conv2D, In: Shape{1, 5, 5}, Out: Shape{6, 1, 1}, KernelH: 5, KernelW: 5, Stride: 1}, Batch: 1, Line: 3},
				conv("a, b", 1, 3, 3, 1, 1, 1, 1, 4),
			},
		},
		{
			name: "gemm canonical, no newline at the end",
			in:   "Layer Name, M, N, K,\nTest 1, 256, 128, 64,",
			gemm: true,
			want: []TopologyLayer{gemmRow("Test 1", 256, 128, 64, 2)},
		},
		{
			name: "gemm header as in SCALE-Sim's gpt2.csv, no trailing commas",
			in:   "Layer,M,N,K\nQKT,1024,1024,64\n\nLinear1,1024,4800,1600\n",
			gemm: true,
			want: []TopologyLayer{gemmRow("QKT", 1024, 1024, 64, 2), gemmRow("Linear1", 1024, 4800, 1600, 4)},
		},
		{
			name: "gemm values at the bound",
			in:   "Layer Name, M, N, K,\nbig, 16777216, 1, 16777216,\n",
			gemm: true,
			want: []TopologyLayer{gemmRow("big", 1<<24, 1, 1<<24, 2)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadTopology(strings.NewReader(tt.in), "t.csv", tt.gemm)
			if err != nil {
				t.Fatal(err)
			}
			equalLayers(t, got, tt.want)
		})
	}
}

func TestReadTopologyBad(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		gemm      bool
		line, col int
		field     string
		msg       string // substring of the message
		is        error  // errors.Is target, if any
	}{
		{name: "empty file", in: "", msg: "no header row", is: ErrEmptyTopology},
		{name: "only blank lines", in: "\n  \n\r\n,,\n", msg: "no header row", is: ErrEmptyTopology},
		{name: "header only", in: convHeader + "\n", line: 1, msg: "no layers after the header", is: ErrEmptyTopology},
		{name: "gemm header only", in: gemmHeader, gemm: true, line: 1, msg: "no layers", is: ErrEmptyTopology},
		{
			name: "no header", in: "conv1, 32, 32, 5, 5, 1, 6, 1,\n",
			line: 1, col: 1, field: "header", msg: `column 1: want "Layer name", got "conv1"`,
		},
		{
			name: "short header", in: "Layer name, IFMAP Height\nc, 3\n",
			line: 1, col: 1, field: "header", msg: "want 8 columns (Layer name, IFMAP Height, IFMAP Width,",
		},
		{
			name: "misspelled header", in: "Layer name, IFMAP Hieght, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n",
			line: 1, col: 13, field: "header", msg: `column 2: want "IFMAP Height", got "IFMAP Hieght"`,
		},
		{
			name: "conv file in gemm mode", in: convHeader + "c, 8, 8, 3, 3, 1, 1, 1,\n", gemm: true,
			line: 1, col: 1, field: "header", msg: "want 4 columns (Layer Name, M, N, K), got 8 (this is a convolution topology, not a GEMM one)",
		},
		{
			name: "gemm file in conv mode", in: gemmHeader + "fc, 1, 2, 3,\n",
			line: 1, col: 1, field: "header", msg: "this is a GEMM topology; read it in GEMM mode",
		},
		{
			name: "sparsity column", in: "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides, Sparsity,\n",
			line: 1, col: 1, field: "header", msg: "want 8 columns (Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides), got 9",
		},
		{
			name: "nine columns, second stride misspelled", in: "Layer name,IFMAP height,IFMAP width,Filter height,Filter width,Channels,Num filter,Stride height,Stride widht,\n",
			line: 1, col: 98, field: "header", msg: `column 9: want "Stride Width", got "Stride widht"`,
		},
		{
			name: "row too short", in: convHeader + "conv1, 32, 32, 5, 5, 1, 6,\n",
			line: 2, col: 1, msg: "want 8 fields (Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides), got 7",
		},
		{
			name: "row too long", in: convHeader + "conv1, 32, 32, 5, 5, 1, 6, 1, 1,\n",
			line: 2, col: 1, msg: "got 9",
		},
		{
			name: "not an integer", in: convHeader + "conv1, 32, 32, x, 5, 1, 6, 1,\n",
			line: 2, col: 16, field: "Filter Height", msg: `must be a positive integer (got "x")`,
		},
		{
			name: "not an integer on line 3", in: convHeader + "ok, 8, 8, 3, 3, 1, 1, 1,\nc, 8, 8, 3, 3, 1.5, 1, 1,\n",
			line: 3, col: 16, field: "Channels", msg: `(got "1.5")`,
		},
		{
			name: "zero channels", in: convHeader + "c, 32, 32, 5, 5, 0, 6, 1,\n",
			line: 2, col: 18, field: "Channels", msg: `must be a positive integer (got "0")`,
		},
		{
			name: "negative filters", in: convHeader + "c, 32, 32, 5, 5, 1, -6, 1,\n",
			line: 2, col: 21, field: "Num Filter", msg: `(got "-6")`,
		},
		{
			name: "stride 0", in: convHeader + "c, 32, 32, 5, 5, 1, 6, 0,\n",
			line: 2, col: 24, field: "Strides", msg: `must be a positive integer (got "0")`,
		},
		{
			name: "empty field", in: convHeader + "c, 32, , 5, 5, 1, 6, 1,\n",
			line: 2, col: 8, field: "IFMAP Width", msg: `(got "")`,
		},
		{
			name: "empty name", in: convHeader + ", 32, 32, 5, 5, 1, 6, 1,\n",
			line: 2, col: 1, field: "Layer name", msg: "must not be empty",
		},
		{
			name: "filter taller than ifmap", in: convHeader + "c, 4, 4, 5, 3, 1, 6, 1,\n",
			line: 2, col: 10, field: "Filter Height", msg: "5 exceeds IFMAP Height 4",
		},
		{
			name: "filter wider than ifmap", in: convHeader + "c, 8, 4, 3, 5, 1, 6, 1,\n",
			line: 2, col: 13, field: "Filter Width", msg: "5 exceeds IFMAP Width 4",
		},
		{
			name: "unequal strides", in: "Layer name,IFMAP height,IFMAP width,Filter height,Filter width,Channels,Num filter,Stride height,Stride width,\nc,9,9,3,3,2,5,2,1,\n",
			line: 2, col: 17, field: "Stride Width", msg: "1 differs from Stride Height 2",
		},
		{
			name: "value too large", in: gemmHeader + "fc, 16777217, 1, 1,\n", gemm: true,
			line: 2, col: 5, field: "M", msg: "must be at most 16777216",
		},
		{
			name: "value beyond int64", in: gemmHeader + "fc, 1, 99999999999999999999999, 1,\n", gemm: true,
			line: 2, col: 8, field: "N", msg: "must be at most",
		},
		{
			name: "negative beyond int64", in: gemmHeader + "fc, 1, 1, -99999999999999999999999,\n", gemm: true,
			line: 2, col: 11, field: "K", msg: "must be a positive integer",
		},
		{
			name: "too many MACs", in: gemmHeader + "fc, 16777216, 16777216, 16777216,\n", gemm: true,
			line: 2, col: 1, msg: `layer "fc" is too large (more than 2^63 multiply-accumulates`,
		},
		{
			// Each value within its cap, the product used to tile for ever.
			name: "10^18 MACs", in: gemmHeader + "ok, 8, 8, 8,\nfc, 1000000, 1000000, 1000000,\n", gemm: true,
			line: 3, col: 1, msg: `layer "fc" is too large (1000000000000000000 multiply-accumulates; the simulator runs at most 2^50`,
		},
		{
			name: "convolution of 2^50+ MACs", in: convHeader + "c, 16384, 16384, 1, 1, 65536, 128, 1,\n",
			line: 2, col: 1, msg: `layer "c" is too large (2251799813685248 multiply-accumulates`,
		},
		{
			name: "gemm non-integer", in: gemmHeader + "fc1, 32, 1.5e2, 400,\n", gemm: true,
			line: 2, col: 10, field: "N", msg: `(got "1.5e2")`,
		},
		{
			name: "bare quote", in: convHeader + "c\"1, 8, 8, 3, 3, 1, 1, 1,\n",
			line: 2, col: 2, msg: "bare", is: csv.ErrBareQuote,
		},
		{
			name: "unterminated quote", in: convHeader + "\"c, 8, 8, 3, 3, 1, 1, 1,\n",
			line: 2, msg: "quote", is: csv.ErrQuote,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			layers, err := ReadTopology(strings.NewReader(tt.in), "layers.csv", tt.gemm)
			if err == nil {
				t.Fatalf("no error; got %+v", layers)
			}
			if layers != nil {
				t.Errorf("layers = %+v alongside the error, want nil", layers)
			}
			var te *fileio.Error
			if !errors.As(err, &te) {
				t.Fatalf("error %T (%v) is not a *fileio.Error", err, err)
			}
			if te.File != "layers.csv" || te.Line != tt.line || te.Key != tt.field {
				t.Errorf("error at %s:%d field %q, want layers.csv:%d field %q (%v)", te.File, te.Line, te.Key, tt.line, tt.field, err)
			}
			if tt.col != 0 && te.Col != tt.col {
				t.Errorf("column %d, want %d (%v)", te.Col, tt.col, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

func TestTopologyErrorFormat(t *testing.T) {
	const text = convHeader + "ok, 8, 8, 3, 3, 1, 1, 1,\nconv1, 32, 32, x, 5, 1, 6, 1,\n"
	tests := []struct{ source, want string }{
		{"layers.csv", `layers.csv:3:16: Filter Height: must be a positive integer (got "x")`},
		{"", `topology:3:16: Filter Height: must be a positive integer (got "x")`}, // an unnamed input is still named
	}
	for _, tt := range tests {
		_, err := ReadTopology(strings.NewReader(text), tt.source, false)
		if err == nil || err.Error() != tt.want {
			t.Errorf("source %q: error %v, want %q", tt.source, err, tt.want)
		}
	}
}

// errReader fails after its data, as a broken pipe or a bad disk would.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadTopologyReaderError(t *testing.T) {
	ioErr := errors.New("disk on fire")
	_, err := ReadTopology(&errReader{data: []byte(convHeader), err: ioErr}, "layers.csv", false)
	if !errors.Is(err, ioErr) {
		t.Fatalf("error %v does not wrap the reader's error", err)
	}
	var te *fileio.Error
	if !errors.As(err, &te) || te.File != "layers.csv" {
		t.Errorf("error %v is not a *fileio.Error naming the file", err)
	}
}

// FuzzReadTopology checks that no input panics, that errors are *fileio.Errors, and that
// every layer read has positive shapes consistent with its kernel and stride.
func FuzzReadTopology(f *testing.F) {
	for _, name := range []string{"lenet_conv.csv", "gemm.csv"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, name == "gemm.csv")
		f.Add(data, name != "gemm.csv")
	}
	f.Add([]byte(convHeader+"c, 7, 10, 2, 3, 1, 1, 2,\n"), false)
	f.Add([]byte("Layer,M,N,K\nQKT,1024,1024,64\n"), true)
	f.Add([]byte("Layer name,IFMAP height,IFMAP width,Filter height,Filter width,Channels,Num filter,Stride height,Stride width,\nc,9,9,3,3,2,5,2,2,\n"), false)
	f.Add([]byte(convHeader+"\"a\nb\", 3, 3, 1, 1, 1, 1, 1,\n"), false)
	// Products beyond the simulator's 2^50 MACs, each value within its cap.
	f.Add([]byte(gemmHeader+"fc, 1000000, 1000000, 1000000,\n"), true)
	f.Add([]byte(convHeader+"c, 16384, 16384, 1, 1, 65536, 128, 1,\n"), false)

	f.Fuzz(func(t *testing.T, data []byte, gemm bool) {
		layers, err := ReadTopology(bytes.NewReader(data), "fuzz.csv", gemm)
		if err != nil {
			var te *fileio.Error
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not a *fileio.Error: %v", err, err)
			}
			if layers != nil {
				t.Fatalf("layers returned with error %v", err)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if len(layers) == 0 {
			t.Fatal("no layers and no error")
		}
		prevLine := 0
		for _, tl := range layers {
			l := tl.Layer
			if m, n, k := l.GEMMDims(); !productAtMost(maxTopologyMACs, m, n, k, int64(tl.Batch)) {
				t.Errorf("line %d: more than 2^50 MACs read", tl.Line)
			}
			if l.Name == "" || strings.TrimSpace(l.Name) != l.Name {
				t.Errorf("line %d: bad name %q", tl.Line, l.Name)
			}
			if tl.Line <= prevLine {
				t.Errorf("line %d after line %d", tl.Line, prevLine)
			}
			prevLine = tl.Line
			if tl.Batch <= 0 {
				t.Errorf("%s: batch %d", l.Name, tl.Batch)
			}
			for _, s := range []Shape{l.In, l.Out} {
				if s.C <= 0 || s.H <= 0 || s.W <= 0 {
					t.Errorf("%s: non-positive shape %v", l.Name, s)
				}
			}
			if l.Bias || l.Padding != 0 {
				t.Errorf("%s: bias %v padding %d", l.Name, l.Bias, l.Padding)
			}
			switch {
			case gemm:
				if l.Kind != Linear || l.In.H != 1 || l.In.W != 1 || l.Out.H != 1 || l.Out.W != 1 {
					t.Errorf("%s: gemm row is %s %v -> %v", l.Name, l.Kind, l.In, l.Out)
				}
			default:
				if l.Kind != Conv2D || tl.Batch != 1 || l.Stride <= 0 || l.KernelH <= 0 || l.KernelW <= 0 ||
					l.KernelH > l.In.H || l.KernelW > l.In.W ||
					l.Out.H != (l.In.H-l.KernelH)/l.Stride+1 || l.Out.W != (l.In.W-l.KernelW)/l.Stride+1 {
					t.Errorf("%s: inconsistent conv %+v batch %d", l.Name, l, tl.Batch)
				}
			}
			m, n, k := l.GEMMDims()
			if !productAtMost(maxTopologyMACs, m, n, k, int64(tl.Batch)) {
				t.Errorf("%s: MACs overflow the bound", l.Name)
			}
		}
	})
}

// TestScaleSimShape: SCALE-Sim sizes an ofmap ceil((H-F+S)/S), rctsim floor((H-F)/S)+1.
func TestScaleSimShape(t *testing.T) {
	layers, err := ReadTopology(strings.NewReader("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nConv1, 224, 224, 11, 11, 3, 96, 4,\n"), "alexnet.csv", false)
	if err != nil {
		t.Fatal(err)
	}
	got, l := layers[0].ScaleSim(), layers[0].Layer
	if got != (ScaleSimShape{OfmapH: 55, OfmapW: 55, M: 3025, N: 96, K: 363}) || l.Out.H != 54 {
		t.Errorf("SCALE-Sim %+v, rctsim %dx%d", got, l.Out.H, l.Out.W)
	}
	gemm, err := ReadTopology(strings.NewReader("Layer Name, M, N, K,\nfc, 8, 10, 20,\n"), "gemm.csv", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := gemm[0].ScaleSim(); got != (ScaleSimShape{OfmapH: 8, OfmapW: 1, M: 8, N: 10, K: 20}) {
		t.Errorf("GEMM row: %+v", got)
	}
}
