package dram

import (
	"hash/maphash"
)

// Fast fidelity trades exactness for speed on the transfers a training step repeats.
// A GEMM's folds load and store tiles of the same shapes again and again (more than
// 90% of the bursts of a ResNet-20 or MobileNetV2 step belong to a transfer whose
// shape, alignment and context came before), so the controller simulates the first
// fastSamples transfers of each kind (fastLongSamples of a long one) burst by burst
// and answers the later ones from those samples, in turn: their timing relative to
// the transfer's start and the counters they added. A transfer's kind is its shape (a
// strided transfer's rows, row bytes and stride; a request list's addresses relative
// to the first), the first address's offset within a row stripe, reads or writes, and
// its window; how much earlier data was still to move when it started (its backlog)
// shifts the answer instead of making a kind of its own (tail.go). A strided transfer
// (TransferStrided) of a kind already sampled is answered without listing its bursts.
//
// A long transfer (fastLongRows banks' rows of bytes or more) also counts as its wide
// kind, which keeps of the first address only its offset within a burst: moved by
// whole bursts, a transfer keeps its bursts, and meets other columns, rows and banks
// (or ranks, channels); where it crosses into the next row moves, by less than one
// row in fastLongRows. A wide kind keeps the first sample of each of its kinds, up to
// fastWideSamples; once it has them, a tile met at that many offsets, its samples
// answer a long transfer whose own kind has none yet. MobileNetV2's tiles start at so
// many offsets that sampling each took most of a fast step; a tensor moved at a few
// offsets (the transformer's) keeps its own samples, whose context (what the
// transfers before it left open) the wide kind's would not share.
//
// A scattered transfer, fewer bytes than a long one in at least fastLongRows rows that
// lie apart and reach across at least fastLongRows banks' rows (a few channels of a
// feature map, each a short row of its own), has a wide kind too: each of its rows is
// shorter than a bank's row and meets one or two of them, so moved by whole bursts it
// keeps its bursts but may cross into the next bank row in more or fewer of its rows;
// its wide kind keeps that count as well, and answers once it holds
// fastScatteredSamples offsets (see there).
//
// A long contiguous transfer, a stream, that neither its kind nor its wide kind can
// answer yet is answered from a line fitted through samples of streams of other
// lengths (stream.go).
//
// What a sample cannot know is the rest of the controller's state: which rows happen to
// be open, how much of an earlier transfer is still queued. Cycling through the
// samples averages those out; the error this leaves against the exact model is
// measured on every built-in model, shipped profile and method (sim's TestFastFidelity
// and `go test ./sim -run FidelityTable`). Where the refresh interval stands it can
// know: refreshes fall due on a fixed schedule, so an answer moves by a tRFC, shared by
// the ranks, for each refresh due while it runs beyond those due while its sample ran,
// or back for each fewer (refreshShift; a stream class's line averages them over its
// samples instead).
//
// After answering from samples, the committed schedule lacks the answered transfers;
// the next transfer simulated burst by burst starts from the drained projection at its
// own start time, with the refresh deadlines that passed moved on (their refreshes are
// in the samples' counters), behind the answered transfers' requests still to move
// then, replayed; and an answer is shifted by how much more or less of the link's work
// lay ahead of it than of its sample (tail.go).
const fastSamples = 3

// fastLongSamples is fastSamples for a long transfer (see below), whose samples vary
// less with what came before it: two took the simulated requests of a fast
// MobileNetV2 step from 14.9 to 13.1 million (rct) and from 22.0 to 18.2 million
// (qat), of a ResNet-20 qat step from 644 to 489 thousand, and left the error table
// as it was (its largest error the same, the mean over all rows 0.096% -> 0.103% in
// cycles; sim/testdata/fidelity/table.md).
const fastLongSamples = 2

// fastLongRows is how many banks' rows of bytes make a transfer long, and
// fastWideSamples how many offsets a wide kind must have met to answer (see above).
// Measured on the models and chips where fast fidelity errs most: a wide kind that
// answered after 3 samples of any offsets took the transformer's cycles on the
// default chip 0.81% off (0.28% without wide kinds), after 4 offsets 0.57%, after 5
// 0.25%, while MobileNetV2's step simulated 1.5 (rct) to 1.7 (qat) times fewer
// requests than without wide kinds. Wide kinds by the offset within a burst rather
// than within a bank's row then took a fast MobileNetV2 step from 13.1 to 7.0
// million simulated requests (rct) and from 18.2 to 7.3 million (qat) with 8
// offsets, leaving the error table (sim/testdata/fidelity/table.md) as it was: its
// largest error the same, the mean cycle error over its rows 0.103% -> 0.105%. With
// 5 offsets they simulated 6.2 and 6.1 million but took the MLP's fp32 step on the
// default chip 0.89% off at batch 16 (TestFastFidelity); by the offset within 256
// bytes with 5 offsets, 7.3 and 7.8 million, mean error 0.109%. Long transfers from
// 4 bank rows on simulated 12% fewer still but took the MLP's qat step on lnpu 2.7%
// off. Once answers were shifted by their backlog and answered transfers' tails
// replayed (tail.go), 5 offsets (and 8 for scattered transfers) kept every row of
// TestFastFidelity within 0.29% and the error table's mean cycle error at 0.060%, with
// MobileNetV2's fast step simulating 3.2 million requests (rct) and 3.7 million (qat),
// replays included, instead of 4.0 and 4.6. Once kinds pooled idle and busy starts
// and the shift's slopes were fitted per size class, 4 offsets (and 6 for scattered
// transfers) kept every row of both within 0.5% (table: mean 0.060%, largest 0.39%;
// TestFastFidelity: largest 0.36%), MobileNetV2's step simulating 2.5 and 2.6
// million; 3 offsets took LeNet-5's fp8 step 0.57% off, and 4 offsets with 5 for
// scattered transfers, or 4 and 6 with stream classes of 5 samples, VGG-11's fp8 step
// on the default chip 0.54% and 0.63%. Measured again with all of that (0f60582):
// long transfers from 4 bank rows on took LeNet-5's qat step from 41.3 to 36.2
// thousand simulated requests and MobileNetV2's rct step from 2.50 to 2.00 million,
// but three rows of the table past 0.5% (VGG-11 fp8 on the default chip 0.74%); from 6
// on, the table stayed within 0.5% (mean 0.061%), LeNet-5's qat step simulated as many
// requests as before and MobileNetV2's rct step 9% fewer, its time unchanged beyond
// the noise. Long tiles' wide kinds by the bursts the tile covers rather than the
// offset within a burst took MobileNetV2's qat step from 2.63 to 2.07 million, LeNet-5
// qat's from 41.3 to 40.5 thousand, and VGG-11's fp8 step on the default chip to
// 1.24%.
const (
	fastLongRows    = 8
	fastWideSamples = 4
)

// fastScatteredSamples is fastWideSamples for a scattered transfer. Scattered wide
// kinds took the requests a fast MobileNetV2 step simulates from 7.0 to 4.6 million
// (rct) and from 7.3 to 5.5 million (qat), most of them MobileNetV2's tiles of 32
// channels of 196 bytes each, and its step under rct from 1.65-1.83 s to 0.98-1.09 s
// (three alternated rounds); the error table's mean cycle error went from 0.105% to
// 0.113%, its largest error the same (sim/testdata/fidelity/table.md). With 8
// offsets they simulated 4.1 and 5.1 million but took the MLP's qat step on lnpu
// 0.47% off and two Eyeriss rows past 0.5%; with 12, one Eyeriss row; without the
// count of rows crossing into the next bank row, the MLP's was 0.88% off with 8.
// Wide kinds keyed by the bursts each row covers rather than the offset within a
// burst (fewer of them, long transfers' too), or a scattered one's by the bursts of
// all its rows, took the MLP's step past 0.5% (0.61-0.75% at batch 16). With the
// shift and replays of tail.go, 8 offsets do, and 6 with its slopes per size class
// (see fastWideSamples).
const fastScatteredSamples = 6

// fastMemo is the state of fast fidelity.
type fastMemo struct {
	kinds map[fastKey]*fastKind
	// wide holds the samples of long transfers by their wide kinds.
	wide map[fastKey]*fastKind
	// streams holds the stream classes (stream.go).
	streams map[streamKey]*streamClass
	// spare holds the kinds of earlier runs, which reset gives back for reuse: a
	// MobileNetV2 step makes tens of thousands.
	spare []*fastKind
	// extra sums the counters of transfers answered from samples; Stats adds it.
	extra Stats
	// lastEnd is the latest data end of any transfer, simulated or answered.
	lastEnd uint64
	// stale is set when transfers were answered since the last simulated one.
	stale bool
	// tails are the latest transfers answered since the last simulated one; replay
	// and replayStats the requests replayed before the next and their counters
	// (tail.go). backlog fits answers to their backlog, by direction and size class.
	tails       []answeredTail
	replay      []Request
	replayStats Stats
	backlog     [2][numSizeClasses]backlogFit
	// answered counts the requests of the transfers answered from samples, replayed
	// those of them replayed (see Effort).
	answered, replayed int64
	seed               maphash.Seed
	// stripe is the bytes one row index spans (the row is the address's top field):
	// a pattern shifted by whole stripes visits the same banks and columns. span is
	// the bytes of one bank's row (see config.rowSpanBytes), burst those of a burst.
	stripe, span, burst uint64
}

// fastKey is a transfer's kind: a strided transfer by its shape (rows, rowBytes,
// stride, write), a list of requests by their count and a hash of their addresses
// relative to the first (rows 0). A scattered transfer's wide kind keeps in pattern
// how many of its rows cross into the next bank row.
//
// A kind keeps the first address within its row stripe, not only within a bank's row,
// although moving a transfer by whole bank rows within the stripe only rotates the
// banks it meets (its hits and conflicts among its own bursts stay as they are).
// Keyed by the offset within a bank's row (53b2899, the error table with the exact
// figures cached, held-out DRAMs, requests of fast steps by temporary counters): for
// every kind, the table's largest error went from 0.38% to 0.52% (ResNet-20 niti on
// eyeriss_v1), while ResNet-20 qat simulated 151 thousand requests instead of 255 and
// LeNet-5 qat 47.6 thousand instead of 41.4 (its stream classes met fewer samples);
// for kinds shorter than a long transfer only, the same 0.52%, LeNet-5 as before,
// ResNet-20 qat 190 thousand; for long kinds only, the table's largest error went down
// to 0.32% (energy 0.43% -> 0.26%) but the held-out DRAMs' up (closed pages 0.61% ->
// 0.95%, two channels 0.34% -> 0.57%), LeNet-5 qat 47.6 thousand.
type fastKey struct {
	rows, rowBytes, stride int64
	n, window              int
	pattern                uint64
	write                  bool
	align                  uint64 // the first address within its row stripe
}

type fastKind struct {
	samples []fastSample
	next    int
	// sxx and sxy are the kind's part of its direction's and size class's backlogFit.
	sxx, sxy float64
}

// fastSample is one transfer simulated burst by burst: its accept and data end
// relative to its start, and what it added to the counters.
type fastSample struct {
	accept, end uint64
	delta       Stats
	backlog     uint64 // cycles until earlier data ended, at its start (tail.go)
	// refreshes fell due from its start to its data end, over all ranks (its counters
	// may hold more: the idle refreshes since the last simulated transfer).
	refreshes int64
}

// SetFast turns fast fidelity on or off (see fastSamples); it resets the Controller.
// Samples are kept until the next Reset, so that a run's figures never depend on
// what ran before it on the same Controller.
func (c *Controller) SetFast(on bool) {
	c.fast = nil
	if on {
		c.fast = &fastMemo{seed: maphash.MakeSeed(), stripe: c.cfg.stripeBytes(), span: c.cfg.rowSpanBytes(), burst: c.cfg.burstBytes,
			kinds: map[fastKey]*fastKind{}, wide: map[fastKey]*fastKind{}, streams: map[streamKey]*streamClass{}}
	}
	c.Reset()
}

// reset forgets every sample and answered transfer.
func (f *fastMemo) reset() {
	// Cleared maps keep their room: the next run of a Machine (a sweep's other method
	// on the same chip) meets as many kinds again.
	for _, k := range f.kinds {
		f.spare = append(f.spare, k)
	}
	for _, k := range f.wide {
		f.spare = append(f.spare, k)
	}
	clear(f.kinds)
	clear(f.wide)
	clear(f.streams)
	f.extra, f.lastEnd, f.stale = Stats{}, 0, false
	f.tails, f.replay, f.replayStats, f.backlog = f.tails[:0], f.replay[:0], Stats{}, [2][numSizeClasses]backlogFit{}
	f.answered, f.replayed = 0, 0
}

// newKind returns a kind without samples and with room for n, a spare one if any.
func (f *fastMemo) newKind(n int) *fastKind {
	last := len(f.spare) - 1
	if last < 0 {
		return &fastKind{samples: make([]fastSample, 0, n)}
	}
	k := f.spare[last]
	f.spare = f.spare[:last]
	samples := k.samples[:0]
	if cap(samples) < n {
		samples = make([]fastSample, 0, n)
	}
	*k = fastKind{samples: samples}
	return k
}

// stripeBytes is the address span of one row index: every address bit below the row,
// which the model's rules make the top field.
func (c *config) stripeBytes() uint64 { return 1 << c.dec.shift[fieldRow] }

// rowSpanBytes is the address span of one bank's row: the column field and every
// address bit below it.
func (c *config) rowSpanBytes() uint64 {
	return (c.dec.mask[fieldColumn] + 1) << c.dec.shift[fieldColumn]
}

func (f *fastMemo) key(reqs []Request, window int) fastKey {
	var h maphash.Hash
	h.SetSeed(f.seed)
	first := reqs[0].Addr
	var buf [9]byte
	for i := range reqs {
		d := reqs[i].Addr - first
		for b := range 8 {
			buf[b] = byte(d >> (8 * b))
		}
		buf[8] = 0
		if reqs[i].Write {
			buf[8] = 1
		}
		h.Write(buf[:])
	}
	return fastKey{n: len(reqs), window: window, pattern: h.Sum64(), align: first % f.stripe}
}

// stridedKey is the kind of a strided transfer, found without listing its bursts.
func (f *fastMemo) stridedKey(t Strided, window int) fastKey {
	return fastKey{rows: t.Rows, rowBytes: t.RowBytes, stride: t.Stride, write: t.Write, window: window,
		align: t.Addr % f.stripe}
}

// fastTransfer is Transfer under fast fidelity.
func (c *Controller) fastTransfer(reqs []Request, window int, at uint64) (lastAccept, lastDataEnd uint64, err error) {
	f := c.fast
	for i := range reqs {
		if reqs[i].Issue != 0 {
			// Requests with their own issue times are a trace, not a tile: exact.
			return c.exactTransfer(reqs, window, at)
		}
	}
	return c.fastAnswer(f.key(reqs, window), func() []Request { return reqs }, tailSource{reqs: reqs}, window, at)
}

// fastAnswer answers a transfer of kind key from its samples, or simulates it burst by
// burst (list gives its requests) and keeps it as a sample; tail lists its last
// requests for replay (tail.go).
func (c *Controller) fastAnswer(key fastKey, list func() []Request, tail tailSource, window int, at uint64) (lastAccept, lastDataEnd uint64, err error) {
	f := c.fast
	backlog := f.lastEnd - min(f.lastEnd, at)
	fit := &f.backlog[b2u(key.write)][f.sizeClass(key)]
	kind := f.kinds[key]
	samples := fastSamples
	if f.long(key) {
		samples = fastLongSamples
	}
	from := kind
	var wide *fastKind // the wide kind, when the transfer has one and its kind lacks samples
	wideNeeds := 0     // and how many offsets it needs to answer
	if kind == nil || len(kind.samples) < samples {
		from = nil
		var wideKey fastKey
		if wideKey, wideNeeds = f.wideKind(key); wideNeeds > 0 {
			if wide = f.wide[wideKey]; wide == nil {
				wide = f.newKind(wideNeeds)
				f.wide[wideKey] = wide
			}
			if len(wide.samples) == wideNeeds {
				from = wide
			}
		}
	}
	var stream *streamClass // the stream class, when the transfer is a stream that lacks samples
	var bursts uint64       // and its bursts
	if from == nil && f.streaming(key) {
		var sk streamKey
		sk, bursts = f.streamKeyOf(key)
		stream = entry(f.streams, sk)
		if stream.answers(bursts) {
			s := stream.answer(bursts, f.burst, key.write)
			return f.answer(&s, at, tail)
		}
	}
	if from != nil {
		s := from.samples[from.next].shifted(fit.slope(), backlog)
		from.next = (from.next + 1) % len(from.samples)
		c.refreshShift(&s, at)
		return f.answer(&s, at, tail)
	}
	reqs := list()
	replayed := false
	if f.stale {
		c.resume(at)
		f.stale = false
		c.replayTails(window, at)
		f.replayed += int64(len(f.replay))
		if replayed = len(f.replay) > 0; replayed {
			reqs = append(f.replay, reqs...)
			f.replay = reqs[:0] // reused once this Transfer is done
		}
	}
	before := c.Stats()
	lastAccept, lastDataEnd, err = c.exactTransfer(reqs, window, at)
	if err != nil {
		return 0, 0, err
	}
	after := c.Stats()
	delta := after.sub(&before)
	if replayed {
		// The replayed requests' counters are the answered transfers' already.
		f.extra.takeOff(&f.replayStats)
		delta.takeOff(&f.replayStats)
	}
	if kind == nil {
		// Sized for the samples it keeps: a kind grows only until it answers.
		kind = f.newKind(samples)
		f.kinds[key] = kind
	}
	sample := fastSample{accept: lastAccept - at, end: lastDataEnd - at, delta: delta, backlog: backlog,
		refreshes: c.refreshesDue(at, lastDataEnd)}
	kind.samples = append(kind.samples, sample)
	fit.addSample(kind)
	if wide != nil && len(kind.samples) == 1 && len(wide.samples) < wideNeeds {
		wide.samples = append(wide.samples, sample)
	}
	if stream != nil {
		stream.add(bursts, sample)
	}
	f.lastEnd = max(f.lastEnd, lastDataEnd)
	return lastAccept, lastDataEnd, nil
}

// entry returns m's value for k, a new zero one put there if it had none.
func entry[K comparable, V any](m map[K]*V, k K) *V {
	v := m[k]
	if v == nil {
		v = new(V)
		m[k] = v
	}
	return v
}

// answer answers a transfer starting at cycle at with sample s, keeping it for replay
// (tail lists its last requests).
func (f *fastMemo) answer(s *fastSample, at uint64, tail tailSource) (lastAccept, lastDataEnd uint64, err error) {
	f.keepTail(tail, at, s)
	f.extra.add(&s.delta)
	f.answered += s.delta.Reads + s.delta.Writes
	f.extra.LastDataEnd = max(f.extra.LastDataEnd, at+s.end)
	f.lastEnd = max(f.lastEnd, at+s.end)
	f.stale = true
	return at + s.accept, at + s.end, nil
}

// long reports whether a transfer of kind key is long: fastLongRows banks' rows of
// bytes or more (a strided transfer's rows, or a list's bursts; the other term is 0).
func (f *fastMemo) long(key fastKey) bool { return f.sizeClass(key) == sizeLong }

// wideKind returns the wide kind of a transfer of kind key and how many offsets it
// must hold to answer; 0 if the transfer has none (see fastLongRows and
// fastScatteredSamples).
func (f *fastMemo) wideKind(key fastKey) (fastKey, int) {
	wide := key
	wide.align %= f.burst
	switch {
	case f.long(key):
		return wide, fastWideSamples
	case f.scattered(key):
		wide.pattern = f.crossings(key)
		return wide, fastScatteredSamples
	}
	return fastKey{}, 0
}

// scattered reports whether a strided transfer of kind key is scattered: not long, in
// at least fastLongRows rows going up in memory, reaching across at least fastLongRows
// banks' rows (so its rows lie apart: rows that touch or overlap reach no further than
// their bytes). Its rows are shorter than a bank's row: together they hold fewer bytes
// than fastLongRows bank rows.
func (f *fastMemo) scattered(key fastKey) bool {
	return key.n == 0 && !f.long(key) && key.rows >= fastLongRows && key.stride > 0 &&
		uint64((key.rows-1)*key.stride+key.rowBytes) >= fastLongRows*f.span
}

// crossings counts the rows of a scattered transfer of kind key that cross into the
// next bank row: where its rows start within a bank's row follows from the first
// address's place in its stripe, a whole number of bank rows.
func (f *fastMemo) crossings(key fastKey) uint64 {
	n := uint64(0)
	for i := range uint64(key.rows) {
		if (key.align+i*uint64(key.stride))&(f.span-1)+uint64(key.rowBytes) > f.span {
			n++
		}
	}
	return n
}

// resume restarts burst-by-burst simulation at cycle at after answered transfers: from
// the drained projection (every request submitted so far served), no earlier than at,
// with the refresh deadlines that passed meanwhile moved to their next interval.
func (c *Controller) resume(at uint64) {
	if c.projValid {
		c.cur, c.proj = c.proj, c.cur
		c.projValid = false
	}
	s := c.cur
	s.now = max(s.now, at)
	for r := range s.ranks {
		rk := &s.ranks[r]
		if rk.refreshing || rk.nextRefresh == never || rk.nextRefresh > s.now {
			continue
		}
		k := (s.now-rk.nextRefresh)/c.cfg.refi + 1
		rk.nextRefresh += k * c.cfg.refi
	}
	for ch := range s.chans {
		s.updateWake(ch)
		s.chans[ch].stale = true
	}
}

// refreshesDue counts the refreshes, over all ranks, that fall due in cycles [from,
// to): each rank's come every tREFI from its next one, before or after from.
func (c *Controller) refreshesDue(from, to uint64) int64 {
	refi := c.cfg.refi
	var n int64
	if to <= from {
		return 0
	}
	for i := range c.cur.ranks {
		due := c.cur.ranks[i].nextRefresh
		if due == never {
			continue
		}
		// The rank's first due time from `from` on (refreshes move it by whole
		// intervals only).
		if due >= from {
			due = from + (due-from)%refi
		} else {
			due = from + (refi-(from-due)%refi)%refi
		}
		if due < to {
			n += int64((to-1-due)/refi + 1)
		}
	}
	return n
}

// refreshShift moves s, a sample answering a transfer that starts at cycle at, by a
// tRFC shared by the ranks for each refresh due while it runs beyond those due while
// its sample ran (back for each fewer): a refresh holds its rank for tRFC, and what
// the sample met is a matter of where the interval stood. Measured at e4c538b: the
// error table's mean cycle error 0.060% -> 0.054% and its largest 0.39% -> 0.38%; on
// the held-out DRAMs, largest errors 0.33%, 0.23%, 0.42%, 0.38% and 0.73% -> 0.23%,
// 0.20%, 0.34%, 0.30% and 0.61% (1600 and 2400 MT/s, 2 channels, 16 banks, closed
// pages). A long transfer's samples lose more than a tRFC to a refresh (535-570 cycles
// against 448 in LeNet-5's fast qat step on the default chip), but a cost per refresh
// fitted through the kinds' samples instead, by direction and size class like the
// backlog slope (079fb2f, kinds of two or three samples), took the table's largest
// error to 0.49% (fitted jointly with the backlog slope) or 0.63% (apart from it), and
// closed pages' to 1.10% or 0.67%.
func (c *Controller) refreshShift(s *fastSample, at uint64) {
	d := c.refreshesDue(at, at+s.end) - s.refreshes
	if d == 0 {
		return
	}
	ranks := float64(c.cfg.channels * c.cfg.ranks)
	stall := float64(float64(d)*float64(c.cfg.rfc)) / ranks
	s.accept = uint64(max(float64(s.accept)+stall, 0))
	s.end = max(uint64(max(float64(s.end)+stall, 0)), s.accept)
}

// add adds o's counters to s (LastDataEnd is left to the caller).
func (s *Stats) add(o *Stats) {
	s.Reads += o.Reads
	s.Writes += o.Writes
	s.ReadBytes += o.ReadBytes
	s.WriteBytes += o.WriteBytes
	s.ReadBursts += o.ReadBursts
	s.WriteBursts += o.WriteBursts
	s.ForwardedReads += o.ForwardedReads
	s.MergedReads += o.MergedReads
	s.MergedWrites += o.MergedWrites
	s.Activates += o.Activates
	s.Precharges += o.Precharges
	s.Refreshes += o.Refreshes
	s.RowHits += o.RowHits
	s.RowMisses += o.RowMisses
	s.RowConflicts += o.RowConflicts
	s.ReadLatency += o.ReadLatency
	s.ReadLatencyFromIssue += o.ReadLatencyFromIssue
	s.ClosedRankCycles += o.ClosedRankCycles
}

// sub returns the counters s added over o (LastDataEnd is s's).
func (s *Stats) sub(o *Stats) Stats {
	d := *s
	d.Reads -= o.Reads
	d.Writes -= o.Writes
	d.ReadBytes -= o.ReadBytes
	d.WriteBytes -= o.WriteBytes
	d.ReadBursts -= o.ReadBursts
	d.WriteBursts -= o.WriteBursts
	d.ForwardedReads -= o.ForwardedReads
	d.MergedReads -= o.MergedReads
	d.MergedWrites -= o.MergedWrites
	d.Activates -= o.Activates
	d.Precharges -= o.Precharges
	d.Refreshes -= o.Refreshes
	d.RowHits -= o.RowHits
	d.RowMisses -= o.RowMisses
	d.RowConflicts -= o.RowConflicts
	d.ReadLatency -= o.ReadLatency
	d.ReadLatencyFromIssue -= o.ReadLatencyFromIssue
	d.ClosedRankCycles -= o.ClosedRankCycles
	return d
}
