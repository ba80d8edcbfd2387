package dram

import "testing"

// TestFastKinds follows which transfers fast fidelity simulates and which it answers:
// a kind's first fastSamples transfers are simulated (fastLongSamples of a long
// transfer); a long transfer at a new offset (by whole bursts) is answered from its
// wide kind once that holds fastWideSamples offsets, a scattered one once it holds
// fastScatteredSamples offsets whose rows cross into the next bank row as often, a
// short one never is.
func TestFastKinds(t *testing.T) {
	c := mustNew(t, lpddr4())
	c.SetFast(true)
	f := c.fast
	span, stripe := c.cfg.rowSpanBytes(), c.cfg.stripeBytes()
	if span != 2<<10 || stripe != 16<<10 || c.cfg.burstBytes != 64 {
		t.Fatalf("bank row %d bytes, stripe %d, burst %d: the test is written for 2 KiB, 16 KiB and 64", span, stripe, c.cfg.burstBytes)
	}
	var at uint64
	// transfer moves t and reports whether it was answered (its kind kept no new
	// sample); each starts once the one before has ended, so none has a backlog.
	transfer := func(tr Strided) (answered bool) {
		t.Helper()
		key := f.stridedKey(tr, 16)
		before := 0
		if k := f.kinds[key]; k != nil {
			before = len(k.samples)
		}
		read := c.Stats().ReadBytes
		_, end, err := c.TransferStrided(tr, 16, at)
		if err != nil {
			t.Fatal(err)
		}
		// Whole bursts of 64 bytes (the stride is a multiple of 64).
		bursts := (int64(tr.Addr%64) + tr.RowBytes + 63) / 64
		if got := c.Stats().ReadBytes - read; got != tr.Rows*bursts*64 {
			t.Fatalf("%+v: %d bytes read, want %d", tr, got, tr.Rows*bursts*64)
		}
		at = end + 1000
		after := 0
		if k := f.kinds[key]; k != nil {
			after = len(k.samples)
		}
		return after == before
	}
	const base = 1 << 20
	for _, tc := range []struct {
		name                  string
		rows, rowBytes        int64
		stride                int64
		samples               int  // simulated at one offset
		offsets               int  // held by its wide kind before it answers
		wideFirst             bool // whether a new offset is answered once enough were sampled
		crossAnswered         bool // whether it is when its rows cross into the next bank row
		scattered, isLongKind bool
	}{
		{"long", fastLongRows * 2, 1 << 10, 2 << 10, fastLongSamples, fastWideSamples, true, true, false, true},
		{"short", fastLongRows*2 - 1, 1 << 10, 1 << 10, fastSamples, fastWideSamples, false, false, false, false},
		// 16 rows of 3 bursts, 2 bank rows apart.
		{"scattered", 16, 192, 4 << 10, fastSamples, fastScatteredSamples, true, false, true, false},
	} {
		shape := func(off uint64) Strided {
			return Strided{Addr: base + off, Rows: tc.rows, RowBytes: tc.rowBytes, Stride: tc.stride}
		}
		key := f.stridedKey(shape(0), 16)
		if f.long(key) != tc.isLongKind || f.scattered(key) != tc.scattered {
			t.Fatalf("%s: long %v, scattered %v; want %v, %v", tc.name, f.long(key), f.scattered(key), tc.isLongKind, tc.scattered)
		}
		// One offset, moved by whole stripes: one kind, sampled tc.samples times.
		for i := range tc.samples + 2 {
			tr := shape(uint64(i) * 64 * stripe)
			if got, want := transfer(tr), i >= tc.samples; got != want {
				t.Fatalf("%s: transfer %d at one offset answered %v, want %v", tc.name, i, got, want)
			}
		}
		// Further offsets, moved by whole bursts within a bank's row (no row of any
		// shape crosses into the next): each its own kind, of one wide kind.
		const step = 64
		for i := 1; i < tc.offsets; i++ {
			if transfer(shape(uint64(i)*step + 64*stripe)) {
				t.Fatalf("%s: offset %d answered before its wide kind had %d offsets", tc.name, i, tc.offsets)
			}
		}
		if got := transfer(shape(uint64(tc.offsets)*step + 64*stripe)); got != tc.wideFirst {
			t.Errorf("%s: a new offset after %d sampled answered %v, want %v", tc.name, tc.offsets, got, tc.wideFirst)
		}
		// A new offset in another bank's row: the same wide kind.
		if got := transfer(shape(64*stripe + 3*span + 64)); got != tc.wideFirst {
			t.Errorf("%s: a new offset in another bank's row answered %v, want %v", tc.name, got, tc.wideFirst)
		}
		// Rows that cross into the next bank row: a scattered transfer's other wide
		// kind, simulated.
		if got := transfer(shape(64*stripe + span - 64)); got != tc.crossAnswered {
			t.Errorf("%s: a new offset whose rows cross into the next bank row answered %v, want %v", tc.name, got, tc.crossAnswered)
		}
		// An offset within a burst that no wide kind holds (its bursts differ):
		// simulated.
		if transfer(shape(64*stripe + 32)) {
			t.Errorf("%s: a new offset within a burst answered without samples", tc.name)
		}
	}
}

// TestCrossings compares crossings with the bank rows a scattered transfer's rows
// meet, counted burst by burst.
func TestCrossings(t *testing.T) {
	c := mustNew(t, lpddr4())
	c.SetFast(true)
	f := c.fast
	for _, tr := range []Strided{
		{Addr: 0, Rows: 16, RowBytes: 192, Stride: 4 << 10},
		{Addr: 1984, Rows: 16, RowBytes: 192, Stride: 4 << 10},
		{Addr: 1856, Rows: 16, RowBytes: 192, Stride: 4 << 10}, // ends at a bank row's end
		{Addr: 7 << 20, Rows: 32, RowBytes: 196, Stride: 75264},
		{Addr: 12840, Rows: 32, RowBytes: 196, Stride: 112896},
		{Addr: 4096 + 100, Rows: 960, RowBytes: 7, Stride: 49},
		{Addr: 1 << 30, Rows: 24, RowBytes: 448, Stride: 3136},
	} {
		want := uint64(0)
		for r := range tr.Rows {
			lo := tr.Addr + uint64(r*tr.Stride)
			if lo/f.span != (lo+uint64(tr.RowBytes)-1)/f.span {
				want++
			}
		}
		if got := f.crossings(f.stridedKey(tr, 16)); got != want {
			t.Errorf("%+v: %d rows cross into the next bank row, want %d", tr, got, want)
		}
	}
}

// TestFastBacklogPooled checks that a kind's samples answer its transfers whether
// earlier data is still moving at their start or not (the answer is shifted by the
// backlog instead, tail.go), and that each size class keeps its own slope.
func TestFastBacklogPooled(t *testing.T) {
	c := mustNew(t, lpddr4())
	c.SetFast(true)
	f := c.fast
	tile := Strided{Addr: 1 << 20, Rows: 4, RowBytes: 1 << 10, Stride: 4 << 10}
	var at uint64
	for i := range fastSamples {
		tile.Addr = 1<<20 + uint64(i)*64*f.stripe
		_, end, err := c.TransferStrided(tile, 16, at)
		if err != nil {
			t.Fatal(err)
		}
		at = end + 1000
	}
	key := f.stridedKey(tile, 16)
	if got := len(f.kinds[key].samples); got != fastSamples {
		t.Fatalf("%d samples of the tile at idle starts, want %d", got, fastSamples)
	}
	// A long transfer still moving when the tile starts.
	long := Strided{Addr: 8 << 20, Rows: 1, RowBytes: 64 << 10}
	if _, _, err := c.TransferStrided(long, 16, at); err != nil {
		t.Fatal(err)
	}
	if f.lastEnd <= at+10 {
		t.Fatalf("the long transfer ended at %d, before the tile's start %d", f.lastEnd, at+10)
	}
	tile.Addr += 64 * f.stripe
	kinds := len(f.kinds)
	if _, _, err := c.TransferStrided(tile, 16, at+10); err != nil {
		t.Fatal(err)
	}
	if got := len(f.kinds[key].samples); got != fastSamples || len(f.kinds) != kinds {
		t.Errorf("the tile behind earlier data was simulated (%d samples of its kind, %d kinds, was %d), want it answered from the idle ones", got, len(f.kinds), kinds)
	}
	if tileSize, streamSize := f.sizeClass(key), f.sizeClass(f.stridedKey(long, 16)); tileSize == streamSize {
		t.Errorf("a 4 KiB tile and a 64 KiB stream in one size class (%d)", tileSize)
	}
}

// TestSizeClass checks the size classes' bounds: a bank's row of bytes (2 KiB on
// LPDDR4) and a long transfer's.
func TestSizeClass(t *testing.T) {
	c := mustNew(t, lpddr4())
	c.SetFast(true)
	f := c.fast
	for _, tc := range []struct {
		rows, rowBytes int64
		want           int
	}{
		{1, 64, sizeShort},
		{1, 2<<10 - 64, sizeShort},
		{1, 2 << 10, sizeMedium},
		{3, 1 << 10, sizeMedium},
		{fastLongRows, 2<<10 - 64, sizeMedium},
		{fastLongRows, 2 << 10, sizeLong},
		{1, 1 << 20, sizeLong},
	} {
		key := f.stridedKey(Strided{Addr: 1 << 20, Rows: tc.rows, RowBytes: tc.rowBytes, Stride: 4 << 10}, 16)
		if got := f.sizeClass(key); got != tc.want {
			t.Errorf("%d rows of %d bytes: size class %d, want %d", tc.rows, tc.rowBytes, got, tc.want)
		}
		if f.long(key) != (tc.want == sizeLong) {
			t.Errorf("%d rows of %d bytes: long %v, size class %d", tc.rows, tc.rowBytes, f.long(key), tc.want)
		}
	}
	list := make([]Request, 40) // 40 bursts of 64 bytes: 2,560 bytes
	for i := range list {
		list[i].Addr = 1<<20 + uint64(i)*64
	}
	if got := f.sizeClass(f.key(list, 16)); got != sizeMedium {
		t.Errorf("a list of 40 bursts: size class %d, want %d", got, sizeMedium)
	}
}

// TestRefreshesDue counts refresh due times in windows against a brute-force walk of
// each rank's schedule, from next refresh times behind, inside and ahead of them.
func TestRefreshesDue(t *testing.T) {
	spec := withRefresh(lpddr4())
	spec.Ranks = 2
	c := mustNew(t, spec)
	refi := c.cfg.refi
	for _, next := range [][2]uint64{{refi / 2, refi}, {5 * refi, 3*refi + 7}, {1, 2}} {
		c.cur.ranks[0].nextRefresh, c.cur.ranks[1].nextRefresh = next[0], next[1]
		for _, w := range [][2]uint64{{0, 1}, {0, refi}, {refi / 2, refi/2 + 1}, {refi / 3, 4 * refi}, {2 * refi, 2*refi + 5}, {7, 7}, {10 * refi, 13*refi + 1}} {
			var want int64
			for _, due := range next {
				// Walk the schedule from well before the window.
				for d := due%refi + refi; d < w[1]+refi; d += refi {
					if d-refi >= w[0] && d-refi < w[1] {
						want++
					}
				}
			}
			if got := c.refreshesDue(w[0], w[1]); got != want {
				t.Errorf("next refreshes %v, window [%d, %d): %d due, want %d", next, w[0], w[1], got, want)
			}
		}
	}
}

// TestRefreshShift checks that an answer moves by tRFC, shared by the ranks, for each
// refresh due while it runs beyond its sample's, and back for each fewer.
func TestRefreshShift(t *testing.T) {
	spec := withRefresh(lpddr4())
	spec.Channels = 2
	c := mustNew(t, spec)
	refi, rfc := c.cfg.refi, c.cfg.rfc
	for i := range c.cur.ranks {
		c.cur.ranks[i].nextRefresh = 5*refi + uint64(i)
	}
	// A window of 2 tREFI holds 2 due times of each of the 2 ranks (channels).
	for _, tc := range []struct{ sampleRefreshes, moves int64 }{{3, 1}, {4, 0}, {6, -2}} {
		s := fastSample{accept: refi, end: 2 * refi, refreshes: tc.sampleRefreshes}
		c.refreshShift(&s, 3*refi+1)
		d := int64(rfc) * tc.moves / 2
		if int64(s.accept) != int64(refi)+d || int64(s.end) != int64(2*refi)+d {
			t.Errorf("sample with %d refreshes: accept %d end %d, want both moved by %d", tc.sampleRefreshes, s.accept, s.end, d)
		}
	}
}

// TestFastResetStartsAfresh runs the same transfers twice on one Controller, with a
// Reset between: the second run's figures must be the first's, though its kinds (and
// their arrays) are those the first left, which cycled through their samples.
func TestFastResetStartsAfresh(t *testing.T) {
	c := mustNew(t, lpddr4())
	c.SetFast(true)
	// Three kinds of 16 rows, each moved seven times: three samples and four answers,
	// which leave every kind one sample into its next cycle. The first transfer meets
	// closed banks, so a kind's samples differ.
	shapes := []Strided{
		{Addr: 1 << 20, Rows: 16, RowBytes: 256, Stride: 1 << 10},
		{Addr: 3 << 20, Rows: 16, RowBytes: 512, Stride: 4 << 10, Write: true},
		{Addr: 5 << 20, Rows: 16, RowBytes: 128, Stride: 2 << 10},
	}
	run := func() (Stats, []uint64) {
		c.Reset()
		var at uint64
		var ends []uint64
		for range 7 {
			for _, s := range shapes {
				_, end, err := c.TransferStrided(s, 16, at)
				if err != nil {
					t.Fatal(err)
				}
				ends = append(ends, end)
				at = end - min(end, 40) // a little backlog
			}
		}
		return c.Stats(), ends
	}
	first, firstEnds := run()
	if e := c.Effort(); e.Answered == 0 {
		t.Fatalf("effort %+v: nothing answered, the test needs answers", e)
	}
	second, secondEnds := run()
	if second != first {
		t.Errorf("after Reset: %+v\nfirst run:   %+v", second, first)
	}
	for i := range firstEnds {
		if secondEnds[i] != firstEnds[i] {
			t.Fatalf("transfer %d ends at %d after Reset, at %d the first time", i, secondEnds[i], firstEnds[i])
		}
	}
}
