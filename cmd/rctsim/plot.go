package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rctsim/rctsim/plots/figures"
	"github.com/rctsim/rctsim/sim/sweep"
)

var cmdPlot = &command{
	name:    "plot",
	usage:   "-o DIR [--kind all|energy|accuracy|bitwidth|memory|step-energy|timeline|report] [--formats png,svg,pdf] runs/NAME\n       rctsim plot -o DIR --kind heatmap|pareto --x KEY --y KEY [--metric COLUMN] [--filter key=value ...] [--where column<=value ...] [--max-x] [--max-y] sweep.csv\n       rctsim plot -o DIR --kind report [--x KEY --y KEY] [--metric COLUMN] [--filter key=value ...] sweep.csv",
	summary: "draw figures from a compare or train folder, or from a sweep's CSV; --kind report writes DIR/report.html",
	run:     runPlot,
}

func runPlot(c *command, e *env, args []string) error {
	var (
		in, out, kind, formats string
		so                     figures.SweepOptions
		filters, where         multiFlag
	)
	fs := newFlags(c, e)
	fs.StringVar(&in, "in", "", "the input, if not given as an argument: a compare or train run folder, or a sweep CSV")
	fs.StringVar(&out, "o", "", "folder `dir` for the figures (required)")
	fs.deprecated("out", "o")
	fs.StringVar(&kind, "kind", "all", "figure: all, "+strings.Join(figures.Kinds, ", ")+" (folders); "+strings.Join(figures.SweepKinds, " or ")+" (sweep CSV); report (either: DIR/report.html)")
	registerFormats(fs, &formats, "png,svg,pdf")
	fs.deprecated("format", "formats")
	fs.StringVar(&so.X, "x", "", "sweep: the column on the X axis (a swept key such as mac_array.rows, or a metric for pareto)")
	fs.StringVar(&so.Y, "y", "", "sweep: the column on the Y axis")
	fs.StringVar(&so.Metric, "metric", "energy_pj.total", "sweep heatmap: the metric column coloured")
	fs.Var(&filters, "filter", "sweep: keep rows where `column=value` (repeatable; value * averages over the column)")
	fs.Var(&where, "where", "pareto: keep points meeting `column<=value` (or <, >=, >; repeatable), e.g. area_mm2.total<=4")
	fs.StringVar(&so.Title, "title", "", "sweep: figure title")
	fs.BoolVar(&so.MaxX, "max-x", false, "pareto: higher X is better (default: lower)")
	fs.BoolVar(&so.MaxY, "max-y", false, "pareto: higher Y is better (default: lower)")
	fs.Var(notFlag{&so.MaxX}, "min-x", "deprecated: -min-x=false is -max-x")
	fs.Var(notFlag{&so.MaxY}, "min-y", "deprecated: -min-y=false is -max-y")
	fs.aliases["min-x"], fs.aliases["min-y"] = "max-x", "max-y"
	if err := fs.parse(args, 1); err != nil {
		return err
	}
	if err := fs.input(&in, "input"); err != nil {
		return err
	}
	if in == "" || out == "" {
		return usagef("want an input (a run folder or a sweep CSV) and -o DIR")
	}
	fmts, err := parseFormats(formats)
	if err != nil {
		return err
	}
	if len(fmts) == 0 {
		return usagef("--formats: want at least one of png, svg, pdf")
	}
	st, err := os.Stat(in)
	if err != nil {
		return err
	}
	if kind == "report" {
		return plotReport(e, fs, in, out, st.IsDir(), so, filters)
	}
	var paths []string
	if st.IsDir() {
		if err := fs.only("to a run folder", "in", "o", "kind", "formats"); err != nil {
			return err
		}
		var kinds []string
		if kind != "all" {
			kinds = []string{kind}
		}
		paths, err = figures.Folder(in, out, kinds, fmts)
	} else {
		so.Kind = kind
		if so.Filters, err = parseFilters(filters); err != nil {
			return err
		}
		for _, w := range where {
			c, err := sweep.ParseWhere(w)
			if err != nil {
				return usagef("--where: %v", err)
			}
			so.Where = append(so.Where, c)
		}
		if so.X == "" || so.Y == "" {
			return usagef("a sweep figure needs --x and --y")
		}
		if kind != "heatmap" && kind != "pareto" {
			return usagef("a sweep CSV draws --kind heatmap, pareto or report, not %q", kind)
		}
		paths, err = figures.Sweep(in, out, so, fmts)
	}
	for _, p := range paths {
		fmt.Fprintln(e.stdout, p)
	}
	return err
}

func parseFilters(args []string) (map[string]string, error) {
	filters := map[string]string{}
	for _, f := range args {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, usagef("--filter %q: want column=value", f)
		}
		filters[k] = v
	}
	return filters, nil
}

// plotReport is plot --kind report: DIR/report.html of a run folder or a sweep CSV.
func plotReport(e *env, fs *flagSet, in, out string, dir bool, so figures.SweepOptions, filters multiFlag) error {
	if !dir {
		if err := fs.only("to --kind report", "in", "o", "kind", "x", "y", "metric", "filter"); err != nil {
			return err
		}
	}
	rf := &reportFlags{x: so.X, y: so.Y, filters: filters}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "metric" {
			rf.metric = so.Metric // else the page's own default, the energy-delay product
		}
	})
	path := filepath.Join(out, "report.html")
	if err := writeReport(fs, in, path, dir, rf); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, path)
	return nil
}
