package sim

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/traces/units"
	"github.com/rctsim/rctsim/train/numerics"
)

// WriteTable prints a person's summary of one simulated step on prof: time, MACs and
// utilisation, energy by component, tensor class and phase, DRAM and SRAM traffic and
// the DRAM footprint. plan is the step's precision plan (nil: the program's own, for a
// replayed dump).
func (s *Stats) WriteTable(w io.Writer, prof *hw.Profile, plan *numerics.Plan) error {
	bits := "as in the program"
	switch {
	case s.Method == numerics.FP32:
		bits = "32 (fp32)"
	case plan != nil:
		bits = plan.String()
	}
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
	fmt.Fprintf(tw, "step\t%s, %s, batch %d, bits %s\n", r.Model, r.Method, r.Batch, bits)
	switch r.DRAMModel {
	case string(FidelityFast):
		share := "-"
		if a := r.DRAMAnswered; a.Requests > 0 {
			share = fmt.Sprintf("%.0f%%", 100*float64(a.Answered)/float64(a.Requests))
		}
		fmt.Fprintf(tw, "DRAM model\tfast: %s of the requests answered from samples of repeated transfers, the rest burst by burst\n", share)
	case dramIdeal:
		fmt.Fprintf(tw, "DRAM model\tideal: transfers take no time and pay the per-bit energy only\n")
	}
	fmt.Fprintf(tw, "time\t%d cycles\t%s\n", r.Cycles, units.FormatSI(r.Seconds, "s"))
	fmt.Fprintf(tw, "MACs\t%d\tarray utilisation %.1f%%, DRAM bus %.1f%%\n", r.MACs, 100*r.Utilization["mac_array"], 100*r.Utilization["dram_bus"])
	fmt.Fprintf(tw, "energy\t%s\n", units.FormatSI(total*1e-12, "J"))
	for c := Component(0); c < NumComponents; c++ {
		v := r.EnergyPJ[c.String()]
		if v == 0 && (c == Spad || c == NoC) {
			continue // a systolic array has neither
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", c, units.FormatSI(v*1e-12, "J"), pct(v))
	}
	levels := "(SRAM + DRAM)"
	if r.EnergyPJ[Spad.String()]+r.EnergyPJ[NoC.String()] != 0 {
		levels = "(DRAM, SRAM, NoC, spads)"
	}
	fmt.Fprintf(tw, "moving tensors\t%s\t\n", levels)
	for cl := kernels.TensorClass(0); cl < kernels.ClassNone; cl++ {
		if v := r.EnergyByTensor[cl.String()]; v != 0 {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", cl, units.FormatSI(v*1e-12, "J"), pct(v))
		}
	}
	fmt.Fprintf(tw, "by phase\t\t\n")
	for p := models.Phase(0); p < models.NumPhases; p++ {
		v := r.EnergyByPhase[p.String()]
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", p, units.FormatSI(v*1e-12, "J"), pct(v))
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

// WriteLayersCSV writes the per-layer breakdown of a run made with Options.PerLayer
// (Stats.Layers) as CSV: one row per layer and phase, with its span, stalls,
// utilisation, MACs, DRAM bytes and energy by component. net names the layers.
func (s *Stats) WriteLayersCSV(w io.Writer, net *models.Network) error {
	cw := csv.NewWriter(w)
	header := []string{"layer", "kind", "phase", "instructions", "first_cycle", "last_cycle", "total_cycles", "stall_cycles", "compute_cycles",
		"mac_util_pct", "macs", "dram_read_bytes", "dram_write_bytes", "energy_pj"}
	for c := Component(0); c < NumComponents; c++ {
		header = append(header, "energy_"+c.String()+"_pj")
	}
	cw.Write(header)
	g := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	for _, l := range s.Layers {
		span := l.Last - l.First
		util := 0.0
		if span > 0 {
			util = 100 * float64(l.MappedPECycles) / (float64(s.PEs) * float64(span))
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
}

// LayerRun is one layer of a topology simulated on its own.
type LayerRun struct {
	Name  string
	Stats *Stats
}

// RunTopology simulates each layer of a topology file on its own, forward only, as
// SCALE-Sim does: a one-layer network per row. opts.Batch (at least 1) is the examples
// each row runs on: a convolution row's images, and for a GEMM row the copies of its
// M rows (a batch of N runs N x M rows). Errors name the file and line of the layer.
func (m *Machine) RunTopology(file string, layers []models.TopologyLayer, opts kernels.Options) ([]LayerRun, error) {
	opts.ForwardOnly = true
	batch := max(opts.Batch, 1)
	runs := make([]LayerRun, 0, len(layers))
	for _, tl := range layers {
		l := tl.Layer
		net := &models.Network{Name: l.Name, Input: l.In, Classes: l.Out.C, Layers: []models.Layer{l}}
		if batch > math.MaxInt32/tl.Batch {
			return nil, fmt.Errorf("%s:%d: %w: a batch of %d x %d rows", file, tl.Line, kernels.ErrTooLarge, batch, tl.Batch)
		}
		opts.Batch = tl.Batch * batch
		prog, err := kernels.Compile(net, m.prof, opts)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, tl.Line, err)
		}
		stats, err := m.Run(prog)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, tl.Line, err)
		}
		runs = append(runs, LayerRun{l.Name, stats})
	}
	return runs, nil
}

// LayerRunsHeader is the header of WriteLayerRunsCSV.
var LayerRunsHeader = []string{"layer", "total_cycles", "stall_cycles", "compute_cycles", "mac_util_pct", "dram_read_bytes", "dram_write_bytes", "energy_pj",
	"batch", "macs", "seconds", "chip_power_mw", "dram_power_mw"}

// WriteLayerRunsCSV writes one CSV row per layer of RunTopology: cycles (total,
// stalled, compute), MAC utilisation, DRAM bytes and energy, then the row's batch and
// MACs, its time, and the average power of the chip (dynamic and static, the DRAM
// interface included) and of the DRAM devices (power_mw.chip and power_mw.dram of
// the JSON report), which chips publish apart.
func WriteLayerRunsCSV(w io.Writer, runs []LayerRun) error {
	cw := csv.NewWriter(w)
	cw.Write(LayerRunsHeader)
	for _, r := range runs {
		s := r.Stats
		power := s.Report(false).PowerMW
		cw.Write([]string{r.Name,
			strconv.FormatUint(s.Cycles, 10),
			strconv.FormatUint(s.Cycles-min(s.Cycles, s.ComputeCycles), 10),
			strconv.FormatUint(s.ComputeCycles, 10),
			strconv.FormatFloat(100*s.MACUtilization(), 'f', 2, 64),
			strconv.FormatInt(s.DRAM.ReadBytes, 10),
			strconv.FormatInt(s.DRAM.WriteBytes, 10),
			strconv.FormatFloat(s.Energy.Total(), 'f', 1, 64),
			strconv.Itoa(s.Batch),
			strconv.FormatInt(s.MACs, 10),
			strconv.FormatFloat(s.Seconds(), 'g', 10, 64),
			strconv.FormatFloat(power["chip"], 'f', 3, 64),
			strconv.FormatFloat(power["dram"], 'f', 3, 64)})
	}
	cw.Flush()
	return cw.Error()
}

// SimulateLayers compiles net with opts and runs it on a machine for prof with the
// per-layer breakdown (Stats.Layers) turned on.
func SimulateLayers(prof *hw.Profile, net *models.Network, opts kernels.Options, simOpts Options) (*Stats, error) {
	prog, err := kernels.Compile(net, prof, opts)
	if err != nil {
		return nil, err
	}
	simOpts.PerLayer = true
	m, err := New(prof, simOpts)
	if err != nil {
		return nil, err
	}
	return m.Run(prog)
}
