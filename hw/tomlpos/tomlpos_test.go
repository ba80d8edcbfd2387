package tomlpos

import (
	"testing"

	"github.com/BurntSushi/toml"
)

func TestScanPositions(t *testing.T) {
	src := `# comment with [brackets] and key = value
name = "x" # trailing [comment]
a.b.c = 1
"quoted key".x = 2
'lit.key' = 3

[mac_array]
rows = 3
inline = { p = 1, q = { r = 2 } }
arr = [1, [2, 3], { s = 4 }]
text = """
not_a_key = 5
[not.a.table]
"""
lit = '''
x = ']'
'''

[[mac_array.modes]]
float = "fp32"

[[mac_array.modes]]
weight_bits = 8
[mac_array.modes.sub]
deep = 1

[sram.global]
  capacity = 5   # indented
[sram."odd name"]
holds = [
  "weights",
  "inputs",
]
`
	// The scanner assumes toml accepted the document; make sure the fixture is valid.
	var m map[string]any
	if _, err := toml.Decode(src, &m); err != nil {
		t.Fatalf("fixture is not valid TOML: %v", err)
	}
	ps := Scan(src)
	tests := []struct {
		path      string
		line, col int
	}{
		{"name", 2, 1},
		{"a", 3, 1},
		{"a.b.c", 3, 1},
		{`"quoted key".x`, 4, 1},
		{`"lit.key"`, 5, 1},
		{"mac_array", 7, 1},
		{"mac_array.rows", 8, 1},
		{"mac_array.inline.p", 9, 12},
		{"mac_array.inline.q.r", 9, 25},
		{"mac_array.arr[0]", 10, 8},
		{"mac_array.arr[1][1]", 10, 15},
		{"mac_array.arr[2].s", 10, 21},
		{"mac_array.text", 11, 1},
		{"mac_array.lit", 15, 1},
		{"mac_array.modes", 19, 1},
		{"mac_array.modes[0]", 19, 1},
		{"mac_array.modes[0].float", 20, 1},
		{"mac_array.modes[1]", 22, 1},
		{"mac_array.modes[1].weight_bits", 23, 1},
		{"mac_array.modes[1].sub.deep", 25, 1},
		{"sram", 27, 1},
		{"sram.global.capacity", 28, 3},
		{`sram."odd name".holds`, 30, 1},
		{`sram."odd name".holds[1]`, 32, 3},
	}
	for _, tt := range tests {
		kp, ok := ps.Lookup(tt.path)
		if !ok || kp.Path != tt.path {
			t.Errorf("%s: not recorded", tt.path)
			continue
		}
		if kp.Line != tt.line || kp.Col != tt.col {
			t.Errorf("%s at %d:%d, want %d:%d", tt.path, kp.Line, kp.Col, tt.line, tt.col)
		}
	}
	for _, bogus := range []string{"mac_array.not_a_key", "not", "mac_array.x", "comment"} {
		if kp, ok := ps.Lookup(bogus); ok && kp.Path == bogus {
			t.Errorf("%s recorded from inside a string or comment", bogus)
		}
	}
	// Lookups fall back to the bare form and then to parents.
	if kp, ok := ps.Lookup("mac_array.modes.weight_bits"); !ok || kp.Line != 23 {
		t.Errorf("bare lookup = %+v %v", kp, ok)
	}
	if kp, ok := ps.Lookup("sram.global.banks"); !ok || kp.Line != 27 {
		t.Errorf("parent fallback = %+v %v", kp, ok)
	}
	if kp, ok := ps.OnLine("mac_array.modes.weight_bits", 23); !ok || kp.Path != "mac_array.modes[1].weight_bits" {
		t.Errorf("onLine = %+v %v", kp, ok)
	}
}

func TestPathHelpers(t *testing.T) {
	tests := []struct{ in, parent, bare string }{
		{"a.b[2].c", "a.b[2]", "a.b.c"},
		{"a.b[2]", "a.b", "a.b"},
		{`sram."x.y".z`, `sram."x.y"`, `sram."x.y".z`},
		{`sram."x.y"`, "sram", `sram."x.y"`},
		{"a", "", "a"},
	}
	for _, tt := range tests {
		if got := ParentPath(tt.in); got != tt.parent {
			t.Errorf("ParentPath(%q) = %q, want %q", tt.in, got, tt.parent)
		}
		if got := StripIndices(tt.in); got != tt.bare {
			t.Errorf("StripIndices(%q) = %q, want %q", tt.in, got, tt.bare)
		}
	}
	if Seg("ok_key-1") != "ok_key-1" || Seg("a b") != `"a b"` || Seg("") != `""` {
		t.Error("Seg quoting")
	}
}

func TestNumber(t *testing.T) {
	for _, c := range []struct {
		v    any
		want float64
		ok   bool
	}{
		{0.875, 0.875, true},
		{int64(3), 3, true},
		{"0.5", 0, false},
		{true, 0, false},
		{[]any{int64(1)}, 0, false},
	} {
		if got, ok := Number(c.v); got != c.want || ok != c.ok {
			t.Errorf("Number(%#v) = %v, %v; want %v, %v", c.v, got, ok, c.want, c.ok)
		}
	}
}
