package train

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/models"
)

func TestLoadTextTiny(t *testing.T) {
	const text = "abracadabra, abracadabra! abracadabra? abracadabra.\n" // testdata/tiny.txt
	ts, err := LoadText("testdata/tiny.txt", 4)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(ts.Alphabet), "\n !,.?abcdr"; got != want {
		t.Fatalf("alphabet %q, want %q", got, want)
	}
	// 52 bytes: the training part is the first 46 (floor of 90%), the test part the
	// last 6, and each has its length minus the context windows.
	tr, te := ts.Train, ts.Test
	if tr.Len() != 42 || te.Len() != 2 {
		t.Fatalf("lens %d/%d, want 42/2", tr.Len(), te.Len())
	}
	for _, d := range []Dataset{tr, te} {
		if d.InputShape() != (models.Shape{C: 1, H: 1, W: 4}) || d.LabelsPerExample() != 4 || d.Classes() != len(ts.Alphabet) {
			t.Fatalf("shape %v labels/example %d classes %d", d.InputShape(), d.LabelsPerExample(), d.Classes())
		}
	}
	tests := []struct {
		d       Dataset
		idx     []int
		in, out string
	}{
		// The last training window's labels end at byte 45, the last training byte.
		{tr, []int{41, 0}, text[41:45] + text[0:4], text[42:46] + text[1:5]},
		{te, []int{0, 1}, text[46:50] + text[47:51], text[47:51] + text[48:52]},
	}
	for _, tc := range tests {
		x := make([]float32, 2*4)
		lab := make([]int32, 2*4)
		tc.d.Fill(tc.idx, x, lab)
		ids := make([]int32, len(x))
		for i, v := range x {
			ids[i] = int32(v)
			if float32(ids[i]) != v {
				t.Fatalf("input %v is not an integer id", v)
			}
		}
		in, err := ts.Decode(ids)
		if err != nil {
			t.Fatal(err)
		}
		next, err := ts.Decode(lab)
		if err != nil {
			t.Fatal(err)
		}
		if string(in) != tc.in || string(next) != tc.out {
			t.Errorf("Fill(%v): inputs %q labels %q, want %q %q", tc.idx, in, next, tc.in, tc.out)
		}
	}
}

func TestLoadTextSplitAndRoundTrip(t *testing.T) {
	dir := t.TempDir()
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20) + "Zebra!" // 906 bytes
	path := dir + "/t.txt"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	const ctx = 8
	ts, err := LoadText(path, ctx)
	if err != nil {
		t.Fatal(err)
	}
	cut := len(text) * 9 / 10
	if ts.Train.Len() != cut-ctx || ts.Test.Len() != len(text)-cut-ctx {
		t.Fatalf("lens %d/%d, want %d/%d", ts.Train.Len(), ts.Test.Len(), cut-ctx, len(text)-cut-ctx)
	}
	// 'Z' occurs only in the held-out part, yet has an id.
	if !slices.Contains(ts.Alphabet, 'Z') {
		t.Error("alphabet misses a byte that occurs only in the test part")
	}
	enc, err := ts.Encode([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := ts.Decode(enc)
	if err != nil || string(dec) != text {
		t.Fatalf("round trip failed: %v", err)
	}
	// Reassemble both parts from their windows: the first window plus each later
	// window's last label must give back the text, proving the split is exact.
	var got []byte
	for _, part := range []Dataset{ts.Train, ts.Test} {
		n := part.Len()
		x := make([]float32, ctx)
		lab := make([]int32, ctx)
		for i := range n {
			part.Fill([]int{i}, x, lab)
			if i == 0 {
				for _, v := range x {
					got = append(got, ts.Alphabet[int(v)])
				}
			}
			// Labels are the inputs shifted by one.
			for j := range ctx - 1 {
				if lab[j] != int32(x[j+1]) {
					t.Fatalf("example %d: label %d = %d, input %d = %v", i, j, lab[j], j+1, x[j+1])
				}
			}
			got = append(got, ts.Alphabet[lab[ctx-1]])
		}
	}
	if string(got) != text {
		t.Errorf("reassembled text differs:\n%q\n%q", got, text)
	}
	if _, err := ts.Encode([]byte{0xff}); err == nil {
		t.Error("Encode accepted a byte outside the alphabet")
	}
	if _, err := ts.Decode([]int32{int32(len(ts.Alphabet))}); err == nil {
		t.Error("Decode accepted an id outside the alphabet")
	}
}

func TestLoadTextErrors(t *testing.T) {
	empty := t.TempDir() + "/empty.txt"
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path    string
		context int
		want    string
	}{
		{"testdata/tiny.txt", 0, "at least 1"},
		{"testdata/tiny.txt", 6, "test part has 6 bytes"},
		{"testdata/no-such-file.txt", 2, "no-such-file.txt"},
		{empty, 2, "empty"},
	}
	for _, tc := range tests {
		_, err := LoadText(tc.path, tc.context)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadText(%q, %d): err %v, want it to mention %q", tc.path, tc.context, err, tc.want)
		}
	}
}

func TestLoadTextOpticks(t *testing.T) {
	path, err := OpticksPath()
	if err != nil {
		t.Skipf("Opticks text not available: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	const ctx = 64
	ts, err := LoadText("", ctx)
	if err != nil {
		t.Fatal(err)
	}
	size := int(st.Size())
	cut := size * 9 / 10
	if ts.Train.Len()+ctx != cut || ts.Test.Len()+ctx != size-cut {
		t.Errorf("parts %d+%d bytes, want %d+%d of %d", ts.Train.Len()+ctx, ts.Test.Len()+ctx, cut, size-cut, size)
	}
	if n := len(ts.Alphabet); n < 60 || n > 256 || ts.Train.Classes() != n || ts.Test.Classes() != n {
		t.Errorf("alphabet of %d bytes, classes %d/%d", n, ts.Train.Classes(), ts.Test.Classes())
	}
	if !slices.IsSorted(ts.Alphabet) {
		t.Error("alphabet not sorted")
	}
}

func ExampleLoadText() {
	ts, err := LoadText("testdata/tiny.txt", 4)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("alphabet %q, %d training windows\n", ts.Alphabet, ts.Train.Len())
	x := make([]float32, 4)
	next := make([]int32, 4)
	ts.Train.Fill([]int{0}, x, next)
	in := make([]int32, 4)
	for i, v := range x {
		in[i] = int32(v) // inputs are ids stored as float32
	}
	a, _ := ts.Decode(in)
	b, _ := ts.Decode(next)
	fmt.Printf("window %q predicts %q\n", a, b)
	// Output:
	// alphabet "\n !,.?abcdr", 42 training windows
	// window "abra" predicts "brac"
}
