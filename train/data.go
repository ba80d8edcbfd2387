// Data layer of the trainer: the Dataset interface every data source implements, the
// train/test Split, and the deterministic Batcher that orders examples into batches.
//
// Randomness here never comes from math/rand's convenience methods (Perm, IntN,
// NormFloat64): their algorithms are not promised to stay fixed across Go releases,
// while the PCG generator's output is specified. Everything random is therefore derived
// from PCG's raw Uint64 stream through the small helpers below, so the same seed gives
// the same batches and the same synthetic data on every Go version and platform.

package train

import (
	"fmt"
	"math/bits"
	"math/rand/v2"

	"github.com/rctsim/rctsim/models"
)

// Dataset is a fixed set of labelled examples. Implementations in this package are
// read-only after construction, so Fill may be called from several goroutines at once.
type Dataset interface {
	// Len is the number of examples; valid indices are 0..Len()-1.
	Len() int
	// InputShape is one example's shape (C,H,W).
	InputShape() models.Shape
	// Classes is the number of label values: labels are in 0..Classes()-1.
	Classes() int
	// LabelsPerExample is 1 for classification, and T for a sequence model that
	// predicts every one of T positions.
	LabelsPerExample() int
	// Fill writes the examples idx into x (len(idx)*InputShape().Elems() float32,
	// row-major C,H,W within an example, examples one after another) and their labels
	// into labels (len(idx)*LabelsPerExample(), example-major). An index out of range
	// or a buffer too short is a programmer error and panics.
	Fill(idx []int, x []float32, labels []int32)
}

// Split is a dataset divided into the examples trained on and the held-out examples
// accuracy is reported on.
type Split struct {
	Train, Test Dataset
}

// checkFill panics with a readable message when Fill's arguments do not fit the
// dataset; the runtime's own index panic would not say which buffer was wrong.
func checkFill(d Dataset, idx []int, x []float32, labels []int32) {
	in := int(d.InputShape().Elems())
	if len(x) < len(idx)*in {
		panic(fmt.Sprintf("train: Fill: x has %d values, need %d for %d examples of %v", len(x), len(idx)*in, len(idx), d.InputShape()))
	}
	if need := len(idx) * d.LabelsPerExample(); len(labels) < need {
		panic(fmt.Sprintf("train: Fill: labels has %d values, need %d", len(labels), need))
	}
	n := d.Len()
	for _, i := range idx {
		if i < 0 || i >= n {
			panic(fmt.Sprintf("train: Fill: example index %d out of range [0,%d)", i, n))
		}
	}
}

// Batcher orders the indices 0..n-1 into batches, with a fresh seeded permutation each
// epoch. Epoch e's order is a function of (seed, e) alone, so a run resumed at epoch e,
// or one that stops early inside an epoch, sees exactly the batches an uninterrupted
// run would.
type Batcher struct {
	n, batch int
	seed     uint64
	dropLast bool
}

// NewBatcher returns a Batcher over n examples in batches of batch. With dropLast the
// final partial batch of each epoch is left out (every batch then has exactly batch
// examples, which keeps a compiled per-batch Program valid); without it the last batch
// holds the n%batch remaining examples. n < 0 or batch < 1 is a programmer error and
// panics: callers validate user-given sizes first.
func NewBatcher(n, batch int, seed uint64, dropLast bool) *Batcher {
	if n < 0 || batch < 1 {
		panic(fmt.Sprintf("train: NewBatcher(n=%d, batch=%d): need n >= 0 and batch >= 1", n, batch))
	}
	return &Batcher{n: n, batch: batch, seed: seed, dropLast: dropLast}
}

// BatchesPerEpoch is the number of batches Epoch returns.
func (b *Batcher) BatchesPerEpoch() int {
	if b.dropLast {
		return b.n / b.batch
	}
	return (b.n + b.batch - 1) / b.batch
}

// Epoch returns the batches of epoch e: a permutation of 0..n-1 cut into batches. The
// slices belong to the caller; they share one backing array, so appending to a batch
// may overwrite the next one.
func (b *Batcher) Epoch(e int) [][]int {
	perm := make([]int, b.n)
	for i := range perm {
		perm[i] = i
	}
	// The epoch number goes through splitmix64 so that neighbouring epochs start PCG
	// from unrelated states rather than states differing in one low bit.
	shuffle(rand.NewPCG(b.seed, splitmix64(uint64(e)^0x6a09e667f3bcc909)), perm)
	nb := b.BatchesPerEpoch()
	out := make([][]int, nb)
	for k := range out {
		lo := k * b.batch
		hi := min(lo+b.batch, b.n)
		out[k] = perm[lo:hi:hi]
	}
	return out
}

// shuffle is a Fisher–Yates shuffle driven by PCG's raw output.
func shuffle(src *rand.PCG, s []int) {
	for i := len(s) - 1; i > 0; i-- {
		j := uniformBelow(src, uint64(i+1))
		s[i], s[j] = s[j], s[i]
	}
}

// uniformBelow returns an unbiased integer in [0, n) by Lemire's multiply-and-reject
// method (n > 0).
func uniformBelow(src *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}

// uniform01 returns a float64 in [0, 1) from the top 53 bits of one PCG output.
func uniform01(src *rand.PCG) float64 {
	return float64(src.Uint64()>>11) * 0x1p-53
}

// splitmix64 is Steele et al.'s SplitMix64 finaliser, used to derive well-mixed
// generator seeds from small counters (epoch numbers, example indices).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
