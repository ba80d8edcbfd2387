package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/traces"
	"github.com/rctsim/rctsim/train/numerics"
)

var cmdSim = &command{
	name:    "sim",
	usage:   "[--hw FILE] [--model lenet5] [--method rct|qat|fp32] [--bits 8|8,6,8,8,8] [--batch 32] [--set key=value ...] [--format table|json|csv] [-o FILE] [--dump FILE] [--trace FILE] | --program FILE | --topology FILE [--gemm] [--dram model|ideal]",
	summary: "simulate one training step of a model (or a SCALE-Sim topology, forward only, layer by layer)",
	run:     runSim,
}

type simFlags struct {
	hw, model, method, bits, format, out, topology, dram string
	program, dump, trace                                 string
	batch                                                int
	gemm, ledger, forward                                bool
	sets                                                 multiFlag
}

func runSim(c *command, e *env, args []string) error {
	var f simFlags
	fs := newFlags(c, e)
	fs.StringVar(&f.hw, "hw", "", "hardware profile `file` (default: the embedded configs/default.toml)")
	fs.StringVar(&f.model, "model", "lenet5", modelHelp())
	fs.StringVar(&f.method, "method", "rct", "training method: rct, qat or fp32")
	fs.StringVar(&f.bits, "bits", "8", "weight bitwidth: one for every layer, or one per weight layer (8,6,8,8,8)")
	fs.IntVar(&f.batch, "batch", 32, "examples per training step")
	fs.Var(&f.sets, "set", "override a profile key: `key.path=value` (repeatable), e.g. mac_array.rows=32")
	fs.StringVar(&f.format, "format", "table", "output format: table, json or csv")
	fs.StringVar(&f.out, "o", "", "write the result to `file` instead of stdout")
	fs.StringVar(&f.topology, "topology", "", "per-layer report: a SCALE-Sim topology CSV `file` (forward only, each layer on its own), or a built-in model's name (its training step, or inference with --forward)")
	fs.BoolVar(&f.forward, "forward", false, "with --topology MODEL, report inference (the forward pass) instead of the training step")
	fs.BoolVar(&f.gemm, "gemm", false, "the topology file is in SCALE-Sim's GEMM format (Layer Name, M, N, K)")
	fs.StringVar(&f.dram, "dram", "model", "DRAM timing: model (banks and rows) or ideal (no memory stalls, compute cycles only)")
	fs.BoolVar(&f.ledger, "ledger", false, "with --format json, include every non-zero cell of the energy ledger")
	fs.StringVar(&f.program, "program", "", "simulate the program dump in `file` (see traces) instead of compiling a model")
	fs.StringVar(&f.dump, "dump", "", "also write the compiled program to `file` as a program dump")
	fs.StringVar(&f.trace, "trace", "", "also write a timeline of the simulated step to `file` in Chrome trace-event JSON (open it in ui.perfetto.dev)")
	if err := parse(fs, args, 0); err != nil {
		return err
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
	prof, err := loadProfile(f.hw, f.sets)
	if err != nil {
		return err
	}
	var timeline *traces.Timeline
	simOpts := sim.Options{IdealDRAM: f.dram == "ideal"}
	if f.trace != "" {
		timeline = &traces.Timeline{}
		simOpts.Hooks = append(simOpts.Hooks, timeline)
	}
	machine, err := sim.New(prof, simOpts)
	if err != nil {
		return err
	}
	opts := kernels.Options{Method: method, Batch: f.batch, Plan: numerics.Plan{Bits: bits}}
	if f.dram == "ideal" {
		// Nothing to overlap with ideal memory: keep layers whole, as SCALE-Sim does.
		opts.PipelineDepth = 1
	}
	if f.topology != "" {
		return simTopology(e, &f, machine, opts)
	}
	prog, layerNames, err := simProgram(&f, prof, opts)
	if err != nil {
		return err
	}
	if f.program != "" {
		opts.Method, opts.Batch, opts.Plan = prog.Method, prog.Batch, numerics.Plan{}
	}
	if f.dump != "" {
		if err := output(e, f.dump, func(w io.Writer) error { return traces.WriteProgram(w, prog) }); err != nil {
			return err
		}
	}
	stats, err := machine.Run(prog)
	if err != nil {
		return err
	}
	if timeline != nil {
		err := output(e, f.trace, func(w io.Writer) error { return timeline.WriteChromeTrace(w, prof.Clock.Hz(), layerNames) })
		if err != nil {
			return err
		}
	}
	report := stats.Report(f.ledger)
	return output(e, f.out, func(w io.Writer) error {
		switch f.format {
		case "json":
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(report)
		case "csv":
			names, values := report.Columns()
			cw := csv.NewWriter(w)
			cw.Write(names)
			cw.Write(values)
			cw.Flush()
			return cw.Error()
		}
		return printTable(w, prof, stats, opts)
	})
}

// simProgram compiles the model the flags name, or reads the program dump they name,
// and returns it with the names of its layers.
func simProgram(f *simFlags, prof *hw.Profile, opts kernels.Options) (*kernels.Program, []string, error) {
	if f.program != "" {
		file, err := os.Open(f.program)
		if err != nil {
			return nil, nil, err
		}
		defer file.Close()
		prog, err := traces.ReadProgram(file, f.program)
		if err != nil {
			return nil, nil, err
		}
		var names []string
		if net, err := models.ByName(prog.Model); err == nil {
			names = layerNames(net)
		}
		return prog, names, nil
	}
	net, err := models.ByName(f.model)
	if err != nil {
		return nil, nil, usagef("--model: %v", err)
	}
	prog, err := kernels.Compile(net, prof, opts)
	return prog, layerNames(net), err
}

func layerNames(net *models.Network) []string {
	names := make([]string, len(net.Layers))
	for i, l := range net.Layers {
		names[i] = l.Name
	}
	return names
}

// simTopology runs each layer of a SCALE-Sim topology on its own, forward only, and
// prints one CSV row per layer.
func simTopology(e *env, f *simFlags, machine *sim.Machine, opts kernels.Options) error {
	file, err := os.Open(f.topology)
	if errors.Is(err, os.ErrNotExist) {
		if net, merr := models.ByName(f.topology); merr == nil {
			return simModelLayers(e, f, net, machine.Profile(), opts)
		}
	}
	if err != nil {
		return err
	}
	defer file.Close()
	layers, err := models.ReadTopology(file, f.topology, f.gemm)
	if err != nil {
		return err
	}
	opts.ForwardOnly = true
	type row struct {
		name  string
		stats *sim.Stats
	}
	rows := make([]row, 0, len(layers))
	for _, tl := range layers {
		l := tl.Layer
		net := &models.Network{Name: l.Name, Input: l.In, Classes: l.Out.C, Layers: []models.Layer{l}}
		opts.Batch = tl.Batch
		prog, err := kernels.Compile(net, machine.Profile(), opts)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", f.topology, tl.Line, err)
		}
		stats, err := machine.Run(prog)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", f.topology, tl.Line, err)
		}
		rows = append(rows, row{l.Name, stats})
	}
	return output(e, f.out, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"layer", "total_cycles", "stall_cycles", "compute_cycles", "mac_util_pct", "dram_read_bytes", "dram_write_bytes", "energy_pj"})
		for _, r := range rows {
			s := r.stats
			cw.Write([]string{r.name,
				strconv.FormatUint(s.Cycles, 10),
				strconv.FormatUint(s.Cycles-min(s.Cycles, s.ComputeCycles), 10),
				strconv.FormatUint(s.ComputeCycles, 10),
				strconv.FormatFloat(100*s.MACUtilization(), 'f', 2, 64),
				strconv.FormatInt(s.DRAM.ReadBytes, 10),
				strconv.FormatInt(s.DRAM.WriteBytes, 10),
				strconv.FormatFloat(s.Energy.Total(), 'f', 1, 64)})
		}
		cw.Flush()
		return cw.Error()
	})
}

// simModelLayers reports a built-in model's step layer by layer and phase by phase.
func simModelLayers(e *env, f *simFlags, net *models.Network, prof *hw.Profile, opts kernels.Options) error {
	opts.ForwardOnly = f.forward
	prog, err := kernels.Compile(net, prof, opts)
	if err != nil {
		return err
	}
	machine, err := sim.New(prof, sim.Options{IdealDRAM: f.dram == "ideal", PerLayer: true})
	if err != nil {
		return err
	}
	stats, err := machine.Run(prog)
	if err != nil {
		return err
	}
	return output(e, f.out, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		header := []string{"layer", "kind", "phase", "instructions", "first_cycle", "last_cycle", "total_cycles", "stall_cycles", "compute_cycles",
			"mac_util_pct", "macs", "dram_read_bytes", "dram_write_bytes", "energy_pj"}
		for c := sim.Component(0); c < sim.NumComponents; c++ {
			header = append(header, "energy_"+c.String()+"_pj")
		}
		cw.Write(header)
		g := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
		for _, l := range stats.Layers {
			span := l.Last - l.First
			util := 0.0
			if span > 0 {
				util = 100 * float64(l.MappedPECycles) / (float64(stats.PEs) * float64(span))
			}
			var total float64
			for _, v := range l.EnergyPJ {
				total += v
			}
			layer := net.Layers[l.Layer]
			row := []string{layer.Name, string(layer.Kind), l.Phase.String(), strconv.Itoa(l.Instructions),
				strconv.FormatUint(l.First, 10), strconv.FormatUint(l.Last, 10), strconv.FormatUint(span, 10),
				strconv.FormatUint(span-min(span, l.ComputeCycles), 10), strconv.FormatUint(l.ComputeCycles, 10),
				strconv.FormatFloat(util, 'f', 2, 64), strconv.FormatInt(l.MACs, 10),
				strconv.FormatInt(l.DRAMReadBytes, 10), strconv.FormatInt(l.DRAMWriteBytes, 10), g(total)}
			for _, v := range l.EnergyPJ {
				row = append(row, g(v))
			}
			cw.Write(row)
		}
		cw.Flush()
		return cw.Error()
	})
}

// printTable writes the human summary of one simulated step.
func printTable(w io.Writer, prof *hw.Profile, s *sim.Stats, opts kernels.Options) error {
	r := s.Report(false)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	total := r.EnergyPJ["total"]
	pct := func(v float64) string {
		if total == 0 {
			return "-"
		}
		return fmt.Sprintf("%5.1f%%", 100*v/total)
	}
	arr := prof.MACArray
	fmt.Fprintf(tw, "profile\t%s (%dx%d %s, %s)\n", prof.Name, arr.Rows, arr.Cols, arr.Dataflow, prof.Clock)
	fmt.Fprintf(tw, "step\t%s, %s, batch %d, bits %s\n", r.Model, r.Method, r.Batch, bitsLabel(opts))
	fmt.Fprintf(tw, "time\t%d cycles\t%s\n", r.Cycles, siUnit(r.Seconds, "s"))
	fmt.Fprintf(tw, "MACs\t%d\tarray utilisation %.1f%%, DRAM bus %.1f%%\n", r.MACs, 100*r.Utilization["mac_array"], 100*r.Utilization["dram_bus"])
	fmt.Fprintf(tw, "energy\t%s\n", siUnit(total*1e-12, "J"))
	for c := sim.Component(0); c < sim.NumComponents; c++ {
		v := r.EnergyPJ[c.String()]
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", c, siUnit(v*1e-12, "J"), pct(v))
	}
	fmt.Fprintf(tw, "moving tensors\t(SRAM + DRAM)\t\n")
	for cl := kernels.TensorClass(0); cl < kernels.ClassNone; cl++ {
		if v := r.EnergyByTensor[cl.String()]; v != 0 {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", cl, siUnit(v*1e-12, "J"), pct(v))
		}
	}
	fmt.Fprintf(tw, "by phase\t\t\n")
	for p := models.Phase(0); p < models.NumPhases; p++ {
		v := r.EnergyByPhase[p.String()]
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", p, siUnit(v*1e-12, "J"), pct(v))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "DRAM                 read %d B, written %d B; %d activates, %d row hits, %d misses, %d conflicts\n",
		r.DRAM.ReadBytes, r.DRAM.WriteBytes, r.DRAM.Activates, r.DRAM.RowHits, r.DRAM.RowMisses, r.DRAM.RowConflicts)
	fmt.Fprintf(w, "SRAM                 read %d B, written %d B; peak occupancy %d B\n", r.SRAM.ReadBytes, r.SRAM.WriteBytes, r.SRAM.PeakBytes)
	fmt.Fprintf(w, "memory (DRAM bytes) ")
	for _, k := range []string{"params", "master_params", "optimizer_state", "activations", "errors", "gradients"} {
		fmt.Fprintf(w, " %s %d", k, r.MemoryBytes[k])
	}
	_, err := fmt.Fprintln(w)
	return err
}

func bitsLabel(o kernels.Options) string {
	switch {
	case o.Plan.Bits == nil:
		return "as in the program"
	case o.Method == numerics.FP32:
		return "32 (fp32)"
	}
	return o.Plan.String()
}

// siUnit prints v with an SI prefix: 0.00084 s -> "840.0 µs".
func siUnit(v float64, unit string) string {
	prefixes := []struct {
		scale float64
		name  string
	}{{1, ""}, {1e-3, "m"}, {1e-6, "µ"}, {1e-9, "n"}, {1e-12, "p"}}
	for _, p := range prefixes {
		if v >= p.scale || p.scale == 1e-12 {
			return fmt.Sprintf("%.3g %s%s", v/p.scale, p.name, unit)
		}
	}
	return fmt.Sprintf("%g %s", v, unit)
}
