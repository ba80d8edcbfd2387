package plots

import (
	"fmt"
	"math"

	"github.com/rctsim/rctsim/traces/units"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named curve, e.g. one method's accuracy against training
// step. A NaN in Y (a step where the metric was not measured) leaves a gap.
type Series struct {
	Name string
	X, Y []float64
}

// markerLimit is the most points a series may have and still get a marker
// at each point: sparse curves (evaluations every epoch) read better with
// markers, dense ones (every step) drown in them.
const markerLimit = 40

// decimateAbove is the point count above which a curve segment is reduced to
// the lowest and highest point of each of decimateBuckets equal X ranges: the
// drawn envelope is unchanged at print resolution, and a 100k-step loss curve
// stays a small file.
const (
	decimateAbove   = 4000
	decimateBuckets = 1500
)

// Lines draws one line per series in its method's colour (see MethodColors),
// with a legend above the plot. Every series must have as many X as Y
// values, at least one finite point, and finite X values.
func Lines(title, xLabel, yLabel string, series []Series) (*Chart, error) {
	if len(series) == 0 {
		return nil, fmt.Errorf("plots: %q: no series to draw", title)
	}
	for _, s := range series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("plots: series %q has %d X and %d Y values", s.Name, len(s.X), len(s.Y))
		}
		finite := 0
		for i, x := range s.X {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("plots: series %q X value %d is %v", s.Name, i, x)
			}
			if math.IsInf(s.Y[i], 0) {
				return nil, fmt.Errorf("plots: series %q Y value %d is %v", s.Name, i, s.Y[i])
			}
			if !math.IsNaN(s.Y[i]) {
				finite++
			}
		}
		if finite == 0 {
			return nil, fmt.Errorf("plots: series %q has no points", s.Name)
		}
	}

	names := make([]string, len(series))
	for i, s := range series {
		names[i] = s.Name
	}
	slots := methodSlots(names)

	p := newPlot(xLabel, yLabel)
	ch := &Chart{Title: title, Plot: p}
	for i, s := range series {
		col := methodPalette[slots[i]]
		// Dense, noisy curves (one point per step) turn into a smear at
		// the width that suits a few evaluation points.
		ls := draw.LineStyle{Color: col, Width: vg.Points(1)}
		var glyph *draw.GlyphStyle
		if len(s.X) <= markerLimit {
			ls.Width = vg.Points(1.5)
			glyph = &draw.GlyphStyle{Color: col, Radius: vg.Points(2.5), Shape: methodGlyphs[slots[i]]}
		}
		for _, seg := range segments(s) {
			if len(seg) > decimateAbove {
				seg = decimate(seg, decimateBuckets)
			}
			if len(seg) > 1 {
				l, err := plotter.NewLine(seg)
				if err != nil {
					return nil, fmt.Errorf("plots: series %q: %w", s.Name, err)
				}
				l.LineStyle = ls
				p.Add(l)
			}
			// A lone point between gaps is invisible as a line: mark it.
			if glyph != nil || len(seg) == 1 {
				sc, err := plotter.NewScatter(seg)
				if err != nil {
					return nil, fmt.Errorf("plots: series %q: %w", s.Name, err)
				}
				sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.5), Shape: methodGlyphs[slots[i]]}
				p.Add(sc)
			}
		}
		ch.Legend = append(ch.Legend, LegendEntry{Label: s.Name, Thumb: lineThumb{line: ls, glyph: glyph}})
	}
	return ch, nil
}

// segments splits s at NaN values of Y into runs of finite points.
func segments(s Series) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i, y := range s.Y {
		if math.IsNaN(y) {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, plotter.XY{X: s.X[i], Y: y})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// decimate keeps, for each of n equal X ranges, the lowest and the highest
// point (in their X order), plus the first and last points. Points are
// assumed in X order, as training curves are.
func decimate(pts plotter.XYs, n int) plotter.XYs {
	lo, hi := pts[0].X, pts[len(pts)-1].X
	if !(hi > lo) {
		return pts
	}
	out := plotter.XYs{pts[0]}
	for i := 0; i < len(pts); {
		b := int(float64(n) * (pts[i].X - lo) / (hi - lo))
		minI, maxI := i, i
		j := i
		for ; j < len(pts) && int(float64(n)*(pts[j].X-lo)/(hi-lo)) == b; j++ {
			if pts[j].Y < pts[minI].Y {
				minI = j
			}
			if pts[j].Y > pts[maxI].Y {
				maxI = j
			}
		}
		if j == i { // X not increasing: keep the point and move on
			j = i + 1
		}
		first, second := min(minI, maxI), max(minI, maxI)
		out = append(out, pts[first])
		if second != first {
			out = append(out, pts[second])
		}
		i = j
	}
	return append(out, pts[len(pts)-1])
}

// PerStep returns a Series of one value per training step, at steps
// 0, 1, 2, ...: the form in which per-step energies come out of a run.
func PerStep(name string, values []float64) Series {
	x := make([]float64, len(values))
	for i := range x {
		x[i] = float64(i)
	}
	return Series{Name: name, X: x, Y: values}
}

// StepEnergy draws the energy of each training step against the step, one
// line per method; Y values are in joules and the axis gets an SI prefix
// chosen from the largest value (e.g. µJ). Build series from per-step
// energies with PerStep.
func StepEnergy(title string, series []Series) (*Chart, error) {
	peak := 0.0
	for _, s := range series {
		for _, y := range s.Y {
			if y > peak && !math.IsInf(y, 0) {
				peak = y
			}
		}
	}
	f, unit := units.SI(peak, "J")
	scaled := make([]Series, len(series))
	for i, s := range series {
		y := make([]float64, len(s.Y))
		for k, v := range s.Y {
			y[k] = v * f
		}
		scaled[i] = Series{Name: s.Name, X: s.X, Y: y}
	}
	if title == "" {
		title = "Energy per training step"
	}
	ch, err := Lines(title, "Training step", fmt.Sprintf("Energy per step (%s)", unit), scaled)
	if err != nil {
		return nil, err
	}
	// Energy is never negative; a zero baseline keeps a 10% saving from
	// looking like a halving.
	ch.Plot.Y.Min = min(ch.Plot.Y.Min, 0)
	ch.Plot.X.Tick.Marker = niceTicks{integer: true}
	return ch, nil
}
