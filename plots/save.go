package plots

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/rctsim/rctsim/traces/fileio"
	"golang.org/x/text/encoding/charmap"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// DefaultDPI is the resolution of PNG files when Save is given dpi 0: enough
// for a figure printed at its size, unlike gonum's 96.
const DefaultDPI = 150

// defaultFormats are the formats Save writes when it is given none.
var defaultFormats = []string{"png", "svg", "pdf"}

// Save draws f at widthInches x heightInches and writes it as dir/name.ext
// for each format ("png", "svg", "pdf"; all three when formats is empty),
// PNG at dpi dots per inch (DefaultDPI when 0). It returns the paths
// written, in the order of formats.
//
// Every format is rendered in memory before anything is written, so a bad
// argument or a drawing failure writes no file; each file is then written to
// a temporary name in dir and renamed into place, so a failure never leaves a
// half-written figure, and an existing figure is replaced whole or not at all
// (fileio.WriteBytes). dir is created if missing.
func Save(f Figure, dir, name string, formats []string, widthInches, heightInches float64, dpi int) ([]string, error) {
	return SaveAll([]Named{{f, name}}, dir, formats, widthInches, heightInches, dpi)
}

// Named is a figure and the file name, without extension, it is saved under.
type Named struct {
	Figure Figure
	Name   string
}

// SaveAll is Save for a set of figures: every figure is rendered in every
// format before any file is written, so a figure that cannot be drawn leaves
// no file of the set behind.
func SaveAll(figs []Named, dir string, formats []string, widthInches, heightInches float64, dpi int) ([]string, error) {
	for _, f := range figs {
		if f.Figure == nil {
			return nil, errors.New("plots: nothing to save (nil figure)")
		}
		if f.Name == "" || f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." {
			return nil, fmt.Errorf("plots: figure name %q must be a plain file name", f.Name)
		}
	}
	if !(widthInches > 0) || !(heightInches > 0) || math.IsInf(widthInches, 0) || math.IsInf(heightInches, 0) {
		return nil, fmt.Errorf("plots: figure size %vx%v in is not positive", widthInches, heightInches)
	}
	if dpi == 0 {
		dpi = DefaultDPI
	}
	if dpi < 0 {
		return nil, fmt.Errorf("plots: dpi %d is negative", dpi)
	}
	if len(formats) == 0 {
		formats = defaultFormats
	}
	exts, err := extensions(formats)
	if err != nil {
		return nil, err
	}

	w, h := vg.Length(widthInches)*vg.Inch, vg.Length(heightInches)*vg.Inch
	type file struct {
		path string
		data []byte
	}
	var files []file
	for _, f := range figs {
		for _, e := range exts {
			b, err := Render(f.Figure, e, w, h, dpi)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			files = append(files, file{filepath.Join(dir, f.Name+"."+e), b})
		}
	}
	var paths []string
	for _, f := range files {
		if err := fileio.WriteBytes(f.path, f.data); err != nil {
			return paths, fmt.Errorf("plots: %w", err)
		}
		paths = append(paths, f.path)
	}
	return paths, nil
}

// CheckFormats reports an error for a figure format Save cannot write, so that a
// command can refuse it before the work whose figures it would draw.
func CheckFormats(formats []string) error {
	_, err := extensions(formats)
	return err
}

// extensions normalises formats ("PNG", ".svg") to file extensions, each once.
func extensions(formats []string) ([]string, error) {
	seen := map[string]bool{}
	var exts []string
	for _, fm := range formats {
		e := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(fm)), ".")
		switch e {
		case "png", "svg", "pdf":
		default:
			return nil, fmt.Errorf("plots: unknown figure format %q (want png, svg or pdf)", fm)
		}
		if !seen[e] {
			seen[e] = true
			exts = append(exts, e)
		}
	}
	return exts, nil
}

// RenderInches is Render at a size in inches, as Save takes it (dpi 0: DefaultDPI),
// for callers that embed a figure rather than save it.
func RenderInches(f Figure, format string, widthInches, heightInches float64, dpi int) ([]byte, error) {
	if !(widthInches > 0) || !(heightInches > 0) || math.IsInf(widthInches, 0) || math.IsInf(heightInches, 0) {
		return nil, fmt.Errorf("plots: figure size %vx%v in is not positive", widthInches, heightInches)
	}
	if dpi == 0 {
		dpi = DefaultDPI
	}
	return Render(f, format, vg.Length(widthInches)*vg.Inch, vg.Length(heightInches)*vg.Inch, dpi)
}

// Render draws f in one format ("png", "svg" or "pdf") and returns the
// file's bytes. A panic inside the drawing library becomes an error: a
// figure that cannot be drawn must not take the command line down with it.
func Render(f Figure, format string, w, h vg.Length, dpi int) (out []byte, err error) {
	if !(w > 0 && h > 0) {
		return nil, fmt.Errorf("plots: figure size %vx%v is not positive", w, h)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("plots: drawing %s failed: %v", format, r)
		}
	}()
	var buf bytes.Buffer
	switch format {
	case "png":
		if dpi <= 0 {
			return nil, fmt.Errorf("plots: dpi %d is not positive", dpi)
		}
		cv := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))
		f.Draw(draw.New(cv))
		_, err = vgimg.PngCanvas{Canvas: cv}.WriteTo(&buf)
	case "svg":
		cv := vgsvg.New(w, h)
		f.Draw(draw.New(cv))
		_, err = cv.WriteTo(&buf)
	case "pdf":
		cv := vgpdf.New(w, h)
		f.Draw(draw.New(cp1252Canvas{cv}))
		_, err = cv.WriteTo(&buf)
	default:
		return nil, fmt.Errorf("plots: unknown figure format %q (want png, svg or pdf)", format)
	}
	if err != nil {
		return nil, fmt.Errorf("plots: writing %s: %w", format, err)
	}
	return buf.Bytes(), nil
}

// cp1252Canvas passes text to the PDF canvas in code page 1252. vgpdf embeds
// its fonts with that encoding but hands them UTF-8 bytes, so every
// non-ASCII character — the µ of "µJ", the × of "2×" — came out as two
// wrong glyphs ("Âµ").
type cp1252Canvas struct{ *vgpdf.Canvas }

// FillString implements vg.Canvas.
func (c cp1252Canvas) FillString(f font.Face, pt vg.Point, s string) {
	c.Canvas.FillString(f, pt, toCP1252(s))
}

// toCP1252 encodes s in code page 1252; characters it lacks become '?'.
func toCP1252(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		c, ok := charmap.Windows1252.EncodeRune(r)
		if !ok {
			c = '?'
		}
		b = append(b, c)
	}
	return string(b)
}
