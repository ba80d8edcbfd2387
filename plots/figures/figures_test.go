package figures

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim/experiment"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
)

// compareFolder runs a small comparison (the MLP on synthetic data) into a temporary
// folder.
func compareFolder(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	net := models.MLP()
	prof, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	o := &experiment.CompareOptions{
		TrainOptions: experiment.TrainOptions{Out: dir, Model: net.Name, Epochs: 1, Steps: 4, Batch: 8, Seed: 1, EvalEvery: 2},
		Profile:      prof, Methods: []numerics.Variant{{Method: numerics.RCT}, {Method: numerics.QAT}, {Method: numerics.FP32}},
	}
	data := train.SyntheticSplit(1, 64, 32, net.Input, net.Classes)
	if _, err := experiment.Compare(context.Background(), net, data, "synthetic", o, experiment.Observer{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestFolder(t *testing.T) {
	in := compareFolder(t)
	out := t.TempDir()
	paths, err := Folder(in, out, nil, []string{"svg"})
	if err != nil {
		t.Fatal(err)
	}
	// energy, energy_normalised, accuracy, loss, bitwidth_rct, bitwidth_qat,
	// bitwidth_mean, memory, step_energy and three timelines.
	if len(paths) != 12 {
		t.Errorf("%d figures: %v", len(paths), paths)
	}
	for _, p := range paths {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 || filepath.Dir(p) != out {
			t.Errorf("%s: %v", p, err)
		}
	}
	// A single training run draws what it can with every kind, and says what it cannot
	// when asked for one kind.
	single, err := Folder(filepath.Join(in, "rct"), t.TempDir(), nil, []string{"svg"})
	if err != nil || len(single) != 4 {
		t.Errorf("single run: %d figures, %v", len(single), err)
	}
	if _, err := Folder(filepath.Join(in, "rct"), t.TempDir(), []string{"energy"}, []string{"svg"}); err == nil ||
		!strings.Contains(err.Error(), "needs a comparison folder") {
		t.Errorf("energy of a single run: %v", err)
	}
	if _, err := Folder(in, t.TempDir(), []string{"nope"}, []string{"svg"}); err == nil || !strings.Contains(err.Error(), "unknown figure kind") {
		t.Errorf("unknown kind: %v", err)
	}
}

const sweepCSV = `point,hash,mac_array.rows,sram.global.capacity,method,steps,energy_pj.total,seconds,failure_kind,error
0,a,8,64KiB,rct,1,2e9,0.002,,
1,b,16,64KiB,rct,1,1.5e9,0.001,,
2,c,8,256KiB,rct,1,1.8e9,0.0021,,
3,d,16,256KiB,rct,1,1.4e9,0.0011,,
`

func TestSweep(t *testing.T) {
	in := filepath.Join(t.TempDir(), "sweep.csv")
	if err := os.WriteFile(in, []byte(sweepCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, o := range []SweepOptions{
		{Kind: "heatmap", X: "mac_array.rows", Y: "sram.global.capacity", Metric: "energy_pj.total"},
		{Kind: "pareto", X: "seconds", Y: "energy_pj.total"},
	} {
		paths, err := Sweep(in, out, o, []string{"svg"})
		if err != nil || len(paths) != 1 {
			t.Errorf("%s: %v %v", o.Kind, paths, err)
		}
	}
	if _, err := Sweep(in, out, SweepOptions{Kind: "pie", X: "seconds", Y: "energy_pj.total"}, []string{"svg"}); err == nil {
		t.Error("a pie chart was drawn")
	}
}

// TestNothingToDraw: a column without numbers is an error naming the file, and a
// failing kind leaves no figure of the set behind.
func TestNothingToDraw(t *testing.T) {
	in := compareFolder(t)
	metrics := filepath.Join(in, "qat", "metrics.csv")
	data, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	header := strings.Split(lines[0], ",")
	loss := -1
	for i, h := range header {
		if h == "loss" {
			loss = i
		}
	}
	for i := 1; i < len(lines); i++ {
		cells := strings.Split(lines[i], ",")
		cells[loss] = "NaN"
		lines[i] = strings.Join(cells, ",")
	}
	if err := os.WriteFile(metrics, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "figs")
	_, err = Folder(in, out, []string{"energy", "accuracy"}, []string{"svg"})
	if err == nil || !strings.Contains(err.Error(), metrics) || !strings.Contains(err.Error(), `"loss"`) {
		t.Errorf("got %v, want an error naming %s and the column", err, metrics)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("figures were written before the failure: %v", err)
	}

	csv := filepath.Join(t.TempDir(), "sweep.csv")
	os.WriteFile(csv, []byte(strings.ReplaceAll(sweepCSV, ",2e9,", ",,")), 0o644)
	_, err = Sweep(csv, t.TempDir(), SweepOptions{Kind: "heatmap", X: "mac_array.rows", Y: "sram.global.capacity", Metric: "failure_kind"}, []string{"svg"})
	if err == nil || !strings.Contains(err.Error(), csv) {
		t.Errorf("a metric without numbers: %v", err)
	}
}

// TestDrawFolder: the figures drawn in memory are those Folder saves, each with its
// kind, title and caption, and each renders as SVG.
func TestDrawFolder(t *testing.T) {
	in := compareFolder(t)
	drawn, err := DrawFolder(in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(drawn) != 12 {
		t.Errorf("%d figures", len(drawn))
	}
	for _, d := range drawn {
		if d.Name == "" || !slices.Contains(Kinds, d.Kind) || d.Title == "" || !strings.HasSuffix(d.Caption, ".") {
			t.Errorf("%+v", d)
		}
	}
	svg, err := drawn[0].SVG()
	if err != nil || !strings.Contains(string(svg), "<svg") {
		t.Errorf("SVG: %v", err)
	}
	in = filepath.Join(t.TempDir(), "sweep.csv")
	if err := os.WriteFile(in, []byte(sweepCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := DrawSweep(in, SweepOptions{Kind: "pareto", X: "seconds", Y: "energy_pj.total", Filters: map[string]string{"method": "rct"}})
	if err != nil || d.Name != "pareto_seconds_energy_pj_total" || !strings.Contains(d.Caption, "(method=rct)") {
		t.Errorf("%+v, %v", d, err)
	}
}

// FuzzDrawFolder: a comparison folder with any compare.json and any CSVs in its RCT
// run draws its figures, renders them, or fails with an error: it never panics. (The
// figures read files a user may have edited or cut short.)
func FuzzDrawFolder(f *testing.F) {
	in := compareFolder(f)
	files := []string{"compare.json", "rct/metrics.csv", "rct/schedule.csv", "rct/steps.csv", "rct/timeline.csv"}
	seed := make([]string, len(files))
	for i, name := range files {
		data, err := os.ReadFile(filepath.Join(in, name))
		if err != nil {
			f.Fatal(err)
		}
		seed[i] = string(data)
	}
	f.Add(seed[0], seed[1], seed[2], seed[3], seed[4])
	f.Add(`{"methods":[{"method":"rct"}]}`, "step,loss\n1,NaN\n", "step\n", "step,energy_pj\n0,1e308\n1,-1e308\n", "unit,phase,start,end\nmac,fwd,5,1\n")
	f.Fuzz(func(t *testing.T, compare, metrics, schedule, steps, timeline string) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "rct"), 0o755); err != nil {
			t.Fatal(err)
		}
		for i, data := range []string{compare, metrics, schedule, steps, timeline} {
			if err := os.WriteFile(filepath.Join(dir, files[i]), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		drawn, err := DrawFolder(dir, nil)
		if err != nil {
			return
		}
		for _, d := range drawn {
			d.SVG() // an error is a fine answer; a panic is not
		}
	})
}
