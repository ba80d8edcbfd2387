package sweep

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/BurntSushi/toml"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/hw/tomlpos"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/traces"
	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/train/numerics"
)

// Spec is a validated sweep specification. Build it with Load, LoadFS or Parse; it is
// read-only afterwards and safe for concurrent use.
type Spec struct {
	// File is where the spec was read from; errors and progress lines name it.
	File string
	// Name and Description are the spec's own labels ("" when not given).
	Name, Description string
	// BaseName is the base profile as the spec names it: an embedded profile or a path.
	BaseName string
	// Base is the base profile with the [set] overrides applied: every point starts
	// from it.
	Base *hw.Profile
	// BaseNames and Bases are every base profile of a spec that lists several (base =
	// ["default", "lnpu", ...]), Base and BaseName being the first: the points are then
	// the product of the bases (slowest) with the models, methods, plans and batch
	// sizes, and the output has a base column. A spec with several bases sweeps no
	// profile keys ([axes], [[points]]): the profiles differ in too much for one key to
	// mean the same on each.
	BaseNames []string
	Bases     []*hw.Profile
	// Sets are the [set] overrides, "path=value", in file order.
	Sets []string
	// Axes are the swept profile keys, in file order (the first varies slowest).
	Axes []Axis
	// Models, Methods and Batches are the lists the product runs over.
	Models  []string
	Methods []numerics.Variant
	Batches []int
	// Plans are the precision plans, in file order.
	Plans []*Plan
	// Fixes are the [[points]] tables; empty for a full cartesian product.
	Fixes []*Fix
	// IdealDRAM runs every point with ideal memory (spec key dram = "ideal").
	IdealDRAM bool
	// PipelineDepth is kernels.Options.PipelineDepth for every point (0: the
	// compiler's default).
	PipelineDepth int
	// RCTMomentumShift gives the update of every rct point integer momentum of
	// 1 - 2^-RCTMomentumShift (spec key rct_momentum = 0.875; 0, the default: none), as
	// train --rct-momentum trains it: an int16 buffer per updated parameter.
	RCTMomentumShift int
	// Fidelity is sim.FidelityExact (the default) or sim.FidelityFast (spec key
	// fidelity = "fast").
	Fidelity sim.Fidelity
	// Constraints bound metrics of every point ([constraints]); violations are
	// flagged in the violates column.
	Constraints []Constraint

	nets     map[string]*models.Network
	blocks   []block  // one per Fix, or one for the whole product
	total    int      // points in all blocks
	profCols []string // profile key paths that get a column
	columns  []string
	metrics  []string // metric column names, from sim.Report.Columns
}

// Axis is one swept dimension: one profile key path, or several moved together (a
// linked axis, written "a.b,c.d" in the spec).
type Axis struct {
	Paths []string
	// Values[i][j] is the i-th value of Paths[j], as text that hw.Profile.Set reads.
	Values [][]string
}

// Plan is a precision plan: fixed bitwidths, or a recorded schedule whose distinct
// plans are simulated once each and summed over the steps they cover.
type Plan struct {
	// Name labels the plan in the plan column and in [[points]] tables.
	Name string
	// Bits is a fixed plan: one width for every weight layer, or one per weight layer.
	// Nil for a schedule.
	Bits []int
	// Schedule is a recorded schedule and ScheduleFile the file it came from.
	Schedule     *traces.Schedule
	ScheduleFile string

	runs []traces.ScheduleRun
	key  string // content identity, part of every point hash
	path string // spec path of the [[plans]] table, for errors
}

// Steps is the number of training steps a point with this plan covers.
func (p *Plan) Steps() int {
	if p.Schedule == nil {
		return 1
	}
	return p.Schedule.LastStep() - p.Schedule.FirstStep() + 1
}

// Fix is one [[points]] table: the profile keys, model, method, plan and batch it fixes.
// What it leaves out is swept over the spec's axes and lists.
type Fix struct {
	// Sets are its profile overrides, "path=value", in file order.
	Sets  []string
	Paths []string // the paths of Sets
	// Model, Method, Plan and Batch are zero when not fixed.
	Model  string
	Method numerics.Variant
	Plan   *Plan
	Batch  int
}

// Defaults of the lists a spec may leave out: what `rctsim sim` runs by default.
var (
	defaultModels  = []string{"lenet5"}
	defaultMethods = []numerics.Variant{{Method: numerics.RCT}}
	defaultBatches = []int{32}
)

// Reserved keys of a [[points]] table; every other key there is a profile key path.
const (
	keyModel  = "model"
	keyMethod = "method"
	keyPlan   = "plan"
	keyBatch  = "batch"
)

// MaxPoints bounds the points of one spec (it also keeps point numbers within an int
// on 32-bit platforms).
const MaxPoints = math.MaxInt32

// Load reads and validates the spec at path. Relative paths in it (a base profile
// file, schedules) are relative to the spec's folder.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &fileio.Error{File: path, Err: err}
	}
	return Parse(data, path, filepath.Dir(path))
}

// LoadFS reads and validates the spec at path in fsys (e.g. an embedded spec in
// configs.FS, "sweeps/lenet5_array_sram.toml"). Relative paths in it are relative to
// dir on the operating system's file system.
func LoadFS(fsys fs.FS, path, dir string) (*Spec, error) {
	data, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, &fileio.Error{File: path, Err: err}
	}
	return Parse(data, path, dir)
}

// Parse reads and validates a spec completely: every key, every axis value (applied to
// a copy of the base profile), every plan and schedule, every [[points]] table. file
// names the spec in errors; dir is the folder relative paths in it start from. The
// error is one *fileio.Error or several joined (errors.As finds the first), in file
// order; its Key is the spec's own key path, e.g. `axes."sram.global.capacity"[2]`.
func Parse(data []byte, file, dir string) (*Spec, error) {
	// Refuse deep nesting before toml reads it: toml's cost grows with depth x size.
	pos, err := tomlpos.Check(file, data)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
		return nil, fromTOMLError(file, data, err)
	}
	p := &parser{file: file, dir: dir, pos: pos, spec: &Spec{File: file}}
	p.parse(raw)
	if len(p.errs) > 0 {
		return nil, fileio.Join(p.errs)
	}
	return p.spec, nil
}

// fromTOMLError turns a toml syntax or type error into a *fileio.Error with its position.
func fromTOMLError(file string, data []byte, err error) error {
	var perr toml.ParseError
	if errors.As(err, &perr) {
		line, col := perr.Position.Line, perr.Position.Col
		// toml counts a line when its lexer consumes the newline; the byte offset is exact.
		if st := perr.Position.Start; st > 0 && st <= len(data) {
			line = bytes.Count(data[:st], []byte("\n")) + 1
			col = st - (bytes.LastIndexByte(data[:st], '\n') + 1) + 1
		}
		return &fileio.Error{File: file, Line: line, Col: col, Key: perr.LastKey, Err: errors.New(perr.Message)}
	}
	return &fileio.Error{File: file, Err: err}
}

// parser validates a decoded spec and collects one error per bad key.
type parser struct {
	file, dir string
	pos       *tomlpos.Positions
	spec      *Spec
	errs      []*fileio.Error
}

func (p *parser) fail(path, format string, args ...any) {
	e := &fileio.Error{File: p.file, Key: path, Err: fmt.Errorf(format, args...)}
	if kp, ok := p.pos.Lookup(path); ok {
		e.Line, e.Col = kp.Line, kp.Col
	}
	p.errs = append(p.errs, e)
}

// child renders the spec path of key k inside the table at path.
func child(path, k string) string {
	if path == "" {
		return tomlpos.Seg(k)
	}
	return path + "." + tomlpos.Seg(k)
}

// elem renders the spec path of element i of the array at path.
func elem(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// keysInOrder returns the keys of m in the order they appear in the document (then by
// name), so that errors and axes come out in reading order.
func (p *parser) keysInOrder(m map[string]any, path string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	at := func(k string) (int, int) {
		if kp, ok := p.pos.Lookup(child(path, k)); ok {
			return kp.Line, kp.Col
		}
		return math.MaxInt, 0
	}
	sort.Slice(keys, func(i, j int) bool {
		li, ci := at(keys[i])
		lj, cj := at(keys[j])
		if li != lj {
			return li < lj
		}
		if ci != cj {
			return ci < cj
		}
		return keys[i] < keys[j]
	})
	return keys
}

var topKeys = []string{"name", "description", "base", "models", "methods", "batch", "dram", "fidelity", "pipeline_depth", "rct_momentum", "set", "axes", "plans", "points", "constraints"}

func (p *parser) parse(raw map[string]any) {
	s := p.spec
	for _, k := range p.keysInOrder(raw, "") {
		known := false
		for _, t := range topKeys {
			known = known || t == k
		}
		if !known {
			p.fail(tomlpos.Seg(k), "unknown key (valid keys: %s)", strings.Join(topKeys, ", "))
		}
	}
	s.Name = p.str(raw, "name", "")
	s.Description = p.str(raw, "description", "")
	s.BaseNames = p.baseNames(raw)
	s.BaseName = s.BaseNames[0]
	switch d := p.str(raw, "dram", "model"); d {
	case "model":
	case "ideal":
		s.IdealDRAM = true
	default:
		p.fail("dram", `want "model" or "ideal", got %q`, d)
	}
	if f, err := sim.ParseFidelity(p.str(raw, "fidelity", "exact")); err != nil {
		p.fail("fidelity", "%v", err)
	} else {
		s.Fidelity = f
	}
	if v, ok := raw["pipeline_depth"]; ok {
		n, ok := v.(int64)
		if !ok || n < 0 || n > maxPipelineDepth {
			p.fail("pipeline_depth", "want an integer in 0..%d (0: the compiler's default), got %s", maxPipelineDepth, tomlpos.Describe(v))
		} else {
			s.PipelineDepth = int(n)
		}
	}
	p.lists(raw)
	p.rctMomentum(raw)
	p.constraints(raw)
	for k, name := range s.BaseNames {
		base := p.base(name, k)
		if base == nil {
			s.Bases = nil
			break
		}
		if base = p.sets(raw, base); base == nil {
			s.Bases = nil
			break
		}
		s.Bases = append(s.Bases, base)
	}
	if len(s.Bases) > 0 {
		s.Base = s.Bases[0]
	}
	p.plans(raw)
	if s.Base != nil {
		if len(s.Bases) > 1 {
			for _, key := range []string{"axes", "points"} {
				if _, ok := raw[key]; ok {
					p.fail(key, "a spec with several bases sweeps no profile keys: list the bases alone, or write one spec per base")
				}
			}
		}
		p.axes(raw)
		p.points(raw)
	}
	if len(p.errs) > 0 {
		return
	}
	p.checkPlans()
	if len(p.errs) > 0 {
		return
	}
	p.layout()
}

// str reads an optional string key of the top-level table.
func (p *parser) str(raw map[string]any, key, def string) string {
	v, ok := raw[key]
	if !ok {
		return def
	}
	s, ok := v.(string)
	if !ok {
		p.fail(key, "want a string, got %s", tomlpos.Describe(v))
		return def
	}
	return s
}

// list reads a key that holds one value or an array of them.
func asList(v any) []any {
	if a, ok := v.([]any); ok {
		return a
	}
	return []any{v}
}

// rctMomentum reads rct_momentum, which applies to the rct methods only: a spec that
// gives it without one is an error rather than a sweep that ignores it.
func (p *parser) rctMomentum(raw map[string]any) {
	v, ok := raw["rct_momentum"]
	if !ok {
		return
	}
	beta, isNum := tomlpos.Number(v)
	if !isNum {
		p.fail("rct_momentum", "want a number 1 - 2^-k (0.5, 0.75, 0.875, ...), got %s", tomlpos.Describe(v))
		return
	}
	k, err := numerics.MomentumShift(beta)
	if err != nil {
		p.fail("rct_momentum", "%v", err)
		return
	}
	if !slices.ContainsFunc(p.spec.Methods, func(m numerics.Variant) bool { return m.Method == numerics.RCT }) {
		p.fail("rct_momentum", "rct's integer momentum, but no method is rct")
		return
	}
	p.spec.RCTMomentumShift = k
}

// lists reads models, methods and batch.
func (p *parser) lists(raw map[string]any) {
	s := p.spec
	s.nets = map[string]*models.Network{}
	seen := map[string]bool{}
	if v, ok := raw["models"]; ok {
		for i, e := range asList(v) {
			key := elemIf(v, "models", i)
			name, ok := e.(string)
			if !ok {
				p.fail(key, "want a model name, got %s", tomlpos.Describe(e))
				continue
			}
			if seen[name] {
				p.fail(key, "model %q is listed twice", name)
				continue
			}
			seen[name] = true
			if p.model(key, name) {
				s.Models = append(s.Models, name)
			}
		}
		if len(asList(v)) == 0 {
			p.fail("models", "lists no models")
		}
	} else {
		for _, name := range defaultModels {
			p.model("models", name)
		}
		s.Models = append(s.Models, defaultModels...)
	}
	if v, ok := raw["methods"]; ok {
		seen := map[string]bool{}
		for i, e := range asList(v) {
			key := elemIf(v, "methods", i)
			m, err := parseMethod(e)
			if err != nil {
				p.fail(key, "%v", err)
				continue
			}
			if seen[m.String()] {
				p.fail(key, "method %q is listed twice", m)
				continue
			}
			seen[m.String()] = true
			s.Methods = append(s.Methods, m)
		}
		if len(asList(v)) == 0 {
			p.fail("methods", "lists no methods")
		}
	} else {
		s.Methods = append(s.Methods, defaultMethods...)
	}
	if v, ok := raw["batch"]; ok {
		seen := map[int]bool{}
		for i, e := range asList(v) {
			key := elemIf(v, "batch", i)
			b, err := parseBatch(e)
			if err != nil {
				p.fail(key, "%v", err)
				continue
			}
			if seen[b] {
				p.fail(key, "batch %d is listed twice", b)
				continue
			}
			seen[b] = true
			s.Batches = append(s.Batches, b)
		}
		if len(asList(v)) == 0 {
			p.fail("batch", "lists no batch sizes")
		}
	} else {
		s.Batches = append(s.Batches, defaultBatches...)
	}
}

// elemIf is the path of element i of key when its value is an array, else key.
func elemIf(v any, key string, i int) string {
	if _, ok := v.([]any); ok {
		return elem(key, i)
	}
	return key
}

// model looks a model up (once) and reports whether it exists.
func (p *parser) model(key, name string) bool {
	if _, ok := p.spec.nets[name]; ok {
		return true
	}
	arg := name
	if models.IsONNXPath(name) {
		arg = p.resolvePath(name) // an ONNX file, relative to the spec like a base profile
	}
	net, err := models.Open(arg, models.OpenOptions{})
	if err != nil {
		p.fail(key, "%w", err)
		return false
	}
	p.spec.nets[name] = net
	return true
}

// parseMethod reads a method, with an update mask of its own when it has one
// ("rct", "rct@last:3"; numerics.ParseVariant).
func parseMethod(v any) (numerics.Variant, error) {
	name, ok := v.(string)
	if !ok {
		return numerics.Variant{}, fmt.Errorf("want a method name (rct, qat, fp32, niti or fp8, or METHOD@MASK such as rct@last:3), got %s", tomlpos.Describe(v))
	}
	return numerics.ParseVariant(name)
}

// Bounds of spec values that size what a point compiles.
const (
	maxBatch         = 1 << 20
	maxPipelineDepth = 1 << 20
)

func parseBatch(v any) (int, error) {
	n, ok := v.(int64)
	if !ok || n <= 0 || n > maxBatch {
		return 0, fmt.Errorf("want a batch size in 1..%d, got %s", maxBatch, tomlpos.Describe(v))
	}
	return int(n), nil
}

// baseNames reads base: one profile or an array of them (default "default").
func (p *parser) baseNames(raw map[string]any) []string {
	v, ok := raw["base"]
	if !ok {
		return []string{"default"}
	}
	var names []string
	for i, e := range asList(v) {
		s, ok := e.(string)
		if !ok {
			p.fail(elemIf(v, "base", i), "want a profile name or file, got %s", tomlpos.Describe(e))
			continue
		}
		if slices.Contains(names, s) {
			p.fail(elemIf(v, "base", i), "base %q is listed twice", s)
			continue
		}
		names = append(names, s)
	}
	if len(names) == 0 {
		if len(asList(v)) == 0 {
			p.fail("base", "lists no profiles")
		}
		return []string{"default"}
	}
	return names
}

// base loads base profile k, name: an embedded name, or a file relative to the spec.
func (p *parser) base(name string, k int) *hw.Profile {
	key := "base"
	if len(p.spec.BaseNames) > 1 {
		key = elem("base", k)
	}
	var prof *hw.Profile
	var err error
	if isEmbeddedName(name) {
		file := name + ".toml"
		if _, statErr := fs.Stat(configs.FS, file); statErr != nil {
			p.fail(key, "%w", unknownProfile{fmt.Errorf("no embedded profile %q (have %s; a file path needs a / or .toml)",
				name, strings.Join(embeddedProfiles(), ", "))})
			return nil
		}
		prof, err = hw.LoadFS(configs.FS, file)
	} else if prof, err = hw.Load(p.resolvePath(name)); errors.Is(err, fs.ErrNotExist) {
		err = unknownProfile{err}
	}
	if err != nil {
		p.fail(key, "%w", err)
		return nil
	}
	return prof
}

// unknownProfile is an error saying that the base profile does not exist: it is
// hw.ErrUnknownProfile for errors.Is, and prints as the error it holds, which says
// why (no such embedded name, or no such file).
type unknownProfile struct{ error }

func (e unknownProfile) Is(target error) bool { return target == hw.ErrUnknownProfile }
func (e unknownProfile) Unwrap() error        { return e.error }

// isEmbeddedName reports whether a base names an embedded profile rather than a file.
func isEmbeddedName(name string) bool {
	return !strings.ContainsAny(name, `/\`) && !strings.HasSuffix(name, ".toml")
}

func embeddedProfiles() []string {
	files, _ := fs.Glob(configs.FS, "*.toml")
	for i, f := range files {
		files[i] = strings.TrimSuffix(f, ".toml")
	}
	return files
}

func (p *parser) resolvePath(path string) string {
	if filepath.IsAbs(path) || p.dir == "" {
		return path
	}
	return filepath.Join(p.dir, path)
}

// sets applies [set] to a copy of base and returns it.
func (p *parser) sets(raw map[string]any, base *hw.Profile) *hw.Profile {
	v, ok := raw["set"]
	if !ok {
		return base
	}
	tbl, ok := v.(map[string]any)
	if !ok {
		p.fail("set", "want a table of key.path = value, got %s", tomlpos.Describe(v))
		return nil
	}
	var args []string
	before := len(p.errs)
	p.flatten(tbl, "set", "", func(specPath, profPath string, v any) {
		text, err := literal(v)
		if err != nil {
			p.fail(specPath, "%v", err)
			return
		}
		c := base.Clone()
		if err := c.Set(profPath, text); err != nil {
			p.fail(specPath, "%s", setMessage(err, profPath))
			return
		}
		args = append(args, profPath+"="+text)
	})
	if len(p.errs) > before {
		return nil
	}
	out := base.Clone()
	if err := out.ApplySets(args); err != nil {
		p.fail("set", "together these values are invalid: %s", setMessage(err, ""))
		return nil
	}
	p.spec.Sets = args
	return out
}

// flatten walks a table of profile key paths, given quoted ("sram.global.capacity")
// or as nested tables (sram.global.capacity unquoted), and calls f for each leaf with
// its spec path and its profile path, in the order the leaves appear in the file
// (bare dotted keys of one table may be interleaved with others').
func (p *parser) flatten(tbl map[string]any, specPath, profPrefix string, f func(specPath, profPath string, v any)) {
	type leaf struct {
		sp, pp    string
		v         any
		line, col int
	}
	var leaves []leaf
	var walk func(tbl map[string]any, specPath, profPrefix string)
	walk = func(tbl map[string]any, specPath, profPrefix string) {
		for _, k := range p.keysInOrder(tbl, specPath) {
			sp := child(specPath, k)
			pp := k
			if profPrefix != "" {
				pp = profPrefix + "." + k
			}
			if sub, ok := tbl[k].(map[string]any); ok {
				walk(sub, sp, pp)
				continue
			}
			l := leaf{sp: sp, pp: pp, v: tbl[k], line: math.MaxInt}
			if kp, ok := p.pos.Lookup(sp); ok {
				l.line, l.col = kp.Line, kp.Col
			}
			leaves = append(leaves, l)
		}
	}
	walk(tbl, specPath, profPrefix)
	sort.SliceStable(leaves, func(i, j int) bool {
		if leaves[i].line != leaves[j].line {
			return leaves[i].line < leaves[j].line
		}
		return leaves[i].col < leaves[j].col
	})
	for _, l := range leaves {
		f(l.sp, l.pp, l.v)
	}
}

// setMessage renders the error of hw's Set for the spec's own position: without its
// "--set path=value" origin, naming another key only when the value broke that one.
func setMessage(err error, path string) string {
	var parts []string
	var walk func(error)
	walk = func(e error) {
		var pe *fileio.Error
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if errors.As(e, &pe) {
			msg := "invalid"
			if pe.Err != nil {
				msg = pe.Err.Error()
			}
			if pe.Key != "" && pe.Key != path {
				msg = "makes " + pe.Key + " invalid: " + msg
			}
			parts = append(parts, msg)
			return
		}
		parts = append(parts, e.Error())
	}
	walk(err)
	return strings.Join(parts, "; ")
}

// literal renders a decoded TOML value as the text hw.Profile.Set reads back to the
// same value: a TOML literal.
func literal(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return quote(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		switch {
		case math.IsNaN(x):
			return "nan", nil
		case math.IsInf(x, 1):
			return "inf", nil
		case math.IsInf(x, -1):
			return "-inf", nil
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".en") {
			s += ".0" // keep it a float
		}
		return s, nil
	case bool:
		return strconv.FormatBool(x), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := literal(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	}
	return "", fmt.Errorf("want a value (string, number, boolean or array), got %s", tomlpos.Describe(v))
}

// quote writes s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// axes reads [axes], validating every value on a copy of the base profile.
func (p *parser) axes(raw map[string]any) {
	v, ok := raw["axes"]
	if !ok {
		return
	}
	tbl, ok := v.(map[string]any)
	if !ok {
		p.fail("axes", "want a table of key.path = [values], got %s", tomlpos.Describe(v))
		return
	}
	s := p.spec
	owner := map[string]string{} // profile path -> spec path of the axis sweeping it
	for _, set := range s.Sets {
		path, _, _ := strings.Cut(set, "=")
		owner[path] = "[set]"
	}
	p.flatten(tbl, "axes", "", func(specPath, profPath string, v any) {
		var paths []string
		for _, part := range strings.Split(profPath, ",") {
			paths = append(paths, strings.TrimSpace(part))
		}
		bad := false
		for _, path := range paths {
			if err := sweepable(path); err != nil {
				p.fail(specPath, "%v", err)
				bad = true
			} else if _, err := s.Base.Get(path); err != nil {
				p.fail(specPath, "%s: %s", path, setMessage(err, path))
				bad = true
			} else if o, dup := owner[path]; dup {
				p.fail(specPath, "%s is already set by %s", path, o)
				bad = true
			}
		}
		if bad {
			return
		}
		for _, path := range paths {
			owner[path] = specPath
		}
		vals, ok := v.([]any)
		if !ok || len(vals) == 0 {
			p.fail(specPath, "want a non-empty array of values, got %s", tomlpos.Describe(v))
			return
		}
		ax := Axis{Paths: paths}
		seen := map[string]int{}
		for i, e := range vals {
			ep := elem(specPath, i)
			parts := []any{e}
			if len(paths) > 1 {
				arr, ok := e.([]any)
				if !ok || len(arr) != len(paths) {
					p.fail(ep, "a linked axis of %d keys wants arrays of %d values, got %s", len(paths), len(paths), tomlpos.Describe(e))
					continue
				}
				parts = arr
			}
			texts, canon, ok := p.checkValues(ep, paths, parts)
			if !ok {
				continue
			}
			if j, dup := seen[canon]; dup {
				p.fail(ep, "repeats value %d of the axis (%s)", j, canon)
				continue
			}
			seen[canon] = i
			ax.Values = append(ax.Values, texts)
		}
		if len(ax.Values) == len(vals) {
			s.Axes = append(s.Axes, ax)
		}
	})
}

// checkValues applies the values of paths to a copy of the base profile together and
// returns their Set texts and a canonical rendering of the result (for duplicates).
func (p *parser) checkValues(specPath string, paths []string, vals []any) (texts []string, canon string, ok bool) {
	args := make([]string, len(paths))
	texts = make([]string, len(paths))
	for j, v := range vals {
		text, err := literal(v)
		if err != nil {
			p.fail(specPath, "%v", err)
			return nil, "", false
		}
		texts[j], args[j] = text, paths[j]+"="+text
	}
	c := p.spec.Base.Clone()
	if err := c.ApplySets(args); err != nil {
		p.fail(specPath, "%s", setMessage(err, paths[0]))
		return nil, "", false
	}
	got := make([]string, len(paths))
	for j, path := range paths {
		got[j], _ = c.Get(path)
		if err := oneLineValue(got[j]); err != nil {
			p.fail(specPath, "%s: %v", path, err)
			return nil, "", false
		}
	}
	return texts, strings.Join(got, ","), true
}

// sweepable rejects the profile keys a point may not vary: the description changes no
// result and is not part of the point hash, so points that differ only by it would
// share a hash (and resuming would skip all but one).
func sweepable(path string) error {
	if path == "description" {
		return errors.New("description changes no result and cannot tell points apart: sweep another key")
	}
	return nil
}

// oneLineValue rejects a value that would break a row over several lines: a result
// row is one line of its file (resuming cuts a torn row at the last newline, merge
// reads rows line by line), so no column may hold a line break or another control
// character.
func oneLineValue(v string) error {
	if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
		return fmt.Errorf("%q has a control character (%U), which no result column may hold", v, []rune(v[i:])[0])
	}
	return nil
}

// plans reads [[plans]]: fixed widths or recorded schedules.
func (p *parser) plans(raw map[string]any) {
	s := p.spec
	v, ok := raw["plans"]
	if !ok {
		s.Plans = []*Plan{{Name: "8", Bits: []int{8}, key: "bits:8", path: "plans"}}
		return
	}
	tables, ok := tomlpos.TableArray(v)
	if !ok || len(tables) == 0 {
		p.fail("plans", "want [[plans]] tables (bits = 8, bits = [8, 6, 8, 8, 8] or schedule = \"run folder\"), got %s", tomlpos.Describe(v))
		return
	}
	names := map[string]int{}
	keys := map[string]int{}
	for i, t := range tables {
		path := elem("plans", i)
		tbl, ok := t.(map[string]any)
		if !ok {
			p.fail(path, "want a table, got %s", tomlpos.Describe(t))
			continue
		}
		pl := p.plan(path, tbl)
		if pl == nil {
			continue
		}
		if j, dup := names[pl.Name]; dup {
			p.fail(path, "plan name %q is already used by plans[%d]", pl.Name, j)
			continue
		}
		if j, dup := keys[pl.key]; dup {
			p.fail(path, "plan %q is the same as plans[%d]", pl.Name, j)
			continue
		}
		names[pl.Name], keys[pl.key] = i, i
		s.Plans = append(s.Plans, pl)
	}
}

func (p *parser) plan(path string, tbl map[string]any) *Plan {
	pl := &Plan{path: path}
	ok := true
	for _, k := range p.keysInOrder(tbl, path) {
		switch k {
		case "name", "bits", "schedule":
		default:
			p.fail(child(path, k), "unknown key (valid keys: name, bits, schedule)")
			ok = false
		}
	}
	if v, has := tbl["name"]; has {
		name, isStr := v.(string)
		if !isStr || strings.TrimSpace(name) == "" {
			p.fail(child(path, "name"), "want a non-empty string, got %s", tomlpos.Describe(v))
			ok = false
		} else if err := oneLineValue(name); err != nil {
			p.fail(child(path, "name"), "%v", err)
			ok = false
		}
		pl.Name = name
	}
	bits, hasBits := tbl["bits"]
	sched, hasSched := tbl["schedule"]
	switch {
	case hasBits == hasSched:
		p.fail(path, "give exactly one of bits (a width, or one per weight layer) and schedule (a run folder or schedule CSV)")
		return nil
	case hasBits:
		for i, e := range asList(bits) {
			key := elemIf(bits, child(path, "bits"), i)
			b, isInt := e.(int64)
			if !isInt || b < 2 || b > 32 {
				p.fail(key, "want a bitwidth in 2..32, got %s", tomlpos.Describe(e))
				ok = false
				continue
			}
			pl.Bits = append(pl.Bits, int(b))
		}
		if len(asList(bits)) == 0 {
			p.fail(child(path, "bits"), "lists no bitwidths")
			ok = false
		}
		pl.key = "bits:" + numerics.Plan{Bits: pl.Bits}.String()
		if pl.Name == "" {
			pl.Name = numerics.Plan{Bits: pl.Bits}.String()
		}
	case hasSched:
		key := child(path, "schedule")
		file, isStr := sched.(string)
		if !isStr || file == "" {
			p.fail(key, "want the path of a run folder or a schedule CSV, got %s", tomlpos.Describe(sched))
			return nil
		}
		if err := p.loadSchedule(pl, key, file); err != nil {
			p.fail(key, "%w", err)
			return nil
		}
	}
	if !ok {
		return nil
	}
	return pl
}

// loadSchedule reads a recorded schedule: a run folder's schedule.csv, or the file.
func (p *parser) loadSchedule(pl *Plan, key, file string) error {
	path := p.resolvePath(file)
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "schedule.csv")
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sched, err := traces.ReadSchedule(f, path)
	if err != nil {
		return err
	}
	pl.Schedule, pl.ScheduleFile, pl.runs = sched, path, sched.Runs()
	if pl.Name == "" {
		pl.Name = scheduleName(path)
		if err := oneLineValue(pl.Name); err != nil {
			return fmt.Errorf("the plan's name, from its path: %v; give it a name", err)
		}
	}
	pl.key = "schedule:" + scheduleDigest(sched.Layers, pl.runs)
	return nil
}

// scheduleName labels a schedule by its run folder ("runs/rct1/schedule.csv" -> "rct1")
// or, for a loose file, by its name without extension.
func scheduleName(path string) string {
	base := filepath.Base(path)
	if base == "schedule.csv" {
		if dir := filepath.Base(filepath.Dir(path)); dir != "." && dir != string(filepath.Separator) {
			return dir
		}
	}
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// points reads [[points]].
func (p *parser) points(raw map[string]any) {
	v, ok := raw["points"]
	if !ok {
		return
	}
	tables, ok := tomlpos.TableArray(v)
	if !ok || len(tables) == 0 {
		p.fail("points", "want [[points]] tables, got %s", tomlpos.Describe(v))
		return
	}
	s := p.spec
	axisOf := map[string]int{}
	for i, ax := range s.Axes {
		for _, path := range ax.Paths {
			axisOf[path] = i
		}
	}
	plans := map[string]*Plan{}
	for _, pl := range s.Plans {
		plans[pl.Name] = pl
	}
	fixed := map[string]bool{}
	for _, set := range s.Sets {
		path, _, _ := strings.Cut(set, "=")
		fixed[path] = true
	}
	for i, t := range tables {
		path := elem("points", i)
		tbl, ok := t.(map[string]any)
		if !ok {
			p.fail(path, "want a table, got %s", tomlpos.Describe(t))
			continue
		}
		fx := &Fix{}
		good := true
		for _, k := range p.keysInOrder(tbl, path) {
			kp := child(path, k)
			val := tbl[k]
			var err error
			switch k {
			case keyModel:
				name, isStr := val.(string)
				switch {
				case !isStr:
					err = fmt.Errorf("want a model name, got %s", tomlpos.Describe(val))
				case p.model(kp, name):
					fx.Model = name
				default:
					good = false
				}
			case keyMethod:
				fx.Method, err = parseMethod(val)
			case keyBatch:
				fx.Batch, err = parseBatch(val)
			case keyPlan:
				name, isStr := val.(string)
				if fx.Plan = plans[name]; !isStr || fx.Plan == nil {
					var have []string
					for _, pl := range s.Plans {
						have = append(have, strconv.Quote(pl.Name))
					}
					err = fmt.Errorf("want the name of a [[plans]] entry (have %s), got %s", strings.Join(have, ", "), tomlpos.Describe(val))
				}
			default:
				sub := map[string]any{k: val}
				p.flatten(sub, path, "", func(specPath, profPath string, v any) {
					if fixed[profPath] {
						p.fail(specPath, "%s is already set by [set]", profPath)
						good = false
						return
					}
					text, err := literal(v)
					if err == nil {
						err = sweepable(profPath)
					}
					if err == nil {
						c := s.Base.Clone()
						if err = c.Set(profPath, text); err != nil {
							err = errors.New(setMessage(err, profPath))
						} else {
							got, _ := c.Get(profPath)
							err = oneLineValue(got)
						}
					}
					if err != nil {
						p.fail(specPath, "%v", err)
						good = false
						return
					}
					fx.Sets = append(fx.Sets, profPath+"="+text)
					fx.Paths = append(fx.Paths, profPath)
				})
			}
			if err != nil {
				p.fail(kp, "%v", err)
				good = false
			}
		}
		if !good {
			continue
		}
		// A linked axis is fixed as a whole or not at all.
		for _, ax := range s.Axes {
			n := 0
			for _, ap := range ax.Paths {
				for _, fp := range fx.Paths {
					if ap == fp {
						n++
					}
				}
			}
			if n > 0 && n < len(ax.Paths) {
				p.fail(path, "sets only part of the linked axis %s: set all of its keys or none", strings.Join(ax.Paths, ","))
				good = false
			}
		}
		if len(fx.Sets) > 0 {
			if err := s.Base.Clone().ApplySets(fx.Sets); err != nil {
				p.fail(path, "together these values are invalid: %s", setMessage(err, ""))
				good = false
			}
		}
		if good {
			s.Fixes = append(s.Fixes, fx)
		}
	}
}

// checkPlans checks that every plan fits every model it is combined with: a per-layer
// list has one width per weight layer; a schedule lists the model's weight layers.
func (p *parser) checkPlans() {
	s := p.spec
	type pair struct {
		model string
		plan  *Plan
	}
	seen := map[pair]bool{}
	check := func(model string, pl *Plan) {
		if seen[pair{model, pl}] {
			return
		}
		seen[pair{model, pl}] = true
		net := s.nets[model]
		wl := net.WeightLayers()
		switch {
		case pl.Schedule != nil:
			names := make([]string, len(wl))
			for i, l := range wl {
				names[i] = net.Layers[l].Name
			}
			if strings.Join(names, ",") != strings.Join(pl.Schedule.Layers, ",") {
				p.fail(child(pl.path, "schedule"), "schedule %s lists layers %s but model %s has weight layers %s (use [[points]] to pair schedules with their models)",
					pl.ScheduleFile, strings.Join(pl.Schedule.Layers, ","), model, strings.Join(names, ","))
			}
		case len(pl.Bits) != 1 && len(pl.Bits) != len(wl):
			p.fail(child(pl.path, "bits"), "lists %d bitwidths but model %s has %d weight layers (use [[points]] to pair per-layer plans with their models)",
				len(pl.Bits), model, len(wl))
		}
	}
	fixes := s.Fixes
	if len(fixes) == 0 {
		fixes = []*Fix{{}}
	}
	for _, fx := range fixes {
		ms := s.Models
		if fx.Model != "" {
			ms = []string{fx.Model}
		}
		ps := s.Plans
		if fx.Plan != nil {
			ps = []*Plan{fx.Plan}
		}
		for _, m := range ms {
			for _, pl := range ps {
				check(m, pl)
			}
		}
	}
}
