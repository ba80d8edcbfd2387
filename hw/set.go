package hw

import (
	"encoding"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/rctsim/rctsim/hw/tomlpos"
	"github.com/rctsim/rctsim/traces/fileio"
)

// ParseSet splits a command-line override "key.path=value" at its first '='.
func ParseSet(arg string) (path, value string, err error) {
	path, value, ok := strings.Cut(arg, "=")
	path = strings.TrimSpace(path)
	if !ok || path == "" {
		return "", "", fmt.Errorf("--set %q: want key.path=value, e.g. mac_array.rows=32", arg)
	}
	return path, strings.TrimSpace(value), nil
}

// Set overrides one value, as "--set path=value" does, and validates the result. On any
// error p is left unchanged.
//
// path is a leaf of KeyPaths: "mac_array.rows", "sram.global.capacity",
// "mac_array.modes[0].energy_per_mac_pj". value is read like the same key in a TOML file
// (with its unit types: "1MiB", "4266MT/s", "18ns"), except that text which is not a
// TOML literal is taken as a string, so `ws` and `1MiB` need no quotes. A list of roles
// may be written "weights,inputs". Errors are *fileio.Error with File "--set path=value".
//
// Set cannot add or remove SRAM buffers or MAC modes; edit the profile file for that.
func (p *Profile) Set(path, value string) error {
	return p.ApplySets([]string{path + "=" + value})
}

// ApplySets applies several "path=value" overrides and validates once at the end, so
// that values which must change together (sram.global.banks and its capacity) can. On
// any error p is left unchanged.
func (p *Profile) ApplySets(args []string) error {
	c := p.Clone()
	for _, arg := range args {
		path, value, err := ParseSet(arg)
		if err != nil {
			return &fileio.Error{File: "--set " + arg, Err: err}
		}
		if err := c.setValue(path, value); err != nil {
			return &fileio.Error{File: "--set " + arg, Key: path, Err: err}
		}
	}
	if err := c.Validate(); err != nil {
		origin := "--set " + strings.Join(args, " --set ")
		forEachError(err, func(pe *fileio.Error) { pe.File = origin })
		return err
	}
	// Apply again to p itself (it cannot fail now) rather than swapping in the clone,
	// so that maps and slices the caller holds stay p's own.
	for _, arg := range args {
		path, value, _ := ParseSet(arg)
		if err := p.setValue(path, value); err != nil {
			panic("hw: override valid on a clone failed on the original: " + err.Error())
		}
	}
	return nil
}

// Get returns the current value at path as text that Set reads back to the same value.
func (p *Profile) Get(path string) (string, error) {
	rv, err := p.resolve(path)
	if err != nil {
		return "", err
	}
	return leafText(rv), nil
}

// KeyPaths lists every settable leaf of p, sorted: the keys of Set, Get and sweeps.
// Buffers and modes appear under their names and indices ("sram.global.capacity",
// "mac_array.modes[3].energy_per_mac_pj").
func KeyPaths(p *Profile) []string {
	var out []string
	walkLeaves(reflect.ValueOf(p).Elem(), nil, func(path string, _ reflect.Value) {
		out = append(out, path)
	})
	sort.Strings(out)
	return out
}

// walkLeaves calls f on each leaf under rv in declaration order.
func walkLeaves(rv reflect.Value, path []string, f func(string, reflect.Value)) {
	t := rv.Type()
	switch {
	case isLeafType(t):
		f(tomlpos.Join(path), rv)
	case t.Kind() == reflect.Pointer:
		if !rv.IsNil() {
			walkLeaves(rv.Elem(), path, f)
		}
	case t.Kind() == reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if n := tomlName(t.Field(i)); n != "" {
				walkLeaves(rv.Field(i), append(append([]string(nil), path...), tomlpos.Seg(n)), f)
			}
		}
	case t.Kind() == reflect.Map:
		keys := rv.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			walkLeaves(rv.MapIndex(k), append(append([]string(nil), path...), tomlpos.Seg(k.String())), f)
		}
	case t.Kind() == reflect.Slice:
		for i := 0; i < rv.Len(); i++ {
			sub := append([]string(nil), path...)
			sub[len(sub)-1] += "[" + strconv.Itoa(i) + "]"
			walkLeaves(rv.Index(i), sub, f)
		}
	}
}

// setValue parses value for the leaf at path and stores it, without validating.
func (p *Profile) setValue(path, value string) error {
	if path == "technology_node" {
		// A node is not a label: the profile's figures are re-evaluated at it.
		node := value
		if lit, ok := parseLiteral(value); ok {
			if s, isStr := lit.(string); isStr {
				node = s
			}
		}
		return p.Rescale(node)
	}
	rv, err := p.resolve(path)
	if err != nil {
		return err
	}
	v := overrideValue(rv.Type(), value)
	if err := assignLeaf(rv, v); err != nil {
		return err
	}
	return nil
}

// overrideValue turns command-line text into the TOML value a file would hold for a
// leaf of type t.
func overrideValue(t reflect.Type, text string) any {
	lit, isLit := parseLiteral(text)
	switch {
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		// Units parse their own text; only a quoted string loses its quotes.
		if s, ok := lit.(string); isLit && ok {
			return s
		}
		return text
	case t.Kind() == reflect.String:
		if s, ok := lit.(string); isLit && ok {
			return s
		}
		return text // `name=1234` or `dataflow=ws` mean the text itself
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		if _, ok := lit.([]any); isLit && ok {
			return lit
		}
		s := text
		if str, ok := lit.(string); isLit && ok {
			s = str
		}
		var list []any
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				list = append(list, part)
			}
		}
		if list == nil {
			list = []any{}
		}
		return list
	}
	if isLit {
		return lit
	}
	return text
}

// parseLiteral reads text as one TOML value. Text nested too deeply for a profile
// (tomlpos.Check) is no literal: toml's cost grows with depth times size.
func parseLiteral(text string) (any, bool) {
	doc := "v = " + text
	if _, err := tomlpos.Check("", []byte(doc)); err != nil {
		return nil, false
	}
	var m map[string]any
	if _, err := toml.Decode(doc, &m); err != nil || len(m) != 1 {
		return nil, false
	}
	v, ok := m["v"]
	return v, ok
}

// leafText renders a leaf as Set reads it.
func leafText(rv reflect.Value) string {
	if rv.Type().Implements(textMarshalerType) {
		b, err := rv.Interface().(encoding.TextMarshaler).MarshalText()
		if err == nil {
			return string(b)
		}
	}
	switch rv.Kind() {
	case reflect.String:
		s := rv.String()
		if _, ok := parseLiteral(s); ok || s != strings.TrimSpace(s) {
			// Text that is itself a TOML literal (`"x"`, `true`, `12`) must be quoted, or
			// Set would read it as that literal instead of as this string; so must text
			// with spaces at either end, which Set trims from an unquoted value.
			if !strings.ContainsAny(s, "'\n\r") {
				return "'" + s + "'"
			}
			return strconv.Quote(s)
		}
		return s
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(rv.Float(), 'g', -1, 64)
	case reflect.Slice:
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = rv.Index(i).String()
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(rv.Interface())
}

// resolve finds the settable leaf at path.
func (p *Profile) resolve(path string) (reflect.Value, error) {
	cur := reflect.ValueOf(p).Elem()
	segs := strings.Split(path, ".")
	for i, seg := range segs {
		name, idx, hasIdx, ok := splitIndex(seg)
		if !ok || name == "" {
			return reflect.Value{}, p.unknownPath(path, fmt.Sprintf("bad segment %q", seg))
		}
		t := cur.Type()
		switch {
		case t.Kind() == reflect.Struct && !isLeafType(t):
			f, ok := fieldByTag(t, name)
			if !ok {
				return reflect.Value{}, p.unknownPath(path, "")
			}
			cur = cur.Field(f)
		case t.Kind() == reflect.Map:
			v := cur.MapIndex(reflect.ValueOf(name).Convert(t.Key()))
			if !v.IsValid() || (v.Kind() == reflect.Pointer && v.IsNil()) {
				return reflect.Value{}, p.unknownPath(path, fmt.Sprintf("no entry %q in %s (have %s)",
					name, strings.Join(segs[:i], "."), strings.Join(mapKeys(cur), ", ")))
			}
			if v.Kind() != reflect.Pointer {
				// Map values are not addressable; every map in Profile holds pointers.
				return reflect.Value{}, p.unknownPath(path, "entry is not settable")
			}
			cur = v.Elem()
		default:
			return reflect.Value{}, p.unknownPath(path, fmt.Sprintf("%s is a value, not a table", strings.Join(segs[:i], ".")))
		}
		if hasIdx {
			if cur.Kind() != reflect.Slice || isLeafType(cur.Type()) {
				return reflect.Value{}, p.unknownPath(path, fmt.Sprintf("%s is not an array of tables", name))
			}
			if idx < 0 || idx >= cur.Len() {
				return reflect.Value{}, p.unknownPath(path, fmt.Sprintf("index %d out of range (%s has %d entries)", idx, name, cur.Len()))
			}
			cur = cur.Index(idx)
		}
	}
	if !isLeafType(cur.Type()) {
		return reflect.Value{}, p.unknownPath(path, "it is a table, not a value")
	}
	return cur, nil
}

// splitIndex splits "modes[3]" into ("modes", 3, true).
func splitIndex(seg string) (name string, idx int, hasIdx, ok bool) {
	open := strings.IndexByte(seg, '[')
	if open < 0 {
		return seg, 0, false, !strings.ContainsAny(seg, "]")
	}
	if !strings.HasSuffix(seg, "]") {
		return "", 0, false, false
	}
	n, err := strconv.Atoi(seg[open+1 : len(seg)-1])
	if err != nil {
		return "", 0, false, false
	}
	return seg[:open], n, true, true
}

func mapKeys(m reflect.Value) []string {
	var keys []string
	for _, k := range m.MapKeys() {
		keys = append(keys, k.String())
	}
	sort.Strings(keys)
	return keys
}

// unknownPath explains a path that names no leaf, suggesting close valid ones.
func (p *Profile) unknownPath(path, why string) error {
	msg := "unknown key"
	if why != "" {
		msg += " (" + why + ")"
	}
	if near := nearPaths(KeyPaths(p), path, 5); len(near) > 0 {
		msg += "; did you mean " + strings.Join(near, ", ") + "?"
	}
	return fmt.Errorf("%s", msg)
}

// nearPaths returns up to n candidates that differ from path only in case, share its
// last segment, or are within a small edit distance.
func nearPaths(candidates []string, path string, n int) []string {
	type scored struct {
		s string
		d int
	}
	last := path[strings.LastIndexByte(path, '.')+1:]
	limit := max(2, len(path)/6)
	var hits []scored
	for _, c := range candidates {
		// The distance is at least the difference in length: a path far longer than
		// every key (a --set of 100 KB) costs no quadratic comparison.
		d := limit + 1
		if abs(len(c)-len(path)) <= limit {
			d = editDistance(strings.ToLower(c), strings.ToLower(path))
		}
		switch {
		case strings.EqualFold(c, path):
			d = 0
		case strings.HasSuffix(c, "."+last) || strings.HasPrefix(c, path+"."):
			d = min(d, 2)
		}
		if d <= limit {
			hits = append(hits, scored{c, d})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].d < hits[j].d })
	var out []string
	for i := 0; i < len(hits) && i < n; i++ {
		out = append(out, hits[i].s)
	}
	return out
}

func abs(x int) int { return max(x, -x) }

// editDistance is the Levenshtein distance between a and b in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Clone returns a deep copy of p: its buffers, modes and role lists are not shared.
func (p *Profile) Clone() *Profile {
	c := *p
	c.MACArray.Modes = append([]MACMode(nil), p.MACArray.Modes...)
	if p.SRAM != nil {
		c.SRAM = make(map[string]*SRAMSpec, len(p.SRAM))
		for name, s := range p.SRAM {
			if s == nil {
				c.SRAM[name] = nil
				continue
			}
			cs := *s
			cs.Holds = append([]string(nil), s.Holds...)
			c.SRAM[name] = &cs
		}
	}
	return &c
}
