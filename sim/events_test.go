package sim

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestEventQueueOrder pushes and pops events in a random interleaving and checks that
// each pop returns the earliest event queued (by time, then index), as a sorted list of
// the queued events says.
func TestEventQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q eventQueue
	var want []event // the queued events
	for step := range 20000 {
		if len(want) == 0 || rng.IntN(3) > 0 {
			// Times from a small range, so that many tie and the index decides.
			e := event{at: uint64(rng.IntN(50)), index: int32(step), done: rng.IntN(2) == 0}
			q.push(e)
			want = append(want, e)
			continue
		}
		got := q.pop()
		least := slices.Index(want, slices.MinFunc(want, compareEvents))
		if got != want[least] {
			t.Fatalf("pop %d: got %+v, want %+v", step, got, want[least])
		}
		want = slices.Delete(want, least, least+1)
		if len(q) != len(want) {
			t.Fatalf("pop %d: %d events queued, want %d", step, len(q), len(want))
		}
	}
}

func compareEvents(a, b event) int {
	switch {
	case a.before(b):
		return -1
	case b.before(a):
		return 1
	}
	return 0
}
