package dram

import "testing"

// TestFastKinds follows which transfers fast fidelity simulates and which it answers:
// a kind's first fastSamples transfers are simulated (fastLongSamples of a long
// transfer); a long transfer at a new offset (by whole bursts) is answered from its
// wide kind once that holds fastWideSamples offsets, a short one never is.
func TestFastKinds(t *testing.T) {
	c, err := New(lpddr4())
	if err != nil {
		t.Fatal(err)
	}
	c.SetFast(true)
	f := c.fast
	span, stripe := c.cfg.rowSpanBytes(), c.cfg.stripeBytes()
	if span != 2<<10 || stripe != 16<<10 || c.cfg.burstBytes != 64 {
		t.Fatalf("bank row %d bytes, stripe %d, burst %d: the test is written for 2 KiB, 16 KiB and 64", span, stripe, c.cfg.burstBytes)
	}
	var at uint64
	// transfer moves t and reports whether it was answered (its kind kept no new
	// sample); each starts once the one before has ended, so none is busy.
	transfer := func(tr Strided) (answered bool) {
		t.Helper()
		key := f.stridedKey(tr, 16, at)
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
		name      string
		rows      int64 // of 1 KiB, 2 KiB apart
		samples   int   // simulated at one offset
		wideFirst bool  // whether a new offset is answered once enough were sampled
	}{
		{"long", fastLongRows * 2, fastLongSamples, true},
		{"short", fastLongRows*2 - 1, fastSamples, false},
	} {
		shape := func(off uint64) Strided {
			return Strided{Addr: base + off, Rows: tc.rows, RowBytes: 1 << 10, Stride: 2 << 10}
		}
		// One offset, moved by whole stripes: one kind, sampled tc.samples times.
		for i := range tc.samples + 2 {
			tr := shape(uint64(i) * 64 * stripe)
			if got, want := transfer(tr), i >= tc.samples; got != want {
				t.Fatalf("%s: transfer %d at one offset answered %v, want %v", tc.name, i, got, want)
			}
		}
		// Further offsets, moved by whole bursts: each its own kind, of one wide kind.
		const step = 3 * 64
		for i := 1; i < fastWideSamples; i++ {
			if transfer(shape(uint64(i)*step + 64*stripe)) {
				t.Fatalf("%s: offset %d answered before its wide kind had %d offsets", tc.name, i, fastWideSamples)
			}
		}
		if got := transfer(shape(fastWideSamples*step + 64*stripe)); got != tc.wideFirst {
			t.Errorf("%s: a new offset after %d sampled answered %v, want %v", tc.name, fastWideSamples, got, tc.wideFirst)
		}
		// A new offset in another bank's row: the same wide kind.
		if got := transfer(shape(64*stripe + 3*span + 64)); got != tc.wideFirst {
			t.Errorf("%s: a new offset in another bank's row answered %v, want %v", tc.name, got, tc.wideFirst)
		}
		// An offset within a burst that no wide kind holds (its bursts differ):
		// simulated.
		if transfer(shape(64*stripe + 32)) {
			t.Errorf("%s: a new offset within a burst answered without samples", tc.name)
		}
	}
}
