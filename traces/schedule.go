// Precision schedules: the per-step bitwidth plan of a training run, as CSV.
//
// The format is specified in the package documentation (doc.go), in one place; this
// file implements it: ScheduleWriter writes it as the trainer goes, ReadSchedule reads
// and validates a whole file into a Schedule, and Schedule answers what the simulator
// and sweeps ask: the plan at a step (Plan) and the runs of consecutive steps that
// share a plan (Runs), so that each distinct plan is compiled and simulated once.

package traces

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/train/numerics"
)

// ScheduleHeader is the header line every schedule starts with.
const ScheduleHeader = "step,layer,bits,gavg"

// scheduleColumns are the header's column names, in order; they are also the Keys of
// ReadSchedule's errors.
var scheduleColumns = [...]string{"step", "layer", "bits", "gavg"}

// Limits of a schedule's values. Steps stop one short of MaxInt32 so that any count of
// steps a schedule covers (last-first+1) fits an int on every platform.
const (
	MaxScheduleStep = math.MaxInt32 - 1
	MinScheduleBits = 1
	MaxScheduleBits = 32
)

// ScheduleRow is one row of a schedule file: one weight layer at one step.
type ScheduleRow struct {
	Step  int
	Layer string
	Bits  int
	// Gavg is the controller's statistic, meaningful only when HasGavg (the gavg column
	// was not empty: the controller measured it at this step).
	Gavg    float64
	HasGavg bool
}

// Schedule is a whole precision schedule, validated: every step lists the same layers.
// A Schedule built by hand must follow the same rules (WriteSchedule checks them).
type Schedule struct {
	// Layers are the weight layers' names in network order.
	Layers []string
	// Steps are the listed steps, strictly increasing.
	Steps []int
	// Bits[i][l] is layer l's width at step Steps[i].
	Bits [][]int
	// Gavg[i] holds the layers' Gavg at step Steps[i], or is nil when the controller
	// did not measure it at that step.
	Gavg [][]float64
}

// ScheduleRun is a range of consecutive steps that the simulator can treat as one:
// they train at the same widths, with the same controller work, and the same widths
// follow. Simulating one step of the run and scaling by Steps gives the whole run.
type ScheduleRun struct {
	FirstStep int
	Steps     int   // how many consecutive steps, from FirstStep, the run covers
	Bits      []int // per layer, during the run
	// NextBits are the widths of the step after the run (Bits for the schedule's last
	// step). They differ from Bits only in a single-step run whose training also
	// converts weights to the next step's widths.
	NextBits []int
	// Measured is true when the precision controller ran at these steps (the
	// schedule's gavg is present); such runs are single steps unless the controller
	// ran at consecutive steps.
	Measured bool
}

// ScheduleWriter writes a schedule step by step as training goes. It checks every step
// against the format's rules before writing any of its rows, so a rejected Write leaves
// the output as it was. Output is buffered: call Flush at the end.
type ScheduleWriter struct {
	w        *csv.Writer
	layers   []string // of the first step; nil before it
	lastStep int
	rec      []string
}

// NewScheduleWriter returns a writer that writes a schedule to w. The header is written
// with the first step.
func NewScheduleWriter(w io.Writer) *ScheduleWriter {
	return &ScheduleWriter{w: csv.NewWriter(w), rec: make([]string, len(scheduleColumns))}
}

// Write writes the rows of one step: each layer's width, and when measured is true the
// controller's statistic of each layer (stats, one per layer; ignored and may be nil
// when measured is false). Steps must increase, and every step must list the layers of
// the first step, in the same order.
func (s *ScheduleWriter) Write(step int, layers []string, bits []int, stats []float64, measured bool) error {
	if err := s.check(step, layers, bits, stats, measured); err != nil {
		return fmt.Errorf("traces: schedule step %d: %w", step, err)
	}
	if s.layers == nil {
		if err := s.w.Write(scheduleColumns[:]); err != nil {
			return err
		}
		s.layers = slices.Clone(layers)
	}
	s.lastStep = step
	rec := s.rec
	rec[0] = strconv.Itoa(step)
	for l, name := range layers {
		rec[1], rec[2], rec[3] = name, strconv.Itoa(bits[l]), ""
		if measured {
			rec[3] = formatGavg(stats[l])
		}
		if err := s.w.Write(rec); err != nil {
			return err
		}
	}
	return nil
}

// check validates one step for Write.
func (s *ScheduleWriter) check(step int, layers []string, bits []int, stats []float64, measured bool) error {
	if step < 0 || step > MaxScheduleStep {
		return fmt.Errorf("step must be in 0..%d", MaxScheduleStep)
	}
	if s.layers != nil && step <= s.lastStep {
		return fmt.Errorf("steps must increase: step %d was already written", s.lastStep)
	}
	if len(layers) == 0 {
		return errors.New("no layers")
	}
	if len(bits) != len(layers) {
		return fmt.Errorf("%d bitwidths for %d layers", len(bits), len(layers))
	}
	if measured && len(stats) != len(layers) {
		return fmt.Errorf("%d gavg values for %d layers", len(stats), len(layers))
	}
	if s.layers == nil {
		seen := make(map[string]bool, len(layers))
		for _, name := range layers {
			if err := checkLayerName(name); err != nil {
				return fmt.Errorf("layer %q: %w", name, err)
			}
			if seen[name] {
				return fmt.Errorf("layer %q listed twice", name)
			}
			seen[name] = true
		}
	} else if !slices.Equal(layers, s.layers) {
		return fmt.Errorf("layers %q differ from the first step's %q", layers, s.layers)
	}
	for l, b := range bits {
		if b < MinScheduleBits || b > MaxScheduleBits {
			return fmt.Errorf("layer %s: bits %d outside %d..%d", layers[l], b, MinScheduleBits, MaxScheduleBits)
		}
	}
	if measured {
		for l, g := range stats {
			if err := checkGavg(g); err != nil {
				return fmt.Errorf("layer %s: gavg %s: %w", layers[l], formatGavg(g), err)
			}
		}
	}
	return nil
}

// Flush writes any buffered rows to the underlying writer and reports any error of
// this or an earlier write.
func (s *ScheduleWriter) Flush() error {
	s.w.Flush()
	return s.w.Error()
}

// WriteSchedule writes a whole schedule, e.g. one read, filtered or built by hand; it
// fails on a schedule that breaks the format's rules.
func WriteSchedule(w io.Writer, s *Schedule) error {
	if len(s.Bits) != len(s.Steps) || len(s.Gavg) != len(s.Steps) {
		return fmt.Errorf("traces: schedule has %d steps but %d bit lists and %d gavg lists", len(s.Steps), len(s.Bits), len(s.Gavg))
	}
	sw := NewScheduleWriter(w)
	for i, step := range s.Steps {
		if err := sw.Write(step, s.Layers, s.Bits[i], s.Gavg[i], s.Gavg[i] != nil); err != nil {
			return err
		}
	}
	return sw.Flush()
}

// formatGavg formats a float in Go's shortest exact form, so that it reads back as the
// same float64 and the same value always gives the same bytes.
func formatGavg(g float64) string { return strconv.FormatFloat(g, 'g', -1, 64) }

// checkGavg accepts what a mean of absolute values can be: >= 0, NaN or +Inf (training
// that diverged still leaves a record).
func checkGavg(g float64) error {
	if g < 0 {
		return errors.New("must be >= 0")
	}
	return nil
}

// checkLayerName rejects names a CSV round trip or a reader could not keep intact
// (encoding/csv turns \r\n inside a quoted field into \n).
func checkLayerName(name string) error {
	if name == "" {
		return errors.New("must not be empty")
	}
	if !utf8.ValidString(name) {
		return errors.New("must be valid UTF-8")
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		return errors.New("must not contain control characters")
	}
	return nil
}

// ReadSchedule reads and validates a whole schedule. source names the input in error
// messages (usually the file name; "schedule" when empty, so that a message still
// says what it is about). Every error is a *fileio.Error, at the line and column of
// the problem in bytes, as encoding/csv counts, with the column's name ("step",
// "layer", "bits", "gavg") as its Key when the problem is one field:
//
//	schedule.csv:12:9: bits: must be an integer in 1..32, got "40"
func ReadSchedule(r io.Reader, source string) (*Schedule, error) {
	if source == "" {
		source = "schedule"
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // counted here, for a message that names the columns
	cr.ReuseRecord = true
	p := scheduleParser{source: source, cr: cr}
	return p.parse()
}

// scheduleParser holds the state of one ReadSchedule.
type scheduleParser struct {
	source string
	cr     *csv.Reader
	s      Schedule
	line   int // line of the current record
	// The step being read: its index in s.Steps, how many of its layers were read, and
	// whether its first row carried gavg.
	cur      int
	filled   int
	measured bool
	seen     map[string]bool // names of the first step, against duplicates
}

// errAt builds the error for field i of the current record (i < 0: the whole record).
func (p *scheduleParser) errAt(i int, format string, args ...any) error {
	e := &fileio.Error{File: p.source, Line: p.line, Err: fmt.Errorf(format, args...)}
	if i >= 0 {
		e.Line, e.Col = p.cr.FieldPos(i)
		e.Key = scheduleColumns[i]
	}
	return e
}

// read returns the next record, io.EOF at the end, or a *fileio.Error.
func (p *scheduleParser) read() ([]string, error) {
	rec, err := p.cr.Read()
	if err == io.EOF {
		return nil, err
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, &fileio.Error{File: p.source, Line: pe.Line, Col: pe.Column, Err: pe.Err}
		}
		return nil, &fileio.Error{File: p.source, Line: p.line + 1, Err: err}
	}
	p.line, _ = p.cr.FieldPos(0)
	return rec, nil
}

func (p *scheduleParser) parse() (*Schedule, error) {
	rec, err := p.read()
	if err == io.EOF {
		return nil, &fileio.Error{File: p.source, Line: 1, Err: fmt.Errorf("empty file: want the header %q", ScheduleHeader)}
	}
	if err != nil {
		return nil, err
	}
	if len(rec) > 0 {
		rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
	}
	if !slices.Equal(rec, scheduleColumns[:]) {
		return nil, p.errAt(-1, "header must be %q, got %q", ScheduleHeader, strings.Join(rec, ","))
	}
	p.cur = -1
	for {
		rec, err := p.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		row, err := p.row(rec)
		if err != nil {
			return nil, err
		}
		if err := p.add(row); err != nil {
			return nil, err
		}
	}
	if p.cur < 0 {
		return nil, &fileio.Error{File: p.source, Line: p.line + 1, Err: errors.New("no rows after the header")}
	}
	if p.filled < len(p.s.Layers) {
		return nil, &fileio.Error{File: p.source, Line: p.line + 1,
			Err: fmt.Errorf("file ends before step %d lists layer %s", p.s.Steps[p.cur], p.s.Layers[p.filled])}
	}
	return &p.s, nil
}

// row parses and checks the fields of one record on their own.
func (p *scheduleParser) row(rec []string) (ScheduleRow, error) {
	var row ScheduleRow
	if len(rec) != len(scheduleColumns) {
		return row, p.errAt(-1, "%d fields, want %d (%s)", len(rec), len(scheduleColumns), ScheduleHeader)
	}
	var err error
	if row.Step, err = strconv.Atoi(rec[0]); err != nil || row.Step < 0 || row.Step > MaxScheduleStep {
		return row, p.errAt(0, "must be an integer in 0..%d, got %q", MaxScheduleStep, rec[0])
	}
	row.Layer = rec[1]
	if err := checkLayerName(row.Layer); err != nil {
		return row, p.errAt(1, "%q %w", row.Layer, err)
	}
	if row.Bits, err = strconv.Atoi(rec[2]); err != nil || row.Bits < MinScheduleBits || row.Bits > MaxScheduleBits {
		return row, p.errAt(2, "must be an integer in %d..%d, got %q", MinScheduleBits, MaxScheduleBits, rec[2])
	}
	if rec[3] != "" {
		row.HasGavg = true
		if row.Gavg, err = strconv.ParseFloat(rec[3], 64); err != nil {
			return row, p.errAt(3, "must be empty or a number, got %q", rec[3])
		}
		if err := checkGavg(row.Gavg); err != nil {
			return row, p.errAt(3, "%w, got %q", err, rec[3])
		}
	}
	return row, nil
}

// add places a parsed row in the schedule, checking it against the rows before it.
func (p *scheduleParser) add(row ScheduleRow) error {
	s := &p.s
	first := p.cur <= 0
	if p.cur < 0 || row.Step != s.Steps[p.cur] {
		// A new step: the previous one must be complete, and steps must increase.
		if p.cur >= 0 {
			prev := s.Steps[p.cur]
			if !first && p.filled < len(s.Layers) {
				return p.errAt(0, "step %d starts before step %d listed layer %s (every step lists the layers of step %d)",
					row.Step, prev, s.Layers[p.filled], s.Steps[0])
			}
			if row.Step < prev {
				return p.errAt(0, "steps must increase: %d after %d", row.Step, prev)
			}
		}
		p.cur++
		p.filled = 0
		p.measured = row.HasGavg
		s.Steps = append(s.Steps, row.Step)
		var bits []int
		var gavg []float64
		if p.cur > 0 {
			bits = make([]int, len(s.Layers))
			if row.HasGavg {
				gavg = make([]float64, len(s.Layers))
			}
		}
		s.Bits = append(s.Bits, bits)
		s.Gavg = append(s.Gavg, gavg)
		first = p.cur == 0
	}
	if row.HasGavg != p.measured {
		have, lack := s.Layers[0], row.Layer
		if row.HasGavg {
			have, lack = lack, have
		}
		return p.errAt(3, "step %d gives gavg for %s but not for %s (a step gives gavg for every layer or none)", row.Step, have, lack)
	}
	if first {
		if p.seen == nil {
			p.seen = make(map[string]bool)
		}
		if p.seen[row.Layer] {
			return p.errAt(1, "%s listed twice in step %d", row.Layer, row.Step)
		}
		p.seen[row.Layer] = true
		s.Layers = append(s.Layers, row.Layer)
		s.Bits[0] = append(s.Bits[0], row.Bits)
		if row.HasGavg {
			s.Gavg[0] = append(s.Gavg[0], row.Gavg)
		}
		p.filled++
		return nil
	}
	if p.filled == len(s.Layers) {
		return p.errAt(1, "step %d lists more layers than step %d (%d)", row.Step, s.Steps[0], len(s.Layers))
	}
	if want := s.Layers[p.filled]; row.Layer != want {
		return p.errAt(1, "got %s, want %s (every step lists the layers of step %d in the same order)", row.Layer, want, s.Steps[0])
	}
	s.Bits[p.cur][p.filled] = row.Bits
	if row.HasGavg {
		s.Gavg[p.cur][p.filled] = row.Gavg
	}
	p.filled++
	return nil
}

// FirstStep is the first step the schedule covers.
func (s *Schedule) FirstStep() int { return s.Steps[0] }

// LastStep is the last step the schedule covers.
func (s *Schedule) LastStep() int { return s.Steps[len(s.Steps)-1] }

// index returns the position in Steps of the listed step that governs step (the last
// listed step <= step), or -1 when step is outside the schedule.
func (s *Schedule) index(step int) int {
	if len(s.Steps) == 0 || step < s.Steps[0] || step > s.Steps[len(s.Steps)-1] {
		return -1
	}
	i, found := slices.BinarySearch(s.Steps, step)
	if !found {
		i--
	}
	return i
}

// Plan returns the widths of the weight layers at step (a copy, in the order of
// Layers): those of the step's row, or for a step that is not listed those of the last
// listed step before it. It returns nil for a step outside FirstStep..LastStep.
func (s *Schedule) Plan(step int) []int {
	i := s.index(step)
	if i < 0 {
		return nil
	}
	return slices.Clone(s.Bits[i])
}

// Measured reports whether the controller measured Gavg at step, i.e. ran after it.
func (s *Schedule) Measured(step int) bool {
	i := s.index(step)
	return i >= 0 && s.Steps[i] == step && s.Gavg[i] != nil
}

// Runs splits the steps FirstStep..LastStep into maximal runs of consecutive steps with
// identical widths, identical next-step widths and the same controller activity, in
// step order. Their Steps add up to LastStep-FirstStep+1. A training run at fixed
// widths is one run; RCT gives a run per stretch between controller steps and one per
// controller step. Distinct plans can recur in several runs (a cyclic policy): cache by
// plan across runs.
func (s *Schedule) Runs() []ScheduleRun {
	var runs []ScheduleRun
	add := func(first, n int, bits, next []int, measured bool) {
		if k := len(runs) - 1; k >= 0 {
			r := &runs[k]
			if r.Measured == measured && r.FirstStep+r.Steps == first && slices.Equal(r.Bits, bits) && slices.Equal(r.NextBits, next) {
				r.Steps += n
				return
			}
		}
		runs = append(runs, ScheduleRun{FirstStep: first, Steps: n, Bits: slices.Clone(bits), NextBits: slices.Clone(next), Measured: measured})
	}
	for i, step := range s.Steps {
		bits, measured := s.Bits[i], s.Gavg[i] != nil
		if i == len(s.Steps)-1 {
			add(step, 1, bits, bits, measured)
			break
		}
		nextStep, nextBits := s.Steps[i+1], s.Bits[i+1]
		if nextStep == step+1 {
			add(step, 1, bits, nextBits, measured)
			continue
		}
		// Unlisted steps step+1..nextStep-1 hold these widths without controller work;
		// the last of them precedes the change to nextBits.
		add(step, 1, bits, bits, measured)
		if gap := nextStep - step - 1; gap > 1 {
			add(step+1, gap-1, bits, bits, false)
		}
		add(nextStep-1, 1, bits, nextBits, false)
	}
	return runs
}

// Rows yields the schedule's rows in file order: step by step, layers in order.
func (s *Schedule) Rows() iter.Seq[ScheduleRow] {
	return func(yield func(ScheduleRow) bool) {
		for i, step := range s.Steps {
			for l, name := range s.Layers {
				row := ScheduleRow{Step: step, Layer: name, Bits: s.Bits[i][l]}
				if s.Gavg[i] != nil {
					row.Gavg, row.HasGavg = s.Gavg[i][l], true
				}
				if !yield(row) {
					return
				}
			}
		}
	}
}

// Plans returns one compiler plan per step the schedule covers, in order: the step's
// bits, the next step's bits (so that a step before a change converts the weights) and
// whether the controller ran at the step.
func (s *Schedule) Plans() []numerics.Plan {
	if len(s.Steps) == 0 {
		return nil
	}
	first, last := s.FirstStep(), s.LastStep()
	plans := make([]numerics.Plan, 0, last-first+1)
	for step := first; step <= last; step++ {
		bits := s.Plan(step)
		next := bits
		if step < last {
			next = s.Plan(step + 1)
		}
		plans = append(plans, numerics.Plan{Bits: bits, NextBits: next, Control: s.Measured(step)})
	}
	return plans
}
