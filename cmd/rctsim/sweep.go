package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rctsim/rctsim/sim/sweep"
	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/traces/progress"
)

var cmdSweep = &command{
	name:    "sweep",
	usage:   "[-o FILE.csv] [--jsonl FILE.jsonl] [--workers N] [--shard i/N] [--fresh] [--check] [--quiet] SPEC",
	summary: "run a design-space sweep (a TOML spec, or an embedded one such as lenet5_array_sram): one row per point, resumable, shardable",
	run:     runSweep,
}

func runSweep(c *command, e *env, args []string) error {
	fs := newFlags(c, e)
	out := fs.String("o", "", "append rows to this CSV `file` and resume from it (default: CSV on stdout, no resuming; a device or FIFO is written, never resumed)")
	jsonl := fs.String("jsonl", "", "also append rows to this JSON Lines `file` (resumed the same way; - is stdout)")
	workers := fs.Int("workers", 0, fmt.Sprintf("points simulated at once, at most %d (default: every core)", sweep.MaxWorkers))
	shardFlag := fs.String("shard", "0/1", "run only shard `i/N` of the points, e.g. $SLURM_ARRAY_TASK_ID/8: a deterministic share that gives every shard the same mix of models, methods, plans, batch sizes and hardware (the same spec and N on every node partition the points exactly)")
	fresh := fs.Bool("fresh", false, "start the output files over instead of resuming them")
	check := fs.Bool("check", false, "validate the spec and exit without simulating: print its file, points, columns and swept profile keys, and the estimated simulation time (one core; from each point's model size, method, batch and plan, not its hardware); with --shard i/N also each shard's points, model and method mix, and estimate, so that an imbalance shows before submission")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if err := fs.parse(args, 1); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want one sweep spec (a .toml file or an embedded name: %s)", strings.Join(sweep.Embedded(), ", "))
	}
	if *workers < 0 || *workers > sweep.MaxWorkers {
		return usagef("--workers must be in 1..%d (got %d)", sweep.MaxWorkers, *workers)
	}
	shard, err := sweep.ParseShard(*shardFlag)
	if err != nil {
		return usagef("--shard: %v", err)
	}
	if *check {
		if err := fs.only("to --check", "check", "shard"); err != nil {
			return err
		}
	}
	spec, err := sweep.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	if *check {
		return spec.WriteCheck(e.stdout, shard)
	}
	opts := sweep.Options{Workers: *workers, Shard: shard, CSV: *out, JSONL: *jsonl, Fresh: *fresh}
	csvStdout, jsonlStdout := *out == "" || *out == "-", *jsonl == "-"
	switch {
	case csvStdout && jsonlStdout:
		return usagef("-o and --jsonl both name standard output: give -o a file")
	case csvStdout:
		opts.CSV, opts.Stdout = "", e.stdout
	case jsonlStdout:
		opts.JSONL, opts.JSONLStream = "", e.stdout
	}
	if *fresh && csvStdout && (*jsonl == "" || jsonlStdout) {
		return usagef("--fresh does not apply to standard output (it starts over the files of -o and --jsonl)")
	}
	if !csvStdout && *jsonl != "" && !jsonlStdout && fileio.SameFile(*out, *jsonl) {
		// Two writers to one device (/dev/null) are harmless; to one file, not.
		if _, info, err := fileio.Resolve(*out); err != nil || info == nil || info.Mode().IsRegular() {
			return usagef("-o and --jsonl name the same file %s", *out)
		}
	}
	if !*quiet {
		opts.Progress = progress.New(e.stderr)
	}
	// SIGINT and SIGTERM (Slurm's time limit, a Kubernetes eviction) stop the sweep:
	// the simulations in flight stop at once, the rows already complete stay, and
	// rerunning resumes; the exit status is then 128 + the signal's number. A second
	// signal kills as usual.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case sig := <-sigs:
			signal.Stop(sigs)
			cancel(&interrupted{sig})
		case <-ctx.Done():
		}
	}()
	sum, err := sweep.Run(ctx, spec, opts)
	if sum != nil && sum.Dropped > 0 {
		fmt.Fprintf(e.stderr, "rctsim sweep: cut a partial last row (%d bytes) left by an interrupted run\n", sum.Dropped)
	}
	if err != nil {
		if sum != nil && sum.Abandoned > 0 {
			fmt.Fprintf(e.stderr, "rctsim sweep: stopped %d points part way; rerunning simulates them\n", sum.Abandoned)
		}
		var intr *interrupted
		if errors.As(context.Cause(ctx), &intr) {
			return &exitError{err: err, status: intr.status()}
		}
		return err
	}
	if !*quiet && sum.Duplicates > 0 {
		fmt.Fprintf(e.stderr, "rctsim sweep: %d points repeat an earlier point's configuration and were written once\n", sum.Duplicates)
	}
	if sum.Failed > 0 && !*quiet {
		fmt.Fprintf(e.stderr, "rctsim sweep: %d points failed; their rows carry the error\n", sum.Failed)
	}
	return nil
}

var cmdMerge = &command{
	name:    "merge",
	usage:   "[-o OUT.csv] [--spec SPEC] [--shards N] IN.csv|'PATTERN' ...",
	summary: "join sweep outputs (e.g. one per shard) by point hash, reporting duplicated and missing points",
	run:     runMerge,
}

func runMerge(c *command, e *env, args []string) error {
	fs := newFlags(c, e)
	out := fs.String("o", "", "write the merged CSV to `file` (default: stdout)")
	specName := fs.String("spec", "", "the sweep `spec` the inputs come from: check their columns and name every missing point")
	shards := fs.Int("shards", 0, "with --spec, the `N` of --shard i/N the sweep ran with: name the shard of each missing point (to rerun: Slurm's sbatch --array=IDS)")
	if err := fs.parse(args, math.MaxInt); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("want at least one sweep CSV to merge")
	}
	if *shards < 0 {
		return usagef("--shards must be positive (got %d)", *shards)
	}
	if *shards > 0 && *specName == "" {
		return usagef("--shards needs --spec: which shard a point belongs to depends on the spec's number of points")
	}
	var spec *sweep.Spec
	if *specName != "" {
		var err error
		if spec, err = sweep.Open(*specName); err != nil {
			return err
		}
	}
	names, err := expandInputs(fs.Args())
	if err != nil {
		return err
	}
	var inputs []sweep.MergeInput
	for _, name := range names {
		if name == "-" {
			return usagef("merge reads files, not standard input (-): name the sweep CSVs")
		}
		if *out != "" && *out != "-" && fileio.SameFile(name, *out) {
			return usagef("input %s is also the output (-o)", name)
		}
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		inputs = append(inputs, sweep.MergeInput{Name: name, R: f})
	}
	var rep *sweep.MergeReport
	err = output(e, *out, func(w io.Writer) error {
		var err error
		rep, err = sweep.Merge(w, inputs, spec)
		return err
	})
	if err != nil {
		return err
	}
	rep.WriteSummary(e.stderr, len(inputs), *shards)
	if !rep.Complete() {
		return fmt.Errorf("the merged sweep is incomplete or inconsistent (output written)")
	}
	return nil
}

// expandInputs expands the inputs of merge that are glob patterns (results/shard-*.csv)
// and name no file: where no shell expanded them, in a container without one. A
// pattern that matches nothing is an error.
func expandInputs(args []string) ([]string, error) {
	var names []string
	for _, a := range args {
		if !strings.ContainsAny(a, "*?[") {
			names = append(names, a)
			continue
		}
		if _, err := os.Stat(a); err == nil {
			names = append(names, a)
			continue
		}
		matches, err := filepath.Glob(a)
		if err != nil {
			return nil, usagef("input %s: %v", a, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("input %s: no file matches", a)
		}
		names = append(names, matches...)
	}
	return names, nil
}

// interrupted is the cause of a sweep stopped by a signal.
type interrupted struct{ sig os.Signal }

func (i *interrupted) Error() string {
	switch i.sig {
	case os.Interrupt:
		return "stopped by SIGINT"
	case syscall.SIGTERM:
		return "stopped by SIGTERM"
	}
	return "stopped by signal " + i.sig.String()
}

// status is the exit status of a command a signal stopped: 128 + the signal's number,
// as a shell reports a command killed by it.
func (i *interrupted) status() int {
	if s, ok := i.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}
