package plots

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// colorScale maps values in [lo, hi] onto len(colors) equal bands. Heat-map
// cells and their colour bar both use it, so a cell's colour is exactly the
// colour of its value on the bar.
type colorScale struct {
	lo, hi float64
	colors []color.Color
}

// newContinuousScale samples viridis in 256 bands over [lo, hi]. A constant
// table (lo == hi) gets a small range around its value, so it still draws —
// in the middle colour — and its colour bar still has a readable tick.
func newContinuousScale(lo, hi float64) colorScale {
	if lo == hi {
		d := math.Abs(lo) * 0.1
		if d == 0 {
			d = 1
		}
		lo, hi = lo-d, hi+d
	}
	const n = 256
	cs := make([]color.Color, n)
	for i := range cs {
		cs[i] = viridis((float64(i) + 0.5) / n)
	}
	return colorScale{lo: lo, hi: hi, colors: cs}
}

// newIntegerScale gives each integer in [lo, hi] its own colour band centred
// on the integer, for discrete values such as bitwidths. A single value gets
// the middle colour of viridis.
func newIntegerScale(lo, hi int) colorScale {
	n := hi - lo + 1
	cs := make([]color.Color, n)
	for i := range cs {
		t := 0.5
		if n > 1 {
			t = float64(i) / float64(n-1)
		}
		cs[i] = viridis(t)
	}
	return colorScale{lo: float64(lo) - 0.5, hi: float64(hi) + 0.5, colors: cs}
}

// at returns v's colour, or nil for NaN (a missing value).
func (s colorScale) at(v float64) color.Color {
	if math.IsNaN(v) {
		return nil
	}
	i := int(math.Floor((v - s.lo) / (s.hi - s.lo) * float64(len(s.colors))))
	i = max(0, min(i, len(s.colors)-1))
	return s.colors[i]
}

// colorBar is a plot.Plotter drawing a horizontal colour scale as vector
// rectangles. gonum's plotter.ColorBar draws a raster image, which viewers
// and our PNG writer smooth into a blur for a handful of discrete colours.
type colorBar struct{ scale colorScale }

// Plot implements plot.Plotter.
func (b colorBar) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	n := len(b.scale.colors)
	w := (b.scale.hi - b.scale.lo) / float64(n)
	for i, col := range b.scale.colors {
		x0 := trX(b.scale.lo + float64(i)*w)
		// Each band reaches over the next one, which then covers the
		// overlap: no anti-aliasing seam shows between bands.
		x1 := trX(b.scale.lo + float64(min(i+2, n))*w)
		c.SetColor(col)
		c.Fill(rect(x0, c.Min.Y, x1, c.Max.Y))
	}
	c.SetLineStyle(draw.LineStyle{Color: color.Black, Width: vg.Points(0.5)})
	c.Stroke(c.Rectangle.Path())
}

// DataRange implements plot.DataRanger.
func (b colorBar) DataRange() (xmin, xmax, ymin, ymax float64) {
	return b.scale.lo, b.scale.hi, 0, 1
}

// frameless removes the axis lines of a plot whose plotter draws its own
// frame (see cells.Plot).
func frameless(p *plot.Plot) {
	p.X.Width, p.Y.Width = 0, 0
	p.X.Padding, p.Y.Padding = 0, 0 // cells touch the frame
}

// newColorBarPlot returns a plot holding a horizontal colour bar with the
// given axis label; ticks, when non-nil, replace gonum's default ticks.
func newColorBarPlot(s colorScale, label string, ticks plot.Ticker) *plot.Plot {
	p := newPlot(label, "")
	p.Add(colorBar{s})
	p.HideY()
	p.X.Padding, p.Y.Padding = 0, 0
	p.X.Min, p.X.Max = s.lo, s.hi
	p.X.Width = 0 // the bar's own outline is the axis line
	if ticks != nil {
		p.X.Tick.Marker = ticks
	}
	return p
}

func rect(x0, y0, x1, y1 vg.Length) vg.Path {
	var p vg.Path
	p.Move(vg.Point{X: x0, Y: y0})
	p.Line(vg.Point{X: x1, Y: y0})
	p.Line(vg.Point{X: x1, Y: y1})
	p.Line(vg.Point{X: x0, Y: y1})
	p.Close()
	return p
}

// cells is a plot.Plotter drawing a grid of coloured cells in index
// coordinates: cell (i, j) covers [i-0.5, i+0.5] x [j-0.5, j+0.5], so
// categorical sweeps (8, 16, 32, 64 or "64KiB", "256KiB") get equal cells.
// We draw our own cells instead of using plotter.HeatMap because (a) runs of
// equal colour along a row are merged into one rectangle, so a bitwidth map
// over thousands of steps is a few hundred shapes, not a million; (b) cells
// overlap their right and upper neighbours by a hair, which hides the
// anti-aliasing seams gonum's HeatMap shows between cells; (c) missing
// values get a neutral colour instead of a panic or a blank.
type cells struct {
	nx, ny int
	// color returns the fill of cell (i, j), nil for missing.
	color func(i, j int) color.Color
	// label, when set, returns the text to print in cell (i, j).
	label func(i, j int) string
}

// Plot implements plot.Plotter.
func (g cells) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	// Half a point at most: invisible as an overlap, enough to cover the
	// partial pixel at an edge at any resolution of 72 dpi or more.
	const hair = vg.Length(0.5)
	for j := 0; j < g.ny; j++ {
		y0, y1 := trY(float64(j)-0.5), trY(float64(j)+0.5)
		if j < g.ny-1 {
			y1 += hair
		}
		for i := 0; i < g.nx; {
			col := g.color(i, j)
			k := i + 1
			for k < g.nx && sameColor(g.color(k, j), col) {
				k++
			}
			x0, x1 := trX(float64(i)-0.5), trX(float64(k)-0.5)
			if k < g.nx {
				x1 += hair
			}
			if col == nil {
				col = missingColor
			}
			c.SetColor(col)
			c.Fill(rect(x0, y0, x1, y1))
			i = k
		}
	}
	// The grid draws its own frame: gonum's vertical axis line sits a
	// fraction of a point left of the data area (it sizes the axis with the
	// label font's space but draws it with the tick font's), which shows as
	// a hairline gap beside the first column. Callers set the axis line
	// widths to zero.
	c.SetLineStyle(draw.LineStyle{Color: color.Black, Width: vg.Points(0.5)})
	c.Stroke(rect(trX(-0.5), trY(-0.5), trX(float64(g.nx)-0.5), trY(float64(g.ny)-0.5)))
	if g.label == nil {
		return
	}
	sty := textStyle(annotSize)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	for j := 0; j < g.ny; j++ {
		for i := 0; i < g.nx; i++ {
			s := g.label(i, j)
			if s == "" {
				continue
			}
			bg := g.color(i, j)
			if bg == nil {
				bg = missingColor
			}
			sty.Color = contrastText(bg)
			c.FillText(sty, vg.Point{X: trX(float64(i)), Y: trY(float64(j))}, s)
		}
	}
}

func sameColor(a, b color.Color) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

// DataRange implements plot.DataRanger.
func (g cells) DataRange() (xmin, xmax, ymin, ymax float64) {
	return -0.5, float64(g.nx) - 0.5, -0.5, float64(g.ny) - 0.5
}
