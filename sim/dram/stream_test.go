package dram

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestFitLine(t *testing.T) {
	xs := []float64{256, 300, 410, 512, 700}
	ys := make([]float64, len(xs))
	for i, x := range xs {
		ys[i] = 37 + 4.25*x
	}
	if l := fitLine(xs, ys); math.Abs(l.a-37) > 1e-9 || math.Abs(l.b-4.25) > 1e-12 {
		t.Errorf("line through y = 37 + 4.25x: %+v", l)
	}
	// Points off the line by +-1 in turn: the least-squares line of 4 points.
	l := fitLine([]float64{0, 1, 2, 3}, []float64{1, 1, 3, 3})
	if math.Abs(l.a-0.8) > 1e-12 || math.Abs(l.b-0.8) > 1e-12 {
		t.Errorf("least squares of (0,1) (1,1) (2,3) (3,3): %+v, want a = b = 0.8", l)
	}
}

// TestStreamClass feeds a class samples that lie on lines and checks what it fits and
// answers.
func TestStreamClass(t *testing.T) {
	sample := func(bursts uint64) fastSample {
		x := int64(bursts)
		return fastSample{accept: 20 + 8*bursts, end: 90 + 8*bursts, delta: Stats{
			Reads: x, ReadBytes: 64 * x, ReadBursts: x,
			Activates: 2 + x/16, Precharges: 1 + x/16, RowMisses: 1, RowConflicts: 1 + x/16,
			RowHits: x - 2 - x/16, ReadLatency: uint64(40 * x), ClosedRankCycles: 30,
		}}
	}
	var c streamClass
	// Too little spread: the class drops its oldest sample and samples on.
	for i := range fastStreamSamples + 2 {
		c.add(uint64(320+16*i), sample(uint64(320+16*i)))
		if c.fit != nil || len(c.samples) > fastStreamSamples-1 {
			t.Fatalf("fitted or kept %d samples after %d of lengths within %gx", len(c.samples), i+1, float64(fastStreamSpread))
		}
	}
	if c.answers(400) {
		t.Fatal("answers without a line")
	}
	c = streamClass{}
	lengths := []uint64{256, 1024, 300, 600, 512, 700}
	for i, n := range lengths {
		if c.fit != nil {
			t.Fatalf("fitted after %d samples", i)
		}
		c.add(n, sample(n))
	}
	if c.fit == nil {
		t.Fatalf("no line after %d samples from 256 to 1024 bursts", len(lengths))
	}
	for _, tc := range []struct {
		bursts  uint64
		answers bool
	}{{255, false}, {256, true}, {2048, true}, {2049, false}, {777, true}} {
		if got := c.answers(tc.bursts); got != tc.answers {
			t.Errorf("answers %d bursts: %v, want %v", tc.bursts, got, tc.answers)
		}
	}
	// Samples whose counters are lines (up to the integer division) give the line.
	got := c.answer(800, 64, false)
	want := sample(800)
	if got.accept != want.accept || got.end != want.end {
		t.Errorf("800 bursts: accept %d end %d, want %d %d", got.accept, got.end, want.accept, want.end)
	}
	d := got.delta
	if d.Reads != 800 || d.ReadBytes != 800*64 || d.ReadBursts != 800 || d.Writes != 0 {
		t.Errorf("800 bursts read: %+v", d)
	}
	if d.RowHits+d.RowMisses+d.RowConflicts != d.ReadBursts || d.RowMisses != 1 {
		t.Errorf("hits %d misses %d conflicts %d of %d bursts", d.RowHits, d.RowMisses, d.RowConflicts, d.ReadBursts)
	}
	if diff := d.Activates - want.delta.Activates; diff < -1 || diff > 1 || d.ReadLatency != 32000 || d.ClosedRankCycles != 30 {
		t.Errorf("800 bursts: activates %d (want %d +-1), read latency %d (32000), closed %d (30)", d.Activates, want.delta.Activates, d.ReadLatency, d.ClosedRankCycles)
	}
	// Written, the same line moves writes.
	if d := c.answer(800, 64, true).delta; d.Writes != 800 || d.WriteBursts != 800 || d.Reads != 0 || d.ReadBursts != 0 ||
		d.RowHits+d.RowMisses+d.RowConflicts != 800 {
		t.Errorf("800 bursts written: %+v", d)
	}
}

// TestStreamAnswersConsistent fits lines through samples of random counters and checks
// that every answer keeps the counters' identities: requests and bytes are the
// stream's, bursts and forwarded or merged requests add up to them, every column
// command is a hit, a miss or a conflict, and no count is negative.
func TestStreamAnswersConsistent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		write := trial%2 == 1
		var c streamClass
		for i := 0; c.fit == nil; i++ {
			n := uint64(256 + rng.IntN(4096))
			x := int64(n)
			var d Stats
			if write {
				// Half the classes merge nearly every write, so that their lines
				// reach past the stream's writes at some lengths.
				d.MergedWrites = rng.Int64N(x)
				if trial%4 == 1 {
					d.MergedWrites = x - rng.Int64N(8)
				}
				d.Writes, d.WriteBursts = x, x-d.MergedWrites
			} else {
				d.ForwardedReads, d.MergedReads = rng.Int64N(x/2), rng.Int64N(x/2)
				d.Reads, d.ReadBursts = x, x-d.ForwardedReads-d.MergedReads
			}
			cols := d.ReadBursts + d.WriteBursts
			d.RowMisses = rng.Int64N(cols/2 + 1)
			d.RowConflicts = rng.Int64N(cols - d.RowMisses + 1)
			d.RowHits = cols - d.RowMisses - d.RowConflicts
			d.Activates, d.Refreshes = d.RowMisses+d.RowConflicts, rng.Int64N(4)
			accept := uint64(rng.IntN(20000))
			c.add(n, fastSample{accept: accept, end: accept + uint64(rng.IntN(500)), delta: d})
			if i > 1000 {
				t.Fatal("no line after 1000 samples")
			}
		}
		for n := uint64(c.shortest); n <= uint64(c.reach); n += 1 + n/7 {
			s := c.answer(n, 64, write)
			d := s.delta
			cols := d.ReadBursts + d.WriteBursts
			ok := s.end >= s.accept && d.RowHits >= 0 && d.RowMisses >= 0 && d.RowConflicts >= 0 && d.RowHits+d.RowMisses+d.RowConflicts == cols
			if write {
				ok = ok && d.Writes == int64(n) && d.WriteBytes == 64*int64(n) && d.WriteBursts+d.MergedWrites == d.Writes && d.WriteBursts >= 0 &&
					d.Reads == 0 && d.ReadBursts == 0 && d.ForwardedReads == 0 && d.MergedReads == 0
			} else {
				ok = ok && d.Reads == int64(n) && d.ReadBytes == 64*int64(n) &&
					d.ReadBursts+d.ForwardedReads+d.MergedReads == d.Reads && d.ReadBursts >= 0 &&
					d.Writes == 0 && d.WriteBursts == 0 && d.MergedWrites == 0
			}
			if !ok {
				t.Fatalf("trial %d, %d bursts (write %v): inconsistent answer %+v", trial, n, write, s)
			}
		}
	}
}

// TestFastStreams follows which contiguous transfers fast fidelity answers from their
// stream class, and compares the time of those it answers with the exact model's.
func TestFastStreams(t *testing.T) {
	fast, exact := mustNew(t, lpddr4()), mustNew(t, lpddr4())
	fast.SetFast(true)
	f := fast.fast
	span := fast.cfg.rowSpanBytes()
	var at uint64
	var fastCycles, exactCycles uint64
	// transfer moves tr on both controllers and reports whether fast fidelity answered
	// it (its kind kept no sample).
	transfer := func(tr Strided) (answered bool) {
		t.Helper()
		key := f.stridedKey(tr, 16)
		read := fast.Stats().ReadBytes
		_, end, err := fast.TransferStrided(tr, 16, at)
		if err != nil {
			t.Fatal(err)
		}
		_, exactEnd, err := exact.TransferStrided(tr, 16, at)
		if err != nil {
			t.Fatal(err)
		}
		// Whole bursts of 64 bytes.
		if got, want := fast.Stats().ReadBytes-read, (int64(tr.Addr%64)+tr.Rows*tr.RowBytes+63)/64*64; !tr.Write && got != want {
			t.Fatalf("%+v: %d bytes read, want %d", tr, got, want)
		}
		answered = f.kinds[key] == nil
		if answered {
			fastCycles += end - at
			exactCycles += exactEnd - at
		}
		at = max(end, exactEnd) + 1000
		return answered
	}
	const base = 1 << 24
	// Lengths in bank rows (the shortest long, fastLongRows) and where each starts,
	// a kind of its own.
	stream := func(rows, i uint64) Strided {
		return Strided{Addr: base + i*(64<<20) + (i%5)*span, Rows: 1, RowBytes: int64(rows * span)}
	}
	lengths := []uint64{8, 16, 10, 13, 9, 12}
	for i, rows := range lengths {
		if transfer(stream(rows, uint64(i))) {
			t.Fatalf("stream %d answered before its class had %d samples", i, fastStreamSamples)
		}
	}
	i := uint64(len(lengths))
	for rows := uint64(8); rows <= 32; rows += 3 {
		if !transfer(stream(rows, i)) {
			t.Errorf("a stream of %d bank rows, within the class's reach, simulated", rows)
		}
		i++
	}
	// Its rows in one piece: the same stream.
	if !transfer(Strided{Addr: base + i*(64<<20), Rows: 11, RowBytes: int64(span), Stride: int64(span)}) {
		t.Error("a stream of 11 rows of one bank row each simulated")
	}
	if transfer(stream(fastStreamReach*16+1, i+1)) {
		t.Error("a stream past the class's reach answered")
	}
	if transfer(Strided{Addr: base + (i+2)*(64<<20), Rows: 1, RowBytes: int64(12 * span), Write: true}) {
		t.Error("a written stream answered from read ones")
	}
	if transfer(Strided{Addr: base + (i+3)*(64<<20) + 32, Rows: 1, RowBytes: int64(12 * span)}) {
		t.Error("a stream at another offset within a burst answered")
	}
	if rel := math.Abs(float64(fastCycles)/float64(exactCycles) - 1); rel > 0.01 {
		t.Errorf("answered streams took %d cycles, %d exactly (%.2f%% off)", fastCycles, exactCycles, 100*rel)
	} else {
		t.Logf("answered streams took %d cycles, %d exactly (%.3f%% off)", fastCycles, exactCycles, 100*rel)
	}
}
