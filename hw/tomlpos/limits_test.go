package tomlpos

import (
	"errors"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/rctsim/rctsim/traces/fileio"
)

var shapes = []string{"dotted key", "table header", "header and key", "inline tables", "arrays", "array of tables"}

// nest returns a document whose deepest key path has depth levels, in each way TOML
// can nest, and the key Check names when depth exceeds MaxDepth.
func nest(shape string, depth int) (doc, key string) {
	at := func(path string, n int) string { // the first n levels of a dotted path
		segs := strings.SplitAfter(path, ".")
		return strings.TrimSuffix(strings.Join(segs[:min(n, len(segs))], ""), ".")
	}
	dotted := strings.TrimSuffix(strings.Repeat("a.", depth), ".")
	switch shape {
	case "dotted key":
		return "x = 1\n" + dotted + " = 1\n", at(dotted, MaxDepth+1)
	case "table header":
		return "x = 1\n[" + dotted + "]\n", at(dotted, MaxDepth+1)
	case "header and key":
		// The levels of a table and of the keys inside it add up.
		h := strings.TrimSuffix(strings.Repeat("t.", depth/2), ".")
		k := strings.TrimSuffix(strings.Repeat("k.", depth-depth/2), ".")
		return "x = 1\n[" + h + "]\n" + k + " = 1\n", at(h+"."+k, MaxDepth+1)
	case "inline tables":
		return "x = 1\na = " + strings.Repeat("{a = ", depth-1) + "1" + strings.Repeat("}", depth-1) + "\n", at(dotted, MaxDepth+1)
	case "arrays":
		return "x = 1\na = " + strings.Repeat("[", depth-1) + "1" + strings.Repeat("]", depth-1) + "\n", "a" + strings.Repeat("[0]", MaxDepth)
	case "array of tables":
		// [[a]] is two levels: the array and its element.
		h := strings.TrimSuffix(strings.Repeat("a.", depth-1), ".")
		if depth-1 > MaxDepth {
			return "x = 1\n[[" + h + "]]\n", at(h, MaxDepth+1)
		}
		return "x = 1\n[[" + h + "]]\n", h + "[0]"
	}
	panic("unknown shape " + shape)
}

func TestCheckDepth(t *testing.T) {
	for _, shape := range shapes {
		// 10,000 levels took the old scanner (and toml) seconds to minutes.
		for _, depth := range []int{MaxDepth, MaxDepth + 1, 10_000} {
			doc, key := nest(shape, depth)
			if depth == MaxDepth {
				var m map[string]any
				if _, err := toml.Decode(doc, &m); err != nil {
					t.Fatalf("%s: fixture is not valid TOML: %v", shape, err)
				}
			}
			ps, err := Check("deep.toml", []byte(doc))
			if depth <= MaxDepth {
				if err != nil {
					t.Errorf("%s at depth %d: %v", shape, depth, err)
				} else if _, ok := ps.Lookup("x"); !ok {
					t.Errorf("%s at depth %d: x not recorded", shape, depth)
				}
				continue
			}
			var pe *fileio.Error
			if !errors.As(err, &pe) || !errors.Is(err, ErrTooDeep) {
				t.Errorf("%s at depth %d: got %v, want a *fileio.Error wrapping ErrTooDeep", shape, depth, err)
				continue
			}
			wantLine := 2
			if shape == "header and key" && depth/2 <= MaxDepth {
				wantLine = 3
			}
			if pe.File != "deep.toml" || pe.Line != wantLine || pe.Col < 1 || pe.Key != key {
				t.Errorf("%s at depth %d: error at %s:%d:%d key %q, want deep.toml:%d key %q", shape, depth, pe.File, pe.Line, pe.Col, pe.Key, wantLine, key)
			}
			if !strings.Contains(err.Error(), "nested deeper than 16 levels") {
				t.Errorf("%s: message %q does not say the limit", shape, err)
			}
		}
	}
}

func TestCheckKeyLength(t *testing.T) {
	long := strings.Repeat("k", MaxKeyBytes)
	tests := []struct {
		name, doc string
		line, col int
		key       string // "" when the document is within the limits
	}{
		{"longest key", long + " = 1\n", 0, 0, ""},
		{"longest quoted key", `"` + long[2:] + `" = 1` + "\n", 0, 0, ""},
		{"key too long", "x = 1\n" + long + "k = 1\n", 2, 1, long[:64] + "..."},
		{"table and key too long", "[" + long[:MaxKeyBytes/2] + "]\n" + long[:MaxKeyBytes/2] + " = 1\n", 2, 1, long[:64] + "..."},
		{"index makes it too long", "x = 1\n" + long[:MaxKeyBytes-2] + " = [[1]]\n", 2, MaxKeyBytes + 3, long[:64] + "..."},
		// Many keys under one long table name cost their number times its length.
		{"keys under a long table", "[" + long + "k]\n" + strings.Repeat("x = 1\n", 1000), 1, 1, long[:64] + "..."},
	}
	for _, tt := range tests {
		_, err := Check("long.toml", []byte(tt.doc))
		if tt.key == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		var pe *fileio.Error
		if !errors.As(err, &pe) || !errors.Is(err, ErrKeyTooLong) {
			t.Errorf("%s: got %v, want a *fileio.Error wrapping ErrKeyTooLong", tt.name, err)
			continue
		}
		if pe.File != "long.toml" || pe.Line != tt.line || pe.Col != tt.col || pe.Key != tt.key {
			t.Errorf("%s: error at %s:%d:%d key %q, want long.toml:%d:%d key %q", tt.name, pe.File, pe.Line, pe.Col, pe.Key, tt.line, tt.col, tt.key)
		}
	}
}

func FuzzScan(f *testing.F) {
	f.Add(`a = [1, {b = "]"}]` + "\n[[c.d]]\n[c.d.e]\n")
	f.Add("x = '''\n[y]\n'''\n")
	for _, shape := range shapes {
		doc, _ := nest(shape, MaxDepth+1)
		f.Add(doc)
	}
	f.Add("[" + strings.Repeat("k", MaxKeyBytes) + "]\nx = 1\n")
	f.Fuzz(func(t *testing.T, src string) {
		// Only documents toml accepts reach the scanner in Decode, but it must not hang
		// or panic on anything.
		ps := Scan(src)
		checked, err := Check("fuzz.toml", []byte(src))
		if err != nil {
			var pe *fileio.Error
			if !errors.As(err, &pe) || pe.File != "fuzz.toml" || pe.Line < 1 || pe.Col < 1 {
				t.Fatalf("Check error is not positioned: %#v", err)
			}
			return
		}
		// Within the limits, Check and Scan record the same.
		if len(checked.nodes) != len(ps.nodes) {
			t.Fatalf("Check recorded %d paths, Scan %d", len(checked.nodes), len(ps.nodes))
		}
		for id := range ps.nodes {
			p := ps.pos(id)
			if q, ok := checked.Lookup(p.Path); !ok || q.Line != p.Line || q.Col != p.Col {
				t.Fatalf("%s at %d:%d, Check has %+v", p.Path, p.Line, p.Col, q)
			}
		}
	})
}
