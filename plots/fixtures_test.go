package plots

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Realistic made-up tables, for the preview (look at them) and the benchmarks.
// The golden tests use the small tables in plots_test.go instead.

var preview = flag.String("preview", "", "render every figure kind from realistic tables as PNG (and SVG, PDF) into this directory")

func realEnergy() EnergyBreakdown {
	return EnergyBreakdown{
		Title:   "Energy per training step, ResNet-20 on Edge-TPU-like chip",
		Methods: []string{"FP32", "QAT", "RCT"},
		Parts:   []string{"MAC/GEMM", "SRAM", "DRAM weights", "DRAM master weights", "DRAM activations/errors/gradients", "static"},
		EnergyJ: [][]float64{
			{9.1e-3, 2.4e-3, 3.2e-3, 0, 8.0e-3, 0.9e-3},
			{2.1e-3, 1.2e-3, 0.8e-3, 3.2e-3, 4.0e-3, 0.5e-3},
			{0.28e-3, 0.9e-3, 0.45e-3, 0, 3.9e-3, 0.45e-3},
		},
	}
}

func realCurves(metric string) []Series {
	r := rand.New(rand.NewPCG(1, 2))
	var out []Series
	for _, m := range []struct {
		name       string
		final, tau float64
	}{{"FP32", 0.915, 900}, {"QAT", 0.905, 1000}, {"RCT", 0.893, 1200}} {
		s := Series{Name: m.name}
		for step := 0; step <= 6000; step += 10 {
			x := float64(step)
			var y float64
			if metric == "acc" {
				y = m.final*(1-math.Exp(-x/m.tau)) + 0.1*math.Exp(-x/m.tau) + 0.01*r.NormFloat64()
			} else {
				y = 2.3*math.Exp(-x/m.tau) + (1-m.final)*1.5 + 0.05*r.NormFloat64()
			}
			s.X, s.Y = append(s.X, x), append(s.Y, y)
		}
		out = append(out, s)
	}
	return out
}

func realBits() BitwidthGrid {
	g := BitwidthGrid{Title: "RCT precision schedule, ResNet-20"}
	layers := []string{"conv1"}
	for s := 1; s <= 3; s++ {
		for b := 0; b < 3; b++ {
			layers = append(layers, fmt.Sprintf("layer%d.%d.conv1", s, b), fmt.Sprintf("layer%d.%d.conv2", s, b))
		}
	}
	layers = append(layers, "fc")
	g.Layers = layers
	r := rand.New(rand.NewPCG(3, 4))
	bits := make([]int, len(layers))
	for i := range bits {
		bits[i] = 8
	}
	for step := 0; step <= 10000; step += 50 {
		g.Steps = append(g.Steps, step)
		row := make([]int, len(layers))
		for l := range bits {
			// Early layers and fc keep precision; the middle drops bits.
			p := r.Float64()
			switch {
			case p < 0.04 && bits[l] < 16 && (l == 0 || l == len(layers)-1 || step < 2000):
				bits[l]++
			case p > 0.93 && bits[l] > 4 && l != 0 && l != len(layers)-1 && step > 500:
				bits[l]--
			}
			row[l] = bits[l]
		}
		g.Bits = append(g.Bits, row)
	}
	return g
}

func realFootprint() Footprint {
	const Mi = 1 << 20
	return Footprint{
		Title:   "Peak memory footprint, ResNet-20, batch 32",
		Methods: []string{"FP32", "QAT", "RCT"},
		Classes: []string{"weights", "master weights", "activations", "gradients", "optimizer state"},
		Bytes: [][]float64{
			{1.08 * Mi, 0, 6.2 * Mi, 1.08 * Mi, 1.08 * Mi},
			{0.27 * Mi, 1.08 * Mi, 1.6 * Mi, 1.08 * Mi, 1.08 * Mi},
			{0.19 * Mi, 0, 1.6 * Mi, 0.27 * Mi, 0},
		},
	}
}

func realStepEnergy() []Series {
	r := rand.New(rand.NewPCG(5, 6))
	var out []Series
	for _, m := range []struct {
		name      string
		base, end float64
	}{{"QAT", 11.8e-3, 11.8e-3}, {"RCT", 7.5e-3, 5.9e-3}} {
		v := make([]float64, 3000)
		for i := range v {
			t := float64(i) / float64(len(v))
			v[i] = m.base + (m.end-m.base)*t + 0.1e-3*r.NormFloat64()
		}
		out = append(out, PerStep(m.name, v))
	}
	return out
}

func realTimeline() ([]string, []string, []Interval) {
	units := []string{"DMA", "MAC array", "vector unit"}
	phases := []string{"forward", "backward_data", "backward_weight", "update", "precision_control"}
	var iv []Interval
	t := 0.0
	for li, ph := range []struct {
		name  string
		tiles int
	}{{"forward", 400}, {"backward_data", 400}, {"backward_weight", 400}, {"update", 60}, {"precision_control", 20}} {
		_ = li
		for k := 0; k < ph.tiles; k++ {
			load := 40.0 + float64(k%7)*3
			iv = append(iv, Interval{Unit: "DMA", Phase: ph.name, Start: t, End: t + load})
			switch ph.name {
			case "update", "precision_control":
				iv = append(iv, Interval{Unit: "vector unit", Phase: ph.name, Start: t + load, End: t + load + 30})
				t += load + 10
			default:
				iv = append(iv, Interval{Unit: "MAC array", Phase: ph.name, Start: t + load, End: t + load + 64})
				if k%8 == 7 {
					iv = append(iv, Interval{Unit: "vector unit", Phase: ph.name, Start: t + load + 64, End: t + load + 90})
				}
				t += 64 // double buffered: the next load overlaps this compute
			}
		}
	}
	return units, phases, iv
}

func realGrid() Grid {
	g := Grid{
		Title: "Energy per step over array and SRAM size (RCT)", XName: "SRAM size", YName: "MAC array (rows = cols)",
		Metric:   "Energy per step (mJ)",
		XValues:  []string{"64KiB", "128KiB", "256KiB", "512KiB", "1MiB"},
		YValues:  []string{"8", "16", "32", "64"},
		Annotate: true,
	}
	for y := range g.YValues {
		row := make([]float64, len(g.XValues))
		for x := range row {
			row[x] = 9.0/math.Pow(1.5, float64(x)) + 1.2*float64(y) + 2/float64(y+1)
		}
		g.Values = append(g.Values, row)
	}
	g.Values[3][0] = math.NaN() // 64x64 array with 64 KiB SRAM does not fit
	return g
}

func realPareto() []Point {
	r := rand.New(rand.NewPCG(7, 8))
	var pts []Point
	for _, b := range []int{4, 6, 8, 10, 12, 16} {
		for _, arr := range []int{8, 16, 32, 64} {
			e := float64(b)*0.6 + 8/float64(arr)*2 + r.Float64()
			acc := 92 - 40/float64(b*b) - r.Float64()*1.5
			pts = append(pts, Point{X: e, Y: acc, Label: fmt.Sprintf("b%d/%dx%d", b, arr, arr)})
		}
	}
	return pts
}

// TestPreview renders every figure kind from the realistic tables when run
// with -preview DIR; it is skipped otherwise.
func TestPreview(t *testing.T) {
	if *preview == "" {
		t.Skip("run with -preview DIR to render the preview figures")
	}
	must := func(c *Chart, err error) *Chart {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	avg := []Series{}
	bits := realBits()
	s, err := MeanBitwidth("RCT (mean over layers)", bits, nil)
	if err != nil {
		t.Fatal(err)
	}
	avg = append(avg, s, Series{Name: "QAT", X: []float64{0, 10000}, Y: []float64{8, 8}})
	units, phases, iv := realTimeline()
	figs := []struct {
		name string
		fig  *Chart
		w, h float64
	}{
		{"energy_abs", must(EnergyBars(realEnergy(), "")), 6, 4},
		{"energy_norm", must(EnergyBars(realEnergy(), "QAT")), 6, 4},
		{"accuracy", must(Lines("Test accuracy", "Training step", "Accuracy", realCurves("acc"))), 6, 4},
		{"loss", must(Lines("Training loss", "Training step", "Cross-entropy loss", realCurves("loss"))), 6, 4},
		{"bitwidth", must(BitwidthHeatmap(bits)), 7, 5},
		{"mean_bits", must(Lines("Mean weight bitwidth", "Training step", "Bits", avg)), 6, 4},
		{"memory", must(MemoryBars(realFootprint())), 6, 4},
		{"step_energy", must(StepEnergy("", realStepEnergy())), 6, 4},
		{"timeline", must(Timeline("One training step (RCT, ResNet-20 layer block)", units, phases, iv, "")), 8, 3},
		{"sweep", must(Heatmap(realGrid())), 6, 4.5},
		{"pareto", must(Pareto("Energy against accuracy over the sweep", "Energy per step (mJ)", "Test accuracy (%)", realPareto(), true, false)), 6, 4},
	}
	for _, f := range figs {
		paths, err := Save(f.fig, *preview, f.name, nil, f.w, f.h, 150)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			st, _ := os.Stat(p)
			t.Logf("%s %d bytes", filepath.Base(p), st.Size())
		}
	}
}

func BenchmarkTimeline(b *testing.B) {
	units, phases, iv := realTimeline()
	for b.Loop() {
		ch, err := Timeline("t", units, phases, iv, "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Render(ch, "png", 576, 216, 150); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBitwidthHeatmap(b *testing.B) {
	g := realBits()
	for b.Loop() {
		ch, err := BitwidthHeatmap(g)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Render(ch, "svg", 504, 360, 0); err != nil {
			b.Fatal(err)
		}
	}
}
