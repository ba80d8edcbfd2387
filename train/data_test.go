package train

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBatcherCoversEveryIndexOnce(t *testing.T) {
	tests := []struct {
		n, batch    int
		dropLast    bool
		wantBatches int
		wantLastLen int
	}{
		{n: 10, batch: 3, dropLast: false, wantBatches: 4, wantLastLen: 1},
		{n: 10, batch: 3, dropLast: true, wantBatches: 3, wantLastLen: 3},
		{n: 12, batch: 4, dropLast: true, wantBatches: 3, wantLastLen: 4},
		{n: 12, batch: 4, dropLast: false, wantBatches: 3, wantLastLen: 4},
		{n: 2, batch: 5, dropLast: false, wantBatches: 1, wantLastLen: 2},
		{n: 2, batch: 5, dropLast: true, wantBatches: 0},
		{n: 0, batch: 5, dropLast: false, wantBatches: 0},
		{n: 1, batch: 1, dropLast: true, wantBatches: 1, wantLastLen: 1},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("n%d_b%d_drop%v", tc.n, tc.batch, tc.dropLast), func(t *testing.T) {
			b := NewBatcher(tc.n, tc.batch, 42, tc.dropLast)
			if got := b.BatchesPerEpoch(); got != tc.wantBatches {
				t.Fatalf("BatchesPerEpoch = %d, want %d", got, tc.wantBatches)
			}
			for e := range 3 {
				batches := b.Epoch(e)
				if len(batches) != tc.wantBatches {
					t.Fatalf("epoch %d: %d batches, want %d", e, len(batches), tc.wantBatches)
				}
				seen := make([]int, tc.n)
				total := 0
				for k, bt := range batches {
					want := tc.batch
					if k == len(batches)-1 {
						want = tc.wantLastLen
					}
					if len(bt) != want {
						t.Errorf("epoch %d batch %d: len %d, want %d", e, k, len(bt), want)
					}
					for _, i := range bt {
						seen[i]++
					}
					total += len(bt)
				}
				for i, c := range seen {
					if c > 1 {
						t.Errorf("epoch %d: index %d appears %d times", e, i, c)
					}
					if c == 0 && !tc.dropLast {
						t.Errorf("epoch %d: index %d missing", e, i)
					}
				}
				if wantTotal := tc.wantBatches * tc.batch; tc.dropLast && total != wantTotal {
					t.Errorf("epoch %d: %d examples, want %d", e, total, wantTotal)
				}
			}
		})
	}
}

func TestBatcherDeterminism(t *testing.T) {
	const n, batch = 1000, 32
	a := NewBatcher(n, batch, 7, false)
	b := NewBatcher(n, batch, 7, false)
	other := NewBatcher(n, batch, 8, false)
	flat := func(bs [][]int) []int { return slices.Concat(bs...) }

	e0 := flat(a.Epoch(0))
	// Drawing other epochs first must not change epoch 0 of an identical Batcher.
	b.Epoch(5)
	b.Epoch(1)
	if got := flat(b.Epoch(0)); !slices.Equal(got, e0) {
		t.Error("same seed, same epoch: different order")
	}
	if got := flat(a.Epoch(0)); !slices.Equal(got, e0) {
		t.Error("repeated Epoch(0) call: different order")
	}
	if slices.Equal(flat(a.Epoch(1)), e0) {
		t.Error("epochs 0 and 1 have the same order")
	}
	if slices.Equal(flat(other.Epoch(0)), e0) {
		t.Error("seeds 7 and 8 give the same order")
	}
	if slices.IsSorted(e0) {
		t.Error("epoch 0 is not shuffled")
	}
}

// TestBatcherGolden pins the exact order so that a change of the shuffling algorithm,
// which would silently change every published training curve, fails loudly.
func TestBatcherGolden(t *testing.T) {
	got := NewBatcher(10, 4, 1, false).Epoch(0)
	want := [][]int{{3, 8, 6, 5}, {1, 9, 0, 2}, {4, 7}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Epoch(0) = %v, want %v", got, want)
	}
}

// TestBatcherIsUniform checks the shuffle is unbiased: over many epochs every index
// lands in every position about equally often.
func TestBatcherIsUniform(t *testing.T) {
	const n, epochs = 5, 5000
	b := NewBatcher(n, n, 99, false)
	var count [n][n]int
	for e := range epochs {
		for pos, i := range b.Epoch(e)[0] {
			count[i][pos]++
		}
	}
	// Expected 1000 per cell, standard deviation about 28: allow 6 sigma.
	for i := range n {
		for pos := range n {
			if c := count[i][pos]; c < 830 || c > 1170 {
				t.Errorf("index %d at position %d in %d of %d epochs, want about %d", i, pos, c, epochs, epochs/n)
			}
		}
	}
}

func TestBatcherPanicsOnBadSizes(t *testing.T) {
	for _, tc := range []struct{ n, batch int }{{-1, 4}, {10, 0}, {10, -3}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewBatcher(%d, %d) did not panic", tc.n, tc.batch)
				}
			}()
			NewBatcher(tc.n, tc.batch, 0, false)
		}()
	}
}

func TestUniformBelowIsInRangeAndCoversIt(t *testing.T) {
	src := rand.NewPCG(1, 2)
	for _, n := range []uint64{1, 2, 3, 7, 10, 1 << 40, 1<<63 + 1} {
		hit := map[uint64]bool{}
		for range 200 {
			v := uniformBelow(src, n)
			if v >= n {
				t.Fatalf("uniformBelow(%d) = %d", n, v)
			}
			hit[v] = true
		}
		if n <= 10 && len(hit) != int(n) {
			t.Errorf("uniformBelow(%d) hit only %d values in 200 draws", n, len(hit))
		}
	}
}

func ExampleNewBatcher() {
	b := NewBatcher(10, 4, 1, true) // drop the partial batch: every batch has 4 examples
	fmt.Println(b.BatchesPerEpoch())
	for e := range 2 {
		fmt.Println(b.Epoch(e))
	}
	// Output:
	// 2
	// [[3 8 6 5] [1 9 0 2]]
	// [[6 0 8 2] [1 4 3 5]]
}
