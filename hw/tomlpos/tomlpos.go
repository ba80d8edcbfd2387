// Package tomlpos finds where the keys of a TOML document are, for the line and column
// of the errors (fileio.Error) that name them. BurntSushi/toml keeps key Positions
// private, so they are recovered with a small scanner over a document that toml has
// already parsed successfully: it only has to find keys (table headers, keys and array
// elements, so that a bad array element is reported at its own line), never to judge
// syntax, and it must never panic, whatever valid TOML it meets. Hardware profiles (hw)
// and sweep specs (sim/sweep) share it, so that both formats locate keys identically.
//
// Check runs the same scanner before toml sees a document, and refuses one nested
// deeper than MaxDepth or with a key path longer than MaxKeyBytes: toml's time and
// memory grow with depth times size. Both are linear in the size of the document.
package tomlpos

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/traces/fileio"
)

// Limits of the documents Check accepts. BurntSushi/toml's own cost grows with the
// depth of a key times the size of the document (a 20 KB document of nested inline
// tables takes a second and a gigabyte), and so did this scanner's, so a hostile
// profile or sweep spec is turned away before either reads it. Real profiles and
// sweep specs nest at most five levels, with key paths under 64 bytes.
const (
	// MaxDepth bounds the levels of a key path: each table name, dotted-key part,
	// array element and inline table is one ("mac_array.modes[1].float" has 4).
	MaxDepth = 16
	// MaxKeyBytes bounds the length of a key path as errors print it.
	MaxKeyBytes = 256
)

// Errors of Check, for errors.Is.
var (
	ErrTooDeep    = fmt.Errorf("nested deeper than %d levels", MaxDepth)
	ErrKeyTooLong = fmt.Errorf("key path longer than %d bytes", MaxKeyBytes)
)

// Pos is where a key, a table header or an array element first appears.
type Pos struct {
	Path      string // canonical path, e.g. "sram.global.capacity", "mac_array.modes[1].float"
	Line, Col int    // 1-based; Col counts bytes, as toml.Position does
}

// Positions maps the key paths of one TOML document to their first appearance.
//
// The paths form a tree stored by node, each node holding only its own segment, so
// that memory is linear in the document: storing every full path as a string costs
// the depth times the size (a 100 KB header of 50,000 dotted parts is gigabytes).
// Full paths are built only for the positions Lookup and OnLine return.
type Positions struct {
	nodes    []node
	children map[edge]int // (parent, segment or index) -> node
	// bares is the same tree with array indices removed ("mac_array.modes.float",
	// the form toml's MetaData and error messages use); each entry is the node
	// where that bare path first appears.
	bares    []int
	bareKids map[edge]int
	// byLine lists the nodes that first appear on each line, to refine a bare key
	// reported with a line.
	byLine map[int][]int
}

// node is one recorded path: its parent's path plus one key segment or array index.
type node struct {
	parent    int    // -1 at the top
	bare      int    // index in bares of the path without array indices
	seg       string // the key as Seg renders it; "" for an array element
	index     int    // the array index, or -1 for a key
	depth     int    // levels, this one included
	size      int    // bytes of the rendered path
	line, col int
}

// edge names a child: a key segment (index -1) or an array element (seg "").
type edge struct {
	parent int
	seg    string
	index  int
}

func newPositions() *Positions {
	return &Positions{children: map[edge]int{}, bareKids: map[edge]int{}, byLine: map[int][]int{}}
}

// path renders the full path of node id.
func (ps *Positions) path(id int) string {
	var b strings.Builder
	b.Grow(ps.nodes[id].size)
	ps.writePath(&b, id)
	return b.String()
}

func (ps *Positions) writePath(b *strings.Builder, id int) {
	n := ps.nodes[id]
	if n.parent >= 0 {
		ps.writePath(b, n.parent) // depth is at most MaxDepth (or the scan stopped)
	}
	if n.index >= 0 {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(n.index))
		b.WriteByte(']')
		return
	}
	if n.parent >= 0 {
		b.WriteByte('.')
	}
	b.WriteString(n.seg)
}

func (ps *Positions) pos(id int) Pos {
	n := ps.nodes[id]
	return Pos{Path: ps.path(id), Line: n.line, Col: n.col}
}

// comp is one component of a rendered path: a segment, or an index (seg "").
type comp struct {
	seg   string
	index int
}

// splitPath splits a path rendered by Seg and Join ("a.b[2].\"c d\"") into its
// components. It stops at the first thing it cannot read, keeping what came before,
// so that a malformed path still finds its nearest recorded parent.
func splitPath(p string) []comp {
	var out []comp
	for i := 0; i < len(p); {
		start := i
		if p[i] == '"' {
			for i++; i < len(p) && p[i] != '"'; i++ {
				if p[i] == '\\' {
					i++
				}
			}
			if i >= len(p) {
				return out
			}
			i++
		} else {
			for i < len(p) && p[i] != '.' && p[i] != '[' {
				i++
			}
		}
		out = append(out, comp{seg: p[start:i], index: -1})
		for i < len(p) && p[i] == '[' {
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return out
			}
			n, err := strconv.Atoi(p[i+1 : i+j])
			if err != nil || n < 0 {
				return out
			}
			out = append(out, comp{index: n})
			i += j + 1
		}
		if i < len(p) {
			if p[i] != '.' {
				return out
			}
			i++
		}
	}
	return out
}

// Lookup returns where path (or, failing that, its nearest recorded parent) appears.
// A path without indices also matches the first appearance of any indexed path of
// that bare form; of an exact and a bare match, the longer wins, the exact on a tie.
func (ps *Positions) Lookup(path string) (Pos, bool) {
	if ps == nil {
		return Pos{}, false
	}
	comps := splitPath(path)
	exact, ne := -1, 0
	for k, c := range comps {
		id, ok := ps.children[edge{parent: exact, seg: c.seg, index: c.index}]
		if !ok {
			break
		}
		exact, ne = id, k+1
	}
	bare, nb := -1, 0
	for k, c := range comps {
		if c.index >= 0 {
			break
		}
		id, ok := ps.bareKids[edge{parent: bare, seg: c.seg, index: -1}]
		if !ok {
			break
		}
		bare, nb = id, k+1
	}
	switch {
	case ne == 0 && nb == 0:
		return Pos{}, false
	case ne >= nb:
		return ps.pos(exact), true
	}
	return ps.pos(ps.bares[bare]), true
}

// OnLine returns the indexed path of the key whose bare form is bare and which starts
// on line, so that an error toml reports as "mac_array.modes.float" on line 40 can name
// "mac_array.modes[3].float".
func (ps *Positions) OnLine(bare string, line int) (Pos, bool) {
	if ps == nil {
		return Pos{}, false
	}
	comps := splitPath(bare)
	if len(comps) == 0 {
		return Pos{}, false
	}
	b := -1
	for _, c := range comps {
		if c.index >= 0 {
			return Pos{}, false
		}
		id, ok := ps.bareKids[edge{parent: b, seg: c.seg, index: -1}]
		if !ok {
			return Pos{}, false
		}
		b = id
	}
	for _, id := range ps.byLine[line] {
		if ps.nodes[id].bare == b {
			return ps.pos(id), true
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
// toml parsed without error; on anything else the result is merely incomplete. It
// stops where the document exceeds MaxDepth or MaxKeyBytes: Check reports that.
func Scan(src string) *Positions {
	s := newScanner(src)
	s.run()
	return s.ps
}

// Check scans data like Scan, in time and memory linear in its size, and reports
// the first place where it nests deeper than MaxDepth or a key path is longer than
// MaxKeyBytes as a *fileio.Error naming file, line, column and key (ErrTooDeep or
// ErrKeyTooLong). Call it before handing data to toml, whose cost grows with depth
// times size; on a document toml then rejects, the positions are merely incomplete.
func Check(file string, data []byte) (*Positions, error) {
	s := newScanner(string(data))
	s.file = file
	s.run()
	if s.err != nil {
		return nil, s.err
	}
	return s.ps, nil
}

func newScanner(src string) *scanner {
	s := &scanner{src: src, table: -1, arrays: map[int]int{}, ps: newPositions()}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			s.lineStarts = append(s.lineStarts, i+1)
		}
	}
	return s
}

type scanner struct {
	src        string
	i          int
	lineStarts []int       // offsets of the starts of lines 2, 3, ...
	lineAt     int         // lines starting at or before the last offset lineCol was given
	table      int         // node of the current table, -1 at the top
	arrays     map[int]int // node of each array of tables -> elements seen
	ps         *Positions
	file       string
	err        *fileio.Error // the first limit exceeded; the scan stops there
}

// lineCol converts a byte offset. Offsets arrive in increasing order, as the scan
// moves forward, so it walks on from the last answer: linear over a whole scan.
func (s *scanner) lineCol(off int) (int, int) {
	n := s.lineAt
	if n > 0 && s.lineStarts[n-1] > off {
		n = sort.SearchInts(s.lineStarts, off+1)
	}
	for n < len(s.lineStarts) && s.lineStarts[n] <= off {
		n++
	}
	s.lineAt = n
	start := 0
	if n > 0 {
		start = s.lineStarts[n-1]
	}
	return n + 1, off - start + 1
}

// child returns the node of parent's key seg (rendered by Seg; index -1) or of its
// element index (seg ""), recording it at off when it is new. It returns false, and
// stops the scan, when the node would exceed the limits.
func (s *scanner) child(parent int, seg string, index int, off int) (int, bool) {
	e := edge{parent: parent, seg: seg, index: index}
	if id, ok := s.ps.children[e]; ok {
		return id, true
	}
	depth, size, bareParent := 1, len(seg), -1
	if parent >= 0 {
		p := s.ps.nodes[parent]
		depth, bareParent = p.depth+1, p.bare
		if index >= 0 {
			size = p.size + len(strconv.Itoa(index)) + 2
		} else {
			size = p.size + 1 + len(seg)
		}
	}
	switch {
	case depth > MaxDepth:
		s.fail(off, parent, e, fmt.Errorf("%w (each table name, dotted-key part, array and inline table is a level)", ErrTooDeep))
		return 0, false
	case size > MaxKeyBytes:
		s.fail(off, parent, e, ErrKeyTooLong)
		return 0, false
	}
	line, col := s.lineCol(off)
	id := len(s.ps.nodes)
	bare := bareParent
	if index < 0 {
		be := edge{parent: bareParent, seg: seg, index: -1}
		b, ok := s.ps.bareKids[be]
		if !ok {
			b = len(s.ps.bares)
			s.ps.bares = append(s.ps.bares, id)
			s.ps.bareKids[be] = b
		}
		bare = b
	}
	s.ps.nodes = append(s.ps.nodes, node{parent: parent, bare: bare, seg: seg, index: index,
		depth: depth, size: size, line: line, col: col})
	s.ps.children[e] = id
	s.ps.byLine[line] = append(s.ps.byLine[line], id)
	return id, true
}

// fail records the first limit exceeded and stops the scan.
func (s *scanner) fail(off, parent int, e edge, err error) {
	key := ""
	if parent >= 0 {
		key = s.ps.path(parent)
	}
	switch {
	case e.index >= 0:
		key += "[" + strconv.Itoa(e.index) + "]"
	case parent >= 0:
		key += "." + e.seg
	default:
		key = e.seg
	}
	// The key names where the document went wrong; a few dozen bytes are enough.
	const show = 64
	if len(key) > show {
		key = key[:show] + "..."
	}
	line, col := s.lineCol(off)
	s.err = &fileio.Error{File: s.file, Line: line, Col: col, Key: key, Err: err}
	s.i = len(s.src)
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
	cur := -1
	for j, name := range names {
		id, ok := s.child(cur, Seg(name), -1, off)
		if !ok {
			return
		}
		n := s.arrays[id]
		switch {
		case j == len(names)-1 && array:
			s.arrays[id] = n + 1
			id, ok = s.child(id, "", n, off)
		case n > 0:
			id, ok = s.child(id, "", n-1, off)
		}
		if !ok {
			return
		}
		cur = id
	}
	s.table = cur
}

// keyValue reads "key = value" relative to the table node prefix.
func (s *scanner) keyValue(prefix int) {
	off := s.i
	names := s.parseKey()
	if len(names) == 0 {
		return
	}
	cur := prefix
	for _, name := range names {
		id, ok := s.child(cur, Seg(name), -1, off)
		if !ok {
			return
		}
		cur = id
	}
	s.skipSpace()
	if s.i < len(s.src) && s.src[s.i] == '=' {
		s.i++
	}
	s.skipSpace()
	s.value(cur)
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
		if s.i < len(s.src) && s.src[s.i] == '.' && len(names) <= MaxDepth {
			// Past MaxDepth parts, the key is refused anyway: stop collecting them.
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
// under the node path. Its recursion is as deep as the nodes it records, so MaxDepth
// bounds it.
func (s *scanner) value(path int) {
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
			elem, ok := s.child(path, "", n, s.i)
			if !ok {
				return
			}
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

// Number reads a value BurntSushi/toml decoded into an any as a number: a float, or an
// integer (which a TOML file writes without a point, say 1 for 1.0).
func Number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	}
	return 0, false
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
