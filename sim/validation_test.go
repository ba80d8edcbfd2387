package sim

import (
	"encoding/csv"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

var validationSlow = flag.Bool("validation-slow", false, "also run the validation rows marked slow (VGG-16 on Eyeriss, about 5 s)")

// validationDir holds the published figures (validation.csv, each with its source)
// and the workloads they were measured on.
const validationDir = "testdata/validation"

// validationRow is one published figure and how rctsim reproduces it: a shipped
// profile (with overrides), a workload (a topology file of validationDir, each layer
// run on its own, or "model:NAME", a built-in model's inference), the batch and weight
// bits, and the metric compared.
type validationRow struct {
	id, profile, workload string
	batch, bits           int
	sets                  []string
	fidelity              Fidelity
	slow                  bool
	metric                string
	published, tolerance  float64
	source                string
}

func readValidation(t *testing.T) []validationRow {
	t.Helper()
	f, err := os.Open(filepath.Join(validationDir, "validation.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := "id,profile,workload,batch,bits,sets,fidelity,slow,metric,published,tolerance,source"
	if strings.Join(records[0], ",") != want {
		t.Fatalf("validation.csv header %v, want %s", records[0], want)
	}
	var rows []validationRow
	for i, r := range records[1:] {
		atoi := func(s string) int {
			v, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("validation.csv:%d: %v", i+2, err)
			}
			return v
		}
		atof := func(s string) float64 {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("validation.csv:%d: %v", i+2, err)
			}
			return v
		}
		row := validationRow{id: r[0], profile: r[1], workload: r[2], batch: atoi(r[3]), bits: atoi(r[4]),
			fidelity: Fidelity(r[6]), slow: r[7] == "true", metric: r[8], published: atof(r[9]), tolerance: atof(r[10]), source: r[11]}
		if r[5] != "" {
			row.sets = strings.Split(r[5], ";")
		}
		if row.source == "" || !(row.published > 0) || !(row.tolerance > 0) {
			t.Fatalf("validation.csv:%d: a row needs a positive figure and tolerance, and its source", i+2)
		}
		rows = append(rows, row)
	}
	return rows
}

// validationRun is a workload simulated: one run per layer of a topology file, or one
// run of a model's inference.
type validationRun struct {
	names []string
	stats []*Stats
}

func (r *validationRun) sum(f func(s *Stats) float64) float64 {
	var v float64
	for _, s := range r.stats {
		v += f(s)
	}
	return v
}

func chipMW(s *Stats) float64 { return s.Report(false).PowerMW["chip"] }

func (row *validationRow) simulate(t *testing.T) *validationRun {
	t.Helper()
	p := loadProfile(t, row.profile+".toml", row.sets...)
	m, err := New(p, Options{Fidelity: row.fidelity})
	if err != nil {
		t.Fatal(err)
	}
	opts := kernels.Options{Method: numerics.RCT, Batch: row.batch, Plan: numerics.Plan{Bits: []int{row.bits}}}
	if name, ok := strings.CutPrefix(row.workload, "model:"); ok {
		net, err := models.ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		opts.ForwardOnly = true
		s, _ := simulate(t, p, net, opts, Options{Fidelity: row.fidelity})
		return &validationRun{names: []string{name}, stats: []*Stats{s}}
	}
	path := filepath.Join(validationDir, row.workload)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	layers, err := models.ReadTopology(f, path, false)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := m.RunTopology(path, layers, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := &validationRun{}
	for _, lr := range runs {
		r.names = append(r.names, lr.Name)
		r.stats = append(r.stats, lr.Stats)
	}
	return r
}

// value is rctsim's figure for the row's metric.
func (row *validationRow) value(t *testing.T, r *validationRun) float64 {
	seconds := r.sum(func(s *Stats) float64 { return s.Seconds() })
	switch row.metric {
	case "frames_per_s":
		return float64(row.batch) / seconds
	case "latency_ms":
		return 1e3 * seconds
	case "chip_power_mw":
		return r.sum(func(s *Stats) float64 { return chipMW(s) * s.Seconds() }) / seconds
	case "dram_mb":
		return r.sum(func(s *Stats) float64 { return float64(s.DRAM.ReadBytes + s.DRAM.WriteBytes) }) / 1e6
	}
	if layer, ok := strings.CutPrefix(row.metric, "layer_chip_power_mw:"); ok {
		for i, n := range r.names {
			if n == layer {
				return chipMW(r.stats[i])
			}
		}
	}
	t.Fatalf("%s: unknown metric %q", row.id, row.metric)
	return 0
}

// TestValidation compares rctsim with the published measurements and estimates of
// shipped chips (testdata/validation/validation.csv, each row with its source) and
// checks each stays within the deviation it reaches; -v prints the table the README
// shows and each workload's layers. Rows marked slow need -validation-slow.
func TestValidation(t *testing.T) {
	if raceDetector {
		t.Skip("sequential simulations only, thirty times slower under -race; the ordinary run checks them")
	}
	runs := map[string]*validationRun{}
	var table strings.Builder
	table.WriteString("| figure | published | rctsim | deviation | held to |\n| --- | --- | --- | --- | --- |\n")
	for _, row := range readValidation(t) {
		if row.slow && !*validationSlow {
			t.Logf("%s: slow, skipped (run with -validation-slow)", row.id)
			continue
		}
		key := fmt.Sprint(row.profile, row.workload, row.batch, row.bits, row.sets, row.fidelity)
		r, ok := runs[key]
		if !ok {
			r = row.simulate(t)
			runs[key] = r
			for i, s := range r.stats {
				if len(r.stats) > 13 {
					break // the per-layer lines of the small workloads (AlexNet, VGG-16) only
				}
				t.Logf("%s %s batch %d: %-8s %10d cycles, MAC utilisation %5.1f%%, chip %6.1f mW, DRAM %7.2f MB",
					row.profile, row.workload, row.batch, r.names[i], s.Cycles, 100*s.MACUtilization(), chipMW(s),
					float64(s.DRAM.ReadBytes+s.DRAM.WriteBytes)/1e6)
			}
		}
		got := row.value(t, r)
		dev := got/row.published - 1
		fmt.Fprintf(&table, "| %s | %.4g | %.4g | %+.0f%% | %.0f%% |\n", row.id, row.published, got, 100*dev, 100*row.tolerance)
		if math.Abs(dev) > row.tolerance || math.IsNaN(dev) {
			t.Errorf("%s: rctsim %.4g, published %.4g: %+.1f%% (held to %.0f%%; source: %s)", row.id, got, row.published, 100*dev, 100*row.tolerance, row.source)
		}
	}
	t.Logf("\n%s", table.String())
}
