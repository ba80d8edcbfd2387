package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/sim/dram"
)

var cmdDRAM = &command{
	name:    "dram",
	usage:   "--trace FILE [--hw FILE] [--set key=value ...] [--format table|json] [-o FILE]",
	summary: "replay a DRAMsim3-format memory request trace (plain or gzip) through the DRAM model alone",
	run:     runDRAM,
}

func runDRAM(c *command, e *env, args []string) error {
	var (
		hwPath, trace, format, out string
		sets                       multiFlag
	)
	fs := newFlags(c, e)
	fs.StringVar(&hwPath, "hw", "", "a chip profile or a DRAM-only profile `file` (e.g. configs/dram/ddr4_3200.toml; default: the embedded default chip's DRAM)")
	fs.StringVar(&trace, "trace", "", "request trace `file`: one request per line, hex address, READ or WRITE, issue cycle in DRAM clocks")
	fs.Var(&sets, "set", "override a DRAM key of a chip profile: `dram.key=value` (repeatable)")
	fs.StringVar(&format, "format", "table", "output format: table or json")
	fs.StringVar(&out, "o", "", "write the report to `file` instead of stdout")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if trace == "" {
		return usagef("--trace is required")
	}
	if format != "table" && format != "json" {
		return usagef("unknown --format %q (want table or json)", format)
	}
	spec, err := loadDRAMSpec(hwPath, sets)
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

// loadDRAMSpec reads the DRAM of a chip profile, or a DRAM-only profile (one without a
// [mac_array] table). Embedded DRAM profiles are named dram/NAME.toml.
func loadDRAMSpec(path string, sets []string) (hw.DRAMSpec, error) {
	if path == "" {
		prof, err := loadProfile("", sets)
		if err != nil {
			return hw.DRAMSpec{}, err
		}
		return prof.DRAM, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && strings.HasPrefix(path, "dram/") {
		p, err := hw.LoadDRAM(configs.FS, path)
		if err != nil {
			return hw.DRAMSpec{}, err
		}
		return p.DRAM, nil
	}
	if err != nil {
		return hw.DRAMSpec{}, err
	}
	if !bytes.Contains(data, []byte("[mac_array")) {
		if len(sets) > 0 {
			return hw.DRAMSpec{}, usagef("--set applies to chip profiles; edit the DRAM profile instead")
		}
		p, err := hw.DecodeDRAM(bytes.NewReader(data), path)
		if err != nil {
			return hw.DRAMSpec{}, err
		}
		return p.DRAM, nil
	}
	prof, err := loadProfile(path, sets)
	if err != nil {
		return hw.DRAMSpec{}, err
	}
	return prof.DRAM, nil
}
