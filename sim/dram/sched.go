package dram

import (
	"math/bits"
)

// The scheduler is event driven: it does not step idle cycles. At a cycle `now` it
// accepts at most one request, then lets each channel issue the command that FR-FCFS
// picks among those whose timing allows them now; then it jumps to the next cycle at
// which a request can be accepted or a command can issue. Each channel keeps its next
// command (and its time) cached until something in the channel changes, and each bank
// its own candidate command until its queue or state changes, so a decision costs a
// pass over the banks that have requests, with a few comparisons each.

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
	bank          int32  // index in state.banks
	gen           uint32 // the Transfer that submitted it
}

// localCand is a bank's own next command, before channel and rank constraints.
type localCand struct {
	ready      uint64 // earliest cycle by the bank's own timing
	seq        uint64 // age of the request it serves
	slot, prev int32  // the request, and its predecessor in the queue (-1: head)
	kind, mode uint8
}

// bankState is one bank: its row, its timing and its two queues (reads, writes).
type bankState struct {
	openRow uint64
	// Earliest column command, precharge and activate by this bank's own timing.
	casReady, preReady, actReady uint64
	head, tail                   [2]int32
	count                        [2]int32
	casSinceAct                  uint32
	open                         bool
	conflictAct                  bool // the open row's activate followed a conflict's precharge
	closedByConflict             bool // the last precharge was for a conflict
	candOK                       bool
	cand                         localCand
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

// chanCand is a channel's next command.
type chanCand struct {
	t          uint64
	seq        uint64
	slot, prev int32
	bank, rank int32
	kind, prio uint8
}

// chanState is one channel's controller.
type chanState struct {
	next          uint64 // when cand can issue, or when a refresh falls due
	wake          uint64 // when a refresh falls due
	lastCmd       uint64
	cand          chanCand
	reads, writes int32 // queued requests
	pickMode      uint8 // the queue mode cand was picked in
	cmdIssued     bool
	draining      bool // the write buffer is draining down to the low watermark
	stale         bool // next and cand must be recomputed
}

// state is everything that changes as the controller runs; the Controller keeps two
// (committed and projected) and copies one into the other.
type state struct {
	cfg    *config
	now    uint64
	chans  []chanState
	banks  []bankState // banksPerCh per channel, channel-major
	ranks  []rankState // ranks per channel, channel-major
	slots  []slot
	active []uint64 // per mode, channel and word: banks with queued requests
	// rdReady, wrReady and actReady are the earliest read, write and activate to a
	// (rank, bank group) by the timing of other banks: [rank*bankGroups+bg].
	rdReady, wrReady, actReady []uint64
	heap                       []uint64 // completion times of the requester's reads in flight
	freeHead                   int32
	inflight                   int // requester's reads accepted and not complete
	seq                        uint64
	stats                      Stats

	// The requester: the current Transfer's requests.
	src        []Request
	srcPos     int
	at         uint64
	window     int
	gen        uint32
	genEnd     uint64 // latest completion of the current Transfer's requests
	lastAccept uint64
	accepted   bool // lastAccept is valid

	// onCmd, when set (by tests), sees every command issued: its kind, cycle and the
	// address of the request it serves (0 for refresh work).
	onCmd func(kind uint8, t uint64, addr uint64)
}

func newState(c *config) *state {
	nRanks := c.channels * c.ranks
	s := &state{
		cfg:      c,
		chans:    make([]chanState, c.channels),
		banks:    make([]bankState, c.channels*c.banksPerCh),
		ranks:    make([]rankState, nRanks),
		slots:    make([]slot, c.channels*(c.readQ+c.writeQ)),
		active:   make([]uint64, 2*c.channels*c.activeWords),
		rdReady:  make([]uint64, nRanks*c.bankGroups),
		wrReady:  make([]uint64, nRanks*c.bankGroups),
		actReady: make([]uint64, nRanks*c.bankGroups),
		// In flight: reads queued, plus those whose data is still on its way (a few per
		// channel), plus a forwarded one.
		heap: make([]uint64, 0, c.channels*(c.readQ+64)+8),
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
	clear(s.rdReady)
	clear(s.wrReady)
	clear(s.actReady)
	for i := range s.banks {
		s.banks[i].head = [2]int32{-1, -1}
		s.banks[i].tail = [2]int32{-1, -1}
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
		s.chans[i].stale = true
	}
	s.freeHead = 0
	s.heap = s.heap[:0]
	s.now, s.inflight, s.seq, s.stats = 0, 0, 0, Stats{}
	s.src, s.srcPos, s.at, s.window, s.gen, s.genEnd = nil, 0, 0, 0, 0, 0
	s.lastAccept, s.accepted = 0, false
}

// copyFrom makes s an exact copy of o without allocating.
func (s *state) copyFrom(o *state) {
	chans, banks, ranks, slots, active := s.chans, s.banks, s.ranks, s.slots, s.active
	rd, wr, act, heap := s.rdReady, s.wrReady, s.actReady, s.heap
	*s = *o
	s.chans, s.banks, s.ranks, s.slots, s.active = chans, banks, ranks, slots, active
	s.rdReady, s.wrReady, s.actReady = rd, wr, act
	copy(s.chans, o.chans)
	copy(s.banks, o.banks)
	copy(s.ranks, o.ranks)
	copy(s.slots, o.slots)
	copy(s.active, o.active)
	copy(s.rdReady, o.rdReady)
	copy(s.wrReady, o.wrReady)
	copy(s.actReady, o.actReady)
	s.heap = append(heap[:0], o.heap...)
}

// snapshot returns the statistics with the standby accounting closed at LastDataEnd.
func (s *state) snapshot() Stats {
	st := s.stats
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
	s.gen++
	s.genEnd = 0
}

// run advances time. With drain false it stops at the cycle the last request of the
// Transfer is accepted, before that cycle's commands; with drain true it serves every
// queued request and the refreshes due up to the last data burst.
func (s *state) run(drain bool) {
	// arr is the next request's arrival as of the end of the last iteration; only the
	// commands of an iteration change it, so it is recomputed once per iteration (and
	// confirmed before a request is accepted).
	arr := uint64(never)
	if !drain {
		arr = s.arrival()
	}
	for {
		s.retire()
		if arr <= s.now && s.arrival() <= s.now {
			s.accept()
			if s.srcPos == len(s.src) {
				return
			}
		}
		for ch := range s.chans {
			cs := &s.chans[ch]
			if cs.wake <= s.now {
				s.refreshDue(ch)
			}
			if cs.stale {
				s.pick(ch)
			}
			if cs.next <= s.now {
				s.execute(ch)
			}
		}
		if drain && s.drained() {
			return
		}
		next := uint64(never)
		if !drain {
			arr = s.arrival()
			next = arr
		}
		for ch := range s.chans {
			cs := &s.chans[ch]
			if cs.stale {
				s.pick(ch)
			}
			if cs.reads+cs.writes == 0 && cs.next < next && next != never {
				// An idle channel refreshes on its own until the next request.
				s.skipRefreshes(ch, next)
			}
			next = min(next, cs.next)
		}
		if next == never {
			if drain {
				return
			}
			panic("dram: the requester waits on nothing")
		}
		if next <= s.now {
			// A command freed room in a full queue this very cycle: the waiting
			// request is accepted now (commands of this cycle are done).
			if arr <= s.now {
				continue
			}
			panic("dram: scheduler did not advance")
		}
		s.now = next
	}
}

// drained reports whether every queue is empty and every refresh due by the last data
// burst is done.
func (s *state) drained() bool {
	for i := range s.chans {
		if s.chans[i].reads+s.chans[i].writes > 0 {
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
	for len(s.heap) > 0 && s.heap[0] <= s.now {
		s.heapPop()
		s.inflight--
	}
}

// arrival is the earliest cycle the requester's next request can be accepted, given
// what is known now (never if none is left, or its queue is full).
func (s *state) arrival() uint64 {
	if s.srcPos >= len(s.src) {
		return never
	}
	c := s.cfg
	r := &s.src[s.srcPos]
	t := max(s.at, r.Issue, s.now)
	if s.accepted && s.lastAccept >= t {
		t = s.lastAccept + 1 // one request per cycle, in order
	}
	if s.window > 0 && s.inflight >= s.window {
		if len(s.heap) == 0 {
			return never
		}
		t = max(t, s.heap[0])
	}
	cs := &s.chans[c.dec.get(r.Addr, fieldChannel)]
	if r.Write && int(cs.writes) >= c.writeQ || !r.Write && int(cs.reads) >= c.readQ {
		return never
	}
	return t
}

// accept takes the requester's next request into its channel's queue at now.
func (s *state) accept() {
	c := s.cfg
	r := s.src[s.srcPos]
	s.srcPos++
	s.lastAccept, s.accepted = s.now, true
	addr := r.Addr &^ (c.burstBytes - 1)
	d := &c.dec
	ch := int(d.get(addr, fieldChannel))
	local := (int(d.get(addr, fieldRank))*c.bankGroups+int(d.get(addr, fieldBankGroup)))*c.banksPerBG + int(d.get(addr, fieldBank))
	bi := int32(ch*c.banksPerCh + local)
	b := &s.banks[bi]
	cs := &s.chans[ch]
	bb := int64(c.burstBytes)

	// The write buffer answers a read of a buffered address and absorbs a second write
	// to it.
	if b.count[modeWrite] > 0 && s.findWrite(b, addr) {
		if r.Write {
			s.stats.Writes++
			s.stats.WriteBytes += bb
			s.stats.MergedWrites++
			s.genEnd = max(s.genEnd, s.now)
			return
		}
		end := s.now + 1
		s.stats.Reads++
		s.stats.ReadBytes += bb
		s.stats.ForwardedReads++
		s.stats.ReadLatency++
		s.stats.ReadLatencyFromIssue += end - min(r.Issue, end)
		s.inflight++
		s.heapPush(end)
		s.genEnd = max(s.genEnd, end)
		return
	}

	mode := modeRead
	if r.Write {
		mode = modeWrite
		cs.writes++
	} else {
		cs.reads++
		s.inflight++
	}
	i := s.freeHead
	if i < 0 {
		panic("dram: request slots exhausted")
	}
	sl := &s.slots[i]
	s.freeHead = sl.next
	s.seq++
	*sl = slot{addr: addr, row: addr >> d.shift[fieldRow], issue: r.Issue, accept: s.now, seq: s.seq, next: -1, bank: bi, gen: s.gen}
	if b.tail[mode] >= 0 {
		s.slots[b.tail[mode]].next = i
	} else {
		b.head[mode] = i
		s.active[(mode*c.channels+ch)*c.activeWords+local/64] |= 1 << (local % 64)
	}
	b.tail[mode] = i
	b.count[mode]++
	// A request joining the tail leaves the bank's command unchanged unless it is the
	// only one, or the bank was about to close its row (the newcomer may hit it).
	if b.cand.mode == uint8(mode) && (b.count[mode] == 1 || b.cand.kind == cmdPre) {
		b.candOK = false
	}
	s.queued(ch, int(bi), mode)
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
}

// mode decides whether the channel serves reads or writes now: writes once the
// buffer reaches the high watermark, until it is down to the low one, and whenever no
// read waits.
func (cs *chanState) mode(c *config) int {
	if int(cs.writes) >= c.highMark {
		cs.draining = true
	} else if int(cs.writes) <= c.lowMark {
		cs.draining = false
	}
	if cs.draining || cs.reads == 0 && cs.writes > 0 {
		return modeWrite
	}
	return modeRead
}

// pick computes channel ch's next command and when it can issue (FR-FCFS): the
// earliest; at equal times refresh work first, then column commands (row hits), then
// activates and precharges; then the oldest request.
func (s *state) pick(ch int) {
	c := s.cfg
	cs := &s.chans[ch]
	cs.stale = false
	floor := s.floor(cs)
	best := chanCand{t: never}
	wake := uint64(never)
	rank0 := ch * c.ranks
	refreshing := false
	for r := rank0; r < rank0+c.ranks; r++ {
		rk := &s.ranks[r]
		if !rk.refreshing {
			wake = min(wake, rk.nextRefresh)
			continue
		}
		refreshing = true
		if t, kind := s.refreshCand(r); max(t, floor) < best.t {
			best = chanCand{t: max(t, floor), kind: kind, rank: int32(r), slot: -1, bank: -1}
		}
	}
	mode := cs.mode(c)
	key := candKey{t: best.t, prio: best.prio, bank: -1}
	words := s.active[(mode*c.channels+ch)*c.activeWords:][:c.activeWords]
	base := ch * c.banksPerCh
	banks := s.banks
	for w, word := range words {
		for word != 0 {
			bi := base + w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			if refreshing && s.ranks[c.bankRank[bi]].refreshing {
				continue
			}
			// consider(), unrolled: this loop is the scheduler's hot spot.
			b := &banks[bi]
			if !b.candOK || b.cand.mode != uint8(mode) {
				s.local(b, mode)
			}
			lc := &b.cand
			if lc.ready > key.t {
				continue // channel constraints only delay it further
			}
			if t, prio := s.bankKey(lc, bi, floor); t < key.t || t == key.t && (prio < key.prio || prio == key.prio && lc.seq < key.seq) {
				key = candKey{t: t, seq: lc.seq, bank: int32(bi), prio: prio}
			}
		}
	}
	if key.bank >= 0 {
		best = s.fromKey(&key)
	}
	cs.cand, cs.wake, cs.pickMode = best, wake, uint8(mode)
	cs.next = min(best.t, wake)
}

// floor is the first cycle channel cs may issue a command: now, unless it issued one
// this cycle.
func (s *state) floor(cs *chanState) uint64 {
	if cs.cmdIssued && cs.lastCmd >= s.now {
		return cs.lastCmd + 1
	}
	return s.now
}

// candKey orders candidate commands for FR-FCFS: earliest first; at equal times
// refresh work (prio 0), then column commands, i.e. row hits (1), then activates and
// precharges (2); then the oldest request.
type candKey struct {
	t, seq uint64
	bank   int32
	prio   uint8
}

func (a *candKey) better(b *candKey) bool {
	return a.t < b.t || a.t == b.t && (a.prio < b.prio || a.prio == b.prio && a.seq < b.seq)
}

// consider makes bank bi's next command for the queue of mode the best if it is better
// by candKey.
func (s *state) consider(best *candKey, bi, mode int, floor uint64) {
	b := &s.banks[bi]
	if !b.candOK || b.cand.mode != uint8(mode) {
		s.local(b, mode)
	}
	lc := &b.cand
	if lc.ready > best.t {
		return // channel constraints only delay it further
	}
	t, prio := s.bankKey(lc, bi, floor)
	if k := (candKey{t: t, seq: lc.seq, bank: int32(bi), prio: prio}); k.better(best) {
		*best = k
	}
}

// bankKey is when bank bi's command lc can issue, adding the channel's and rank's
// constraints to the bank's own, and its FR-FCFS priority: 1 for a column command (a
// row hit), 2 for an activate or precharge.
func (s *state) bankKey(lc *localCand, bi int, floor uint64) (uint64, uint8) {
	t := max(lc.ready, floor)
	switch g := s.cfg.bankGroup[bi]; lc.kind {
	case cmdRead:
		return max(t, s.rdReady[g]), 1
	case cmdWrite:
		return max(t, s.wrReady[g]), 1
	case cmdAct:
		rk := &s.ranks[s.cfg.bankRank[bi]]
		return max(t, s.actReady[g], rk.faw[rk.fawPos]), 2
	}
	return t, 2
}

// fromKey makes the channel command of bank candidate k.
func (s *state) fromKey(k *candKey) chanCand {
	lc := &s.banks[k.bank].cand
	return chanCand{t: k.t, seq: k.seq, slot: lc.slot, prev: lc.prev, bank: k.bank, rank: s.cfg.bankRank[k.bank], kind: lc.kind, prio: k.prio}
}

// queued updates channel ch's cached pick after a request of mode joined bank bi's
// queue: when nothing else changed, only that bank's command can have become the best.
func (s *state) queued(ch, bi, mode int) {
	c := s.cfg
	cs := &s.chans[ch]
	if cs.stale {
		return
	}
	b := &s.banks[bi]
	switch m := cs.mode(c); {
	case m != int(cs.pickMode):
		cs.stale = true
	case cs.cand.bank == int32(bi):
		// The best bank got another request: its command stands unless it changed.
		if !b.candOK {
			cs.stale = true
		}
	case m == mode && !s.ranks[c.bankRank[bi]].refreshing:
		key := candKey{t: cs.cand.t, seq: cs.cand.seq, prio: cs.cand.prio, bank: -1}
		s.consider(&key, bi, mode, s.floor(cs))
		if key.bank >= 0 {
			cs.cand = s.fromKey(&key)
			cs.next = min(cs.cand.t, cs.wake)
		}
	}
}

// local computes bank b's own next command for the queue of mode.
func (s *state) local(b *bankState, mode int) {
	head := b.head[mode]
	hs := &s.slots[head]
	lc := localCand{slot: head, prev: -1, seq: hs.seq, mode: uint8(mode)}
	switch {
	case !b.open:
		lc.kind, lc.ready = cmdAct, b.actReady
	case hs.row == b.openRow:
		lc.kind, lc.ready = uint8(mode), b.casReady
	default:
		// The oldest request needs another row. Serve a younger hit first, within the
		// visible part of the queue and the row-hit limit; else close the row.
		lc.kind, lc.ready = cmdPre, b.preReady
		if b.casSinceAct < rowHitCap {
			prev, n := head, 1
			for i := hs.next; i >= 0 && n < s.cfg.bankQ; i = s.slots[i].next {
				if s.slots[i].row == b.openRow {
					lc = localCand{slot: i, prev: prev, seq: s.slots[i].seq, mode: uint8(mode), kind: uint8(mode), ready: b.casReady}
					break
				}
				prev, n = i, n+1
			}
		}
	}
	b.cand, b.candOK = lc, true
}

// refreshCand is the next refresh command of rank r and its earliest cycle: a
// precharge-all while a bank is open, then the refresh.
func (s *state) refreshCand(r int) (uint64, uint8) {
	c := s.cfg
	first := r/c.ranks*c.banksPerCh + r%c.ranks*c.banksPerRank
	banks := s.banks[first : first+c.banksPerRank]
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

// execute issues channel ch's picked command at now.
func (s *state) execute(ch int) {
	cs := &s.chans[ch]
	cd := cs.cand
	cs.lastCmd, cs.cmdIssued, cs.stale = s.now, true, true
	if s.onCmd != nil {
		var addr uint64
		if cd.slot >= 0 {
			addr = s.slots[cd.slot].addr
		}
		s.onCmd(cd.kind, s.now, addr)
	}
	switch cd.kind {
	case cmdAct:
		s.activate(int(cd.bank), int(cd.rank), s.slots[cd.slot].row)
	case cmdPre:
		s.precharge(int(cd.bank), int(cd.rank), s.now, true)
		s.stats.Precharges++
	case cmdRead, cmdWrite:
		s.column(ch, &cd)
	case cmdPreAll:
		s.prechargeAll(int(cd.rank))
	case cmdRef:
		s.refresh(int(cd.rank))
	}
}

func (s *state) activate(bi, rank int, row uint64) {
	c := s.cfg
	t := s.now
	b := &s.banks[bi]
	b.open, b.openRow = true, row
	b.casReady = t + c.rcd
	b.preReady = max(b.preReady, t+c.ras)
	b.actReady = max(b.actReady, t+c.rc)
	b.conflictAct, b.casSinceAct, b.candOK = b.closedByConflict, 0, false
	g := int(c.bankGroup[bi])
	base := rank * c.bankGroups
	for i := base; i < base+c.bankGroups; i++ {
		d := c.rrdS
		if i == g {
			d = c.rrdL
		}
		s.actReady[i] = max(s.actReady[i], t+d)
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
func (s *state) precharge(bi, rank int, t uint64, conflict bool) {
	b := &s.banks[bi]
	b.open, b.closedByConflict, b.candOK = false, conflict, false
	b.actReady = max(b.actReady, t+s.cfg.rp)
	rk := &s.ranks[rank]
	rk.openBanks--
	if rk.openBanks == 0 {
		rk.closedSince = t
	}
}

func (s *state) prechargeAll(rank int) {
	c := s.cfg
	first := rank/c.ranks*c.banksPerCh + rank%c.ranks*c.banksPerRank
	for bi := first; bi < first+c.banksPerRank; bi++ {
		if s.banks[bi].open {
			s.precharge(bi, rank, s.now, false)
			s.stats.Precharges++
		}
	}
}

func (s *state) refresh(rank int) {
	c := s.cfg
	first := rank/c.ranks*c.banksPerCh + rank%c.ranks*c.banksPerRank
	for bi := first; bi < first+c.banksPerRank; bi++ {
		b := &s.banks[bi]
		b.actReady = max(b.actReady, s.now+c.rfc)
		b.candOK = false
	}
	rk := &s.ranks[rank]
	rk.refreshing = false
	rk.nextRefresh += c.refi
	s.stats.Refreshes++
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
		first := ch*c.banksPerCh + r%c.ranks*c.banksPerRank
		banks := s.banks[first : first+c.banksPerRank]
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
		s.pick(ch)
	}
}

// column issues the read or write of channel candidate cd at now.
func (s *state) column(ch int, cd *chanCand) {
	c := s.cfg
	t := s.now
	bi, rank := int(cd.bank), int(cd.rank)
	b := &s.banks[bi]
	sl := &s.slots[cd.slot]
	write := cd.kind == cmdWrite
	st := &s.stats

	switch {
	case b.casSinceAct > 0:
		st.RowHits++
	case b.conflictAct:
		st.RowConflicts++
	default:
		st.RowMisses++
	}
	b.casSinceAct++

	lat := c.cl
	if write {
		lat = c.cwl
	}
	end := t + lat + c.burst
	st.LastDataEnd = max(st.LastDataEnd, end)
	if sl.gen == s.gen {
		s.genEnd = max(s.genEnd, end)
	}
	bb := int64(c.burstBytes)
	cs := &s.chans[ch]
	if write {
		st.Writes++
		st.WriteBytes += bb
		st.WriteBursts++
		b.preReady = max(b.preReady, t+c.wrToPre)
		cs.writes--
	} else {
		st.Reads++
		st.ReadBytes += bb
		st.ReadBursts++
		st.ReadLatency += end - sl.accept
		st.ReadLatencyFromIssue += end - min(sl.issue, end)
		s.heapPush(end)
		b.preReady = max(b.preReady, t+c.rtp)
		cs.reads--
	}

	// Later column commands of this rank and of the others.
	g := int(c.bankGroup[bi])
	for r := rank / c.ranks * c.ranks; r < (rank/c.ranks+1)*c.ranks; r++ {
		for i := r * c.bankGroups; i < (r+1)*c.bankGroups; i++ {
			var rd, wr uint64
			switch {
			case r != rank && write:
				rd, wr = c.wrToRdRank, c.wrToWrRank
			case r != rank:
				rd, wr = c.rdToRdRank, c.rdToWrRank
			case write && i == g:
				rd, wr = c.wrToRdL, c.ccdL
			case write:
				rd, wr = c.wrToRdS, c.ccdS
			case i == g:
				rd, wr = c.ccdL, c.rdToWr
			default:
				rd, wr = c.ccdS, c.rdToWr
			}
			s.rdReady[i] = max(s.rdReady[i], t+rd)
			s.wrReady[i] = max(s.wrReady[i], t+wr)
		}
	}

	// Take the request out of its bank queue.
	mode := int(cd.kind)
	if cd.prev < 0 {
		b.head[mode] = sl.next
	} else {
		s.slots[cd.prev].next = sl.next
	}
	if b.tail[mode] == cd.slot {
		b.tail[mode] = cd.prev
	}
	b.count[mode]--
	if b.count[mode] == 0 {
		local := bi % c.banksPerCh
		s.active[(mode*c.channels+ch)*c.activeWords+local/64] &^= 1 << (local % 64)
	}
	sl.next = s.freeHead
	s.freeHead = cd.slot
	b.candOK = false

	if c.closedPage {
		// Auto-precharge: no command slot, at the earliest time the bank allows.
		s.precharge(bi, rank, b.preReady, false)
		st.Precharges++
	}
}

// heapPush and heapPop keep s.heap a binary min-heap.
func (s *state) heapPush(v uint64) {
	h := append(s.heap, v)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	s.heap = h
}

func (s *state) heapPop() {
	h := s.heap
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h[r] < h[l] {
			m = r
		}
		if h[i] <= h[m] {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	s.heap = h
}
