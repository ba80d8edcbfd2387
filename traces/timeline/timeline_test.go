package timeline

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/train/numerics"
)

func compileLeNet(t testing.TB, method numerics.Method) (*hw.Profile, *kernels.Program) {
	t.Helper()
	p, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := kernels.Compile(models.LeNet5(), p, kernels.Options{Method: method, Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	return p, prog
}

func TestChromeTraceIsValid(t *testing.T) {
	p, prog := compileLeNet(t, numerics.QAT)
	tl := &Recorder{}
	m, err := sim.New(p, sim.Options{Hooks: []sim.Hook{tl}})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := m.Run(prog)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Intervals) != prog.Len() {
		t.Fatalf("%d intervals for %d instructions", len(tl.Intervals), prog.Len())
	}
	var buf bytes.Buffer
	names := []string{"conv1", "relu1", "pool1", "conv2", "relu3", "pool5", "flatten6", "fc1", "relu8", "fc2", "relu10", "fc3"}
	if err := tl.WriteChromeTrace(&buf, p.Clock.Hz(), names); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TraceEvents []map[string]any `json:"traceEvents"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	type track struct{ pid, tid float64 }
	lastStart := map[track]float64{}
	lastEnd := map[track]float64{}
	complete := 0
	maxEnd := 0.0
	for i, ev := range doc.TraceEvents {
		for _, k := range []string{"name", "ph", "pid", "tid"} {
			if _, ok := ev[k]; !ok {
				t.Fatalf("event %d has no %q: %v", i, k, ev)
			}
		}
		switch ev["ph"] {
		case "X":
			complete++
			ts, ok1 := ev["ts"].(float64)
			dur, ok2 := ev["dur"].(float64)
			if !ok1 || !ok2 || dur < 0 || ts < 0 {
				t.Fatalf("event %d: bad ts/dur: %v", i, ev)
			}
			tr := track{ev["pid"].(float64), ev["tid"].(float64)}
			if ts < lastStart[tr] {
				t.Errorf("event %d starts at %g before the previous event on its track (%g)", i, ts, lastStart[tr])
			}
			if ts < lastEnd[tr]-1e-9 {
				t.Errorf("event %d at %g overlaps the previous event on its track, which ends at %g", i, ts, lastEnd[tr])
			}
			lastStart[tr], lastEnd[tr] = ts, ts+dur
			maxEnd = max(maxEnd, ts+dur)
		case "M":
		default:
			t.Errorf("event %d: unexpected phase %v", i, ev["ph"])
		}
	}
	if complete != prog.Len() {
		t.Errorf("%d complete events for %d instructions", complete, prog.Len())
	}
	if want := stats.Seconds() * 1e6; maxEnd < want*(1-1e-9) || maxEnd > want*(1+1e-9) {
		t.Errorf("trace ends at %g µs, the run took %g µs", maxEnd, want)
	}
}

func TestTimelineCSV(t *testing.T) {
	tl := &Recorder{Intervals: []Interval{{Index: 0, Unit: kernels.UnitDMA, Op: "load", Phase: "forward", Layer: 0, Start: 0, End: 10},
		{Index: 1, Unit: kernels.UnitMAC, Op: "gemm", Phase: "forward", Layer: 0, Start: 10, End: 30}}}
	var buf bytes.Buffer
	if err := tl.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 3 || rows[2][1] != "mac" || rows[2][6] != "30" {
		t.Fatalf("csv %v, %v", rows, err)
	}
}

var _ sim.Hook = (*Recorder)(nil)
