package sweep

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

func TestParseConstraint(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Constraint
		err  string
	}{
		{"area_mm2.total<=4", Constraint{"area_mm2.total", "<=", 4}, ""},
		{"power_mw.total > 1e2", Constraint{"power_mw.total", ">", 100}, ""},
		{"seconds>=0.5", Constraint{"seconds", ">=", 0.5}, ""},
		{"area_mm2.total=4", Constraint{}, "want column<=value"},
		{"<=4", Constraint{}, "want column<=value"},
		{"area_mm2.total<=four", Constraint{}, "finite number"},
		{"area_mm2.total<=NaN", Constraint{}, "finite number"},
	} {
		got, err := ParseWhere(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%q: %+v, %v; want %+v", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: %v, want an error containing %q", c.in, err, c.err)
		}
	}
	c := Constraint{"x", "<", 2}
	if !c.Holds(1) || c.Holds(2) || (Constraint{"x", ">=", 2}).Holds(1) {
		t.Error("Holds")
	}
}

func TestConstraintSpecErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"[constraints]\nnope = \"<= 4\"\n", `constraints.nope: no numeric metric column "nope"`},
		{"[constraints]\narea_mm2 = 4\n", "want a bound as text"},
		{"[constraints]\narea_mm2 = \"about 4\"\n", "want one of"},
		{"[constraints]\ntechnology_node = \"<= 4\"\n", "no numeric metric column"},
		{"constraints = 3\n", "want a table"},
	} {
		_, err := parseString(t, c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.src, err, c.want)
		}
	}
	s := mustParse(t, "[constraints]\narea_mm2 = \"<= 4\"\npower_mw = \"<= 500\"\n")
	if !slices.Equal(s.Constraints, []Constraint{{"area_mm2.total", "<=", 4}, {"power_mw.total", "<=", 500}}) {
		t.Errorf("constraints %+v", s.Constraints)
	}
}

// TestViolatesColumn: points outside the constraints are kept, flagged, and left out of
// Pareto points; a spec without constraints has no such column.
func TestViolatesColumn(t *testing.T) {
	spec := mustParse(t, `batch = 8
[axes]
"mac_array.rows,mac_array.cols" = [[8, 8], [32, 32]]
[constraints]
"area_mm2.mac_array" = "<= 1"
`)
	var out bytes.Buffer
	if _, err := Run(context.Background(), spec, Options{Workers: 2, Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	header, rows := readRows(t, out.Bytes())
	col := slices.Index(header, ColViolates)
	if col < 0 || len(rows) != 2 {
		t.Fatalf("header %v, %d rows", header, len(rows))
	}
	if rows[0][col] != "" || rows[1][col] != "area_mm2.mac_array<=1" {
		t.Errorf("violates %q and %q", rows[0][col], rows[1][col])
	}
	pts, err := LoadPoints(bytes.NewReader(out.Bytes()), "area_mm2.total", "energy_pj.total", nil, nil)
	if err != nil || len(pts) != 1 {
		t.Errorf("Pareto points %v, %v: want only the point that meets the constraint", pts, err)
	}
	pts, err = LoadPoints(bytes.NewReader(out.Bytes()), "area_mm2.total", "energy_pj.total", nil, []Constraint{{"seconds", "<", 0}})
	if err == nil {
		t.Errorf("a constraint no row meets gave %v", pts)
	}
	if plain := mustParse(t, smallSpec); slices.Contains(plain.Columns(), ColViolates) {
		t.Error("a spec without constraints has a violates column")
	}
}

// FuzzParseWhere: a constraint ParseWhere accepts names a column and prints as text
// that ParseWhere reads back to the same constraint.
func FuzzParseWhere(f *testing.F) {
	for _, s := range []string{"area_mm2.total<=4", "seconds < 1e-3", "energy_pj.total>=0", "x>-2.5", " <= 4", "<4", "a<=", "a<=NaN", "a=<4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseWhere(s)
		if err != nil {
			return
		}
		if c.Column == "" {
			t.Fatalf("ParseWhere(%q) = %+v: no column", s, c)
		}
		back, err := ParseWhere(c.String())
		if err != nil || back != c {
			t.Fatalf("ParseWhere(%q) = %+v, printed %q, read back %+v, %v", s, c, c.String(), back, err)
		}
	})
}
