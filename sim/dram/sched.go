package dram

import (
	"fmt"
	"math/bits"
)

// The scheduler is event driven: it does not step idle cycles. At a cycle `now` it
// accepts at most one request, then lets each channel issue the command that FR-FCFS
// picks among those whose timing allows them now; then it jumps to the next cycle at
// which a request can be accepted or a command can issue. Each channel keeps its next
// command (and its time) cached until something in the channel changes, and each bank
// its own candidate command until its queue or state changes, so a decision costs a
// pass over the banks that have requests, with a few comparisons each.
//
// The loop runs about twice per DRAM burst of every simulated transfer (a training
// step moves 10^5 to 10^7 bursts), so it is written for speed, without changing a
// single decision (TestEquivalence holds it to the digests of the first, plainer
// version):
//   - a request is decoded once, when it comes up, and consecutive requests to the
//     same row reuse the decoding;
//   - the hot structs are flat and updated field by field: a small struct built and
//     then copied whole is read back with wide loads that store forwarding cannot
//     serve, a stall of a dozen cycles each time;
//   - no division on the hot path: counts are powers of two, delays precomputed;
//   - the refresh state of a channel is kept up to date when it changes (rarely)
//     instead of being recomputed at every decision;
//   - after a command, a channel with at most one bank holding requests of the mode
//     it serves picks without the general pass (pickOne); the requester's next
//     arrival is recomputed only when something it depends on changed;
//   - a counting filter spares nearly every search of the write buffer, and the reads
//     in flight are a sorted ring (they complete in the order of their column
//     commands) rather than a heap;
//   - Stats fields that follow from others (bytes, bursts, row hits) are derived
//     when read rather than counted per burst.

// Command kinds. The column kinds double as the queue mode: modeRead, modeWrite.
const (
	cmdRead uint8 = iota
	cmdWrite
	cmdAct
	cmdPre
	cmdPreAll
	cmdRef
)

const (
	modeRead  = 0
	modeWrite = 1
)

// slot is one queued request.
type slot struct {
	addr, row     uint64
	issue, accept uint64
	seq           uint64 // acceptance order: FCFS age
	next          int32  // next slot of the same bank queue, or the free list; -1 ends
	gen           uint32 // the Transfer that submitted it
}

// bankState is one bank: its row, its timing, its two queues (reads, writes) and its
// own next command (cand*), before channel and rank constraints.
type bankState struct {
	openRow uint64
	// Earliest column command, precharge and activate by this bank's own timing.
	casReady, preReady, actReady uint64
	// The bank's own next command for the queue of candMode, valid while candOK: the
	// earliest cycle by the bank's timing, the age of the request it serves, that
	// request and its predecessor in the queue (-1: it is the head).
	candReady, candSeq uint64
	candSlot, candPrev int32
	head, tail         [2]int32
	count              [2]int32
	rank, group        int32 // index in state.ranks and in state.groups (fixed)
	casSinceAct        uint32
	candKind, candMode uint8
	candOK             bool
	open               bool
	conflictAct        bool // the open row's activate followed a conflict's precharge
	closedByConflict   bool // the last precharge was for a conflict
}

// groupState is the earliest read, write and activate to a (rank, bank group) by the
// timing of other banks.
type groupState struct {
	rd, wr, act uint64
}

// rankState is one rank: its activate window, refresh and standby state.
type rankState struct {
	faw         [4]uint64 // each of the last four activates + tFAW: a ring
	nextRefresh uint64    // when the next refresh falls due
	closedSince uint64    // when the last bank closed (valid while openBanks == 0)
	openBanks   int32
	fawPos      uint8
	refreshing  bool // a refresh is due: the rank takes nothing else
}

// chanState is one channel's controller.
type chanState struct {
	next uint64 // when the picked command can issue, or when a refresh falls due
	// wake is when the next refresh falls due, over the ranks not refreshing yet; it
	// is kept up to date as refreshes fall due and are done (see updateWake).
	wake    uint64
	lastCmd uint64
	// The picked command (cand*): when it can issue, its FR-FCFS priority and the
	// age of its request (see pick); its kind, bank (-1 for refresh work), rank,
	// request and the request's predecessor in its bank queue.
	candT, candSeq     uint64
	candSlot, candPrev int32
	candBank, candRank int32
	queued             [2]int32 // requests queued per mode (reads, writes)
	activeOff          [2]int32 // where the mode's words of state.active start (fixed)
	refreshing         int32    // ranks whose refresh is due (wake is over the others)
	candKind, candPrio uint8
	pickMode           uint8 // the queue mode cand was picked in
	cmdIssued          bool
	draining           bool // the write buffer is draining down to the low watermark
	stale              bool // next and cand must be recomputed
	// writeFilter counts the buffered writes by a hash of their address: a request
	// whose bucket is empty has no buffered write to merge with or forward from, which
	// spares the search of its bank's write queue for nearly every request. (Unless
	// config.writeFilterOff: a write buffer deeper than the counts can count.)
	writeFilter [writeFilterSize]uint16
}

// writeFilterSize is the number of buckets of chanState.writeFilter.
const writeFilterSize = 256

// writeBucket is the writeFilter bucket of a burst address.
func writeBucket(addr uint64) uint8 {
	return uint8((addr * 0x9e3779b97f4a7c15) >> 56)
}

// state is everything that changes as the controller runs; the Controller keeps two
// (committed and projected) and copies one into the other.
type state struct {
	cfg    *config
	now    uint64
	chans  []chanState
	banks  []bankState  // banksPerCh per channel, channel-major
	ranks  []rankState  // ranks per channel, channel-major
	groups []groupState // bank groups per rank, rank-major: [rank*bankGroups+bg]
	slots  []slot
	active []uint64  // per channel and mode, activeWords words: banks with queued requests
	done   doneQueue // completion times of the requester's reads in flight

	freeHead int32
	inflight int // requester's reads accepted and not complete
	seq      uint64
	// stats leaves out what follows from its other counts, which snapshot fills in:
	// the bytes, the bursts and the row hits.
	stats Stats

	// The requester: the current Transfer's requests.
	src    []Request
	srcPos int
	// nextReq is src[srcPos] decoded (valid while srcPos < len(src)): arrival and
	// accept need its channel and bank, and decoding once per request is cheaper.
	nextReq    decoded
	at         uint64
	window     int
	gen        uint32
	genEnd     uint64 // latest completion of the current Transfer's requests
	lastAccept uint64
	accepted   bool   // lastAccept is valid
	lastWork   uint64 // the last accept or column command: progress (see stalled)

	// onCmd, when set (by tests), sees every command issued: its kind, cycle and the
	// address of the request it serves (0 for refresh work).
	onCmd func(kind uint8, t uint64, addr uint64)
}

// decoded is a request with its address resolved.
type decoded struct {
	addr, row, issue uint64 // addr without the offset within the burst
	// ready is the earliest cycle the request may be accepted by its own issue cycle,
	// the Transfer's start and the one-request-per-cycle rule.
	ready uint64
	// loc is addr without its column and offset bits: requests with the same loc are
	// in the same channel, bank and row, so the next request can reuse the decoding.
	loc             uint64
	ch, bank, local int32 // channel, index in state.banks, index within the channel
	queueCap        int32 // the depth of the queue of its mode
	mode            uint8 // modeRead or modeWrite
}

func newState(c *config) *state {
	nRanks := c.channels * c.ranks
	s := &state{
		cfg:    c,
		chans:  make([]chanState, c.channels),
		banks:  make([]bankState, c.channels*c.banksPerCh),
		ranks:  make([]rankState, nRanks),
		groups: make([]groupState, nRanks*c.bankGroups),
		slots:  make([]slot, c.channels*(c.readQ+c.writeQ)),
		active: make([]uint64, 2*c.channels*c.activeWords),
		done:   newDoneQueue(c),
	}
	s.reset()
	return s
}

// reset returns the state to time zero with empty queues and precharged banks.
func (s *state) reset() {
	c := s.cfg
	clear(s.chans)
	clear(s.banks)
	clear(s.active)
	clear(s.groups)
	for i := range s.banks {
		b := &s.banks[i]
		b.head = [2]int32{-1, -1}
		b.tail = [2]int32{-1, -1}
		b.rank, b.group = c.bankRank[i], c.bankGroup[i]
	}
	for i := range s.ranks {
		s.ranks[i] = rankState{nextRefresh: never}
		if c.refi > 0 {
			// Staggered: rank r of each channel falls due (r+1)/ranks into the interval.
			s.ranks[i].nextRefresh = c.refi * uint64(i%c.ranks+1) / uint64(c.ranks)
		}
	}
	for i := range s.slots {
		s.slots[i] = slot{next: int32(i + 1)}
	}
	s.slots[len(s.slots)-1].next = -1
	for i := range s.chans {
		cs := &s.chans[i]
		cs.stale = true
		cs.candBank = -1
		for m := range cs.activeOff {
			cs.activeOff[m] = int32((i*2 + m) * c.activeWords)
		}
	}
	for ch := range s.chans {
		s.updateWake(ch)
	}
	s.freeHead = 0
	s.done.head, s.done.n, s.done.last = 0, 0, 0
	s.now, s.inflight, s.seq, s.stats = 0, 0, 0, Stats{}
	s.src, s.srcPos, s.at, s.window, s.gen, s.genEnd = nil, 0, 0, 0, 0, 0
	s.lastAccept, s.accepted, s.lastWork = 0, false, 0
}

// copyFrom makes s an exact copy of o without allocating.
func (s *state) copyFrom(o *state) {
	chans, banks, ranks, groups, slots, active, done := s.chans, s.banks, s.ranks, s.groups, s.slots, s.active, s.done
	*s = *o
	s.chans, s.banks, s.ranks, s.groups, s.slots, s.active, s.done = chans, banks, ranks, groups, slots, active, done
	copy(s.chans, o.chans)
	copy(s.banks, o.banks)
	copy(s.ranks, o.ranks)
	copy(s.groups, o.groups)
	copy(s.slots, o.slots)
	copy(s.active, o.active)
	s.done.copyFrom(&o.done)
}

// snapshot returns the statistics, with the standby accounting closed at LastDataEnd.
func (s *state) snapshot() Stats {
	st := s.stats
	bb := int64(s.cfg.burstBytes)
	st.ReadBytes, st.WriteBytes = st.Reads*bb, st.Writes*bb
	st.ReadBursts, st.WriteBursts = st.Reads-st.ForwardedReads, st.Writes-st.MergedWrites
	st.RowHits = st.ReadBursts + st.WriteBursts - st.RowMisses - st.RowConflicts
	for i := range s.ranks {
		if rk := &s.ranks[i]; rk.openBanks == 0 && st.LastDataEnd > rk.closedSince {
			st.ClosedRankCycles += st.LastDataEnd - rk.closedSince
		}
	}
	return st
}

// begin starts a Transfer's requests.
func (s *state) begin(reqs []Request, window int, at uint64) {
	s.src, s.srcPos, s.window, s.at = reqs, 0, window, at
	s.nextReq.loc = never // nothing to reuse
	s.decodeNext()
	s.gen++
	s.genEnd = 0
}

// decodeNext fills s.nextReq from s.src[s.srcPos], if a request is left.
func (s *state) decodeNext() {
	if s.srcPos >= len(s.src) {
		return
	}
	c := s.cfg
	r := &s.src[s.srcPos]
	n := &s.nextReq
	addr := r.Addr &^ (c.burstBytes - 1)
	n.addr, n.issue = addr, r.Issue
	n.mode = modeRead
	if r.Write {
		n.mode = modeWrite
	}
	n.queueCap = c.queueCap[n.mode&1]
	n.ready = max(s.at, r.Issue)
	if s.accepted {
		n.ready = max(n.ready, s.lastAccept+1)
	}
	if loc := addr & c.locMask; loc != n.loc {
		n.loc = loc
		d := &c.dec
		ch := int(d.get(addr, fieldChannel))
		local := int(d.get(addr, fieldRank)<<(c.rankLocalShift&63) | d.get(addr, fieldBankGroup)<<(c.bgLocalShift&63) | d.get(addr, fieldBank))
		n.row = addr >> (d.shift[fieldRow] & 63)
		n.ch, n.bank, n.local = int32(ch), int32(ch*c.banksPerCh+local), int32(local)
	}
}

// run advances time. With drain false it stops at the cycle the last request of the
// Transfer is accepted, before that cycle's commands; with drain true it serves every
// queued request and the refreshes due up to the last data burst. Its error means the
// scheduler stopped making progress: a bug, reported rather than a hang or a panic.
func (s *state) run(drain bool) error {
	// arr is the next request's arrival as of the end of the last iteration. Moving
	// time on to arr and retiring the reads done by then can only bring it forward: so
	// when arr has come, the request is accepted without asking again. Once known, it
	// changes only when a request is accepted or a read retires: commands only free
	// room in a queue and add later completions (see arrival).
	arr := uint64(never)
	if !drain {
		arr = s.arrival()
	}
	for {
		now := s.now
		changed := false // whether arr may have changed
		if s.done.n > 0 && s.done.first() <= now {
			s.retire()
			changed = true
		}
		if arr <= now {
			changed = true
			s.accept()
			if s.srcPos++; s.srcPos == len(s.src) {
				return nil
			}
			s.decodeNext()
		}
		chans := s.chans
		for ch := range chans {
			cs := &chans[ch]
			if cs.wake <= now {
				s.refreshDue(ch)
			}
			if cs.stale {
				s.pick(ch)
			}
			if cs.next <= now {
				// The channel's next command depends on nothing outside it: pick it now.
				if !s.execute(cs, ch) {
					s.pick(ch)
				}
			}
		}
		if drain && s.drained() {
			return nil
		}
		if !drain && (changed || arr == never) {
			arr = s.arrival()
		}
		next := arr
		for ch := range chans {
			cs := &chans[ch]
			if cs.queued[modeRead]+cs.queued[modeWrite] == 0 && cs.next < next && next != never {
				// An idle channel refreshes on its own until the next request.
				s.skipRefreshes(ch, next)
			}
			next = min(next, cs.next)
		}
		if next == never {
			if drain {
				return nil
			}
			return fmt.Errorf("dram: at cycle %d the next request waits for nothing that will come (scheduler bug)", now)
		}
		if next <= now {
			// A command freed room in a full queue this very cycle: the waiting
			// request is accepted now (commands of this cycle are done).
			if arr <= now {
				continue
			}
			return fmt.Errorf("dram: scheduler did not advance at cycle %d (scheduler bug)", now)
		}
		if s.stalled(next) {
			return fmt.Errorf("dram: no request served between cycles %d and %d with requests queued (scheduler bug)", s.lastWork, next)
		}
		s.now = next
	}
}

// stalled reports whether moving time on to next would leave queued requests unserved
// for longer than any valid spec can: a guard that turns a scheduler that no longer
// makes progress into an error instead of an endless loop.
func (s *state) stalled(next uint64) bool {
	if next-s.lastWork <= s.cfg.maxStall {
		return false
	}
	for i := range s.chans {
		if s.chans[i].queued[modeRead]+s.chans[i].queued[modeWrite] > 0 {
			return true
		}
	}
	s.lastWork = next // idle: nothing to serve
	return false
}

// drained reports whether every queue is empty and every refresh due by the last data
// burst is done.
func (s *state) drained() bool {
	for i := range s.chans {
		if s.chans[i].queued[modeRead]+s.chans[i].queued[modeWrite] > 0 {
			return false
		}
	}
	for i := range s.ranks {
		if rk := &s.ranks[i]; rk.refreshing || rk.nextRefresh <= s.stats.LastDataEnd {
			return false
		}
	}
	return true
}

// retire ends the requester's reads whose data has moved.
func (s *state) retire() {
	for s.done.n > 0 && s.done.first() <= s.now {
		s.done.pop()
		s.inflight--
	}
}

// arrival is the earliest cycle the requester's next request can be accepted, given
// what is known now (never if none is left, or its queue is full).
func (s *state) arrival() uint64 {
	if s.srcPos >= len(s.src) {
		return never
	}
	r := &s.nextReq
	t := max(r.ready, s.now)
	if s.inflight >= s.window && s.window > 0 {
		if s.done.n == 0 {
			return never
		}
		t = max(t, s.done.first())
	}
	if s.chans[r.ch].queued[r.mode&1] >= r.queueCap {
		return never
	}
	return t
}

// accept takes the requester's next request (s.nextReq) into its channel's queue at
// now; the caller moves on to the request after it.
func (s *state) accept() {
	c := s.cfg
	now := s.now
	r := &s.nextReq
	bi, local, mode := int(r.bank), int(r.local), int(r.mode&1)
	s.lastAccept, s.accepted, s.lastWork = now, true, now
	b := &s.banks[bi]
	cs := &s.chans[r.ch]

	// The write buffer answers a read of a buffered address and absorbs a second write
	// to it.
	bucket := writeBucket(r.addr)
	if b.count[modeWrite] > 0 && (cs.writeFilter[bucket] > 0 || c.writeFilterOff) && s.findWrite(b, r.addr) {
		s.forward(mode, r.issue)
		return
	}

	cs.queued[mode]++
	if mode == modeWrite {
		cs.writeFilter[bucket]++
	} else {
		s.inflight++
	}
	i := s.freeHead
	if i < 0 {
		panic("dram: request slots exhausted")
	}
	sl := &s.slots[i]
	s.freeHead = sl.next
	s.seq++
	sl.addr, sl.row, sl.issue, sl.accept, sl.seq, sl.next, sl.gen = r.addr, r.row, r.issue, now, s.seq, -1, s.gen
	if t := b.tail[mode]; t >= 0 {
		s.slots[t].next = i
	} else {
		b.head[mode] = i
		s.active[int(cs.activeOff[mode])+local>>6] |= 1 << (local & 63)
	}
	b.tail[mode] = i
	b.count[mode]++
	// A request joining the tail leaves the bank's command unchanged unless it is the
	// only one, or the bank was about to close its row (the newcomer may hit it).
	if b.candMode == uint8(mode) && (b.count[mode] == 1 || b.candKind == cmdPre) {
		b.candOK = false
	}

	// Update the channel's cached pick: when nothing else changed, only this bank's
	// command can have become the best.
	if cs.stale {
		return
	}
	switch m := cs.mode(c); {
	case m != int(cs.pickMode):
		cs.stale = true
	case cs.candBank == int32(bi):
		// The best bank got another request: its command stands unless it changed.
		if !b.candOK {
			cs.stale = true
		}
	case m == mode && !s.ranks[b.rank].refreshing:
		if !b.candOK || b.candMode != uint8(mode) {
			s.local(b, mode)
		}
		if b.candReady > cs.candT {
			return // channel constraints only delay it further
		}
		floor := now
		if cs.cmdIssued && cs.lastCmd >= now {
			floor = cs.lastCmd + 1
		}
		if t, prio := s.bankKey(b, floor); t < cs.candT || t == cs.candT && (prio < cs.candPrio || prio == cs.candPrio && b.candSeq < cs.candSeq) {
			cs.setCand(b, bi, t, prio)
			cs.next = min(t, cs.wake)
		}
	}
}

// forward answers the request being accepted from the write buffer: a read a cycle
// later, a write by merging into the buffered one.
func (s *state) forward(mode int, issue uint64) {
	if mode == modeWrite {
		s.stats.Writes++
		s.stats.MergedWrites++
		s.genEnd = max(s.genEnd, s.now)
		return
	}
	end := s.now + 1
	s.stats.Reads++
	s.stats.ForwardedReads++
	s.stats.ReadLatency++
	s.stats.ReadLatencyFromIssue += end - min(issue, end)
	s.inflight++
	s.done.push(end)
	s.genEnd = max(s.genEnd, end)
}

// findWrite reports whether bank b buffers a write to addr.
func (s *state) findWrite(b *bankState, addr uint64) bool {
	for i := b.head[modeWrite]; i >= 0; i = s.slots[i].next {
		if s.slots[i].addr == addr {
			return true
		}
	}
	return false
}

// refreshDue marks the ranks of channel ch whose refresh has fallen due.
func (s *state) refreshDue(ch int) {
	c := s.cfg
	for r := ch * c.ranks; r < (ch+1)*c.ranks; r++ {
		if rk := &s.ranks[r]; !rk.refreshing && rk.nextRefresh <= s.now {
			rk.refreshing = true
			s.chans[ch].stale = true
		}
	}
	s.updateWake(ch)
}

// updateWake recomputes channel ch's refresh state after its ranks' changed: how many
// are refreshing, and when the next of the others falls due.
func (s *state) updateWake(ch int) {
	c := s.cfg
	cs := &s.chans[ch]
	cs.wake, cs.refreshing = never, 0
	for r := ch * c.ranks; r < (ch+1)*c.ranks; r++ {
		if rk := &s.ranks[r]; rk.refreshing {
			cs.refreshing++
		} else {
			cs.wake = min(cs.wake, rk.nextRefresh)
		}
	}
}

// mode decides whether the channel serves reads or writes now: writes once the
// buffer reaches the high watermark, until it is down to the low one, and whenever no
// read waits.
func (cs *chanState) mode(c *config) int {
	writes := int(cs.queued[modeWrite])
	if writes >= c.highMark {
		cs.draining = true
	} else if writes <= c.lowMark {
		cs.draining = false
	}
	if cs.draining || cs.queued[modeRead] == 0 && writes > 0 {
		return modeWrite
	}
	return modeRead
}

// pick computes channel ch's next command and when it can issue (FR-FCFS): the
// earliest; at equal times refresh work first (priority 0), then column commands,
// i.e. row hits (1), then activates and precharges (2); then the oldest request.
func (s *state) pick(ch int) {
	c := s.cfg
	cs := &s.chans[ch]
	cs.stale = false
	now := s.now
	floor := now
	if cs.cmdIssued && cs.lastCmd >= now {
		floor = cs.lastCmd + 1
	}
	// The best so far, in scalars, starting from the refresh work of a rank whose
	// refresh is due, if any: it wins ties (its priority is 0).
	bestT, bestPrio, bestBank := uint64(never), uint8(0), -1
	refreshing := cs.refreshing > 0
	if refreshing {
		bestT = s.pickRefresh(cs, ch, floor)
	}
	mode := cs.mode(c)
	if c.flat {
		// One rank of one bank group per channel: the channel and rank constraints are
		// the same for every bank, so they are looked up once (see pickFlat).
		if !refreshing { // else the only rank is refreshing: no bank may compete
			bestT, bestPrio, bestBank = s.pickFlat(ch, mode, floor)
		}
	} else {
		bestT, bestPrio, bestBank = s.pickBanks(ch, mode, floor, bestT, refreshing)
	}
	if bestBank >= 0 {
		cs.setCand(&s.banks[bestBank], bestBank, bestT, bestPrio)
	} else if !refreshing {
		cs.candT, cs.candSeq, cs.candPrio = never, 0, 0
		cs.candBank, cs.candRank, cs.candSlot, cs.candPrev = -1, -1, -1, -1
	}
	cs.pickMode = uint8(mode)
	cs.next = min(bestT, cs.wake)
}

// pickFlat is pick's pass over channel ch's banks with requests of mode when the
// channel is flat (config.flat: one rank of one bank group, one word of banks) and
// no refresh is due: each bank's key is its own ready time against a floor that
// depends only on the kind of its command, so the floors are computed once and looked
// up by kind, without a branch. It returns the best key (never if none), its priority
// and its bank (-1 if none); ties go as in pick.
func (s *state) pickFlat(ch, mode int, floor uint64) (uint64, uint8, int) {
	c := s.cfg
	g := &s.groups[ch]
	rk := &s.ranks[ch]
	// Indexed by the bank command's kind: cmdRead, cmdWrite, cmdAct, cmdPre.
	lb := [4]uint64{max(floor, g.rd), max(floor, g.wr), max(floor, g.act, rk.faw[rk.fawPos]), floor}
	prios := [4]uint8{1, 1, 2, 2}
	bestT, bestSeq, bestPrio, bestBank := uint64(never), uint64(0), uint8(0), -1
	base := ch * c.banksPerCh
	banks := s.banks[base : base+c.banksPerCh]
	for word := s.active[s.chans[ch].activeOff[mode]]; word != 0; word &= word - 1 {
		li := bits.TrailingZeros64(word)
		b := &banks[li]
		if !b.candOK || b.candMode != uint8(mode) {
			// freshCand, inlined by hand: this loop is the scheduler's hot spot.
			head := b.head[mode]
			hs := &s.slots[head]
			switch {
			case !b.open:
				b.candOK, b.candMode, b.candSlot, b.candPrev, b.candSeq = true, uint8(mode), head, -1, hs.seq
				b.candKind, b.candReady = cmdAct, b.actReady
			case hs.row == b.openRow:
				b.candOK, b.candMode, b.candSlot, b.candPrev, b.candSeq = true, uint8(mode), head, -1, hs.seq
				b.candKind, b.candReady = uint8(mode), b.casReady
			default:
				s.local(b, mode)
			}
		}
		k := b.candKind & 3
		t, prio := max(b.candReady, lb[k]), prios[k]
		if t < bestT || t == bestT && (prio < bestPrio || prio == bestPrio && b.candSeq < bestSeq) {
			bestT, bestPrio, bestSeq, bestBank = t, prio, b.candSeq, base+li
		}
	}
	return bestT, bestPrio, bestBank
}

// pickBanks is pick's pass over channel ch's banks with requests of mode, in the
// general case: each bank's channel and rank constraints are its own (bankKey, inlined
// by hand). It starts from bestT (the refresh work's time, or never) and returns the
// best key and its bank (-1 if no bank beats bestT); ties go as in pick.
func (s *state) pickBanks(ch, mode int, floor, bestT uint64, refreshing bool) (uint64, uint8, int) {
	c := s.cfg
	bestSeq, bestPrio, bestBank := uint64(0), uint8(0), -1
	base := ch * c.banksPerCh
	banks, groups := s.banks, s.groups
	off := int(s.chans[ch].activeOff[mode])
	for w := range c.activeWords {
		for word := s.active[off+w]; word != 0; word &= word - 1 {
			bi := base + w<<6 + bits.TrailingZeros64(word)
			b := &banks[bi]
			if refreshing && s.ranks[b.rank].refreshing {
				continue
			}
			if !b.candOK || b.candMode != uint8(mode) {
				s.freshCand(b, mode)
			}
			if b.candReady > bestT {
				continue // channel constraints only delay it further
			}
			t, prio := max(b.candReady, floor), uint8(2)
			switch b.candKind {
			case cmdRead:
				t, prio = max(t, groups[b.group].rd), 1
			case cmdWrite:
				t, prio = max(t, groups[b.group].wr), 1
			case cmdAct:
				rk := &s.ranks[b.rank]
				t = max(t, groups[b.group].act, rk.faw[rk.fawPos])
			}
			if t < bestT || t == bestT && (prio < bestPrio || prio == bestPrio && b.candSeq < bestSeq) {
				bestT, bestPrio, bestSeq, bestBank = t, prio, b.candSeq, bi
			}
		}
	}
	return bestT, bestPrio, bestBank
}

// freshCand is local with its common cases inlined by hand (the bank passes of pick
// are the scheduler's hot spot): a closed bank activates, a head that hits the open
// row is served.
func (s *state) freshCand(b *bankState, mode int) {
	head := b.head[mode]
	hs := &s.slots[head]
	switch {
	case !b.open:
		b.candOK, b.candMode, b.candSlot, b.candPrev, b.candSeq = true, uint8(mode), head, -1, hs.seq
		b.candKind, b.candReady = cmdAct, b.actReady
	case hs.row == b.openRow:
		b.candOK, b.candMode, b.candSlot, b.candPrev, b.candSeq = true, uint8(mode), head, -1, hs.seq
		b.candKind, b.candReady = uint8(mode), b.casReady
	default:
		s.local(b, mode)
	}
}

// pickRefresh makes the earliest refresh work of channel cs's (ch's) refreshing ranks
// the channel's pick (the first rank at equal times) and returns its time.
func (s *state) pickRefresh(cs *chanState, ch int, floor uint64) uint64 {
	c := s.cfg
	cs.candT, cs.candSeq, cs.candPrio = never, 0, 0
	cs.candBank, cs.candRank, cs.candSlot, cs.candPrev = -1, -1, -1, -1
	for r := ch * c.ranks; r < (ch+1)*c.ranks; r++ {
		if !s.ranks[r].refreshing {
			continue
		}
		if t, kind := s.refreshCand(r); max(t, floor) < cs.candT {
			cs.candT, cs.candKind, cs.candRank = max(t, floor), kind, int32(r)
		}
	}
	return cs.candT
}

// setCand makes bank b's command (b is banks[bi]), at t with priority prio, the pick.
func (cs *chanState) setCand(b *bankState, bi int, t uint64, prio uint8) {
	cs.candT, cs.candSeq, cs.candPrio = t, b.candSeq, prio
	cs.candBank, cs.candRank, cs.candSlot, cs.candPrev, cs.candKind = int32(bi), b.rank, b.candSlot, b.candPrev, b.candKind
}

// bankKey is when bank b's own command can issue, adding the channel's and rank's
// constraints to the bank's own, and its FR-FCFS priority: 1 for a column command (a
// row hit), 2 for an activate or precharge.
func (s *state) bankKey(b *bankState, floor uint64) (uint64, uint8) {
	t := max(b.candReady, floor)
	switch b.candKind {
	case cmdRead:
		return max(t, s.groups[b.group].rd), 1
	case cmdWrite:
		return max(t, s.groups[b.group].wr), 1
	case cmdAct:
		rk := &s.ranks[b.rank]
		return max(t, s.groups[b.group].act, rk.faw[rk.fawPos]), 2
	}
	return t, 2
}

// local computes bank b's own next command for the queue of mode.
func (s *state) local(b *bankState, mode int) {
	head := b.head[mode]
	hs := &s.slots[head]
	b.candOK, b.candMode, b.candSlot, b.candPrev, b.candSeq = true, uint8(mode), head, -1, hs.seq
	switch {
	case !b.open:
		b.candKind, b.candReady = cmdAct, b.actReady
	case hs.row == b.openRow:
		b.candKind, b.candReady = uint8(mode), b.casReady
	default:
		// The oldest request needs another row. Serve a younger hit first, within the
		// visible part of the queue and the row-hit limit; else close the row.
		b.candKind, b.candReady = cmdPre, b.preReady
		if b.casSinceAct < rowHitCap {
			s.youngerHit(b, head, mode)
		}
	}
}

// youngerHit makes the oldest request after head to bank b's open row, among the
// oldest bank_queue_depth, the bank's command.
func (s *state) youngerHit(b *bankState, head int32, mode int) {
	prev, n := head, 1
	for i := s.slots[head].next; i >= 0 && n < s.cfg.bankQ; i = s.slots[i].next {
		if sl := &s.slots[i]; sl.row == b.openRow {
			b.candSlot, b.candPrev, b.candSeq = i, prev, sl.seq
			b.candKind, b.candReady = uint8(mode), b.casReady
			return
		}
		prev, n = i, n+1
	}
}

// rankBanks returns the banks of rank r (an index in state.ranks).
func (s *state) rankBanks(r int) []bankState {
	n := s.cfg.banksPerRank
	return s.banks[r*n : (r+1)*n]
}

// refreshCand is the next refresh command of rank r and its earliest cycle: a
// precharge-all while a bank is open, then the refresh.
func (s *state) refreshCand(r int) (uint64, uint8) {
	banks := s.rankBanks(r)
	if s.ranks[r].openBanks > 0 {
		var t uint64
		for i := range banks {
			if banks[i].open {
				t = max(t, banks[i].preReady)
			}
		}
		return t, cmdPreAll
	}
	var t uint64
	for i := range banks {
		t = max(t, banks[i].actReady)
	}
	return t, cmdRef
}

// execute issues channel cs's (channel ch's) picked command at now. It reports
// whether it also picked the channel's next command.
func (s *state) execute(cs *chanState, ch int) (picked bool) {
	cs.lastCmd, cs.cmdIssued, cs.stale = s.now, true, true
	if s.onCmd != nil {
		var addr uint64
		if cs.candSlot >= 0 {
			addr = s.slots[cs.candSlot].addr
		}
		s.onCmd(cs.candKind, s.now, addr)
	}
	switch cs.candKind {
	case cmdRead, cmdWrite:
		s.column(cs, ch)
		return s.pickOne(cs, ch)
	case cmdAct:
		s.activate(int(cs.candBank), s.slots[cs.candSlot].row)
	case cmdPre:
		s.precharge(int(cs.candBank), s.now, true)
		s.stats.Precharges++
	case cmdPreAll:
		s.prechargeAll(int(cs.candRank))
	case cmdRef:
		s.refresh(int(cs.candRank))
	}
	return false
}

// pickOne is pick for the common case after a column command: no rank refreshing,
// and at most one bank with requests in the mode the channel is in, or any number
// in a flat channel (config.flat). It reports whether that was the case (and the
// pick is made).
func (s *state) pickOne(cs *chanState, ch int) bool {
	c := s.cfg
	if c.activeWords != 1 || cs.refreshing > 0 {
		return false
	}
	// The pick's mode, decided as pick does (deciding may start or end a drain).
	mode := cs.mode(c)
	word := s.active[cs.activeOff[mode]]
	if word&(word-1) != 0 {
		if !c.flat {
			return false
		}
		// Several banks, but a flat channel's pass is cheap enough to make here, with
		// what is known already (no refresh due; a command issued at now).
		cs.stale, cs.pickMode = false, uint8(mode)
		t, prio, bi := s.pickFlat(ch, mode, s.now+1)
		cs.setCand(&s.banks[bi], bi, t, prio) // bi >= 0: the word has banks
		cs.next = min(t, cs.wake)
		return true
	}
	cs.stale, cs.pickMode = false, uint8(mode)
	if word == 0 {
		cs.candT, cs.candSeq, cs.candPrio = never, 0, 0
		cs.candBank, cs.candRank, cs.candSlot, cs.candPrev = -1, -1, -1, -1
		cs.next = cs.wake
		return true
	}
	bi := ch*c.banksPerCh + bits.TrailingZeros64(word)
	b := &s.banks[bi]
	if !b.candOK || b.candMode != uint8(mode) {
		s.local(b, mode)
	}
	// A command was issued at now: the next can be at now+1 at the earliest.
	t, prio := s.bankKey(b, s.now+1)
	cs.setCand(b, bi, t, prio)
	cs.next = min(t, cs.wake)
	return true
}

func (s *state) activate(bi int, row uint64) {
	c := s.cfg
	t := s.now
	b := &s.banks[bi]
	b.open, b.openRow = true, row
	b.casReady = t + c.rcd
	b.preReady = max(b.preReady, t+c.ras)
	b.actReady = max(b.actReady, t+c.rc)
	b.conflictAct, b.casSinceAct, b.candOK = b.closedByConflict, 0, false
	rank := int(b.rank)
	groups := s.groups[rank*c.bankGroups : (rank+1)*c.bankGroups]
	for i := range groups {
		d := c.rrdS
		if i+rank*c.bankGroups == int(b.group) {
			d = c.rrdL
		}
		groups[i].act = max(groups[i].act, t+d)
	}
	rk := &s.ranks[rank]
	rk.faw[rk.fawPos] = t + c.faw
	rk.fawPos = (rk.fawPos + 1) & 3
	if rk.openBanks == 0 && t > rk.closedSince {
		s.stats.ClosedRankCycles += t - rk.closedSince
	}
	rk.openBanks++
	s.stats.Activates++
}

// precharge closes bank bi's row at cycle t.
func (s *state) precharge(bi int, t uint64, conflict bool) {
	b := &s.banks[bi]
	b.open, b.closedByConflict, b.candOK = false, conflict, false
	b.actReady = max(b.actReady, t+s.cfg.rp)
	rk := &s.ranks[b.rank]
	rk.openBanks--
	if rk.openBanks == 0 {
		rk.closedSince = t
	}
}

func (s *state) prechargeAll(rank int) {
	first := rank * s.cfg.banksPerRank
	for i := range s.rankBanks(rank) {
		if s.banks[first+i].open {
			s.precharge(first+i, s.now, false)
			s.stats.Precharges++
		}
	}
}

func (s *state) refresh(rank int) {
	c := s.cfg
	banks := s.rankBanks(rank)
	for i := range banks {
		b := &banks[i]
		b.actReady = max(b.actReady, s.now+c.rfc)
		b.candOK = false
	}
	rk := &s.ranks[rank]
	rk.refreshing = false
	rk.nextRefresh += c.refi
	s.stats.Refreshes++
	s.updateWake(rank / c.ranks)
}

// skipRefreshes performs, without stepping them, the refreshes of channel ch's idle
// ranks that fall due before cycle until: with every bank precharged and no request
// queued, each is a refresh command exactly at its due time.
func (s *state) skipRefreshes(ch int, until uint64) {
	c := s.cfg
	cs := &s.chans[ch]
	// Ranks fall due at distinct cycles (staggered), so their refreshes never need the
	// same command slot; only a command already issued could.
	for r := ch * c.ranks; r < (ch+1)*c.ranks; r++ {
		rk := &s.ranks[r]
		due := rk.nextRefresh
		if rk.refreshing || rk.openBanks > 0 || due >= until || cs.cmdIssued && cs.lastCmd >= due {
			continue
		}
		banks := s.rankBanks(r)
		ready := true
		for i := range banks {
			ready = ready && banks[i].actReady <= due
		}
		if !ready {
			continue
		}
		k := (until-1-due)/c.refi + 1
		last := due + (k-1)*c.refi
		for i := range banks {
			banks[i].actReady = max(banks[i].actReady, last+c.rfc)
			banks[i].candOK = false
		}
		rk.nextRefresh = due + k*c.refi
		s.stats.Refreshes += int64(k)
		// The refresh commands took slots before until, where nothing else of this
		// channel is; the command bus floor stays as it is.
		cs.stale = true
	}
	if cs.stale {
		s.updateWake(ch)
		s.pick(ch)
	}
}

// column issues the read or write channel cs (channel ch) picked, at now.
func (s *state) column(cs *chanState, ch int) {
	c := s.cfg
	t := s.now
	bi, slotIdx, prevIdx := int(cs.candBank), cs.candSlot, cs.candPrev
	mode := int(cs.candKind & 1) // cmdRead or cmdWrite: the mode
	b := &s.banks[bi]
	sl := &s.slots[slotIdx]
	st := &s.stats

	if b.casSinceAct == 0 { // else a row hit
		if b.conflictAct {
			st.RowConflicts++
		} else {
			st.RowMisses++
		}
	}
	b.casSinceAct++

	s.lastWork = t
	end := t + c.colLatency[mode]
	st.LastDataEnd = max(st.LastDataEnd, end)
	if sl.gen == s.gen {
		s.genEnd = max(s.genEnd, end)
	}
	if mode == modeWrite {
		st.Writes++
		b.preReady = max(b.preReady, t+c.wrToPre)
		cs.writeFilter[writeBucket(sl.addr)]--
	} else {
		st.Reads++
		st.ReadLatency += end - sl.accept
		st.ReadLatencyFromIssue += end - min(sl.issue, end)
		if q := &s.done; end >= q.last && q.n < len(q.buf) {
			q.buf[(q.head+q.n)&(len(q.buf)-1)] = end // push, inlined by hand
			q.n++
			q.last = end
		} else {
			q.push(end)
		}
		b.preReady = max(b.preReady, t+c.rtp)
	}
	cs.queued[mode]--

	// Later column commands of this rank's bank groups and of the channel's other
	// ranks: delays[0] to another rank, [1] to another group of this rank, [2] to this
	// group.
	delays := &c.colDelays[mode]
	if c.groupsPerCh == 1 {
		g := &s.groups[ch]
		g.rd, g.wr = max(g.rd, t+delays[2].rd), max(g.wr, t+delays[2].wr)
	} else {
		perCh := c.groupsPerCh
		groups := s.groups[ch*perCh : (ch+1)*perCh]
		mine := int(b.group) - ch*perCh
		rankLo := mine &^ (c.bankGroups - 1)
		for i := range groups {
			k := 0
			if i == mine {
				k = 2
			} else if i >= rankLo && i < rankLo+c.bankGroups {
				k = 1
			}
			groups[i].rd = max(groups[i].rd, t+delays[k].rd)
			groups[i].wr = max(groups[i].wr, t+delays[k].wr)
		}
	}

	// Take the request out of its bank queue.
	if prevIdx < 0 {
		b.head[mode] = sl.next
	} else {
		s.slots[prevIdx].next = sl.next
	}
	if b.tail[mode] == slotIdx {
		b.tail[mode] = prevIdx
	}
	b.count[mode]--
	if b.count[mode] == 0 {
		local := bi - ch*c.banksPerCh
		s.active[int(cs.activeOff[mode])+local>>6] &^= 1 << (local & 63)
	}
	sl.next = s.freeHead
	s.freeHead = slotIdx
	b.candOK = false

	if c.closedPage {
		// Auto-precharge: no command slot, at the earliest time the bank allows.
		s.precharge(bi, b.preReady, false)
		st.Precharges++
	}
}

// doneQueue holds the completion times of the requester's reads in flight, in
// increasing order, in a ring buffer. A read served by a column command completes a
// fixed latency after it, so those come in order; a read answered from the write
// buffer completes a cycle after it is accepted and is sorted in from the back.
type doneQueue struct {
	buf     []uint64 // a power-of-two length
	head, n int
	last    uint64 // the latest time pushed (in the queue, unless it emptied since)
}

func newDoneQueue(c *config) doneQueue {
	// A read stays here from its column command until the next cycle the scheduler
	// visits after its data's end: at most one per channel per cycle of read latency,
	// plus the forwarded ones. push grows the buffer as needed; the first size is
	// bounded so that a long tCL costs memory only if reads do fill it.
	n := 8
	for n < c.channels*int(min(c.cl+c.burst, 1024)+2)+4 {
		n *= 2
	}
	return doneQueue{buf: make([]uint64, n)}
}

// first is the earliest completion; the queue must not be empty.
func (q *doneQueue) first() uint64 { return q.buf[q.head] }

func (q *doneQueue) pop() {
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
}

// push adds a completion time; the common case (the latest yet) is inlined.
func (q *doneQueue) push(v uint64) {
	if v < q.last || q.n == len(q.buf) {
		q.insert(v)
		return
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = v
	q.n++
	q.last = v
}

// insert sorts v in from the back, growing the buffer if it is full.
func (q *doneQueue) insert(v uint64) {
	if q.n == len(q.buf) {
		buf := make([]uint64, 2*len(q.buf))
		for i := range q.n {
			buf[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
		}
		q.buf, q.head = buf, 0
	}
	mask := len(q.buf) - 1
	i := q.head + q.n
	for ; i > q.head && q.buf[(i-1)&mask] > v; i-- {
		q.buf[i&mask] = q.buf[(i-1)&mask]
	}
	q.buf[i&mask] = v
	q.n++
	q.last = q.buf[(q.head+q.n-1)&mask]
}

// copyFrom makes q hold o's times, allocating only if o grew.
func (q *doneQueue) copyFrom(o *doneQueue) {
	if len(q.buf) != len(o.buf) {
		q.buf = make([]uint64, len(o.buf))
	}
	for i := range o.n {
		q.buf[i] = o.buf[(o.head+i)&(len(o.buf)-1)]
	}
	q.head, q.n, q.last = 0, o.n, o.last
}
