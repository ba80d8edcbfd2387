package dram

import (
	"math"
	"slices"
)

// Fast fidelity's two biases, and what mends them.
//
// An answered transfer leaves nothing in the controller: the next transfer simulated
// burst by burst starts on a link free of the answered transfers' remaining bursts,
// and comes out short (ResNet-20 niti on eyeriss_v1 1.44% short in cycles before
// this). So before it, fastAnswer submits, in the same Transfer, the last requests of
// the answered transfers whose data was still to move at its start (replayTails): as
// many as each one's own rate leaves to move by its end, no more than the requester's
// window of reads or the queues' depth of writes (all of them were accepted before the
// next transfer began), and no more in all than the link moves by the latest end. Their
// counters, already in the answered transfers', are taken off by their share of them
// (their requests and bytes exactly).
//
// And a read's samples meet more of the link's work ahead of them than the transfers
// they answer: a kind's first transfers come where a layer's loads crowd together
// (simulating every transfer and comparing each answer with its outcome in place,
// MobileNetV2-32 rct on eyeriss_v1: reads answered from kinds 1.9% long, from wide
// kinds 11.5%; writes within 0.3%). A sample keeps its backlog, the cycles until earlier
// data ended at its start, and an answer is shifted by the difference of backlogs times
// the slope of end over backlog, fitted by least squares through every kind's samples
// at once, each kind's about their own means (reads and writes apart; clamped to
// 0..1): 0.70 for reads in that step, which took those answers to +0.17% and -0.54%.
//
// Together they took the error table's mean cycle error from 0.119% to 0.060% and its
// largest from 1.44% to 0.66% (sim/testdata/fidelity/table.md; sim/PERFORMANCE.md has
// the variants measured). With the shift, a kind no longer needs to
// tell a transfer that started behind earlier data from one that started on an idle
// link (it did before it): kinds and stream classes that leave that out share their
// samples, and slopes fitted per size class (below) took the table to 0.053%, its
// largest error to 0.38%, while simulating 6-27% fewer requests.

// tailSource lists an answered transfer's last requests when they are replayed: a
// list's from a copy of its last ones (reqs), a strided transfer's from its shape when
// reqs is nil.
type tailSource struct {
	strided Strided
	reqs    []Request
}

// fastTailMax bounds the answered transfers kept for replay (the latest ones).
const fastTailMax = 4

// fastTailListMax bounds the requests of a list transfer kept for replay.
const fastTailListMax = 512

// answeredTail is a transfer answered from samples: its source, start, data end and
// the counters its answer added (its requests, all reads or all writes).
type answeredTail struct {
	src        tailSource
	start, end uint64
	delta      Stats
}

// keepTail keeps a transfer answered at cycle at with sample s for replay.
func (f *fastMemo) keepTail(src tailSource, at uint64, s *fastSample) {
	if src.reqs != nil {
		src.reqs = slices.Clone(src.reqs[max(0, len(src.reqs)-fastTailListMax):])
	}
	if len(f.tails) == fastTailMax {
		copy(f.tails, f.tails[1:])
		f.tails = f.tails[:fastTailMax-1]
	}
	f.tails = append(f.tails, answeredTail{src: src, start: at, end: at + s.end, delta: s.delta})
}

// replayTails puts in f.replay the requests of the answered transfers still moving
// data at cycle at, to be submitted before the next simulated transfer's by a
// requester of the given window, and in f.replayStats their share of the answered
// transfers' counters; it forgets the answered transfers.
func (c *Controller) replayTails(window int, at uint64) {
	f := c.fast
	f.replay, f.replayStats = f.replay[:0], Stats{}
	// The link moves the bursts one after another: as many in all as it moves by the
	// latest end, taken from the latest transfer back.
	byLink := func(end uint64) int {
		if end <= at {
			return 0
		}
		return int(min((end-at)*uint64(c.cfg.channels)/c.cfg.burst, math.MaxInt32))
	}
	budget := 0
	for i := range f.tails {
		budget = max(budget, byLink(f.tails[i].end))
	}
	var take [fastTailMax]int
	for i := len(f.tails) - 1; i >= 0 && budget > 0; i-- {
		t := &f.tails[i]
		own := 0
		if t.end > at && t.end > t.start {
			own = int(uint64(t.delta.requests()) * (t.end - at) / (t.end - t.start))
		}
		q := c.cfg.readQ
		if t.delta.writes() {
			q = c.cfg.writeQ
		}
		queued := c.cfg.channels * (q + c.cfg.banksPerCh*c.cfg.bankQ)
		if !t.delta.writes() && window > 0 {
			queued = min(queued, window)
		}
		take[i] = min(budget, own, byLink(t.end), queued)
		budget -= take[i]
	}
	for i := range f.tails {
		t := &f.tails[i]
		if take[i] == 0 {
			continue
		}
		n := len(f.replay)
		f.replay = c.appendTail(f.replay, &t.src, take[i])
		share := t.delta.share(len(f.replay)-n, int64(c.cfg.burstBytes))
		f.replayStats.add(&share)
	}
	f.tails = f.tails[:0]
}

// appendTail appends the last n requests (at most) of src to reqs, in order.
func (c *Controller) appendTail(reqs []Request, src *tailSource, n int) []Request {
	if src.reqs != nil {
		return append(reqs, src.reqs[max(0, len(src.reqs)-n):]...)
	}
	t, bb := &src.strided, c.cfg.burstBytes
	from := len(reqs)
	for row := t.Rows - 1; row >= 0 && len(reqs)-from < n; row-- {
		lo := t.Addr + uint64(row*t.Stride)
		for a := (lo + uint64(t.RowBytes) - 1) &^ (bb - 1); len(reqs)-from < n; a -= bb {
			reqs = append(reqs, Request{Addr: a, Write: t.Write})
			if a <= lo&^(bb-1) {
				break
			}
		}
	}
	slices.Reverse(reqs[from:])
	return reqs
}

// requests is how many requests s counts.
func (s *Stats) requests() int { return int(s.Reads + s.Writes) }

// writes reports whether s counts more writes than reads: a transfer's direction.
func (s *Stats) writes() bool { return s.Writes > s.Reads }

// share is the part of s, the counters of one transfer (all reads or all writes), that
// n of its requests add: the requests and bytes exact, the rest in proportion, within
// the identities of Stats. Products are rounded one by one, as in stream.go's line, so
// that no machine fuses them into other counts.
func (s *Stats) share(n int, burstBytes int64) Stats {
	write := s.writes()
	fr := float64(n) / float64(max(s.requests(), 1))
	r := func(x int64) int64 { return int64(float64(float64(x)*fr) + 0.5) }
	u := func(x uint64) uint64 { return uint64(float64(float64(x)*fr) + 0.5) }
	e := Stats{ForwardedReads: r(s.ForwardedReads), MergedReads: r(s.MergedReads), MergedWrites: r(s.MergedWrites),
		Activates: r(s.Activates), Precharges: r(s.Precharges), Refreshes: r(s.Refreshes),
		RowMisses: r(s.RowMisses), RowConflicts: r(s.RowConflicts),
		ReadLatency: u(s.ReadLatency), ReadLatencyFromIssue: u(s.ReadLatencyFromIssue), ClosedRankCycles: u(s.ClosedRankCycles)}
	if write {
		e.ReadLatency, e.ReadLatencyFromIssue = 0, 0
	}
	e.setRequests(int64(n), write, burstBytes)
	return e
}

// takeOff subtracts o's counters from s, none below zero, keeping the identities of
// Stats: the requests and bytes subtracted are always in s, the other counters an
// estimate that may exceed it.
func (s *Stats) takeOff(o *Stats) {
	for _, p := range [...][2]*int64{
		{&s.Reads, &o.Reads}, {&s.Writes, &o.Writes}, {&s.ReadBytes, &o.ReadBytes}, {&s.WriteBytes, &o.WriteBytes},
		{&s.ReadBursts, &o.ReadBursts}, {&s.WriteBursts, &o.WriteBursts}, {&s.ForwardedReads, &o.ForwardedReads},
		{&s.MergedReads, &o.MergedReads}, {&s.MergedWrites, &o.MergedWrites}, {&s.Activates, &o.Activates},
		{&s.Precharges, &o.Precharges}, {&s.Refreshes, &o.Refreshes}, {&s.RowHits, &o.RowHits},
		{&s.RowMisses, &o.RowMisses}, {&s.RowConflicts, &o.RowConflicts},
	} {
		*p[0] = max(*p[0]-*p[1], 0)
	}
	for _, p := range [...][2]*uint64{
		{&s.ReadLatency, &o.ReadLatency}, {&s.ReadLatencyFromIssue, &o.ReadLatencyFromIssue},
		{&s.ClosedRankCycles, &o.ClosedRankCycles},
	} {
		*p[0] -= min(*p[0], *p[1])
	}
	s.settle() // what a floor at zero kept must still add up
}

// setRequests makes s the counters of n requests, all writes or all reads, of
// burstBytes each: the requests and bytes exact, the other direction's counters
// none, the rest settled within them.
func (s *Stats) setRequests(n int64, write bool, burstBytes int64) {
	if write {
		s.Writes, s.WriteBytes = n, n*burstBytes
		s.Reads, s.ReadBytes, s.ForwardedReads, s.MergedReads = 0, 0, 0, 0
	} else {
		s.Reads, s.ReadBytes = n, n*burstBytes
		s.Writes, s.WriteBytes, s.MergedWrites = 0, 0, 0
	}
	s.settle()
}

// settle keeps the identities of Stats: the counters that split the requests
// (forwarded and merged; misses and conflicts) within them, the bursts and hits what
// is left.
func (s *Stats) settle() {
	s.MergedWrites = min(s.MergedWrites, s.Writes)
	s.WriteBursts = s.Writes - s.MergedWrites
	s.ForwardedReads = min(s.ForwardedReads, s.Reads)
	s.MergedReads = min(s.MergedReads, s.Reads-s.ForwardedReads)
	s.ReadBursts = s.Reads - s.ForwardedReads - s.MergedReads
	bursts := s.ReadBursts + s.WriteBursts
	s.RowMisses = min(s.RowMisses, bursts)
	s.RowConflicts = min(s.RowConflicts, bursts-s.RowMisses)
	s.RowHits = bursts - s.RowMisses - s.RowConflicts
}

// backlogFit holds, for reads or writes of a size class, the least-squares sums of
// end over backlog of every kind's samples about that kind's means.
type backlogFit struct{ sxx, sxy float64 }

// The size classes whose transfers' ends are fitted to their backlogs apart: shorter
// than a bank's row, shorter than a long transfer (fastLongRows bank rows), long. A
// short transfer waits for nearly all the data ahead of it, a long one moves part of
// its own meanwhile: the slopes fitted in a step by class, reads, ResNet-20 rct on
// eyeriss_v1 0.78, 0.78, none (no long kind with spread; streams are not shifted);
// the transformer rct on edge_tpu 0.86, 0.48, 0.49; VGG-11 fp8 on the default chip
// 0.93, 0.84, 0.51, where one slope for all was 0.77, 0.72 and 0.53.
const (
	sizeShort = iota
	sizeMedium
	sizeLong
	numSizeClasses
)

// sizeClass is the size class of a transfer of kind key (a strided transfer's rows of
// bytes, or a list's bursts; the other term is 0).
func (f *fastMemo) sizeClass(key fastKey) int {
	switch bytes := uint64(key.rows*key.rowBytes) + uint64(key.n)*f.burst; {
	case bytes < f.span:
		return sizeShort
	case bytes < fastLongRows*f.span:
		return sizeMedium
	}
	return sizeLong
}

// slope is the fit's slope, clamped to 0..1 (0 without spread).
func (b backlogFit) slope() float64 {
	if b.sxx <= 0 {
		return 0
	}
	return min(max(b.sxy/b.sxx, 0), 1)
}

// addSample updates kind k's part of fit b after a sample was added to it.
func (b *backlogFit) addSample(k *fastKind) {
	if len(k.samples) < 2 {
		return
	}
	var mb, me float64
	for i := range k.samples {
		mb += float64(k.samples[i].backlog)
		me += float64(k.samples[i].end)
	}
	n := float64(len(k.samples))
	mb, me = mb/n, me/n
	var sxx, sxy float64
	for i := range k.samples {
		db := float64(k.samples[i].backlog) - mb
		sxx += float64(db * db)
		sxy += float64(db * (float64(k.samples[i].end) - me))
	}
	b.sxx += sxx - k.sxx
	b.sxy += sxy - k.sxy
	k.sxx, k.sxy = sxx, sxy
}

// shifted is s moved by slope times (backlog - s.backlog) cycles, floored, its end no
// earlier than its accept, neither before the start. (Rounded to nearest instead, the
// error table's MobileNetV2-32 fp32 row on the default chip went from 0.14% to 0.50%:
// its transfers are short, and half a cycle more each is a bias.)
func (s *fastSample) shifted(slope float64, backlog uint64) fastSample {
	d := float64(slope * (float64(backlog) - float64(s.backlog)))
	r := *s
	r.accept = uint64(max(float64(s.accept)+d, 0))
	r.end = max(uint64(max(float64(s.end)+d, 0)), r.accept)
	return r
}
