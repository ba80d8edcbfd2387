package figures

import (
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/rctsim/rctsim/plots"
	"github.com/rctsim/rctsim/sim/sweep"
	"github.com/rctsim/rctsim/traces/units"
)

// Figure sizes, in inches, and the PNG resolution.
const (
	width, height = 7.0, 4.5
	dpi           = 150
)

// save writes fig as out/name.EXT for each format.
func save(fig plots.Figure, out, name string, formats []string) ([]string, error) {
	return plots.Save(fig, out, name, formats, width, height, dpi)
}

// SweepKinds are the figures Sweep draws from a sweep's CSV.
var SweepKinds = []string{"heatmap", "pareto"}

// SweepOptions choose a sweep figure.
type SweepOptions struct {
	// Kind is "heatmap" (Metric over the columns X and Y) or "pareto" (the column Y
	// against the column X, the front marked).
	Kind, X, Y, Metric string
	// Filters keep the rows whose column has the value (sweep.Any averages over it).
	Filters map[string]string
	// Title replaces the default title.
	Title string
	// MaxX and MaxY make higher values better on that axis of a Pareto plot (lower is
	// better by default).
	MaxX, MaxY bool
	// Where are constraints a Pareto plot's points must meet, besides those the
	// sweep's own spec flagged.
	Where []sweep.Constraint
}

// Sweep draws a heat map or a Pareto plot from the sweep CSV in into out, in each of
// formats, choosing readable units from the columns' names. It returns the files
// written.
func Sweep(in, out string, o SweepOptions, formats []string) ([]string, error) {
	d, err := DrawSweep(in, o)
	if err != nil {
		return nil, err
	}
	return save(d.Figure, out, d.Name, formats)
}

// DrawSweep draws the figure Sweep saves, in memory.
func DrawSweep(in string, o SweepOptions) (Drawn, error) {
	if o.X == "" || o.Y == "" {
		return Drawn{}, fmt.Errorf("a sweep figure needs an X and a Y column")
	}
	file, err := os.Open(in)
	if err != nil {
		return Drawn{}, err
	}
	defer file.Close()
	switch o.Kind {
	case "heatmap":
		g, err := sweep.LoadGrid(file, o.X, o.Y, o.Metric, o.Filters)
		if err != nil {
			return Drawn{}, fmt.Errorf("%s: %w", in, err)
		}
		pg := plots.Grid{Title: g.Title, XName: g.XName, YName: g.YName, Metric: g.Metric, XValues: g.XValues, YValues: g.YValues, Values: g.Values}
		if o.Title != "" {
			pg.Title = o.Title
		}
		scale, unit := units.ForColumn(pg.Metric, gridMax(pg.Values))
		for _, row := range pg.Values {
			for i := range row {
				row[i] *= scale
			}
		}
		pg.Metric += unit
		chart, err := plots.Heatmap(pg)
		if err != nil {
			return Drawn{}, fmt.Errorf("%s: column %q: %w", in, o.Metric, err)
		}
		caption := fmt.Sprintf("%s for each %s (across) and %s (up)%s, averaged over the rows of a cell; a grey cell has no point that ran. From the sweep's CSV.",
			o.Metric, o.X, o.Y, describeFilters(o.Filters))
		return Drawn{Name: "heatmap_" + sanitize(o.Metric), Kind: o.Kind, Title: pg.Title, Caption: caption, Figure: chart}, nil
	case "pareto":
		xys, err := sweep.LoadPoints(file, o.X, o.Y, o.Filters, o.Where)
		if err != nil {
			return Drawn{}, fmt.Errorf("%s: %w", in, err)
		}
		title := o.Title
		if title == "" {
			title = fmt.Sprintf("%s against %s%s", o.Y, o.X, describeFilters(o.Filters))
		}
		var mx, my float64
		for _, p := range xys {
			mx, my = max(mx, math.Abs(p.X)), max(my, math.Abs(p.Y))
		}
		sx, ux := units.ForColumn(o.X, mx)
		sy, uy := units.ForColumn(o.Y, my)
		pts := make([]plots.Point, len(xys))
		for i, p := range xys {
			pts[i] = plots.Point{X: p.X * sx, Y: p.Y * sy, Label: p.Label}
		}
		chart, err := plots.Pareto(title, o.X+ux, o.Y+uy, pts, !o.MaxX, !o.MaxY)
		if err != nil {
			return Drawn{}, fmt.Errorf("%s: columns %q and %q: %w", in, o.X, o.Y, err)
		}
		better := func(col string, higher bool) string {
			if higher {
				return "higher " + col
			}
			return "lower " + col
		}
		caption := fmt.Sprintf("Every design point that ran%s as %s against %s; the marked points are the Pareto front (no other point has both %s and %s). "+
			"Points that violate a constraint of the sweep%s are left out. From the sweep's CSV.",
			describeFilters(o.Filters), o.Y, o.X, better(o.X, o.MaxX), better(o.Y, o.MaxY), describeWhere(o.Where))
		return Drawn{Name: "pareto_" + sanitize(o.X) + "_" + sanitize(o.Y), Kind: o.Kind, Title: title, Caption: caption, Figure: chart}, nil
	}
	return Drawn{}, fmt.Errorf("a sweep CSV draws %s, not %q", strings.Join(SweepKinds, " or "), o.Kind)
}

// describeFilters is the filters as a caption phrase: " (method=rct, model=lenet5)".
func describeFilters(filters map[string]string) string {
	if len(filters) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(filters)) {
		parts = append(parts, k+"="+filters[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// describeWhere is extra constraints as a caption phrase.
func describeWhere(where []sweep.Constraint) string {
	if len(where) == 0 {
		return ""
	}
	parts := make([]string, len(where))
	for i, c := range where {
		parts[i] = c.String()
	}
	return " or " + strings.Join(parts, ", ")
}

// sanitize makes a column name usable in a file name.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '/' || r == ' ' || r == ',' {
			return '_'
		}
		return r
	}, s)
}

func gridMax(v [][]float64) float64 {
	var m float64
	for _, row := range v {
		for _, x := range row {
			if !math.IsNaN(x) {
				m = max(m, math.Abs(x))
			}
		}
	}
	return m
}
