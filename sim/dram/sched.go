package dram

import (
	"fmt"
	"math/bits"
)

// The controller follows DRAMsim3's (src/controller.cc, src/command_queue.cc): a
// request waits in its channel's transaction queue (reads) or write buffer (writes)
// until its bank's command queue, bank_queue_depth requests of either kind, has room
// and the channel admits its kind (reads, or writes while they drain, see mode); the
// scheduler sees only the command queues. In each bank the first request (in admission
// order) whose command is ready goes: the oldest request's activate or precharge, or
// any request's column command to the open row, where a precharge for the oldest waits
// while a younger request hits the open row, until the row has served rowHitCap column
// commands. Across banks the first ready command goes, the banks taken in round-robin
// order from the one after the last that issued (refresh work first).
//
// The scheduler is event driven: it does not step idle cycles. At a cycle `now` it
// accepts at most one request, then lets each channel issue the command picked among
// those whose timing allows them now; then it jumps to the next cycle at which a
// request can be accepted or a command can issue. Picking the earliest command, ties
// broken as above, is what stepping every cycle and issuing the first ready command
// would do. Each channel keeps its next command (and its time) cached until something
// in the channel changes, and each bank its own options (see bankState) until its
// queue or state changes, so a decision costs a pass over the banks that have
// requests, with a few comparisons each.
//
// The loop runs about twice per DRAM burst of every simulated transfer (a training
// step moves 10^5 to 10^7 bursts), so it is written for speed (TestEquivalence pins
// its decisions):
//   - a request is decoded once, when it comes up, and consecutive requests to the
//     same row reuse the decoding;
//   - the hot structs are flat and updated field by field: a small struct built and
//     then copied whole is read back with wide loads that store forwarding cannot
//     serve, a stall of a dozen cycles each time;
//   - no division on the hot path: counts are powers of two, delays precomputed;
//   - the refresh state of a channel is kept up to date when it changes (rarely)
//     instead of being recomputed at every decision;
//   - after a command, a channel with at most one bank holding admitted requests
//     picks without the general pass (pickOne); the requester's next arrival is
//     recomputed only when something it depends on changed;
//   - counting filters spare nearly every search of the write buffer and the read
//     queue, and the reads in flight are a sorted ring (they complete in the order of
//     their column commands) rather than a heap;
//   - Stats fields that follow from others (bytes, bursts, row hits) are derived
//     when read rather than counted per burst.

// Command kinds. The column kinds double as the request mode: modeRead, modeWrite.
const (
	cmdRead uint8 = iota
	cmdWrite
	cmdAct
	cmdPre
	cmdPreAll
	cmdRef
	cmdNone
)

const (
	modeRead  = 0
	modeWrite = 1
)

// The channel's bank sets in state.active: banks with queued reads, with queued
// writes, and with requests in their command queue.
const (
	setReads = iota
	setWrites
	setAdmitted
	numSets
)

// slot is one queued request. It is 64 bytes, a cache line: the scheduler follows
// the lists of slots on every decision, and a power-of-two size indexes them by a
// shift. What few requests need (the sums of merged reads) is kept apart, in mergeSum.
type slot struct {
	row uint64
	// key is the request's address as given, offset and all: DRAMsim3 merges writes,
	// and reads, and forwards a buffered write to a read, by this address.
	key           uint64
	issue, accept uint64
	// seq is the admission order into the bank's command queue (valid once admitted).
	seq, seen uint64
	// merged reads wait on this one's burst (their sums are in state.merges).
	merged int32
	next   int32  // next slot of the same bank and mode, or the free list; -1 ends
	gen    uint32 // the latest Transfer that submitted it (or a read merged into it)
}

// mergeSum adds up the issue and accept cycles of the reads merged into a slot's read
// (for the latencies); it is valid while the slot's merged count is positive.
type mergeSum struct {
	issue, accept uint64
}

// bankState is one bank: its row, its timing, its queues and its options.
//
// Each mode's requests are a list in arrival order (head, tail, count); the first
// adm of each list are in the bank's command queue (admTail the last of them). The
// options, valid while candOK, are what the bank may issue next by its command queue:
// the oldest admitted read and write to the open row (hit, with its predecessor in its
// list and its admission order), and the row command of the oldest admitted request
// (rowKind: cmdAct when the bank is closed, cmdPre when it needs another row and a
// precharge is permitted, else cmdNone).
type bankState struct {
	// The fields a pick pass reads come first, to share a cache line.
	oneReady uint64 // the only option's earliest cycle by the bank's timing, while one
	oneKind  uint8  // and its kind
	one      bool   // the bank has one option
	candOK   bool
	rowKind  uint8
	hitReady [2]uint64
	rowReady uint64
	hitSeq   [2]uint64
	rowSeq   uint64
	openRow  uint64
	// Earliest column command, precharge and activate by this bank's own timing.
	casReady, preReady, actReady uint64
	hit, hitPrev                 [2]int32
	rowSlot                      int32
	head, tail                   [2]int32
	count, adm                   [2]int32
	admTail                      [2]int32
	rank, group                  int32 // index in state.ranks and in state.groups (fixed)
	casSinceAct                  uint32
	open                         bool
	conflictAct                  bool // the open row's activate followed a conflict's precharge
	closedByConflict             bool // the last precharge was for a conflict
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
	// The picked command (cand*): when it can issue and its place in the
	// round-robin order (candDist, see pick); its kind, bank (-1 for refresh work),
	// rank, request and the request's predecessor in its list.
	candT              uint64
	candDist           uint32
	candSlot, candPrev int32
	candBank, candRank int32
	queued             [2]int32 // requests queued per mode (reads, writes)
	// waiting counts, per mode, the queued requests not yet in their bank's command
	// queue: those in the transaction queue (or write buffer), which holds
	// transaction_queue_depth (write_buffer_depth) of them.
	waiting    [2]int32
	activeOff  [numSets]int32 // where each bank set's words of state.active start (fixed)
	refreshing int32          // ranks whose refresh is due (wake is over the others)
	// rrNext is the bank (index within the channel) the round robin starts from: the
	// one after the last bank that issued a command.
	rrNext    int32
	candKind  uint8
	admMode   uint8 // the mode admitted into the command queues (see mode)
	drainLeft int32
	admitAt   uint64
	cmdIssued bool
	draining  bool // the write buffer is draining down to the low watermark
	stale     bool // next and cand must be recomputed
	// The filters count the buffered writes and the queued reads by a hash of their
	// key: a request whose bucket is empty has no buffered write to merge with or
	// forward from, or no queued read to merge with, which spares the search of its
	// bank's queue for nearly every request. (Unless config.filterOff: more requests
	// than the counts can count.)
	writeFilter, readFilter [filterSize]uint16
}

// filterSize is the number of buckets of chanState's filters.
const filterSize = 256

// bucket is the filter bucket of a request's key.
func bucket(key uint64) uint8 {
	return uint8((key * 0x9e3779b97f4a7c15) >> 56)
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
	merges []mergeSum // indexed as slots
	active []uint64   // per channel and bank set, activeWords words each
	done   doneQueue  // completion times of the requester's reads in flight

	freeHead int32
	// slotsUsed bounds the slots ever taken from the free list: the slots past it
	// are as reset or growSlots left them, alike in every state with as many slots,
	// so copyFrom need not copy them.
	slotsUsed int32
	admitHeap []int32 // scratch of switchMode
	inflight  int     // requester's reads accepted and not complete
	seq       uint64  // admissions so far
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

	skip skipState // the fast-forward of a steady stream (skip.go); each state its own

	// onCmd, when set (by tests), sees every command issued: its kind, cycle and the
	// address of the request it serves (0 for refresh work).
	onCmd func(kind uint8, t uint64, addr uint64)
}

// decoded is a request with its address resolved.
type decoded struct {
	row, issue uint64
	key        uint64 // the address as given (see slot.key)
	// ready is the earliest cycle the request may be accepted by its own issue cycle,
	// the Transfer's start and the one-request-per-cycle rule.
	ready uint64
	// loc is addr without its column and offset bits: requests with the same loc are
	// in the same channel, bank and row, so the next request can reuse the decoding.
	loc             uint64
	ch, bank, local int32 // channel, index in state.banks, index within the channel
	queueCap        int32 // the depth of the transaction queue of its mode
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
		slots:  make([]slot, min(c.channels*(c.readQ+c.writeQ), 1024)),
		merges: make([]mergeSum, min(c.channels*(c.readQ+c.writeQ), 1024)),
		active: make([]uint64, numSets*c.channels*c.activeWords),
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
		b.admTail = [2]int32{-1, -1}
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
		cs.candSlot, cs.candPrev, cs.candRank = -1, -1, -1
		for k := range cs.activeOff {
			cs.activeOff[k] = int32((i*numSets + k) * c.activeWords)
		}
	}
	for ch := range s.chans {
		s.updateWake(ch)
	}
	s.freeHead, s.slotsUsed = 0, 0
	s.done.head, s.done.n, s.done.last = 0, 0, 0
	s.now, s.inflight, s.seq, s.stats = 0, 0, 0, Stats{}
	s.src, s.srcPos, s.at, s.window, s.gen, s.genEnd = nil, 0, 0, 0, 0, 0
	s.lastAccept, s.accepted, s.lastWork = 0, false, 0
}

// copyFrom makes s an exact copy of o, allocating only if o's slots grew.
func (s *state) copyFrom(o *state) {
	used := max(s.slotsUsed, o.slotsUsed) // past both, the slots are alike already
	if len(s.slots) != len(o.slots) {
		s.slots = make([]slot, len(o.slots))
		s.merges = make([]mergeSum, len(o.merges))
		used = int32(len(o.slots))
	}
	chans, banks, ranks, groups, slots, merges, active, done, heap, skip := s.chans, s.banks, s.ranks, s.groups, s.slots, s.merges, s.active, s.done, s.admitHeap, s.skip
	*s = *o
	s.chans, s.banks, s.ranks, s.groups, s.slots, s.merges, s.active, s.done, s.admitHeap, s.skip = chans, banks, ranks, groups, slots, merges, active, done, heap, skip
	copy(s.chans, o.chans)
	copy(s.banks, o.banks)
	copy(s.ranks, o.ranks)
	copy(s.groups, o.groups)
	copy(s.slots[:used], o.slots)
	copy(s.merges[:used], o.merges)
	copy(s.active, o.active)
	s.done.copyFrom(&o.done)
}

// snapshot returns the statistics, with the standby accounting closed at LastDataEnd.
func (s *state) snapshot() Stats {
	st := s.stats
	bb := int64(s.cfg.burstBytes)
	st.ReadBytes, st.WriteBytes = st.Reads*bb, st.Writes*bb
	st.settle() // the bursts and row hits; the counters it bounds are within them here
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
	s.beginSkip(len(reqs))
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
	n.key, n.issue = r.Addr, r.Issue
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
		ch, local, row := c.place(addr)
		n.row = row
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
	chans := s.chans // fixed while the Controller lives
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
			if s.srcPos == s.skip.at && s.fastForward() {
				now = s.now
			}
		}
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
	if s.chans[r.ch].waiting[r.mode&1] >= r.queueCap {
		return never // the transaction queue (write buffer) is full
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
	// to it; a read of an address already queued waits for that read's burst. All three
	// match the address as given (as DRAMsim3 does), not the burst.
	k := bucket(r.key)
	if b.count[modeWrite] > 0 && (cs.writeFilter[k] > 0 || c.filterOff) && s.find(b, modeWrite, r.key) >= 0 {
		s.forward(mode, r.issue)
		return
	}
	if mode == modeRead && b.count[modeRead] > 0 && (cs.readFilter[k] > 0 || c.filterOff) {
		if i := s.find(b, modeRead, r.key); i >= 0 {
			sl, ms := &s.slots[i], &s.merges[i]
			if sl.merged == 0 {
				ms.issue, ms.accept = 0, 0
			}
			sl.merged++
			ms.issue += r.issue
			ms.accept += now
			sl.gen = s.gen
			s.inflight++
			return
		}
	}

	cs.queued[mode]++
	cs.waiting[mode]++
	if mode == modeWrite {
		cs.writeFilter[k]++
	} else {
		cs.readFilter[k]++
		s.inflight++
	}
	i := s.freeHead
	if i < 0 {
		i = s.growSlots()
	}
	s.slotsUsed = max(s.slotsUsed, i+1)
	sl := &s.slots[i]
	s.freeHead = sl.next
	// Field by field, not a struct literal: see the speed notes at the top.
	sl.row, sl.key, sl.issue, sl.accept, sl.next, sl.gen, sl.merged = r.row, r.key, r.issue, now, -1, s.gen, 0
	if t := b.tail[mode]; t >= 0 {
		s.slots[t].next = i
	} else {
		b.head[mode] = i
		s.active[int(cs.activeOff[mode])+local>>6] |= 1 << (local & 63)
	}
	b.tail[mode] = i
	b.count[mode]++

	// Admit it, or everything a change of mode lets in.
	m := cs.mode(c)
	if m != int(cs.admMode) {
		s.switchMode(cs, int(r.ch), m)
		return
	}
	if m != mode || b.adm[modeRead]+b.adm[modeWrite] >= int32(c.bankQ) {
		return // it waits
	}
	// Every earlier request of this bank and mode was admitted (admission is eager):
	// this one is the next.
	s.admitOne(cs, b, mode)
	s.active[int(cs.activeOff[setAdmitted])+local>>6] |= 1 << (local & 63)

	// Update the channel's cached pick: when nothing else changed, only this bank's
	// options can have become the best.
	switch {
	case cs.stale:
	case cs.candBank == int32(bi):
		cs.stale = true
	case !s.ranks[b.rank].refreshing:
		if !b.candOK {
			s.options(b)
		}
		if b.earliest() > cs.candT {
			return // channel constraints only delay it further
		}
		floor := now
		if cs.cmdIssued && cs.lastCmd >= now {
			floor = cs.lastCmd + 1
		}
		t, kind := s.bankKey(b, floor)
		if d := cs.dist(c, local); t < cs.candT || t == cs.candT && d < cs.candDist {
			cs.setCand(b, bi, t, d, kind)
			cs.next = min(t, cs.wake)
		}
	}
}

// admit moves bank b's (local index local's) waiting requests of mode into its command
// queue while it has room, in arrival order, and reports whether it moved any.
func (s *state) admit(cs *chanState, b *bankState, local, mode int) bool {
	moved := false
	for s.canAdmit(b, mode) {
		s.admitOne(cs, b, mode)
		moved = true
	}
	if moved {
		s.active[int(cs.activeOff[setAdmitted])+local>>6] |= 1 << (local & 63)
	}
	return moved
}

// canAdmit reports whether bank b has a waiting request of mode and room for it.
func (s *state) canAdmit(b *bankState, mode int) bool {
	return b.adm[modeRead]+b.adm[modeWrite] < int32(s.cfg.bankQ) && b.count[mode] > b.adm[mode]
}

// nextWaiting is bank b's oldest waiting request of mode (canAdmit must hold).
func (s *state) nextWaiting(b *bankState, mode int) int32 {
	if t := b.admTail[mode]; t >= 0 {
		return s.slots[t].next
	}
	return b.head[mode]
}

// admitOne moves bank b's oldest waiting request of mode into its command queue. As
// in DRAMsim3, which moves one request a cycle, after its command issue, from the
// transaction queue to a command queue, a request admitted now has its commands
// considered from the next cycle, and each further one admitted at once a cycle later.
func (s *state) admitOne(cs *chanState, b *bankState, mode int) {
	i := s.nextWaiting(b, mode)
	s.seq++
	cs.admitAt = max(cs.admitAt, s.now+1)
	sl := &s.slots[i]
	sl.seq, sl.seen = s.seq, cs.admitAt
	cs.admitAt++
	if mode == modeWrite && cs.draining {
		cs.drainLeft--
	}
	b.admTail[mode] = i
	b.adm[mode]++
	cs.waiting[mode]--
	// A request joining the command queue behind others changes the bank's options
	// only if it is the first hit of its kind to the open row.
	if b.adm[modeRead]+b.adm[modeWrite] == 1 || b.open && sl.row == b.openRow && b.hit[mode] < 0 {
		b.candOK = false
	}
}

// switchMode makes channel cs (channel ch) admit mode from now on, and admits the
// waiting requests of mode that the banks have room for, oldest first (DRAMsim3 takes
// its transaction queue from the front).
func (s *state) switchMode(cs *chanState, ch, mode int) {
	c := s.cfg
	cs.admMode = uint8(mode)
	if cs.waiting[mode] == 0 {
		return
	}
	base := ch * c.banksPerCh
	// A heap of the banks that can admit, by the arrival of their oldest waiting
	// request (requests are accepted one a cycle: arrivals are distinct).
	h := s.admitHeap[:0]
	off := int(cs.activeOff[mode])
	for w := range c.activeWords {
		for word := s.active[off+w]; word != 0; word &= word - 1 {
			if bi := base + w<<6 + bits.TrailingZeros64(word); s.canAdmit(&s.banks[bi], mode) {
				h = append(h, int32(bi))
			}
		}
	}
	arrival := func(k int) uint64 { return s.slots[s.nextWaiting(&s.banks[h[k]], mode)].accept }
	down := func(k int) {
		for {
			m := k
			for _, j := range [2]int{2*k + 1, 2*k + 2} {
				if j < len(h) && arrival(j) < arrival(m) {
					m = j
				}
			}
			if m == k {
				return
			}
			h[k], h[m] = h[m], h[k]
			k = m
		}
	}
	for k := len(h)/2 - 1; k >= 0; k-- {
		down(k)
	}
	for len(h) > 0 {
		bi := int(h[0])
		b := &s.banks[bi]
		s.admitOne(cs, b, mode)
		local := bi - base
		s.active[int(cs.activeOff[setAdmitted])+local>>6] |= 1 << (local & 63)
		cs.stale = true
		if !s.canAdmit(b, mode) {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		down(0)
	}
	s.admitHeap = h
}

// growSlots doubles the request slots and returns a free one. The controller holds up
// to transaction_queue_depth + bank_queue_depth x banks requests of each kind per
// channel, but only as many as the requester keeps queued: slots are made as needed.
func (s *state) growSlots() int32 {
	n := len(s.slots)
	s.slots = append(s.slots, make([]slot, n)...)
	s.merges = append(s.merges, make([]mergeSum, n)...)
	for i := n; i < 2*n; i++ {
		s.slots[i].next = int32(i + 1)
	}
	s.slots[2*n-1].next = s.freeHead
	s.freeHead = int32(n)
	return s.freeHead
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

// find returns the slot of bank b's list of mode holding a request with key, or -1.
func (s *state) find(b *bankState, mode int, key uint64) int32 {
	for i := b.head[mode]; i >= 0; i = s.slots[i].next {
		if s.slots[i].key == key {
			return i
		}
	}
	return -1
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

// mode decides which requests the channel admits into the command queues: writes once
// the write buffer holds write_high_watermark of them, until it is down to the low
// one, and whenever no read is queued; reads otherwise. Requests already admitted are
// served whatever the mode (as in DRAMsim3, whose controller decides only what enters
// the command queues): a write admitted while no read waited keeps its bank's
// precharge and activate, rather than losing the bank to the next read.
func (cs *chanState) mode(c *config) int {
	buffered := cs.waiting[modeWrite]
	if !cs.draining && buffered >= int32(c.highMark) {
		cs.draining, cs.drainLeft = true, buffered-int32(c.lowMark)
	}
	if cs.draining && (cs.drainLeft <= 0 || buffered == 0) {
		cs.draining = false
	}
	if cs.draining || cs.queued[modeRead] == 0 && buffered > 0 && cs.queued[modeWrite] == buffered {
		return modeWrite
	}
	return modeRead
}

// dist is bank local's place in channel cs's round robin: 1 for the bank it starts
// from, up to the number of banks (refresh work takes 0).
func (cs *chanState) dist(c *config, local int) uint32 {
	return 1 + uint32(local-int(cs.rrNext))&uint32(c.banksPerCh-1)
}

// pick computes channel ch's next command and when it can issue: the earliest; at
// equal times refresh work first, then the banks in round-robin order from the one
// after the last bank that issued a command (DRAMsim3's GetCommandToIssue).
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
	// refresh is due, if any: it wins ties (its distance is 0).
	bestT, bestDist, bestKind, bestBank := uint64(never), uint32(0), uint8(0), -1
	refreshing := cs.refreshing > 0
	if refreshing {
		bestT = s.pickRefresh(cs, ch, floor)
	}
	if c.flat {
		// One rank of one bank group per channel: the channel and rank constraints are
		// the same for every bank, so they are looked up once (see pickFlat).
		if !refreshing { // else the only rank is refreshing: no bank may compete
			bestT, bestDist, bestKind, bestBank = s.pickFlat(ch, floor)
		}
	} else {
		bestT, bestDist, bestKind, bestBank = s.pickBanks(ch, floor, bestT, refreshing)
	}
	if bestBank >= 0 {
		cs.setCand(&s.banks[bestBank], bestBank, bestT, bestDist, bestKind)
	} else if !refreshing {
		cs.noCand()
	}
	cs.next = min(bestT, cs.wake)
}

// pickFlat is pick's pass over channel ch's banks with admitted requests when the
// channel is flat (config.flat: one rank of one bank group, one word of banks) and
// no refresh is due: the channel and rank constraints on each kind of command are the
// same for every bank, so they are computed once and looked up by kind. It returns
// the best time (never if none), its round-robin distance, kind and bank (-1 if none);
// ties go as in pick.
func (s *state) pickFlat(ch int, floor uint64) (uint64, uint32, uint8, int) {
	c := s.cfg
	lb := floors(&s.groups[ch], &s.ranks[ch], floor)
	base := ch * c.banksPerCh
	banks := s.banks[base : base+c.banksPerCh]
	// Each bank's time and its place in the round-robin order are packed into one key,
	// time<<6 | place, whose minimum is the pick (of equal times, the first in that
	// order): a conditional move a bank instead of a branch the CPU cannot predict.
	// Times from 2^58 on (never met: years of cycles, or no option) take the loop of
	// keys.
	rot, rr := s.admittedInTurn(ch)
	mask := uint(c.banksPerCh - 1)
	best := uint64(never)
	for ; rot != 0; rot &= rot - 1 {
		place := uint(bits.TrailingZeros64(rot))
		b := &banks[(place+rr)&mask]
		if !b.candOK {
			s.options(b)
		}
		var t uint64
		if b.one {
			t = max(b.oneReady, lb[b.oneKind&3])
		} else {
			t, _ = b.key(&lb)
		}
		if t >= 1<<58 {
			return s.pickFlatLate(ch, &lb)
		}
		best = min(best, t<<6|uint64(place))
	}
	if best == never {
		return never, 0, 0, -1
	}
	place := uint(best & 63)
	li := int((place + rr) & mask)
	b := &banks[li]
	kind := b.oneKind
	if !b.one {
		_, kind = b.key(&lb)
	}
	return best >> 6, uint32(place) + 1, kind, base + li // the distance is 1 + the place (see dist)
}

// pickFlatLate is pickFlat's pass for times too late to pack, with lb the channel's
// constraints by kind: the same pick by comparing times alone.
func (s *state) pickFlatLate(ch int, lb *[4]uint64) (uint64, uint32, uint8, int) {
	c := s.cfg
	cs := &s.chans[ch]
	base := ch * c.banksPerCh
	banks := s.banks[base : base+c.banksPerCh]
	rot, rr := s.admittedInTurn(ch)
	bestT, bestKind, bestLocal := uint64(never), uint8(0), -1
	for ; rot != 0; rot &= rot - 1 {
		li := int(uint(bits.TrailingZeros64(rot))+rr) & (c.banksPerCh - 1)
		b := &banks[li]
		if !b.candOK {
			s.options(b)
		}
		if t, kind := b.key(lb); t < bestT {
			bestT, bestKind, bestLocal = t, kind, li
		}
	}
	if bestLocal < 0 {
		return never, 0, 0, -1
	}
	return bestT, cs.dist(c, bestLocal), bestKind, base + bestLocal
}

// admittedInTurn returns flat channel ch's banks with admitted requests in round-robin
// order: a word whose bit i is the bank i places after the one the round robin starts
// from (rr, also returned), so that a pass visiting its bits in order meets the banks
// as the round robin does.
func (s *state) admittedInTurn(ch int) (uint64, uint) {
	cs := &s.chans[ch]
	n, rr := uint(s.cfg.banksPerCh), uint(cs.rrNext)
	word := s.active[cs.activeOff[setAdmitted]]
	// Shift counts masked to 6 bits (rr < n <= 64 keeps them right): shifts the
	// compiler need not guard against counts of 64 or more.
	return (word>>(rr&63) | word<<((n-rr)&63)) & (^uint64(0) >> ((64 - n) & 63)), rr
}

// floors is the earliest cycle, from floor on, each kind of command may issue by the
// constraints of bank group g and rank rk, indexed by kind: cmdRead, cmdWrite,
// cmdAct, cmdPre.
func floors(g *groupState, rk *rankState, floor uint64) [4]uint64 {
	return [4]uint64{max(floor, g.rd), max(floor, g.wr), max(floor, g.act, rk.faw[rk.fawPos]), floor}
}

// pickBanks is pick's pass over channel ch's banks with admitted requests, in the
// general case: each bank's channel and rank constraints are its own (bankKey). It
// starts from bestT (the refresh work's time, or never) and returns the best as
// pickFlat does (bank -1 if no bank beats bestT); ties go as in pick.
func (s *state) pickBanks(ch int, floor, bestT uint64, refreshing bool) (uint64, uint32, uint8, int) {
	c := s.cfg
	cs := &s.chans[ch]
	bestDist, bestKind, bestBank := uint32(0), uint8(0), -1
	base := ch * c.banksPerCh
	banks := s.banks
	off := int(cs.activeOff[setAdmitted])
	rr, mask := uint32(cs.rrNext), uint32(c.banksPerCh-1)
	for w := range c.activeWords {
		for word := s.active[off+w]; word != 0; word &= word - 1 {
			li := w<<6 + bits.TrailingZeros64(word)
			b := &banks[base+li]
			if refreshing && s.ranks[b.rank].refreshing {
				continue
			}
			if !b.candOK {
				s.options(b)
			}
			if b.earliest() > bestT {
				continue // channel constraints only delay it further
			}
			t, kind := s.bankKey(b, floor)
			if d := 1 + (uint32(li)-rr)&mask; t < bestT || t == bestT && d < bestDist {
				bestT, bestDist, bestKind, bestBank = t, d, kind, base+li
			}
		}
	}
	return bestT, bestDist, bestKind, bestBank
}

// options computes bank b's options from its command queue (see bankState), as
// DRAMsim3's GetFirstReadyInQueue and ArbitratePrecharge see it: a closed bank
// activates for its oldest request; an open one serves any request to its row, and
// precharges for the oldest request when that needs another row, unless a younger
// request hits the open row and the row has served fewer than rowHitCap column
// commands.
func (s *state) options(b *bankState) {
	b.candOK = true
	b.hit = [2]int32{-1, -1}
	b.rowKind = cmdNone
	// The oldest admitted request: the older of the two lists' heads.
	head := int32(-1)
	if b.adm[modeRead] > 0 {
		head = b.head[modeRead]
	}
	if b.adm[modeWrite] > 0 && (head < 0 || s.slots[b.head[modeWrite]].seq < s.slots[head].seq) {
		head = b.head[modeWrite]
	}
	if head < 0 {
		return
	}
	hs := &s.slots[head]
	if !b.open {
		b.rowKind, b.rowSlot, b.rowSeq, b.rowReady = cmdAct, head, hs.seq, max(b.actReady, hs.seen)
		b.one, b.oneKind, b.oneReady = true, cmdAct, b.rowReady
		return
	}
	for m := range 2 {
		prev, n := int32(-1), int32(0)
		for i := b.head[m]; n < b.adm[m]; i, n = s.slots[i].next, n+1 {
			if sl := &s.slots[i]; sl.row == b.openRow {
				b.hit[m], b.hitPrev[m], b.hitSeq[m], b.hitReady[m] = i, prev, sl.seq, max(b.casReady, sl.seen)
				break
			}
			prev = i
		}
	}
	if hs.row != b.openRow && (b.hit[modeRead] < 0 && b.hit[modeWrite] < 0 || b.casSinceAct >= rowHitCap) {
		b.rowKind, b.rowSlot, b.rowSeq, b.rowReady = cmdPre, head, hs.seq, max(b.preReady, hs.seen)
	}
	// Most banks have one option: the pick passes look it up without comparing.
	switch {
	case b.rowKind == cmdNone && b.hit[modeWrite] < 0:
		b.one, b.oneKind, b.oneReady = true, cmdRead, b.hitReady[modeRead]
	case b.rowKind == cmdNone && b.hit[modeRead] < 0:
		b.one, b.oneKind, b.oneReady = true, cmdWrite, b.hitReady[modeWrite]
	case b.hit[modeRead] < 0 && b.hit[modeWrite] < 0:
		b.one, b.oneKind, b.oneReady = true, cmdPre, b.rowReady
	default:
		b.one = false
	}
}

// key is bank b's next command given lb, the earliest cycle of each kind of command
// by the channel's and rank's constraints (indexed by kind: read, write, activate,
// precharge): the earliest of its options, at equal times the one admitted first.
func (b *bankState) key(lb *[4]uint64) (uint64, uint8) {
	if b.one {
		return max(b.oneReady, lb[b.oneKind&3]), b.oneKind
	}
	t, seq, kind := uint64(never), uint64(0), cmdNone
	for m := range 2 {
		if b.hit[m] >= 0 {
			if tm := max(b.hitReady[m], lb[m]); tm < t || tm == t && b.hitSeq[m] < seq {
				t, seq, kind = tm, b.hitSeq[m], uint8(m)
			}
		}
	}
	if b.rowKind == cmdPre {
		if tp := max(b.rowReady, lb[cmdPre]); tp < t || tp == t && b.rowSeq < seq {
			t, kind = tp, cmdPre
		}
	}
	return t, kind
}

// bankKey is key with the constraints of bank b's own bank group and rank, from
// floor on.
func (s *state) bankKey(b *bankState, floor uint64) (uint64, uint8) {
	lb := floors(&s.groups[b.group], &s.ranks[b.rank], floor)
	return b.key(&lb)
}

// earliest is the earliest cycle any of bank b's options can issue by the bank's own
// timing (never without one).
func (b *bankState) earliest() uint64 {
	t := uint64(never)
	if b.rowKind != cmdNone {
		t = b.rowReady
	}
	for m := range 2 {
		if b.hit[m] >= 0 {
			t = min(t, b.hitReady[m])
		}
	}
	return t
}

// pickRefresh makes the earliest refresh work of channel cs's (ch's) refreshing ranks
// the channel's pick (the first rank at equal times) and returns its time.
func (s *state) pickRefresh(cs *chanState, ch int, floor uint64) uint64 {
	c := s.cfg
	cs.noCand()
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

// noCand leaves channel cs without a picked command.
func (cs *chanState) noCand() {
	cs.candT, cs.candDist, cs.candKind = never, 0, cmdNone
	cs.candBank, cs.candRank, cs.candSlot, cs.candPrev = -1, -1, -1, -1
}

// setCand makes bank b's command of kind (b is banks[bi]), at t and round-robin
// distance d, the pick.
func (cs *chanState) setCand(b *bankState, bi int, t uint64, d uint32, kind uint8) {
	cs.candT, cs.candDist, cs.candKind = t, d, kind
	cs.candBank, cs.candRank = int32(bi), b.rank
	if kind <= cmdWrite {
		cs.candSlot, cs.candPrev = b.hit[kind], b.hitPrev[kind]
	} else {
		cs.candSlot, cs.candPrev = b.rowSlot, -1
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
	c := s.cfg
	cs.lastCmd, cs.cmdIssued, cs.stale = s.now, true, true
	if s.onCmd != nil {
		var addr uint64
		if cs.candBank >= 0 {
			addr = s.slots[cs.candSlot].key &^ (c.burstBytes - 1)
		}
		s.onCmd(cs.candKind, s.now, addr)
	}
	if cs.candBank >= 0 {
		// The round robin moves on past the bank that issued.
		cs.rrNext = int32((int(cs.candBank) - ch*c.banksPerCh + 1) & (c.banksPerCh - 1))
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
// and at most one bank with admitted requests, or any number in a flat channel
// (config.flat). It reports whether that was the case (and the pick is made).
func (s *state) pickOne(cs *chanState, ch int) bool {
	c := s.cfg
	if c.activeWords != 1 || cs.refreshing > 0 {
		return false
	}
	word := s.active[cs.activeOff[setAdmitted]]
	if word&(word-1) != 0 {
		if !c.flat {
			return false
		}
		// Several banks, but a flat channel's pass is cheap enough to make here, with
		// what is known already (no refresh due; a command issued at now).
		cs.stale = false
		t, d, kind, bi := s.pickFlat(ch, s.now+1)
		cs.setCand(&s.banks[bi], bi, t, d, kind) // bi >= 0: the word has banks
		cs.next = min(t, cs.wake)
		return true
	}
	cs.stale = false
	if word == 0 {
		cs.noCand()
		cs.next = cs.wake
		return true
	}
	li := bits.TrailingZeros64(word)
	bi := ch*c.banksPerCh + li
	b := &s.banks[bi]
	if !b.candOK {
		s.options(b)
	}
	// A command was issued at now: the next can be at now+1 at the earliest.
	t, kind := s.bankKey(b, s.now+1)
	cs.setCand(b, bi, t, cs.dist(c, li), kind)
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
		cs.writeFilter[bucket(sl.key)]--
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
		if n := sl.merged; n > 0 {
			// The reads merged into this one get its data: n more reads, no burst.
			st.Reads += int64(n)
			st.MergedReads += int64(n)
			ms := &s.merges[slotIdx]
			st.ReadLatency += uint64(n)*end - ms.accept
			st.ReadLatencyFromIssue += uint64(n)*end - ms.issue
			for range n {
				s.done.push(end)
			}
		}
		cs.readFilter[bucket(sl.key)]--
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
	if b.admTail[mode] == slotIdx {
		b.admTail[mode] = prevIdx
	}
	b.count[mode]--
	b.adm[mode]--
	local := bi - ch*c.banksPerCh
	if b.count[mode] == 0 {
		s.active[int(cs.activeOff[mode])+local>>6] &^= 1 << (local & 63)
	}
	// The bank's options, in the common case of a stream of hits: the request served
	// was the oldest, no request of the other mode is admitted and the next one hits
	// the open row too. It is the one option, as options would find (it runs after
	// nearly every column command, and this spares its search).
	b.candOK = false
	if next := sl.next; prevIdx < 0 && b.adm[mode] > 0 && b.adm[mode^1] == 0 && s.slots[next].row == b.openRow {
		ns := &s.slots[next]
		b.hit[mode], b.hitPrev[mode], b.hitSeq[mode], b.hitReady[mode] = next, -1, ns.seq, max(b.casReady, ns.seen)
		b.hit[mode^1], b.rowKind = -1, cmdNone
		b.one, b.oneKind, b.oneReady = true, uint8(mode), b.hitReady[mode]
		b.candOK = true
	}
	sl.next = s.freeHead
	s.freeHead = slotIdx
	// The place freed in the command queue, or a change of mode, admits more.
	if m := cs.mode(c); m != int(cs.admMode) {
		s.switchMode(cs, ch, m)
	} else if cs.waiting[m] > 0 {
		s.admit(cs, b, local, m)
	}
	if b.adm[modeRead]+b.adm[modeWrite] == 0 {
		s.active[int(cs.activeOff[setAdmitted])+local>>6] &^= 1 << (local & 63)
	}

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
