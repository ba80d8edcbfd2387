package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// BitwidthGrid is the precision schedule of a run: the weight bitwidth of each
// layer at each logged training step.
type BitwidthGrid struct {
	// Title defaults to "Per-layer weight bitwidth".
	Title  string
	Layers []string
	// Steps are the logged training steps, strictly increasing.
	Steps []int
	// Bits[s][l] is layer l's bitwidth at Steps[s].
	Bits [][]int
	// MinBits and MaxBits, when non-zero, fix the colour scale (e.g. to the
	// policy's 4..16), so that figures of different runs share colours.
	// The scale still widens to any bitwidth outside them.
	MinBits, MaxBits int
}

// MaxColumns is the most step columns BitwidthHeatmap draws. Longer schedules
// are sampled at a fixed stride (the first step of every stride-long block),
// which keeps drawing time and file size bounded while a printed figure still
// shows every change that lasts longer than a pixel.
const MaxColumns = 2000

func (g BitwidthGrid) validate() error {
	if len(g.Layers) == 0 {
		return errors.New("plots: bitwidth grid has no layers")
	}
	if len(g.Steps) == 0 {
		return errors.New("plots: bitwidth grid has no steps")
	}
	if len(g.Bits) != len(g.Steps) {
		return fmt.Errorf("plots: bitwidth grid has %d steps but %d rows of bits", len(g.Steps), len(g.Bits))
	}
	for s, row := range g.Bits {
		if len(row) != len(g.Layers) {
			return fmt.Errorf("plots: bitwidth grid row %d (step %d) has %d values for %d layers", s, g.Steps[s], len(row), len(g.Layers))
		}
		for l, b := range row {
			if b < 1 || b > 64 {
				return fmt.Errorf("plots: bitwidth %d of layer %q at step %d is outside 1..64", b, g.Layers[l], g.Steps[s])
			}
		}
		if s > 0 && g.Steps[s] <= g.Steps[s-1] {
			return fmt.Errorf("plots: bitwidth grid steps are not increasing: %d after %d", g.Steps[s], g.Steps[s-1])
		}
	}
	return nil
}

// BitwidthHeatmap draws the precision schedule as a heat map with layers on
// the Y axis (the first layer at the top, as in a network diagram), training
// steps on the X axis, one colour per bitwidth and a colour bar with integer
// ticks. Schedules longer than MaxColumns steps are sampled (see MaxColumns).
func BitwidthHeatmap(g BitwidthGrid) (*Chart, error) {
	if err := g.validate(); err != nil {
		return nil, err
	}
	stride := (len(g.Steps) + MaxColumns - 1) / MaxColumns
	cols := make([]int, 0, (len(g.Steps)+stride-1)/stride) // indices into Steps
	for s := 0; s < len(g.Steps); s += stride {
		cols = append(cols, s)
	}
	lo, hi := g.Bits[0][0], g.Bits[0][0]
	if g.MinBits > 0 {
		lo = min(lo, g.MinBits)
	}
	if g.MaxBits > 0 {
		hi = max(hi, g.MaxBits)
	}
	for _, row := range g.Bits {
		for _, b := range row {
			lo, hi = min(lo, b), max(hi, b)
		}
	}
	scale := newIntegerScale(lo, hi)
	nl := len(g.Layers)

	title := g.Title
	if title == "" {
		title = "Per-layer weight bitwidth"
	}
	p := newPlot("Training step", "Layer")
	frameless(p)
	p.Add(cells{
		nx: len(cols), ny: nl,
		color: func(i, j int) color.Color {
			return scale.at(float64(g.Bits[cols[i]][nl-1-j]))
		},
	})
	p.X.Tick.Marker = stepTicks(g.Steps, cols)
	layerTicks := categoryTicks(g.Layers, true)

	var barTicks plot.ConstantTicks
	step := 1
	for (hi-lo)/step > 12 {
		step *= 2
	}
	for b := lo; b <= hi; b += step {
		barTicks = append(barTicks, plot.Tick{Value: float64(b), Label: fmt.Sprint(b)})
	}
	return &Chart{
		Title:    title,
		Plot:     p,
		ColorBar: newColorBarPlot(scale, "Weight bitwidth (bits)", barTicks),
		fit:      fitCategories(nil, layerTicks),
	}, nil
}

// stepTicks places round step numbers on an axis whose column c shows step
// steps[cols[c]], interpolating between columns when the logged steps are
// not evenly spaced.
func stepTicks(steps []int, cols []int) plot.ConstantTicks {
	first, last := float64(steps[cols[0]]), float64(steps[cols[len(cols)-1]])
	if len(cols) == 1 {
		return plot.ConstantTicks{{Value: 0, Label: fmt.Sprint(steps[cols[0]])}}
	}
	var out plot.ConstantTicks
	for _, t := range (niceTicks{integer: true}).Ticks(first, last) {
		if t.Value < first || t.Value > last {
			continue
		}
		// The column whose step is the last one <= t.Value, then the
		// fraction of the way to the next.
		c := 0
		for c+1 < len(cols) && float64(steps[cols[c+1]]) <= t.Value {
			c++
		}
		pos := float64(c)
		if c+1 < len(cols) {
			a, b := float64(steps[cols[c]]), float64(steps[cols[c+1]])
			pos += (t.Value - a) / (b - a)
		}
		out = append(out, plot.Tick{Value: pos, Label: t.Label})
	}
	return out
}

// fitCategories returns a Chart.fit function that sets category ticks on X
// and Y (either may be nil) and makes their labels fit the canvas: first by
// shrinking the font a little (a reader wants every name), then, on X, by
// slanting the labels, and only then by labelling every k-th tick.
func fitCategories(xTicks, yTicks plot.ConstantTicks) func(*plot.Plot, draw.Canvas) {
	return func(p *plot.Plot, c draw.Canvas) {
		width := func(dc draw.Canvas) vg.Length { return dc.Max.X - dc.Min.X }
		height := func(dc draw.Canvas) vg.Length { return dc.Max.Y - dc.Min.Y }
		if xTicks != nil {
			a := &p.X
			a.Tick.Marker = xTicks
			a.Tick.Label.Rotation = 0
			a.Tick.Label.XAlign, a.Tick.Label.YAlign = draw.XCenter, draw.YTop
			// Measured with every label present: thinning only frees space.
			size := a.Tick.Label.Width
			if !fitsWithFont(p, c, a, xTicks, &size, width, func(s text.Style) func(string) vg.Length { return s.Width }) {
				// Slanted labels need only their height divided by the
				// sine of the slant between neighbours.
				const slant = math.Pi / 6
				a.Tick.Label.Rotation = slant
				a.Tick.Label.XAlign, a.Tick.Label.YAlign = draw.XRight, draw.YTop
				size = func(string) vg.Length { return a.Tick.Label.Height("Mg") / vg.Length(math.Sin(slant)) }
			}
			a.Tick.Marker = thinTicks(xTicks, size, width(p.DataCanvas(c)))
		}
		if yTicks != nil {
			a := &p.Y
			a.Tick.Marker = yTicks
			size := a.Tick.Label.Height
			fitsWithFont(p, c, a, yTicks, &size, height, func(s text.Style) func(string) vg.Length { return s.Height })
			a.Tick.Marker = thinTicks(yTicks, size, height(p.DataCanvas(c)))
		}
	}
}

// fitsWithFont tries the tick font sizes from tickSize down to 7 points and
// stops at the first with which every label fits; it leaves the axis at the
// last size tried and *size measuring with it.
func fitsWithFont(p *plot.Plot, c draw.Canvas, a *plot.Axis, ticks plot.ConstantTicks, size *func(string) vg.Length,
	span func(draw.Canvas) vg.Length, measure func(text.Style) func(string) vg.Length) bool {
	for _, fs := range []vg.Length{tickSize, 8, 7} {
		a.Tick.Label.Font.Size = fs
		*size = measure(a.Tick.Label)
		if fits(ticks, *size, span(p.DataCanvas(c))) {
			return true
		}
	}
	return false
}

// MeanBitwidth returns the average weight bitwidth at each logged step as a
// Series for Lines. With weights nil every layer counts equally; with one
// weight per layer (e.g. its parameter count) it is the average number of
// bits per weight, the figure that drives parameter memory.
func MeanBitwidth(name string, g BitwidthGrid, weights []float64) (Series, error) {
	if err := g.validate(); err != nil {
		return Series{}, err
	}
	if weights != nil && len(weights) != len(g.Layers) {
		return Series{}, fmt.Errorf("plots: %d weights for %d layers", len(weights), len(g.Layers))
	}
	var total float64
	for l := range g.Layers {
		w := 1.0
		if weights != nil {
			w = weights[l]
			if !(w >= 0) || math.IsInf(w, 0) {
				return Series{}, fmt.Errorf("plots: weight %v of layer %q is not a finite non-negative number", w, g.Layers[l])
			}
		}
		total += w
	}
	if total == 0 {
		return Series{}, errors.New("plots: layer weights sum to zero")
	}
	s := Series{Name: name, X: make([]float64, len(g.Steps)), Y: make([]float64, len(g.Steps))}
	for i, row := range g.Bits {
		var sum float64
		for l, b := range row {
			w := 1.0
			if weights != nil {
				w = weights[l]
			}
			sum += w * float64(b)
		}
		s.X[i], s.Y[i] = float64(g.Steps[i]), sum/total
	}
	return s, nil
}

// Grid is a metric over two swept parameters, e.g. energy per step over MAC
// array size and SRAM size. Parameter values are labels ("8", "64KiB"): the
// cells are equally sized whatever the values.
type Grid struct {
	Title string
	// XName and YName label the axes, e.g. "SRAM size", "Array rows".
	XName, YName string
	// Metric labels the colour bar and should carry a unit, e.g. "Energy per step (mJ)".
	Metric string
	// XValues label the columns left to right, YValues the rows bottom to top.
	XValues, YValues []string
	// Values[y][x]; NaN marks a missing point (a failed or skipped run).
	Values [][]float64
	// Annotate prints each cell's value in it.
	Annotate bool
}

// Heatmap draws g as a heat map with a colour bar (viridis, low values dark).
// Missing cells are light grey and get a legend entry. A constant grid draws
// in the middle colour.
func Heatmap(g Grid) (*Chart, error) {
	if len(g.XValues) == 0 || len(g.YValues) == 0 {
		return nil, fmt.Errorf("plots: heat map %q needs at least one X and one Y value", g.Title)
	}
	if len(g.Values) != len(g.YValues) {
		return nil, fmt.Errorf("plots: heat map %q has %d Y values but %d rows", g.Title, len(g.YValues), len(g.Values))
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	missing := false
	for y, row := range g.Values {
		if len(row) != len(g.XValues) {
			return nil, fmt.Errorf("plots: heat map %q row %d (%s) has %d values for %d X values", g.Title, y, g.YValues[y], len(row), len(g.XValues))
		}
		for x, v := range row {
			switch {
			case math.IsNaN(v):
				missing = true
			case math.IsInf(v, 0):
				return nil, fmt.Errorf("plots: heat map %q value at (%s, %s) is infinite", g.Title, g.XValues[x], g.YValues[y])
			default:
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if lo > hi {
		return nil, fmt.Errorf("plots: heat map %q has no values (all missing)", g.Title)
	}
	scale := newContinuousScale(lo, hi)

	p := newPlot(g.XName, g.YName)
	frameless(p)
	cl := cells{
		nx: len(g.XValues), ny: len(g.YValues),
		color: func(i, j int) color.Color { return scale.at(g.Values[j][i]) },
	}
	if g.Annotate {
		cl.label = func(i, j int) string {
			if v := g.Values[j][i]; !math.IsNaN(v) {
				return formatValue(v)
			}
			return ""
		}
	}
	p.Add(cl)
	ch := &Chart{
		Title:    g.Title,
		Plot:     p,
		ColorBar: newColorBarPlot(scale, g.Metric, nil),
		fit:      fitCategories(categoryTicks(g.XValues, false), categoryTicks(g.YValues, false)),
	}
	if missing {
		ch.Legend = []LegendEntry{{Label: "no data", Thumb: swatch{missingColor}}}
	}
	return ch, nil
}
