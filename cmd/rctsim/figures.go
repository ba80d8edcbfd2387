package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/plots"
)

// Figure sizes, in inches.
const (
	figWidth, figHeight = 7.0, 4.5
	figDPI              = 150
)

// figureKinds are what `rctsim plot --kind` draws from a compare or train folder.
var figureKinds = []string{"energy", "accuracy", "bitwidth", "memory", "step-energy", "timeline"}

// compareFigures draws every figure of a compare folder into dir/figures.
func compareFigures(dir string, formats []string) ([]string, error) {
	return drawFolder(dir, filepath.Join(dir, "figures"), figureKinds, formats)
}

// drawFolder draws the figures of kinds from a compare folder (compare.json and one
// folder per method) or a train run folder (metrics.csv, schedule.csv).
func drawFolder(in, out string, kinds, formats []string) ([]string, error) {
	f, err := readFolder(in)
	if err != nil {
		return nil, err
	}
	var paths []string
	save := func(fig plots.Figure, name string) error {
		p, err := plots.Save(fig, out, name, formats, figWidth, figHeight, figDPI)
		paths = append(paths, p...)
		return err
	}
	for _, kind := range kinds {
		var err error
		switch kind {
		case "energy":
			err = f.energy(save)
		case "accuracy":
			err = f.accuracy(save)
		case "bitwidth":
			err = f.bitwidth(save)
		case "memory":
			err = f.memory(save)
		case "step-energy":
			err = f.stepEnergy(save)
		case "timeline":
			err = f.timeline(save)
		default:
			err = fmt.Errorf("unknown figure kind %q (want all, %s)", kind, strings.Join(figureKinds, ", "))
		}
		if err != nil {
			return paths, fmt.Errorf("%s: %w", kind, err)
		}
	}
	return paths, nil
}

// folder is what a compare or train folder holds, read once.
type folder struct {
	title   string
	compare *compareResult // nil for a train run folder
	runs    []methodFiles
}

// methodFiles are the per-step files of one training run.
type methodFiles struct {
	method string
	dir    string
}

func readFolder(dir string) (*folder, error) {
	f := &folder{}
	data, err := os.ReadFile(filepath.Join(dir, "compare.json"))
	switch {
	case err == nil:
		f.compare = &compareResult{}
		if err := json.Unmarshal(data, f.compare); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "compare.json"), err)
		}
		f.title = fmt.Sprintf("%s on %s", f.compare.Model, f.compare.Profile)
		for _, m := range f.compare.Methods {
			f.runs = append(f.runs, methodFiles{method: m.Method, dir: filepath.Join(dir, m.Method)})
		}
	case errors.Is(err, os.ErrNotExist):
		var rec runRecord
		data, err := os.ReadFile(filepath.Join(dir, "run.json"))
		if err != nil {
			return nil, fmt.Errorf("%s holds neither compare.json nor run.json: %w", dir, err)
		}
		if err := json.Unmarshal(data, &rec); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "run.json"), err)
		}
		f.title = rec.Flags.Model
		f.runs = []methodFiles{{method: rec.Flags.Method, dir: dir}}
	default:
		return nil, err
	}
	return f, nil
}

func (f *folder) needCompare() error {
	if f.compare == nil {
		return errors.New("needs a compare folder (compare.json), not a single training run")
	}
	return nil
}

// energyParts are the energy figure's stack, bottom to top.
var energyParts = []string{"MAC/GEMM", "SRAM", "DRAM weights", "DRAM master weights", "DRAM activations/errors/gradients",
	"DRAM optimizer/other", "vector", "static + DRAM background"}

func (f *folder) energy(save func(plots.Figure, string) error) error {
	if err := f.needCompare(); err != nil {
		return err
	}
	b := plots.EnergyBreakdown{Title: "Training energy, " + f.title, Parts: energyParts}
	hasQAT := false
	for _, m := range f.compare.Methods {
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
	b.Title = "Training energy relative to QAT, " + f.title
	if chart, err = plots.EnergyBars(b, "qat"); err != nil {
		return err
	}
	return save(chart, "energy_normalised")
}

func (f *folder) memory(save func(plots.Figure, string) error) error {
	if err := f.needCompare(); err != nil {
		return err
	}
	classes := []string{"weights", "master_weights", "optimizer_state", "activations", "errors", "gradients"}
	fp := plots.Footprint{Title: "Peak DRAM footprint, " + f.title, Classes: classes}
	for _, m := range f.compare.Methods {
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

func (f *folder) accuracy(save func(plots.Figure, string) error) error {
	var test, loss []plots.Series
	metric, label := "test_acc", "Test accuracy"
	for _, r := range f.runs {
		rows, err := readCSV(filepath.Join(r.dir, "metrics.csv"))
		if err != nil {
			return err
		}
		if len(rows.col("test_bpc")) > 0 && rows.nonEmpty("test_bpc") {
			metric, label = "test_bpc", "Test bits per character"
		}
		test = append(test, rows.series(r.method, "step", metric))
		loss = append(loss, rows.series(r.method, "step", "loss"))
	}
	chart, err := plots.Lines(label+", "+f.title, "Training step", label, test)
	if err != nil {
		return err
	}
	if err := save(chart, "accuracy"); err != nil {
		return err
	}
	if chart, err = plots.Lines("Training loss, "+f.title, "Training step", "Cross-entropy loss", loss); err != nil {
		return err
	}
	return save(chart, "loss")
}

func (f *folder) bitwidth(save func(plots.Figure, string) error) error {
	var means []plots.Series
	for _, r := range f.runs {
		rows, err := readCSV(filepath.Join(r.dir, "metrics.csv"))
		if err != nil {
			return err
		}
		means = append(means, rows.series(r.method, "step", "avg_bits"))
		if r.method == "fp32" {
			continue
		}
		s, err := readSchedule(filepath.Join(r.dir, "schedule.csv"))
		if err != nil {
			return err
		}
		g := plots.BitwidthGrid{Title: fmt.Sprintf("Per-layer weight bitwidth, %s, %s", r.method, f.title), Layers: s.Layers}
		for i, step := range s.Steps {
			g.Steps = append(g.Steps, step)
			g.Bits = append(g.Bits, s.Bits[i])
		}
		chart, err := plots.BitwidthHeatmap(g)
		if err != nil {
			return err
		}
		if err := save(chart, "bitwidth_"+r.method); err != nil {
			return err
		}
	}
	chart, err := plots.Lines("Average weight bitwidth, "+f.title, "Training step", "Bits (parameter-weighted)", means)
	if err != nil {
		return err
	}
	return save(chart, "bitwidth_mean")
}

func (f *folder) stepEnergy(save func(plots.Figure, string) error) error {
	if err := f.needCompare(); err != nil {
		return err
	}
	var series []plots.Series
	for _, r := range f.runs {
		rows, err := readCSV(filepath.Join(r.dir, "steps.csv"))
		if err != nil {
			return err
		}
		s := rows.series(r.method, "step", "energy_pj")
		for i := range s.Y {
			s.Y[i] *= 1e-12 // J
		}
		series = append(series, s)
	}
	chart, err := plots.StepEnergy("Energy per training step, "+f.title, series)
	if err != nil {
		return err
	}
	return save(chart, "step_energy")
}

func (f *folder) timeline(save func(plots.Figure, string) error) error {
	if err := f.needCompare(); err != nil {
		return err
	}
	units := []string{"dma", "mac", "vector"}
	phases := []string{"forward", "backward_data", "backward_weight", "update", "precision_control"}
	for _, r := range f.runs {
		rows, err := readCSV(filepath.Join(r.dir, "timeline.csv"))
		if err != nil {
			return err
		}
		var iv []plots.Interval
		for i := range rows.rows {
			start, err1 := strconv.ParseFloat(rows.get(i, "start_cycle"), 64)
			end, err2 := strconv.ParseFloat(rows.get(i, "end_cycle"), 64)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("%s: row %d: bad cycles", filepath.Join(r.dir, "timeline.csv"), i+2)
			}
			iv = append(iv, plots.Interval{Unit: rows.get(i, "unit"), Phase: rows.get(i, "phase"), Start: start, End: end})
		}
		chart, err := plots.Timeline(fmt.Sprintf("One training step, %s, %s", r.method, f.title), units, phases, iv, "Cycles")
		if err != nil {
			return err
		}
		if err := save(chart, "timeline_"+r.method); err != nil {
			return err
		}
	}
	return nil
}

// table is a CSV file with a header, read whole.
type table struct {
	path   string
	header map[string]int
	rows   [][]string
}

func readCSV(path string) (*table, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	rows, err := csv.NewReader(file).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	t := &table{path: path, header: map[string]int{}, rows: rows[1:]}
	for i, h := range rows[0] {
		t.header[h] = i
	}
	return t, nil
}

func (t *table) get(row int, col string) string {
	i, ok := t.header[col]
	if !ok || i >= len(t.rows[row]) {
		return ""
	}
	return t.rows[row][i]
}

func (t *table) col(name string) []string {
	if _, ok := t.header[name]; !ok {
		return nil
	}
	out := make([]string, len(t.rows))
	for i := range t.rows {
		out[i] = t.get(i, name)
	}
	return out
}

func (t *table) nonEmpty(col string) bool {
	for _, v := range t.col(col) {
		if v != "" {
			return true
		}
	}
	return false
}

// series takes the rows where both columns hold numbers.
func (t *table) series(name, x, y string) plots.Series {
	s := plots.Series{Name: name}
	for i := range t.rows {
		xv, err1 := strconv.ParseFloat(t.get(i, x), 64)
		yv, err2 := strconv.ParseFloat(t.get(i, y), 64)
		if err1 == nil && err2 == nil {
			s.X, s.Y = append(s.X, xv), append(s.Y, yv)
		}
	}
	return s
}
