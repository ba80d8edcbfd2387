package plots

import (
	"math"
	"slices"
	"testing"
)

func TestParetoFront(t *testing.T) {
	p := func(x, y float64) Point { return Point{X: x, Y: y} }
	pts := []Point{p(1, 5), p(2, 3), p(3, 4), p(4, 1), p(5, 2), p(2, 6)}
	cases := []struct {
		name       string
		pts        []Point
		minX, minY bool
		want       []Point
	}{
		{"empty", nil, true, true, nil},
		{"one", []Point{p(1, 1)}, true, true, []Point{p(1, 1)}},
		{"min min", pts, true, true, []Point{p(1, 5), p(2, 3), p(4, 1)}},
		{"min max", pts, true, false, []Point{p(1, 5), p(2, 6)}},
		{"max min", pts, false, true, []Point{p(4, 1), p(5, 2)}},
		{"max max", pts, false, false, []Point{p(2, 6), p(3, 4), p(5, 2)}},
		{"equal X keeps the better Y", []Point{p(1, 3), p(1, 2)}, true, true, []Point{p(1, 2)}},
		{"equal Y keeps the better X", []Point{p(2, 1), p(1, 1)}, true, true, []Point{p(1, 1)}},
		{"duplicates kept once", []Point{{1, 1, "first"}, {1, 1, "second"}}, true, true, []Point{{1, 1, "first"}}},
		{"NaN ignored", []Point{p(math.NaN(), 0), p(1, math.NaN()), p(2, 2)}, true, true, []Point{p(2, 2)}},
		{"infinity is a value", []Point{p(math.Inf(-1), 5), p(1, 1)}, true, true, []Point{p(math.Inf(-1), 5), p(1, 1)}},
		{"dominated chain", []Point{p(1, 1), p(2, 2), p(3, 3)}, true, true, []Point{p(1, 1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := slices.Clone(c.pts)
			got := ParetoFront(c.pts, c.minX, c.minY)
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
			if !slices.EqualFunc(in, c.pts, func(a, b Point) bool { return a == b || math.IsNaN(a.X) || math.IsNaN(a.Y) }) {
				t.Error("ParetoFront modified its input")
			}
		})
	}
}

// TestParetoFrontProperty checks the frontier against the definition on a
// grid of points with many ties.
func TestParetoFrontProperty(t *testing.T) {
	var pts []Point
	for i := 0; i < 60; i++ {
		pts = append(pts, Point{X: float64((i * 7) % 11), Y: float64((i * 5) % 13)})
	}
	for _, dir := range [][2]bool{{true, true}, {true, false}, {false, true}, {false, false}} {
		front := ParetoFront(pts, dir[0], dir[1])
		better := func(a, b float64, min bool) bool {
			if min {
				return a < b
			}
			return a > b
		}
		dominated := func(q Point) bool {
			for _, o := range pts {
				if !better(q.X, o.X, dir[0]) && !better(q.Y, o.Y, dir[1]) && (better(o.X, q.X, dir[0]) || better(o.Y, q.Y, dir[1])) {
					return true
				}
			}
			return false
		}
		for _, q := range pts {
			on := slices.Contains(front, q)
			if on == dominated(q) {
				t.Errorf("%v: point %v on front = %v, dominated = %v", dir, q, on, dominated(q))
			}
		}
		for i := 1; i < len(front); i++ {
			if front[i].X < front[i-1].X {
				t.Errorf("%v: front not in increasing X: %v", dir, front)
			}
		}
	}
}
