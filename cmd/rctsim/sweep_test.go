package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sweepSpec is a 4-point sweep of LeNet-5 at batch 8 with one failing point (QAT's
// tiles do not fit 16 KiB).
const sweepSpec = `name = "cli"
methods = ["rct", "qat"]
batch = 8
[axes]
"sram.global.capacity" = ["16KiB", "128KiB"]
`

func writeSpec(t *testing.T, src string) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "spec.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func TestSweepCommand(t *testing.T) {
	dir, spec := writeSpec(t, sweepSpec)
	out := filepath.Join(dir, "out.csv")
	code, stdout, stderr := rctsim("sweep", "-o", out, "--jsonl", filepath.Join(dir, "out.jsonl"), "--workers", "2", spec)
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "cli: 4/4 points, 1 failed") || !strings.Contains(stderr, "1 points failed") {
		t.Errorf("progress: %s", stderr)
	}
	first, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(first, []byte("\n")); n != 5 {
		t.Errorf("%d lines, want a header and 4 rows", n)
	}
	// Rerunning resumes: nothing left to do, nothing changes.
	code, _, stderr = rctsim("sweep", "--quiet", "-o", out, spec)
	if code != 0 || stderr != "" {
		t.Fatalf("rerun: exit %d: %s", code, stderr)
	}
	if again, _ := os.ReadFile(out); !bytes.Equal(again, first) {
		t.Error("rerun changed the output")
	}
	// Without -o the CSV goes to stdout.
	code, stdout, _ = rctsim("sweep", "--quiet", spec)
	if code != 0 || stdout != string(first) {
		t.Errorf("stdout: exit %d\n%s", code, stdout)
	}
}

func TestSweepUsage(t *testing.T) {
	dir, spec := writeSpec(t, sweepSpec)
	_, bad := writeSpec(t, "batch = 8\n[axes]\n\"sram.global.capacity\" = [\"64KiB\", \"64KiX\"]\n")
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"sweep"}, 2, "want one sweep spec"},
		{[]string{"sweep", spec, "-o", "x.csv"}, 2, "flag -o after the inputs: put flags first"},
		{[]string{"sweep", "--shard", "4/4", spec}, 2, "0..3"},
		{[]string{"sweep", "--workers", "-1", spec}, 2, "--workers"},
		{[]string{"sweep", "--bogus", spec}, 2, "flag provided but not defined"},
		{[]string{"sweep", "no_such_spec"}, 1, "no such file, nor an embedded sweep"},
		{[]string{"sweep", bad}, 1, bad + `:3:36: axes."sram.global.capacity"[1]: invalid size`},
		{[]string{"sweep", "--check", "--shard", "1/3", spec}, 0, ""},
		{[]string{"sweep", "--check", "lenet5_array_sram"}, 0, ""},
		{[]string{"merge"}, 2, "at least one"},
		{[]string{"merge", spec, "-o", "x.csv"}, 2, "put flags first"},
		{[]string{"merge", "-"}, 2, "not standard input"},
		{[]string{"merge", "--shards", "-2", spec}, 2, "--shards"},
		{[]string{"merge", "--shards", "2", spec}, 2, "--shards needs --spec"},
		{[]string{"sweep", "--workers", "5000", spec}, 2, "--workers must be in 1..1024 (got 5000)"},
		{[]string{"sweep", "--jsonl", "-", spec}, 2, "-o and --jsonl both name standard output"},
		{[]string{"sweep", "-o", "-", "--jsonl", "-", spec}, 2, "-o and --jsonl both name standard output"},
		{[]string{"sweep", "--fresh", spec}, 2, "--fresh does not apply to standard output"},
		{[]string{"sweep", "--fresh", "-o", "-", spec}, 2, "--fresh does not apply to standard output"},
		{[]string{"sweep", "-o", filepath.Join(dir, "a.csv"), "--jsonl", filepath.Join(dir, ".", "a.csv"), spec}, 2, "-o and --jsonl name the same file"},
	}
	for _, tt := range tests {
		code, stdout, stderr := rctsim(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tt.args, code, stderr, tt.code, tt.msg)
		}
		if code == 0 && !strings.Contains(stdout, "points") {
			t.Errorf("%v: stdout %q", tt.args, stdout)
		}
	}
	if _, stdout, _ := rctsim("sweep", "--check", "--shard", "1/3", spec); !strings.Contains(stdout, "4 points (shard 1/3: 1)") {
		t.Errorf("--check: %s", stdout)
	}
	// --check --shard shows every shard's share and estimate before anything runs; an
	// embedded spec is found by name and by the path --check prints.
	for _, name := range []string{"lenet5_array_sram", "sweeps/lenet5_array_sram.toml"} {
		_, stdout, _ := rctsim("sweep", "--check", "--shard", "1/4", name)
		for _, want := range []string{"sweeps/lenet5_array_sram.toml: 84 points (shard 1/4: 21), 86 columns\n",
			"estimated simulation time: ", "shards: 4, the costliest ",
			"  shard 0/4           21 points ", "rct 10, qat 11  <- --shard\n", "  shard 3/4 "} {
			if !strings.Contains(stdout, want) {
				t.Errorf("--check --shard 1/4 %s lacks %q:\n%s", name, want, stdout)
			}
		}
	}
	if _, stdout, _ := rctsim("help", "sweep"); !strings.Contains(stdout, "each shard's points, model and method mix, and estimate") {
		t.Errorf("help sweep does not say what --check prints:\n%s", stdout)
	}
	if _, stdout, _ := rctsim("help"); !strings.Contains(stdout, "sweep") || !strings.Contains(stdout, "merge") {
		t.Errorf("help does not list sweep and merge:\n%s", stdout)
	}
}

// TestMergeCommand runs a sweep in two shards and merges them, with and without a
// missing shard.
func TestMergeCommand(t *testing.T) {
	dir, spec := writeSpec(t, sweepSpec)
	whole := filepath.Join(dir, "whole.csv")
	if code, _, stderr := rctsim("sweep", "--quiet", "-o", whole, spec); code != 0 {
		t.Fatal(stderr)
	}
	shards := []string{filepath.Join(dir, "s0.csv"), filepath.Join(dir, "s1.csv")}
	for i, s := range shards {
		if code, _, stderr := rctsim("sweep", "--quiet", "--shard", []string{"0/2", "1/2"}[i], "-o", s, spec); code != 0 {
			t.Fatal(stderr)
		}
	}
	merged := filepath.Join(dir, "merged.csv")
	code, _, stderr := rctsim("merge", "--spec", spec, "-o", merged, shards[1], shards[0])
	if code != 0 || !strings.Contains(stderr, "merged 2 files: 4 points of 4") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want, _ := os.ReadFile(whole)
	if got, _ := os.ReadFile(merged); !bytes.Equal(got, want) {
		t.Errorf("merged shards differ from a single run:\n%s\nwant\n%s", got, want)
	}
	code, _, stderr = rctsim("merge", "--spec", spec, "--shards", "2", "-o", merged, shards[0], shards[0])
	if code != 1 || !strings.Contains(stderr, "duplicated: 2 points") || !strings.Contains(stderr, "missing: 2 points") ||
		!strings.Contains(stderr, "point 1 (shard 1/2): sram.global.capacity=16KiB model=lenet5 method=qat") {
		t.Errorf("incomplete merge: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := rctsim("merge", "-o", shards[0], shards[0]); code != 2 || !strings.Contains(stderr, "also the output") {
		t.Errorf("merging into an input: exit %d: %s", code, stderr)
	}
	// A quoted pattern, as a container without a shell passes it, is expanded by merge.
	os.Remove(merged)
	code, _, stderr = rctsim("merge", "--spec", spec, "-o", merged, filepath.Join(dir, "s*.csv"))
	if got, _ := os.ReadFile(merged); code != 0 || !bytes.Equal(got, want) || !strings.Contains(stderr, "merged 2 files") {
		t.Errorf("merge of a pattern: exit %d: %s", code, stderr)
	}
	if code, _, stderr := rctsim("merge", filepath.Join(dir, "none-*.csv")); code != 1 || !strings.Contains(stderr, "no file matches") {
		t.Errorf("a pattern that matches nothing: exit %d: %s", code, stderr)
	}
}

// TestSweepFreshKeepsResults checks that a sweep whose output cannot be used fails
// before touching the others: --fresh with a --jsonl that names a folder keeps the
// finished rows, a new -o is not created, and nothing reaches stdout.
func TestSweepFreshKeepsResults(t *testing.T) {
	dir, spec := writeSpec(t, sweepSpec)
	out := filepath.Join(dir, "out.csv")
	if code, _, stderr := rctsim("sweep", "--quiet", "-o", out, spec); code != 0 {
		t.Fatal(stderr)
	}
	rows, _ := os.ReadFile(out)
	folder := filepath.Join(dir, "folder")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--fresh", "-o", out, "--jsonl", folder},
		{"-o", out, "--jsonl", folder},
		{"--fresh", "-o", folder, "--jsonl", filepath.Join(dir, "new.jsonl")},
		{"-o", filepath.Join(dir, "new.csv"), "--jsonl", folder},
		{"--jsonl", folder},
	} {
		code, stdout, stderr := rctsim(append(append([]string{"sweep", "--quiet"}, args...), spec)...)
		if code != 1 || !strings.Contains(stderr, "folder: is a folder") || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 naming the folder", args, code, stdout, stderr)
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, rows) {
			t.Errorf("%v: the failed sweep changed %s", args, out)
		}
		for _, name := range []string{"new.csv", "new.jsonl"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				t.Errorf("%v: the failed sweep left %s", args, name)
			}
		}
	}
}

// TestSweepOutputs checks --jsonl - (JSON Lines on stdout next to a CSV file) and -o
// onto /dev/null, which stays a device.
func TestSweepOutputs(t *testing.T) {
	dir, spec := writeSpec(t, sweepSpec)
	out := filepath.Join(dir, "out.csv")
	code, stdout, stderr := rctsim("sweep", "--quiet", "-o", out, "--jsonl", "-", spec)
	if code != 0 || strings.Count(stdout, "\n") != 4 || !strings.HasPrefix(stdout, `{"point":0,`) {
		t.Errorf("--jsonl -: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "-")); err == nil {
		t.Error("--jsonl - made a file named -")
	}
	before, err := os.Lstat(os.DevNull)
	if err != nil || before.Mode()&os.ModeDevice == 0 {
		t.Skipf("no device at %s", os.DevNull)
	}
	for _, args := range [][]string{{"-o", os.DevNull}, {"--fresh", "-o", os.DevNull}, {"-o", os.DevNull, "--jsonl", os.DevNull}} {
		code, stdout, stderr := rctsim(append(append([]string{"sweep", "--quiet"}, args...), spec)...)
		if code != 0 || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
		if after, err := os.Lstat(os.DevNull); err != nil || after.Mode() != before.Mode() {
			t.Fatalf("%v: %s changed: %v -> %v (%v)", args, os.DevNull, before.Mode(), after.Mode(), err)
		}
	}
}

// TestMergeNotSweepOutputs checks that merge names an input that is not a sweep CSV:
// an empty file, another CSV, a folder.
func TestMergeNotSweepOutputs(t *testing.T) {
	dir, spec := writeSpec(t, sweepSpec)
	good := filepath.Join(dir, "good.csv")
	if code, _, stderr := rctsim("sweep", "--quiet", "-o", good, spec); code != 0 {
		t.Fatal(stderr)
	}
	empty := filepath.Join(dir, "empty.csv")
	other := filepath.Join(dir, "other.csv")
	for path, data := range map[string]string{empty: "", other: "a,b\n1,2\n"} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	merged := filepath.Join(dir, "merged.csv")
	tests := []struct {
		inputs []string
		msg    string
	}{
		{[]string{empty}, empty + ": empty file"},
		{[]string{good, empty}, empty + ": empty file"},
		{[]string{good, other}, other + ":1: not a sweep output"},
		{[]string{good, dir}, "is a directory"},
	}
	for _, tt := range tests {
		code, _, stderr := rctsim(append([]string{"merge", "-o", merged}, tt.inputs...)...)
		if code != 1 || !strings.Contains(stderr, tt.msg) {
			t.Errorf("merge %v: exit %d, %q; want exit 1 mentioning %q", tt.inputs, code, stderr, tt.msg)
		}
		if _, err := os.Stat(merged); err == nil {
			t.Errorf("merge %v: a failed merge wrote its output", tt.inputs)
		}
	}
}

// TestSweepReport: rctsim report and plot --kind report write a sweep's page; the flags
// of other sweep figures do not apply.
func TestSweepReport(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "small.csv")
	data, err := os.ReadFile(filepath.Join("..", "..", "plots", "report", "testdata", "sweep.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(csv, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := rctsim("report", csv)
	want := filepath.Join(dir, "small.report.html")
	if page, err := os.ReadFile(want); code != 0 || strings.TrimSpace(stdout) != want || err != nil || !strings.Contains(string(page), `href="small.csv"`) {
		t.Errorf("report: exit %d, %q, %s, %v", code, stdout, stderr, err)
	}
	code, stdout, stderr = rctsim("plot", "-o", filepath.Join(dir, "figs"), "--kind", "report", "--metric", "energy_pj.total", "--filter", "method=rct", csv)
	page, err := os.ReadFile(filepath.Join(dir, "figs", "report.html"))
	if code != 0 || err != nil || !strings.Contains(string(page), "12 design points") || !strings.Contains(string(page), `data-figure="heatmap_energy_pj_total"`) {
		t.Errorf("plot --kind report: exit %d, %q, %s, %v", code, stdout, stderr, err)
	}
	for _, args := range [][]string{
		{"plot", "-o", filepath.Join(dir, "x"), "--kind", "report", "--where", "area_mm2.total<=4", csv},
		{"plot", "-o", filepath.Join(dir, "x"), "--kind", "report", "--formats", "png", csv},
		{"report", "-o", "-", csv},
	} {
		if code, _, stderr := rctsim(args...); code != 2 {
			t.Errorf("rctsim %v: exit %d, %s", args, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
		t.Errorf("a refused report wrote something: %v", err)
	}
}
