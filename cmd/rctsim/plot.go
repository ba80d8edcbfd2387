package main

import (
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/rctsim/rctsim/plots"
	"github.com/rctsim/rctsim/sim/sweep"
)

var cmdPlot = &command{
	name:    "plot",
	usage:   "--in runs/NAME|sweep.csv --out DIR [--kind all|energy|accuracy|bitwidth|memory|step-energy|timeline|heatmap|pareto] [--format png,svg,pdf] [--x KEY --y KEY --metric COLUMN] [--filter key=value ...]",
	summary: "draw figures from a compare or train folder, or from a sweep's CSV",
	run:     runPlot,
}

func runPlot(c *command, e *env, args []string) error {
	var (
		in, out, kind, formats, x, y, metric, title string
		filters                                     multiFlag
		minX, minY                                  bool
	)
	fs := newFlags(c, e)
	fs.StringVar(&in, "in", "", "a compare or train run folder, or a sweep CSV (required)")
	fs.StringVar(&out, "out", "", "folder `dir` for the figures (required)")
	fs.StringVar(&kind, "kind", "all", "figure: all, "+strings.Join(figureKinds, ", ")+" (folders); heatmap or pareto (sweep CSV)")
	fs.StringVar(&formats, "format", "png,svg,pdf", "comma-separated formats: png, svg, pdf")
	fs.StringVar(&x, "x", "", "sweep: the column on the X axis (a swept key such as mac_array.rows, or a metric for pareto)")
	fs.StringVar(&y, "y", "", "sweep: the column on the Y axis")
	fs.StringVar(&metric, "metric", "energy_pj.total", "sweep heatmap: the metric column coloured")
	fs.Var(&filters, "filter", "sweep: keep rows where `column=value` (repeatable; value * averages over the column)")
	fs.StringVar(&title, "title", "", "sweep: figure title")
	fs.BoolVar(&minX, "min-x", true, "pareto: lower X is better")
	fs.BoolVar(&minY, "min-y", true, "pareto: lower Y is better")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if in == "" || out == "" {
		return usagef("--in and --out are required")
	}
	fmts := strings.Split(formats, ",")
	st, err := os.Stat(in)
	if err != nil {
		return err
	}
	var paths []string
	if st.IsDir() {
		kinds := []string{kind}
		if kind == "all" {
			kinds = figureKinds
		}
		paths, err = drawFolder(in, out, kinds, fmts)
	} else {
		paths, err = drawSweep(in, out, kind, fmts, x, y, metric, title, filters, minX, minY)
	}
	for _, p := range paths {
		fmt.Fprintln(e.stdout, p)
	}
	return err
}

// drawSweep draws a heatmap or a Pareto plot from a sweep CSV.
func drawSweep(in, out, kind string, formats []string, x, y, metric, title string, filterArgs []string, minX, minY bool) ([]string, error) {
	if x == "" || y == "" {
		return nil, usagef("a sweep figure needs --x and --y")
	}
	filters := map[string]string{}
	for _, f := range filterArgs {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, usagef("--filter %q: want column=value", f)
		}
		filters[k] = v
	}
	file, err := os.Open(in)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var fig plots.Figure
	name := kind
	switch kind {
	case "heatmap":
		g, err := sweep.LoadGrid(file, x, y, metric, filters)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in, err)
		}
		if title != "" {
			g.Title = title
		}
		scale, unit := unitFor(g.Metric, gridMax(g.Values))
		for _, row := range g.Values {
			for i := range row {
				row[i] *= scale
			}
		}
		g.Metric += unit
		chart, err := plots.Heatmap(g)
		if err != nil {
			return nil, err
		}
		fig, name = chart, "heatmap_"+sanitize(metric)
	case "pareto":
		pts, err := sweep.LoadPoints(file, x, y, filters)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in, err)
		}
		if title == "" {
			title = fmt.Sprintf("%s against %s", y, x)
		}
		var mx, my float64
		for _, p := range pts {
			mx, my = max(mx, math.Abs(p.X)), max(my, math.Abs(p.Y))
		}
		sx, ux := unitFor(x, mx)
		sy, uy := unitFor(y, my)
		for i := range pts {
			pts[i].X *= sx
			pts[i].Y *= sy
		}
		chart, err := plots.Pareto(title, x+ux, y+uy, pts, minX, minY)
		if err != nil {
			return nil, err
		}
		fig, name = chart, "pareto_"+sanitize(x)+"_"+sanitize(y)
	default:
		return nil, usagef("a sweep CSV draws --kind heatmap or pareto, not %q", kind)
	}
	return plots.Save(fig, out, name, formats, figWidth, figHeight, figDPI)
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

// unitFor picks a readable unit for a sweep column from its name's unit (energies in
// pJ, times in seconds, sizes in bytes) and its largest value: the factor to multiply
// values by and the axis-label suffix.
func unitFor(column string, largest float64) (float64, string) {
	type unit struct {
		scale float64
		name  string
	}
	pick := func(units []unit) (float64, string) {
		for _, u := range units {
			if largest >= u.scale {
				return 1 / u.scale, " (" + u.name + ")"
			}
		}
		last := units[len(units)-1]
		return 1 / last.scale, " (" + last.name + ")"
	}
	switch {
	case strings.Contains(column, "_pj"):
		return pick([]unit{{1e12, "J"}, {1e9, "mJ"}, {1e6, "µJ"}, {1e3, "nJ"}, {1, "pJ"}})
	case column == "seconds":
		return pick([]unit{{1, "s"}, {1e-3, "ms"}, {1e-6, "µs"}})
	case strings.Contains(column, "bytes") || strings.HasSuffix(column, "capacity") || strings.HasSuffix(column, "row_size"):
		return pick([]unit{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}, {1, "B"}})
	}
	return 1, ""
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
