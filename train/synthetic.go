// Synthetic data: a small, learnable classification task generated from a seed, for
// tests and quick experiments that must not depend on files.

package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/rctsim/rctsim/models"
)

// templateStream is the PCG stream constant for the class templates ("template" in
// ASCII); examples use streams derived from their index, so the two never coincide.
const templateStream = 0x74656d706c617465

// Synthetic returns n examples of shape shape in classes classes. Each class has a
// template drawn uniformly from [0,1) per element; an example is half its class's
// template plus half uniform noise, so inputs stay in [0,1] like MNIST pixels. The task
// is deliberately easy (a nearest-class-mean rule is nearly perfect from a few dozen
// elements per example): it checks that a trainer learns at all, quickly, not how well
// a method generalises. Labels are drawn uniformly.
//
// Everything derives from seed: the templates from (seed, constant), example i from
// (seed, i) alone, so any example can be generated in any order, Fill of the same
// indices is always identical, and no example table is stored. Use SyntheticSplit for
// a test set that shares the templates. Arguments that cannot make a dataset (n < 0,
// classes < 1, an empty shape) are programmer errors and panic.
func Synthetic(seed uint64, n int, shape models.Shape, classes int) Dataset {
	return newSynthetic(seed, 0, n, shape, classes)
}

// SyntheticSplit returns a training set of nTrain and a test set of nTest examples of
// one synthetic task (see Synthetic): the test examples are the generator's examples
// nTrain..nTrain+nTest-1, so they share the class templates but no example.
func SyntheticSplit(seed uint64, nTrain, nTest int, shape models.Shape, classes int) *Split {
	return &Split{
		Train: newSynthetic(seed, 0, nTrain, shape, classes),
		Test:  newSynthetic(seed, nTrain, nTest, shape, classes),
	}
}

func newSynthetic(seed uint64, offset, n int, shape models.Shape, classes int) *synthetic {
	if n < 0 || classes < 1 || shape.C < 1 || shape.H < 1 || shape.W < 1 {
		panic(fmt.Sprintf("train: Synthetic(n=%d, shape=%v, classes=%d): need n >= 0, classes >= 1 and a non-empty shape", n, shape, classes))
	}
	elems := int(shape.Elems())
	tmpl := make([]float32, classes*elems)
	src := rand.NewPCG(seed, templateStream)
	for i := range tmpl {
		tmpl[i] = float32(uniform01(src))
	}
	return &synthetic{seed: seed, offset: offset, n: n, shape: shape, classes: classes, templates: tmpl}
}

// synthetic is a Synthetic dataset: examples offset..offset+n-1 of the generator.
type synthetic struct {
	seed      uint64
	offset, n int
	shape     models.Shape
	classes   int
	templates []float32 // classes x elems
}

func (s *synthetic) Len() int { return s.n }

func (s *synthetic) InputShape() models.Shape { return s.shape }

func (s *synthetic) Classes() int { return s.classes }

func (s *synthetic) LabelsPerExample() int { return 1 }

func (s *synthetic) Fill(idx []int, x []float32, labels []int32) {
	checkFill(s, idx, x, labels)
	elems := int(s.shape.Elems())
	// A stack PCG reseeded per example: no allocation per example.
	var src rand.PCG
	streamSeed := splitmix64(s.seed)
	for k, i := range idx {
		src.Seed(streamSeed, splitmix64(uint64(s.offset+i)))
		c := int(uniformBelow(&src, uint64(s.classes)))
		labels[k] = int32(c)
		t := s.templates[c*elems : (c+1)*elems]
		out := x[k*elems : (k+1)*elems]
		for j := range out {
			out[j] = 0.5*t[j] + 0.5*float32(uniform01(&src))
		}
	}
}
