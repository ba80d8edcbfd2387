package plots

import (
	"bytes"
	"image"
	_ "image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg/draw"
)

func TestSave(t *testing.T) {
	ch, err := EnergyBars(smallEnergy(), "QAT")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "figs") // created by Save
	paths, err := Save(ch, dir, "energy", []string{"png", "SVG", ".pdf", "png"}, 6, 4, 150)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "energy.png"), filepath.Join(dir, "energy.svg"), filepath.Join(dir, "energy.pdf")}
	if !slices.Equal(paths, want) {
		t.Fatalf("paths %q, want %q", paths, want)
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() == 0 {
			t.Errorf("%s is empty", p)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", p, st.Mode().Perm())
		}
	}
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if format != "png" || cfg.Width != 900 || cfg.Height != 600 {
		t.Errorf("PNG is %s %dx%d, want png 900x600 (6x4 in at 150 dpi)", format, cfg.Width, cfg.Height)
	}
	svg, _ := os.ReadFile(paths[1])
	if !bytes.HasPrefix(svg, []byte("<?xml")) {
		t.Errorf("SVG starts %q", svg[:min(20, len(svg))])
	}
	pdf, _ := os.ReadFile(paths[2])
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Errorf("PDF starts %q", pdf[:min(20, len(pdf))])
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("dir holds %d entries, want the 3 figures and no temporary file", len(entries))
	}
}

func TestSaveDefaults(t *testing.T) {
	ch, err := MemoryBars(smallFootprint())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths, err := Save(ch, dir, "mem", nil, 2, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("wrote %q, want png, svg and pdf", paths)
	}
	f, _ := os.Open(paths[0])
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != 2*DefaultDPI || cfg.Height != DefaultDPI {
		t.Errorf("PNG %dx%d, want %dx%d", cfg.Width, cfg.Height, 2*DefaultDPI, DefaultDPI)
	}
}

// TestSaveErrors checks that a bad argument fails before anything is
// written, and that an existing figure survives a failed save.
func TestSaveErrors(t *testing.T) {
	ch, err := MemoryBars(smallFootprint())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	old := filepath.Join(dir, "fig.png")
	if err := os.WriteFile(old, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		fig     Figure
		file    string
		formats []string
		w, h    float64
		dpi     int
		want    string
	}{
		{"unknown format", ch, "fig", []string{"png", "jpeg"}, 4, 3, 0, "unknown figure format"},
		{"bad name", ch, "../fig", nil, 4, 3, 0, "plain file name"},
		{"empty name", ch, "", nil, 4, 3, 0, "plain file name"},
		{"zero size", ch, "fig", nil, 0, 3, 0, "not positive"},
		{"negative dpi", ch, "fig", nil, 4, 3, -1, "negative"},
		{"nil figure", nil, "fig", nil, 4, 3, 0, "nil figure"},
		{"drawing panics", panicky{}, "fig", nil, 4, 3, 0, "drawing png failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			paths, err := Save(c.fig, dir, c.file, c.formats, c.w, c.h, c.dpi)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if len(paths) != 0 {
				t.Errorf("reported %q as written", paths)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("dir holds %d entries after a failed save, want only the old figure", len(entries))
			}
			if b, _ := os.ReadFile(old); string(b) != "old" {
				t.Errorf("existing figure changed to %d bytes", len(b))
			}
		})
	}
}

// panicky is a Figure whose drawing panics, as gonum does on bad input.
type panicky struct{}

func (panicky) Draw(draw.Canvas) { panic("boom") }

func TestRenderDeterministic(t *testing.T) {
	ch, err := BitwidthHeatmap(smallBits())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"png", "svg"} {
		a, err := Render(ch, f, 288, 216, 150)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Render(ch, f, 288, 216, 150)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s output differs between two renderings", f)
		}
	}
}

func TestToCP1252(t *testing.T) {
	for in, want := range map[string]string{
		"Energy (J)": "Energy (J)",
		"µJ":         "\xb5J",
		"2×–3":       "2\xd7\x963",
		"数":          "?",
	} {
		if got := toCP1252(in); got != want {
			t.Errorf("toCP1252(%q) = %q, want %q", in, got, want)
		}
	}
}
