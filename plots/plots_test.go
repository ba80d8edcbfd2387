package plots

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Small fixed tables for the golden files: enough to exercise every element
// of each figure kind, small enough that a diff of the SVG can be read.

func smallEnergy() EnergyBreakdown {
	return EnergyBreakdown{
		Methods: []string{"FP32", "QAT", "RCT"},
		Parts:   []string{"MAC/GEMM", "SRAM", "DRAM weights", "DRAM master weights", "static"},
		EnergyJ: [][]float64{
			{9e-3, 2e-3, 3e-3, 0, 1e-3},
			{2e-3, 1e-3, 1e-3, 3e-3, 0.5e-3},
			{0.3e-3, 1e-3, 0.5e-3, 0, 0.5e-3},
		},
	}
}

func smallSeries() []Series {
	return []Series{
		{Name: "QAT", X: []float64{0, 1, 2, 3, 4, 5}, Y: []float64{0.1, 0.5, 0.7, 0.8, 0.85, 0.86}},
		{Name: "RCT", X: []float64{0, 1, 2, 3, 4, 5}, Y: []float64{0.1, 0.45, math.NaN(), 0.78, 0.83, 0.85}},
	}
}

func smallBits() BitwidthGrid {
	return BitwidthGrid{
		Layers: []string{"conv1", "conv2", "fc"},
		Steps:  []int{0, 50, 100, 150, 200},
		Bits: [][]int{
			{8, 8, 8},
			{9, 8, 8},
			{9, 7, 8},
			{10, 6, 8},
			{10, 6, 9},
		},
	}
}

func smallFootprint() Footprint {
	return Footprint{
		Methods: []string{"QAT", "RCT"},
		Classes: []string{"weights", "master weights", "activations"},
		Bytes:   [][]float64{{64 << 10, 256 << 10, 512 << 10}, {40 << 10, 0, 512 << 10}},
	}
}

func smallTimeline() ([]string, []string, []Interval) {
	return []string{"DMA", "MAC array", "vector unit"},
		[]string{"forward", "backward_data", "update"},
		[]Interval{
			{"DMA", "forward", 0, 100},
			{"MAC array", "forward", 100, 300},
			{"DMA", "forward", 100, 180},
			{"MAC array", "forward", 300, 500}, // touches the one before: merged
			{"DMA", "backward_data", 500, 600},
			{"MAC array", "backward_data", 600, 900},
			{"vector unit", "update", 900, 1000},
		}
}

func smallGrid() Grid {
	return Grid{
		Title: "Energy per step", XName: "SRAM size", YName: "Array", Metric: "Energy (mJ)",
		XValues: []string{"64KiB", "256KiB", "1MiB"},
		YValues: []string{"8", "16", "32", "64"},
		Values: [][]float64{
			{9, 6, 4},
			{8, 5, 3.5},
			{7.5, 4.5, 3},
			{math.NaN(), 4, 2.5},
		},
		Annotate: true,
	}
}

func smallPoints() []Point {
	return []Point{
		{1, 80, "a"}, {2, 85, "b"}, {3, 84, "c"}, {4, 90, "d"}, {5, 89, "e"}, {2.5, 70, "f"},
	}
}

func mustChart(t *testing.T) func(*Chart, error) *Chart {
	return func(c *Chart, err error) *Chart {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// svgOf renders f as SVG at the golden files' size.
func svgOf(t *testing.T, f Figure) []byte {
	t.Helper()
	b, err := Render(f, "svg", 5*vg.Inch, 3.5*vg.Inch, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGolden(t *testing.T) {
	must := mustChart(t)
	units, phases, iv := smallTimeline()
	cases := []struct {
		name string
		fig  *Chart
	}{
		{"energy_abs", must(EnergyBars(smallEnergy(), ""))},
		{"energy_norm", must(EnergyBars(smallEnergy(), "QAT"))},
		{"lines", must(Lines("Accuracy", "Training step", "Accuracy", smallSeries()))},
		{"bitwidth", must(BitwidthHeatmap(smallBits()))},
		{"memory", must(MemoryBars(smallFootprint()))},
		{"step_energy", must(StepEnergy("", []Series{PerStep("QAT", []float64{2e-6, 2.1e-6, 2e-6}), PerStep("RCT", []float64{1.5e-6, 1.2e-6, 1e-6})}))},
		{"timeline", must(Timeline("One step", units, phases, iv, ""))},
		{"heatmap", must(Heatmap(smallGrid()))},
		{"pareto", must(Pareto("Pareto", "Energy (mJ)", "Accuracy (%)", smallPoints(), true, false))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := svgOf(t, c.fig)
			path := filepath.Join("testdata", c.name+".svg")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./plots -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file; inspect and run go test ./plots -update if the change is intended", path)
			}
			// Drawing the same figure again must give the same bytes:
			// Save draws once per format.
			if again := svgOf(t, c.fig); !bytes.Equal(got, again) {
				t.Errorf("second rendering of %s differs from the first", c.name)
			}
		})
	}
}

// TestErrors checks that bad tables are errors, never panics.
func TestErrors(t *testing.T) {
	energy := func(f func(*EnergyBreakdown)) EnergyBreakdown {
		b := smallEnergy()
		f(&b)
		return b
	}
	cases := []struct {
		name string
		err  func() error
		want string
	}{
		{"energy no methods", func() error { _, err := EnergyBars(EnergyBreakdown{}, ""); return err }, "no methods"},
		{"energy no parts", func() error {
			_, err := EnergyBars(EnergyBreakdown{Methods: []string{"a"}, EnergyJ: [][]float64{{}}}, "")
			return err
		}, "no parts"},
		{"energy ragged", func() error {
			_, err := EnergyBars(energy(func(b *EnergyBreakdown) { b.EnergyJ[1] = b.EnergyJ[1][:2] }), "")
			return err
		}, "has 2 values"},
		{"energy rows", func() error {
			_, err := EnergyBars(energy(func(b *EnergyBreakdown) { b.EnergyJ = b.EnergyJ[:2] }), "")
			return err
		}, "rows"},
		{"energy negative", func() error {
			_, err := EnergyBars(energy(func(b *EnergyBreakdown) { b.EnergyJ[0][1] = -1 }), "")
			return err
		}, "non-negative"},
		{"energy NaN", func() error {
			_, err := EnergyBars(energy(func(b *EnergyBreakdown) { b.EnergyJ[0][1] = math.NaN() }), "")
			return err
		}, "non-negative"},
		{"energy unknown reference", func() error { _, err := EnergyBars(smallEnergy(), "NITI"); return err }, "no such method"},
		{"energy zero reference", func() error {
			_, err := EnergyBars(energy(func(b *EnergyBreakdown) { b.EnergyJ[1] = make([]float64, 5) }), "QAT")
			return err
		}, "zero"},
		{"memory empty", func() error { _, err := MemoryBars(Footprint{}); return err }, "no methods"},
		{"lines none", func() error { _, err := Lines("t", "x", "y", nil); return err }, "no series"},
		{"lines empty series", func() error { _, err := Lines("t", "x", "y", []Series{{Name: "a"}}); return err }, "no points"},
		{"lines all NaN", func() error {
			_, err := Lines("t", "x", "y", []Series{{Name: "a", X: []float64{1}, Y: []float64{math.NaN()}}})
			return err
		}, "no points"},
		{"lines length", func() error {
			_, err := Lines("t", "x", "y", []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{1}}})
			return err
		}, "2 X and 1 Y"},
		{"lines NaN X", func() error {
			_, err := Lines("t", "x", "y", []Series{{Name: "a", X: []float64{math.NaN()}, Y: []float64{1}}})
			return err
		}, "X value"},
		{"step energy none", func() error { _, err := StepEnergy("", nil); return err }, "no series"},
		{"bits empty", func() error { _, err := BitwidthHeatmap(BitwidthGrid{}); return err }, "no layers"},
		{"bits no steps", func() error { _, err := BitwidthHeatmap(BitwidthGrid{Layers: []string{"a"}}); return err }, "no steps"},
		{"bits ragged", func() error {
			g := smallBits()
			g.Bits[2] = g.Bits[2][:1]
			_, err := BitwidthHeatmap(g)
			return err
		}, "has 1 values for 3 layers"},
		{"bits zero", func() error {
			g := smallBits()
			g.Bits[2][1] = 0
			_, err := BitwidthHeatmap(g)
			return err
		}, "outside 1..64"},
		{"bits steps order", func() error {
			g := smallBits()
			g.Steps[3] = 10
			_, err := BitwidthHeatmap(g)
			return err
		}, "not increasing"},
		{"mean bits weights", func() error { _, err := MeanBitwidth("m", smallBits(), []float64{1}); return err }, "3 layers"},
		{"heatmap empty", func() error { _, err := Heatmap(Grid{}); return err }, "at least one"},
		{"heatmap rows", func() error {
			g := smallGrid()
			g.Values = g.Values[:3]
			_, err := Heatmap(g)
			return err
		}, "rows"},
		{"heatmap all NaN", func() error {
			_, err := Heatmap(Grid{XValues: []string{"a"}, YValues: []string{"b"}, Values: [][]float64{{math.NaN()}}})
			return err
		}, "all missing"},
		{"heatmap Inf", func() error {
			_, err := Heatmap(Grid{XValues: []string{"a"}, YValues: []string{"b"}, Values: [][]float64{{math.Inf(1)}}})
			return err
		}, "infinite"},
		{"timeline empty", func() error { _, err := Timeline("t", nil, nil, nil, ""); return err }, "no intervals"},
		{"timeline reversed", func() error {
			_, err := Timeline("t", nil, nil, []Interval{{"DMA", "forward", 5, 1}}, "")
			return err
		}, "ends before"},
		{"timeline unknown unit", func() error {
			_, err := Timeline("t", []string{"DMA"}, nil, []Interval{{"MAC", "forward", 0, 1}}, "")
			return err
		}, "not in the unit list"},
		{"timeline unknown phase", func() error {
			_, err := Timeline("t", nil, []string{"forward"}, []Interval{{"MAC", "update", 0, 1}}, "")
			return err
		}, "not in the phase list"},
		{"timeline duplicate unit", func() error {
			_, err := Timeline("t", []string{"DMA", "DMA"}, nil, []Interval{{"DMA", "update", 0, 1}}, "")
			return err
		}, "twice"},
		{"timeline NaN", func() error {
			_, err := Timeline("t", nil, nil, []Interval{{"DMA", "update", math.NaN(), 1}}, "")
			return err
		}, "non-finite"},
		{"clock", func() error { _, err := IntervalsToMicroseconds(nil, 0); return err }, "positive"},
		{"pareto empty", func() error { _, err := Pareto("t", "x", "y", nil, true, true); return err }, "no points"},
		{"pareto NaN", func() error {
			_, err := Pareto("t", "x", "y", []Point{{X: math.NaN(), Y: 1}}, true, true)
			return err
		}, "not finite"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if err == nil {
				t.Fatalf("no error, want one containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

// TestEdgeCases draws the tables that trip gonum up: each must render, and
// show what it should.
func TestEdgeCases(t *testing.T) {
	must := mustChart(t)
	nan := math.NaN()
	cases := []struct {
		name string
		fig  *Chart
		// want are strings the SVG must contain (colours as gonum writes them).
		want []string
	}{
		// Min == Max: gonum's HeatMap draws nothing. Ours draws the cells in
		// the middle colour of viridis.
		{"constant heatmap", must(Heatmap(Grid{XValues: []string{"a", "b"}, YValues: []string{"c"}, Values: [][]float64{{3, 3}}})), []string{"#21908C"}},
		{"constant zero heatmap", must(Heatmap(Grid{XValues: []string{"a"}, YValues: []string{"c"}, Values: [][]float64{{0}}})), []string{"#21908C"}},
		{"constant bits", must(BitwidthHeatmap(BitwidthGrid{Layers: []string{"a", "b"}, Steps: []int{0, 1}, Bits: [][]int{{8, 8}, {8, 8}}})), []string{"#21908C", ">8<"}},
		{"one layer one step", must(BitwidthHeatmap(BitwidthGrid{Layers: []string{"fc"}, Steps: []int{7}, Bits: [][]int{{4}}})), []string{">fc<", ">7<"}},
		{"NaN cells", must(Heatmap(Grid{XValues: []string{"a", "b"}, YValues: []string{"c"}, Values: [][]float64{{nan, 1}}})), []string{"#DDDDDD", "no data"}},
		{"single method", must(EnergyBars(EnergyBreakdown{Methods: []string{"RCT"}, Parts: []string{"MAC"}, EnergyJ: [][]float64{{1e-3}}}, "RCT")), []string{">RCT<", ">1.00<"}},
		{"all zero energy", must(EnergyBars(EnergyBreakdown{Methods: []string{"a", "b"}, Parts: []string{"MAC"}, EnergyJ: [][]float64{{0}, {0}}}, "")), []string{"Energy (J)"}},
		{"single point", must(Lines("t", "x", "y", []Series{{Name: "a", X: []float64{1}, Y: []float64{2}}})), []string{">a<"}},
		{"single point pareto", must(Pareto("t", "x", "y", []Point{{1, 2, "only"}}, true, true)), []string{">only<"}},
		{"instant interval", must(Timeline("t", nil, nil, []Interval{{"DMA", "forward", 5, 5}}, "")), []string{">DMA<"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svg := string(svgOf(t, c.fig))
			for _, w := range c.want {
				if !strings.Contains(svg, w) {
					t.Errorf("SVG lacks %q", w)
				}
			}
		})
	}
}

func TestEnergyUnits(t *testing.T) {
	b := EnergyBreakdown{Methods: []string{"a"}, Parts: []string{"p"}, EnergyJ: [][]float64{{2.5e-6}}}
	ch, err := EnergyBars(b, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := ch.Plot.Y.Label.Text; got != "Energy (µJ)" {
		t.Errorf("Y label %q, want Energy (µJ)", got)
	}
	// The tallest bar leaves room for its total above it.
	if ch.Plot.Y.Max <= 2.5 {
		t.Errorf("Y.Max %v leaves no headroom above 2.5", ch.Plot.Y.Max)
	}
	m, err := MemoryBars(Footprint{Methods: []string{"a"}, Classes: []string{"w"}, Bytes: [][]float64{{3 << 20}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Plot.Y.Label.Text; got != "Memory (MiB)" {
		t.Errorf("Y label %q, want Memory (MiB)", got)
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 1: "1.00", 0.99999: "1.00", 23.64: "23.6", 0.5072: "0.507", 1234: "1234", 1e7: "1e+07", 2e-4: "0.0002",
	} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestMethodColors(t *testing.T) {
	a := MethodColors([]string{"RCT", "QAT", "FP32", "mine"})
	b := MethodColors([]string{"mine", "fp32", "qat-b8", "rct"})
	if a[0] != vermillion || a[1] != blue || a[2] != black {
		t.Errorf("known methods got %v", a[:3])
	}
	if a[0] != b[3] || a[1] != b[2] || a[2] != b[1] || a[3] != b[0] {
		t.Errorf("a method's colour depends on the other methods: %v vs %v", a, b)
	}
	// Distinct colours while the palette lasts, even for clashing names.
	names := []string{"rct", "rct-fast", "RCT (b4)", "x", "y", "z", "w", "v", "u"}
	seen := map[any]bool{}
	for _, c := range MethodColors(names) {
		if seen[c] {
			t.Fatalf("colour %v used twice for %q", c, names)
		}
		seen[c] = true
	}
	// An unknown name listed before RCT does not take RCT's colour.
	if c := MethodColors([]string{"zzz", "rct"}); c[1] != vermillion {
		t.Errorf("rct lost its colour: %v", c)
	}
}

func TestMergeIntervals(t *testing.T) {
	iv := []Interval{
		{"MAC", "forward", 10, 20},
		{"MAC", "forward", 0, 10},    // touches
		{"MAC", "forward", 15, 30},   // overlaps
		{"MAC", "forward", 30.5, 40}, // within slack 1
		{"MAC", "forward", 50, 60},   // apart
		{"MAC", "update", 20, 25},    // other phase
		{"DMA", "forward", 0, 5},     // other unit
	}
	got := mergeIntervals(iv, 1)
	want := []Interval{
		{"DMA", "forward", 0, 5},
		{"MAC", "forward", 0, 40},
		{"MAC", "forward", 50, 60},
		{"MAC", "update", 20, 25},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if iv[0].Start != 10 {
		t.Error("mergeIntervals modified its input")
	}
}

func TestIntervalsToMicroseconds(t *testing.T) {
	got, err := IntervalsToMicroseconds([]Interval{{"DMA", "forward", 800, 1600}}, 800e6)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Start != 1 || got[0].End != 2 {
		t.Errorf("got %v, want 1..2 µs", got[0])
	}
}

func TestMeanBitwidth(t *testing.T) {
	g := smallBits()
	s, err := MeanBitwidth("rct", g, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.X[4] != 200 || s.Y[4] != (10+6+9)/3.0 {
		t.Errorf("last point (%v, %v), want (200, %v)", s.X[4], s.Y[4], (10+6+9)/3.0)
	}
	w, err := MeanBitwidth("rct", g, []float64{1, 0, 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := (10 + 3*9) / 4.0; w.Y[4] != want {
		t.Errorf("weighted mean %v, want %v", w.Y[4], want)
	}
}

// TestLongSchedule checks that a long precision schedule is sampled to at
// most MaxColumns columns and that run merging keeps the file small.
func TestLongSchedule(t *testing.T) {
	const steps, layers = 20000, 30
	g := BitwidthGrid{}
	for l := 0; l < layers; l++ {
		g.Layers = append(g.Layers, "layer"+strings.Repeat("x", l%5))
	}
	for s := 0; s < steps; s++ {
		g.Steps = append(g.Steps, s)
		row := make([]int, layers)
		for l := range row {
			row[l] = 4 + (s/1000+l)%8
		}
		g.Bits = append(g.Bits, row)
	}
	ch, err := BitwidthHeatmap(g)
	if err != nil {
		t.Fatal(err)
	}
	svg := svgOf(t, ch)
	if n := bytes.Count(svg, []byte("<path")); n > 5000 {
		t.Errorf("%d paths for a schedule with 20 changes per layer", n)
	}
	if !bytes.Contains(svg, []byte(">20000<")) && !bytes.Contains(svg, []byte(">15000<")) {
		t.Errorf("step ticks do not show the real step numbers")
	}
}

// TestLongTimeline checks that thousands of intervals become a few paths.
func TestLongTimeline(t *testing.T) {
	var iv []Interval
	for k := 0; k < 5000; k++ {
		s := float64(k * 10)
		iv = append(iv, Interval{"MAC array", "forward", s, s + 10}, Interval{"DMA", "forward", s, s + 6})
	}
	ch, err := Timeline("t", nil, nil, iv, "")
	if err != nil {
		t.Fatal(err)
	}
	svg := svgOf(t, ch)
	if n := bytes.Count(svg, []byte("<path")); n > 200 {
		t.Errorf("%d SVG paths for 10000 intervals", n)
	}
}

// TestScheduleSampling checks the worst case for run merging: a bitwidth
// that changes at every step. Sampling must cap the columns at MaxColumns.
func TestScheduleSampling(t *testing.T) {
	g := BitwidthGrid{Layers: []string{"a", "b"}}
	for s := 0; s < 3*MaxColumns; s++ {
		g.Steps = append(g.Steps, s)
		g.Bits = append(g.Bits, []int{4 + s%2, 5 + s%2})
	}
	ch, err := BitwidthHeatmap(g)
	if err != nil {
		t.Fatal(err)
	}
	n := bytes.Count(svgOf(t, ch), []byte("<path"))
	// Stride 3 samples steps 0, 3, 6, ...: the value still alternates, so
	// every sampled column is a cell of its own.
	if n < 2*MaxColumns || n > 2*MaxColumns+100 {
		t.Errorf("%d paths, want about %d (2 layers x %d columns)", n, 2*MaxColumns, MaxColumns)
	}
}

func TestDecimate(t *testing.T) {
	s := Series{Name: "loss"}
	for i := 0; i < 20000; i++ {
		s.X = append(s.X, float64(i))
		s.Y = append(s.Y, math.Sin(float64(i)/300)+float64(i%7)/10)
	}
	s.Y[12345] = -5 // a spike the envelope must keep
	seg := segments(s)[0]
	d := decimate(seg, decimateBuckets)
	if len(d) > 2*decimateBuckets+4 {
		t.Errorf("%d points after decimation", len(d))
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range d {
		lo, hi = min(lo, p.Y), max(hi, p.Y)
	}
	wantHi := math.Inf(-1)
	for _, y := range s.Y {
		wantHi = max(wantHi, y)
	}
	if lo != -5 || hi != wantHi {
		t.Errorf("envelope [%v, %v], want [-5, %v]", lo, hi, wantHi)
	}
	for i := 1; i < len(d); i++ {
		if d[i].X < d[i-1].X {
			t.Fatalf("decimated points out of X order at %d", i)
		}
	}
}

func TestBitwidthFixedScale(t *testing.T) {
	g := smallBits() // bits 6..10
	g.MinBits, g.MaxBits = 4, 16
	ch, err := BitwidthHeatmap(g)
	if err != nil {
		t.Fatal(err)
	}
	if ch.ColorBar.X.Min != 3.5 || ch.ColorBar.X.Max != 16.5 {
		t.Errorf("colour bar spans %v..%v, want 3.5..16.5", ch.ColorBar.X.Min, ch.ColorBar.X.Max)
	}
}
