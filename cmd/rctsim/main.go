// Command rctsim simulates edge accelerators training neural networks: it compiles
// training steps for a hardware profile and executes them cycle by cycle, reporting
// time, energy and memory.
//
// Usage:
//
//	rctsim <command> [flags]
//
// Run `rctsim help` for the commands and `rctsim help <command>` for one command's flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// command is one subcommand: a name, a one-line summary and a runner that parses its
// own flag set.
type command struct {
	name    string
	usage   string // the argument synopsis
	summary string
	run     func(c *command, env *env, args []string) error
}

// env is what a command may touch: its output streams. Tests run commands with buffers.
type env struct {
	stdout, stderr io.Writer
}

// usageError is bad command-line input: it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

var commands []*command

func init() {
	// Assigned in init because the help command refers to the table.
	commands = []*command{cmdDemo, cmdSim, cmdTrain, cmdCompare, cmdProfiles, cmdDRAM, cmdSweep, cmdMerge, cmdPlot, cmdHelp}
}

func main() {
	os.Exit(run(os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr}))
}

// run executes a command line and returns the exit status: 0 success, 1 failure, 2 bad
// usage.
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
		switch {
		case err == nil || errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
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

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "rctsim simulates edge accelerators training neural networks.")
	fmt.Fprintln(w, "\nUsage:\n\n\trctsim <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'rctsim help <command>' for a command's flags.")
}

var errFlagParse = errors.New("flag parse error")

// newFlags returns a flag set that reports errors (not exits) and prints its usage to
// the command's stderr.
func newFlags(c *command, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: rctsim %s %s\n\n%s\n\nFlags:\n", c.name, c.usage, c.summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and rejects stray arguments: the flag package stops at the first
// positional argument, so `sim extra -format json` would silently ignore -format.
func parse(fs *flag.FlagSet, args []string, maxArgs int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errFlagParse
	}
	if fs.NArg() > maxArgs {
		return usagef("unexpected argument %q", fs.Arg(maxArgs))
	}
	return nil
}

// multiFlag collects a repeatable flag (--set a=b --set c=d).
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

var cmdHelp = &command{
	name:    "help",
	usage:   "[command]",
	summary: "show the commands, or one command's flags",
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
