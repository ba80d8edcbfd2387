package dram

import (
	"math/rand/v2"
	"testing"
)

// TestAppendTail checks a strided transfer's last requests against the whole list,
// on random shapes (unaligned, gapped, overlapping rows).
func TestAppendTail(t *testing.T) {
	c := mustNew(t, lpddr4())
	r := rand.New(rand.NewPCG(3, 4))
	bb := c.cfg.burstBytes
	for i := range 500 {
		tr := randomStrided(r, bb)
		all := c.AppendRequests(nil, tr)
		n := 1 + r.IntN(len(all)+10)
		got := c.appendTail([]Request{{Addr: 1}}, &tailSource{strided: tr}, n)[1:]
		want := all[max(0, len(all)-n):]
		if len(got) != len(want) {
			t.Fatalf("case %d %+v: last %d: %d requests, want %d", i, tr, n, len(got), len(want))
		}
		for j := range got {
			if got[j] != want[j] {
				t.Fatalf("case %d %+v: last %d: request %d is %+v, want %+v", i, tr, n, j, got[j], want[j])
			}
		}
	}
}

// TestShare checks the share of a transfer's counters that some of its requests take:
// requests and bytes exact, the identities of Stats kept, all of them giving the
// counters back.
func TestShare(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 300 {
		write := i%2 == 1
		n := int64(1 + r.IntN(2000))
		var s Stats
		if write {
			s.Writes, s.WriteBytes, s.MergedWrites = n, 64*n, r.Int64N(n/4+1)
			s.WriteBursts = n - s.MergedWrites
		} else {
			s.Reads, s.ReadBytes, s.ForwardedReads = n, 64*n, r.Int64N(n/4+1)
			s.MergedReads = r.Int64N(n/4 + 1)
			s.ReadBursts = n - s.ForwardedReads - s.MergedReads
			s.ReadLatency, s.ReadLatencyFromIssue = uint64(r.IntN(1e6)), uint64(r.IntN(1e7))
		}
		b := s.ReadBursts + s.WriteBursts
		s.RowMisses = r.Int64N(b/2 + 1)
		s.RowConflicts = r.Int64N(b - s.RowMisses + 1)
		s.RowHits = b - s.RowMisses - s.RowConflicts
		s.Activates, s.Precharges, s.Refreshes = r.Int64N(n), r.Int64N(n), r.Int64N(5)
		for _, k := range []int64{1 + r.Int64N(n), n} {
			e := s.share(int(k), 64)
			if e.Reads+e.Writes != k || e.ReadBytes+e.WriteBytes != 64*k {
				t.Fatalf("case %d: %d of %d requests share %d requests, %d bytes", i, k, n, e.Reads+e.Writes, e.ReadBytes+e.WriteBytes)
			}
			if e.ReadBursts != e.Reads-e.ForwardedReads-e.MergedReads || e.WriteBursts != e.Writes-e.MergedWrites ||
				e.RowHits+e.RowMisses+e.RowConflicts != e.ReadBursts+e.WriteBursts || e.RowHits < 0 || e.ReadBursts < 0 || e.WriteBursts < 0 {
				t.Fatalf("case %d: %d of %d: identities broken: %+v", i, k, n, e)
			}
			if k == n && e != s {
				t.Fatalf("case %d: all requests share %+v, want %+v", i, e, s)
			}
		}
	}
}

// TestBacklogFit checks the slope fitted through kinds' samples about their own
// means: each kind on a line of its own intercept and a common slope gives that
// slope, updated as samples come; it is clamped to 0..1, and 0 without spread.
func TestBacklogFit(t *testing.T) {
	for _, tc := range []struct {
		slope, want float64
	}{{0.4, 0.4}, {0.7, 0.7}, {1.5, 1}, {-0.3, 0}} {
		var fit backlogFit
		kinds := make([]fastKind, 5)
		for round := range 3 {
			for k := range kinds {
				b := uint64(100*k + 37*round*round + 11*k*round)
				end := uint64(1000*(k+1)) + uint64(int64(tc.slope*float64(b)))
				kinds[k].samples = append(kinds[k].samples, fastSample{end: end, backlog: b})
				fit.addSample(&kinds[k])
			}
		}
		// Ends are whole cycles: the slope is within a cycle over the backlogs' spread.
		if got := fit.slope(); got < tc.want-0.02 || got > tc.want+0.02 {
			t.Errorf("common slope %v: fitted %v, want %v", tc.slope, got, tc.want)
		}
	}
	var fit backlogFit
	k := fastKind{samples: []fastSample{{end: 10, backlog: 5}, {end: 20, backlog: 5}}}
	fit.addSample(&k)
	if got := fit.slope(); got != 0 {
		t.Errorf("no spread in backlog: slope %v, want 0", got)
	}
	s := fastSample{accept: 50, end: 80, backlog: 100}
	if got := s.shifted(0.5, 40); got.accept != 20 || got.end != 50 {
		t.Errorf("shifted by 0.5 x (40 - 100): accept %d, end %d; want 20, 50", got.accept, got.end)
	}
	if got := s.shifted(1, 0); got.accept != 0 || got.end != 0 {
		t.Errorf("shifted before the start: accept %d, end %d; want 0, 0", got.accept, got.end)
	}
}

// TestReplayKeepsCounts runs transfers of a few shapes, each started while the one
// before still moves data, at fast fidelity: answered transfers' tails are replayed
// before the next simulated one, and the counters still count every request and byte
// once, none negative, hits, misses and conflicts summing to the bursts.
func TestReplayKeepsCounts(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	replayed := 0
	for i := range 20 {
		spec := randomSpec(r)
		c := mustNew(t, spec)
		c.SetFast(true)
		bb := c.cfg.burstBytes
		shapes := make([]Strided, 1+r.IntN(3))
		for k := range shapes {
			shapes[k] = randomStrided(r, bb)
		}
		window := []int{0, 4, 16}[r.IntN(3)]
		var at uint64
		var requests, bytes int64
		for range 60 {
			tr := shapes[r.IntN(len(shapes))]
			tr.Addr += uint64(r.IntN(8)) * bb
			accept, _, err := c.TransferStrided(tr, window, at)
			if err != nil {
				t.Fatal(err)
			}
			n := int64(len(c.AppendRequests(nil, tr)))
			requests, bytes = requests+n, bytes+n*int64(bb)
			at = accept + 1
		}
		if cap(c.fast.replay) > 0 {
			replayed++
		}
		s := c.Stats()
		if s.Reads+s.Writes != requests || s.ReadBytes+s.WriteBytes != bytes {
			t.Fatalf("case %d: %d requests, %d bytes counted; %d and %d moved", i, s.Reads+s.Writes, s.ReadBytes+s.WriteBytes, requests, bytes)
		}
		if s.RowHits < 0 || s.RowHits+s.RowMisses+s.RowConflicts != s.ReadBursts+s.WriteBursts ||
			s.ReadBursts != s.Reads-s.ForwardedReads-s.MergedReads || s.WriteBursts != s.Writes-s.MergedWrites {
			t.Fatalf("case %d: identities broken: %+v", i, s)
		}
	}
	if replayed == 0 {
		t.Fatal("no tail replayed: the test does not reach the replay")
	}
}

// TestEffortCountsEveryRequest checks Effort's identity at both fidelities: every
// request served counts once in Stepped + Skipped + Answered, the replayed ones are
// among the stepped and skipped, and exact fidelity answers none.
func TestEffortCountsEveryRequest(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 11))
	var skipped, answered, replayed int64
	for i := range 12 {
		c := mustNew(t, randomSpec(r))
		fast := i%2 == 1
		c.SetFast(fast)
		bb := c.cfg.burstBytes
		shapes := make([]Strided, 1+r.IntN(3))
		for k := range shapes {
			shapes[k] = randomStrided(r, bb)
		}
		// A stream long enough to fast-forward, as every step has some.
		shapes = append(shapes, Strided{Addr: uint64(r.IntN(64)) * bb, Rows: 1, RowBytes: int64(2048 * bb), Stride: int64(2048 * bb)})
		var at uint64
		for range 20 {
			tr := shapes[r.IntN(len(shapes))]
			tr.Addr += uint64(r.IntN(8)) * bb
			accept, _, err := c.TransferStrided(tr, 16, at)
			if err != nil {
				t.Fatal(err)
			}
			at = accept + 1
		}
		e, s := c.Effort(), c.Stats()
		if e.Requests() != s.Reads+s.Writes || e.Stepped < 0 || e.Answered < 0 ||
			e.Replayed < 0 || e.Replayed > e.Stepped+e.Skipped {
			t.Fatalf("case %d (fast %v): effort %+v for %d requests served", i, fast, e, s.Reads+s.Writes)
		}
		if !fast && e.Answered+e.Replayed != 0 {
			t.Fatalf("case %d: exact fidelity answered or replayed requests: %+v", i, e)
		}
		skipped, answered, replayed = skipped+e.Skipped, answered+e.Answered, replayed+e.Replayed
		if c.Reset(); c.Effort() != (Effort{}) {
			t.Fatalf("case %d: effort %+v after Reset", i, c.Effort())
		}
	}
	if skipped == 0 || answered == 0 || replayed == 0 {
		t.Fatalf("skipped %d, answered %d, replayed %d requests: the test must reach all three", skipped, answered, replayed)
	}
}
