package dram

import "slices"

// Fast-forwarding a steady stream.
//
// A long Transfer of a regular shape (a tile's rows) settles into a steady state: every
// P requests the controller is where it was P requests before, its times later by D
// cycles, its addresses higher by A bytes. The scheduler decides by comparing times
// and by comparing rows for equality, so from two such points on, every later period
// repeats the one before, shifted, for as long as the requests keep the pattern and no
// refresh falls due; the run then skips K periods at once: it shifts the state by K*D
// cycles and K*A bytes and adds K periods' statistics.
//
// The state is compared as the scheduler can tell it apart, which the skip preserves:
//   - times it compares only with the present or later (bank and group timing, the
//     activate window, admission times, the picked command's time) are equal when
//     both are in the past, and otherwise equal after the shift; times whose values
//     enter the statistics (accept cycles, the closed-since time, completions, the last
//     data burst) must be equal after the shift; the refresh schedule, which does not
//     shift, must lie beyond the skipped span;
//   - admission sequence numbers are compared relative to the count of admissions;
//   - A may move each address to the next bank of its channel (bank local+r, all
//     channels alike) as a contiguous stream does row by row, where the banks of a
//     channel are interchangeable (config.flat: one rank, one bank group) and the
//     round robin moves with them; elsewhere the bank must stay. Each bank's rows then
//     move by a fixed difference (rowDelta), which the requests of the pattern and
//     the rows in the state must all follow;
//   - cached decisions (bank options, the channel's pick) are compared too, their
//     requests matched slot to slot, so the skipped state is the one the run reaches
//     with its caches;
//   - the statistics of a period repeat, except ReadLatencyFromIssue, whose issue
//     cycles do not shift: each period adds D per read more than the one before;
//   - writes left in the write buffer while a stream of reads passes stay where they
//     are (passiveWrites): none is admitted while reads are, and no read of the
//     pattern may be answered from one;
//   - in a flat channel, banks that hold no request may differ, as the scheduler
//     does not look at them until a request comes (see reach): the skip then stops
//     before a request reaches one, and keeps their state.
//
// The skip stops before any request that breaks the pattern, before the last of the
// Transfer (its acceptance ends the committed schedule) and before the first refresh
// due; the run simulates those as usual, then looks for the next steady state.
//
// What is left to simulate is mostly the settling: the state repeats in full only once
// the stream has reopened every bank it moves through since its start, the last
// refresh (which closes them all) or the last break of its pattern (which leaves other
// rows open). A contiguous stream on the 8 banks of LPDDR4-3200 settles in 256
// requests, of some 780 between two refreshes. Before that it repeats in part: the
// banks ahead of it differ from those they are compared with (closed where those are
// open), but hold no request, which the skip allows in a flat channel up to the span
// that would reach one (see reach). That skips most of the first sweep only when the
// period is short against it: ResNet-20's tiles, at a request every 8 cycles or so,
// repeat only every 3 periods of 32 requests, which takes two spans, 192 requests,
// to recognise, of the sweep's 256; in all, the partial match took the share of
// requests skipped from 38% to 42% in a ResNet-20 QAT step, from 15% to 19% in
// MobileNetV2's and from 24% to 29% in its RCT step. Skipping across a refresh would
// need a span of a whole number of refresh intervals, as the refresh schedule does
// not shift: in a MobileNetV2 step about one checkpoint in 7000 even has the refresh
// as far ahead, a whole number of periods after an earlier one of the same Transfer.
//
// Looking costs little: every few periods the run sums up its state in a signature
// that shifts leave alone, and only when one matches an earlier one does it keep the
// state, to compare in full as many periods later; from then on, the stream settling,
// it keeps the state at every mark, so that a later match is compared at once. A
// LeNet-5 qat step at exact fidelity then stepped 94 thousand of its 150 thousand
// requests instead of 100 thousand, in 2.7% fewer instructions (ResNet-20's 2.1%).

// maxSkipPeriod bounds the period searched for, in requests.
const maxSkipPeriod = 4096

// eagerStride is the stride, in requests, from which each mark keeps its state from
// the start (see skipState): a copy every so many requests costs less than the
// requests a later comparison would simulate. Keeping states at strides of 32 from
// the start too stepped 7% fewer requests at exact fidelity but spent most of it on
// copies, and took the transformer's exact step 1% more instructions.
const eagerStride = 64

// skipState is a state's fast-forward bookkeeping for the current Transfer.
type skipState struct {
	at      int // srcPos at which the run calls fastForward next (-1: never)
	tried   bool
	base    int    // the first request of the pattern
	period  int    // P, requests
	strideA uint64 // A, bytes
	rot     int    // r, banks
	checked int    // requests j in [base, checked) follow the pattern (see follows)
	// rowDelta[bi] is how a row of bank bi moves from one period to the next, when
	// rowKnown[bi] (indexed as state.banks).
	rowDelta []uint64
	rowKnown []bool
	// The marks: the signatures of the states every stride requests (a power-of-two
	// number of periods), the latest last, up to len(mark). While keep, each mark
	// keeps its state, which a state of the same signature is compared with in full:
	// from the start with long strides, and with short ones, where copying a state
	// every stride costs more, from the first signature that matches. Until then a
	// state whose signature matches one q periods back is kept (snap, at srcPos
	// snapAt, -1 if none) to be compared with the state q periods on.
	stride        int
	keep          bool
	marks         int
	mark          [4]mark
	snap          *state
	snapAt, snapQ int
	slotMap       []int32
	// The moves of rows over several periods (see move): orbit is the periods after
	// which a bank is back in its place; prefix[bi*(orbit+1)+i] how far i periods
	// move a row of bank bi, when orbitKnown[bi]. They are of the version-th change
	// of rowDelta (prefixVersion).
	orbit                  int
	prefix                 []uint64
	orbitKnown             []bool
	prefixVersion, version int
	loc                    [2]uint64   // the last pair follows decoded (see config.locMask)
	banks                  []bankState // scratch of shift
	// fail is, per channel, the banks of s where shiftOf found a partial match
	// failing; touched the banks the span before s touched (see reach).
	fail, touched []uint64
	skipped       int64 // requests skipped (tests, measurements)
	partial       int64 // of them, skipped past banks that did not match (tests)
}

// mark is a signature of the state at a checkpoint and, if kept, the state.
type mark struct {
	sig  uint64
	st   *state
	kept bool
}

// beginSkip starts the bookkeeping for a Transfer of n requests.
func (s *state) beginSkip(n int) {
	sk := &s.skip
	sk.tried, sk.marks, sk.at, sk.snapAt = false, 0, -1, -1
	if !s.cfg.skipOff && s.onCmd == nil && n >= 96 {
		sk.at = 1
	}
}

// findPattern looks for the period of s.src from request p: the first P whose address
// lies a whole number of steps (one bank's row, or all rows when the banks may not
// rotate) past p's and whose first periods the next ones follow.
func (s *state) findPattern(p int) bool {
	c := s.cfg
	sk := &s.skip
	step := uint64(1) << (c.dec.shift[fieldRow] & 63)
	if c.flat && c.dec.mask[fieldBank] > 0 {
		step = 1 << (c.dec.shift[fieldBank] & 63)
	}
	if sk.rowDelta == nil {
		sk.rowDelta = make([]uint64, len(s.banks))
		sk.rowKnown = make([]bool, len(s.banks))
	}
	a0 := s.src[p].Addr &^ (c.burstBytes - 1)
	tries := 0
	for q := p + 1; q <= p+maxSkipPeriod && 3*(q-p) <= len(s.src)-p && tries < 8; q++ {
		a := s.src[q].Addr &^ (c.burstBytes - 1)
		if a <= a0 || (a-a0)%step != 0 {
			continue
		}
		tries++
		sk.base, sk.period, sk.strideA, sk.checked = p, q-p, a-a0, p
		_, l0, _ := c.place(a0)
		_, l1, _ := c.place(a)
		sk.rot = (l1 - l0) & (c.banksPerCh - 1)
		if sk.rot != 0 && !c.flat {
			continue
		}
		clear(sk.rowKnown)
		sk.loc = [2]uint64{never, never}
		sk.version++
		// The pattern must hold for several periods: a tile's rows of several banks'
		// rows each move one bank at a time only within a row.
		if s.follows(min(len(s.src)-sk.period, p+8*sk.period)) {
			return true
		}
	}
	return false
}

// follows extends the check of the pattern towards request end (exclusive), as far as
// requests follow it: request j follows when request j+P is at its address plus A, of
// its kind and issue cycle, in its channel, at bank local+r and at its row plus its
// bank's rowDelta. It reports whether every request before end follows.
func (s *state) follows(end int) bool {
	c := s.cfg
	sk := &s.skip
	// The loop keeps its state in locals, written back on the way out: through sk, each
	// iteration would store and reload them (it runs about once per request).
	j, loc := sk.checked, sk.loc
	strideA, mask := sk.strideA, c.locMask
	pairs := s.src[:max(min(end, len(s.src)-sk.period), j)]
	later := s.src[sk.period:]
	ok := true
	for ; j < len(pairs); j++ {
		r0, r1 := &pairs[j], &later[j]
		if r1.Addr != r0.Addr+strideA || r1.Write != r0.Write || r1.Issue != r0.Issue {
			ok = false
			break
		}
		loc0, loc1 := r0.Addr&mask, r1.Addr&mask
		if loc0 == loc[0] && loc1 == loc[1] {
			continue // the same channels, banks and rows as the pair before
		}
		ch0, l0, row0 := c.place(r0.Addr)
		ch1, l1, row1 := c.place(r1.Addr)
		if ch0 != ch1 || l1 != (l0+sk.rot)&(c.banksPerCh-1) {
			ok = false
			break
		}
		bi := ch0*c.banksPerCh + l0
		if !sk.rowKnown[bi] {
			sk.rowKnown[bi], sk.rowDelta[bi] = true, row1-row0
			sk.version++
		} else if sk.rowDelta[bi] != row1-row0 {
			ok = false
			break
		}
		// Only a pair that follows may stand for the next: the next call starts again
		// from a pair that did not.
		loc = [2]uint64{loc0, loc1}
	}
	sk.checked, sk.loc = j, loc
	return ok && j >= end
}

// fastForward runs at a checkpoint (a request accepted, the next decoded, no command
// of this cycle issued yet): it compares the state with the marks, the latest first,
// and skips as many periods as it may, then marks this point. It reports whether it
// skipped (s.now moved on).
func (s *state) fastForward() bool {
	sk := &s.skip
	sk.at = -1
	if !sk.tried {
		sk.tried = true
		if !s.findPattern(s.srcPos) {
			return false
		}
		sk.stride = sk.period
		for sk.stride < 16 {
			sk.stride *= 2
		}
		sk.keep = sk.stride >= eagerStride
	}
	p := s.srcPos
	skipped := false
	if sk.snapAt >= 0 && p == sk.snapAt+sk.snapQ*sk.period {
		skipped = s.trySkip(sk.snap, sk.snapQ)
		sk.snapAt = -1
	}
	var sig uint64
	if !skipped && sk.marks > 0 {
		sig = s.signature()
		for j := 1; j <= sk.marks; j++ {
			m := &sk.mark[sk.marks-j]
			if m.sig != sig {
				continue
			}
			// Likely a steady state of j strides.
			q := j * sk.stride / sk.period
			if m.kept {
				skipped = s.trySkip(m.st, q)
			} else if sk.snapAt < 0 {
				// Keep this state to compare with q periods on.
				if sk.snap == nil {
					sk.snap = newState(s.cfg)
				}
				sk.snap.copyFrom(s)
				sk.snap.src = nil
				sk.snapAt, sk.snapQ = p, q
			}
			// The stream is settling: marks from here on keep their state, so that
			// the next match is compared at once instead of q periods on.
			sk.keep = true
			break
		}
	}
	if skipped {
		// The marks are behind: the state settles again after what stopped the skip.
		sk.marks, sk.snapAt, p = 0, -1, s.srcPos
		sig = s.signature()
	} else if sk.marks == 0 {
		sig = s.signature()
	}
	// A mark is of use if a period more follows the pattern.
	if !s.follows(p + sk.period + 1) {
		// The pattern ends (a tile's row of a length that is no whole number of
		// periods, say): look for the next one after the request that breaks it.
		sk.tried, sk.marks, sk.snapAt = false, 0, -1
		if next := sk.checked + sk.period; next < len(s.src) {
			sk.at = next
		}
		return skipped
	}
	if sk.marks == len(sk.mark) {
		// Drop the oldest, keeping its state's memory.
		old := sk.mark[0]
		copy(sk.mark[:], sk.mark[1:])
		sk.mark[len(sk.mark)-1] = old
		sk.marks--
	}
	m := &sk.mark[sk.marks]
	m.sig, m.kept = sig, sk.keep
	if m.kept {
		if m.st == nil {
			m.st = newState(s.cfg)
		}
		m.st.copyFrom(s)
		m.st.src = nil
	}
	sk.marks++
	sk.at = p + sk.stride
	return skipped
}

// signature sums up what shiftOf compares first, as no shift or rotation of the
// banks changes it: states with different signatures are no shifts of each other.
func (s *state) signature() uint64 {
	now := s.now
	h := uint64(14695981039346656037)
	mix := func(v uint64) { h = (h ^ v) * 1099511628211 }
	mix(uint64(s.inflight)<<32 | uint64(s.done.n))
	mix(s.stats.LastDataEnd - now)
	mix(s.genEnd - now)
	if s.done.n > 0 {
		mix(s.done.first() - now)
	}
	for i := range s.chans {
		cs := &s.chans[i]
		mix(uint64(cs.queued[modeRead])<<32 | uint64(cs.queued[modeWrite]))
		mix(uint64(cs.waiting[modeRead])<<32 | uint64(cs.waiting[modeWrite]))
		mix(uint64(cs.refreshing)<<16 | uint64(cs.admMode)<<8 | uint64(b2u(cs.draining)))
		if !cs.stale {
			mix(rel(cs.candT, now))
		}
	}
	// A flat channel's banks without requests, and so its count of open banks, may
	// differ where s matches another state in part (see reach).
	flat := s.cfg.flat
	if !flat {
		for i := range s.ranks {
			mix(uint64(s.ranks[i].openBanks))
		}
	}
	var sum uint64
	for i := range s.banks {
		b := &s.banks[i]
		if flat && b.count == [2]int32{} {
			continue
		}
		sum += uint64(b.count[modeRead]) + uint64(b.count[modeWrite])<<8 + uint64(b.adm[modeRead])<<16 +
			uint64(b.adm[modeWrite])<<24 + uint64(min(b.casSinceAct, rowHitCap))<<32 + uint64(b2u(b.open))<<40 +
			rel(b.casReady, now)*3 + rel(b.preReady, now)*5 + rel(b.actReady, now)*7
	}
	mix(sum)
	return h
}

// b2u is 1 for true, 0 for false.
func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// trySkip compares the state with o, its state q periods earlier, and skips as many
// times q periods as it may.
func (s *state) trySkip(o *state, q int) bool {
	sk := &s.skip
	mark := s.srcPos - q*sk.period
	// Request j follows the pattern q periods on if j, j+P, ... j+(q-1)P follow it.
	lag := (q - 1) * sk.period
	if !s.alike(o) {
		return false
	}
	s.follows(mark + (len(s.banks)+1)*q*sk.period + lag + 1) // enough to know the rows' moves
	passive := s.passiveWrites(o, mark, q)
	if !s.movesKnown(passive) {
		return false
	}
	d, ok := s.shiftOf(o, q, passive)
	if !ok {
		return false
	}
	// No refresh may fall due within the skipped span: its schedule does not shift.
	span := q * sk.period
	k := (len(s.src) - mark) / span
	for i := range s.ranks {
		if due := s.ranks[i].nextRefresh; due <= s.now {
			return false // it falls due this very cycle
		} else if due != never {
			k = min(k, int((due-s.now-1)/d))
		}
	}
	// The requests of k spans more must follow: j in [mark, mark+k*span].
	s.follows(mark + k*span + lag + 1)
	k = min(k, (s.skip.checked-1-lag-mark)/span)
	k = s.reach(o, mark, q, k, passive)
	if k < 1 {
		return false
	}
	if passive && s.writeWithin(s.patternBounds(mark, s.srcPos+k*span)) {
		// No read of the reference span or the skipped ones may find a buffered write
		// (the filters count them by key; a read's request follows its span's).
		c := s.cfg
		for j := mark; j < s.srcPos+k*span; j++ {
			r := &s.src[j]
			ch, l, _ := c.place(r.Addr)
			if s.chans[ch].writeFilter[bucket(r.Addr)] == 0 && !c.filterOff {
				continue
			}
			if s.find(&s.banks[ch*c.banksPerCh+l], modeWrite, r.Addr) < 0 {
				continue
			}
			if j < s.srcPos {
				return false
			}
			k = min(k, (j-s.srcPos)/span)
			break
		}
	}
	if k < 1 {
		return false
	}
	s.shift(o, k, q, d, passive)
	return true
}

// patternBounds returns the lowest and highest address of the requests in [mark, end),
// which follow the pattern: request j+P is at request j's address plus A > 0, so each
// of the first period's addresses only grows, by A a period.
func (s *state) patternBounds(mark, end int) (lo, hi uint64) {
	sk := &s.skip
	lo, hi = ^uint64(0), 0
	for _, r := range s.src[mark:min(mark+sk.period, end)] {
		lo, hi = min(lo, r.Addr), max(hi, r.Addr)
	}
	return lo, hi + uint64((end-1-mark)/sk.period)*sk.strideA
}

// writeWithin reports whether a write queued in s is keyed within [lo, hi]: without
// one, no read there finds a buffered write, and trySkip need not look for one read
// by read.
func (s *state) writeWithin(lo, hi uint64) bool {
	n := s.cfg.banksPerCh
	for ch := range s.chans {
		if s.chans[ch].queued[modeWrite] == 0 {
			continue
		}
		for bi := ch * n; bi < (ch+1)*n; bi++ {
			for i := s.banks[bi].head[modeWrite]; i >= 0; i = s.slots[i].next {
				if k := s.slots[i].key; k >= lo && k <= hi {
					return true
				}
			}
		}
	}
	return false
}

// reach bounds k, the spans of q periods trySkip would skip, by the banks where s
// matches o, its state a span earlier, only in part (skip.fail), and keeps the banks
// the span from o touched for lastSpan.
//
// A span's run reads and writes only the banks of its requests and those holding
// requests at its start (it touches them): a bank without requests is in none of the
// scheduler's passes, and no refresh falls due within the spans. The run from s
// repeats the span from o, shifted and its banks moved by r, as long as s matches o
// on the banks it touches; and a bank that matched still does a span on: touched, it
// repeats what its match did; untouched, it keeps its state, as does the bank it is
// compared with, which the span before left untouched. So each further span repeats
// the one before as long as no span touches a bank that failed to match. A bank
// touched last by span j is then bank l-j*r of s moved on by j spans (see shift),
// and one no span touches keeps its state.
//
// The count of open banks, wrong for banks that did not match, tells the scheduler
// only whether it falls to zero (the standby accounting): a bank open throughout,
// untouched from o on, keeps it from doing so in every span.
func (s *state) reach(o *state, mark, q, k int, passive bool) int {
	c := s.cfg
	sk := &s.skip
	n := c.banksPerCh
	fail := sk.fail[:len(s.chans)]
	partial := false
	for _, f := range fail {
		partial = partial || f != 0
	}
	if !partial {
		return k
	}
	// The banks the span from o touched, which the span i on moves by i*r.
	if len(sk.touched) < len(s.chans) {
		sk.touched = make([]uint64, len(s.chans))
	}
	touched := sk.touched[:len(s.chans)]
	clear(touched)
	for bi := range o.banks {
		if holds(&o.banks[bi], passive) {
			touched[bi/n] |= 1 << uint(bi%n)
		}
	}
	for _, req := range s.src[mark:s.srcPos] {
		ch, l, _ := c.place(req.Addr)
		touched[ch] |= 1 << uint(l)
	}
	r := q * sk.rot & (n - 1)
	// The spans' banks repeat after orbit spans.
	orbit := n / gcd(r, n)
	for ch, f := range fail {
		if f == 0 {
			continue
		}
		var open uint64
		for l := range n {
			open |= uint64(b2u(s.banks[ch*n+l].open)) << uint(l)
		}
		seen := touched[ch]
		for i := 1; i <= min(k, orbit); i++ {
			t := rotBanks(touched[ch], i*r&(n-1), n)
			if t&f != 0 || open&^(seen|t) == 0 {
				k = i - 1
				break
			}
			seen |= t
		}
	}
	return k
}

// lastSpan is the last of k spans that touches bank l of channel ch, 0 if none: the
// span i touches the banks reach keeps, moved by i*r.
func (s *state) lastSpan(ch, l, k, r int) int {
	n := s.cfg.banksPerCh
	// They repeat after n/gcd(r, n) spans.
	for i := k; i > max(0, k-n/gcd(r, n)); i-- {
		if rotBanks(s.skip.touched[ch], i*r&(n-1), n)>>uint(l)&1 != 0 {
			return i
		}
	}
	return 0
}

// alike is the first, cheap part of shiftOf: counts that differ in most states that
// are not shifts of each other.
func (s *state) alike(o *state) bool {
	if s.inflight != o.inflight || s.done.n != o.done.n || s.stats.Refreshes != o.stats.Refreshes {
		return false
	}
	for i := range s.chans {
		c1, c2 := &o.chans[i], &s.chans[i]
		if c1.queued != c2.queued || c1.waiting != c2.waiting || c1.refreshing != 0 || c2.refreshing != 0 ||
			c1.admMode != c2.admMode || c1.draining != c2.draining {
			return false
		}
	}
	for i := range s.ranks {
		if s.ranks[i].openBanks != o.ranks[i].openBanks && !s.cfg.flat { // see reach
			return false
		}
	}
	return true
}

// rel is t as seen from now by a scheduler that compares it only with now or later:
// every past time is now.
func rel(t, now uint64) uint64 {
	if t == never {
		return never
	}
	return max(t, now) - now
}

// shiftOf compares s with o, its state q periods earlier: it returns D and whether s
// is o shifted by D cycles, q*A bytes and q*r banks, as the scheduler can tell (see
// the top of this file). The rows' moves must be known (movesKnown). With passive,
// the buffered writes (none admitted) stay as they are, in their banks. In a flat
// channel, the banks of s that hold no request (nor their matches in o) need not
// match: those that do not go into skip.fail, which reach bounds the skip by.
func (s *state) shiftOf(o *state, q int, passive bool) (uint64, bool) {
	c := s.cfg
	sk := &s.skip
	d := s.now - o.now
	n1, n2 := o.now, s.now
	same := func(t1, t2 uint64) bool { return t2-n2 == t1-n1 } // equal after the shift
	past := func(t1, t2 uint64) bool { return rel(t1, n1) == rel(t2, n2) }
	dseq := s.seq - o.seq
	if d == 0 || !s.accepted || !o.accepted || s.gen != o.gen || s.inflight != o.inflight ||
		!same(o.genEnd, s.genEnd) || !same(o.stats.LastDataEnd, s.stats.LastDataEnd) ||
		!same(o.lastAccept, s.lastAccept) || s.done.n != o.done.n {
		return 0, false
	}
	for i := range s.done.n {
		if !same(o.done.buf[(o.done.head+i)&(len(o.done.buf)-1)], s.done.buf[(s.done.head+i)&(len(s.done.buf)-1)]) {
			return 0, false
		}
	}
	// The issue cycles, which do not shift, must not delay an arrival: those of a
	// period repeat in the next.
	for _, r := range s.src[s.srcPos-q*sk.period : s.srcPos+1] {
		if r.Issue > o.now {
			return 0, false
		}
	}
	for i := range s.ranks {
		r1, r2 := &o.ranks[i], &s.ranks[i]
		if r1.refreshing || r2.refreshing {
			return 0, false
		}
		for k := range uint8(4) {
			if !past(r1.faw[(r1.fawPos+k)&3], r2.faw[(r2.fawPos+k)&3]) {
				return 0, false
			}
		}
	}
	for i := range s.groups {
		g1, g2 := &o.groups[i], &s.groups[i]
		if !past(g1.rd, g2.rd) || !past(g1.wr, g2.wr) || !past(g1.act, g2.act) {
			return 0, false
		}
	}
	if len(sk.slotMap) < len(o.slots) {
		sk.slotMap = make([]int32, len(o.slots))
	}
	slotMap := sk.slotMap[:len(o.slots)]
	// slot maps o's slot index to s's, -1 to -1.
	slot := func(i int32) int32 {
		if i < 0 {
			return -1
		}
		return slotMap[i]
	}
	n := c.banksPerCh
	rot, strideA := q*sk.rot&(n-1), uint64(q)*sk.strideA
	modes := 2 // the lists that move
	if passive {
		modes = 1
		for bi := range s.banks {
			b1, b2 := &o.banks[bi], &s.banks[bi]
			if b1.count[modeWrite] != b2.count[modeWrite] {
				return 0, false
			}
			for k, i1, i2 := int32(0), b1.head[modeWrite], b2.head[modeWrite]; k < b1.count[modeWrite]; k, i1, i2 = k+1, o.slots[i1].next, s.slots[i2].next {
				s1, s2 := &o.slots[i1], &s.slots[i2]
				if s2.key != s1.key || s2.row != s1.row || s2.issue != s1.issue || s2.accept != s1.accept ||
					(s1.gen == o.gen) != (s2.gen == s.gen) {
					return 0, false
				}
			}
		}
	}
	// In a flat channel, a bank that holds no request in either state may differ (see
	// reach): it goes into fail, by its place in s.
	partial := c.flat
	if len(sk.fail) < len(s.chans) {
		sk.fail = make([]uint64, len(s.chans))
	}
	fail := sk.fail[:len(s.chans)]
	clear(fail)
	for ch := range s.chans {
		for l := range n {
			bi1, bi2 := ch*n+l, ch*n+(l+rot)&(n-1)
			b1, b2 := &o.banks[bi1], &s.banks[bi2]
			idle := partial && !holds(b1, passive) && !holds(b2, passive)
			// conflictAct counts only for the first column command after the activate,
			// closedByConflict only for the next activate.
			if b1.open != b2.open || min(b1.casSinceAct, rowHitCap) != min(b2.casSinceAct, rowHitCap) ||
				b1.open && b1.casSinceAct == 0 && b1.conflictAct != b2.conflictAct ||
				!b1.open && b1.closedByConflict != b2.closedByConflict ||
				!past(b1.casReady, b2.casReady) || !past(b1.preReady, b2.preReady) || !past(b1.actReady, b2.actReady) ||
				b1.adm != b2.adm || b1.candOK != b2.candOK ||
				b1.count[modeRead] != b2.count[modeRead] || !passive && b1.count[modeWrite] != b2.count[modeWrite] {
				if !idle {
					return 0, false
				}
				fail[ch] |= 1 << uint((l+rot)&(n-1))
				continue
			}
			delta, known := s.move(bi1, q)
			if (b1.open || b1.count[modeRead] > 0 || !passive && b1.count[modeWrite] > 0) && !known ||
				b1.open && b2.openRow != b1.openRow+delta {
				if !idle {
					return 0, false
				}
				fail[ch] |= 1 << uint((l+rot)&(n-1))
				continue
			}
			for m := range modes {
				i1, i2 := b1.head[m], b2.head[m]
				for k := int32(0); k < b1.count[m]; k, i1, i2 = k+1, o.slots[i1].next, s.slots[i2].next {
					s1, s2 := &o.slots[i1], &s.slots[i2]
					if s2.key != s1.key+strideA || s2.row != s1.row+delta || s2.issue != s1.issue ||
						!same(s1.accept, s2.accept) || s2.merged != s1.merged || (s1.gen == o.gen) != (s2.gen == s.gen) ||
						k < b1.adm[m] && (s2.seq-s.seq != s1.seq-o.seq || !past(s1.seen, s2.seen)) {
						return 0, false
					}
					if s1.merged > 0 {
						m1, m2 := &o.merges[i1], &s.merges[i2]
						if m2.issue != m1.issue || m2.accept != m1.accept+uint64(s1.merged)*d {
							return 0, false
						}
					}
					slotMap[i1] = i2
				}
			}
			if b1.candOK && !s.sameOptions(o, b1, b2, slot, dseq) {
				if !idle {
					return 0, false
				}
				fail[ch] |= 1 << uint((l+rot)&(n-1))
			}
		}
	}
	for i := range s.ranks {
		// The one rank of a flat channel that matches in part keeps a bank open
		// throughout instead (see reach).
		r1, r2 := &o.ranks[i], &s.ranks[i]
		if (!c.flat || fail[i] == 0) && (r1.openBanks != r2.openBanks ||
			r1.openBanks == 0 && !same(r1.closedSince, r2.closedSince)) {
			return 0, false
		}
	}
	for ch := range s.chans {
		c1, c2 := &o.chans[ch], &s.chans[ch]
		if c1.refreshing != 0 || c2.refreshing != 0 || c1.cmdIssued != c2.cmdIssued ||
			c1.cmdIssued && rel(c1.lastCmd+1, n1) != rel(c2.lastCmd+1, n2) ||
			c1.stale != c2.stale || c1.queued != c2.queued || c1.waiting != c2.waiting ||
			int(c2.rrNext) != (int(c1.rrNext)+rot)&(n-1) || c1.admMode != c2.admMode ||
			c1.draining != c2.draining || c1.draining && c1.drainLeft != c2.drainLeft || !past(c1.admitAt, c2.admitAt) {
			return 0, false
		}
		for k := range numSets {
			off, r := int(c1.activeOff[k]), rot
			if passive && k == setWrites {
				r = 0
			}
			if c.activeWords == 1 && rotBanks(o.active[off], r, n) != s.active[off] ||
				c.activeWords > 1 && !equalWords(o.active, s.active, off, c.activeWords) { // rot is 0
				return 0, false
			}
		}
		if c1.stale {
			continue
		}
		if !past(c1.candT, c2.candT) || c1.candDist != c2.candDist || c1.candKind != c2.candKind ||
			c1.candRank != c2.candRank || slot(c1.candSlot) != c2.candSlot || slot(c1.candPrev) != c2.candPrev ||
			(c1.candBank < 0) != (c2.candBank < 0) ||
			c1.candBank >= 0 && int(c2.candBank) != ch*n+(int(c1.candBank)-ch*n+rot)&(n-1) {
			return 0, false
		}
	}
	return d, true
}

// sameOptions reports whether bank b2 of s caches the options of bank b1 of o, its
// state a span earlier (both candOK), as shiftOf compares them: slot maps o's slots to
// s's, dseq is the span's admissions.
func (s *state) sameOptions(o *state, b1, b2 *bankState, slot func(int32) int32, dseq uint64) bool {
	n1, n2 := o.now, s.now
	past := func(t1, t2 uint64) bool { return rel(t1, n1) == rel(t2, n2) }
	if b1.rowKind != b2.rowKind || b1.one != b2.one ||
		b1.one && (b1.oneKind != b2.oneKind || !past(b1.oneReady, b2.oneReady)) ||
		b1.rowKind != cmdNone && (slot(b1.rowSlot) != b2.rowSlot || b2.rowSeq-dseq != b1.rowSeq || !past(b1.rowReady, b2.rowReady)) {
		return false
	}
	for m := range 2 {
		if slot(b1.hit[m]) != b2.hit[m] ||
			b1.hit[m] >= 0 && (slot(b1.hitPrev[m]) != b2.hitPrev[m] || b2.hitSeq[m]-dseq != b1.hitSeq[m] || !past(b1.hitReady[m], b2.hitReady[m])) {
			return false
		}
	}
	return true
}

// rotBanks moves the banks of a channel's bank set (n banks, one word) up by r.
func rotBanks(w uint64, r, n int) uint64 {
	if r == 0 {
		return w
	}
	return (w<<uint(r) | w>>uint(n-r)) & (^uint64(0) >> uint(64-n))
}

// equalWords reports whether a and b agree on the n words from off.
func equalWords(a, b []uint64, off, n int) bool {
	for i := off; i < off+n; i++ {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// move returns how far q periods move a row of bank bi, and whether that is known.
func (s *state) move(bi, q int) (uint64, bool) {
	sk := &s.skip
	if sk.prefix == nil || sk.prefixVersion != sk.version {
		s.fillMoves()
	}
	o := sk.orbit
	p := sk.prefix[bi*(o+1):]
	return uint64(q/o)*p[o] + p[q%o], sk.orbitKnown[bi]
}

// fillMoves fills the orbit prefix sums of move.
func (s *state) fillMoves() {
	sk := &s.skip
	n := s.cfg.banksPerCh
	// Bank l moves to l+r, l+2r, ...: the orbit repeats every n/gcd(r, n) periods.
	o := n / gcd(sk.rot, n)
	if n := len(s.banks) * (o + 1); cap(sk.prefix) < n {
		sk.prefix, sk.orbitKnown = make([]uint64, n), make([]bool, len(s.banks))
	} else {
		sk.prefix = sk.prefix[:n]
	}
	sk.orbit, sk.prefixVersion = o, sk.version
	for bi := range s.banks {
		ch, l := bi/n, bi%n
		p := sk.prefix[bi*(o+1):]
		p[0], sk.orbitKnown[bi] = 0, true
		for i := range o {
			j := ch*n + (l+i*sk.rot)&(n-1)
			if sk.rowKnown[j] {
				p[i+1] = p[i] + sk.rowDelta[j]
			} else {
				// A bank the pattern does not touch keeps its row when the banks stay
				// in place: every period touches the banks the first one does, which
				// follows knows of by the time trySkip compares states.
				p[i+1] = p[i]
				sk.orbitKnown[bi] = sk.orbitKnown[bi] && sk.rot == 0
			}
		}
	}
}

// movesKnown reports whether the moves of the rows of every bank that holds a row or
// a request that moves (see passiveWrites) are known.
func (s *state) movesKnown(passive bool) bool {
	for bi := range s.banks {
		if b := &s.banks[bi]; b.open || b.count[modeRead] > 0 || !passive && b.count[modeWrite] > 0 {
			if _, ok := s.move(bi, 0); !ok {
				return false
			}
		}
	}
	return true
}

// holds reports whether bank b holds requests that move with the pattern: any, or
// with passive (see passiveWrites) reads.
func holds(b *bankState, passive bool) bool {
	return b.count[modeRead] > 0 || !passive && b.count[modeWrite] > 0
}

// gcd of r >= 0 and n > 0.
func gcd(r, n int) int {
	for r != 0 {
		r, n = n%r, r
	}
	return n
}

// shift moves s on by k spans of q periods, d cycles each, o being its state a span
// earlier: it is then the state the run reaches k spans later (shiftOf held and
// movesKnown; passive as for shiftOf).
func (s *state) shift(o *state, k, q int, d uint64, passive bool) {
	c := s.cfg
	sk := &s.skip
	kd := uint64(k) * d
	later := func(t *uint64) {
		if *t != never {
			*t += kd
		}
	}
	kseq := uint64(k) * (s.seq - o.seq)
	n := c.banksPerCh
	rot := k * q * sk.rot & (n - 1)

	// The statistics: k periods' counts. A period's ReadLatencyFromIssue grows by d per
	// read: period j (1..k) adds the first's plus j*d*reads.
	per := s.stats.sub(&o.stats)
	fromIssue := uint64(k)*per.ReadLatencyFromIssue + d*uint64(per.Reads)*uint64(k)*uint64(k+1)/2
	per.ReadLatencyFromIssue = 0
	for range k {
		s.stats.add(&per)
	}
	s.stats.ReadLatencyFromIssue += fromIssue
	later(&s.stats.LastDataEnd)

	// The requests' slots, through their banks' lists, before the banks move: a bank
	// holding requests is one the last span leaves (see reach).
	modes := 2
	if passive {
		modes = 1
	}
	for bi := range s.banks {
		b := &s.banks[bi]
		rowShift, _ := s.move(bi, k*q)
		for m := range modes {
			i := b.head[m]
			for j := int32(0); j < b.count[m]; j, i = j+1, s.slots[i].next {
				sl := &s.slots[i]
				sl.key += uint64(k*q) * sk.strideA
				sl.row += rowShift
				sl.accept += kd
				sl.seen += kd
				sl.seq += kseq
				if sl.merged > 0 {
					s.merges[i].accept += uint64(sl.merged) * kd
				}
			}
		}
	}
	// Bank l of a channel becomes bank l-j*r of s (r the banks a span moves them by),
	// moved on by j spans, where j is the last span that touches it (every span, in a
	// channel that matched in full); a bank no span touches (j = 0) keeps its state.
	// Their rank and group (the same for every bank of a flat channel, the only one
	// whose banks move) stay.
	r := q * sk.rot & (n - 1)
	for ch := range s.chans {
		banks := s.banks[ch*n : (ch+1)*n]
		sk.banks = append(sk.banks[:0], banks...)
		for l := range banks {
			j := k
			if sk.fail[ch] != 0 {
				j = s.lastSpan(ch, l, k, r)
			}
			if j == 0 {
				continue
			}
			src := (l - j*r) & (n - 1)
			b := &banks[l]
			if passive {
				// The buffered writes stay (none is admitted: adm and admTail are the
				// same everywhere).
				wh, wt, wc := b.head[modeWrite], b.tail[modeWrite], b.count[modeWrite]
				*b = sk.banks[src]
				b.head[modeWrite], b.tail[modeWrite], b.count[modeWrite] = wh, wt, wc
			} else {
				*b = sk.banks[src]
			}
			if b.open {
				rowShift, _ := s.move(ch*n+src, j*q)
				b.openRow += rowShift
			}
			jd, jseq := uint64(j)*d, uint64(j)*(s.seq-o.seq)
			for _, t := range [...]*uint64{&b.casReady, &b.preReady, &b.actReady, &b.oneReady, &b.rowReady, &b.hitReady[0], &b.hitReady[1]} {
				if *t != never {
					*t += jd
				}
			}
			b.rowSeq += jseq
			b.hitSeq[0] += jseq
			b.hitSeq[1] += jseq
		}
		if sk.fail[ch] != 0 {
			// The open banks of its one rank, which the kept banks falsify.
			rk := &s.ranks[ch]
			rk.openBanks = 0
			for l := range banks {
				rk.openBanks += int32(b2u(banks[l].open))
			}
		}
		if rot == 0 {
			continue
		}
		cs := &s.chans[ch]
		for k := range numSets {
			if passive && k == setWrites {
				continue
			}
			w := &s.active[cs.activeOff[k]]
			*w = rotBanks(*w, rot, n)
		}
		cs.rrNext = int32((int(cs.rrNext) + rot) & (n - 1))
		if cs.candBank >= 0 {
			cs.candBank = int32(ch*n + (int(cs.candBank)-ch*n+rot)&(n-1))
		}
	}
	for ch := range s.chans {
		cs := &s.chans[ch]
		later(&cs.lastCmd)
		later(&cs.admitAt)
		later(&cs.candT)
		if !cs.stale {
			cs.next = min(cs.candT, cs.wake)
		}
		// The filters count the requests by their keys, which moved.
		clear(cs.writeFilter[:])
		clear(cs.readFilter[:])
		for bi := ch * n; bi < (ch+1)*n; bi++ {
			b := &s.banks[bi]
			for i := b.head[modeWrite]; i >= 0; i = s.slots[i].next {
				cs.writeFilter[bucket(s.slots[i].key)]++
			}
			for i := b.head[modeRead]; i >= 0; i = s.slots[i].next {
				cs.readFilter[bucket(s.slots[i].key)]++
			}
		}
	}
	for i := range s.ranks {
		rk := &s.ranks[i]
		for j := range rk.faw {
			later(&rk.faw[j])
		}
		later(&rk.closedSince)
	}
	for i := range s.groups {
		g := &s.groups[i]
		later(&g.rd)
		later(&g.wr)
		later(&g.act)
	}
	for i := range s.done.n {
		s.done.buf[(s.done.head+i)&(len(s.done.buf)-1)] += kd
	}
	later(&s.done.last)

	s.now += kd
	s.seq += kseq
	s.lastAccept += kd
	s.lastWork += kd
	later(&s.genEnd)
	s.srcPos += k * q * sk.period
	sk.skipped += int64(k * q * sk.period)
	if slices.ContainsFunc(sk.fail[:len(s.chans)], func(f uint64) bool { return f != 0 }) {
		sk.partial += int64(k * q * sk.period)
	}
	s.nextReq.loc = never
	s.decodeNext()
}

// passiveWrites reports whether the writes buffered in s and in o (q periods before)
// may be left where they are, out of the pattern: the pattern reads only, and every
// channel admits reads and has no write admitted. Such writes wait until reads stop
// or the buffer fills, which a read stream does not change; a read of the pattern
// could still be answered from one, which trySkip rules out.
func (s *state) passiveWrites(o *state, mark, q int) bool {
	for _, r := range s.src[mark : mark+q*s.skip.period] {
		if r.Write {
			return false
		}
	}
	for _, st := range [2]*state{o, s} {
		for i := range st.chans {
			if cs := &st.chans[i]; cs.admMode != modeRead || cs.draining {
				return false
			}
		}
		for i := range st.banks {
			if st.banks[i].adm[modeWrite] > 0 {
				return false
			}
		}
	}
	return true
}
