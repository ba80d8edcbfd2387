package plots

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Point is one configuration of a sweep in a two-metric space, e.g. energy
// per step against final accuracy. Label names it on the plot when it lies on
// the Pareto frontier.
type Point struct {
	X, Y  float64
	Label string
}

// ParetoFront returns the points of pts that no other point dominates, in
// increasing X. A point dominates another if it is at least as good in both
// metrics and better in one, where better means lower when the metric is
// minimised and higher otherwise. Points with a NaN coordinate are ignored;
// of several identical points only the first is kept. pts is not modified.
func ParetoFront(pts []Point, minimiseX, minimiseY bool) []Point {
	// better(a, b) < 0 when a is better than b in that metric.
	better := func(a, b float64, minimise bool) int {
		if minimise {
			return cmp.Compare(a, b)
		}
		return cmp.Compare(b, a)
	}
	type ip struct {
		Point
		i int
	}
	s := make([]ip, 0, len(pts))
	for i, p := range pts {
		if !math.IsNaN(p.X) && !math.IsNaN(p.Y) {
			s = append(s, ip{p, i})
		}
	}
	// Best X first; among equal X, best Y first; then input order, so the
	// first of identical points is the one kept.
	slices.SortFunc(s, func(a, b ip) int {
		if c := better(a.X, b.X, minimiseX); c != 0 {
			return c
		}
		if c := better(a.Y, b.Y, minimiseY); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	// Sweeping in order of X, a point is on the frontier exactly when its Y
	// is strictly better than every Y before it: anything earlier is at
	// least as good in X.
	var front []Point
	for k, p := range s {
		if k == 0 || better(p.Y, front[len(front)-1].Y, minimiseY) < 0 {
			front = append(front, p.Point)
		}
	}
	if !minimiseX {
		slices.Reverse(front)
	}
	return front
}

// Pareto draws every point as a grey open circle and the Pareto frontier (see
// ParetoFront) as a black line through filled markers. Labels of frontier points
// are drawn on their better side, where no data lies; other points' labels
// are not drawn, as labelling every point of a dense sweep makes a blot.
func Pareto(title, xLabel, yLabel string, pts []Point, minimiseX, minimiseY bool) (*Chart, error) {
	if len(pts) == 0 {
		return nil, fmt.Errorf("plots: Pareto plot %q has no points", title)
	}
	all := make(plotter.XYs, len(pts))
	for i, p := range pts {
		if math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
			return nil, fmt.Errorf("plots: Pareto plot %q point %d (%q) is not finite: (%v, %v)", title, i, p.Label, p.X, p.Y)
		}
		all[i] = plotter.XY{X: p.X, Y: p.Y}
	}
	front := ParetoFront(pts, minimiseX, minimiseY)

	p := newPlot(xLabel, yLabel)
	sc, err := plotter.NewScatter(all)
	if err != nil {
		return nil, err
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: grey, Radius: vg.Points(2.5), Shape: draw.RingGlyph{}}
	p.Add(sc)

	fxy := make(plotter.XYs, len(front))
	var labels []string
	for i, f := range front {
		fxy[i] = plotter.XY{X: f.X, Y: f.Y}
		labels = append(labels, f.Label)
	}
	thinLabels(fxy, labels, all)
	// Neutral colours: the palette's colours stand for methods elsewhere
	// (vermillion is RCT), and a sweep's points are configurations.
	ls := draw.LineStyle{Color: black, Width: vg.Points(1.2)}
	gs := draw.GlyphStyle{Color: black, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
	if len(fxy) > 1 {
		l, err := plotter.NewLine(fxy)
		if err != nil {
			return nil, err
		}
		l.LineStyle = ls
		p.Add(l)
	}
	fs, err := plotter.NewScatter(fxy)
	if err != nil {
		return nil, err
	}
	fs.GlyphStyle = gs
	p.Add(fs)
	if slices.ContainsFunc(labels, func(s string) bool { return s != "" }) {
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: fxy, Labels: labels})
		if err != nil {
			return nil, err
		}
		// The quadrant on the better side of a frontier point in both
		// metrics holds no point and no frontier segment (those run to
		// the neighbours, each better in one metric only): labels there
		// cover nothing.
		sty := textStyle(annotSize)
		off := vg.Point{X: vg.Points(4), Y: vg.Points(3)}
		if minimiseX {
			sty.XAlign, off.X = draw.XRight, -off.X
		}
		if minimiseY {
			sty.YAlign, off.Y = draw.YTop, -off.Y
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i] = sty
		}
		lb.Offset = off
		p.Add(lb)
	}

	ring := draw.GlyphStyle{Color: grey, Radius: vg.Points(2.5), Shape: draw.RingGlyph{}}
	return &Chart{Title: title, Plot: p, Legend: []LegendEntry{
		{Label: "configurations", Thumb: lineThumb{glyph: &ring}},
		{Label: "Pareto frontier", Thumb: lineThumb{line: ls, glyph: &gs}},
	}}, nil
}

// thinLabels blanks frontier labels that would crowd an earlier kept one: a label is
// kept only when its point is at least a quarter of the data's width (a label is about
// that wide) or a twelfth of its height (a line of text) away from every kept label's
// point; close frontier points otherwise print on top of each other.
func thinLabels(xy plotter.XYs, labels []string, all plotter.XYs) {
	xmin, xmax, ymin, ymax := plotter.XYRange(all)
	dx, dy := (xmax-xmin)/4, (ymax-ymin)/12
	var kept []plotter.XY
	for i, p := range xy {
		if labels[i] == "" {
			continue
		}
		crowded := false
		for _, k := range kept {
			if math.Abs(p.X-k.X) < dx && math.Abs(p.Y-k.Y) < dy {
				crowded = true
				break
			}
		}
		if crowded {
			labels[i] = ""
			continue
		}
		kept = append(kept, p)
	}
}
