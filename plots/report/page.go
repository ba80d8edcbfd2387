package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/plots"
	"github.com/rctsim/rctsim/plots/figures"
	"github.com/rctsim/rctsim/sim/experiment"
)

var (
	//go:embed page.html
	pageHTML string
	//go:embed style.css
	styleCSS string
	//go:embed sort.js
	sortJS string

	pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{"wbr": wbr}).Parse(pageHTML))
)

// page is what the template lays out.
type page struct {
	Kind      string // "comparison", "training run", "sweep"
	Title     string
	Lede      []string
	Sections  []*section
	Generator string
	Script    bool // a sortable table needs sort.js
	CSS       template.CSS
	JS        template.JS
}

// section is one part of the page, with its own entry in the contents.
type section struct {
	ID, Heading string
	Intro       []string
	Notes       []string
	Check       *check
	Tables      []*table
	Figures     []*figure
	Lists       []*list
	Links       []link
}

// check is the device check's outcome.
type check struct {
	Class, Badge, Text string
}

// table is a data table: a caption, optional column groups, a header row, and rows
// whose first cell heads the row.
type table struct {
	ID, Caption string
	Groups      []group
	Head        []cell
	Rows        []row
	Sortable    bool
}

type group struct {
	Label string
	Span  int
}

type row struct {
	Class string
	Cells []cell
}

// cell is a table cell: its text, and optionally a sort key, a tooltip, a colour
// swatch (a method's colour in the figures) and code formatting.
type cell struct {
	Text, Sort, Title string
	Swatch            template.CSS
	Num, Code, NoWrap bool
	// Break lets a long column name wrap after its dots and underscores.
	Break bool
}

// wbr escapes a column name and lets it wrap after each dot and underscore.
func wbr(s string) template.HTML {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(template.HTMLEscapeString(string(r)))
		if r == '.' || r == '_' {
			b.WriteString("<wbr>")
		}
	}
	return template.HTML(b.String())
}

// figure is a drawn figure inline: the SVG's opening tag (with its accessible name
// and description) and its content, so that the template can put a <title> first.
type figure struct {
	ID, Name, Title, Caption, Command string
	Number                            int
	Open, Body                        template.HTML
	Files                             []link
}

// list is a group of settings, key and value.
type list struct {
	Heading string
	Items   []item
}

type item struct {
	Key, Value string
	Code       bool
}

type link struct {
	Href template.URL
	Text string
	Note string
}

// render writes p.
func render(w io.Writer, p *page) error {
	p.CSS, p.JS = template.CSS(styleCSS), template.JS(sortJS)
	p.Generator = "rctsim (" + versions() + ")"
	for _, s := range p.Sections {
		for _, t := range s.Tables {
			p.Script = p.Script || t.Sortable
		}
	}
	return pageTemplate.Execute(w, p)
}

// versions is the build writing the page.
func versions() string { return experiment.BuildVersions().String() }

// addFigure renders d into the section as figure number n of the page.
func (s *section) addFigure(d figures.Drawn, n int, command string, files []link) error {
	svg, err := d.SVG()
	if err != nil {
		return fmt.Errorf("figure %s: %w", d.Name, err)
	}
	id := fmt.Sprintf("fig-%d", n)
	open, body, err := splitSVG(string(svg), id)
	if err != nil {
		return fmt.Errorf("figure %s: %w", d.Name, err)
	}
	s.Figures = append(s.Figures, &figure{ID: id, Name: d.Name, Number: n, Title: d.Title, Caption: d.Caption, Command: command,
		Open: open, Body: body, Files: files})
	return nil
}

// splitSVG takes a figure's SVG document apart for inlining: the XML prologue goes, the
// <svg> tag gets the accessible role, name (a <title>, which the template adds) and
// description (the caption), and the rest is the drawing. The drawing comes from
// plots.Render, which escapes every text it draws; as a second line of defence a
// drawing with a script or foreign content is refused rather than inlined.
func splitSVG(svg, id string) (open, body template.HTML, err error) {
	start := strings.Index(svg, "<svg")
	if start < 0 {
		return "", "", fmt.Errorf("no <svg> element")
	}
	svg = svg[start:]
	end := strings.IndexByte(svg, '>')
	if end < 0 {
		return "", "", fmt.Errorf("unterminated <svg> tag")
	}
	lower := strings.ToLower(svg)
	for _, bad := range []string{"<script", "<foreignobject", "javascript:"} {
		if strings.Contains(lower, bad) {
			return "", "", fmt.Errorf("refusing to inline an SVG drawing that contains %q", bad)
		}
	}
	tag := strings.TrimSuffix(svg[:end], "/")
	attrs := fmt.Sprintf(` role="img" aria-labelledby="%s-t" aria-describedby="%s-c" focusable="false">`, id, id)
	return template.HTML(tag + attrs), template.HTML(svg[end+1:]), nil
}

// linker makes links from the page's folder to files.
type linker struct {
	dir string // the folder the page is written into
}

// href is the link to path from the page: relative when it can be, else a file:// URL.
func (l linker) href(path string) template.URL {
	absPath, err1 := filepath.Abs(path)
	absDir, err2 := filepath.Abs(l.dir)
	if err1 == nil && err2 == nil {
		if rel, err := filepath.Rel(absDir, absPath); err == nil {
			// url.URL writes "./a:b" for a first segment with a colon, which would
			// otherwise read as a scheme.
			return template.URL((&url.URL{Path: filepath.ToSlash(rel)}).String())
		}
	}
	return template.URL((&url.URL{Scheme: "file", Path: filepath.ToSlash(absPath)}).String())
}

// existing returns links to those of names (relative to dir) that exist as files,
// with text the name.
func (l linker) existing(dir string, names ...string) []link {
	var out []link
	for _, n := range names {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			out = append(out, link{Href: l.href(p), Text: n})
		}
	}
	return out
}

// figureFiles links the saved files of a figure (dir/name.png, .svg, .pdf) that exist.
func (l linker) figureFiles(dir, name string) []link {
	var out []link
	for _, ext := range []string{"png", "svg", "pdf"} {
		out = append(out, l.existing(dir, name+"."+ext)...)
	}
	for i := range out {
		out[i].Text = strings.ToUpper(filepath.Ext(out[i].Text)[1:])
	}
	return out
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./:=,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// command joins a command line, quoting each argument as a shell needs it.
func command(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// methodSwatches returns the colour the figures give each method, as CSS.
func methodSwatches(names []string) []template.CSS {
	cs := plots.MethodColors(names)
	out := make([]template.CSS, len(cs))
	for i, c := range cs {
		out[i] = template.CSS(hexColor(c))
	}
	return out
}

func hexColor(c color.Color) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02X%02X%02X", r>>8, g>>8, b>>8)
}

// num is a numeric cell with a sort key.
func num(text string, v float64) cell {
	return cell{Text: text, Sort: strconv.FormatFloat(v, 'g', -1, 64), Num: true}
}

// sig prints v with three significant digits, without an exponent for the magnitudes
// tables show after unit scaling, and every integer digit from 1000 on.
func sig(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case a >= 1e9 || a != 0 && a < 1e-3:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case a >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// percent prints a fraction as a percentage with one decimal.
func percent(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }
