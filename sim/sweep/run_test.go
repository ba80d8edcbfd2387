package sweep

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/traces/progress"
	"github.com/rctsim/rctsim/train/numerics"
)

// smallSpec is an 8-point sweep of LeNet-5 at batch 8; QAT's tiles do not fit 16 KiB,
// so two points fail.
const smallSpec = `
name = "small"
methods = ["rct", "qat"]
batch = 8
[axes]
"mac_array.rows" = [8, 16]
"sram.global.capacity" = ["16KiB", "128KiB"]
`

// runTo runs spec into dir/out.csv (and out.jsonl) and returns the summary and error.
func runTo(t testing.TB, spec *Spec, dir string, opts Options) (*Summary, error) {
	t.Helper()
	opts.CSV = filepath.Join(dir, "out.csv")
	if opts.JSONL == "" {
		opts.JSONL = filepath.Join(dir, "out.jsonl")
	}
	return Run(context.Background(), spec, opts)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reference runs spec once with one worker and returns its CSV and JSON Lines bytes.
func reference(t testing.TB, spec *Spec) (csvOut, jsonl []byte) {
	t.Helper()
	dir := t.TempDir()
	if _, err := runTo(t, spec, dir, Options{Workers: 1}); err != nil {
		t.Fatal(err)
	}
	return readFile(t, filepath.Join(dir, "out.csv")), readFile(t, filepath.Join(dir, "out.jsonl"))
}

func readRows(t testing.TB, data []byte) (header []string, rows [][]string) {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs[0], recs[1:]
}

// TestRunDeterministic checks that the output bytes do not depend on the number of
// workers, and that stdout gets the same CSV as a file.
func TestRunDeterministic(t *testing.T) {
	spec := mustParse(t, smallSpec)
	wantCSV, wantJSON := reference(t, spec)
	for _, w := range []int{2, 4} {
		dir := t.TempDir()
		if _, err := runTo(t, spec, dir, Options{Workers: w, Window: 3}); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, filepath.Join(dir, "out.csv")); !bytes.Equal(got, wantCSV) {
			t.Errorf("%d workers: CSV differs from 1 worker's:\n%s\nwant\n%s", w, got, wantCSV)
		}
		if got := readFile(t, filepath.Join(dir, "out.jsonl")); !bytes.Equal(got, wantJSON) {
			t.Errorf("%d workers: JSON Lines differ from 1 worker's", w)
		}
	}
	var stdout bytes.Buffer
	if _, err := Run(context.Background(), spec, Options{Workers: 3, Stdout: &stdout}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout.Bytes(), wantCSV) {
		t.Errorf("stdout differs from the file")
	}
}

// TestRunRows checks the content of the rows: every point once, in order, with its
// swept values, and the failed points recorded with their error and no metrics.
func TestRunRows(t *testing.T) {
	spec := mustParse(t, smallSpec)
	dir := t.TempDir()
	sum, err := runTo(t, spec, dir, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Points != 8 || sum.Simulated != 8 || sum.Failed != 2 || sum.Skipped != 0 {
		t.Errorf("summary %+v", sum)
	}
	header, rows := readRows(t, readFile(t, filepath.Join(dir, "out.csv")))
	col := map[string]int{}
	for i, c := range header {
		col[c] = i
	}
	if strings.Join(header[:10], ",") != "point,hash,mac_array.rows,sram.global.capacity,model,method,plan,batch,steps,profile" || header[len(header)-1] != "error" {
		t.Errorf("header %v", header)
	}
	for k, row := range rows {
		pt := spec.Point(k)
		hash, _ := spec.Identify(pt)
		if row[col["point"]] != strconv.Itoa(k) || row[col["hash"]] != hash || row[col["method"]] != pt.Method.String() {
			t.Errorf("row %d: point %s hash %s method %s, want %d %s %s", k, row[0], row[1], row[col["method"]], k, hash, pt.Method)
		}
		failed := row[col["error"]] != ""
		wantFail := pt.Method.Method == numerics.QAT && row[col["sram.global.capacity"]] == "16KiB"
		if failed != wantFail {
			t.Errorf("row %d (%s): error %q", k, spec.Describe(pt), row[col["error"]])
		}
		wantKind := ""
		if wantFail {
			wantKind = "no_fit"
		}
		if kind := row[col["failure_kind"]]; kind != wantKind {
			t.Errorf("row %d (%s): failure_kind %q, want %q", k, spec.Describe(pt), kind, wantKind)
		}
		if failed {
			if !strings.Contains(row[col["error"]], "does not fit") || row[col["cycles"]] != "" || row[col["energy_pj.total"]] != "" {
				t.Errorf("failed row %d: error %q, cycles %q", k, row[col["error"]], row[col["cycles"]])
			}
		} else if c, err := strconv.Atoi(row[col["cycles"]]); err != nil || c <= 0 || row[col["steps"]] != "1" {
			t.Errorf("row %d: cycles %q steps %q", k, row[col["cycles"]], row[col["steps"]])
		}
	}
	// The JSON Lines carry the same points, with the report of `rctsim sim --format json`.
	lines := bytes.Split(bytes.TrimSuffix(readFile(t, filepath.Join(dir, "out.jsonl")), []byte("\n")), []byte("\n"))
	if len(lines) != len(rows) {
		t.Fatalf("%d JSON lines for %d rows", len(lines), len(rows))
	}
	for k, line := range lines {
		var jr jsonRow
		if err := json.Unmarshal(line, &jr); err != nil {
			t.Fatal(err)
		}
		if jr.Hash != rows[k][1] || jr.Values["mac_array.rows"] != rows[k][2] || (jr.Report == nil) != (jr.Error != "") ||
			jr.FailureKind != rows[k][col["failure_kind"]] {
			t.Errorf("JSON row %d: %s", k, line)
		}
		if jr.Report != nil && strconv.FormatUint(jr.Report.Cycles, 10) != rows[k][col["cycles"]] {
			t.Errorf("JSON row %d: cycles %d, CSV %s", k, jr.Report.Cycles, rows[k][col["cycles"]])
		}
	}
}

// TestResumeAfterCancel stops the sweep after a random number of rows, as a kill would,
// and checks that rerunning completes it with every point exactly once: the bytes of an
// uninterrupted run.
func TestResumeAfterCancel(t *testing.T) {
	spec := mustParse(t, smallSpec)
	wantCSV, wantJSON := reference(t, spec)
	rng := rand.New(rand.NewPCG(6, 1))
	for trial := range 4 {
		stopAt := 1 + rng.IntN(spec.Len()-1)
		workers := 1 + trial%3
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		opts := Options{Workers: workers, CSV: filepath.Join(dir, "out.csv"), JSONL: filepath.Join(dir, "out.jsonl"),
			afterRow: func(n int) {
				if n == stopAt {
					cancel()
				}
			}}
		sum, err := Run(ctx, spec, opts)
		cancel()
		if !errors.Is(err, context.Canceled) {
			// Rows already simulated may all be written before the cancel is seen; the
			// run must then have been complete.
			if err != nil || sum.Simulated != spec.Len() {
				t.Fatalf("trial %d: stopped after %d rows: %v (%+v)", trial, stopAt, err, sum)
			}
		}
		first := sum.Simulated
		t.Logf("trial %d: stop at %d, %d workers: %d rows written (%v)", trial, stopAt, workers, first, err)
		if first < stopAt {
			t.Errorf("trial %d: %d rows written before stopping at %d", trial, first, stopAt)
		}
		opts.afterRow = nil
		sum, err = Run(context.Background(), spec, opts)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Skipped != first || sum.Simulated != spec.Len()-first {
			t.Errorf("trial %d: resumed with %d skipped and %d simulated after %d rows", trial, sum.Skipped, sum.Simulated, first)
		}
		if got := readFile(t, opts.CSV); !bytes.Equal(got, wantCSV) {
			t.Errorf("trial %d (stop at %d, %d workers): resumed CSV differs from an uninterrupted run:\n%s", trial, stopAt, workers, got)
		}
		if got := readFile(t, opts.JSONL); !bytes.Equal(got, wantJSON) {
			t.Errorf("trial %d: resumed JSON Lines differ from an uninterrupted run", trial)
		}
	}
}

// TestResumeTornRow cuts the output at random bytes, as a kill in the middle of a write
// would, and checks that rerunning cuts the torn row and completes the sweep.
func TestResumeTornRow(t *testing.T) {
	spec := mustParse(t, smallSpec)
	wantCSV, wantJSON := reference(t, spec)
	rng := rand.New(rand.NewPCG(6, 2))
	cuts := []int{0, 5, bytes.IndexByte(wantCSV, '\n') + 1, len(wantCSV) - 1}
	for range 4 {
		cuts = append(cuts, rng.IntN(len(wantCSV)))
	}
	for _, cut := range cuts {
		dir := t.TempDir()
		csvPath, jsonPath := filepath.Join(dir, "out.csv"), filepath.Join(dir, "out.jsonl")
		if err := os.WriteFile(csvPath, wantCSV[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		jcut := rng.IntN(len(wantJSON))
		if err := os.WriteFile(jsonPath, wantJSON[:jcut], 0o644); err != nil {
			t.Fatal(err)
		}
		sum, err := Run(context.Background(), spec, Options{Workers: 2, CSV: csvPath, JSONL: jsonPath})
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		torn := 0
		if cut > 0 && wantCSV[cut-1] != '\n' {
			torn = cut - (bytes.LastIndexByte(wantCSV[:cut], '\n') + 1)
		}
		if jcut > 0 && wantJSON[jcut-1] != '\n' {
			torn += jcut - (bytes.LastIndexByte(wantJSON[:jcut], '\n') + 1)
		}
		if sum.Dropped != torn {
			t.Errorf("cut at %d/%d: dropped %d bytes, want %d", cut, jcut, sum.Dropped, torn)
		}
		if got := readFile(t, csvPath); !bytes.Equal(got, wantCSV) {
			t.Errorf("cut at %d: resumed CSV differs:\n%s", cut, got)
		}
		if got := readFile(t, jsonPath); !bytes.Equal(got, wantJSON) {
			t.Errorf("cut at %d: resumed JSON Lines differ", jcut)
		}
	}
}

// TestRerunAndFresh checks that a complete output is left as it is, that --fresh starts
// over, and that an output of another spec or of an earlier version with other columns
// is refused rather than mixed.
func TestRerunAndFresh(t *testing.T) {
	spec := mustParse(t, smallSpec)
	dir := t.TempDir()
	if _, err := runTo(t, spec, dir, Options{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(dir, "out.csv")
	want := readFile(t, csvPath)
	sum, err := runTo(t, spec, dir, Options{Workers: 2})
	if err != nil || sum.Simulated != 0 || sum.Skipped != spec.Len() {
		t.Fatalf("rerun: %+v, %v", sum, err)
	}
	if got := readFile(t, csvPath); !bytes.Equal(got, want) {
		t.Error("rerunning a complete sweep changed its output")
	}
	sum, err = runTo(t, spec, dir, Options{Workers: 2, Fresh: true})
	if err != nil || sum.Simulated != spec.Len() || sum.Skipped != 0 {
		t.Fatalf("fresh: %+v, %v", sum, err)
	}
	if got := readFile(t, csvPath); !bytes.Equal(got, want) {
		t.Error("a fresh run differs from the first")
	}
	other := mustParse(t, "batch = 8\n[axes]\n\"mac_array.cols\" = [8]\n")
	if _, err := Run(context.Background(), other, Options{CSV: csvPath}); err == nil || !strings.Contains(err.Error(), "--fresh") {
		t.Errorf("another spec's output: %v", err)
	}
	// An output written before the failure_kind column is refused too, naming the file
	// and the column: its rows cannot be completed without rerunning them.
	old := bytes.Replace(want, []byte(",failure_kind,error\n"), []byte(",error\n"), 1)
	if bytes.Equal(old, want) {
		t.Fatal("the header has no failure_kind column before error")
	}
	if err := os.WriteFile(csvPath, old, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), spec, Options{CSV: csvPath})
	if err == nil || !strings.HasPrefix(err.Error(), csvPath+": ") || !strings.Contains(err.Error(), `it lacks column "failure_kind"`) ||
		!strings.Contains(err.Error(), "--fresh") {
		t.Errorf("an output of an earlier version: %v", err)
	}
	if got := readFile(t, csvPath); !bytes.Equal(got, old) {
		t.Error("refusing an output of an earlier version changed it")
	}
	if err := os.WriteFile(csvPath, append(append([]byte{}, want...), "garbage\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), spec, Options{CSV: csvPath}); err == nil || !strings.Contains(err.Error(), "out.csv:10:") {
		t.Errorf("a bad row: %v", err)
	}
}

// TestSchedule checks a recorded schedule's whole-run totals against sim.SimulateRun
// of the same run, step by step.
func TestSchedule(t *testing.T) {
	spec := mustParse(t, "batch = 8\n[[plans]]\nschedule = \"run_rct\"\n")
	var out bytes.Buffer
	if _, err := Run(context.Background(), spec, Options{Workers: 1, Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	header, rows := readRows(t, out.Bytes())
	row := map[string]string{}
	for i, c := range header {
		row[c] = rows[0][i]
	}
	if row["error"] != "" || row["steps"] != "100" || row["plan"] != "run_rct" {
		t.Fatalf("row %v", row)
	}
	pl := spec.Plans[0]
	var plans []numerics.Plan
	for _, r := range pl.runs {
		for range r.Steps {
			plans = append(plans, numerics.Plan{Bits: r.Bits, NextBits: r.NextBits, Control: r.Measured})
		}
	}
	m, err := sim.New(spec.Base, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	net, _ := models.ByName("lenet5")
	res, err := sim.SimulateRun(m, net, kernels.Options{Method: numerics.RCT, Batch: 8}, plans, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Distinct < 3 {
		t.Errorf("the fixture schedule has only %d distinct plans", res.Distinct)
	}
	if row["cycles"] != strconv.FormatUint(res.Cycles, 10) || row["macs"] != strconv.FormatInt(res.MACs, 10) {
		t.Errorf("cycles %s macs %s, SimulateRun %d %d", row["cycles"], row["macs"], res.Cycles, res.MACs)
	}
	e, _ := strconv.ParseFloat(row["energy_pj.total"], 64)
	if math.Abs(e-res.Energy.Total()) > 1e-8*res.Energy.Total() {
		t.Errorf("energy %g, SimulateRun %g", e, res.Energy.Total())
	}
	if row["memory_bytes.params"] != strconv.FormatInt(res.PeakFootprint[kernels.ClassWeights], 10) {
		t.Errorf("params memory %s, SimulateRun's peak %d", row["memory_bytes.params"], res.PeakFootprint[kernels.ClassWeights])
	}
}

// TestDuplicatePoints checks that two [[points]] tables naming one configuration give
// one row.
func TestDuplicatePoints(t *testing.T) {
	spec := mustParse(t, "batch = 8\n[[points]]\n\"mac_array.rows\" = 16\n[[points]]\nmethod = \"rct\"\n")
	var out bytes.Buffer
	sum, err := Run(context.Background(), spec, Options{Workers: 2, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := readRows(t, out.Bytes()); len(rows) != 1 || sum.Duplicates != 1 {
		t.Errorf("%d rows, %d duplicates", len(rows), sum.Duplicates)
	}
}

// TestProgress checks the plain progress lines (no carriage returns) and the bar.
func TestProgress(t *testing.T) {
	spec := mustParse(t, smallSpec)
	for _, tty := range []bool{false, true} {
		var out, prog bytes.Buffer
		rep := progress.New(&prog)
		rep.Terminal = tty
		if _, err := Run(context.Background(), spec, Options{Workers: 2, Stdout: &out, Progress: rep}); err != nil {
			t.Fatal(err)
		}
		s := prog.String()
		if tty != strings.Contains(s, "\r") || !strings.Contains(s, "8/8 points, 2 failed") || !strings.HasSuffix(s, "\n") {
			t.Errorf("terminal %v: progress %q", tty, s)
		}
	}
}

// TestUnsupportedMode checks that a point the chip cannot run at all (QAT on an
// integer-only chip) is a row with its error, next to the points it can run.
func TestUnsupportedMode(t *testing.T) {
	spec := mustParse(t, "base = \"bitfusion\"\nmethods = [\"qat\", \"rct\"]\nbatch = 8\n")
	var out bytes.Buffer
	sum, err := Run(context.Background(), spec, Options{Workers: 2, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	_, rows := readRows(t, out.Bytes())
	if sum.Failed != 1 || len(rows) != 2 || !strings.Contains(rows[0][len(rows[0])-1], "floating point") || rows[1][len(rows[1])-1] != "" {
		t.Errorf("%d failed; rows %q", sum.Failed, rows)
	}
}
