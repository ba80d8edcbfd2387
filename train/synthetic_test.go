package train

import (
	"slices"
	"testing"

	"github.com/rctsim/rctsim/models"
)

func fillAll(d Dataset) ([]float32, []int32) {
	n := d.Len()
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	x := make([]float32, n*int(d.InputShape().Elems()))
	lab := make([]int32, n*d.LabelsPerExample())
	d.Fill(idx, x, lab)
	return x, lab
}

func TestSyntheticDeterminism(t *testing.T) {
	shape := models.Shape{C: 1, H: 4, W: 4}
	a := Synthetic(3, 50, shape, 4)
	b := Synthetic(3, 50, shape, 4)
	c := Synthetic(4, 50, shape, 4)
	xa, la := fillAll(a)
	xb, lb := fillAll(b)
	xc, _ := fillAll(c)
	if !slices.Equal(xa, xb) || !slices.Equal(la, lb) {
		t.Error("same seed gave different data")
	}
	if slices.Equal(xa, xc) {
		t.Error("different seeds gave the same data")
	}
	if a.Len() != 50 || a.InputShape() != shape || a.Classes() != 4 || a.LabelsPerExample() != 1 {
		t.Errorf("Len %d shape %v classes %d", a.Len(), a.InputShape(), a.Classes())
	}
	// An example does not depend on which other examples are filled with it.
	x := make([]float32, 16)
	l := make([]int32, 1)
	a.Fill([]int{37}, x, l)
	if !slices.Equal(x, xa[37*16:38*16]) || l[0] != la[37] {
		t.Error("example 37 differs when filled alone")
	}
	for _, v := range xa {
		if v < 0 || v > 1 {
			t.Fatalf("value %v outside [0,1]", v)
		}
	}
	var counts [4]int
	for _, v := range la {
		counts[v]++
	}
	for k, n := range counts {
		if n == 0 {
			t.Errorf("class %d never drawn", k)
		}
	}
}

// TestSyntheticIsLearnable checks that the task can be learnt from its training set:
// a nearest-class-mean classifier fitted on the training split classifies the held-out
// split well, and the split's test examples are new examples, not copies.
func TestSyntheticIsLearnable(t *testing.T) {
	const classes = 10
	shape := models.Shape{C: 1, H: 8, W: 8}
	s := SyntheticSplit(11, 500, 200, shape, classes)
	if s.Train.Len() != 500 || s.Test.Len() != 200 {
		t.Fatalf("lens %d/%d", s.Train.Len(), s.Test.Len())
	}
	el := int(shape.Elems())
	xtr, ltr := fillAll(s.Train)
	xte, lte := fillAll(s.Test)
	// The test split continues the generator: its first example is example 500.
	x := make([]float32, el)
	l := make([]int32, 1)
	Synthetic(11, 501, shape, classes).Fill([]int{500}, x, l)
	if !slices.Equal(x, xte[:el]) || l[0] != lte[0] {
		t.Error("test example 0 is not generator example 500")
	}
	means := make([]float64, classes*el)
	counts := make([]int, classes)
	for i, c := range ltr {
		counts[c]++
		for j := range el {
			means[int(c)*el+j] += float64(xtr[i*el+j])
		}
	}
	for c := range classes {
		for j := range el {
			means[c*el+j] /= float64(max(counts[c], 1))
		}
	}
	correct := 0
	for i, want := range lte {
		best, bestD := -1, 0.0
		for c := range classes {
			d := 0.0
			for j := range el {
				e := float64(xte[i*el+j]) - means[c*el+j]
				d += e * e
			}
			if best < 0 || d < bestD {
				best, bestD = c, d
			}
		}
		if int32(best) == want {
			correct++
		}
	}
	if acc := float64(correct) / float64(len(lte)); acc < 0.9 {
		t.Errorf("nearest-mean accuracy %.2f on held-out synthetic data, want >= 0.9", acc)
	}
}

func TestSyntheticPanicsOnBadArguments(t *testing.T) {
	for _, tc := range []struct {
		n       int
		shape   models.Shape
		classes int
	}{
		{-1, models.Shape{C: 1, H: 1, W: 1}, 2},
		{5, models.Shape{C: 0, H: 1, W: 1}, 2},
		{5, models.Shape{C: 1, H: 1, W: 1}, 0},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Synthetic(n=%d, %v, %d) did not panic", tc.n, tc.shape, tc.classes)
				}
			}()
			Synthetic(1, tc.n, tc.shape, tc.classes)
		}()
	}
}

func TestFillPanicsOnProgrammerErrors(t *testing.T) {
	d := Synthetic(1, 3, models.Shape{C: 1, H: 2, W: 2}, 2)
	for name, f := range map[string]func(){
		"index":  func() { d.Fill([]int{3}, make([]float32, 4), make([]int32, 1)) },
		"x":      func() { d.Fill([]int{0, 1}, make([]float32, 7), make([]int32, 2)) },
		"labels": func() { d.Fill([]int{0, 1}, make([]float32, 8), make([]int32, 1)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
