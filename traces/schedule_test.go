package traces_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/traces"
	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/train/numerics"
)

// update rewrites golden files; other test files of this package share it.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// writeSchedule writes s and returns the bytes, failing the test on error.
func writeSchedule(t testing.TB, s *traces.Schedule) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := traces.WriteSchedule(&buf, s); err != nil {
		t.Fatalf("WriteSchedule: %v", err)
	}
	return buf.Bytes()
}

// readSchedule reads a schedule from a string, failing the test on error.
func readSchedule(t testing.TB, text string) *traces.Schedule {
	t.Helper()
	s, err := traces.ReadSchedule(strings.NewReader(text), "test.csv")
	if err != nil {
		t.Fatalf("ReadSchedule: %v\ninput:\n%s", err, text)
	}
	return s
}

// sameFloat is float equality where NaN equals NaN (a schedule may record NaN).
func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// sameSchedule compares two schedules field by field; nil and empty gavg lists differ,
// since nil means "not measured".
func sameSchedule(a, b *traces.Schedule) error {
	switch {
	case !slices.Equal(a.Layers, b.Layers):
		return fmt.Errorf("layers %q vs %q", a.Layers, b.Layers)
	case !slices.Equal(a.Steps, b.Steps):
		return fmt.Errorf("steps %v vs %v", a.Steps, b.Steps)
	case !slices.EqualFunc(a.Bits, b.Bits, slices.Equal):
		return fmt.Errorf("bits %v vs %v", a.Bits, b.Bits)
	case len(a.Gavg) != len(b.Gavg):
		return fmt.Errorf("%d vs %d gavg lists", len(a.Gavg), len(b.Gavg))
	}
	for i := range a.Gavg {
		if (a.Gavg[i] == nil) != (b.Gavg[i] == nil) || !slices.EqualFunc(a.Gavg[i], b.Gavg[i], sameFloat) {
			return fmt.Errorf("step %d: gavg %v vs %v", a.Steps[i], a.Gavg[i], b.Gavg[i])
		}
	}
	return nil
}

// pointThree is 0.1+0.2 computed in float64 (0.30000000000000004), not the exact
// constant 0.3: it shows that gavg is written in full precision.
var pointOne, pointTwo = 0.1, 0.2
var pointThree = pointOne + pointTwo

// synthRun plays a small RCT-like run (3 layers, controller every 4 steps) through a
// ScheduleWriter, as the trainer will.
func synthRun(w *traces.ScheduleWriter) error {
	layers := []string{"conv1", "conv2", "fc1"}
	bits := []int{8, 8, 8}
	gavgAt8 := []float64{0.004, pointThree, 3}
	const interval = 4
	for step := range 14 {
		measured := (step+1)%interval == 0
		var stats []float64
		if measured {
			stats = make([]float64, len(layers))
			for l := range layers {
				stats[l] = gavgAt8[l] * math.Exp2(float64(bits[l]-8))
			}
		}
		if err := w.Write(step, layers, bits, stats, measured); err != nil {
			return err
		}
		if measured {
			bits = slices.Clone(bits)
			for l, g := range stats {
				switch {
				case g < 0.05:
					bits[l]++
				case g > 1:
					bits[l]--
				}
			}
		}
	}
	return w.Flush()
}

func TestScheduleGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := synthRun(traces.NewScheduleWriter(&buf)); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "rct_small.csv")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("written schedule differs from %s (go test -update rewrites it):\n%s", golden, buf.Bytes())
	}
	s := readSchedule(t, string(want))
	if got := writeSchedule(t, s); !bytes.Equal(got, want) {
		t.Errorf("read and rewritten:\n%s\nwant:\n%s", got, want)
	}
	if !slices.Equal(s.Layers, []string{"conv1", "conv2", "fc1"}) || len(s.Steps) != 14 {
		t.Errorf("layers %q, %d steps", s.Layers, len(s.Steps))
	}
	if got := s.Plan(13); !slices.Equal(got, []int{11, 8, 6}) {
		t.Errorf("Plan(13) = %v, want [11 8 6]", got)
	}
	if s.Gavg[3] == nil || s.Gavg[3][1] != pointThree || s.Gavg[2] != nil {
		t.Errorf("gavg of steps 2 and 3: %v, %v", s.Gavg[2], s.Gavg[3])
	}
}

func TestScheduleRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		s    traces.Schedule
	}{
		{"one layer one step", traces.Schedule{Layers: []string{"fc"}, Steps: []int{0}, Bits: [][]int{{8}}, Gavg: [][]float64{nil}}},
		{"measured extremes", traces.Schedule{
			Layers: []string{"a", "b", "c", "d"},
			Steps:  []int{5, 6},
			Bits:   [][]int{{1, 32, 8, 16}, {2, 31, 9, 15}},
			Gavg: [][]float64{
				{0, math.SmallestNonzeroFloat64, math.MaxFloat64, 1.0 / 3},
				{math.NaN(), math.Inf(1), 1e-300, 123456789.125},
			},
		}},
		{"names that need quoting", traces.Schedule{
			Layers: []string{"block1,conv", `say "hi"`, " lead", "é∑", `\.`, "#x"},
			Steps:  []int{0, 1, 1000, traces.MaxScheduleStep},
			Bits:   [][]int{{4, 4, 4, 4, 4, 4}, {5, 5, 5, 5, 5, 5}, {6, 6, 6, 6, 6, 6}, {7, 7, 7, 7, 7, 7}},
			Gavg:   [][]float64{nil, {1, 2, 3, 4, 5, 6}, nil, nil},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := writeSchedule(t, &tc.s)
			got := readSchedule(t, string(text))
			if err := sameSchedule(&tc.s, got); err != nil {
				t.Errorf("round trip changed the schedule: %v\nfile:\n%s", err, text)
			}
			if again := writeSchedule(t, got); !bytes.Equal(again, text) {
				t.Errorf("second write differs:\n%s\nfirst:\n%s", again, text)
			}
			var rows []traces.ScheduleRow
			for r := range got.Rows() {
				rows = append(rows, r)
			}
			if len(rows) != len(tc.s.Steps)*len(tc.s.Layers) {
				t.Fatalf("Rows yields %d rows, want %d", len(rows), len(tc.s.Steps)*len(tc.s.Layers))
			}
			last := rows[len(rows)-1]
			i, l := len(tc.s.Steps)-1, len(tc.s.Layers)-1
			if last.Step != tc.s.Steps[i] || last.Layer != tc.s.Layers[l] || last.Bits != tc.s.Bits[i][l] || last.HasGavg != (tc.s.Gavg[i] != nil) {
				t.Errorf("last row %+v", last)
			}
		})
	}
}

func TestReadScheduleAccepts(t *testing.T) {
	tests := []struct {
		name, text string
		steps      []int
	}{
		{"byte-order mark and CRLF", "\ufeffstep,layer,bits,gavg\r\n0,a,8,\r\n0,b,8,\r\n", []int{0}},
		{"blank lines", "step,layer,bits,gavg\n\n0,a,8,\n\n1,a,9,0.5\n\n", []int{0, 1}},
		{"no final newline", "step,layer,bits,gavg\n0,a,8,", []int{0}},
		{"other number forms", "step,layer,bits,gavg\n+0,a,08,1E-3\n7,a,8,0x1p-2\n9,a,8,nan\n10,a,8,inf\n", []int{0, 7, 9, 10}},
		{"quoted fields", "step,layer,bits,gavg\n\"0\",\"a,b\",\"8\",\"\"\n", []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := readSchedule(t, tc.text)
			if !slices.Equal(s.Steps, tc.steps) {
				t.Errorf("steps %v, want %v", s.Steps, tc.steps)
			}
		})
	}
}

func TestReadScheduleErrors(t *testing.T) {
	const h = "step,layer,bits,gavg\n"
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", `test.csv:1: empty file: want the header "step,layer,bits,gavg"`},
		{"header only", h, "test.csv:2: no rows after the header"},
		{"wrong header", "step,layer,bit,gavg\n0,a,8,\n", `test.csv:1: header must be "step,layer,bits,gavg", got "step,layer,bit,gavg"`},
		{"header missing column", "step,layer,bits\n", `test.csv:1: header must be "step,layer,bits,gavg", got "step,layer,bits"`},
		{"header in other order", "layer,step,bits,gavg\n", `test.csv:1: header must be "step,layer,bits,gavg", got "layer,step,bits,gavg"`},
		{"too few fields", h + "0,a,8\n", "test.csv:2: 3 fields, want 4 (step,layer,bits,gavg)"},
		{"too many fields", h + "0,a,8,,x\n", "test.csv:2: 5 fields, want 4 (step,layer,bits,gavg)"},
		{"step not a number", h + "x,a,8,\n", `test.csv:2:1: step: must be an integer in 0..2147483646, got "x"`},
		{"negative step", h + "-1,a,8,\n", `test.csv:2:1: step: must be an integer in 0..2147483646, got "-1"`},
		{"huge step", h + "2147483647,a,8,\n", `test.csv:2:1: step: must be an integer in 0..2147483646, got "2147483647"`},
		{"empty layer", h + "0,,8,\n", `test.csv:2:3: layer: "" must not be empty`},
		{"control character in layer", h + "0,\"a\tb\",8,\n", `test.csv:2:3: layer: "a\tb" must not contain control characters`},
		{"invalid UTF-8 layer", h + "0,a\xffb,8,\n", `test.csv:2:3: layer: "a\xffb" must be valid UTF-8`},
		{"bits too large", h + "0,a,8,\n1,a,40,\n", `test.csv:3:5: bits: must be an integer in 1..32, got "40"`},
		{"bits zero", h + "0,a,0,\n", `test.csv:2:5: bits: must be an integer in 1..32, got "0"`},
		{"bits float", h + "0,a,8.0,\n", `test.csv:2:5: bits: must be an integer in 1..32, got "8.0"`},
		{"bits with space", h + "0,a, 8,\n", `test.csv:2:5: bits: must be an integer in 1..32, got " 8"`},
		{"gavg not a number", h + "0,a,8,fast\n", `test.csv:2:7: gavg: must be empty or a number, got "fast"`},
		{"gavg out of float range", h + "0,a,8,1e400\n", `test.csv:2:7: gavg: must be empty or a number, got "1e400"`},
		{"negative gavg", h + "0,a,8,-0.5\n", `test.csv:2:7: gavg: must be >= 0, got "-0.5"`},
		{"negative infinite gavg", h + "0,a,8,-Inf\n", `test.csv:2:7: gavg: must be >= 0, got "-Inf"`},
		{"steps decrease", h + "3,a,8,\n3,b,8,\n2,a,8,\n2,b,8,\n", "test.csv:4:1: step: steps must increase: 2 after 3"},
		{"layer listed twice in the first step", h + "0,a,8,\n0,b,8,\n0,a,8,\n", "test.csv:4:3: layer: a listed twice in step 0"},
		{"missing layer", h + "0,a,8,\n0,b,8,\n0,c,8,\n1,a,8,\n1,c,8,\n",
			"test.csv:6:3: layer: got c, want b (every step lists the layers of step 0 in the same order)"},
		{"layers in another order", h + "0,a,8,\n0,b,8,\n1,b,8,\n1,a,8,\n",
			"test.csv:4:3: layer: got b, want a (every step lists the layers of step 0 in the same order)"},
		{"step cut short", h + "0,a,8,\n0,b,8,\n1,a,8,\n2,a,8,\n2,b,8,\n",
			"test.csv:5:1: step: step 2 starts before step 1 listed layer b (every step lists the layers of step 0)"},
		{"extra layer in a later step", h + "0,a,8,\n1,a,8,\n1,b,8,\n", "test.csv:4:3: layer: step 1 lists more layers than step 0 (1)"},
		{"file ends mid-step", h + "0,a,8,\n0,b,8,\n1,a,8,\n", "test.csv:5: file ends before step 1 lists layer b"},
		{"gavg on some layers only", h + "0,a,8,0.1\n0,b,8,\n",
			"test.csv:3:7: gavg: step 0 gives gavg for a but not for b (a step gives gavg for every layer or none)"},
		{"gavg missing on the first layer", h + "0,a,8,\n0,b,8,\n1,a,8,\n1,b,8,0.2\n",
			"test.csv:5:7: gavg: step 1 gives gavg for b but not for a (a step gives gavg for every layer or none)"},
		{"bare quote", h + "0,a\"b,8,\n", `test.csv:2:4: bare " in non-quoted-field`},
		{"unterminated quote", h + "0,\"a,8,\n", `test.csv:2:9: extraneous or missing " in quoted-field`},
		{"blank lines count", "\n\n" + h + "\n0,a,x,\n", `test.csv:5:5: bits: must be an integer in 1..32, got "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := traces.ReadSchedule(strings.NewReader(tc.text), "test.csv")
			if err == nil {
				t.Fatalf("no error; read %+v", s)
			}
			var se *fileio.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *fileio.Error", err, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
			if se.Unwrap() == nil || se.Line < 1 {
				t.Errorf("error %+v: want a position and a cause", se)
			}
		})
	}
}

// TestReadScheduleUnnamed checks that the errors of an input without a name still say
// what they are about.
func TestReadScheduleUnnamed(t *testing.T) {
	_, err := traces.ReadSchedule(strings.NewReader(""), "")
	if want := `schedule:1: empty file: want the header "step,layer,bits,gavg"`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestScheduleWriterErrors(t *testing.T) {
	ab := []string{"a", "b"}
	tests := []struct {
		name  string
		calls func(w *traces.ScheduleWriter) error
		want  string
	}{
		{"negative step", func(w *traces.ScheduleWriter) error { return w.Write(-1, ab, []int{8, 8}, nil, false) },
			"traces: schedule step -1: step must be in 0..2147483646"},
		{"no layers", func(w *traces.ScheduleWriter) error { return w.Write(0, nil, nil, nil, false) },
			"traces: schedule step 0: no layers"},
		{"bits count", func(w *traces.ScheduleWriter) error { return w.Write(0, ab, []int{8}, nil, false) },
			"traces: schedule step 0: 1 bitwidths for 2 layers"},
		{"bits range", func(w *traces.ScheduleWriter) error { return w.Write(0, ab, []int{8, 33}, nil, false) },
			"traces: schedule step 0: layer b: bits 33 outside 1..32"},
		{"measured without stats", func(w *traces.ScheduleWriter) error { return w.Write(0, ab, []int{8, 8}, nil, true) },
			"traces: schedule step 0: 0 gavg values for 2 layers"},
		{"negative gavg", func(w *traces.ScheduleWriter) error { return w.Write(0, ab, []int{8, 8}, []float64{0, -1}, true) },
			"traces: schedule step 0: layer b: gavg -1: must be >= 0"},
		{"bad name", func(w *traces.ScheduleWriter) error { return w.Write(0, []string{"a\nb"}, []int{8}, nil, false) },
			`traces: schedule step 0: layer "a\nb": must not contain control characters`},
		{"duplicate name", func(w *traces.ScheduleWriter) error { return w.Write(0, []string{"a", "a"}, []int{8, 8}, nil, false) },
			`traces: schedule step 0: layer "a" listed twice`},
		{"repeated step", func(w *traces.ScheduleWriter) error {
			if err := w.Write(3, ab, []int{8, 8}, nil, false); err != nil {
				return err
			}
			return w.Write(3, ab, []int{8, 8}, nil, false)
		}, "traces: schedule step 3: steps must increase: step 3 was already written"},
		{"layers change", func(w *traces.ScheduleWriter) error {
			if err := w.Write(0, ab, []int{8, 8}, nil, false); err != nil {
				return err
			}
			return w.Write(1, []string{"a", "c"}, []int{8, 8}, nil, false)
		}, `traces: schedule step 1: layers ["a" "c"] differ from the first step's ["a" "b"]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := traces.NewScheduleWriter(&buf)
			err := tc.calls(w)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %s", err, tc.want)
			}
			// A rejected step writes nothing: what was written is still a valid prefix.
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(buf.String(), "\n"); n > 3 {
				t.Errorf("after a rejected step the output has %d lines:\n%s", n, buf.String())
			}
		})
	}
	if err := traces.WriteSchedule(&bytes.Buffer{}, &traces.Schedule{Layers: ab, Steps: []int{0}}); err == nil {
		t.Error("WriteSchedule accepted a schedule without bit lists")
	}
}

// failWriter fails every write, to check that I/O errors reach the caller.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestScheduleWriterIOError(t *testing.T) {
	w := traces.NewScheduleWriter(failWriter{})
	if err := w.Write(0, []string{"a"}, []int{8}, nil, false); err != nil {
		t.Fatalf("buffered write failed early: %v", err)
	}
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Flush error %v, want disk full", err)
	}
}

func TestSchedulePlan(t *testing.T) {
	// A sparse, hand-written schedule: steps 10..19 at 8 bits, 20..29 at 6, 30 at 4.
	s := readSchedule(t, "step,layer,bits,gavg\n10,a,8,\n10,b,8,\n20,a,6,0.5\n20,b,7,0.5\n30,a,4,\n30,b,4,\n")
	tests := []struct {
		step     int
		want     []int
		measured bool
	}{
		{9, nil, false},
		{10, []int{8, 8}, false},
		{15, []int{8, 8}, false},
		{19, []int{8, 8}, false},
		{20, []int{6, 7}, true},
		{21, []int{6, 7}, false},
		{29, []int{6, 7}, false},
		{30, []int{4, 4}, false},
		{31, nil, false},
	}
	for _, tc := range tests {
		if got := s.Plan(tc.step); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("Plan(%d) = %v, want %v", tc.step, got, tc.want)
		}
		if got := s.Measured(tc.step); got != tc.measured {
			t.Errorf("Measured(%d) = %v, want %v", tc.step, got, tc.measured)
		}
	}
	if s.FirstStep() != 10 || s.LastStep() != 30 {
		t.Errorf("covers %d..%d, want 10..30", s.FirstStep(), s.LastStep())
	}
	p := s.Plan(10)
	p[0] = 99
	if s.Plan(10)[0] != 8 {
		t.Error("Plan returned the schedule's own storage")
	}
}

func TestScheduleRuns(t *testing.T) {
	type run = traces.ScheduleRun
	tests := []struct {
		name string
		text string
		want []run
	}{
		{"one step", "0,a,8,\n", []run{{FirstStep: 0, Steps: 1, Bits: []int{8}, NextBits: []int{8}}}},
		{"fixed widths are one run", "0,a,8,\n1,a,8,\n2,a,8,\n3,a,8,\n",
			[]run{{FirstStep: 0, Steps: 4, Bits: []int{8}, NextBits: []int{8}}}},
		{"a change splits off the converting step", "5,a,8,\n6,a,8,\n7,a,8,\n8,a,6,\n9,a,6,\n", []run{
			{FirstStep: 5, Steps: 2, Bits: []int{8}, NextBits: []int{8}},
			{FirstStep: 7, Steps: 1, Bits: []int{8}, NextBits: []int{6}},
			{FirstStep: 8, Steps: 2, Bits: []int{6}, NextBits: []int{6}},
		}},
		{"controller steps are runs of their own", "0,a,8,\n1,a,8,0.01\n2,a,9,\n3,a,9,0.3\n4,a,9,\n5,a,9,\n", []run{
			{FirstStep: 0, Steps: 1, Bits: []int{8}, NextBits: []int{8}},
			{FirstStep: 1, Steps: 1, Bits: []int{8}, NextBits: []int{9}, Measured: true},
			{FirstStep: 2, Steps: 1, Bits: []int{9}, NextBits: []int{9}},
			{FirstStep: 3, Steps: 1, Bits: []int{9}, NextBits: []int{9}, Measured: true},
			{FirstStep: 4, Steps: 2, Bits: []int{9}, NextBits: []int{9}},
		}},
		{"a recurring plan makes separate runs", "0,a,4,\n1,a,8,\n2,a,4,\n", []run{
			{FirstStep: 0, Steps: 1, Bits: []int{4}, NextBits: []int{8}},
			{FirstStep: 1, Steps: 1, Bits: []int{8}, NextBits: []int{4}},
			{FirstStep: 2, Steps: 1, Bits: []int{4}, NextBits: []int{4}},
		}},
		{"gaps hold the widths", "10,a,8,\n20,a,6,0.5\n30,a,4,\n", []run{
			{FirstStep: 10, Steps: 9, Bits: []int{8}, NextBits: []int{8}},
			{FirstStep: 19, Steps: 1, Bits: []int{8}, NextBits: []int{6}},
			{FirstStep: 20, Steps: 1, Bits: []int{6}, NextBits: []int{6}, Measured: true},
			{FirstStep: 21, Steps: 8, Bits: []int{6}, NextBits: []int{6}},
			{FirstStep: 29, Steps: 1, Bits: []int{6}, NextBits: []int{4}},
			{FirstStep: 30, Steps: 1, Bits: []int{4}, NextBits: []int{4}},
		}},
		{"a gap without change merges", "0,a,8,\n1,a,8,\n100,a,8,\n101,a,8,\n",
			[]run{{FirstStep: 0, Steps: 102, Bits: []int{8}, NextBits: []int{8}}}},
		{"a gap of one step", "0,a,8,\n2,a,6,\n", []run{
			{FirstStep: 0, Steps: 1, Bits: []int{8}, NextBits: []int{8}},
			{FirstStep: 1, Steps: 1, Bits: []int{8}, NextBits: []int{6}},
			{FirstStep: 2, Steps: 1, Bits: []int{6}, NextBits: []int{6}},
		}},
		{"only one layer changes", "0,a,8,\n0,b,8,\n1,a,8,\n1,b,9,\n", []run{
			{FirstStep: 0, Steps: 1, Bits: []int{8, 8}, NextBits: []int{8, 9}},
			{FirstStep: 1, Steps: 1, Bits: []int{8, 9}, NextBits: []int{8, 9}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := readSchedule(t, traces.ScheduleHeader+"\n"+tc.text)
			got := s.Runs()
			if !slices.EqualFunc(got, tc.want, sameRun) {
				t.Errorf("Runs:\n got %+v\nwant %+v", got, tc.want)
			}
			checkRuns(t, s, got)
		})
	}
}

func sameRun(a, b traces.ScheduleRun) bool {
	return a.FirstStep == b.FirstStep && a.Steps == b.Steps && a.Measured == b.Measured &&
		slices.Equal(a.Bits, b.Bits) && slices.Equal(a.NextBits, b.NextBits)
}

// checkRuns asserts what holds for the runs of any schedule: they tile FirstStep..
// LastStep in order, agree with Plan and Measured at both ends, and are maximal.
func checkRuns(t testing.TB, s *traces.Schedule, runs []traces.ScheduleRun) {
	t.Helper()
	next := s.FirstStep()
	for k, r := range runs {
		if r.FirstStep != next || r.Steps < 1 {
			t.Fatalf("run %d %+v does not start at step %d", k, r, next)
		}
		last := r.FirstStep + r.Steps - 1
		for _, step := range []int{r.FirstStep, last} {
			if !slices.Equal(s.Plan(step), r.Bits) || s.Measured(step) != r.Measured {
				t.Fatalf("run %d %+v disagrees with step %d: plan %v measured %v", k, r, step, s.Plan(step), s.Measured(step))
			}
		}
		wantNext := s.Plan(last + 1)
		if last == s.LastStep() {
			wantNext = s.Plan(last)
		}
		if !slices.Equal(r.NextBits, wantNext) {
			t.Fatalf("run %d %+v: next bits %v, want %v", k, r, r.NextBits, wantNext)
		}
		if !slices.Equal(r.Bits, r.NextBits) && r.Steps != 1 {
			t.Fatalf("run %d %+v changes widths but spans several steps", k, r)
		}
		if k > 0 && sameRun(runs[k-1], traces.ScheduleRun{FirstStep: runs[k-1].FirstStep, Steps: runs[k-1].Steps,
			Bits: r.Bits, NextBits: r.NextBits, Measured: r.Measured}) {
			t.Fatalf("runs %d and %d could be one: %+v %+v", k-1, k, runs[k-1], r)
		}
		next = last + 1
	}
	if next != s.LastStep()+1 {
		t.Fatalf("runs end at step %d, schedule at %d", next-1, s.LastStep())
	}
}

func FuzzReadSchedule(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "rct_small.csv"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	sparse, err := os.ReadFile(filepath.Join("testdata", "sweep_sparse.csv"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sparse)
	for _, seed := range []string{
		"",
		traces.ScheduleHeader + "\n",
		traces.ScheduleHeader + "\n0,a,8,\n",
		traces.ScheduleHeader + "\n0,\"a,\"\"b\",8,NaN\n1,\"a,\"\"b\",9,+Inf\n",
		traces.ScheduleHeader + "\n0,a,8,\n0,b,8,\n1,a,8,\n",
		traces.ScheduleHeader + "\r\n0,a,8,1e-5\r\n2,a,7,\r\n",
		"\ufeff" + traces.ScheduleHeader + "\n5,a,32,0\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := traces.ReadSchedule(bytes.NewReader(data), "fuzz.csv")
		if err != nil {
			var se *fileio.Error
			if !errors.As(err, &se) || se.Line < 1 {
				t.Fatalf("error %v (%T) is not a positioned *fileio.Error", err, err)
			}
			return
		}
		// Any accepted schedule, re-written, reads back identical, and its canonical
		// form is a fixed point.
		text := writeSchedule(t, s)
		again, err := traces.ReadSchedule(bytes.NewReader(text), "rewritten.csv")
		if err != nil {
			t.Fatalf("rewritten schedule rejected: %v\n%s", err, text)
		}
		if err := sameSchedule(s, again); err != nil {
			t.Fatalf("rewritten schedule differs: %v\n%s", err, text)
		}
		if text2 := writeSchedule(t, again); !bytes.Equal(text, text2) {
			t.Fatalf("canonical form not stable:\n%s\nvs\n%s", text, text2)
		}
		checkRuns(t, s, s.Runs())
	})
}

func ExampleScheduleWriter() {
	var out strings.Builder
	w := traces.NewScheduleWriter(&out)
	layers := []string{"conv1", "fc1"}
	// Step 0 trains at 8 bits; the controller runs after step 1 and widens conv1.
	_ = w.Write(0, layers, []int{8, 8}, nil, false)
	_ = w.Write(1, layers, []int{8, 8}, []float64{0.012, 0.3}, true)
	_ = w.Write(2, layers, []int{9, 8}, nil, false)
	if err := w.Flush(); err != nil {
		panic(err)
	}
	fmt.Print(out.String())
	// Output:
	// step,layer,bits,gavg
	// 0,conv1,8,
	// 0,fc1,8,
	// 1,conv1,8,0.012
	// 1,fc1,8,0.3
	// 2,conv1,9,
	// 2,fc1,8,
}

func ExampleReadSchedule() {
	f, err := os.Open(filepath.Join("testdata", "sweep_sparse.csv"))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	s, err := traces.ReadSchedule(f, f.Name())
	if err != nil {
		panic(err)
	}
	fmt.Println("layers:", s.Layers)
	for _, r := range s.Runs() {
		fmt.Printf("steps %d..%d: bits %v, next %v, controller %v\n", r.FirstStep, r.FirstStep+r.Steps-1, r.Bits, r.NextBits, r.Measured)
	}
	// Output:
	// layers: [conv1 conv2 fc1 fc2 fc3]
	// steps 0..998: bits [8 8 8 8 8], next [8 8 8 8 8], controller false
	// steps 999..999: bits [8 8 8 8 8], next [6 6 6 6 8], controller false
	// steps 1000..1998: bits [6 6 6 6 8], next [6 6 6 6 8], controller false
	// steps 1999..1999: bits [6 6 6 6 8], next [4 4 4 4 8], controller false
	// steps 2000..2999: bits [4 4 4 4 8], next [4 4 4 4 8], controller false
}

// BenchmarkReadSchedule reads a 10,000-step schedule of five layers with the controller
// every 50 steps, the size of a long training run.
func BenchmarkReadSchedule(b *testing.B) {
	var buf bytes.Buffer
	w := traces.NewScheduleWriter(&buf)
	layers := []string{"conv1", "conv2", "fc1", "fc2", "fc3"}
	bits := []int{8, 8, 8, 8, 8}
	stats := []float64{0.01, 0.2, 0.3, 1.5, 0.07}
	for step := range 10000 {
		measured := (step+1)%50 == 0
		if err := w.Write(step, layers, bits, stats, measured); err != nil {
			b.Fatal(err)
		}
		if measured {
			bits = slices.Clone(bits)
			bits[step/50%5] = 4 + step%13
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s, err := traces.ReadSchedule(bytes.NewReader(data), "bench.csv")
		if err != nil {
			b.Fatal(err)
		}
		_ = s.Runs()
	}
}

func TestSchedulePlans(t *testing.T) {
	text := "step,layer,bits,gavg\n0,a,8,\n0,b,8,\n1,a,8,0.01\n1,b,8,2\n2,a,9,\n2,b,7,\n"
	s, err := traces.ReadSchedule(strings.NewReader(text), "s.csv")
	if err != nil {
		t.Fatal(err)
	}
	plans := s.Plans()
	if len(plans) != 3 {
		t.Fatalf("%d plans", len(plans))
	}
	want := []numerics.Plan{
		{Bits: []int{8, 8}, NextBits: []int{8, 8}},
		{Bits: []int{8, 8}, NextBits: []int{9, 7}, Control: true},
		{Bits: []int{9, 7}, NextBits: []int{9, 7}},
	}
	for i := range want {
		if !slices.Equal(plans[i].Bits, want[i].Bits) || !slices.Equal(plans[i].NextBits, want[i].NextBits) || plans[i].Control != want[i].Control {
			t.Errorf("step %d: %+v, want %+v", i, plans[i], want[i])
		}
	}
}
