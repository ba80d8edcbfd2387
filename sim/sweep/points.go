package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/traces"
	"github.com/rctsim/rctsim/train/numerics"
)

// Point is one configuration of a sweep: what one result row describes.
type Point struct {
	// Index numbers the point in the whole sweep, from 0, in the spec's order (the
	// first axis varies slowest, the plan fastest). Shards and output rows use it.
	Index int
	// Base is the index of the point's base profile in Spec.Bases (0 but for a spec
	// with several bases).
	Base int
	// Sets are the profile overrides that turn the base into the point's profile,
	// "path=value" as hw.Profile.ApplySets reads them.
	Sets  []string
	Model string
	// Method is the method and its update mask ("rct", "rct@last:3").
	Method numerics.Variant
	Plan   *Plan
	Batch  int
}

// block is the run of consecutive points one Fix (or the whole product) expands to:
// the product of the axes and lists it does not fix.
type block struct {
	fix     *Fix
	axes    []int // indices into Spec.Axes of the axes it sweeps
	models  []string
	batches []int
	methods []numerics.Variant
	plans   []*Plan
	start   int
	count   int
}

// Column names every output has besides the profile columns and the metrics.
const (
	ColPoint = "point"
	ColHash  = "hash"
	// ColBase is the base profile's name, a column of specs with several bases.
	ColBase  = "base"
	ColModel = "model"
	ColMeth  = "method"
	ColPlan  = "plan"
	ColBatch = "batch"
	ColSteps = "steps"
	// ColFailureKind says in one word why a point failed (the values are listed under
	// Rows in the package documentation), so that results can be filtered on it
	// without parsing the message.
	ColFailureKind = "failure_kind"
	ColError       = "error"
)

// layout orders the points: blocks in [[points]] order, each the product of what it
// leaves free; and the output columns.
func (p *parser) layout() {
	s := p.spec
	fixes := s.Fixes
	if len(fixes) == 0 {
		fixes = []*Fix{{}}
	}
	for i, fx := range fixes {
		b := block{fix: fx, start: s.total, count: 1,
			models: s.Models, batches: s.Batches, methods: s.Methods, plans: s.Plans}
		if fx.Model != "" {
			b.models = []string{fx.Model}
		}
		if fx.Batch != 0 {
			b.batches = []int{fx.Batch}
		}
		if fx.Method.Method != "" {
			b.methods = []numerics.Variant{fx.Method}
		}
		if fx.Plan != nil {
			b.plans = []*Plan{fx.Plan}
		}
		sizes := []int{len(b.models), len(b.batches), len(b.methods), len(b.plans), max(len(s.Bases), 1)}
		for a, ax := range s.Axes {
			if !fixesAxis(fx, ax) {
				b.axes = append(b.axes, a)
				sizes = append(sizes, len(ax.Values))
			}
		}
		for _, n := range sizes {
			if b.count > MaxPoints/n {
				where := "the spec"
				if len(s.Fixes) > 0 {
					where = elem("points", i)
				}
				p.fail(where, "expands to more than %d points", MaxPoints)
				return
			}
			b.count *= n
		}
		if s.total > MaxPoints-b.count {
			p.fail("points", "the sweep has more than %d points", MaxPoints)
			return
		}
		s.total += b.count
		s.blocks = append(s.blocks, b)
	}
	if len(s.Bases) > 1 {
		s.profCols = append(s.profCols, ColBase)
	}
	for _, ax := range s.Axes {
		s.profCols = append(s.profCols, ax.Paths...)
	}
	for _, fx := range s.Fixes {
		for _, path := range fx.Paths {
			if !slices.Contains(s.profCols, path) {
				s.profCols = append(s.profCols, path)
			}
		}
	}
	// A swept profile key that is also a metric (technology_node) is its profile
	// column alone: the same value twice would make a header with a repeated column,
	// which merge and the readers refuse.
	for _, m := range metricNames() {
		if !slices.Contains(s.profCols, m) {
			s.metrics = append(s.metrics, m)
		}
	}
	s.columns = append(s.columns, ColPoint, ColHash)
	s.columns = append(s.columns, s.profCols...)
	s.columns = append(s.columns, ColModel, ColMeth, ColPlan, ColBatch, ColSteps)
	s.columns = append(s.columns, s.metrics...)
	if len(s.Constraints) > 0 {
		s.columns = append(s.columns, ColViolates)
	}
	s.columns = append(s.columns, ColFailureKind, ColError)
	for _, c := range s.profCols {
		switch c {
		case ColPoint, ColHash, ColModel, ColMeth, ColPlan, ColBatch, ColSteps, ColViolates, ColFailureKind, ColError:
			// Profile paths are dotted or table-qualified; none of hw's is a bare word
			// that collides, but a future top-level key might.
			p.fail("axes", "profile key %q collides with an output column", c)
		}
	}
}

// fixesAxis reports whether a [[points]] table sets the keys of an axis.
func fixesAxis(fx *Fix, ax Axis) bool {
	for _, path := range ax.Paths {
		if slices.Contains(fx.Paths, path) {
			return true
		}
	}
	return false
}

// metricNames are the metric columns: sim.Report.Columns without the fields a sweep
// row already has (model, method, batch).
func metricNames() []string {
	names, _ := (&sim.Stats{}).Report(false).Columns()
	out := names[:0:0]
	for _, n := range names {
		switch n {
		case ColModel, ColMeth, ColBatch:
		default:
			out = append(out, n)
		}
	}
	return out
}

// Len is the number of points in the sweep.
func (s *Spec) Len() int { return s.total }

// Columns are the output's columns, in order: point, hash, one per swept profile key
// path, model, method, plan, batch, steps, the metrics (sim.Report.Columns without
// model, method and batch) and error.
func (s *Spec) Columns() []string { return slices.Clone(s.columns) }

// ProfileColumns are the profile key paths that get a column: every axis key, then the
// keys [[points]] tables set, in order of first appearance.
func (s *Spec) ProfileColumns() []string { return slices.Clone(s.profCols) }

// Point returns point k, 0 <= k < Len().
func (s *Spec) Point(k int) Point {
	if k < 0 || k >= s.total {
		panic(fmt.Sprintf("sweep: point %d out of range [0, %d)", k, s.total))
	}
	bi := sort.Search(len(s.blocks), func(i int) bool { return s.blocks[i].start+s.blocks[i].count > k })
	b := &s.blocks[bi]
	r := k - b.start
	pick := func(n int) int {
		i := r % n
		r /= n
		return i
	}
	pt := Point{Index: k}
	// Innermost first: plan, method, batch, model, then the axes from the last.
	pt.Plan = b.plans[pick(len(b.plans))]
	pt.Method = b.methods[pick(len(b.methods))]
	pt.Batch = b.batches[pick(len(b.batches))]
	pt.Model = b.models[pick(len(b.models))]
	vals := make([]int, len(b.axes))
	for i := len(b.axes) - 1; i >= 0; i-- {
		vals[i] = pick(len(s.Axes[b.axes[i]].Values))
	}
	pt.Base = pick(max(len(s.Bases), 1))
	for i, a := range b.axes {
		ax := &s.Axes[a]
		for j, path := range ax.Paths {
			pt.Sets = append(pt.Sets, path+"="+ax.Values[vals[i]][j])
		}
	}
	pt.Sets = append(pt.Sets, b.fix.Sets...)
	return pt
}

// Describe names a point by the values that make it, e.g. "mac_array.rows=16
// sram.global.capacity=256KiB model=lenet5 method=rct plan=8 batch=8".
func (s *Spec) Describe(pt Point) string {
	parts := make([]string, 0, len(pt.Sets)+5)
	if len(s.Bases) > 1 {
		parts = append(parts, "base="+s.BaseNames[pt.Base])
	}
	for _, set := range pt.Sets {
		path, text, _ := strings.Cut(set, "=")
		parts = append(parts, path+"="+unquote(text))
	}
	parts = append(parts, "model="+pt.Model, "method="+pt.Method.String(), "plan="+pt.Plan.Name, "batch="+strconv.Itoa(pt.Batch))
	return strings.Join(parts, " ")
}

// resolved is a point's hardware: its profile and the digest the hash is built on.
type resolved struct {
	prof   *hw.Profile
	digest [sha256.Size]byte
	values []string // the profile columns
	err    error    // why the overrides make no valid profile
}

// resolve builds the profile of a point's overrides of base profile base.
func (s *Spec) resolve(base int, sets []string) *resolved {
	bp := s.Base
	if base > 0 {
		bp = s.Bases[base]
	}
	get := func(p *hw.Profile, col string) string {
		if col == ColBase && len(s.Bases) > 1 {
			return s.BaseNames[base]
		}
		v, _ := p.Get(col)
		return v
	}
	prof := bp.Clone()
	if err := prof.ApplySets(sets); err != nil {
		// No resolved profile to hash: identify the point by what it asked for, which is
		// just as stable.
		h := sha256.New()
		h.Write([]byte("unresolved\n"))
		writeCanonical(h, bp)
		for _, set := range sets {
			h.Write([]byte(set + "\n"))
		}
		r := &resolved{err: err, values: make([]string, len(s.profCols))}
		h.Sum(r.digest[:0])
		for i, col := range s.profCols {
			r.values[i] = get(bp, col)
			for _, set := range sets {
				if path, text, _ := strings.Cut(set, "="); path == col {
					r.values[i] = unquote(text)
				}
			}
		}
		return r
	}
	r := &resolved{prof: prof, values: make([]string, len(s.profCols))}
	h := sha256.New()
	writeCanonical(h, prof)
	h.Sum(r.digest[:0])
	for i, col := range s.profCols {
		r.values[i] = get(prof, col)
	}
	return r
}

// writeCanonical writes every settable key of p with its value, sorted by path: the
// canonical encoding of a profile. The description is left out: it changes no result;
// and so are the spads and networks of an array that is not row stationary, which
// also keeps the hashes of points from before the rs dataflow existed.
func writeCanonical(h hash.Hash, p *hw.Profile) {
	rs := p.MACArray.Dataflow == hw.RowStationary
	for _, path := range hw.KeyPaths(p) {
		if path == "description" || !rs && (strings.HasPrefix(path, "mac_array.spad.") || strings.HasPrefix(path, "mac_array.noc.")) {
			continue
		}
		v, _ := p.Get(path)
		fmt.Fprintf(h, "%s=%q\n", path, v)
	}
}

// unquote turns a TOML basic-string literal back into its text.
func unquote(text string) string {
	if len(text) >= 2 && text[0] == '"' && text[len(text)-1] == '"' {
		if s, err := strconv.Unquote(text); err == nil {
			return s
		}
	}
	return text
}

// rctMomentumShift is the momentum shift of pt's update: the spec's for an rct point,
// 0 for the other methods.
func (s *Spec) rctMomentumShift(pt Point) int {
	if pt.Method.Method != numerics.RCT {
		return 0
	}
	return s.RCTMomentumShift
}

// pointHash is the hash of a point's full resolved configuration: the profile (by its
// digest), model, method, plan content, batch and the simulation settings; the first
// 16 hex digits of a SHA-256. Plan names and file paths are not part of it, so renaming
// a plan or moving a run folder keeps every hash.
func (s *Spec) pointHash(r *resolved, pt Point) string {
	h := sha256.New()
	dram := "model"
	if s.IdealDRAM {
		dram = "ideal"
	}
	fmt.Fprintf(h, "rctsim sweep point v1\nprofile=%x\nmodel=%s\nmethod=%s\nplan=%s\nbatch=%d\ndram=%s\npipeline_depth=%d\n",
		r.digest, pt.Model, pt.Method, pt.Plan.key, pt.Batch, dram, s.PipelineDepth)
	if s.Fidelity == sim.FidelityFast {
		// Only a fast point hashes it, so that exact points keep their hashes.
		fmt.Fprintf(h, "fidelity=%s\n", s.Fidelity)
	}
	if k := s.rctMomentumShift(pt); k != 0 {
		// Only a point with momentum hashes it, so that every other keeps its hash.
		fmt.Fprintf(h, "rct_momentum_shift=%d\n", k)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Identify returns a point's hash and the values of its profile columns (see
// ProfileColumns), resolving its profile.
func (s *Spec) Identify(pt Point) (hash string, values []string) {
	r := s.resolve(pt.Base, pt.Sets)
	return s.pointHash(r, pt), r.values
}

// scheduleDigest identifies a schedule by what the simulator sees of it: its layers and
// its runs of identical steps (not its step numbers, nor its gavg values).
func scheduleDigest(layers []string, runs []traces.ScheduleRun) string {
	h := sha256.New()
	fmt.Fprintf(h, "layers=%q\n", layers)
	for _, r := range runs {
		fmt.Fprintf(h, "steps=%d bits=%v next=%v control=%v\n", r.Steps, r.Bits, r.NextBits, r.Measured)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
