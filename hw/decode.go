package hw

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/rctsim/rctsim/hw/tomlpos"
	"github.com/rctsim/rctsim/traces/fileio"
)

// tomlMessage is a toml error with toml's own "toml: line N (last key ...)" prefix
// removed, since fileio.Error prints the position itself; Unwrap keeps the original
// reachable for errors.As(err, &toml.ParseError{}).
type tomlMessage struct {
	msg string
	err error
}

func (e tomlMessage) Error() string { return e.msg }
func (e tomlMessage) Unwrap() error { return e.err }

// Defaults returns a profile holding the default of every key that has one. Decode
// starts from it, so a file need not repeat them:
//
//	mac_array.accumulator_bits = 32
//	dram.channels = 1, dram.ranks = 1, dram.bank_groups = 1
//	dram.address_mapping = "rochrababgco" (DRAMsim3's default: row bits on top, then
//	  channel, rank, bank, bank group, column), dram.page_policy = "open"
//	dram.transaction_queue_depth = 32, dram.write_buffer_depth = 32 (DRAMsim3's
//	  trans_queue_size, which also sizes its write buffer), dram.bank_queue_depth = 8
//	  (the cmd_queue_size of DRAMsim3's shipped configs), dram.tRTRS = "1ck" (likewise)
//	dma.setup_cycles = 8, dma.max_outstanding = 16
//	sram.<name>.ports = 1 (applied to each buffer the file declares)
//
// Keys whose default depends on other keys are filled by Decode when absent:
// mac_array.train_float ("fp32" if the chip has an fp32 mode, else its first widest float
// mode, else ""), and for the DRAM:
//
//	tWR: 18 ns for LPDDR kinds (JESD209-4), else 15 ns (JESD79-3/-4)
//	tCWL: half of tCL for LPDDR (its write latency is about half its read latency),
//	  three quarters of tCL otherwise (DDR3/DDR4 speed bins), in tCL's unit
//	device_width_bits: bus_width_bits (one device per rank)
//	write_high_watermark: 3/4 of write_buffer_depth; write_low_watermark: 1/4 of it
//
// and the timings below, by family: LPDDR kinds take LPDDR4's JESD209-4 minimums, others
// DDR4's JESD79-4 minimums for a 2 KiB page (x16); "max(a, b)" is the larger of a time
// and a count of DRAM clocks, so it needs a valid data_rate (else the time alone):
//
//	          LPDDR                   DDR
//	tCCD_S    burst_length/2          max(4ck, burst_length/2)
//	tCCD_L    = tCCD_S                max(5ns, 5ck) with bank groups, else = tCCD_S
//	tRRD_S    max(10ns, 4ck)          max(5.3ns, 4ck)
//	tRRD_L    = tRRD_S                max(6.4ns, 4ck) with bank groups, else = tRRD_S
//	tFAW      40ns                    30ns
//	tWTR_S    max(10ns, 8ck)          max(2.5ns, 2ck)
//	tWTR_L    = tWTR_S                max(7.5ns, 4ck) with bank groups, else = tWTR_S
//	tRTP      max(7.5ns, 8ck)         max(7.5ns, 4ck)
//	tRFC      280ns (8 Gb a channel)  350ns (8 Gb)
//	tREFI     3904ns                  7800ns
//
// The density-dependent tRFC makes these defaults a fallback: the shipped profiles give
// every timing explicitly, with its source.
func Defaults() *Profile {
	return &Profile{
		TechnologyNode: Costs().ReferenceNode,
		MACArray:       MACArraySpec{AccumulatorBits: 32},
		DRAM:           defaultDRAM(),
		DMA:            DMASpec{SetupCycles: 8, MaxOutstanding: 16},
	}
}

// defaultDRAM holds the DRAM keys with fixed defaults.
func defaultDRAM() DRAMSpec {
	return DRAMSpec{
		Channels:              1,
		Ranks:                 1,
		BankGroups:            1,
		AddressMapping:        "rochrababgco",
		PagePolicy:            "open",
		TransactionQueueDepth: 32,
		WriteBufferDepth:      32,
		BankQueueDepth:        8,
		TRTRS:                 Timing{Cycles: 1},
	}
}

// newSRAMSpec is a buffer as it starts before its table is decoded.
func newSRAMSpec() *SRAMSpec { return &SRAMSpec{Ports: 1} }

// ErrUnknownProfile is wrapped by the error for a profile that is named but does not
// exist, neither embedded nor a file (a sweep spec's base, the command line's --hw), so
// that a caller can tell a misspelt name (the fix: a valid name or path) from a profile
// that exists but is invalid (the fix: an edit at the line the error names).
var ErrUnknownProfile = errors.New("unknown profile")

// Load reads and validates the profile at path.
func Load(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &fileio.Error{File: path, Err: err}
	}
	return decodeBytes(data, path)
}

// LoadFS reads and validates the profile at path in fsys (e.g. configs.FS).
func LoadFS(fsys fs.FS, path string) (*Profile, error) {
	data, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, &fileio.Error{File: path, Err: err}
	}
	return decodeBytes(data, path)
}

// Decode reads a profile from r strictly and validates it; source names r in errors and
// becomes the profile's Source.
//
// Strict means: a key the Profile does not have is an error (with the valid keys of its
// table listed), and so is a key spelled with other capitals than the documented one
// ("Rows" for "rows"). BurntSushi/toml would silently accept the latter; a researcher's
// typo must not quietly land in a field, nor must a profile depend on a fallback that
// another TOML reader lacks. A value of the wrong TOML type or with a bad unit is an
// error, never a silent zero or a wrapped negative.
//
// Every problem is reported, each a *fileio.Error (several joined with errors.Join, in
// file order; errors.As finds the first): a TOML syntax error (its Err wraps the
// toml.ParseError), an unknown or mis-cased key, a value of the wrong type or unit, or
// a value that fails validation. File is source, Line and Col the key's position, and
// Key its dotted path, e.g. "mac_array.modes[2].float".
func Decode(r io.Reader, source string) (*Profile, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &fileio.Error{File: source, Err: err}
	}
	return decodeBytes(data, source)
}

func decodeBytes(data []byte, source string) (*Profile, error) {
	// toml parses into plain maps; the binder below then fills the Profile itself. Doing
	// the typed part ourselves gives every type error its exact key and line (toml's own
	// struct decoder reports the last element of an array of tables for all of them,
	// cannot tell a mis-cased key from a right one, and replaces map entries wholesale,
	// dropping their defaults).
	raw, pos, err := decodeTOML(data, source)
	if err != nil {
		return nil, err
	}
	p := Defaults()
	b := &binder{file: source, pos: pos, defined: map[string]bool{}}
	b.bindStruct(reflect.ValueOf(p).Elem(), raw, nil)
	if len(b.errs) > 0 {
		return nil, fileio.Join(b.errs)
	}
	p.Source = source
	p.fillDerived(func(path string) bool { return b.defined[path] })
	if err := p.Validate(); err != nil {
		return nil, locate(err, pos)
	}
	return p, nil
}

// decodeTOML parses data into toml's plain maps and the positions of its keys. The
// nesting and key sizes are checked first (tomlpos.Check): toml's own time and memory
// grow with depth times size, so a few tens of KB of nested tables would cost
// seconds and gigabytes before any error.
func decodeTOML(data []byte, source string) (map[string]any, *tomlpos.Positions, error) {
	pos, err := tomlpos.Check(source, data)
	if err != nil {
		return nil, nil, err
	}
	var raw map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
		return nil, nil, fromTOMLError(source, data, err, nil)
	}
	return raw, pos, nil
}

// fillDerived sets the defaults that depend on other keys, for each key given reports
// as absent.
func (p *Profile) fillDerived(given func(path string) bool) {
	if !given("mac_array.train_float") {
		p.MACArray.TrainFloat = defaultTrainFloat(p.MACArray.Modes)
	}
	p.DRAM.fillDerived(given)
}

// defaultTrainFloat picks the float format QAT and FP32 training run in: fp32 when the
// chip has it, else the first of its widest float modes, else none.
func defaultTrainFloat(modes []MACMode) string {
	best := ""
	for _, m := range modes {
		if m.Float == "fp32" {
			return "fp32"
		}
		if m.IsFloat() && m.Float != "fp8" && floatWidth[m.Float] > floatWidth[best] {
			best = m.Float
		}
	}
	return best
}

// tomlErrRE matches the plain (non-ParseError) errors of toml:
// `toml: line 2 (last key "x"): incompatible types ...`.
var tomlErrRE = regexp.MustCompile(`^toml: (?:line (\d+) )?(?:\(last key "((?:[^"\\]|\\.)*)"\): )?(.*)$`)

// fromTOMLError turns an error of the toml package, raised on data, into a
// *fileio.Error with the line and key it names.
func fromTOMLError(source string, data []byte, err error, pos *tomlpos.Positions) *fileio.Error {
	var perr toml.ParseError
	if errors.As(err, &perr) {
		line, col := perr.Position.Line, perr.Position.Col
		// toml counts a line when its lexer consumes the newline, so an error found at a
		// line's end is reported on the next line; the byte offset is exact.
		if st := perr.Position.Start; st > 0 && st <= len(data) {
			line = bytes.Count(data[:st], []byte("\n")) + 1
			col = st - (bytes.LastIndexByte(data[:st], '\n') + 1) + 1
		}
		pe := &fileio.Error{File: source, Line: line, Col: col, Key: perr.LastKey,
			Err: tomlMessage{msg: perr.Message, err: err}}
		if kp, ok := pos.OnLine(perr.LastKey, line); ok {
			pe.Key, pe.Col = kp.Path, kp.Col
		}
		return pe
	}
	pe := &fileio.Error{File: source, Err: err}
	if m := tomlErrRE.FindStringSubmatch(err.Error()); m != nil && (m[1] != "" || m[2] != "") {
		pe.Line, _ = strconv.Atoi(m[1])
		pe.Key = strings.ReplaceAll(m[2], `\"`, `"`)
		pe.Err = tomlMessage{msg: m[3], err: err}
		if kp, ok := pos.OnLine(pe.Key, pe.Line); ok {
			pe.Key, pe.Col = kp.Path, kp.Col
		} else if kp, ok := pos.Lookup(pe.Key); ok && pe.Line == 0 {
			pe.Line, pe.Col = kp.Line, kp.Col
		}
	}
	return pe
}

// locate fills in the line and column of every error in err from pos.
func locate(err error, pos *tomlpos.Positions) error {
	var list []*fileio.Error
	forEachError(err, func(pe *fileio.Error) {
		if pe.Line == 0 {
			if kp, ok := pos.Lookup(pe.Key); ok {
				pe.Line, pe.Col = kp.Line, kp.Col
			}
		}
		list = append(list, pe)
	})
	if len(list) == 0 {
		return err
	}
	return fileio.Join(list)
}

// forEachError calls f on each *fileio.Error in err, looking through joined errors.
func forEachError(err error, f func(*fileio.Error)) {
	if pe, ok := err.(*fileio.Error); ok {
		f(pe)
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			forEachError(e, f)
		}
	}
}

// binder fills a Profile from toml's generic maps, following the toml tags, and
// collects one error per bad key.
type binder struct {
	file    string
	pos     *tomlpos.Positions
	defined map[string]bool // bare paths of the keys the document gave
	errs    []*fileio.Error
}

func (b *binder) fail(path []string, format string, args ...any) {
	key := tomlpos.Join(path)
	pe := &fileio.Error{File: b.file, Key: key, Err: fmt.Errorf(format, args...)}
	if kp, ok := b.pos.Lookup(key); ok {
		pe.Line, pe.Col = kp.Line, kp.Col
	}
	b.errs = append(b.errs, pe)
}

// sortedKeys returns the keys of m in the order they appear in the document (then by
// name), so that errors come out in reading order.
func (b *binder) sortedKeys(m map[string]any, path []string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	line := func(k string) int {
		if kp, ok := b.pos.Lookup(tomlpos.Join(append(append([]string(nil), path...), tomlpos.Seg(k)))); ok {
			return kp.Line
		}
		return math.MaxInt
	}
	sort.Slice(keys, func(i, j int) bool {
		li, lj := line(keys[i]), line(keys[j])
		if li != lj {
			return li < lj
		}
		return keys[i] < keys[j]
	})
	return keys
}

// bindStruct fills the struct rv from the table tbl found at path.
func (b *binder) bindStruct(rv reflect.Value, tbl map[string]any, path []string) {
	t := rv.Type()
	for _, k := range b.sortedKeys(tbl, path) {
		sub := append(append([]string(nil), path...), tomlpos.Seg(k))
		i, ok := fieldByTag(t, k)
		if !ok {
			if j, ok := fieldByTagFold(t, k); ok {
				b.fail(sub, "unknown key %q: keys are case-sensitive, write %q", k, tomlName(t.Field(j)))
			} else {
				b.fail(sub, "unknown key %q (valid keys here: %s)", k, strings.Join(tomlNames(t), ", "))
			}
			continue
		}
		b.defined[tomlpos.StripIndices(tomlpos.Join(sub))] = true
		b.bindValue(rv.Field(i), tbl[k], sub)
	}
}

// bindValue fills rv from the TOML value v found at path.
func (b *binder) bindValue(rv reflect.Value, v any, path []string) {
	t := rv.Type()
	switch {
	case isLeafType(t):
		if err := assignLeaf(rv, v); err != nil {
			b.fail(path, "%v", err)
		}
	case t.Kind() == reflect.Struct:
		tbl, ok := v.(map[string]any)
		if !ok {
			b.fail(path, "want a table, got %s", tomlpos.Describe(v))
			return
		}
		b.bindStruct(rv, tbl, path)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		tbl, ok := v.(map[string]any)
		if !ok {
			b.fail(path, "want a table of named entries, got %s", tomlpos.Describe(v))
			return
		}
		if rv.IsNil() {
			rv.Set(reflect.MakeMap(t))
		}
		for _, name := range b.sortedKeys(tbl, path) {
			sub := append(append([]string(nil), path...), tomlpos.Seg(name))
			entry, ok := tbl[name].(map[string]any)
			if !ok {
				b.fail(sub, "want a table, got %s", tomlpos.Describe(tbl[name]))
				continue
			}
			ev := newEntry(t.Elem())
			b.bindStruct(reflect.Indirect(ev), entry, sub)
			rv.SetMapIndex(reflect.ValueOf(name).Convert(t.Key()), ev)
		}
	case t.Kind() == reflect.Slice && derefType(t.Elem()).Kind() == reflect.Struct:
		elems, ok := tomlpos.TableArray(v)
		if !ok {
			b.fail(path, "want an array of tables ([[%s]] sections), got %s", tomlpos.Join(path), tomlpos.Describe(v))
			return
		}
		s := reflect.MakeSlice(t, len(elems), len(elems))
		for i, e := range elems {
			sub := append([]string(nil), path...)
			sub[len(sub)-1] += "[" + strconv.Itoa(i) + "]"
			tbl, ok := e.(map[string]any)
			if !ok {
				b.fail(sub, "want a table, got %s", tomlpos.Describe(e))
				continue
			}
			b.bindStruct(reflect.Indirect(s.Index(i)), tbl, sub)
		}
		rv.Set(s)
	default:
		// A Profile field of a kind the binder does not know is a programmer error.
		panic(fmt.Sprintf("hw: cannot bind field of type %s", t))
	}
}

// newEntry returns a new map entry of type t (a struct or a pointer to one) holding its
// defaults.
func newEntry(t reflect.Type) reflect.Value {
	if t == reflect.TypeFor[*SRAMSpec]() {
		return reflect.ValueOf(newSRAMSpec())
	}
	if t.Kind() == reflect.Pointer {
		return reflect.New(t.Elem())
	}
	return reflect.New(t).Elem()
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
)

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// isLeafType reports whether a field of type t holds one value (as opposed to a table
// or an array of tables).
func isLeafType(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// tomlName is the key a struct field is read from ("" for fields that are not).
func tomlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("toml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

func fieldByTag(t reflect.Type, key string) (int, bool) {
	for i := 0; i < t.NumField(); i++ {
		if n := tomlName(t.Field(i)); n != "" && n == key {
			return i, true
		}
	}
	return 0, false
}

func fieldByTagFold(t reflect.Type, key string) (int, bool) {
	for i := 0; i < t.NumField(); i++ {
		if n := tomlName(t.Field(i)); n != "" && strings.EqualFold(n, key) {
			return i, true
		}
	}
	return 0, false
}

// tomlNames lists the keys of struct type t in declaration order.
func tomlNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if n := tomlName(t.Field(i)); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// textOf renders a TOML scalar as the text a TextUnmarshaler reads: strings as they
// are, numbers in plain notation (so 1.5e6 reads as "1500000").
func textOf(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// assignLeaf stores the TOML value v (string, int64, float64, bool or []any, as toml
// decodes them) in the leaf field rv, with the same type rules for files and --set.
func assignLeaf(rv reflect.Value, v any) error {
	t := rv.Type()
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		s, ok := textOf(v)
		if !ok {
			return fmt.Errorf("want a value such as %s, got %s", unitExample(t), tomlpos.Describe(v))
		}
		tmp := reflect.New(t)
		if err := tmp.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			return err
		}
		rv.Set(tmp.Elem())
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want a string, got %s", tomlpos.Describe(v))
		}
		rv.SetString(s)
	case reflect.Bool:
		x, ok := v.(bool)
		if !ok {
			return fmt.Errorf("want true or false, got %s", tomlpos.Describe(v))
		}
		rv.SetBool(x)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x, ok := v.(int64)
		if !ok {
			return fmt.Errorf("want an integer, got %s", tomlpos.Describe(v))
		}
		if rv.OverflowInt(x) {
			return fmt.Errorf("integer %d is out of range", x)
		}
		rv.SetInt(x)
	case reflect.Float32, reflect.Float64:
		x, ok := tomlpos.Number(v)
		if !ok {
			return fmt.Errorf("want a number, got %s", tomlpos.Describe(v))
		}
		rv.SetFloat(x)
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("want an array of strings, got %s", tomlpos.Describe(v))
		}
		out := reflect.MakeSlice(t, len(arr), len(arr))
		for i, e := range arr {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want an array of strings, element %d is %s", i, tomlpos.Describe(e))
			}
			out.Index(i).SetString(s)
		}
		rv.Set(out)
	default:
		panic(fmt.Sprintf("hw: cannot assign to field of type %s", t))
	}
	return nil
}

// unitExample shows the expected form of a unit type in error messages.
func unitExample(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[ByteSize]():
		return `"512KiB"`
	case reflect.TypeFor[Frequency]():
		return `"800MHz"`
	case reflect.TypeFor[DataRate]():
		return `"3200MT/s"`
	case reflect.TypeFor[Timing]():
		return `"18ns" or "14ck"`
	}
	return "a string"
}
