package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/sim/sweep"
)

var cmdSweep = &command{
	name:    "sweep",
	usage:   "[-o FILE.csv] [--jsonl FILE.jsonl] [--workers N] [--shard i/N] [--fresh] [--check] [--quiet] SPEC",
	summary: "run a design-space sweep (a TOML spec, or an embedded one such as lenet5_array_sram): one row per point, resumable, shardable",
	run:     runSweep,
}

func runSweep(c *command, e *env, args []string) error {
	fs := newFlags(c, e)
	out := fs.String("o", "", "append rows to this CSV `file` and resume from it (default: CSV on stdout, no resuming)")
	jsonl := fs.String("jsonl", "", "also append rows to this JSON Lines `file` (resumed the same way)")
	workers := fs.Int("workers", 0, "points simulated at once (default: every core)")
	shardFlag := fs.String("shard", "0/1", "run only shard `i/N` of the points (point k belongs to shard k mod N), e.g. $SLURM_ARRAY_TASK_ID/8")
	fresh := fs.Bool("fresh", false, "start the output files over instead of resuming them")
	check := fs.Bool("check", false, "validate the spec, print its points and columns, and exit")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want one sweep spec (a .toml file or an embedded name: %s)", strings.Join(embeddedSweeps(), ", "))
	}
	if *workers < 0 {
		return usagef("--workers must be positive (got %d)", *workers)
	}
	shard, err := sweep.ParseShard(*shardFlag)
	if err != nil {
		return usagef("--shard: %v", err)
	}
	spec, err := loadSpec(fs.Arg(0))
	if err != nil {
		return err
	}
	if *check {
		cols := spec.Columns()
		fmt.Fprintf(e.stdout, "%s: %d points (shard %s: %d), %d columns\n", spec.File, spec.Len(), shard, shard.Len(spec.Len()), len(cols))
		fmt.Fprintf(e.stdout, "swept profile keys: %s\n", strings.Join(spec.ProfileColumns(), ", "))
		return nil
	}
	if *out != "" && *out == *jsonl {
		return usagef("-o and --jsonl name the same file")
	}
	opts := sweep.Options{Workers: *workers, Shard: shard, CSV: *out, JSONL: *jsonl, Fresh: *fresh}
	if *out == "" {
		opts.Stdout = e.stdout
	}
	if !*quiet {
		opts.Progress = e.stderr
		opts.Terminal = isTerminal(e.stderr)
	}
	// SIGINT and SIGTERM (Slurm's time limit, a Kubernetes eviction) stop the sweep
	// after the rows already complete; rerunning resumes.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := sweep.Run(ctx, spec, opts)
	if sum != nil && sum.Dropped > 0 {
		fmt.Fprintf(e.stderr, "rctsim sweep: cut a partial last row (%d bytes) left by an interrupted run\n", sum.Dropped)
	}
	if err != nil {
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

// loadSpec reads a sweep spec from a file, or an embedded one by name
// ("lenet5_array_sram" or "lenet5_array_sram.toml").
func loadSpec(name string) (*sweep.Spec, error) {
	if _, err := os.Stat(name); err == nil {
		return sweep.Load(name)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	file := "sweeps/" + strings.TrimSuffix(name, ".toml") + ".toml"
	if !strings.ContainsAny(name, `/\`) {
		if _, err := fs.Stat(configs.FS, file); err == nil {
			return sweep.LoadFS(configs.FS, file, ".")
		}
	}
	return nil, fmt.Errorf("%s: no such file, nor an embedded sweep (have %s)", name, strings.Join(embeddedSweeps(), ", "))
}

func embeddedSweeps() []string {
	files, _ := fs.Glob(configs.FS, "sweeps/*.toml")
	for i, f := range files {
		files[i] = strings.TrimSuffix(strings.TrimPrefix(f, "sweeps/"), ".toml")
	}
	return files
}

// isTerminal reports whether w is a terminal (a character device): progress then
// redraws one line instead of printing a line every few seconds.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
