package main

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/traces/program"
	"github.com/rctsim/rctsim/traces/timeline"
	"github.com/rctsim/rctsim/train/numerics"
)

var cmdSim = &command{
	name: "sim",
	usage: "[--hw NAME|FILE] [--set key=value ...] [--model lenet5|FILE.onnx] [--input-shape CxHxW] [--method rct|qat|fp32|niti|fp8] [--rct-momentum 0.875] [--bits 8|8,6,8,8,8] [--update MASK] [--batch 32] [--format table|json|csv] [-o FILE] [--dump FILE] [--trace FILE]\n" +
		"       rctsim sim --model lenet5|FILE.onnx --summary [--input-shape CxHxW] [-o FILE]\n" +
		"       rctsim sim --program FILE [--format ...] [-o FILE] [--trace FILE]\n" +
		"       rctsim sim --topology FILE|MODEL|FILE.onnx [--gemm | --forward] [--batch N] [--dram model|ideal] [-o FILE] [--scalesim-report DIR]",
	summary: "simulate one training step of a model (built-in or ONNX), a program dump, or the layers of a topology (SCALE-Sim file or model)",
	run:     runSim,
}

type simFlags struct {
	hwFlags
	model, method, bits, format, out, topology, dram, fidelity string
	update                                                     string
	program, dump, trace, inputShape                           string
	scalesimReport, scalesimPython                             string
	batch                                                      int
	rctMomentum                                                float64
	gemm, ledger, forward, summary                             bool
}

// Flags of each sim mode; any other flag given is an error.
var (
	simShared       = []string{"hw", "set", "o", "dram", "fidelity"}
	simModelFlags   = append([]string{"model", "input-shape", "method", "rct-momentum", "bits", "update", "batch", "format", "ledger", "dump", "trace"}, simShared...)
	simSummaryFlags = []string{"model", "input-shape", "summary", "o"}
	simProgramFlags = append([]string{"program", "format", "ledger", "trace"}, simShared...)
	simFileFlags    = append([]string{"topology", "gemm", "method", "bits", "batch", "scalesim-report", "scalesim-python"}, simShared...)
	simLayersFlags  = append([]string{"topology", "input-shape", "forward", "method", "rct-momentum", "bits", "update", "batch"}, simShared...)
)

func runSim(c *command, e *env, args []string) error {
	var f simFlags
	fs := newFlags(c, e)
	f.hwFlags.register(fs)
	fs.StringVar(&f.model, "model", "lenet5", modelHelp())
	fs.StringVar(&f.inputShape, "input-shape", "", inputShapeHelp)
	fs.BoolVar(&f.summary, "summary", false, "print the model's layers (kind, shapes, parameters, forward MACs) and totals instead of simulating")
	fs.StringVar(&f.method, "method", "rct", "training method: rct, qat, fp32, niti or fp8")
	fs.Float64Var(&f.rctMomentum, "rct-momentum", 0, "rct: price the update with integer momentum 1 - 2^-k (0.5, 0.75, 0.875, ...; 0: none), as train --rct-momentum: an int16 buffer per updated parameter")
	fs.StringVar(&f.update, "update", "", "update mask: all (default), bias-only, last:N or layers:U,U,... (see rctsim help train)")
	fs.StringVar(&f.bits, "bits", "8", "weight bitwidth: one for every layer, or one per weight layer (8,6,8,8,8)")
	fs.IntVar(&f.batch, "batch", 32, "examples per training step (with --topology FILE: images per layer, default 1)")
	fs.StringVar(&f.format, "format", "table", "output format: table, json or csv")
	fs.StringVar(&f.out, "o", "", "write the result to `file` instead of stdout")
	fs.StringVar(&f.topology, "topology", "", "per-layer report: a SCALE-Sim topology CSV `file` (forward only, each layer on its own), or a built-in model's name (its training step, or inference with --forward)")
	fs.BoolVar(&f.forward, "forward", false, "with --topology MODEL, report inference (the forward pass) instead of the training step")
	fs.BoolVar(&f.gemm, "gemm", false, "the topology file is in SCALE-Sim's GEMM format (Layer Name, M, N, K)")
	fs.StringVar(&f.dram, "dram", "model", "DRAM timing: model (banks and rows) or ideal (no memory stalls, compute cycles only)")
	fs.StringVar(&f.fidelity, "fidelity", "exact", "exact (every DRAM burst scheduled) or fast (repeated transfers answered from samples: within 0.5% of exact on the shipped profiles, up to 0.61% measured on closed-page DRAMs; see the README)")
	fs.BoolVar(&f.ledger, "ledger", false, "with --format json, include every non-zero cell of the energy ledger")
	fs.StringVar(&f.program, "program", "", "simulate the program dump in `file` (see traces) instead of compiling a model")
	fs.StringVar(&f.dump, "dump", "", "also write the compiled program to `file` as a program dump")
	fs.StringVar(&f.scalesimReport, "scalesim-report", "", "with --topology FILE, also write SCALE-Sim's COMPUTE_REPORT.csv for the file and the array (SCALE-Sim's rules) and RCTSIM_COMPARISON.csv (its cycles next to rctsim's, and why they differ) into `dir`")
	fs.StringVar(&f.scalesimPython, "scalesim-python", "3.12", "with --scalesim-report, the Python `version` whose float sums to match (before 3.12 Python sums without compensation: the utilisations' last digits differ)")
	fs.StringVar(&f.trace, "trace", "", "also write a timeline of the simulated step to `file` in Chrome trace-event JSON (open it in ui.perfetto.dev)")
	if err := fs.parse(args, 0); err != nil {
		return err
	}
	if err := f.checkMode(fs); err != nil {
		return err
	}
	if f.summary {
		net, err := openModel(f.model, f.inputShape, false)
		if err != nil {
			return err
		}
		return output(e, f.out, func(w io.Writer) error { return models.WriteSummary(w, net) })
	}
	switch f.format {
	case "table", "json", "csv":
	default:
		return usagef("unknown --format %q (want table, json or csv)", f.format)
	}
	if f.dram != "model" && f.dram != "ideal" {
		return usagef("unknown --dram %q (want model or ideal)", f.dram)
	}
	if f.batch <= 0 {
		return usagef("--batch must be positive (got %d)", f.batch)
	}
	method, err := numerics.ParseMethod(f.method)
	if err != nil {
		return usagef("%v", err)
	}
	bits, err := numerics.ParseBits(f.bits)
	if err != nil {
		return usagef("--bits: %v", err)
	}
	prof, err := f.load()
	if err != nil {
		return err
	}
	update, err := numerics.ParseUpdate(f.update)
	if err != nil {
		return usagef("--update: %v", err)
	}
	momentum, err := numerics.MomentumShift(f.rctMomentum)
	if err != nil {
		return usagef("--rct-momentum: %v", err)
	}
	if slices.Contains(fs.given(), "rct-momentum") && method != numerics.RCT {
		return usagef("--rct-momentum is RCT's integer momentum; it does not apply to --method %s", method)
	}
	opts := kernels.Options{Method: method, Batch: f.batch, Plan: numerics.Plan{Bits: bits}, Update: update, MomentumShift: momentum}
	if f.dram == "ideal" {
		// Nothing to overlap with ideal memory: keep layers whole, as SCALE-Sim does.
		opts.PipelineDepth = 1
	}
	fidelity, err := sim.ParseFidelity(f.fidelity)
	if err != nil {
		return usagef("--fidelity: %v", err)
	}
	simOpts := sim.Options{IdealDRAM: f.dram == "ideal", Fidelity: fidelity}
	if f.topology != "" {
		if !f.topologyIsModel() && !slices.Contains(fs.given(), "batch") {
			opts.Batch = 1 // a topology file's rows run one image (or their M rows) each
		}
		if f.scalesimReport != "" && opts.Batch != 1 {
			return usagef("--scalesim-report compares with SCALE-Sim, which has no batch: leave out --batch")
		}
		if slices.Contains(fs.given(), "scalesim-python") && f.scalesimReport == "" {
			return usagef("-scalesim-python does not apply without --scalesim-report")
		}
		return simTopology(e, &f, prof, simOpts, opts)
	}
	var recorder *timeline.Recorder
	if f.trace != "" {
		recorder = &timeline.Recorder{}
		simOpts.Hooks = append(simOpts.Hooks, recorder)
	}
	machine, err := sim.New(prof, simOpts)
	if err != nil {
		return err
	}
	prog, net, err := simProgram(&f, prof, opts)
	if err != nil {
		return err
	}
	plan := &opts.Plan
	if f.program != "" {
		plan = nil
	}
	stats, err := machine.Run(prog)
	if err != nil {
		return err
	}
	// Every output is written only once the simulation succeeded.
	if f.dump != "" {
		if err := output(e, f.dump, func(w io.Writer) error { return program.Write(w, prog) }); err != nil {
			return err
		}
	}
	if recorder != nil {
		var names []string
		if net != nil {
			names = net.LayerNames()
		}
		err := output(e, f.trace, func(w io.Writer) error { return recorder.WriteChromeTrace(w, prof.Clock.Hz(), names) })
		if err != nil {
			return err
		}
	}
	report := stats.Report(f.ledger)
	return output(e, f.out, func(w io.Writer) error {
		switch f.format {
		case "json":
			return report.WriteJSON(w)
		case "csv":
			return report.WriteCSV(w)
		}
		return stats.WriteTable(w, prof, plan)
	})
}

// checkMode rejects the flags the chosen mode does not use.
func (f *simFlags) checkMode(flags *flagSet) error {
	switch {
	case f.program != "" && f.topology != "":
		return usagef("--program and --topology are two modes; give one")
	case f.summary && (f.program != "" || f.topology != ""):
		return usagef("--summary describes --model; it does not apply to --program or --topology")
	case f.summary:
		return flags.only("to --summary (a description of the model)", simSummaryFlags...)
	case f.program != "":
		return flags.only("to --program (the dump fixes the model, method, bits and batch)", simProgramFlags...)
	case f.topology == "":
		return flags.only("without --topology", simModelFlags...)
	case f.topologyIsModel():
		return flags.only("to --topology MODEL (a CSV per layer and phase)", simLayersFlags...)
	}
	return flags.only("to --topology FILE (a CSV per layer, forward only)", simFileFlags...)
}

// topologyIsModel reports whether --topology names a model (built-in, or an .onnx
// file) rather than a SCALE-Sim file (a file of a built-in model's name wins).
func (f *simFlags) topologyIsModel() bool {
	if strings.HasSuffix(strings.ToLower(f.topology), ".onnx") {
		return true
	}
	if _, err := os.Stat(f.topology); !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	_, err := models.ByName(f.topology)
	return err == nil
}

// simProgram compiles the model the flags name, or reads the program dump they name,
// and returns it with its network when known.
func simProgram(f *simFlags, prof *hw.Profile, opts kernels.Options) (*kernels.Program, *models.Network, error) {
	if f.program != "" {
		file, err := os.Open(f.program)
		if err != nil {
			return nil, nil, err
		}
		defer file.Close()
		prog, err := program.Read(file, f.program)
		if err != nil {
			return nil, nil, err
		}
		net, _ := models.ByName(prog.Model)
		return prog, net, nil
	}
	net, err := openModel(f.model, f.inputShape, false)
	if err != nil {
		return nil, nil, err
	}
	prog, err := kernels.Compile(net, prof, opts)
	return prog, net, err
}

// simTopology reports layer by layer: each layer of a SCALE-Sim topology file on its
// own, forward only; or a built-in model's step by layer and phase.
func simTopology(e *env, f *simFlags, prof *hw.Profile, simOpts sim.Options, opts kernels.Options) error {
	if f.topologyIsModel() {
		net, err := openModel(f.topology, f.inputShape, false)
		if err != nil {
			return err
		}
		opts.ForwardOnly = f.forward
		stats, err := sim.SimulateLayers(prof, net, opts, simOpts)
		if err != nil {
			return err
		}
		return output(e, f.out, func(w io.Writer) error { return stats.WriteLayersCSV(w, net) })
	}
	file, err := os.Open(f.topology)
	if err != nil {
		return err
	}
	defer file.Close()
	layers, err := models.ReadTopology(file, f.topology, f.gemm)
	if err != nil {
		return err
	}
	python311 := false
	if f.scalesimReport != "" {
		if python311, err = olderPython(f.scalesimPython); err != nil {
			return err
		}
		// Both outputs are checked before anything runs, so that neither is written when
		// the other cannot be.
		if st, err := os.Stat(f.scalesimReport); err == nil && !st.IsDir() {
			return usagef("--scalesim-report: %s is not a folder", f.scalesimReport)
		}
		if f.out != "" && f.out != "-" {
			if _, info, err := fileio.Resolve(f.out); err == nil && info != nil && info.IsDir() {
				return usagef("-o: %s is a folder", f.out)
			}
		}
		if _, _, err := sim.ScaleSimReport(prof, layers, nil, python311); err != nil {
			return err
		}
	}
	machine, err := sim.New(prof, simOpts)
	if err != nil {
		return err
	}
	runs, err := machine.RunTopology(f.topology, layers, opts)
	if err != nil {
		return err
	}
	if f.scalesimReport != "" {
		rows, cmp, err := sim.ScaleSimReport(prof, layers, runs, python311)
		if err != nil {
			return err
		}
		if err := output(e, filepath.Join(f.scalesimReport, "COMPUTE_REPORT.csv"), func(w io.Writer) error { return sim.WriteScaleSimComputeReport(w, rows) }); err != nil {
			return err
		}
		if err := output(e, filepath.Join(f.scalesimReport, "RCTSIM_COMPARISON.csv"), func(w io.Writer) error { return sim.WriteScaleSimComparison(w, cmp) }); err != nil {
			return err
		}
	}
	return output(e, f.out, func(w io.Writer) error { return sim.WriteLayerRunsCSV(w, runs) })
}

// olderPython reports whether a Python version ("3.11") sums floats without
// compensation, as Python did before 3.12.
func olderPython(v string) (bool, error) {
	major, minor, ok := strings.Cut(v, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if !ok || err1 != nil || err2 != nil || ma < 0 || mi < 0 {
		return false, usagef("--scalesim-python: want a version such as 3.12 (got %q)", v)
	}
	return ma < 3 || ma == 3 && mi < 12, nil
}
