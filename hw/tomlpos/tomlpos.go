// Package tomlpos finds where the keys of a TOML document are, for the line and column
// of the errors (fileio.Error) that name them. BurntSushi/toml keeps key Positions
// private, so they are recovered with a small scanner over a document that toml has
// already parsed successfully: it only has to find keys (table headers, keys and array
// elements, so that a bad array element is reported at its own line), never to judge
// syntax, and it must never panic, whatever valid TOML it meets. Hardware profiles (hw)
// and sweep specs (sim/sweep) share it, so that both formats locate keys identically.
package tomlpos

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Pos is where a key, a table header or an array element first appears.
type Pos struct {
	Path      string // canonical path, e.g. "sram.global.capacity", "mac_array.modes[1].float"
	Line, Col int    // 1-based; Col counts bytes, as toml.Position does
}

// Positions maps the key paths of one TOML document to their first appearance.
type Positions struct {
	byPath map[string]Pos
	// byBare is keyed by the path with array indices removed ("mac_array.modes.float"),
	// the form toml's MetaData and error messages use.
	byBare map[string]Pos
	// byLine lists what starts on each line, to refine a bare key reported with a line.
	byLine map[int][]Pos
}

// Lookup returns where path (or, failing that, its nearest recorded parent) appears.
func (ps *Positions) Lookup(path string) (Pos, bool) {
	if ps == nil {
		return Pos{}, false
	}
	for p := path; p != ""; p = ParentPath(p) {
		if kp, ok := ps.byPath[p]; ok {
			return kp, true
		}
		if kp, ok := ps.byBare[p]; ok {
			return kp, true
		}
	}
	return Pos{}, false
}

// OnLine returns the indexed path of the key whose bare form is bare and which starts
// on line, so that an error toml reports as "mac_array.modes.float" on line 40 can name
// "mac_array.modes[3].float".
func (ps *Positions) OnLine(bare string, line int) (Pos, bool) {
	if ps == nil {
		return Pos{}, false
	}
	for _, kp := range ps.byLine[line] {
		if StripIndices(kp.Path) == bare {
			return kp, true
		}
	}
	return Pos{}, false
}

// ParentPath drops the last segment (or index) of a path: "a.b[2].c" -> "a.b[2]" ->
// "a.b" -> "a" -> "".
func ParentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i > 0 {
			return p[:i]
		}
	}
	// A quoted segment may contain dots; scan from the right outside quotes.
	inQuote := false
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case '"':
			inQuote = !inQuote
		case '.':
			if !inQuote {
				return p[:i]
			}
		}
	}
	return ""
}

// StripIndices removes every "[n]" from a path outside quotes.
func StripIndices(p string) string {
	if !strings.Contains(p, "[") {
		return p
	}
	var b strings.Builder
	inQuote := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '"' {
			inQuote = !inQuote
		}
		if c == '[' && !inQuote {
			for i < len(p) && p[i] != ']' {
				i++
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Seg renders one key as a path segment, quoting it when it is not a bare key, the
// way toml.Key.String does.
func Seg(name string) string {
	if name == "" {
		return `""`
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return strconv.Quote(name)
		}
	}
	return name
}

// Join joins path segments that are already rendered by Seg (and may carry an
// index suffix).
func Join(segs []string) string { return strings.Join(segs, ".") }

// Scan records where every key of src appears. src must be a document that
// toml parsed without error; on anything else the result is merely incomplete.
func Scan(src string) *Positions {
	s := &scanner{
		src:    src,
		arrays: map[string]int{},
		ps: &Positions{
			byPath: map[string]Pos{},
			byBare: map[string]Pos{},
			byLine: map[int][]Pos{},
		},
	}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			s.lineStarts = append(s.lineStarts, i+1)
		}
	}
	s.run()
	return s.ps
}

type scanner struct {
	src        string
	i          int
	lineStarts []int // offsets of the starts of lines 2, 3, ...
	table      []string
	arrays     map[string]int // path of each array of tables -> elements seen
	ps         *Positions
}

func (s *scanner) lineCol(off int) (int, int) {
	n := sort.SearchInts(s.lineStarts, off+1) // lines starting at or before off
	start := 0
	if n > 0 {
		start = s.lineStarts[n-1]
	}
	return n + 1, off - start + 1
}

func (s *scanner) record(segs []string, off int) {
	path := Join(segs)
	line, col := s.lineCol(off)
	kp := Pos{Path: path, Line: line, Col: col}
	if _, ok := s.ps.byPath[path]; !ok {
		s.ps.byPath[path] = kp
		s.ps.byLine[line] = append(s.ps.byLine[line], kp)
	}
	bare := StripIndices(path)
	if _, ok := s.ps.byBare[bare]; !ok {
		s.ps.byBare[bare] = kp
	}
}

// recordAll records every prefix of segs (implicit parent tables included) at off.
func (s *scanner) recordAll(segs []string, off int) {
	for n := 1; n <= len(segs); n++ {
		s.record(segs[:n], off)
	}
}

func (s *scanner) peek(k int) byte {
	if s.i+k < len(s.src) {
		return s.src[s.i+k]
	}
	return 0
}

func (s *scanner) skipSpace() {
	for s.i < len(s.src) && (s.src[s.i] == ' ' || s.src[s.i] == '\t') {
		s.i++
	}
}

// skipBlank skips whitespace, newlines and comments.
func (s *scanner) skipBlank() {
	for s.i < len(s.src) {
		switch s.src[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		case '#':
			for s.i < len(s.src) && s.src[s.i] != '\n' {
				s.i++
			}
		default:
			return
		}
	}
}

func (s *scanner) skipLine() {
	for s.i < len(s.src) && s.src[s.i] != '\n' {
		s.i++
	}
}

func (s *scanner) run() {
	for {
		s.skipBlank()
		if s.i >= len(s.src) {
			return
		}
		start := s.i
		switch {
		case s.src[s.i] == '[' && s.peek(1) == '[':
			s.i += 2
			s.header(s.parseKey(), true, start)
		case s.src[s.i] == '[':
			s.i++
			s.header(s.parseKey(), false, start)
		default:
			s.keyValue(s.table)
		}
		s.skipLine()
		if s.i == start { // cannot happen on valid TOML; guarantees progress on anything
			s.i++
		}
	}
}

// header handles "[a.b]" and "[[a.b]]": it resolves earlier arrays of tables to their
// last element and opens a new element for "[[...]]".
func (s *scanner) header(names []string, array bool, off int) {
	var segs []string
	for j, name := range names {
		seg := Seg(name)
		cur := Join(append(append([]string(nil), segs...), seg))
		n, isArray := s.arrays[cur]
		last := j == len(names)-1
		switch {
		case last && array:
			s.record(append(append([]string(nil), segs...), seg), off)
			s.arrays[cur] = n + 1
			seg += "[" + strconv.Itoa(n) + "]"
		case isArray && n > 0:
			seg += "[" + strconv.Itoa(n-1) + "]"
		}
		segs = append(segs, seg)
	}
	s.recordAll(segs, off)
	s.table = segs
}

// keyValue reads "key = value" relative to prefix.
func (s *scanner) keyValue(prefix []string) {
	off := s.i
	names := s.parseKey()
	if len(names) == 0 {
		return
	}
	segs := append([]string(nil), prefix...)
	for _, name := range names {
		segs = append(segs, Seg(name))
	}
	s.recordAll(segs, off)
	s.skipSpace()
	if s.i < len(s.src) && s.src[s.i] == '=' {
		s.i++
	}
	s.skipSpace()
	s.value(segs)
}

// parseKey reads a dotted key of bare, "basic" and 'literal' parts, stopping at '=',
// ']' or the end of the line.
func (s *scanner) parseKey() []string {
	var names []string
	for s.i < len(s.src) {
		s.skipSpace()
		if s.i >= len(s.src) {
			break
		}
		switch c := s.src[s.i]; c {
		case '"':
			names = append(names, s.basicString())
		case '\'':
			names = append(names, s.literalString())
		default:
			start := s.i
			for s.i < len(s.src) && !strings.ContainsRune(" \t\r\n=.[]#,{}\"'", rune(s.src[s.i])) {
				s.i++
			}
			if s.i == start {
				return names
			}
			names = append(names, s.src[start:s.i])
		}
		s.skipSpace()
		if s.i < len(s.src) && s.src[s.i] == '.' {
			s.i++
			continue
		}
		break
	}
	return names
}

// basicString reads a "..." string at s.i and returns its value.
func (s *scanner) basicString() string {
	s.i++ // opening quote
	start := s.i
	for s.i < len(s.src) && s.src[s.i] != '"' && s.src[s.i] != '\n' {
		if s.src[s.i] == '\\' {
			s.i++
		}
		s.i++
	}
	end := min(s.i, len(s.src))
	raw := s.src[start:end]
	if s.i < len(s.src) && s.src[s.i] == '"' {
		s.i++
	}
	if v, err := strconv.Unquote(`"` + raw + `"`); err == nil {
		return v
	}
	return raw
}

// literalString reads a '...' string at s.i and returns its value.
func (s *scanner) literalString() string {
	s.i++
	start := s.i
	for s.i < len(s.src) && s.src[s.i] != '\'' && s.src[s.i] != '\n' {
		s.i++
	}
	v := s.src[start:s.i]
	if s.i < len(s.src) {
		s.i++
	}
	return v
}

// multiline skips a multi-line string (triple quotes of q) whose opening delimiter
// is at s.i.
func (s *scanner) multiline(q byte) {
	s.i += 3
	for s.i < len(s.src) {
		if q == '"' && s.src[s.i] == '\\' {
			s.i += 2
			continue
		}
		if s.src[s.i] == q && s.peek(1) == q && s.peek(2) == q {
			s.i += 3
			// Up to two more quotes belong to the content: """a"""" ends with a quote.
			for k := 0; k < 2 && s.i < len(s.src) && s.src[s.i] == q; k++ {
				s.i++
			}
			return
		}
		s.i++
	}
}

// value skips a value, recording the keys of inline tables and the elements of arrays
// under path.
func (s *scanner) value(path []string) {
	if s.i >= len(s.src) {
		return
	}
	switch c := s.src[s.i]; {
	case c == '{':
		s.i++
		for s.i < len(s.src) {
			s.skipBlank()
			if s.i >= len(s.src) {
				return
			}
			if s.src[s.i] == '}' {
				s.i++
				return
			}
			if s.src[s.i] == ',' {
				s.i++
				continue
			}
			before := s.i
			s.keyValue(path)
			if s.i == before {
				s.i++
			}
		}
	case c == '[':
		s.i++
		for n := 0; s.i < len(s.src); {
			s.skipBlank()
			if s.i >= len(s.src) {
				return
			}
			if s.src[s.i] == ']' {
				s.i++
				return
			}
			if s.src[s.i] == ',' {
				s.i++
				continue
			}
			elem := append([]string(nil), path...)
			elem[len(elem)-1] += "[" + strconv.Itoa(n) + "]"
			s.record(elem, s.i)
			before := s.i
			s.value(elem)
			if s.i == before {
				s.i++
			}
			n++
		}
	case c == '"' && s.peek(1) == '"' && s.peek(2) == '"':
		s.multiline('"')
	case c == '\'' && s.peek(1) == '\'' && s.peek(2) == '\'':
		s.multiline('\'')
	case c == '"':
		s.basicString()
	case c == '\'':
		s.literalString()
	default:
		// Numbers, booleans and dates end at a separator; a date may hold a space.
		for s.i < len(s.src) && !strings.ContainsRune(",]}\n#", rune(s.src[s.i])) {
			s.i++
		}
	}
}

// Describe names the type and value of a value BurntSushi/toml decoded into an any, for
// error messages ("string \"x\"", "integer 4", "a table").
func Describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return "float " + strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T %v", v, v)
}

// TableArray returns a decoded array of tables as []any, whichever of the two forms
// toml produced ([[x]] sections decode as []map[string]any, an inline array as []any).
func TableArray(v any) ([]any, bool) {
	switch a := v.(type) {
	case []map[string]any:
		out := make([]any, len(a))
		for i, m := range a {
			out[i] = m
		}
		return out, true
	case []any:
		return a, true
	}
	return nil, false
}
