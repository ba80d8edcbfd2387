package plots

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"github.com/rctsim/rctsim/traces/units"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// EnergyBreakdown is the energy of one training step (or of a whole run) per
// method, split into parts such as "MAC/GEMM", "SRAM", "DRAM weights",
// "DRAM master weights", "DRAM activations/errors/gradients" and "static".
type EnergyBreakdown struct {
	// Title defaults to "Energy breakdown".
	Title   string
	Methods []string
	// Parts are stacked bottom to top in this order and keep their colour
	// by position, so give them in the same order in every figure.
	Parts []string
	// EnergyJ[m][p] is part p of method m, in joules; non-negative.
	EnergyJ [][]float64
}

// Footprint is the peak memory per method by tensor class, e.g. "weights",
// "master weights", "activations", "gradients", "optimizer state".
type Footprint struct {
	// Title defaults to "Memory footprint".
	Title   string
	Methods []string
	// Classes are stacked bottom to top in this order.
	Classes []string
	// Bytes[m][c] is class c of method m; non-negative.
	Bytes [][]float64
}

// stackTable is the common form of the stacked-bar tables.
type stackTable struct {
	what     string // for error messages: "energy breakdown"
	bars     []string
	parts    []string
	values   [][]float64
	partWord string // "part", "class"
}

func (t stackTable) validate() error {
	if len(t.bars) == 0 {
		return fmt.Errorf("plots: %s has no methods", t.what)
	}
	if len(t.parts) == 0 {
		return fmt.Errorf("plots: %s has no %ss", t.what, t.partWord)
	}
	if len(t.values) != len(t.bars) {
		return fmt.Errorf("plots: %s has %d methods but %d rows of values", t.what, len(t.bars), len(t.values))
	}
	for m, row := range t.values {
		if len(row) != len(t.parts) {
			return fmt.Errorf("plots: %s row of %q has %d values for %d %ss", t.what, t.bars[m], len(row), len(t.parts), t.partWord)
		}
		for p, v := range row {
			// Stacking a negative value would draw a segment overlapping
			// the one below it: the bar would lie about its parts.
			if !(v >= 0) || math.IsInf(v, 0) {
				return fmt.Errorf("plots: %s value %v of %q, %s %q is not a finite non-negative number", t.what, v, t.bars[m], t.partWord, t.parts[p])
			}
		}
	}
	return nil
}

// EnergyBars draws b as stacked bars, one per method. With normaliseTo empty
// the axis is in joules with an SI prefix chosen from the largest total
// (e.g. mJ); otherwise every value is divided by the total of the method
// named normaliseTo (e.g. "QAT"), which then stands at 1, marked by a dashed
// line. Each bar's total is printed above it.
func EnergyBars(b EnergyBreakdown, normaliseTo string) (*Chart, error) {
	t := stackTable{what: "energy breakdown", bars: b.Methods, parts: b.Parts, values: b.EnergyJ, partWord: "part"}
	if err := t.validate(); err != nil {
		return nil, err
	}
	totals := rowTotals(b.EnergyJ)
	title := b.Title
	if title == "" {
		title = "Energy breakdown"
	}
	if normaliseTo == "" {
		f, unit := units.SI(maxOf(totals), "J")
		return stackedChart(t, title, fmt.Sprintf("Energy (%s)", unit), f, math.NaN())
	}
	ref := -1
	for m, name := range b.Methods {
		if name == normaliseTo {
			ref = m
			break
		}
	}
	if ref < 0 {
		return nil, fmt.Errorf("plots: cannot normalise to %q: no such method among %q", normaliseTo, b.Methods)
	}
	if !(totals[ref] > 0) {
		return nil, fmt.Errorf("plots: cannot normalise to %q: its total energy is zero", normaliseTo)
	}
	return stackedChart(t, title, fmt.Sprintf("Energy (normalised, %s = 1)", normaliseTo), 1/totals[ref], 1)
}

// MemoryBars draws f as stacked bars, one per method, in bytes with a binary
// prefix (KiB, MiB, GiB) chosen from the largest total. Each bar's total is
// printed above it.
func MemoryBars(f Footprint) (*Chart, error) {
	t := stackTable{what: "memory footprint", bars: f.Methods, parts: f.Classes, values: f.Bytes, partWord: "class"}
	if err := t.validate(); err != nil {
		return nil, err
	}
	title := f.Title
	if title == "" {
		title = "Memory footprint"
	}
	scale, unit := units.Binary(maxOf(rowTotals(f.Bytes)))
	return stackedChart(t, title, fmt.Sprintf("Memory (%s)", unit), scale, math.NaN())
}

func rowTotals(v [][]float64) []float64 {
	out := make([]float64, len(v))
	for i, row := range v {
		for _, x := range row {
			out[i] += x
		}
	}
	return out
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// stackedChart draws t scaled by factor; refLine, unless NaN, is the height
// of a dashed reference line.
func stackedChart(t stackTable, title, yLabel string, factor, refLine float64) (*Chart, error) {
	// Totals share one number of decimals, three significant digits for
	// the tallest bar (ratios to a reference: always two), so that a
	// column of totals reads as one table.
	top := maxOf(rowTotals(t.values)) * factor
	decimals := 2
	if math.IsNaN(refLine) && top > 0 {
		decimals = max(0, 2-int(math.Floor(math.Log10(top))))
	}
	sb := &stackedBars{values: t.values, factor: factor, width: 0.6,
		format: func(v float64) string { return strconv.FormatFloat(v, 'f', decimals, 64) }}
	for i := range t.parts {
		sb.colors = append(sb.colors, seriesColor(i))
	}
	p := newPlot("", yLabel)
	p.Add(sb)
	p.X.Min, p.X.Max = -0.5, float64(len(t.bars))-0.5
	p.X.Padding = 0
	p.X.Tick.Marker = categoryTicks(t.bars, false)
	p.X.Tick.Length = 0

	if !math.IsNaN(refLine) {
		top = max(top, refLine)
		p.Add(hLine{y: refLine})
	}
	if top == 0 {
		top = 1 // an all-zero table still gets a readable axis
	}
	// Headroom for the totals printed above the bars.
	p.Y.Min, p.Y.Max = 0, top*1.12
	p.Y.Padding = 0

	ch := &Chart{Title: title, Plot: p, fit: fitCategories(categoryTicks(t.bars, false), nil)}
	for i, name := range t.parts {
		ch.Legend = append(ch.Legend, LegendEntry{Label: name, Thumb: swatch{sb.colors[i]}})
	}
	return ch, nil
}

// stackedBars is a plot.Plotter of stacked bars at x = 0, 1, 2, ... with a
// width in data units, so that bars keep their proportions whatever the
// figure's size (gonum's BarChart takes a width in points, and its StackOn
// copies offsets at call time, which is easy to get wrong).
type stackedBars struct {
	values [][]float64 // [bar][part], unscaled
	factor float64
	colors []color.Color // per part
	width  float64       // in data units
	// format prints a bar's total above it.
	format func(float64) string
}

// Plot implements plot.Plotter.
func (s *stackedBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	outline := draw.LineStyle{Color: color.White, Width: vg.Points(0.5)}
	total := draw.LineStyle{Color: color.Black, Width: vg.Points(0.6)}
	sty := textStyle(annotSize)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YBottom
	for i, row := range s.values {
		x0, x1 := trX(float64(i)-s.width/2), trX(float64(i)+s.width/2)
		var base float64
		for k, v := range row {
			if v == 0 {
				continue
			}
			y0, y1 := trY(base), trY(base+v*s.factor)
			base += v * s.factor
			r := rect(x0, y0, x1, y1)
			c.SetColor(s.colors[k])
			c.Fill(r)
			// A thin white edge separates neighbouring parts even
			// where two similar colours meet.
			c.SetLineStyle(outline)
			c.Stroke(r)
		}
		y := trY(base)
		c.SetLineStyle(total)
		c.Stroke(rect(x0, trY(0), x1, y))
		c.FillText(sty, vg.Point{X: trX(float64(i)), Y: y + vg.Points(2)}, s.format(base))
	}
}

// hLine is a plot.Plotter drawing a dashed horizontal reference line across
// the data area.
type hLine struct{ y float64 }

// Plot implements plot.Plotter.
func (h hLine) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: color.Gray{0x44}, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
	c.StrokeLine2(sty, c.Min.X, trY(h.y), c.Max.X, trY(h.y))
}
