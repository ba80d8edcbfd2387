package figures

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/plots"
	"github.com/rctsim/rctsim/sim/experiment"
	"github.com/rctsim/rctsim/traces"
	"github.com/rctsim/rctsim/traces/fileio"
)

// Kinds are the figures Folder draws from a comparison or training run folder.
var Kinds = []string{"energy", "accuracy", "bitwidth", "memory", "step-energy", "timeline"}

// Drawn is a figure drawn in memory with what a reader needs beside it.
type Drawn struct {
	// Name is the file name it is saved under, without extension ("bitwidth_rct").
	Name string
	// Kind is the figure kind that draws it (one of Kinds or SweepKinds).
	Kind string
	// Title is the figure's title; Caption says in a sentence or two what it shows
	// and which file its numbers come from.
	Title, Caption string
	Figure         plots.Figure
}

// SVG renders the figure as SVG at the size Folder and Sweep save it.
func (d Drawn) SVG() ([]byte, error) {
	return plots.RenderInches(d.Figure, "svg", width, height, dpi)
}

// Folder draws the figures of kinds (all of Kinds when empty) from a comparison
// folder (compare.json and one folder per method) or a training run folder into out,
// in each of formats. A kind that needs a comparison (energy, memory, step-energy,
// timeline) is skipped for a single training run when kinds is empty, and an error
// when asked for. It returns the files written.
func Folder(in, out string, kinds, formats []string) ([]string, error) {
	drawn, err := DrawFolder(in, kinds)
	if err != nil {
		return nil, err
	}
	// Every figure is drawn before any is written: a kind that fails leaves no file.
	figs := make([]plots.Named, len(drawn))
	for i, d := range drawn {
		figs[i] = plots.Named{Figure: d.Figure, Name: d.Name}
	}
	return plots.SaveAll(figs, out, formats, width, height, dpi)
}

// DrawFolder draws the figures Folder saves, in memory, in the order of kinds (Kinds
// when empty).
func DrawFolder(in string, kinds []string) ([]Drawn, error) {
	f, err := experiment.ReadFolder(in)
	if err != nil {
		return nil, err
	}
	all := len(kinds) == 0
	if all {
		kinds = Kinds
	}
	ff := &folderFigures{Folder: f}
	for _, kind := range kinds {
		var err error
		ff.kind = kind
		switch kind {
		case "energy":
			err = ff.energy()
		case "accuracy":
			err = ff.accuracy()
		case "bitwidth":
			err = ff.bitwidth()
		case "memory":
			err = ff.memory()
		case "step-energy":
			err = ff.stepEnergy()
		case "timeline":
			err = ff.timeline()
		default:
			err = fmt.Errorf("unknown figure kind %q (want all, %s)", kind, strings.Join(Kinds, ", "))
		}
		if all && errors.Is(err, errNeedsComparison) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
	}
	return ff.drawn, nil
}

// folderFigures draws the figures of one folder.
type folderFigures struct {
	*experiment.Folder
	kind  string // the kind being drawn
	drawn []Drawn
}

// add records a drawn chart under name.
func (f *folderFigures) add(chart *plots.Chart, name, caption string) {
	f.drawn = append(f.drawn, Drawn{Name: name, Kind: f.kind, Title: chart.Title, Caption: caption, Figure: chart})
}

var errNeedsComparison = errors.New("needs a comparison folder (compare.json), not a single training run")

func (f *folderFigures) needCompare() error {
	if f.Result == nil {
		return errNeedsComparison
	}
	return nil
}

// energyParts are the energy figure's stack, bottom to top.
var energyParts = []string{"MAC/GEMM", "SRAM", "DRAM weights", "DRAM master weights", "DRAM activations/errors/gradients",
	"DRAM optimizer/other", "vector", "static + DRAM background"}

func (f *folderFigures) energy() error {
	if err := f.needCompare(); err != nil {
		return err
	}
	b := plots.EnergyBreakdown{Title: "Training energy, " + f.Title, Parts: energyParts}
	hasQAT := false
	for _, m := range f.Result.Methods {
		d := m.DRAMEnergyByTensor
		e := m.EnergyJ
		b.Methods = append(b.Methods, m.Method)
		b.EnergyJ = append(b.EnergyJ, []float64{e["mac"], e["sram"], d["weights"], d["master_weights"],
			d["activations"] + d["errors"] + d["gradients"], d["optimizer_state"] + d["other"], e["vector"], e["static"] + e["dram_background"]})
		hasQAT = hasQAT || m.Method == "qat"
	}
	chart, err := plots.EnergyBars(b, "")
	if err != nil {
		return err
	}
	f.add(chart, "energy", "The whole run's training energy of each method, stacked by where it goes: MAC/GEMM arithmetic, SRAM, DRAM traffic by tensor class "+
		"(weights, QAT's and FP8's fp32 master weights, activations, errors and gradients, optimizer and accumulator state), the vector unit, and static plus DRAM background energy. "+
		"From compare.json (energy_j, dram_energy_by_tensor_j).")
	if !hasQAT {
		return nil
	}
	b.Title = "Training energy relative to QAT, " + f.Title
	if chart, err = plots.EnergyBars(b, "qat"); err != nil {
		return err
	}
	f.add(chart, "energy_normalised", "The same stacks as a fraction of QAT's total energy (the dashed line is QAT = 1): "+
		"how much of QAT's energy each method spends, and in which component. From compare.json.")
	return nil
}

func (f *folderFigures) memory() error {
	if err := f.needCompare(); err != nil {
		return err
	}
	classes := []string{"weights", "master_weights", "optimizer_state", "activations", "errors", "gradients"}
	fp := plots.Footprint{Title: "Peak DRAM footprint, " + f.Title, Classes: classes}
	for _, m := range f.Result.Methods {
		fp.Methods = append(fp.Methods, m.Method)
		row := make([]float64, len(classes))
		for i, c := range classes {
			row[i] = float64(m.PeakMemoryBytes[c])
		}
		fp.Bytes = append(fp.Bytes, row)
	}
	chart, err := plots.MemoryBars(fp)
	if err != nil {
		return err
	}
	f.add(chart, "memory", "Each method's peak DRAM footprint by tensor class: weights at their bitwidth (packed), the fp32 master weights of QAT and FP8, "+
		"optimizer and accumulator state (momentum, NITI's int16 update buffers), activations kept for the backward pass (and the forward pass's peak of the rest), "+
		"errors and gradients (consumed on chip: none in DRAM). A sparse update keeps state for what it updates only. From compare.json (peak_memory_bytes).")
	return nil
}

func (f *folderFigures) accuracy() error {
	var test, loss []plots.Series
	metric, label := "test_acc", "Test accuracy"
	for _, r := range f.Runs {
		rows, err := fileio.ReadTableFile(filepath.Join(r.Dir, "metrics.csv"))
		if err != nil {
			return err
		}
		if rows.HasValues("test_bpc") {
			metric, label = "test_bpc", "Test bits per character"
		}
		ts, err := tableSeries(rows, r.Method, "step", metric)
		if err != nil {
			return err
		}
		ls, err := tableSeries(rows, r.Method, "step", "loss")
		if err != nil {
			return err
		}
		test, loss = append(test, ts), append(loss, ls)
	}
	chart, err := plots.Lines(label+", "+f.Title, "Training step", label, test)
	if err != nil {
		return err
	}
	what := "test accuracy"
	if metric == "test_bpc" {
		what = "test bits per character (lower is better)"
	}
	f.add(chart, "accuracy", "Each method's "+what+" at every evaluation during training. From each method's metrics.csv ("+metric+").")
	if chart, err = plots.Lines("Training loss, "+f.Title, "Training step", "Cross-entropy loss", loss); err != nil {
		return err
	}
	f.add(chart, "loss", "Each method's training loss (cross-entropy of the step's batch) at every step. From each method's metrics.csv (loss).")
	return nil
}

func (f *folderFigures) bitwidth() error {
	var means []plots.Series
	for _, r := range f.Runs {
		rows, err := fileio.ReadTableFile(filepath.Join(r.Dir, "metrics.csv"))
		if err != nil {
			return err
		}
		ms, err := tableSeries(rows, r.Method, "step", "avg_bits")
		if err != nil {
			return err
		}
		means = append(means, ms)
		if r.Method == "fp32" {
			continue
		}
		s, err := readSchedule(filepath.Join(r.Dir, "schedule.csv"))
		if err != nil {
			return err
		}
		g := plots.BitwidthGrid{Title: fmt.Sprintf("Per-layer weight bitwidth, %s, %s", r.Method, f.Title), Layers: s.Layers}
		for i, step := range s.Steps {
			g.Steps = append(g.Steps, step)
			g.Bits = append(g.Bits, s.Bits[i])
		}
		chart, err := plots.BitwidthHeatmap(g)
		if err != nil {
			return err
		}
		f.add(chart, "bitwidth_"+r.FileName(), fmt.Sprintf("The weight bitwidth of every layer (rows) at every step (columns) of the %s run, as its precision policy set it. From %s/schedule.csv.",
			r.Method, r.Method))
	}
	chart, err := plots.Lines("Average weight bitwidth, "+f.Title, "Training step", "Bits (parameter-weighted)", means)
	if err != nil {
		return err
	}
	f.add(chart, "bitwidth_mean", "Each method's average weight bitwidth over training, weighted by the layers' parameter counts (fp32 at 32 bits). From each method's metrics.csv (avg_bits).")
	return nil
}

func (f *folderFigures) stepEnergy() error {
	if err := f.needCompare(); err != nil {
		return err
	}
	var series []plots.Series
	for _, r := range f.Runs {
		rows, err := fileio.ReadTableFile(filepath.Join(r.Dir, "steps.csv"))
		if err != nil {
			return err
		}
		s, err := tableSeries(rows, r.Method, "step", "energy_pj")
		if err != nil {
			return err
		}
		for i := range s.Y {
			s.Y[i] *= 1e-12 // J
		}
		series = append(series, s)
	}
	chart, err := plots.StepEnergy("Energy per training step, "+f.Title, series)
	if err != nil {
		return err
	}
	f.add(chart, "step_energy", "The simulated energy of every training step of each method; a step's cost changes when its bitwidth plan changes. From each method's steps.csv (energy_pj).")
	return nil
}

func (f *folderFigures) timeline() error {
	if err := f.needCompare(); err != nil {
		return err
	}
	units := []string{"dma", "mac", "vector"}
	phases := []string{"forward", "backward_data", "backward_weight", "update", "precision_control"}
	for _, r := range f.Runs {
		rows, err := fileio.ReadTableFile(filepath.Join(r.Dir, "timeline.csv"))
		if err != nil {
			return err
		}
		var iv []plots.Interval
		for i := range rows.Rows {
			start, err1 := strconv.ParseFloat(rows.Get(i, "start_cycle"), 64)
			end, err2 := strconv.ParseFloat(rows.Get(i, "end_cycle"), 64)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("%s: row %d: bad cycles", filepath.Join(r.Dir, "timeline.csv"), i+2)
			}
			iv = append(iv, plots.Interval{Unit: rows.Get(i, "unit"), Phase: rows.Get(i, "phase"), Start: start, End: end})
		}
		chart, err := plots.Timeline(fmt.Sprintf("One training step, %s, %s", r.Method, f.Title), units, phases, iv, "Cycles")
		if err != nil {
			return err
		}
		f.add(chart, "timeline_"+r.FileName(), fmt.Sprintf("When each unit of the chip (DMA, MAC array, vector unit) was busy during one simulated training step of %s (the run's first plan), coloured by phase. From %s/timeline.csv.",
			r.Method, r.Method))
	}
	return nil
}

// tableSeries takes the rows of a table where both columns hold numbers; a column
// without a single finite number is an error naming the file.
func tableSeries(t *fileio.Table, name, x, y string) (plots.Series, error) {
	xs, ys := t.Floats(x, y)
	for _, v := range ys {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			return plots.Series{Name: name, X: xs, Y: ys}, nil
		}
	}
	return plots.Series{}, fmt.Errorf("%s: column %q has no finite number to draw", t.Name, y)
}

func readSchedule(path string) (*traces.Schedule, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return traces.ReadSchedule(file, path)
}
