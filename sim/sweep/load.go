package sweep

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/traces/fileio"
)

// Any is the filter value that averages over a column instead of selecting one value.
const Any = "*"

// table is a sweep CSV read for analysis.
type table struct {
	*fileio.Table
	// config are the columns that describe a point (the swept profile keys, model,
	// method, plan, batch): those between hash and steps in a sweep output. For another
	// CSV, every column that is not the metric being read.
	config  []int
	hashCol int // -1 when absent
	errCol  int // -1 when absent
}

func readTable(r io.Reader) (*table, error) {
	ft, err := fileio.ReadTable(r, "sweep")
	if err != nil {
		return nil, err
	}
	t := &table{Table: ft, hashCol: -1, errCol: -1}
	if i, ok := t.Col(ColHash); ok {
		t.hashCol = i
	}
	if i, ok := t.Col(ColError); ok {
		t.errCol = i
	}
	if h, ok := t.Col(ColHash); ok {
		if s, ok := t.Col(ColSteps); ok && s > h {
			for i := h + 1; i < s; i++ {
				t.config = append(t.config, i)
			}
		}
	}
	return t, nil
}

// col returns the index of a column, or an error listing the columns.
func (t *table) col(name, what string) (int, error) {
	if i, ok := t.Col(name); ok {
		return i, nil
	}
	return 0, fmt.Errorf("sweep: no column %q for %s (columns: %s)", name, what, strings.Join(t.Header, ", "))
}

// selectRows returns the rows that pass the filters (column -> value; Any passes every
// value), and the set of columns the filters name.
func (t *table) selectRows(filters map[string]string) ([][]string, map[int]bool, error) {
	type filter struct {
		col  int
		want string
	}
	var fs []filter
	named := map[int]bool{}
	keys := make([]string, 0, len(filters))
	for k := range filters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i, err := t.col(k, "a filter")
		if err != nil {
			return nil, nil, err
		}
		named[i] = true
		if filters[k] != Any {
			fs = append(fs, filter{i, filters[k]})
		}
	}
	var out [][]string
rows:
	for _, rec := range t.Rows {
		for _, f := range fs {
			if !sameValue(rec[f.col], f.want) {
				continue rows
			}
		}
		out = append(out, rec)
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("sweep: no rows match the filters %s", describeFilters(filters))
	}
	return out, named, nil
}

// sameValue compares a cell with a filter value: as text, or as numbers when both read
// as numbers or sizes ("256KiB" selects 262144).
func sameValue(cell, want string) bool {
	if cell == want {
		return true
	}
	a, okA := numeric(cell)
	b, okB := numeric(want)
	return okA && okB && a == b
}

// Numeric reads a cell of a sweep CSV as a number, as LoadGrid and LoadPoints do: a
// plain number, or a size, frequency or data rate with its unit ("64KiB" is 65536).
func Numeric(s string) (float64, bool) { return numeric(s) }

// numeric reads a value as a number: a plain number, or a size, frequency or data rate
// with its unit ("64KiB", "800MHz", "3200MT/s").
func numeric(s string) (float64, bool) {
	if v, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return v, true
	}
	if v, err := hw.ParseByteSize(s); err == nil {
		return float64(v), true
	}
	if v, err := hw.ParseFrequency(s); err == nil {
		return float64(v), true
	}
	if v, err := hw.ParseDataRate(s); err == nil {
		return float64(v), true
	}
	return 0, false
}

func describeFilters(filters map[string]string) string {
	if len(filters) == 0 {
		return "(none)"
	}
	keys := make([]string, 0, len(filters))
	for k := range filters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + filters[k]
	}
	return strings.Join(parts, ", ")
}

// value returns the number at col of a row, unless the row records an error or the
// cell is empty or not a finite number (sizes such as "256KiB" count as numbers, so a
// swept key can be an axis of a Pareto plot).
func (t *table) value(rec []string, col int) (float64, bool) {
	if t.errCol >= 0 && rec[t.errCol] != "" {
		return 0, false
	}
	v, ok := numeric(rec[col])
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// axisValues lists the distinct values in first-appearance order, then sorts them
// numerically when every one reads as a number or a size.
func axisValues(vals []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range vals {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	nums := make(map[string]float64, len(out))
	for _, v := range out {
		n, ok := numeric(v)
		if !ok {
			return out
		}
		nums[v] = n
	}
	slices.SortStableFunc(out, func(a, b string) int {
		switch {
		case nums[a] < nums[b]:
			return -1
		case nums[a] > nums[b]:
			return 1
		}
		return 0
	})
	return out
}

// Grid is a metric over two columns of a sweep, for a heat map: Values[y][x], NaN
// where no row gave a value; Y runs bottom to top.
type Grid struct {
	Title, XName, YName, Metric string
	XValues, YValues            []string
	Values                      [][]float64
}

// XY is one configuration's values of two columns, for a Pareto plot.
type XY struct {
	X, Y  float64
	Label string
}

// LoadGrid reads a sweep CSV into a heat-map grid of metric over the columns x and y:
// filters (column -> value) select rows first, rows that carry an error or no value
// count as missing, several rows in one cell are averaged, and a cell with none is NaN.
// Axis values are ordered numerically when every value reads as a number or a size
// ("64KiB"), else in order of first appearance; Y runs bottom to top.
//
// Every other column that describes a point (model, method, plan, batch, other swept
// keys) must have one value in each cell, or the average would mix configurations:
// select one with a filter (method=rct) or average over it explicitly with the filter
// value Any ("*").
func LoadGrid(r io.Reader, x, y, metric string, filters map[string]string) (Grid, error) {
	t, err := readTable(r)
	if err != nil {
		return Grid{}, err
	}
	xc, err := t.col(x, "the X axis")
	if err != nil {
		return Grid{}, err
	}
	yc, err := t.col(y, "the Y axis")
	if err != nil {
		return Grid{}, err
	}
	mc, err := t.col(metric, "the metric")
	if err != nil {
		return Grid{}, err
	}
	rows, named, err := t.selectRows(filters)
	if err != nil {
		return Grid{}, err
	}
	xsAll := make([]string, len(rows))
	ysAll := make([]string, len(rows))
	for i, rec := range rows {
		xsAll[i], ysAll[i] = rec[xc], rec[yc]
	}
	xs, ys := axisValues(xsAll), axisValues(ysAll)
	xi := indexOf(xs)
	yi := indexOf(ys)
	sum := make([][]float64, len(ys))
	cnt := make([][]int, len(ys))
	for j := range ys {
		sum[j] = make([]float64, len(xs))
		cnt[j] = make([]int, len(xs))
	}
	// first[cell] is a row of the cell, to check that the others agree with it.
	first := map[[2]int][]string{}
	for _, rec := range rows {
		cell := [2]int{yi[rec[yc]], xi[rec[xc]]}
		if f, ok := first[cell]; !ok {
			first[cell] = rec
		} else {
			for _, c := range t.config {
				if c == xc || c == yc || named[c] || f[c] == rec[c] {
					continue
				}
				return Grid{}, fmt.Errorf("sweep: cell %s=%s, %s=%s mixes rows with %s = %s and %s: select one with a filter (%s=%s) or average over it (%s=%s)",
					x, rec[xc], y, rec[yc], t.Header[c], f[c], rec[c], t.Header[c], f[c], t.Header[c], Any)
			}
		}
		if v, ok := t.value(rec, mc); ok {
			sum[cell[0]][cell[1]] += v
			cnt[cell[0]][cell[1]]++
		}
	}
	g := Grid{Title: metric, XName: x, YName: y, Metric: metric, XValues: xs, YValues: ys,
		Values: make([][]float64, len(ys))}
	if len(filters) > 0 {
		g.Title += " (" + describeFilters(filters) + ")"
	}
	for j := range ys {
		g.Values[j] = make([]float64, len(xs))
		for i := range xs {
			if cnt[j][i] == 0 {
				g.Values[j][i] = math.NaN()
			} else {
				g.Values[j][i] = sum[j][i] / float64(cnt[j][i])
			}
		}
	}
	return g, nil
}

func indexOf(vals []string) map[string]int {
	m := make(map[string]int, len(vals))
	for i, v := range vals {
		m[v] = i
	}
	return m
}

// LoadPoints reads a sweep CSV into points for a Pareto plot: x and y are numeric
// columns (e.g. energy_pj.total and seconds), filters select rows as in LoadGrid, and
// rows with an error or without both values are left out. Rows of one configuration
// (the same hash, e.g. a point merged twice) are averaged into one point. Each point is
// labelled with the configuration columns other than x and y that vary among the
// selected rows (leaving out one whose value follows from another's, such as the cols
// of a linked rows,cols axis), by their last key segment when that is unambiguous
// ("rows=16 capacity=256KiB method=rct").
//
// Rows that violate a constraint are left out too: those the sweep flagged in its
// violates column, and those where fails.
func LoadPoints(r io.Reader, x, y string, filters map[string]string, where []Constraint) ([]XY, error) {
	t, err := readTable(r)
	if err != nil {
		return nil, err
	}
	xc, err := t.col(x, "X")
	if err != nil {
		return nil, err
	}
	yc, err := t.col(y, "Y")
	if err != nil {
		return nil, err
	}
	rows, named, err := t.selectRows(filters)
	if err != nil {
		return nil, err
	}
	if rows, err = t.meeting(rows, where); err != nil {
		return nil, err
	}
	config := t.config
	if config == nil {
		for i := range t.Header {
			if i != xc && i != yc {
				config = append(config, i)
			}
		}
	}
	// The label columns: configuration columns that vary among the selected rows
	// (other than the plot's own axes).
	var vary []int
	for _, c := range config {
		if c == xc || c == yc || named[c] && filters[t.Header[c]] != Any {
			continue
		}
		for _, rec := range rows[1:] {
			if rec[c] != rows[0][c] {
				vary = append(vary, c)
				break
			}
		}
	}
	vary = dropDependent(rows, vary)
	names := labelNames(t.Header, vary)
	type acc struct {
		x, y  float64
		n     int
		label string
	}
	var order []string
	groups := map[string]*acc{}
	for _, rec := range rows {
		xv, okX := t.value(rec, xc)
		yv, okY := t.value(rec, yc)
		if !okX || !okY {
			continue
		}
		parts := make([]string, len(vary))
		for i, c := range vary {
			parts[i] = names[i] + "=" + rec[c]
		}
		key := strings.Join(parts, "\x00")
		if t.hashCol >= 0 {
			key = rec[t.hashCol]
		}
		a := groups[key]
		if a == nil {
			a = &acc{label: strings.Join(parts, " ")}
			groups[key] = a
			order = append(order, key)
		}
		a.x += xv
		a.y += yv
		a.n++
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("sweep: no row with values of %s and %s (filters %s)", x, y, describeFilters(filters))
	}
	pts := make([]XY, len(order))
	for i, k := range order {
		a := groups[k]
		pts[i] = XY{X: a.x / float64(a.n), Y: a.y / float64(a.n), Label: a.label}
	}
	return pts, nil
}

// dropDependent leaves out of the label the columns whose value follows from an earlier
// label column's over the selected rows (the cols of a linked rows,cols axis): they add
// length, not information.
func dropDependent(rows [][]string, cols []int) []int {
	var keep []int
	for _, c := range cols {
		dependent := false
		for _, k := range keep {
			f := map[string]string{}
			function := true
			for _, rec := range rows {
				if v, ok := f[rec[k]]; ok && v != rec[c] {
					function = false
					break
				}
				f[rec[k]] = rec[c]
			}
			if function {
				dependent = true
				break
			}
		}
		if !dependent {
			keep = append(keep, c)
		}
	}
	return keep
}

// labelNames shortens column names to their last dotted segment when no other label
// column shares it.
func labelNames(cols []string, idx []int) []string {
	short := func(c string) string { return c[strings.LastIndexByte(c, '.')+1:] }
	count := map[string]int{}
	for _, i := range idx {
		count[short(cols[i])]++
	}
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = cols[i]
		if count[short(cols[i])] == 1 {
			out[k] = short(cols[i])
		}
	}
	return out
}

// meeting keeps the rows that meet every constraint: not flagged in the violates
// column, and within each of where (a row without a number in a constrained column
// does not meet it).
func (t *table) meeting(rows [][]string, where []Constraint) ([][]string, error) {
	viol, flagged := t.Col(ColViolates)
	cols := make([]int, len(where))
	for i, c := range where {
		var err error
		if cols[i], err = t.col(c.Column, "a constraint"); err != nil {
			return nil, err
		}
	}
	var out [][]string
rows:
	for _, rec := range rows {
		if flagged && rec[viol] != "" {
			continue
		}
		for i, c := range where {
			v, ok := numeric(rec[cols[i]])
			if !ok || !c.Holds(v) {
				continue rows
			}
		}
		out = append(out, rec)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sweep: no row meets the constraints")
	}
	return out, nil
}
