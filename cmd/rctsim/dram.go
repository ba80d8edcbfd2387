package main

import (
	"encoding/json"
	"io"
	"os"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/sim/dram"
)

var cmdDRAM = &command{
	name:    "dram",
	usage:   "[--hw NAME|FILE] [--set key=value ...] [--format table|json] [-o FILE] TRACE",
	summary: "replay a DRAMsim3-format memory request trace (plain or gzip) through the DRAM model alone",
	run:     runDRAM,
}

func runDRAM(c *command, e *env, args []string) error {
	var (
		h                  hwFlags
		trace, format, out string
	)
	fs := newFlags(c, e)
	fs.StringVar(&h.hw, "hw", "", "a chip profile or a DRAM-only profile: an embedded `name` (dram/ddr4_3200) or a file (default: the embedded default chip's DRAM)")
	fs.Var(&h.sets, "set", "override a DRAM key of a chip profile: `dram.key=value` (repeatable)")
	fs.StringVar(&trace, "in", "", "the request trace, if not given as an argument")
	fs.deprecated("trace", "in")
	fs.StringVar(&format, "format", "table", "output format: table or json")
	fs.StringVar(&out, "o", "", "write the report to `file` instead of stdout")
	if err := fs.parse(args, 1); err != nil {
		return err
	}
	if err := fs.input(&trace, "trace"); err != nil {
		return err
	}
	if trace == "" {
		return usagef("want a request trace file: one request per line, hex address, READ or WRITE, issue cycle in DRAM clocks")
	}
	if format != "table" && format != "json" {
		return usagef("unknown --format %q (want table or json)", format)
	}
	if h.hw == "" {
		h.hw = configs.Default
	}
	spec, err := hw.OpenDRAM(h.hw, configs.FS, h.sets)
	if err != nil {
		return err
	}
	file, err := os.Open(trace)
	if err != nil {
		return err
	}
	defer file.Close()
	reqs, err := dram.ReadTrace(file, trace)
	if err != nil {
		return err
	}
	report, err := dram.Replay(spec, reqs)
	if err != nil {
		return err
	}
	return output(e, out, func(w io.Writer) error {
		if format == "json" {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(report)
		}
		_, err := io.WriteString(w, report.String())
		return err
	})
}
