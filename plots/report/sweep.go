package report

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/plots/figures"
	"github.com/rctsim/rctsim/sim/sweep"
	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/traces/units"
)

// SweepOptions choose the figures of a sweep's page. The zero value chooses them from
// the CSV's columns.
type SweepOptions struct {
	// X and Y are the heat maps' axes: by default the first two swept columns whose
	// values vary (a linked axis counts once), numeric ones (sizes, counts) before
	// others (a technology node), which split the maps instead.
	X, Y string
	// Metric colours the heat maps: by default derived.edp_j_s (the energy-delay
	// product), else energy_pj.total.
	Metric string
	// FrontX and FrontY are the Pareto fronts' axes, lower better on both: by default
	// area_mm2.total and energy_pj.total, else seconds and energy_pj.total.
	FrontX, FrontY string
	// Filters keep the rows whose column has the value, in every figure and table.
	Filters map[string]string
}

// maxFigures bounds the heat maps and the fronts a page draws; the rest are a command.
const maxFigures = 12

// maxRows bounds the table of points.
const maxRows = 5000

// pointMetrics are the metric columns the table of points shows, when present.
var pointMetrics = []string{"seconds", "energy_pj.total", "area_mm2.total", "power_mw.total", "derived.edp_j_s"}

// bestOf are the figures of merit of the summary: column, and whether higher is better.
var bestOf = []struct {
	col, what string
	higher    bool
}{
	{"energy_pj.total", "lowest energy", false},
	{"seconds", "shortest time", false},
	{"derived.edp_j_s", "lowest energy-delay product", false},
	{"area_mm2.total", "smallest area", false},
	{"power_mw.total", "lowest average power", false},
	{"derived.examples_per_s_per_w", "most examples per joule", true},
}

// sweepTable is a sweep CSV read for a page.
type sweepTable struct {
	*fileio.Table
	swept, config []int // column indices: swept profile keys; every column describing a point
	errCol, violCol, kindCol,
	pointCol int // -1 when absent
	rows [][]string // the rows the filters keep
}

func (t *sweepTable) col(name string) int {
	if i, ok := t.Col(name); ok {
		return i
	}
	return -1
}

func readSweep(in string, filters map[string]string) (*sweepTable, error) {
	data, err := os.ReadFile(in)
	if err != nil {
		return nil, err
	}
	ft, err := fileio.ReadTable(bytes.NewReader(data), in)
	if err != nil {
		return nil, err
	}
	t := &sweepTable{Table: ft}
	hash, model, steps := t.col(sweep.ColHash), t.col(sweep.ColModel), t.col(sweep.ColSteps)
	t.pointCol = t.col(sweep.ColPoint)
	if hash < 0 || model < hash || steps < model || t.pointCol < 0 {
		return nil, fmt.Errorf("%s: not the CSV of rctsim sweep (want the columns point, hash, the swept keys, model, ..., steps)", in)
	}
	for i := hash + 1; i < steps; i++ {
		t.config = append(t.config, i)
		if i < model {
			t.swept = append(t.swept, i)
		}
	}
	t.errCol, t.violCol, t.kindCol = t.col(sweep.ColError), t.col(sweep.ColViolates), t.col(sweep.ColFailureKind)
	for _, k := range slices.Sorted(maps.Keys(filters)) {
		if t.col(k) < 0 {
			return nil, fmt.Errorf("%s: no column %q to filter on", in, k)
		}
	}
rows:
	for _, r := range t.Rows {
		for k, v := range filters {
			if v != sweep.Any && !sameCell(r[t.col(k)], v) {
				continue rows
			}
		}
		t.rows = append(t.rows, r)
	}
	if len(t.rows) == 0 {
		return nil, fmt.Errorf("%s: no rows match the filters", in)
	}
	return t, nil
}

// sameCell compares a cell with a filter value as sweep's loaders do: as text, or as
// numbers with units.
func sameCell(cell, want string) bool {
	if cell == want {
		return true
	}
	a, okA := sweep.Numeric(cell)
	b, okB := sweep.Numeric(want)
	return okA && okB && a == b
}

func (t *sweepTable) failed(r []string) bool   { return t.errCol >= 0 && r[t.errCol] != "" }
func (t *sweepTable) violates(r []string) bool { return t.violCol >= 0 && r[t.violCol] != "" }

// value is a row's number in column c, when it ran and has one.
func (t *sweepTable) value(r []string, c int) (float64, bool) {
	if c < 0 || t.failed(r) {
		return 0, false
	}
	v, err := strconv.ParseFloat(r[c], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// numeric reports whether every value of column c reads as a number.
func (t *sweepTable) numeric(c int) bool {
	for _, r := range t.rows {
		if _, ok := sweep.Numeric(r[c]); !ok {
			return false
		}
	}
	return true
}

// varies reports whether column c takes more than one value over the rows.
func (t *sweepTable) varies(c int) bool {
	for _, r := range t.rows[1:] {
		if r[c] != t.rows[0][c] {
			return true
		}
	}
	return false
}

// dependsOn reports whether column c's value follows from column k's over the rows
// (the cols of a linked rows,cols axis follow from its rows).
func (t *sweepTable) dependsOn(c, k int) bool {
	f := map[string]string{}
	for _, r := range t.rows {
		if v, ok := f[r[k]]; ok && v != r[c] {
			return false
		}
		f[r[k]] = r[c]
	}
	return true
}

// varying lists the columns of cols that vary, leaving out those that follow from an
// earlier one kept or from one of also.
func (t *sweepTable) varying(cols []int, also ...int) []int {
	var out []int
next:
	for _, c := range cols {
		if !t.varies(c) || slices.Contains(also, c) {
			continue
		}
		for _, k := range append(slices.Clone(also), out...) {
			if t.dependsOn(c, k) {
				continue next
			}
		}
		out = append(out, c)
	}
	return out
}

// combos lists the distinct tuples of the columns' values in order of appearance.
func (t *sweepTable) combos(cols []int) [][]string {
	if len(cols) == 0 {
		return [][]string{nil}
	}
	var out [][]string
	seen := map[string]bool{}
	for _, r := range t.rows {
		tuple := make([]string, len(cols))
		for i, c := range cols {
			tuple[i] = r[c]
		}
		key := strings.Join(tuple, "\x00")
		if !seen[key] {
			seen[key] = true
			out = append(out, tuple)
		}
	}
	return out
}

// label names a point by the columns of cols: "rows=16 capacity=256KiB method=rct",
// each column by its last dotted segment unless two share it.
func (t *sweepTable) label(r []string, cols []int) string {
	short := func(c string) string { return c[strings.LastIndexByte(c, '.')+1:] }
	count := map[string]int{}
	for _, c := range cols {
		count[short(t.Header[c])]++
	}
	parts := make([]string, len(cols))
	for i, c := range cols {
		name := t.Header[c]
		if count[short(name)] == 1 {
			name = short(name)
		}
		parts[i] = name + "=" + r[c]
	}
	return strings.Join(parts, " ")
}

// WriteSweep writes the page of the sweep CSV in. dir is the folder the page is
// written into: links to the CSV are relative to it. A figure that cannot be drawn is
// a note on the page, not an error.
func WriteSweep(w io.Writer, in, dir string, o SweepOptions) error {
	t, err := readSweep(in, o.Filters)
	if err != nil {
		return err
	}
	l := linker{dir: dir}
	p := &page{Kind: "sweep", Title: "Sweep " + filepath.Base(in)}
	varying := t.varying(t.config)
	var ran, failed, violating int
	kinds := map[string]int{}
	for _, r := range t.rows {
		switch {
		case t.failed(r):
			failed++
			if t.kindCol >= 0 {
				kinds[r[t.kindCol]]++
			}
		case t.violates(r):
			violating++
			ran++
		default:
			ran++
		}
	}
	lede := fmt.Sprintf("%d design points (%d ran, %d failed", len(t.rows), ran, failed)
	if t.violCol >= 0 {
		lede += fmt.Sprintf(", %d of those that ran violate a constraint", violating)
	}
	lede += ")"
	if len(o.Filters) > 0 {
		lede += " with the filters" + describeFilters(o.Filters)
	}
	if sw := t.varying(t.swept); len(sw) > 0 {
		var axes []string
		for _, c := range sw {
			axes = append(axes, fmt.Sprintf("%s (%d values)", t.Header[c], len(t.combos([]int{c}))))
		}
		lede += ", over " + andList(axes)
	}
	p.Lede = []string{lede + "."}

	p.Sections = append(p.Sections, t.bestSection())
	heat, err := t.heatmapSection(in, dir, o, l)
	if err != nil {
		return err
	}
	fronts, err := t.frontSection(in, dir, o, l, len(heat.Figures))
	if err != nil {
		return err
	}
	p.Sections = append(p.Sections, heat, fronts, t.pointsSection(varying), t.failedSection(varying), t.constraintSection())

	settings := &section{ID: "settings", Heading: "Settings"}
	var fixed []item
	for _, c := range t.config {
		if !t.varies(c) {
			fixed = append(fixed, item{Key: t.Header[c], Value: t.rows[0][c]})
		}
	}
	for _, name := range []string{"profile", "technology_node"} {
		if c := t.col(name); c >= 0 {
			fixed = append(fixed, item{Key: name, Value: strings.Join(distinct(t.rows, c), ", ")})
		}
	}
	if len(fixed) > 0 {
		settings.Lists = append(settings.Lists, &list{Heading: "Every point", Items: fixed})
	}
	run := &list{Heading: "This page", Items: []item{{Key: "sweep CSV", Value: in, Code: true}, {Key: "rows", Value: strconv.Itoa(len(t.Rows))},
		{Key: "columns", Value: strconv.Itoa(len(t.Header))}}}
	if len(o.Filters) > 0 {
		run.Items = append(run.Items, item{Key: "filters", Value: strings.Trim(describeFilters(o.Filters), " ()"), Code: true})
	}
	run.Items = append(run.Items, item{Key: "page written by", Value: "rctsim (" + versions() + ")"})
	settings.Lists = append(settings.Lists, run)
	settings.Intro = []string{"The sweep's spec is not in its CSV; each row holds its swept values, the hash of its whole configuration, and every metric of rctsim sim."}
	p.Sections = append(p.Sections, settings)

	files := &section{ID: "files", Heading: "Files"}
	stem := strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))
	for _, lk := range l.existing(filepath.Dir(in), filepath.Base(in), stem+".jsonl") {
		lk.Note = map[bool]string{true: "one row per point", false: "the same points as JSON Lines, with the full report of each"}[strings.HasSuffix(lk.Text, ".csv")]
		files.Links = append(files.Links, lk)
	}
	p.Sections = append(p.Sections, files)
	return render(w, p)
}

// bestSection lists the best point by each figure of merit, among the points that ran
// and meet the constraints.
func (t *sweepTable) bestSection() *section {
	s := &section{ID: "best", Heading: "Best points"}
	tb := &table{ID: "best-points", Caption: "The best point by each figure of merit, among the points that ran and meet every constraint",
		Head: []cell{{Text: "figure of merit"}, {Text: "value", Num: true}, {Text: "point", Num: true}, {Text: "configuration"}}}
	label := t.varying(t.config)
	for _, b := range bestOf {
		c := t.col(b.col)
		if c < 0 {
			continue
		}
		best, bestV := -1, 0.0
		for i, r := range t.rows {
			v, ok := t.value(r, c)
			if !ok || t.violates(r) {
				continue
			}
			if best < 0 || (b.higher && v > bestV) || (!b.higher && v < bestV) {
				best, bestV = i, v
			}
		}
		if best < 0 {
			continue
		}
		r := t.rows[best]
		scale, unit := units.ForColumn(b.col, math.Abs(bestV))
		tb.Rows = append(tb.Rows, row{Cells: []cell{{Text: b.what + " (" + b.col + ")"}, num(sig(bestV*scale)+strings.TrimSuffix(strings.Replace(unit, " (", " ", 1), ")"), bestV),
			{Text: r[t.pointCol], Num: true}, {Text: t.label(r, label)}}})
	}
	if len(tb.Rows) == 0 {
		s.Notes = []string{"No point ran and met every constraint."}
		return s
	}
	s.Tables = []*table{tb}
	return s
}

// heatmapSection draws the metric over the first two swept columns, one heat map per
// combination of the other columns that vary.
func (t *sweepTable) heatmapSection(in, dir string, o SweepOptions, l linker) (*section, error) {
	s := &section{ID: "heatmaps", Heading: "Heat maps"}
	metric := o.Metric
	if metric == "" {
		metric = "energy_pj.total"
		if t.col("derived.edp_j_s") >= 0 {
			metric = "derived.edp_j_s"
		}
	}
	x, y := o.X, o.Y
	if x == "" || y == "" {
		// Numeric axes (sizes, counts, clocks) first: they read as a map; a
		// categorical one (technology_node) splits the maps instead.
		var axes, other []int
		for _, c := range t.varying(t.swept) {
			if t.numeric(c) {
				axes = append(axes, c)
			} else {
				other = append(other, c)
			}
		}
		for _, c := range append(axes, other...) {
			name := t.Header[c]
			switch {
			case name == x || name == y:
			case x == "":
				x = name
			case y == "":
				y = name
			}
		}
	}
	if x == "" || y == "" {
		s.Notes = []string{"No heat map: the sweep varies fewer than two swept keys (give two with --x and --y)."}
		return s, nil
	}
	xc, yc := t.col(x), t.col(y)
	if xc < 0 || yc < 0 {
		return nil, fmt.Errorf("%s: no column %q for a heat map axis", in, map[bool]string{true: x, false: y}[xc < 0])
	}
	s.Intro = []string{fmt.Sprintf("%s over %s and %s, one map for each combination of the other settings that vary; a grey cell has no point that ran.", metric, x, y)}
	group := t.varying(t.config, append([]int{xc, yc}, t.filtered(o.Filters)...)...)
	return s, t.drawGroups(s, in, dir, o, l, group, 0, func(filters map[string]string) figures.SweepOptions {
		return figures.SweepOptions{Kind: "heatmap", X: x, Y: y, Metric: metric, Filters: filters}
	})
}

// frontSection draws Pareto fronts of two metrics, one per model, method, plan and
// batch that vary.
func (t *sweepTable) frontSection(in, dir string, o SweepOptions, l linker, numbered int) (*section, error) {
	s := &section{ID: "fronts", Heading: "Pareto fronts"}
	fx, fy := o.FrontX, o.FrontY
	if fy == "" {
		fy = "energy_pj.total"
	}
	if fx == "" {
		fx = "seconds"
		if c := t.col("area_mm2.total"); c >= 0 && c != t.col(fy) {
			fx = "area_mm2.total"
		}
	}
	s.Intro = []string{fmt.Sprintf("%s against %s, lower better on both; the front joins the points no other point beats on both. Points that violate a constraint are left out.", fy, fx)}
	var nonSwept []int
	for _, c := range t.config {
		if !slices.Contains(t.swept, c) {
			nonSwept = append(nonSwept, c)
		}
	}
	group := t.varying(nonSwept, t.filtered(o.Filters)...)
	return s, t.drawGroups(s, in, dir, o, l, group, numbered, func(filters map[string]string) figures.SweepOptions {
		return figures.SweepOptions{Kind: "pareto", X: fx, Y: fy, Filters: filters}
	})
}

// filtered is the columns the filters name.
func (t *sweepTable) filtered(filters map[string]string) []int {
	var out []int
	for k := range filters {
		out = append(out, t.col(k))
	}
	slices.Sort(out)
	return out
}

// drawGroups draws one figure per combination of the group columns' values (at most
// maxFigures), numbering them after numbered figures of the page.
func (t *sweepTable) drawGroups(s *section, in, dir string, o SweepOptions, l linker, group []int, numbered int, opts func(map[string]string) figures.SweepOptions) error {
	combos := t.combos(group)
	figDir := filepath.Join(dir, "figures")
	for i, tuple := range combos {
		filters := maps.Clone(o.Filters)
		if filters == nil {
			filters = map[string]string{}
		}
		for j, c := range group {
			filters[t.Header[c]] = tuple[j]
		}
		so := opts(filters)
		args := []string{"rctsim", "plot", "-o", figDir, "--kind", so.Kind, "--x", so.X, "--y", so.Y}
		if so.Kind == "heatmap" {
			args = append(args, "--metric", so.Metric)
		}
		for _, k := range slices.Sorted(maps.Keys(filters)) {
			args = append(args, "--filter", k+"="+filters[k])
		}
		args = append(args, in)
		if i >= maxFigures {
			s.Notes = append(s.Notes, fmt.Sprintf("%d more combinations are not drawn here; draw one with %s.", len(combos)-maxFigures, command(args...)))
			break
		}
		d, err := figures.DrawSweep(in, so)
		if err != nil {
			s.Notes = append(s.Notes, fmt.Sprintf("Not drawn%s: %v.", describeFilters(filters), err))
			continue
		}
		if err := s.addFigure(d, numbered+len(s.Figures)+1, command(args...), l.figureFiles(figDir, d.Name)); err != nil {
			return err
		}
	}
	return nil
}

// pointsSection is the sortable table of every point.
func (t *sweepTable) pointsSection(varying []int) *section {
	s := &section{ID: "points", Heading: "Points"}
	tb := &table{ID: "points-table", Caption: "Every point in sweep order", Sortable: true, Head: []cell{{Text: "point", Num: true}}}
	for _, c := range varying {
		tb.Head = append(tb.Head, cell{Text: t.Header[c], Break: true})
	}
	type metric struct {
		col   int
		scale float64
	}
	var ms []metric
	for _, name := range pointMetrics {
		c := t.col(name)
		if c < 0 {
			continue
		}
		var largest float64
		for _, r := range t.rows {
			if v, ok := t.value(r, c); ok {
				largest = max(largest, math.Abs(v))
			}
		}
		scale, unit := units.ForColumn(name, largest)
		ms = append(ms, metric{c, scale})
		tb.Head = append(tb.Head, cell{Text: name + unit, Num: true, Break: true})
	}
	tb.Head = append(tb.Head, cell{Text: "status"})
	for i, r := range t.rows {
		if i == maxRows {
			s.Notes = append(s.Notes, fmt.Sprintf("The first %d of %d points; the CSV has them all.", maxRows, len(t.rows)))
			break
		}
		rw := row{Cells: []cell{{Text: r[t.pointCol], Sort: r[t.pointCol], Num: true}}}
		for _, c := range varying {
			cl := cell{Text: r[c]}
			if v, ok := sweep.Numeric(r[c]); ok {
				cl.Sort = strconv.FormatFloat(v, 'g', -1, 64)
			}
			rw.Cells = append(rw.Cells, cl)
		}
		for _, m := range ms {
			if v, ok := t.value(r, m.col); ok {
				rw.Cells = append(rw.Cells, num(sig(v*m.scale), v))
			} else {
				rw.Cells = append(rw.Cells, cell{Num: true})
			}
		}
		switch {
		case t.failed(r):
			kind := "failed"
			if t.kindCol >= 0 && r[t.kindCol] != "" {
				kind += ": " + r[t.kindCol]
			}
			rw.Class = "failed"
			rw.Cells = append(rw.Cells, cell{Text: kind, Title: r[t.errCol], NoWrap: true})
		case t.violates(r):
			rw.Class = "violates"
			rw.Cells = append(rw.Cells, cell{Text: "violates " + r[t.violCol], NoWrap: true})
		default:
			rw.Cells = append(rw.Cells, cell{Text: "ok"})
		}
		tb.Rows = append(tb.Rows, rw)
	}
	s.Tables = []*table{tb}
	return s
}

// failedSection lists the points that failed with their errors.
func (t *sweepTable) failedSection(varying []int) *section {
	s := &section{ID: "failed", Heading: "Failed points"}
	tb := &table{ID: "failed-table", Caption: "Points that did not run, with why (failure_kind) and the simulator's error",
		Head: []cell{{Text: "point", Num: true}, {Text: "configuration"}, {Text: "failure_kind"}, {Text: "error"}}}
	for _, r := range t.rows {
		if !t.failed(r) {
			continue
		}
		kind := ""
		if t.kindCol >= 0 {
			kind = r[t.kindCol]
		}
		tb.Rows = append(tb.Rows, row{Cells: []cell{{Text: r[t.pointCol], Num: true}, {Text: t.label(r, varying)}, {Text: kind, Code: true}, {Text: r[t.errCol]}}})
	}
	if len(tb.Rows) == 0 {
		s.Notes = []string{"None: every point ran."}
		return s
	}
	s.Intro = []string{"no_fit and unsupported_mode are findings about the design point (a layer does not fit the SRAM; the chip has no MAC mode for an operand format); the other kinds are mistakes in what the sweep was given."}
	s.Tables = []*table{tb}
	return s
}

// constraintSection counts the points that violate each constraint of the sweep.
func (t *sweepTable) constraintSection() *section {
	s := &section{ID: "constraints", Heading: "Constraint violations"}
	if t.violCol < 0 {
		s.Notes = []string{"The sweep's spec has no [constraints]."}
		return s
	}
	count := map[string]int{}
	var order []string
	ran := 0
	for _, r := range t.rows {
		if t.failed(r) {
			continue
		}
		ran++
		if r[t.violCol] == "" {
			continue
		}
		for _, c := range strings.Split(r[t.violCol], "; ") {
			if count[c] == 0 {
				order = append(order, c)
			}
			count[c]++
		}
	}
	s.Intro = []string{"Points outside a constraint of the spec were simulated and kept (they are marked in the table of points) and left out of the Pareto fronts and the best points."}
	if len(order) == 0 {
		s.Notes = []string{"No point that ran violates a constraint."}
		return s
	}
	tb := &table{ID: "constraints-table", Caption: "Constraints the points violate", Head: []cell{{Text: "constraint"}, {Text: "points violating it", Num: true}, {Text: "of the points that ran", Num: true}}}
	for _, c := range order {
		tb.Rows = append(tb.Rows, row{Cells: []cell{{Text: c, Code: true}, {Text: strconv.Itoa(count[c]), Num: true}, {Text: percent(float64(count[c]) / float64(ran)), Num: true}}})
	}
	s.Tables = []*table{tb}
	return s
}

// distinct lists the non-empty values of column c in order of appearance.
func distinct(rows [][]string, c int) []string {
	var out []string
	for _, r := range rows {
		if r[c] != "" && !slices.Contains(out, r[c]) {
			out = append(out, r[c])
		}
	}
	return out
}

// describeFilters prints filters as "method=rct, model=lenet5".
func describeFilters(filters map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(filters)) {
		parts = append(parts, k+"="+filters[k])
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
