package sweep

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// gridCSV is a hand-written sweep output: two methods over rows x capacity, a failed
// point, a missing one and a point merged twice.
const gridCSV = `point,hash,mac_array.rows,sram.global.capacity,model,method,plan,batch,steps,energy_pj.total,seconds,error
0,0000000000000000,16,1MiB,lenet5,rct,8,8,1,10,1,
1,0000000000000001,16,1MiB,lenet5,qat,8,8,1,40,2,
2,0000000000000002,8,1MiB,lenet5,rct,8,8,1,20,3,
3,0000000000000003,8,64KiB,lenet5,rct,8,8,1,,,tile does not fit
4,0000000000000004,16,64KiB,lenet5,rct,8,8,1,30,4,
5,0000000000000005,128,64KiB,lenet5,rct,8,8,1,50,0.5,
5,0000000000000005,128,64KiB,lenet5,rct,8,8,1,70,0.5,
6,0000000000000006,8,256KiB,lenet5,qat,8,8,1,90,9,
`

func TestLoadGrid(t *testing.T) {
	g, err := LoadGrid(strings.NewReader(gridCSV), "mac_array.rows", "sram.global.capacity", "energy_pj.total", map[string]string{"method": "rct"})
	if err != nil {
		t.Fatal(err)
	}
	// Numbers and sizes sort numerically: 8 < 16 < 128, 64KiB < 1MiB.
	if !slices.Equal(g.XValues, []string{"8", "16", "128"}) || !slices.Equal(g.YValues, []string{"64KiB", "1MiB"}) {
		t.Fatalf("axes %v x %v", g.XValues, g.YValues)
	}
	nan := math.NaN()
	want := [][]float64{
		{nan, 30, 60}, // 64KiB: the failed point is missing; the twice-merged one averaged
		{20, 10, nan}, // 1MiB: 128 was not run
	}
	for y := range want {
		for x := range want[y] {
			if got := g.Values[y][x]; got != want[y][x] && !(math.IsNaN(got) && math.IsNaN(want[y][x])) {
				t.Errorf("cell %s,%s = %v, want %v", g.XValues[x], g.YValues[y], got, want[y][x])
			}
		}
	}
	if g.XName != "mac_array.rows" || g.Metric != "energy_pj.total" || !strings.Contains(g.Title, "method=rct") {
		t.Errorf("labels %q %q %q", g.XName, g.Metric, g.Title)
	}
}

func TestLoadGridErrors(t *testing.T) {
	tests := []struct {
		name, x, y, metric string
		filters            map[string]string
		err                string
	}{
		{"mixed methods", "mac_array.rows", "sram.global.capacity", "energy_pj.total", nil, "method = rct and qat"},
		{"unknown column", "mac_array.cols", "sram.global.capacity", "energy_pj.total", nil, `no column "mac_array.cols"`},
		{"unknown filter", "mac_array.rows", "sram.global.capacity", "energy_pj.total", map[string]string{"dataflow": "os"}, `no column "dataflow"`},
		{"nothing selected", "mac_array.rows", "sram.global.capacity", "energy_pj.total", map[string]string{"method": "fp32"}, "no rows match"},
	}
	for _, tt := range tests {
		_, err := LoadGrid(strings.NewReader(gridCSV), tt.x, tt.y, tt.metric, tt.filters)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: error %v, want one mentioning %q", tt.name, err, tt.err)
		}
	}
	// Averaging over the methods is allowed when asked for; a filter by size matches
	// the cell's spelling of it.
	g, err := LoadGrid(strings.NewReader(gridCSV), "mac_array.rows", "sram.global.capacity", "energy_pj.total",
		map[string]string{"method": Any, "sram.global.capacity": "1048576"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.YValues, []string{"1MiB"}) || g.Values[0][1] != 25 {
		t.Errorf("averaged grid %v %v", g.YValues, g.Values)
	}
}

func TestLoadPoints(t *testing.T) {
	pts, err := LoadPoints(strings.NewReader(gridCSV), "seconds", "energy_pj.total", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []XY{
		{X: 1, Y: 10, Label: "rows=16 capacity=1MiB method=rct"},
		{X: 2, Y: 40, Label: "rows=16 capacity=1MiB method=qat"},
		{X: 3, Y: 20, Label: "rows=8 capacity=1MiB method=rct"},
		{X: 4, Y: 30, Label: "rows=16 capacity=64KiB method=rct"},
		{X: 0.5, Y: 60, Label: "rows=128 capacity=64KiB method=rct"},
		{X: 9, Y: 90, Label: "rows=8 capacity=256KiB method=qat"},
	}
	if !slices.Equal(pts, want) {
		t.Errorf("points\n%v\nwant\n%v", pts, want)
	}
	// A swept size can be an axis; a filtered column leaves the labels.
	pts, err = LoadPoints(strings.NewReader(gridCSV), "sram.global.capacity", "energy_pj.total", map[string]string{"method": "qat"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 2 || pts[0].X != 1<<20 || pts[0].Label != "rows=16" {
		t.Errorf("points %v", pts)
	}
}

// TestLoadPointsLinked checks that the labels leave out a column that follows from
// another (the cols of a linked rows,cols axis).
func TestLoadPointsLinked(t *testing.T) {
	const in = `point,hash,mac_array.rows,mac_array.cols,method,steps,seconds,energy_pj.total,error
0,0000000000000000,8,8,rct,1,2,20,
1,0000000000000001,8,8,qat,1,3,60,
2,0000000000000002,16,16,rct,1,1,10,
`
	pts, err := LoadPoints(strings.NewReader(in), "seconds", "energy_pj.total", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, p := range pts {
		labels = append(labels, p.Label)
	}
	if want := []string{"rows=8 method=rct", "rows=8 method=qat", "rows=16 method=rct"}; !slices.Equal(labels, want) {
		t.Errorf("labels %q, want %q", labels, want)
	}
}

// FuzzLoad: LoadGrid and LoadPoints read any text as a sweep CSV without panicking, and
// what they return is consistent: a grid as wide and tall as its axes, and points of
// finite numbers.
func FuzzLoad(f *testing.F) {
	f.Add(gridCSV, "mac_array.rows", "sram.global.capacity", "energy_pj.total", "method", "rct")
	f.Add(gridCSV, "seconds", "energy_pj.total", "energy_pj.total", "model", Any)
	f.Add("a,b,c\n1,2,3\n1,2,\n", "a", "b", "c", "", "")
	f.Add("a,a,error\n1,2,\n", "a", "a", "a", "error", "")
	f.Fuzz(func(t *testing.T, csv, x, y, metric, filterCol, filterValue string) {
		filters := map[string]string{}
		if filterCol != "" {
			filters[filterCol] = filterValue
		}
		if g, err := LoadGrid(strings.NewReader(csv), x, y, metric, filters); err == nil {
			if len(g.Values) != len(g.YValues) {
				t.Fatalf("grid of %d rows for %d y values", len(g.Values), len(g.YValues))
			}
			for _, row := range g.Values {
				if len(row) != len(g.XValues) {
					t.Fatalf("grid row of %d cells for %d x values", len(row), len(g.XValues))
				}
			}
		}
		pts, err := LoadPoints(strings.NewReader(csv), x, y, filters, nil)
		if err != nil {
			return
		}
		for _, p := range pts {
			if math.IsNaN(p.X) || math.IsInf(p.X, 0) || math.IsNaN(p.Y) || math.IsInf(p.Y, 0) {
				t.Fatalf("point %+v is not finite", p)
			}
		}
	})
}
