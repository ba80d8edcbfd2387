// Command rctsim simulates edge accelerators training neural networks: it compiles
// training steps for a hardware profile and executes them cycle by cycle, reporting
// time, energy and memory.
//
// Usage:
//
//	rctsim <command> [flags] [inputs]
//
// Run `rctsim help` for the commands and the flag grammar they share, and
// `rctsim help <command>` for one command's flags. The command only parses flags and
// wires the packages together; the experiments themselves are in sim/experiment,
// sim/sweep and plots/figures.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rctsim/rctsim/sim/experiment"
)

// command is one subcommand: a name, its argument synopsis, a one-line summary and a
// runner that parses its own flag set.
type command struct {
	name    string
	usage   string
	summary string
	run     func(c *command, env *env, args []string) error
}

// env is what a command may touch: its output streams. Tests run commands with
// buffers.
type env struct {
	stdout, stderr io.Writer
}

// usageError is bad command-line input: it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// exitError is a failure with an exit status of its own (a sweep stopped by a signal).
type exitError struct {
	err    error
	status int
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

var commands []*command

func init() {
	// Assigned in init because the help command refers to the table.
	commands = []*command{cmdDemo, cmdSim, cmdTrain, cmdCompare, cmdModels, cmdProfiles, cmdDRAM, cmdSweep, cmdMerge, cmdPlot, cmdReport, cmdHelp}
}

func main() {
	os.Exit(run(os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr}))
}

// run executes a command line and returns the exit status: 0 success, 1 failure, 2 bad
// usage, 128 + the signal's number for a sweep a signal stopped.
func run(args []string, e *env) int {
	if len(args) == 0 {
		printUsage(e.stderr)
		return 2
	}
	name := args[0]
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(c, e, args[1:])
		var ue *usageError
		var oe *experiment.OptionError
		var xe *exitError
		switch {
		case err == nil || errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &xe):
			fmt.Fprintf(e.stderr, "rctsim %s: %v\n", name, err)
			return xe.status
		case errors.As(err, &ue), errors.As(err, &oe):
			fmt.Fprintf(e.stderr, "rctsim %s: %v\nRun 'rctsim help %s' for usage.\n", name, err, name)
			return 2
		case errors.Is(err, errFlagParse):
			return 2 // the flag set already printed the error and the usage
		default:
			fmt.Fprintf(e.stderr, "rctsim %s: %v\n", name, err)
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "rctsim: unknown command %q\n", name)
	printUsage(e.stderr)
	return 2
}

// grammar is the flag grammar every command follows; `rctsim help` prints it.
const grammar = `Flags every command reads the same way:

	-o PATH          the output: a file for sim, dram, sweep and merge (default:
	                 standard output; "-" is standard output too) and for report,
	                 a folder for train, compare, demo and plot
	INPUT, --in      inputs are positional arguments, after the flags (plot,
	                 report and dram also take --in)
	--hw NAME|FILE   a hardware profile: an embedded name (default, edge_tpu,
	                 dram/ddr4_3200, ...; see rctsim profiles) or a TOML file
	--set KEY=VALUE  override a profile key (repeatable)
	--formats LIST   figure formats, comma-separated: png, svg, pdf
	--force          replace an earlier run in the output folder

A flag that does not apply to what a command is asked to do is an error (exit 2),
never silently ignored. Boolean flags turn on what they name. Old spellings
(--out, --figures, plot --format, dram --trace, plot --min-x/--min-y) still work
for this release and print a deprecation line on stderr.

Exit status: 0 success, 1 failure, 2 bad usage; a sweep stopped by SIGINT or
SIGTERM exits 130 or 143 (128 + the signal's number, as a shell reports it),
keeping the whole rows it wrote: rerun it to resume.`

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "rctsim simulates edge accelerators training neural networks.")
	fmt.Fprintln(w, "\nUsage:\n\n\trctsim <command> [flags] [inputs]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\n%s\n\nRun 'rctsim help <command>' for a command's flags.\n", grammar)
}

var cmdHelp = &command{
	name:    "help",
	usage:   "[command]",
	summary: "show the commands and their shared flags, or one command's flags",
	run: func(_ *command, e *env, args []string) error {
		if len(args) == 0 {
			printUsage(e.stdout)
			return nil
		}
		for _, c := range commands {
			if c.name == args[0] {
				// The command prints its own flags when given -h.
				err := c.run(c, &env{stdout: e.stdout, stderr: e.stdout}, []string{"-h"})
				if errors.Is(err, flag.ErrHelp) {
					return nil
				}
				return err
			}
		}
		return usagef("unknown command %q", args[0])
	},
}
