package plots

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	"github.com/rctsim/rctsim/traces/units"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Interval is a span of time during which a hardware unit (e.g. "DMA",
// "MAC array", "vector unit") was busy with work of one phase of the
// training step ("forward", "backward_data", "backward_weight", "update",
// "precision_control"). Start and End are in cycles, or in any unit the
// caller names in Timeline's xLabel (see IntervalsToMicroseconds).
type Interval struct {
	Unit       string
	Phase      string
	Start, End float64
}

// IntervalsToMicroseconds returns a copy of iv with Start and End converted
// from cycles to microseconds at a clock of clockHz.
func IntervalsToMicroseconds(iv []Interval, clockHz float64) ([]Interval, error) {
	if !(clockHz > 0) || math.IsInf(clockHz, 0) {
		return nil, fmt.Errorf("plots: clock %v Hz is not a positive frequency", clockHz)
	}
	out := make([]Interval, len(iv))
	for i, v := range iv {
		out[i] = v
		out[i].Start = v.Start / clockHz * 1e6
		out[i].End = v.End / clockHz * 1e6
	}
	return out, nil
}

// Timeline draws a Gantt chart of one training step: one lane per unit (in
// the order of units, top to bottom), its busy intervals coloured by phase,
// with a legend of phases in the order of phases. Either list may be nil to
// take the units or phases in their order of first appearance in iv.
// xLabel defaults to cycles, which are then shown with an SI prefix
// ("Time (kcycles)").
//
// Intervals of one unit and phase that touch, overlap or lie closer than a
// ten-thousandth of the whole span (below a pixel at any print resolution)
// are merged before drawing, so traces of many thousands of instructions
// draw quickly and give small files.
func Timeline(title string, unitNames, phases []string, iv []Interval, xLabel string) (*Chart, error) {
	if len(iv) == 0 {
		return nil, fmt.Errorf("plots: timeline %q has no intervals", title)
	}
	unitNames = withFirstSeen(unitNames, iv, func(v Interval) string { return v.Unit })
	phases = withFirstSeen(phases, iv, func(v Interval) string { return v.Phase })
	unitIdx, err := indexOf(unitNames, "unit")
	if err != nil {
		return nil, err
	}
	phaseIdx, err := indexOf(phases, "phase")
	if err != nil {
		return nil, err
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range iv {
		if math.IsNaN(v.Start) || math.IsNaN(v.End) || math.IsInf(v.Start, 0) || math.IsInf(v.End, 0) {
			return nil, fmt.Errorf("plots: interval %+v has a non-finite bound", v)
		}
		if v.End < v.Start {
			return nil, fmt.Errorf("plots: interval %+v ends before it starts", v)
		}
		if _, ok := unitIdx[v.Unit]; !ok {
			return nil, fmt.Errorf("plots: interval %+v: unit %q is not in the unit list %q", v, v.Unit, unitNames)
		}
		if _, ok := phaseIdx[v.Phase]; !ok {
			return nil, fmt.Errorf("plots: interval %+v: phase %q is not in the phase list %q", v, v.Phase, phases)
		}
		lo, hi = min(lo, v.Start), max(hi, v.End)
	}

	factor := 1.0
	if xLabel == "" {
		var unit string
		factor, unit = units.SI(hi, "cycles")
		xLabel = fmt.Sprintf("Time (%s)", unit)
	}
	merged := mergeIntervals(iv, (hi-lo)*1e-4)

	colors := make([]color.Color, len(phases))
	other := 0
	for i, ph := range phases {
		if c, ok := phaseColors[ph]; ok {
			colors[i] = c
			continue
		}
		colors[i] = otherPhaseColors[other%len(otherPhaseColors)]
		other++
	}

	p := newPlot(xLabel, "")
	p.Add(lanes{n: len(unitNames)})
	p.Add(&gantt{iv: merged, factor: factor, lane: unitIdx, phase: phaseIdx, colors: colors, nUnits: len(unitNames)})
	p.X.Min, p.X.Max = lo*factor, hi*factor
	p.Y.Min, p.Y.Max = -0.5, float64(len(unitNames))-0.5
	p.Y.Padding = 0
	p.Y.Tick.Length = 0
	ch := &Chart{Title: title, Plot: p, fit: fitCategories(nil, categoryTicks(unitNames, true))}
	for i, ph := range phases {
		ch.Legend = append(ch.Legend, LegendEntry{Label: ph, Thumb: swatch{colors[i]}})
	}
	return ch, nil
}

// withFirstSeen returns list, or when it is nil the distinct keys of iv in
// order of first appearance.
func withFirstSeen(list []string, iv []Interval, key func(Interval) string) []string {
	if list != nil {
		return list
	}
	seen := map[string]bool{}
	for _, v := range iv {
		if k := key(v); !seen[k] {
			seen[k] = true
			list = append(list, k)
		}
	}
	return list
}

func indexOf(list []string, what string) (map[string]int, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("plots: timeline has an empty %s list", what)
	}
	m := make(map[string]int, len(list))
	for i, s := range list {
		if _, dup := m[s]; dup {
			return nil, fmt.Errorf("plots: timeline %s %q is listed twice", what, s)
		}
		m[s] = i
	}
	return m, nil
}

// mergeIntervals returns the intervals of each (unit, phase) pair joined
// where they overlap or lie at most slack apart, ordered by unit, phase and
// start. It does not modify iv.
func mergeIntervals(iv []Interval, slack float64) []Interval {
	s := slices.Clone(iv)
	slices.SortStableFunc(s, func(a, b Interval) int {
		return cmp.Or(strings.Compare(a.Unit, b.Unit), strings.Compare(a.Phase, b.Phase), cmp.Compare(a.Start, b.Start))
	})
	out := s[:0]
	for _, v := range s {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.Unit == v.Unit && last.Phase == v.Phase && v.Start <= last.End+slack {
				last.End = max(last.End, v.End)
				continue
			}
		}
		out = append(out, v)
	}
	return out
}

// otherPhaseColors colour phases that phaseColors does not know, in order:
// the palette colours no known phase uses.
var otherPhaseColors = append([]color.Color{skyBlue, grey, yellow, black}, seriesPalette[9:]...)

// laneHalf is half the height of a timeline bar, in lane units.
const laneHalf = 0.35

// lanes draws the light background band of each timeline lane.
type lanes struct{ n int }

// Plot implements plot.Plotter.
func (l lanes) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	c.SetColor(laneColor)
	for i := 0; i < l.n; i++ {
		c.Fill(rect(c.Min.X, trY(float64(i)-laneHalf), c.Max.X, trY(float64(i)+laneHalf)))
	}
}

// gantt draws merged busy intervals; lane 0 (the first unit) is at the top.
type gantt struct {
	iv     []Interval
	factor float64
	lane   map[string]int
	phase  map[string]int
	colors []color.Color
	nUnits int
}

// Plot implements plot.Plotter.
func (g *gantt) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	// One path per phase: a few SVG elements instead of one per interval.
	paths := make([]vg.Path, len(g.colors))
	for _, v := range g.iv {
		y := float64(g.nUnits - 1 - g.lane[v.Unit])
		x0, x1 := trX(v.Start*g.factor), trX(v.End*g.factor)
		// Keep every busy interval visible: at least a quarter point wide.
		if x1-x0 < vg.Points(0.25) {
			x1 = x0 + vg.Points(0.25)
		}
		k := g.phase[v.Phase]
		y0, y1 := trY(y-laneHalf), trY(y+laneHalf)
		paths[k].Move(vg.Point{X: x0, Y: y0})
		paths[k].Line(vg.Point{X: x1, Y: y0})
		paths[k].Line(vg.Point{X: x1, Y: y1})
		paths[k].Line(vg.Point{X: x0, Y: y1})
		paths[k].Close()
	}
	for k, pa := range paths {
		if len(pa) == 0 {
			continue
		}
		c.SetColor(g.colors[k])
		c.Fill(pa)
	}
}
