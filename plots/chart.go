package plots

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Figure is anything that draws itself onto a canvas: a *plot.Plot, a *Chart,
// or a caller's own composite. Save renders Figures.
type Figure interface {
	Draw(c draw.Canvas)
}

// LegendEntry is one item of a Chart's legend: a label and a small sample of
// how the item is drawn.
type LegendEntry struct {
	Label string
	Thumb plot.Thumbnailer
}

// Chart is a figure laid out as, from top to bottom: Title, Legend, Plot and
// ColorBar. The legend sits in its own rows above the data area because
// gonum draws legends inside the data area, where they cover the tallest bar
// or the end of a training curve; the colour bar gets its own strip because
// gonum has no colour scale of its own.
//
// Fields may be changed before saving (e.g. Plot.Y.Min, Title).
type Chart struct {
	// Title is drawn centred at the top. Plot.Title is left empty.
	Title string
	// Plot holds the data, axes and axis labels.
	Plot *plot.Plot
	// Legend entries are laid out left to right, wrapping into more rows
	// when the figure is too narrow for one.
	Legend []LegendEntry
	// ColorBar, when set, is drawn under Plot with its data area aligned to
	// Plot's in X, so that a reader's eye travels straight down.
	ColorBar *plot.Plot

	// fit, when set, adapts Plot to the size of its canvas before drawing:
	// it sets the category ticks and shrinks, slants or thins their labels
	// so they do not overlap. It must be idempotent: Save draws a figure
	// once per format.
	fit func(p *plot.Plot, c draw.Canvas)
}

// Layout of a Chart, in points (vg.Length's unit).
const (
	margin      vg.Length = 6  // around the whole figure, so no text touches the edge
	gap         vg.Length = 4  // between title, legend, plot and colour bar
	thumbWidth  vg.Length = 16 // legend sample
	entrySpace  vg.Length = 12 // between legend entries of one row
	barHeight   vg.Length = 10 // thickness of a colour bar
	rowSpaceFac vg.Length = 1.25
)

// Draw implements Figure.
func (ch *Chart) Draw(dc draw.Canvas) {
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	c := draw.Crop(dc, margin, -margin, margin, -margin)

	top := c.Max.Y
	if ch.Title != "" {
		sty := textStyle(titleSize)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		c.FillText(sty, vg.Point{X: c.Center().X, Y: top}, ch.Title)
		top -= sty.Height(ch.Title) + gap
	}
	if len(ch.Legend) > 0 {
		top = ch.drawLegend(c, top) - gap
	}
	c.Max.Y = top

	if ch.ColorBar == nil {
		if ch.fit != nil {
			ch.fit(ch.Plot, c)
		}
		ch.Plot.Draw(c)
		return
	}

	// The colour bar's strip is as tall as its bar plus its X axis. That
	// axis height does not depend on the canvas, so measure it on the
	// canvas we have.
	axis := c.Max.Y - c.Min.Y - height(ch.ColorBar.DataCanvas(c))
	strip := axis + barHeight
	main := c
	main.Min.Y += strip + 2*gap
	if ch.fit != nil {
		ch.fit(ch.Plot, main)
	}
	ch.Plot.Draw(main)

	bar := c
	bar.Max.Y = bar.Min.Y + strip
	// Align the bar's data area with the plot's in X: shift the bar canvas
	// by the difference between the data areas, then keep it on the page.
	want := ch.Plot.DataCanvas(main)
	got := ch.ColorBar.DataCanvas(bar)
	bar.Min.X += want.Min.X - got.Min.X
	bar.Max.X += want.Max.X - got.Max.X
	bar.Min.X = max(bar.Min.X, c.Min.X)
	bar.Max.X = min(bar.Max.X, c.Max.X)
	ch.ColorBar.Draw(bar)
}

func height(c draw.Canvas) vg.Length { return c.Max.Y - c.Min.Y }

// drawLegend lays the legend out in rows under top, each row centred, and
// returns the lowest y it used.
func (ch *Chart) drawLegend(c draw.Canvas, top vg.Length) vg.Length {
	sty := textStyle(legendSize)
	sty.YAlign = draw.YCenter
	em := sty.Width("m")
	entryW := func(e LegendEntry) vg.Length { return thumbWidth + em/2 + sty.Width(e.Label) }
	rowH := sty.Height("Mg") * rowSpaceFac
	avail := c.Max.X - c.Min.X

	// Greedy rows: as many entries as fit, at least one per row.
	var rows [][]LegendEntry
	var w vg.Length
	for _, e := range ch.Legend {
		ew := entryW(e)
		if n := len(rows); n > 0 && w+entrySpace+ew <= avail {
			rows[n-1] = append(rows[n-1], e)
			w += entrySpace + ew
			continue
		}
		rows = append(rows, []LegendEntry{e})
		w = ew
	}

	y := top
	for _, row := range rows {
		var rw vg.Length
		for i, e := range row {
			if i > 0 {
				rw += entrySpace
			}
			rw += entryW(e)
		}
		x := c.Center().X - rw/2
		mid := y - rowH/2
		th := sty.Height("M")
		for _, e := range row {
			if e.Thumb != nil {
				tc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
					Min: vg.Point{X: x, Y: mid - th/2},
					Max: vg.Point{X: x + thumbWidth, Y: mid + th/2},
				}}
				e.Thumb.Thumbnail(&tc)
			}
			c.FillText(sty, vg.Point{X: x + thumbWidth + em/2, Y: mid}, e.Label)
			x += entryW(e) + entrySpace
		}
		y -= rowH
	}
	return y
}

// swatch is a legend thumbnail: a filled rectangle with a thin outline.
type swatch struct{ color color.Color }

// Thumbnail implements plot.Thumbnailer.
func (s swatch) Thumbnail(c *draw.Canvas) {
	c.SetColor(s.color)
	c.Fill(c.Rectangle.Path())
	c.SetLineStyle(draw.LineStyle{Color: color.Gray{0x55}, Width: vg.Points(0.4)})
	c.Stroke(c.Rectangle.Path())
}

// lineThumb is a legend thumbnail: a line segment with an optional marker.
type lineThumb struct {
	line  draw.LineStyle
	glyph *draw.GlyphStyle
}

// Thumbnail implements plot.Thumbnailer.
func (l lineThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	if l.line.Width > 0 {
		c.StrokeLine2(l.line, c.Min.X, y, c.Max.X, y)
	}
	if l.glyph != nil {
		c.DrawGlyphNoClip(*l.glyph, c.Center())
	}
}

// categoryTicks returns one tick per label at 0, 1, 2, ... (index
// coordinates). With reversed, label 0 is at the top: n-1.
func categoryTicks(labels []string, reversed bool) plot.ConstantTicks {
	t := make(plot.ConstantTicks, len(labels))
	for i, l := range labels {
		v := float64(i)
		if reversed {
			v = float64(len(labels) - 1 - i)
		}
		t[i] = plot.Tick{Value: v, Label: l}
	}
	return t
}

// labelGap is the space between neighbouring category labels, as a
// fraction of the largest label's size along the axis.
const labelGap = 0.15

// fits tells whether every label of ticks fits along length without
// overlapping its neighbours.
func fits(ticks plot.ConstantTicks, size func(string) vg.Length, length vg.Length) bool {
	return labelStride(ticks, size, length) == 1
}

// labelStride is the smallest k such that labelling every k-th tick keeps
// the labels apart over length.
func labelStride(ticks plot.ConstantTicks, size func(string) vg.Length, length vg.Length) int {
	var need vg.Length
	for _, t := range ticks {
		need = max(need, size(t.Label))
	}
	need *= 1 + labelGap
	k := 1
	for k < len(ticks) && vg.Length(len(ticks))*need > length*vg.Length(k) {
		k++
	}
	return k
}

// thinTicks keeps the labels of every k-th tick (see labelStride); the other
// ticks stay as unlabelled minor ticks. It returns a new slice.
func thinTicks(all plot.ConstantTicks, size func(string) vg.Length, length vg.Length) plot.ConstantTicks {
	k := labelStride(all, size, length)
	out := make(plot.ConstantTicks, len(all))
	for i, t := range all {
		out[i] = t
		if i%k != 0 {
			out[i].Label = ""
		}
	}
	return out
}
