package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/plots/figures"
	"github.com/rctsim/rctsim/sim/experiment"
	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// compareInto runs a small comparison (the MLP on synthetic data, a few steps) into dir
// and draws its figures into dir/figures as SVG, as rctsim compare does.
func compareInto(t testing.TB, dir string) {
	t.Helper()
	net := models.MLP()
	prof, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	o := &experiment.CompareOptions{
		TrainOptions: experiment.TrainOptions{Out: dir, Model: net.Name, Epochs: 1, Steps: 4, Batch: 8, Seed: 1, EvalEvery: 2},
		Profile:      prof, Methods: []numerics.Variant{{Method: numerics.RCT}, {Method: numerics.QAT}, {Method: numerics.FP32}}, DeviceSteps: 1,
		Sets: []string{"mac_array.rows=16"},
	}
	data := train.SyntheticSplit(1, 64, 32, net.Input, net.Classes)
	if _, err := experiment.Compare(context.Background(), net, data, "synthetic", o, experiment.Observer{}); err != nil {
		t.Fatal(err)
	}
	if _, err := figures.Folder(dir, filepath.Join(dir, "figures"), nil, []string{"svg"}); err != nil {
		t.Fatal(err)
	}
}

// writePage writes a page with write into path and parses it.
func writePage(t testing.TB, path string, write func(w *bytes.Buffer) error) (*html.Node, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("%s does not parse as HTML: %v", path, err)
	}
	return doc, buf.String()
}

// walk calls f on every element of the tree under n.
func walk(n *html.Node, f func(*html.Node)) {
	if n.Type == html.ElementNode {
		f(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return b.String()
}

func elements(doc *html.Node, name string) []*html.Node {
	var out []*html.Node
	walk(doc, func(n *html.Node) {
		if n.Data == name {
			out = append(out, n)
		}
	})
	return out
}

// checkPage checks what every page must be: self-contained (no external resource, no
// script but the inline sorter), ids unique, every link resolving to a file next to
// the page or to an id of the page, every figure an accessible inline SVG with a
// caption and a re-draw command, every table with a caption and scoped headers. It
// returns the figures' names and the tables' ids.
func checkPage(t *testing.T, doc *html.Node, page string) (figs, tables []string) {
	t.Helper()
	ids := map[string]bool{}
	walk(doc, func(n *html.Node) {
		if id := attr(n, "id"); id != "" {
			if ids[id] {
				t.Errorf("id %q is used twice", id)
			}
			ids[id] = true
		}
	})
	walk(doc, func(n *html.Node) {
		switch n.DataAtom {
		case atom.Link, atom.Iframe, atom.Object, atom.Embed, atom.Img:
			t.Errorf("<%s> in a self-contained page", n.Data)
		case atom.Script:
			if attr(n, "src") != "" {
				t.Errorf("external script %q", attr(n, "src"))
			}
		}
		for _, a := range n.Attr {
			if (a.Key == "src" || a.Key == "href" || a.Key == "xlink:href") && a.Val != "" {
				u, err := url.Parse(a.Val)
				if err != nil || u.Scheme != "" || u.Host != "" {
					t.Errorf("<%s %s=%q>: not a relative link", n.Data, a.Key, a.Val)
					continue
				}
				if u.Path == "" {
					if !ids[u.Fragment] {
						t.Errorf("link %q: no such id", a.Val)
					}
					continue
				}
				target := filepath.Join(filepath.Dir(page), filepath.FromSlash(u.Path))
				if st, err := os.Stat(target); err != nil || !st.Mode().IsRegular() {
					t.Errorf("link %q: %v", a.Val, err)
				}
			}
		}
	})
	for _, st := range elements(doc, "style") {
		if strings.Contains(text(st), "url(") || strings.Contains(text(st), "@import") {
			t.Error("the style sheet fetches something")
		}
	}
	for _, f := range elements(doc, "figure") {
		figs = append(figs, attr(f, "data-figure"))
		svgs := elements(f, "svg")
		if len(svgs) != 1 {
			t.Errorf("figure %s: %d <svg>", attr(f, "id"), len(svgs))
			continue
		}
		svg := svgs[0]
		titleID := attr(svg, "aria-labelledby")
		title := svg.FirstChild
		if attr(svg, "role") != "img" || title == nil || title.Data != "title" || attr(title, "id") != titleID || strings.TrimSpace(text(title)) == "" {
			t.Errorf("figure %s: the SVG has no accessible name", attr(f, "id"))
		}
		if !strings.Contains(attr(svg, "viewBox"), " ") {
			t.Errorf("figure %s: no viewBox to scale by", attr(f, "id"))
		}
		caps := elements(f, "figcaption")
		if len(caps) != 1 || attr(caps[0], "id") != attr(svg, "aria-describedby") || !strings.Contains(text(caps[0]), "rctsim plot -o ") {
			t.Errorf("figure %s: caption missing, not the SVG's description, or without its command", attr(f, "id"))
		}
	}
	for _, tb := range elements(doc, "table") {
		tables = append(tables, attr(tb, "id"))
		if len(elements(tb, "caption")) != 1 {
			t.Errorf("table %s has no caption", attr(tb, "id"))
		}
		for _, th := range elements(tb, "th") {
			if s := attr(th, "scope"); s != "col" && s != "row" && s != "colgroup" {
				t.Errorf("table %s: <th> %q without a scope", attr(tb, "id"), text(th))
			}
		}
		if len(elements(tb, "tbody")) != 1 || len(elements(elements(tb, "tbody")[0], "tr")) == 0 {
			t.Errorf("table %s has no rows", attr(tb, "id"))
		}
	}
	return figs, tables
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

// TestComparisonPage: the page of a comparison has every figure rctsim plot draws,
// the headline, paper, options tables, the device check and the settings, and links
// only to files that exist.
func TestComparisonPage(t *testing.T) {
	dir := t.TempDir()
	compareInto(t, dir)
	page := filepath.Join(dir, "report.html")
	doc, raw := writePage(t, page, func(w *bytes.Buffer) error { return WriteFolder(w, dir, dir) })
	figs, tables := checkPage(t, doc, page)
	drawn, err := figures.DrawFolder(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, d := range drawn {
		want = append(want, d.Name)
	}
	if !sameSet(figs, want) {
		t.Errorf("figures %v, want %v", figs, want)
	}
	if !sameSet(tables, []string{"headline", "paper", "options"}) {
		t.Errorf("tables %v", tables)
	}
	for _, id := range []string{"results", "rct-paper", "device-check", "figures", "settings", "files"} {
		if !strings.Contains(raw, `<section id="`+id+`"`) {
			t.Errorf("no section %s", id)
		}
	}
	body := text(doc)
	for _, s := range []string{"bit-exact", "45nm", "mm²", "mW leakage", runtime.Version(), "mac_array.rows=16", "ledger cells (mac, any class",
		"rctsim plot -o " + filepath.Join(dir, "figures") + " --kind energy " + dir, "rct/metrics.csv", "compare.json"} {
		if !strings.Contains(body, s) {
			t.Errorf("the page does not say %q", s)
		}
	}
	if len(elements(doc, "script")) != 0 {
		t.Error("a comparison page has a script")
	}
	// Every figure links its saved SVG.
	if n := strings.Count(raw, `href="figures/`); n != len(want) {
		t.Errorf("%d links to saved figures, want %d", n, len(want))
	}
}

// TestRunPage: a single training run's page has its training figures and options.
func TestRunPage(t *testing.T) {
	dir := t.TempDir()
	compareInto(t, dir)
	in := filepath.Join(dir, "qat")
	out := t.TempDir() // the page is written elsewhere: links are relative to it
	page := filepath.Join(out, "report.html")
	doc, _ := writePage(t, page, func(w *bytes.Buffer) error { return WriteFolder(w, in, out) })
	figs, tables := checkPage(t, doc, page)
	if !sameSet(figs, []string{"accuracy", "loss", "bitwidth_qat", "bitwidth_mean"}) {
		t.Errorf("figures %v", figs)
	}
	if !sameSet(tables, []string{"headline", "options"}) {
		t.Errorf("tables %v", tables)
	}
	if body := text(doc); !strings.Contains(body, "mlp trained with QAT") || !strings.Contains(body, "Policy.Kind") {
		t.Errorf("page text: %.500s", body)
	}
}

// TestSweepPage: a sweep's page has a heat map and a front per method, the best points,
// a sortable table of every point, the failed points and the violations.
func TestSweepPage(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "sweep.csv")
	copyFile(t, filepath.Join("testdata", "sweep.csv"), in)
	out := filepath.Join(dir, "report")
	os.Mkdir(out, 0o755)
	page := filepath.Join(out, "report.html")
	doc, _ := writePage(t, page, func(w *bytes.Buffer) error { return WriteSweep(w, in, out, SweepOptions{}) })
	figs, tables := checkPage(t, doc, page)
	want := []string{"heatmap_derived_edp_j_s", "heatmap_derived_edp_j_s", "pareto_area_mm2_total_energy_pj_total", "pareto_area_mm2_total_energy_pj_total"}
	if !sameSet(figs, want) {
		t.Errorf("figures %v, want %v", figs, want)
	}
	if !sameSet(tables, []string{"best-points", "points-table", "failed-table", "constraints-table"}) {
		t.Errorf("tables %v", tables)
	}
	rows := func(id string) int {
		for _, tb := range elements(doc, "table") {
			if attr(tb, "id") == id {
				return len(elements(elements(tb, "tbody")[0], "tr"))
			}
		}
		return -1
	}
	if rows("points-table") != 24 || rows("failed-table") != 3 || rows("constraints-table") != 1 {
		t.Errorf("points %d, failed %d, constraints %d", rows("points-table"), rows("failed-table"), rows("constraints-table"))
	}
	scripts := elements(doc, "script")
	if len(scripts) != 1 || !strings.Contains(text(scripts[0]), "sortable") {
		t.Errorf("%d scripts, want the sorter", len(scripts))
	}
	body := text(doc)
	for _, s := range []string{"24 design points (21 ran, 3 failed, 7 of those that ran violate a constraint)", "area_mm2.total<=12", "no_fit",
		"does not fit the SRAM", "--filter method=rct", "rows=16 capacity=128KiB method=rct"} {
		if !strings.Contains(body, s) {
			t.Errorf("the page does not say %q", s)
		}
	}

	// Options choose other figures; a filter keeps its rows only.
	doc, _ = writePage(t, page, func(w *bytes.Buffer) error {
		return WriteSweep(w, in, out, SweepOptions{X: "sram.global.capacity", Y: "mac_array.rows", Metric: "energy_pj.total",
			FrontX: "seconds", Filters: map[string]string{"method": "qat"}})
	})
	figs, _ = checkPage(t, doc, page)
	if !sameSet(figs, []string{"heatmap_energy_pj_total", "pareto_seconds_energy_pj_total"}) || !strings.Contains(text(doc), "12 design points") {
		t.Errorf("figures %v", figs)
	}
	if err := WriteSweep(&bytes.Buffer{}, in, out, SweepOptions{Filters: map[string]string{"nope": "1"}}); err == nil {
		t.Error("a filter on a missing column was accepted")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEscaping: every value from a file or a flag is shown as text: a run folder, a
// model and a profile named with markup, and a sweep whose file and method are.
func TestEscaping(t *testing.T) {
	const evil = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	dir := filepath.Join(t.TempDir(), `run<script>alert(1)&"'`)
	compareInto(t, dir)
	path := filepath.Join(dir, "compare.json")
	res, err := experiment.ReadResult(dir)
	if err != nil {
		t.Fatal(err)
	}
	res.Model, res.Profile, res.Settings.Profile.Name, res.Settings.HW = evil, evil, evil, evil
	res.Settings.Sets = []string{evil}
	js, _ := json.Marshal(res)
	if err := os.WriteFile(path, js, 0o644); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	doc, raw := writePage(t, page, func(w *bytes.Buffer) error { return WriteFolder(w, dir, dir) })
	checkPage(t, doc, page)
	if n := len(elements(doc, "script")); n != 0 {
		t.Errorf("%d script elements", n)
	}
	if strings.Contains(raw, "<script>alert") || strings.Contains(raw, "<img src=x") {
		t.Error("markup from compare.json reached the page unescaped")
	}
	body := text(doc)
	if !strings.Contains(body, evil+" on "+evil) || !strings.Contains(body, filepath.Base(dir)) {
		t.Errorf("the names are not shown as text: %.300s", body)
	}
	// In the figures' SVG too: their titles name the model and the profile.
	titled := 0
	for _, svg := range elements(doc, "svg") {
		if strings.Contains(text(svg), evil+" on "+evil) {
			titled++
		}
	}
	if titled == 0 {
		t.Error("no figure title shows the names as text")
	}

	csvDir := filepath.Join(t.TempDir(), `s<script>`)
	os.Mkdir(csvDir, 0o755)
	in := filepath.Join(csvDir, `sweep<b>.csv`)
	data, err := os.ReadFile(filepath.Join("testdata", "sweep.csv"))
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte(",qat,"), []byte(`,"<script>alert(""q"")</script>",`))
	data = bytes.Replace(data, []byte(",sram.global.capacity,"), []byte(",sram.<i>global</i>.capacity,"), 1)
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fileio.ReadTableFile(in); err != nil {
		t.Fatal(err)
	}
	page = filepath.Join(csvDir, "report.html")
	doc, raw = writePage(t, page, func(w *bytes.Buffer) error { return WriteSweep(w, in, csvDir, SweepOptions{}) })
	checkPage(t, doc, page)
	scripts := elements(doc, "script")
	if len(scripts) != 1 || strings.Contains(text(scripts[0]), "alert") || strings.Contains(raw, `<script>alert("q")`) {
		t.Error("a method named with a script reached the page as a script")
	}
	if len(elements(doc, "i")) != 0 {
		t.Error("a column named with markup reached the page as markup")
	}
	if body := text(doc); !strings.Contains(body, `method=<script>alert("q")</script>`) || !strings.Contains(body, "Sweep sweep<b>.csv") ||
		!strings.Contains(body, "sram.<i>global</i>.capacity") {
		t.Errorf("the names are not shown as text")
	}
}

// TestSweepCategoricalAxis: a swept key whose values are not numbers (a technology
// node) splits the heat maps rather than being one of their axes.
func TestSweepCategoricalAxis(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "sweep.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var b strings.Builder
	head := strings.SplitN(lines[0], ",", 3)
	b.WriteString(head[0] + "," + head[1] + ",technology_node," + head[2] + "\n")
	n := 0
	for _, node := range []string{"45nm", "7nm"} {
		for _, l := range lines[1:] {
			f := strings.SplitN(l, ",", 3)
			fmt.Fprintf(&b, "%d,%s%s,%s,%s\n", n, f[1], node, node, f[2])
			n++
		}
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "nodes.csv")
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	doc, _ := writePage(t, page, func(w *bytes.Buffer) error { return WriteSweep(w, in, dir, SweepOptions{}) })
	figs, _ := checkPage(t, doc, page)
	heat := 0
	for _, f := range figs {
		if strings.HasPrefix(f, "heatmap_") {
			heat++
		}
	}
	body := text(doc)
	if heat != 4 || !strings.Contains(body, "--kind heatmap --x mac_array.rows --y sram.global.capacity --metric derived.edp_j_s --filter method=qat --filter technology_node=7nm") {
		t.Errorf("%d heat maps: %v", heat, figs)
	}
}

// FuzzWriteSweep: any text given as a sweep CSV makes a page or an error, never a
// panic (a CSV merged from a cluster's shards may be cut short or edited by hand).
func FuzzWriteSweep(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "sweep.csv"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(seed))
	lines := strings.SplitAfter(string(seed), "\n")
	f.Add(strings.Join(lines[:3], ""))
	f.Add("point,hash,a,model,steps\n0,x,1,m,1\n1,y,NaN,m,\n")
	f.Add("point,hash,mac_array.rows,model,method,steps,energy_pj.total,seconds,error\n0,a,8,m,rct,1,1e308,0,\n1,b,8,m,rct,1,-1,Inf,\n")
	f.Fuzz(func(t *testing.T, csv string) {
		dir := t.TempDir()
		in := filepath.Join(dir, "sweep.csv")
		if err := os.WriteFile(in, []byte(csv), 0o644); err != nil {
			t.Fatal(err)
		}
		var page bytes.Buffer
		WriteSweep(&page, in, dir, SweepOptions{}) // an error is a fine answer; a panic is not
	})
}

// FuzzWriteFolder: a comparison folder whose compare.json and RCT run.json and
// metrics.csv hold any text makes a page or an error, never a panic.
func FuzzWriteFolder(f *testing.F) {
	seedDir := f.TempDir()
	compareInto(f, seedDir)
	edited := []string{"compare.json", filepath.Join("rct", "run.json"), filepath.Join("rct", "metrics.csv")}
	var seed [3]string
	for i, name := range edited {
		data, err := os.ReadFile(filepath.Join(seedDir, name))
		if err != nil {
			f.Fatal(err)
		}
		seed[i] = string(data)
	}
	f.Add(seed[0], seed[1], seed[2])
	f.Add(`{"methods":[{"method":"rct"}]}`, `{"flags":{"model":"mlp"},"settings":{"a":[1,{"b":null}]}}`, "step\n")
	rest, err := os.ReadDir(filepath.Join(seedDir, "rct"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, compare, run, metrics string) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "rct"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range rest {
			if !e.IsDir() {
				copyFile(t, filepath.Join(seedDir, "rct", e.Name()), filepath.Join(dir, "rct", e.Name()))
			}
		}
		for i, data := range []string{compare, run, metrics} {
			if err := os.WriteFile(filepath.Join(dir, edited[i]), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var page bytes.Buffer
		WriteFolder(&page, dir, dir) // an error is a fine answer; a panic is not
		page.Reset()
		WriteFolder(&page, filepath.Join(dir, "rct"), dir)
	})
}
