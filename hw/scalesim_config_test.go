package hw

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/traces/fileio"
)

// TestScaleSimComputeGolden reproduces SCALE-Sim v2's own regression test
// (test/scripts/function_test.sh): topologies/conv_nets/alexnet_part.csv (Conv1,
// 224x224, 11x11x3, 96 filters, stride 4: a 55x55 ofmap by SCALE-Sim's rule) on
// configs/scale.cfg switched to ws (32x32), whose COMPUTE_REPORT.csv is
// test/golden_trace/COMPUTE_REPORT.csv: "0, 112283, 0, 91.68309650614964, 94.53125,
// 90.78000992063492," since commit 9ac2a40 (Python 3.12), "...90.78000992063485"
// before it (Python 3.11 and older).
func TestScaleSimComputeGolden(t *testing.T) {
	g := GEMM{M: 55 * 55, N: 96, K: 11 * 11 * 3}
	for _, c := range []struct {
		python311 bool
		compute   string
	}{{false, "90.78000992063492"}, {true, "90.78000992063485"}} {
		got := ScaleSimCompute(32, 32, WeightStationary, g, c.python311)
		row := []string{PythonFloat(got.OverallUtil), PythonFloat(got.MappingEfficiency), PythonFloat(got.ComputeUtil)}
		want := []string{"91.68309650614964", "94.53125", c.compute}
		if got.TotalCycles != 112283 || got.StallCycles != 0 || strings.Join(row, ",") != strings.Join(want, ",") {
			t.Errorf("python311 %v: %d cycles, %d stalls, %v; want 112283, 0, %v", c.python311, got.TotalCycles, got.StallCycles, row, want)
		}
	}
}

// TestScaleSimTotalIsTimingLessOne: on every dataflow SCALE-Sim's Total Cycles is the
// index of the last cycle Timing counts.
func TestScaleSimTotalIsTimingLessOne(t *testing.T) {
	mode := MACMode{WeightBits: 8, ActBits: 8, MACsPerPEPerCycle: 1}
	for _, df := range []Dataflow{OutputStationary, WeightStationary, InputStationary} {
		for _, g := range []GEMM{{M: 3025, N: 96, K: 363}, {M: 1, N: 1, K: 1}, {M: 100, N: 33, K: 17}} {
			m := &MACArraySpec{Rows: 12, Cols: 14, Dataflow: df}
			got := ScaleSimCompute(12, 14, df, g, false)
			if want := m.Timing(g, mode).Cycles - 1; got.TotalCycles != want {
				t.Errorf("%s %+v: %d, want %d", df, g, got.TotalCycles, want)
			}
			if got.OverallUtil <= 0 || got.OverallUtil > 100 || got.MappingEfficiency > 100 || got.ComputeUtil > 100 {
				t.Errorf("%s %+v: %+v", df, g, got)
			}
		}
	}
}

func TestPythonFloat(t *testing.T) {
	for v, want := range map[float64]string{50: "50.0", 94.53125: "94.53125", 0.1: "0.1", 1e-05: "1e-05", 1.5e16: "1.5e+16", 0: "0.0", 1234567: "1234567.0"} {
		if got := PythonFloat(v); got != want {
			t.Errorf("%v: %q, want %q", v, got, want)
		}
	}
}

// TestScaleSimShippedConfigs reads SCALE-Sim's own configurations as profiles.
func TestScaleSimShippedConfigs(t *testing.T) {
	for _, c := range []struct {
		file       string
		rows, cols int
		df         Dataflow
		ifmap      ByteSize
	}{{"scale.cfg", 32, 32, OutputStationary, 64 << 10}, {"eyeriss.cfg", 12, 14, WeightStationary, 36 << 10}, {"google.cfg", 256, 256, WeightStationary, 6144 << 10}} {
		path := filepath.Join("testdata", "scalesim", c.file)
		p, err := Open(path, configs.FS, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		m := p.MACArray
		if m.Rows != c.rows || m.Cols != c.cols || m.Dataflow != c.df || p.SRAM["ifmap"].Capacity != c.ifmap {
			t.Errorf("%s: %dx%d %s, ifmap %d bytes", c.file, m.Rows, m.Cols, m.Dataflow, p.SRAM["ifmap"].Capacity)
		}
		if _, s := p.BufferFor(RoleWeights); s != p.SRAM["filter"] {
			t.Errorf("%s: weights not in the filter buffer", c.file)
		}
	}
	// A --set applies to the profile the configuration becomes.
	p, err := Open(filepath.Join("testdata", "scalesim", "scale.cfg"), configs.FS, []string{"mac_array.dataflow=ws"})
	if err != nil || p.MACArray.Dataflow != WeightStationary {
		t.Errorf("--set on a configuration: %v", err)
	}
}

// TestScaleSimConfigErrors: every problem names the file, the line and the key.
func TestScaleSimConfigErrors(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "scalesim", "scale.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(base)
	lineOf := func(s, sub string) int { return strings.Count(s[:strings.Index(s, sub)], "\n") + 1 }
	for _, c := range []struct {
		name, old, new, key, msg string
	}{
		{"bad dataflow", "Dataflow : os", "Dataflow : rs", "architecture_presets.dataflow", `"os", "ws" or "is"`},
		{"bad height", "ArrayHeight:    32", "ArrayHeight:    0", "architecture_presets.arrayheight", "integer from 1"},
		{"not a number", "IfmapSramSzkB:   64", "IfmapSramSzkB:   lots", "architecture_presets.ifmapsramszkb", "integer"},
		{"unknown key", "MemoryBanks:   1", "MemoryBankz:   1", "architecture_presets.MemoryBankz", "no such key"},
		{"duplicate key", "ArrayWidth:     32", "ArrayWidth:     32\narraywidth: 8", "architecture_presets.arraywidth", "given twice"},
		{"bad mode", "InterfaceBandwidth: CALC", "InterfaceBandwidth: FAST", "run_presets.interfacebandwidth", "USER or CALC"},
		{"user without bandwidth", "InterfaceBandwidth: CALC", "InterfaceBandwidth: USER", "architecture_presets.bandwidth", "words per cycle"},
		{"unknown section", "[run_presets]", "[run_preset]", "", "unknown section"},
		{"no separator", "Dataflow : os", "Dataflow os", "", "key: value"},
	} {
		if !strings.Contains(doc, c.old) {
			t.Fatalf("%s: %q not in scale.cfg", c.name, c.old)
		}
		bad := strings.Replace(doc, c.old, c.new, 1)
		if c.name == "user without bandwidth" {
			bad = strings.Replace(bad, "Bandwidth : 10", "Bandwidth : ten", 1)
		}
		_, err := ParseScaleSimConfig([]byte(bad), "bad.cfg")
		var fe *fileio.Error
		if !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a *fileio.Error", c.name, err)
			continue
		}
		line := lineOf(bad, c.new)
		if c.name == "user without bandwidth" {
			line = lineOf(bad, "Bandwidth : ten")
		}
		if c.name == "duplicate key" {
			line++
		}
		if fe.File != "bad.cfg" || fe.Line != line || fe.Key != c.key || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v (line %d, key %q), want line %d key %q mentioning %q", c.name, err, fe.Line, fe.Key, line, c.key, c.msg)
		}
	}
	_, err = ParseScaleSimConfig([]byte("[general]\nrun_name = x\n"), "short.cfg")
	if err == nil || !strings.Contains(err.Error(), "short.cfg: run_presets.interfacebandwidth: missing") {
		t.Errorf("missing keys: %v", err)
	}
}

// FuzzScaleSimConfig: any input reads as a configuration or fails with a positioned
// error, and a configuration that reads becomes a valid profile or an error.
func FuzzScaleSimConfig(f *testing.F) {
	for _, name := range []string{"scale.cfg", "eyeriss.cfg", "google.cfg"} {
		data, err := os.ReadFile(filepath.Join("testdata", "scalesim", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("[general]\nrun_name=x\n[run_presets]\nInterfaceBandwidth=USER\n[architecture_presets]\nBandwidth=1,2\n"))
	base, err := LoadFS(configs.FS, configs.Default)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseScaleSimConfig(data, "fuzz.cfg")
		if err != nil {
			var fe *fileio.Error
			if !errors.As(err, &fe) || fe.File != "fuzz.cfg" {
				t.Fatalf("error %v is not positioned in fuzz.cfg", err)
			}
			return
		}
		p, err := c.Profile(base)
		if err == nil {
			if err := p.Validate(); err != nil {
				t.Fatalf("profile from a configuration does not validate: %v", err)
			}
		}
	})
}
