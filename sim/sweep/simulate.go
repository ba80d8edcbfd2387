package sweep

import (
	"bytes"
	"container/list"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/train/numerics"
)

// statsCache holds the statistics of simulated training steps, keyed by everything a
// step's program depends on, so that a plan that recurs (in a schedule's runs, in
// several schedules, across points that differ only in what the step ignores) is
// compiled and simulated once. It is shared by the workers and bounded, least recently
// used first out, so that memory stays flat however many points a sweep has.
type statsCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *cacheEntry, most recent first
	byKey map[string]*list.Element
}

type cacheEntry struct {
	key   string
	stats *sim.Stats // read-only once cached
	err   error
}

func newStatsCache(max int) *statsCache {
	return &statsCache{max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *statsCache) get(key string) (*cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry), true
}

func (c *statsCache) put(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[e.key]; ok {
		return
	}
	c.byKey[e.key] = c.order.PushFront(e)
	for c.order.Len() > c.max {
		old := c.order.Remove(c.order.Back()).(*cacheEntry)
		delete(c.byKey, old.key)
	}
}

// hwEntry is a resolved hardware configuration and the machine built from it.
type hwEntry struct {
	key     string
	res     *resolved
	machine *sim.Machine // built on first use: skipped points need only the hash
	mErr    error
}

// hwCacheSize is how many hardware configurations a worker keeps. Points are ordered
// with the axes outermost, so consecutive points share their hardware and a worker
// meets the same few configurations in a row.
const hwCacheSize = 8

// worker resolves, hashes and simulates points. Each goroutine owns one: machines are
// not safe for concurrent use.
type worker struct {
	// ctx stops the simulation in flight when the sweep is cancelled.
	ctx        context.Context
	spec       *Spec
	cache      *statsCache
	hw         []*hwEntry // most recent last
	startPoint func(k int)
}

// hardware returns the resolved profile of a point's overrides, from the worker's cache.
func (w *worker) hardware(base int, sets []string) *hwEntry {
	key := strconv.Itoa(base) + "\x00" + strings.Join(sets, "\x00")
	for i, e := range w.hw {
		if e.key == key {
			w.hw = append(append(w.hw[:i:i], w.hw[i+1:]...), e)
			return e
		}
	}
	e := &hwEntry{key: key, res: w.spec.resolve(base, sets)}
	if len(w.hw) == hwCacheSize {
		w.hw = append(w.hw[:0:0], w.hw[1:]...)
	}
	w.hw = append(w.hw, e)
	return e
}

// simulate runs a point: one training step for a fixed plan, every distinct plan of a
// schedule summed over the steps it covers. It returns the statistics and the steps.
func (w *worker) simulate(e *hwEntry, pt Point) (*sim.Stats, int, error) {
	if e.res.err != nil {
		return nil, 0, e.res.err
	}
	if e.machine == nil && e.mErr == nil {
		e.machine, e.mErr = sim.New(e.res.prof, sim.Options{IdealDRAM: w.spec.IdealDRAM, Fidelity: w.spec.Fidelity})
	}
	if e.mErr != nil {
		return nil, 0, e.mErr
	}
	opts := kernels.Options{Method: pt.Method.Method, Update: pt.Method.Update, Batch: pt.Batch, PipelineDepth: w.spec.PipelineDepth,
		MomentumShift: w.spec.rctMomentumShift(pt)}
	if pt.Plan.Schedule == nil {
		s, err := w.step(e, pt.Model, opts, numerics.Plan{Bits: pt.Plan.Bits})
		return s, 1, err
	}
	var total *sim.Stats
	steps := 0
	for _, r := range pt.Plan.runs {
		s, err := w.step(e, pt.Model, opts, numerics.Plan{Bits: r.Bits, NextBits: r.NextBits, Control: r.Measured})
		if err != nil {
			return nil, 0, fmt.Errorf("schedule %s, step %d: %w", pt.Plan.Name, r.FirstStep, err)
		}
		if total == nil {
			total = emptyLike(s)
		}
		if err := accumulate(total, s, int64(r.Steps)); err != nil {
			return nil, 0, fmt.Errorf("schedule %s: the run of %d steps from step %d: %w", pt.Plan.Name, r.Steps, r.FirstStep, err)
		}
		steps += r.Steps
	}
	return total, steps, nil
}

// step compiles and simulates one training step, or takes it from the cache.
func (w *worker) step(e *hwEntry, model string, opts kernels.Options, plan numerics.Plan) (*sim.Stats, error) {
	switch opts.Method {
	case numerics.FP32, numerics.FP8, numerics.NITI:
		// Their widths are fixed (numerics.Plan): one program for every plan.
		plan = numerics.Plan{}
	}
	key := fmt.Sprintf("%x|%s|%s|%s|%d|%d|%d|%v|%v|%v", e.res.digest, model, opts.Method, opts.Update, opts.Batch, opts.PipelineDepth, opts.MomentumShift, plan.Bits, plan.NextBits, plan.Control)
	if c, ok := w.cache.get(key); ok {
		return c.stats, c.err
	}
	opts.Plan = plan
	s, err := runStep(w.ctx, e.machine, w.spec, model, opts)
	if w.ctx.Err() != nil {
		// Stopped part way, or finished as the sweep stopped: either way not a
		// result to keep (the point gets no row).
		return nil, errAbandoned
	}
	w.cache.put(&cacheEntry{key: key, stats: s, err: err})
	return s, err
}

// errAbandoned is the error of a step whose simulation a cancelled sweep stopped.
var errAbandoned = errors.New("sweep: stopped")

// runStep compiles and simulates one step; a panic in either is the point's error,
// not the end of the sweep. Cancelling ctx stops the simulation at its next
// instruction.
func runStep(ctx context.Context, m *sim.Machine, spec *Spec, model string, opts kernels.Options) (s *sim.Stats, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	prog, err := kernels.Compile(spec.nets[model], m.Profile(), opts)
	if err != nil {
		return nil, err
	}
	return m.RunContext(ctx, prog)
}

// emptyLike returns zero statistics with s's identity (machine, model, method, batch).
func emptyLike(s *sim.Stats) *sim.Stats {
	t := &sim.Stats{Profile: s.Profile, Model: s.Model, Method: s.Method, Batch: s.Batch,
		ClockHz: s.ClockHz, PEs: s.PEs, PeakDRAMBytesPerCycle: s.PeakDRAMBytesPerCycle}
	for _, b := range s.Buffers {
		t.Buffers = append(t.Buffers, sim.BufferStats{Name: b.Name, CapacityBytes: b.CapacityBytes})
	}
	return t
}

// accumulate adds k steps of s to t: counts and energy add up, occupancies and
// footprints take their peak (memory a run needs is its largest step's). A count that
// would pass its integer's range is an error, not a wrapped total: a schedule can
// cover up to 2^31 steps.
func accumulate(t, s *sim.Stats, k int64) error {
	var a checked
	a.addInt(&t.Instructions, s.Instructions, k, "instructions")
	a.addU64(&t.Cycles, s.Cycles, k, "cycles")
	a.addI64(&t.MACs, s.MACs, k, "MACs")
	a.addI64(&t.MappedPECycles, s.MappedPECycles, k, "mapped PE cycles")
	a.addU64(&t.ComputeCycles, s.ComputeCycles, k, "compute cycles")
	a.addU64(&t.StallCycles, s.StallCycles, k, "stall cycles")
	a.addI64(&t.VectorOps, s.VectorOps, k, "vector operations")
	for u := range t.Busy {
		a.addU64(&t.Busy[u], s.Busy[u], k, "busy cycles")
	}
	t.Energy.Merge(&s.Energy, float64(k))
	d, sd := &t.DRAM, &s.DRAM
	a.addI64(&d.ReadBytes, sd.ReadBytes, k, "DRAM bytes read")
	a.addI64(&d.WriteBytes, sd.WriteBytes, k, "DRAM bytes written")
	a.addI64(&d.Bursts, sd.Bursts, k, "DRAM bursts")
	a.addI64(&d.Activates, sd.Activates, k, "DRAM activates")
	a.addI64(&d.Precharges, sd.Precharges, k, "DRAM precharges")
	a.addI64(&d.RowHits, sd.RowHits, k, "DRAM row hits")
	a.addI64(&d.RowMisses, sd.RowMisses, k, "DRAM row misses")
	a.addI64(&d.RowConflicts, sd.RowConflicts, k, "DRAM row conflicts")
	a.addI64(&t.DMA.LoadedBytes, s.DMA.LoadedBytes, k, "bytes loaded")
	a.addI64(&t.DMA.StoredBytes, s.DMA.StoredBytes, k, "bytes stored")
	a.addI64(&t.DMA.DiscardedBytes, s.DMA.DiscardedBytes, k, "bytes discarded")
	a.addI64(&t.DMA.MaskedBytes, s.DMA.MaskedBytes, k, "bytes masked")
	for i := range t.Buffers {
		if i < len(s.Buffers) {
			b := &t.Buffers[i]
			a.addI64(&b.ReadBytes, s.Buffers[i].ReadBytes, k, "SRAM bytes read")
			a.addI64(&b.WriteBytes, s.Buffers[i].WriteBytes, k, "SRAM bytes written")
			b.PeakBytes = max(b.PeakBytes, s.Buffers[i].PeakBytes)
		}
	}
	for c := range t.Footprint {
		t.Footprint[c] = max(t.Footprint[c], s.Footprint[c])
	}
	return a.err
}

// checked adds k copies of counts to totals, keeping the first overflow.
type checked struct{ err error }

func (a *checked) addU64(t *uint64, x uint64, k int64, what string) {
	hi, prod := bits.Mul64(x, uint64(k))
	sum, carry := bits.Add64(*t, prod, 0)
	if k < 0 || hi != 0 || carry != 0 {
		a.fail(what)
		return
	}
	*t = sum
}

func (a *checked) addI64(t *int64, x, k int64, what string) {
	if x < 0 || *t < 0 {
		a.fail(what)
		return
	}
	u := uint64(*t)
	a.addU64(&u, uint64(x), k, what)
	if u > math.MaxInt64 {
		a.fail(what)
		return
	}
	*t = int64(u)
}

func (a *checked) addInt(t *int, x int, k int64, what string) {
	v := int64(*t)
	a.addI64(&v, int64(x), k, what)
	if int64(int(v)) != v {
		a.fail(what)
		return
	}
	*t = int(v)
}

func (a *checked) fail(what string) {
	if a.err == nil {
		a.err = fmt.Errorf("the run's total of %s overflows", what)
	}
}

// result is one point's outcome, ready to be written.
type result struct {
	seq   int // position in the shard
	index int // point index
	hash  string
	skip  bool // every output already has it
	// abandoned: the sweep was cancelled while the point ran; it has no row.
	abandoned bool
	fail      bool
	csv       []byte // one complete line, or nil when the CSV output has the point
	jsonl     []byte // likewise for JSON Lines
}

// jsonRow is one line of the JSON Lines output: the point and the report of
// `rctsim sim --format json` (whole-run totals for a schedule).
type jsonRow struct {
	Point  int               `json:"point"`
	Hash   string            `json:"hash"`
	Values map[string]string `json:"values"`
	Model  string            `json:"model"`
	Method string            `json:"method"`
	Plan   string            `json:"plan"`
	Batch  int               `json:"batch"`
	Steps  int               `json:"steps"`
	Report *sim.Report       `json:"report,omitempty"`
	// Violates, FailureKind and Error are those of the CSV columns; they are left out
	// when empty.
	Violates    string `json:"violates,omitempty"`
	FailureKind string `json:"failure_kind,omitempty"`
	Error       string `json:"error,omitempty"`
}

// do runs the point of job seq: it resolves and hashes it, skips it when every output
// already has it, and otherwise simulates it and renders its rows.
func (w *worker) do(seq, k int, needCSV, needJSON func(hash string) bool) result {
	pt := w.spec.Point(k)
	e := w.hardware(pt.Base, pt.Sets)
	r := result{seq: seq, index: k, hash: w.spec.pointHash(e.res, pt)}
	wantCSV, wantJSON := needCSV(r.hash), needJSON(r.hash)
	if !wantCSV && !wantJSON {
		r.skip = true
		return r
	}
	if w.startPoint != nil {
		w.startPoint(k)
	}
	stats, steps, err := w.simulate(e, pt)
	if errors.Is(err, errAbandoned) {
		r.abandoned = true
		return r
	}
	var rep *sim.Report
	var metrics []string
	if err == nil {
		rr := stats.Report(false)
		rep = &rr
		if metrics, err = w.metrics(rep); err != nil {
			rep = nil
		}
	}
	kind, errText, violates := failureKind(err), "", ""
	if err == nil && len(w.spec.Constraints) > 0 {
		violates = violations(w.spec.Constraints, w.spec.metrics, metrics)
	}
	if err != nil {
		r.fail = true
		errText = oneLine(err.Error())
		metrics = make([]string, len(w.spec.metrics))
	}
	if wantCSV {
		rec := make([]string, 0, len(w.spec.columns))
		rec = append(rec, strconv.Itoa(k), r.hash)
		rec = append(rec, e.res.values...)
		rec = append(rec, pt.Model, pt.Method.String(), pt.Plan.Name, strconv.Itoa(pt.Batch), strconv.Itoa(steps))
		rec = append(rec, metrics...)
		if len(w.spec.Constraints) > 0 {
			rec = append(rec, violates)
		}
		rec = append(rec, kind, errText)
		r.csv = csvLine(rec)
	}
	if wantJSON {
		row := jsonRow{Point: k, Hash: r.hash, Values: map[string]string{}, Model: pt.Model, Method: pt.Method.String(),
			Plan: pt.Plan.Name, Batch: pt.Batch, Steps: steps, Report: rep, Violates: violates, FailureKind: kind, Error: errText}
		for i, col := range w.spec.profCols {
			row.Values[col] = e.res.values[i]
		}
		line, err := json.Marshal(row)
		if err != nil {
			row.Report, row.FailureKind, row.Error = nil, failureKind(err), oneLine(err.Error())
			r.fail = true
			line, _ = json.Marshal(row)
		}
		r.jsonl = append(line, '\n')
	}
	return r
}

// metrics flattens a report to the metric columns, checking they are the header's.
func (w *worker) metrics(rep *sim.Report) ([]string, error) {
	names, values := rep.Columns()
	out := make([]string, 0, len(w.spec.metrics))
	for i, n := range names {
		switch n {
		case ColModel, ColMeth, ColBatch:
			continue
		}
		if slices.Contains(w.spec.profCols, n) {
			continue // a swept key: its profile column has it
		}
		if len(out) >= len(w.spec.metrics) || w.spec.metrics[len(out)] != n {
			return nil, fmt.Errorf("sweep: report column %q does not match the header", n)
		}
		out = append(out, oneLine(values[i]))
	}
	if len(out) != len(w.spec.metrics) {
		return nil, fmt.Errorf("sweep: report has %d metric columns, the header %d", len(out), len(w.spec.metrics))
	}
	return out, nil
}

// failureKind classifies the error of a point for the failure_kind column (the values
// are listed under Rows in the package documentation): "" for no error, else by the
// sentinel errors and the error type of the packages that failed, never by the
// message, whose wording may change. The order decides for an error that is several:
// a sentinel comes before the position it was reported at (an unknown profile named
// in a file is unknown_profile, not invalid_input).
func failureKind(err error) string {
	var fe *fileio.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, kernels.ErrNoFit):
		return "no_fit"
	case errors.Is(err, kernels.ErrTooLarge):
		return "too_large"
	case errors.Is(err, hw.ErrUnsupportedMode):
		return "unsupported_mode"
	case errors.Is(err, models.ErrUnknownModel):
		return "unknown_model"
	case errors.Is(err, hw.ErrUnknownProfile):
		return "unknown_profile"
	case errors.As(err, &fe):
		return "invalid_input"
	}
	return "other"
}

// oneLine keeps a field on one line, so that every row is exactly one line of the file:
// resuming cuts a torn row at the last newline.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), "; ")
}

// csvLine renders one record as a CSV line (RFC 4180 quoting, "\n" ending).
func csvLine(rec []string) []byte {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.Write(rec) // a bytes.Buffer does not fail
	cw.Flush()
	return b.Bytes()
}
