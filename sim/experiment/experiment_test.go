package experiment

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
)

func TestCheckBatchMemory(t *testing.T) {
	const machine = 24 << 30
	for _, c := range []struct {
		model  string
		batch  int
		mem    int64
		errHas string // "" for no error
	}{
		{"lenet5", 32, machine, ""},
		{"transformer", 512, machine, ""},
		{"transformer", 70000, machine, "--batch: 70000 is too large: training transformer needs at least"},
		{"transformer", 70000, 0, ""}, // memory unknown: no check
	} {
		net, err := models.ByName(c.model)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckBatchMemory(net, c.batch, c.mem)
		var usage *OptionError
		switch {
		case c.errHas == "" && err != nil:
			t.Errorf("%s batch %d: %v", c.model, c.batch, err)
		case c.errHas != "" && (err == nil || !strings.Contains(err.Error(), c.errHas) || !errors.As(err, &usage)):
			t.Errorf("%s batch %d: got %v, want an OptionError containing %q", c.model, c.batch, err, c.errHas)
		}
	}
	if runtime.GOOS == "linux" && MachineMemoryBytes() <= 0 {
		t.Error("machineMemoryBytes found no MemTotal in /proc/meminfo")
	}
}

// compareSmall runs a small comparison (the MLP on synthetic data, a few steps) into
// dir; experiments and figures tests share it.
func compareSmall(t *testing.T, dir string) *Result {
	t.Helper()
	net := models.MLP()
	prof, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	o := &CompareOptions{
		TrainOptions: TrainOptions{Out: dir, Model: net.Name, Epochs: 1, Steps: 6, Batch: 8, Seed: 1, EvalEvery: 3},
		Profile:      prof, Methods: []numerics.Variant{{Method: numerics.RCT}, {Method: numerics.QAT}}, DeviceSteps: 1,
	}
	if err := o.Check(net); err != nil {
		t.Fatal(err)
	}
	data := train.SyntheticSplit(1, 64, 32, net.Input, net.Classes)
	res, err := Compare(context.Background(), net, data, "synthetic", o, Observer{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestCompare: a comparison writes every file, its result reads back as written, the
// savings are the sim package's, and the device check ran bit-exact.
func TestCompare(t *testing.T) {
	dir := t.TempDir()
	res := compareSmall(t, dir)
	for _, f := range []string{"compare.json", "compare.csv", "report.md", "rct/metrics.csv", "rct/schedule.csv", "rct/run.json",
		"rct/steps.csv", "rct/timeline.csv", "qat/steps.csv"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	back, err := ReadResult(dir)
	if err != nil || !reflect.DeepEqual(back, res) {
		t.Errorf("compare.json reads back differently (%v)", err)
	}
	if len(res.Methods) != 2 || res.Methods[0].Steps != 6 || res.Savings == nil || res.Savings.ParameterMemory.Fraction <= 0 {
		t.Errorf("result %+v", res)
	}
	if d := res.DeviceCheck; d == nil || d.Steps != 1 || !d.BitExact {
		t.Errorf("device check %+v", d)
	}
	if s := res.Settings; s == nil || s.Profile.Name != "default" || s.Profile.Node != "45nm" || !(s.Profile.AreaMM2 > 0) ||
		s.Options.Steps != 6 || !reflect.DeepEqual(s.Methods, []string{"rct", "qat"}) || s.DeviceSteps != 1 || s.Versions.Go == "" {
		t.Errorf("settings %+v", s)
	}
	report, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !strings.Contains(string(report), "The RCT paper's figures (Huang et al. 2021)") || strings.Contains(string(report), "seed paper") {
		t.Errorf("report.md:\n%s", report)
	}
	f, err := ReadFolder(dir)
	if err != nil || f.Result == nil || len(f.Runs) != 2 || f.Runs[1].Dir != filepath.Join(dir, "qat") {
		t.Errorf("ReadFolder: %+v, %v", f, err)
	}
	single, err := ReadFolder(filepath.Join(dir, "rct"))
	if err != nil || single.Result != nil || single.Runs[0].Method != "rct" {
		t.Errorf("ReadFolder of a run: %+v, %v", single, err)
	}
}

// TestCheckRefusesBeforeWork: every bad option is found before any file is written.
func TestCheckRefusesBeforeWork(t *testing.T) {
	prof, err := hw.LoadFS(configs.FS, "edge_tpu.toml")
	if err != nil {
		t.Fatal(err)
	}
	net := models.MLP()
	base := TrainOptions{Model: net.Name, Epochs: 1, Batch: 8, Seed: 1}
	for _, c := range []struct {
		name string
		o    CompareOptions
		want string
	}{
		{"no output", CompareOptions{TrainOptions: base, Profile: prof, Methods: []numerics.Variant{{Method: numerics.RCT}}}, "-o: required"},
		{"twice", CompareOptions{Methods: []numerics.Variant{{Method: numerics.RCT}, {Method: numerics.RCT}}}, "rct appears twice"},
		{"device steps", CompareOptions{Methods: []numerics.Variant{{Method: numerics.RCT}}, DeviceSteps: -5}, "--device-steps"},
		{"lr", CompareOptions{Methods: []numerics.Variant{{Method: numerics.RCT}}}, "learning rate"},
		{"chip", CompareOptions{Methods: []numerics.Variant{{Method: numerics.QAT}}}, "no MAC mode"},
	} {
		dir := t.TempDir()
		o := c.o
		if o.Out == "" && c.name != "no output" {
			o.TrainOptions, o.Out, o.Profile = base, dir, prof
		}
		if c.name == "lr" {
			o.LR = -1
		}
		err := o.Check(net)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: Check wrote %d files", c.name, len(entries))
		}
	}
}

// TestTrainFailureLeavesNothing: a run that cannot train a single step, fails on its
// data or diverges leaves no file and no folder.
func TestTrainFailureLeavesNothing(t *testing.T) {
	net := models.MLP()
	data := train.SyntheticSplit(1, 64, 8, net.Input, net.Classes)
	for _, c := range []struct {
		name   string
		data   *train.Split
		method numerics.Method
		lr     float64
		want   string
	}{
		{"fewer examples than a batch", train.SyntheticSplit(1, 4, 4, net.Input, net.Classes), numerics.RCT, 0, "not one step to train"},
		{"wrong input shape", train.SyntheticSplit(1, 64, 8, models.Shape{C: 3, H: 8, W: 8}, net.Classes), numerics.RCT, 0, ""},
		{"diverged", data, numerics.FP32, 1e30, "fp32: training diverged: the loss of step"},
	} {
		dir := filepath.Join(t.TempDir(), "run")
		o := &TrainOptions{Out: dir, Model: net.Name, Epochs: 1, Batch: 8, Seed: 1, LR: c.lr}
		cfg, err := o.Config(c.method)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Train(context.Background(), net, c.data, "test", cfg, o, Observer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s: the run folder is left behind (%v)", c.name, err)
		}
	}
}
