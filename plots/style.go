package plots

import (
	"hash/fnv"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The Okabe-Ito palette (Okabe & Ito, "Color Universal Design", 2008), which
// stays distinguishable under the common forms of colour blindness, plus a
// neutral grey.
var (
	black         = color.RGBA{0x00, 0x00, 0x00, 0xff}
	orange        = color.RGBA{0xE6, 0x9F, 0x00, 0xff}
	skyBlue       = color.RGBA{0x56, 0xB4, 0xE9, 0xff}
	bluishGreen   = color.RGBA{0x00, 0x9E, 0x73, 0xff}
	yellow        = color.RGBA{0xF0, 0xE4, 0x42, 0xff}
	blue          = color.RGBA{0x00, 0x72, 0xB2, 0xff}
	vermillion    = color.RGBA{0xD5, 0x5E, 0x00, 0xff}
	reddishPurple = color.RGBA{0xCC, 0x79, 0xA7, 0xff}
	grey          = color.RGBA{0x99, 0x99, 0x99, 0xff}

	// missingColor fills heat-map cells with no value (NaN): a light neutral
	// grey that no sequential colour scale here produces.
	missingColor = color.RGBA{0xDD, 0xDD, 0xDD, 0xff}
	// laneColor is the background of a timeline lane, so idle time reads as
	// "unit present but idle" rather than as empty paper.
	laneColor = color.RGBA{0xF2, 0xF2, 0xF2, 0xff}
)

// methodPalette is the ordered set of colours methods draw from. The indices
// of the well-known methods below are fixed so that RCT, QAT and FP32 look the
// same in every figure of every paper built with rctsim.
var methodPalette = []color.Color{
	vermillion,    // 0: rct
	blue,          // 1: qat
	black,         // 2: fp32
	bluishGreen,   // 3: niti
	orange,        // 4: fp8
	skyBlue,       // 5
	reddishPurple, // 6
	grey,          // 7
	yellow,        // 8: last, as it is faint on white
}

// knownMethods maps a method's key (see methodKey) to its palette slot.
var knownMethods = map[string]int{"rct": 0, "qat": 1, "fp32": 2, "niti": 3, "fp8": 4}

// methodGlyphs gives each palette slot its own marker shape, so that curves
// stay distinguishable in greyscale print too.
var methodGlyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{},
	draw.RingGlyph{}, draw.BoxGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}, draw.CircleGlyph{},
}

// methodKey is the part of a method name that picks its colour: the name in
// lower case up to its first character that is not a letter or digit, so that
// "RCT", "rct" and "rct-b4" share RCT's colour.
func methodKey(name string) string {
	s := strings.ToLower(strings.TrimSpace(name))
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return s[:i]
		}
	}
	return s
}

// methodSlots returns a palette slot for each name. A known method has a fixed
// slot; any other name hashes to one of the free slots, so it too keeps its
// colour from figure to figure. Two names of one figure never share a slot
// while slots remain: a later name that collides takes the next free slot.
func methodSlots(names []string) []int {
	n := len(methodPalette)
	slots := make([]int, len(names))
	used := make([]bool, n)
	preferred := func(name string) int {
		if s, ok := knownMethods[methodKey(name)]; ok {
			return s
		}
		h := fnv.New32a()
		h.Write([]byte(methodKey(name)))
		free := n - len(knownMethods)
		return len(knownMethods) + int(h.Sum32()%uint32(free))
	}
	// Known methods first, so an unknown name can never take RCT's colour
	// just because it came earlier in the list.
	assign := func(known bool) {
		for i, name := range names {
			if _, ok := knownMethods[methodKey(name)]; ok != known {
				continue
			}
			s := preferred(name)
			for k := 0; k < n && used[s]; k++ {
				s = (s + 1) % n
			}
			used[s] = true // with more names than slots, colours repeat
			slots[i] = s
		}
	}
	assign(true)
	assign(false)
	return slots
}

// MethodColors returns the colour of each method, in order. The same method
// name gets the same colour in every figure (RCT vermillion, QAT blue, FP32
// black, NITI bluish green, FP8 orange; other names a fixed colour picked by hashing the
// name), unless two names of one call would collide, in which case the later
// one takes the next free colour.
func MethodColors(names []string) []color.Color {
	slots := methodSlots(names)
	out := make([]color.Color, len(names))
	for i, s := range slots {
		out[i] = methodPalette[s]
	}
	return out
}

// seriesPalette colours parts of a stack, tensor classes and unknown phases,
// by position. It begins with the Okabe-Ito colours and continues with Paul
// Tol's "muted" scheme, which is also colour-blind safe.
var seriesPalette = []color.Color{
	blue, orange, bluishGreen, vermillion, skyBlue, reddishPurple, yellow, grey, black,
	color.RGBA{0x33, 0x22, 0x88, 0xff}, color.RGBA{0x11, 0x77, 0x33, 0xff},
	color.RGBA{0x88, 0x22, 0x55, 0xff}, color.RGBA{0x44, 0xAA, 0x99, 0xff},
	color.RGBA{0x99, 0x99, 0x33, 0xff}, color.RGBA{0xAA, 0x44, 0x99, 0xff},
}

// seriesColor is the colour of the i-th part or class; past the end of the
// palette the colours repeat, as no reader can tell 16 stacked colours apart.
func seriesColor(i int) color.Color { return seriesPalette[i%len(seriesPalette)] }

// phaseColors fixes the colours of the training-step phases rctsim's
// compiler emits, so timelines of different runs compare at a glance.
var phaseColors = map[string]color.Color{
	"forward":           blue,
	"backward_data":     orange,
	"backward_weight":   bluishGreen,
	"update":            vermillion,
	"precision_control": reddishPurple,
}

// viridisAnchors are nine evenly spaced samples of matplotlib's viridis map,
// a perceptually uniform sequential scale that is colour-blind safe and
// prints legibly in greyscale.
var viridisAnchors = []color.RGBA{
	{0x44, 0x01, 0x54, 0xff}, {0x47, 0x2D, 0x7B, 0xff}, {0x3B, 0x52, 0x8B, 0xff},
	{0x2C, 0x72, 0x8E, 0xff}, {0x21, 0x90, 0x8C, 0xff}, {0x27, 0xAD, 0x81, 0xff},
	{0x5D, 0xC8, 0x63, 0xff}, {0xAA, 0xDC, 0x32, 0xff}, {0xFD, 0xE7, 0x25, 0xff},
}

// viridis returns the colour at t in [0, 1] (clamped), interpolating linearly
// between the anchors.
func viridis(t float64) color.RGBA {
	if !(t > 0) { // also catches NaN
		return viridisAnchors[0]
	}
	if t >= 1 {
		return viridisAnchors[len(viridisAnchors)-1]
	}
	f := t * float64(len(viridisAnchors)-1)
	i := int(f)
	f -= float64(i)
	a, b := viridisAnchors[i], viridisAnchors[i+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + f*(float64(y)-float64(x)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
}

// contrastText returns black or white, whichever reads better on bg, by the
// relative luminance of bg (ITU-R BT.709 weights on sRGB values; accurate
// enough to choose between black and white).
func contrastText(bg color.Color) color.Color {
	r, g, b, _ := bg.RGBA()
	l := (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
	if l < 0.45 {
		return color.White
	}
	return color.Black
}

// Font sizes in points: small enough for a one-column paper figure, large
// enough to stay readable when such a figure is shrunk to column width.
const (
	titleSize  = 12
	labelSize  = 11
	tickSize   = 9
	legendSize = 10
	annotSize  = 8
)

// textStyle returns a plain text style of the given size in gonum's default
// (Liberation) font.
func textStyle(size vg.Length) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    font.From(plot.DefaultFont, size),
		XAlign:  draw.XLeft,
		YAlign:  draw.YBottom,
		Handler: plot.DefaultTextHandler,
	}
}

// newPlot returns a gonum plot with rctsim's font sizes and axis labels. The
// title is left empty: Chart draws it above the legend.
func newPlot(xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = labelSize
		a.Tick.Label.Font.Size = tickSize
		a.Tick.Length = vg.Points(4)
		a.Label.Padding = vg.Points(3)
		a.Tick.Marker = niceTicks{}
	}
	return p
}

// formatValue prints v with three significant digits (all integer digits
// from 1000 on), without an exponent for the magnitudes figures show after
// unit scaling (1e-3 to 1e6).
func formatValue(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	if a := math.Abs(v); a >= 1e6 || a < 1e-3 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	} else if a >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64) // keep every integer digit
	}
	// Round first, so that 0.9999 prints as 1.00, not 1.000.
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	a := math.Abs(r)
	digits := max(0, 2-int(math.Floor(math.Log10(a))))
	return strconv.FormatFloat(r, 'f', digits, 64)
}

// niceTicks is a plot.Ticker giving about five to eight labelled ticks at
// round values (1, 2 or 5 times a power of ten), every label printed with
// the same number of decimals. gonum's DefaultTicks labels as few as two
// ticks on an axis (e.g. only 0 and 25 on a 0..26 axis).
type niceTicks struct {
	// integer keeps ticks on whole numbers, for axes of training steps.
	integer bool
}

// Ticks implements plot.Ticker.
func (n niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return []plot.Tick{{Value: lo, Label: formatValue(lo)}}
	}
	raw := (hi - lo) / 8 // at most eight intervals
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	if n.integer {
		step = max(step, 1)
	}
	decimals := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	var ts []plot.Tick
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+step*1e-9; k++ {
		v := k * step
		if v == 0 {
			v = 0 // no "-0"
		}
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	return ts
}
