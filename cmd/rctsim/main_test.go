package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// rctsim runs a command line and returns its exit status and output streams.
func rctsim(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &env{stdout: &out, stderr: &errb})
	return code, out.String(), errb.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; run go test ./cmd/rctsim -update after checking the change.\ngot:\n%s", name, got)
	}
}

func TestSimJSONGolden(t *testing.T) {
	code, out, stderr := rctsim("sim", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "sim_lenet5_rct.json", out)
}

func TestSimJSONKeys(t *testing.T) {
	for _, method := range []string{"rct", "qat", "fp32"} {
		code, out, stderr := rctsim("sim", "--method", method, "--batch", "8", "--format", "json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", method, code, stderr)
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(out), &obj); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"profile", "model", "method", "batch", "cycles", "seconds", "macs", "instructions"} {
			if _, ok := obj[k]; !ok {
				t.Errorf("%s: no key %q", method, k)
			}
		}
		nested := map[string][]string{
			"energy_pj":           {"total", "mac", "sram", "dram", "vector", "static"},
			"energy_by_tensor_pj": {"weights", "master_weights", "activations", "errors", "gradients", "other"},
			"energy_by_phase_pj":  {"forward", "backward_data", "backward_weight", "update", "precision_control"},
			"dram":                {"read_bytes", "write_bytes", "activates", "row_hits", "row_misses"},
			"sram":                {"read_bytes", "write_bytes", "peak_bytes"},
			"memory_bytes":        {"params", "master_params", "activations", "gradients"},
			"utilization":         {"mac_array", "dram_bus"},
		}
		for k, subs := range nested {
			m, ok := obj[k].(map[string]any)
			if !ok {
				t.Errorf("%s: %q is not an object", method, k)
				continue
			}
			for _, s := range subs {
				if _, ok := m[s]; !ok {
					t.Errorf("%s: no key %s.%s", method, k, s)
				}
			}
		}
	}
}

// TestSimDRAMModel checks that a result says how its DRAM was simulated, in JSON
// always and in the table when not exactly.
func TestSimDRAMModel(t *testing.T) {
	for _, c := range []struct {
		flags      []string
		model, row string
	}{
		{nil, "exact", ""},
		{[]string{"--fidelity", "fast"}, "fast", "DRAM model           fast: "},
		{[]string{"--dram", "ideal"}, "ideal", "DRAM model           ideal: "},
	} {
		args := append([]string{"sim", "--batch", "8"}, c.flags...)
		code, out, stderr := rctsim(append(args, "--format", "json")...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.flags, code, stderr)
		}
		var obj struct {
			DRAMModel    string `json:"dram_model"`
			DRAMAnswered *struct {
				Requests, Answered int64
			} `json:"dram_answered"`
		}
		if err := json.Unmarshal([]byte(out), &obj); err != nil {
			t.Fatal(err)
		}
		if obj.DRAMModel != c.model {
			t.Errorf("%v: dram_model %q, want %q", c.flags, obj.DRAMModel, c.model)
		}
		// Fast fidelity says how many requests it answered from samples; the others
		// answer none.
		if a := obj.DRAMAnswered; (a != nil) != (c.model == "fast") || a != nil && (a.Answered <= 0 || a.Answered >= a.Requests) {
			t.Errorf("%v: dram_answered %+v", c.flags, a)
		}
		code, table, stderr := rctsim(args...)
		if code != 0 {
			t.Fatalf("%v (table): exit %d: %s", c.flags, code, stderr)
		}
		if has := strings.Contains(table, "DRAM model"); has != (c.row != "") || !strings.Contains(table, c.row) {
			t.Errorf("%v: table says\n%s\nwant a row %q", c.flags, table, c.row)
		}
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("name = \"x\"\nclock = \"fast\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, 2, "Usage"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"sim", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"sim", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"dram", "trace.txt", "-o", "x"}, 2, "flag -o after the inputs: put flags first"},
		{[]string{"dram", "--", "-no-such-trace.txt"}, 1, "open -no-such-trace.txt: no such file"},
		{[]string{"sim", "--format", "xml"}, 2, "unknown --format"},
		{[]string{"sim", "--method", "sgd"}, 2, "unknown method"},
		{[]string{"sim", "--bits", "8,x"}, 2, "bad bitwidth"},
		{[]string{"sim", "--model", "resnet1000"}, 2, "unknown model"},
		{[]string{"sim", "--batch", "0"}, 2, "--batch must be positive"},
		{[]string{"sim", "--hw", bad}, 1, bad + ":2"},
		{[]string{"sim", "--hw", filepath.Join(dir, "missing.toml")}, 1, "missing.toml"},
		{[]string{"sim", "--set", "mac_array.rows=-4"}, 1, "mac_array.rows"},
		{[]string{"sim", "--set", "mac_array.nope=4"}, 1, "mac_array.nope"},
		{[]string{"sim", "--topology", filepath.Join(dir, "none.csv")}, 1, "none.csv"},
		{[]string{"help", "sim"}, 0, ""},
		{[]string{"sim", "-h"}, 0, "usage: rctsim sim"},
	}
	for _, c := range cases {
		code, _, stderr := rctsim(c.args...)
		if code != c.code || !strings.Contains(stderr, c.stderr) {
			t.Errorf("rctsim %v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.stderr)
		}
		if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
			t.Errorf("rctsim %v panicked: %s", c.args, stderr)
		}
	}
}

func TestOutputFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "sub", "r.csv")
	if code, _, stderr := rctsim("sim", "--batch", "4", "--format", "csv", "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil || strings.Count(string(data), "\n") != 2 {
		t.Fatalf("csv %q, %v: want a header and one row", data, err)
	}
	// A failing run must not leave a file behind.
	failed := filepath.Join(dir, "failed.csv")
	if code, _, _ := rctsim("sim", "--set", "sram.global.capacity=256B", "--format", "csv", "-o", failed); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if _, err := os.Stat(failed); !os.IsNotExist(err) {
		t.Errorf("a failed run left %s behind", failed)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestTopology(t *testing.T) {
	code, out, stderr := rctsim("sim", "--topology", "../../models/testdata/lenet_conv.csv", "--dram", "ideal")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "layer,total_cycles,stall_cycles,compute_cycles,mac_util_pct,dram_read_bytes,dram_write_bytes,energy_pj,batch,macs,seconds,chip_power_mw,dram_power_mw" || len(lines) < 2 {
		t.Fatalf("unexpected output:\n%s", out)
	}
	// --batch 4 runs every row on four images: four times the MACs, and the chip's
	// and the DRAM's power apart.
	code, out4, stderr := rctsim("sim", "--topology", "../../models/testdata/lenet_conv.csv", "--dram", "ideal", "--batch", "4")
	if code != 0 {
		t.Fatalf("--batch 4: exit %d: %s", code, stderr)
	}
	one, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	four, err := csv.NewReader(strings.NewReader(out4)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(one); i++ {
		m1, _ := strconv.ParseInt(one[i][9], 10, 64)
		m4, _ := strconv.ParseInt(four[i][9], 10, 64)
		chip, _ := strconv.ParseFloat(four[i][11], 64)
		if one[i][8] != "1" || four[i][8] != "4" || m4 != 4*m1 || !(chip > 0) {
			t.Errorf("row %d: batch %s -> %s, MACs %d -> %d, chip %g mW", i, one[i][8], four[i][8], m1, m4, chip)
		}
	}
	code, out, stderr = rctsim("sim", "--topology", "../../models/testdata/gemm.csv", "--gemm")
	if code != 0 || strings.Count(out, "\n") < 2 {
		t.Fatalf("gemm topology: exit %d: %s\n%s", code, stderr, out)
	}
}

func TestProfiles(t *testing.T) {
	code, out, stderr := rctsim("profiles")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "default.toml") || strings.Contains(out, "INVALID") {
		t.Errorf("profiles:\n%s", out)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "broken.toml"), []byte("name = 1\n"), 0o644)
	code, out, stderr = rctsim("profiles", dir)
	if code != 1 || !strings.Contains(out, "INVALID") || !strings.Contains(stderr, "broken.toml") {
		t.Errorf("a broken profile: exit %d\n%s\n%s", code, out, stderr)
	}
}

// TestTopologyComputeCyclesMatchSCALESim checks that, with ideal memory, each layer's
// compute cycles are those of the whole layer on the array (SCALE-Sim v2's rule, which
// hw's tests check against a transcription of SCALE-Sim), on every dataflow.
func TestTopologyComputeCyclesMatchSCALESim(t *testing.T) {
	f, err := os.Open("../../models/testdata/lenet_conv.csv")
	if err != nil {
		t.Fatal(err)
	}
	layers, err := models.ReadTopology(f, "lenet_conv.csv", false)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, df := range []string{"os", "ws", "is"} {
		code, out, stderr := rctsim("sim", "--topology", "../../models/testdata/lenet_conv.csv", "--dram", "ideal", "--set", "mac_array.dataflow="+df)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", df, code, stderr)
		}
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		p, _ := loadProfile("", []string{"mac_array.dataflow=" + df})
		mode, _ := p.IntMode(8, 8)
		for i, tl := range layers {
			m, n, k := tl.Layer.GEMMDims()
			want := p.MACArray.Timing(hw.GEMM{M: m * int64(tl.Batch), N: n, K: k}, mode).Cycles
			if got := rows[i+1][3]; got != strconv.FormatInt(want, 10) {
				t.Errorf("%s %s: compute_cycles %s, want %d", df, rows[i+1][0], got, want)
			}
		}
	}
}

func TestProgramDumpReplayAndTrace(t *testing.T) {
	dir := t.TempDir()
	dump, trace := filepath.Join(dir, "step.prog"), filepath.Join(dir, "step.json")
	code, direct, stderr := rctsim("sim", "--method", "qat", "--batch", "8", "--format", "csv", "--dump", dump, "--trace", trace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, replayed, stderr := rctsim("sim", "--program", dump, "--format", "csv")
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	if direct != replayed {
		t.Errorf("replaying the dump gives different results:\n%s\n%s", direct, replayed)
	}
	data, err := os.ReadFile(trace)
	if err != nil || !json.Valid(data) || !strings.Contains(string(data), `"gemm conv1"`) {
		t.Errorf("trace file: %v, valid JSON %v", err, json.Valid(data))
	}
	// A dump for another chip's buffers is refused with a clear error.
	code, _, stderr = rctsim("sim", "--program", dump, "--hw", "../../configs/bitfusion.toml")
	if code != 1 || !strings.Contains(stderr, "buffer") {
		t.Errorf("foreign program: exit %d, %s", code, stderr)
	}
}

// TestTopologyOfModel: a built-in model's per-layer report covers the training step
// (or, with --forward, inference) and its energies add up to the step's.
func TestTopologyOfModel(t *testing.T) {
	code, out, stderr := rctsim("sim", "--topology", "lenet5", "--batch", "8")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 10 {
		t.Fatalf("%v: %d rows", err, len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var sum float64
	phases := map[string]bool{}
	for _, r := range rows[1:] {
		v, _ := strconv.ParseFloat(r[col["energy_pj"]], 64)
		sum += v
		phases[r[col["phase"]]] = true
	}
	_, js, _ := rctsim("sim", "--batch", "8", "--format", "json")
	var rep struct {
		EnergyPJ map[string]float64 `json:"energy_pj"`
	}
	json.Unmarshal([]byte(js), &rep)
	if total := rep.EnergyPJ["total"]; sum < total*0.999 || sum > total*1.001 {
		t.Errorf("layers sum to %g pJ, the step is %g pJ", sum, total)
	}
	if !phases["forward"] || !phases["backward_weight"] || !phases["update"] {
		t.Errorf("phases %v", phases)
	}
	code, out, _ = rctsim("sim", "--topology", "lenet5", "--forward", "--batch", "8")
	if code != 0 || strings.Contains(out, "backward") {
		t.Errorf("inference report: exit %d\n%s", code, out)
	}
}

// TestScaleSimReport: --scalesim-report writes SCALE-Sim's COMPUTE_REPORT.csv for the
// file on the array (a SCALE-Sim configuration read as --hw) and the comparison; a
// layer rctsim runs whole, with SCALE-Sim's ofmap, has one cycle more than SCALE-Sim's
// Total Cycles.
func TestScaleSimReport(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := rctsim("sim", "--hw", "../../hw/testdata/scalesim/scale.cfg", "--topology", "../../models/testdata/lenet_conv.csv",
		"--dram", "ideal", "--scalesim-report", dir, "--set", "sram.ifmap.capacity=4MiB", "--set", "sram.filter.capacity=4MiB", "--set", "sram.ofmap.capacity=4MiB")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	report, err := os.ReadFile(filepath.Join(dir, "COMPUTE_REPORT.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(report)), "\n")
	if lines[0] != "LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, Compute Util %," || len(lines) != 6 || !strings.HasPrefix(lines[1], "0, ") {
		t.Fatalf("COMPUTE_REPORT.csv:\n%s", report)
	}
	f, err := os.Open(filepath.Join(dir, "RCTSIM_COMPARISON.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		total, _ := strconv.ParseInt(r[2], 10, 64)
		rct, _ := strconv.ParseInt(r[4], 10, 64)
		if r[8] == "1" && r[6] == r[7] && (rct != total+1 || !strings.Contains(r[9], "the same cycles")) {
			t.Errorf("%s: rctsim %d, SCALE-Sim Total Cycles %d: %s", r[0], rct, total, r[9])
		}
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--batch", "4"}, 2, "no batch"},
		{[]string{"--hw", "eyeriss_v1"}, 1, "only the os, ws and is dataflows"},
		{[]string{"--scalesim-python", "three"}, 2, "--scalesim-python"},
		{[]string{"-o", dir}, 2, "is a folder"},
	} {
		args := append([]string{"sim", "--topology", "../../models/testdata/lenet_conv.csv", "--scalesim-report", filepath.Join(dir, "x")}, c.args...)
		code, _, stderr := rctsim(args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, %q; want %d mentioning %q", c.args, code, stderr, c.code, c.msg)
		}
		if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
			t.Errorf("%v: the failing command wrote the report folder", c.args)
		}
	}
	// A report folder that is a file is refused before the simulation.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := rctsim("sim", "--topology", "../../models/testdata/lenet_conv.csv", "--scalesim-report", file); code != 2 || !strings.Contains(stderr, "not a folder") {
		t.Errorf("--scalesim-report FILE: exit %d, %q", code, stderr)
	}
}
