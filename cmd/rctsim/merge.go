package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/rctsim/rctsim/sim/sweep"
)

var cmdMerge = &command{
	name:    "merge",
	usage:   "[-o OUT.csv] [--spec SPEC] [--shards N] IN.csv ...",
	summary: "join sweep outputs (e.g. one per shard) by point hash, reporting duplicated and missing points",
	run:     runMerge,
}

// maxListed is how many missing or duplicated points merge names before summing up.
const maxListed = 20

func runMerge(c *command, e *env, args []string) error {
	fs := newFlags(c, e)
	out := fs.String("o", "", "write the merged CSV to `file` (default: stdout)")
	specName := fs.String("spec", "", "the sweep `spec` the inputs come from: check their columns and name every missing point")
	shards := fs.Int("shards", 0, "with --spec, the `N` of --shard i/N the sweep ran with: name the shard of each missing point")
	if err := parse(fs, args, math.MaxInt); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("want at least one sweep CSV to merge")
	}
	if *shards < 0 {
		return usagef("--shards must be positive (got %d)", *shards)
	}
	var spec *sweep.Spec
	if *specName != "" {
		var err error
		if spec, err = loadSpec(*specName); err != nil {
			return err
		}
	}
	var inputs []sweep.MergeInput
	for _, name := range fs.Args() {
		if *out != "" && sameFile(name, *out) {
			return usagef("input %s is also the output (-o)", name)
		}
		if strings.HasPrefix(name, "-") {
			return usagef("flag %s after the inputs: put flags first", name)
		}
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		inputs = append(inputs, sweep.MergeInput{Name: name, R: f})
	}
	var rep *sweep.MergeReport
	err := output(e, *out, func(w io.Writer) error {
		var err error
		rep, err = sweep.Merge(w, inputs, spec)
		return err
	})
	if err != nil {
		return err
	}
	printMergeReport(e.stderr, rep, len(inputs), *shards)
	if !rep.Complete() {
		return fmt.Errorf("the merged sweep is incomplete or inconsistent (output written)")
	}
	return nil
}

func printMergeReport(w io.Writer, rep *sweep.MergeReport, inputs, shards int) {
	fmt.Fprintf(w, "merged %d files: %d points", inputs, rep.Rows)
	if rep.Expected > 0 {
		fmt.Fprintf(w, " of %d", rep.Expected)
	}
	fmt.Fprintln(w)
	for _, name := range rep.Partial {
		fmt.Fprintf(w, "%s: ignored a partial last row (an interrupted run; rerun its shard to finish it)\n", name)
	}
	if n := len(rep.Duplicates); n > 0 {
		fmt.Fprintf(w, "duplicated: %d points appear in more than one row (the first was kept)\n", n)
		for i, d := range rep.Duplicates {
			if i == maxListed {
				fmt.Fprintf(w, "  ... and %d more\n", n-maxListed)
				break
			}
			note := ""
			if d.Differ {
				note = " (rows DIFFER)"
			}
			fmt.Fprintf(w, "  point %d (hash %s) in %s%s\n", d.Point, d.Hash, strings.Join(d.Files, ", "), note)
		}
	}
	if rep.Unknown > 0 {
		fmt.Fprintf(w, "%d rows are not points of the spec (another spec, or an earlier version of it)\n", rep.Unknown)
	}
	if n := len(rep.Missing); n > 0 {
		if rep.Expected > 0 {
			fmt.Fprintf(w, "missing: %d points\n", n)
		} else {
			fmt.Fprintf(w, "missing: %d points below the highest point number (give --spec to check the rest and name them)\n", n)
		}
		for i, m := range rep.Missing {
			if i == maxListed {
				fmt.Fprintf(w, "  ... and %d more\n", n-maxListed)
				break
			}
			shard := ""
			if shards > 0 {
				shard = fmt.Sprintf(" (shard %s)", sweep.Shard{Index: m.Index % shards, Count: shards})
			}
			desc := ""
			if m.Description != "" {
				desc = fmt.Sprintf(": %s (hash %s)", m.Description, m.Hash)
			}
			fmt.Fprintf(w, "  point %d%s%s\n", m.Index, shard, desc)
		}
	}
}

// sameFile reports whether two paths name the same file (or would: the output may not
// exist yet).
func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	pa, _ := filepath.Abs(a)
	pb, _ := filepath.Abs(b)
	return pa == pb
}
