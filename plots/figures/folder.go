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

// Folder draws the figures of kinds (all of Kinds when empty) from a comparison
// folder (compare.json and one folder per method) or a training run folder into out,
// in each of formats. A kind that needs a comparison (energy, memory, step-energy,
// timeline) is skipped for a single training run when kinds is empty, and an error
// when asked for. It returns the files written.
func Folder(in, out string, kinds, formats []string) ([]string, error) {
	f, err := experiment.ReadFolder(in)
	if err != nil {
		return nil, err
	}
	all := len(kinds) == 0
	if all {
		kinds = Kinds
	}
	ff := &folderFigures{Folder: f}
	// Every figure is drawn before any is written: a kind that fails leaves no file.
	var figs []plots.Named
	save := func(fig plots.Figure, name string) error {
		figs = append(figs, plots.Named{Figure: fig, Name: name})
		return nil
	}
	for _, kind := range kinds {
		var err error
		switch kind {
		case "energy":
			err = ff.energy(save)
		case "accuracy":
			err = ff.accuracy(save)
		case "bitwidth":
			err = ff.bitwidth(save)
		case "memory":
			err = ff.memory(save)
		case "step-energy":
			err = ff.stepEnergy(save)
		case "timeline":
			err = ff.timeline(save)
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
	return plots.SaveAll(figs, out, formats, width, height, dpi)
}

// folderFigures draws the figures of one folder.
type folderFigures struct {
	*experiment.Folder
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

func (f *folderFigures) energy(save func(plots.Figure, string) error) error {
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
	if err := save(chart, "energy"); err != nil {
		return err
	}
	if !hasQAT {
		return nil
	}
	b.Title = "Training energy relative to QAT, " + f.Title
	if chart, err = plots.EnergyBars(b, "qat"); err != nil {
		return err
	}
	return save(chart, "energy_normalised")
}

func (f *folderFigures) memory(save func(plots.Figure, string) error) error {
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
	return save(chart, "memory")
}

func (f *folderFigures) accuracy(save func(plots.Figure, string) error) error {
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
	if err := save(chart, "accuracy"); err != nil {
		return err
	}
	if chart, err = plots.Lines("Training loss, "+f.Title, "Training step", "Cross-entropy loss", loss); err != nil {
		return err
	}
	return save(chart, "loss")
}

func (f *folderFigures) bitwidth(save func(plots.Figure, string) error) error {
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
		if err := save(chart, "bitwidth_"+r.Method); err != nil {
			return err
		}
	}
	chart, err := plots.Lines("Average weight bitwidth, "+f.Title, "Training step", "Bits (parameter-weighted)", means)
	if err != nil {
		return err
	}
	return save(chart, "bitwidth_mean")
}

func (f *folderFigures) stepEnergy(save func(plots.Figure, string) error) error {
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
	return save(chart, "step_energy")
}

func (f *folderFigures) timeline(save func(plots.Figure, string) error) error {
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
		if err := save(chart, "timeline_"+r.Method); err != nil {
			return err
		}
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
