package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rctsim/rctsim/plots/report"
	"github.com/rctsim/rctsim/traces/fileio"
)

var cmdReport = &command{
	name:    "report",
	usage:   "[-o FILE] runs/NAME\n       rctsim report [-o FILE] [--x KEY --y KEY] [--metric COLUMN] [--filter key=value ...] sweep.csv",
	summary: "write report.html: one self-contained page of a compare or train folder, or of a sweep's CSV, to open in a browser",
	run:     runReport,
}

// reportFlags are the sweep page's choices, shared by report and plot --kind report.
type reportFlags struct {
	x, y, metric string
	filters      multiFlag
}

func (r *reportFlags) register(fs *flagSet) {
	fs.StringVar(&r.x, "x", "", "sweep: the heat maps' X axis (default: the first swept key that varies)")
	fs.StringVar(&r.y, "y", "", "sweep: the heat maps' Y axis (default: the second)")
	fs.StringVar(&r.metric, "metric", "", "sweep: the heat maps' metric (default derived.edp_j_s, else energy_pj.total)")
	fs.Var(&r.filters, "filter", "sweep: keep rows where `column=value` (repeatable)")
}

func runReport(c *command, e *env, args []string) error {
	var in, out string
	var rf reportFlags
	fs := newFlags(c, e)
	fs.StringVar(&in, "in", "", "the input, if not given as an argument: a compare or train run folder, or a sweep CSV")
	fs.StringVar(&out, "o", "", "the page `file` (default: report.html in the run folder; NAME.report.html beside a sweep's NAME.csv)")
	rf.register(fs)
	if err := fs.parse(args, 1); err != nil {
		return err
	}
	if err := fs.input(&in, "input"); err != nil {
		return err
	}
	if in == "" {
		return usagef("want an input: a run folder or a sweep CSV")
	}
	st, err := os.Stat(in)
	if err != nil {
		return err
	}
	if out == "" {
		if st.IsDir() {
			out = filepath.Join(in, "report.html")
		} else {
			out = strings.TrimSuffix(in, filepath.Ext(in)) + ".report.html"
		}
	}
	if err := writeReport(fs, in, out, st.IsDir(), &rf); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, out)
	return nil
}

// writeReport writes the page of in (a run folder when dir, else a sweep CSV) to the
// file out; the sweep flags apply to a CSV only.
func writeReport(fs *flagSet, in, out string, dir bool, rf *reportFlags) error {
	if out == "-" {
		return usagef("a report links the files next to it: -o must name a file, not standard output")
	}
	if dir {
		if err := fs.only("to a run folder's report", "in", "o", "kind"); err != nil {
			return err
		}
		return fileio.WriteFile(out, func(w io.Writer) error { return report.WriteFolder(w, in, filepath.Dir(out)) })
	}
	filters, err := parseFilters(rf.filters)
	if err != nil {
		return err
	}
	o := report.SweepOptions{X: rf.x, Y: rf.y, Metric: rf.metric, Filters: filters}
	return fileio.WriteFile(out, func(w io.Writer) error { return report.WriteSweep(w, in, filepath.Dir(out), o) })
}

// writeFolderReport writes report.html into a run folder, as compare and demo do.
func writeFolderReport(dir string) (string, error) {
	out := filepath.Join(dir, "report.html")
	return out, fileio.WriteFile(out, func(w io.Writer) error { return report.WriteFolder(w, dir, dir) })
}
