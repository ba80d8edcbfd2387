package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/train"
)

// TestTrainRunFolder trains a small MNIST run twice with the same seed: the run folder
// holds the three files, and the metrics and schedule are byte-identical.
func TestTrainRunFolder(t *testing.T) {
	if _, err := train.MNISTDir(); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	dir := t.TempDir()
	runOnce := func(name string) string {
		out := filepath.Join(dir, name)
		code, stdout, stderr := rctsim("train", "--model", "mlp", "--method", "rct", "--limit", "320", "--test-limit", "64",
			"--epochs", "1", "--out", out)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stdout, "test accuracy") {
			t.Errorf("summary: %s", stdout)
		}
		return out
	}
	a, b := runOnce("a"), runOnce("b")
	for _, f := range []string{"metrics.csv", "schedule.csv"} {
		x, err1 := os.ReadFile(filepath.Join(a, f))
		y, err2 := os.ReadFile(filepath.Join(b, f))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) || len(x) == 0 {
			t.Errorf("%s differs between two runs with the same seed (%v, %v)", f, err1, err2)
		}
	}
	var rec struct {
		Flags    map[string]any `json:"flags"`
		Complete bool           `json:"complete"`
		Summary  struct {
			Steps int `json:"steps"`
		} `json:"summary"`
	}
	data, err := os.ReadFile(filepath.Join(a, "run.json"))
	if err != nil || json.Unmarshal(data, &rec) != nil {
		t.Fatalf("run.json: %v", err)
	}
	if !rec.Complete || rec.Summary.Steps != 10 || rec.Flags["seed"] != float64(1) {
		t.Errorf("run.json: %+v", rec)
	}
	// A second run into the same folder is refused without --force.
	code, _, stderr := rctsim("train", "--model", "mlp", "--limit", "64", "--out", a)
	if code != 1 || !strings.Contains(stderr, "already holds a run") {
		t.Errorf("overwriting a run: exit %d, %s", code, stderr)
	}
}

// TestCompareAndPlot runs the comparison command end to end on a few MNIST steps, then
// redraws one figure kind from its folder.
func TestCompareAndPlot(t *testing.T) {
	if _, err := train.MNISTDir(); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "cmp")
	code, stdout, stderr := rctsim("compare", "-o", out, "--model", "mlp", "--methods", "rct,qat", "--limit", "64", "--test-limit", "32",
		"--steps", "3", "--batch", "8", "--device-steps", "1", "--formats", "svg")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "RCT vs QAT") || !strings.Contains(stdout, "bit-exact true") || !strings.Contains(stdout, "figures in") ||
		!strings.Contains(stdout, filepath.Join(out, "report.html")+" in a browser") {
		t.Errorf("stdout:\n%s", stdout)
	}
	code, stdout, stderr = rctsim("plot", "-o", filepath.Join(dir, "figs"), "--kind", "memory", "--formats", "png", out)
	if code != 0 || strings.TrimSpace(stdout) != filepath.Join(dir, "figs", "memory.png") {
		t.Errorf("plot: exit %d, %q, %s", code, stdout, stderr)
	}
	// The comparison wrote its report, and rctsim report and plot --kind report write
	// it again elsewhere, linking back to the folder's files.
	if _, err := os.Stat(filepath.Join(out, "report.html")); err != nil {
		t.Errorf("compare wrote no report.html: %v", err)
	}
	page := filepath.Join(dir, "pages", "cmp.html")
	code, stdout, stderr = rctsim("report", "-o", page, out)
	data, err := os.ReadFile(page)
	if code != 0 || strings.TrimSpace(stdout) != page || err != nil || !strings.Contains(string(data), `href="../cmp/compare.json"`) {
		t.Errorf("report: exit %d, %q, %s, %v", code, stdout, stderr, err)
	}
	code, stdout, stderr = rctsim("plot", "-o", filepath.Join(dir, "figs"), "--kind", "report", filepath.Join(out, "rct"))
	if code != 0 || strings.TrimSpace(stdout) != filepath.Join(dir, "figs", "report.html") {
		t.Errorf("plot --kind report: exit %d, %q, %s", code, stdout, stderr)
	}
	code, _, stderr = rctsim("report", "--x", "mac_array.rows", out)
	if code != 2 || !strings.Contains(stderr, "-x does not apply") {
		t.Errorf("report --x of a folder: exit %d, %s", code, stderr)
	}
	// A bad flag is refused before any training.
	code, _, stderr = rctsim("compare", "-o", filepath.Join(dir, "bad"), "--model", "mlp", "--formats", "gif")
	if _, err := os.Stat(filepath.Join(dir, "bad")); code != 2 || !os.IsNotExist(err) {
		t.Errorf("--formats gif: exit %d, %s; folder %v", code, stderr, err)
	}
}
