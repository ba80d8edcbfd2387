// Character-level text data for sequence models: next-character prediction over a
// byte alphabet, on a text that every Go installation carries (Newton's Opticks, in
// $GOROOT/src/testdata), so the trainer has a second real workload offline.

package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/rctsim/rctsim/models"
)

// opticksRel is the Opticks text's path inside GOROOT.
const opticksRel = "src/testdata/Isaac.Newton-Opticks.txt"

// TextSplit is a character-level text split with its alphabet: id k stands for the
// byte Alphabet[k].
type TextSplit struct {
	Split
	// Alphabet is the sorted set of bytes that occur anywhere in the text (both
	// parts), so every held-out character has an id.
	Alphabet []byte
}

// Encode maps bytes to ids; a byte outside the alphabet is an error.
func (t *TextSplit) Encode(text []byte) ([]int32, error) {
	ids := make([]int32, len(text))
	for i, c := range text {
		k, ok := slices.BinarySearch(t.Alphabet, c)
		if !ok {
			return nil, fmt.Errorf("text: byte 0x%02x at offset %d is not in the alphabet", c, i)
		}
		ids[i] = int32(k)
	}
	return ids, nil
}

// Decode maps ids back to bytes; an id outside 0..len(Alphabet)-1 is an error.
func (t *TextSplit) Decode(ids []int32) ([]byte, error) {
	out := make([]byte, len(ids))
	for i, k := range ids {
		if k < 0 || int(k) >= len(t.Alphabet) {
			return nil, fmt.Errorf("text: id %d at position %d is outside the %d-symbol alphabet", k, i, len(t.Alphabet))
		}
		out[i] = t.Alphabet[k]
	}
	return out, nil
}

// OpticksPath returns the path of $GOROOT/src/testdata/Isaac.Newton-Opticks.txt. It
// tries runtime.GOROOT() (empty in -trimpath builds), then $GOROOT, and only then runs
// `go env GOROOT`, which is slow and needs a Go toolchain on PATH.
func OpticksPath() (string, error) {
	var tried []string
	try := func(root string) (string, bool) {
		if root == "" {
			return "", false
		}
		p := filepath.Join(root, filepath.FromSlash(opticksRel))
		tried = append(tried, p)
		st, err := os.Stat(p)
		return p, err == nil && st.Mode().IsRegular()
	}
	//lint:ignore SA1019 the build-time GOROOT is the cheapest correct answer when present.
	if p, ok := try(runtime.GOROOT()); ok {
		return p, nil
	}
	if p, ok := try(os.Getenv("GOROOT")); ok {
		return p, nil
	}
	root, err := goEnv("GOROOT")
	if err == nil {
		if p, ok := try(root); ok {
			return p, nil
		}
	}
	if len(tried) == 0 {
		return "", fmt.Errorf("text: cannot locate GOROOT (runtime.GOROOT and $GOROOT are empty, `go env GOROOT` failed: %v); pass the path of a text file", err)
	}
	return "", fmt.Errorf("text: Opticks text not found (tried %v); pass the path of a text file", tried)
}

// LoadText loads a text file for next-character prediction; path "" means Newton's
// Opticks from GOROOT (see OpticksPath).
//
// The text is split by bytes: Train is the first 90% (floor), Test the last 10%, and
// no example straddles the cut. Ids are dense: byte Alphabet[k] has id k, and Classes
// is len(Alphabet). Example i of a part is the window of context characters starting
// at position i of that part, so a part of L bytes has L-context examples. Its input
// has shape {C:1, H:1, W:context} and holds the window's ids as float32 values (exact
// small integers, not scaled): the model's first layer embeds or one-hot encodes them,
// which keeps this layer independent of the embedding choice. Its labels are the next
// character at each of the context positions (LabelsPerExample = context): label j is
// the id of the byte at position i+j+1, so a causal model is trained at every
// position at once.
func LoadText(path string, context int) (*TextSplit, error) {
	if context < 1 {
		return nil, fmt.Errorf("text: context %d must be at least 1", context)
	}
	if path == "" {
		p, err := OpticksPath()
		if err != nil {
			return nil, err
		}
		path = p
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	if len(data) == 0 {
		return nil, errors.New("text: " + path + " is empty")
	}
	var present [256]bool
	for _, c := range data {
		present[c] = true
	}
	var alphabet []byte
	var idOf [256]byte
	for c := range 256 {
		if present[c] {
			idOf[c] = byte(len(alphabet))
			alphabet = append(alphabet, byte(c))
		}
	}
	ids := make([]byte, len(data))
	for i, c := range data {
		ids[i] = idOf[c]
	}
	cut := int(int64(len(ids)) * 9 / 10)
	parts := [2][]byte{ids[:cut:cut], ids[cut:]}
	for k, name := range []string{"training", "test"} {
		if len(parts[k]) <= context {
			return nil, fmt.Errorf("text: %s: the %s part has %d bytes, need more than the context %d", path, name, len(parts[k]), context)
		}
	}
	classes := len(alphabet)
	return &TextSplit{
		Split: Split{
			Train: &textSet{ids: parts[0], context: context, classes: classes, source: path},
			Test:  &textSet{ids: parts[1], context: context, classes: classes, source: path},
		},
		Alphabet: alphabet,
	}, nil
}

// textSet is one part of a text; ids fit a byte since the alphabet has at most 256
// symbols.
type textSet struct {
	source  string // the text file
	ids     []byte
	context int
	classes int
}

func (s *textSet) Len() int { return len(s.ids) - s.context }

func (s *textSet) Source() string { return s.source }

func (s *textSet) InputShape() models.Shape { return models.Shape{C: 1, H: 1, W: s.context} }

func (s *textSet) Classes() int { return s.classes }

func (s *textSet) LabelsPerExample() int { return s.context }

func (s *textSet) Fill(idx []int, x []float32, labels []int32) {
	checkFill(s, idx, x, labels)
	t := s.context
	for k, i := range idx {
		win := s.ids[i : i+t+1]
		xs, ls := x[k*t:(k+1)*t], labels[k*t:(k+1)*t]
		for j := range t {
			xs[j] = float32(win[j])
			ls[j] = int32(win[j+1])
		}
	}
}
