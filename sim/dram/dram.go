// Package dram models an off-chip LPDDR/DDR memory and its controller at the level of
// DRAM commands, in the DRAM's own clock. The simulator's DMA engine drives it through
// Controller.Transfer; the trace replay (Replay, ReadTrace) drives the same Controller
// with requests that carry their own issue cycles. There is one code path: whatever a
// replay shows is what a training step's transfers see.
//
// # What is modelled
//
// Each channel has its own controller, built as DRAMsim3's (src/controller.cc,
// src/command_queue.cc; the rules below say where rctsim differs). A requester (the
// DMA, or a trace) issues requests in order, at most one per DRAM cycle; a request
// waits outside the controller while its queue is full, and while the requester already
// has `window` requests outstanding (Transfer's window: a read is outstanding until its
// data has moved, a write until the controller takes it).
//
// Queue structure. Accepted reads wait in a transaction queue of
// transaction_queue_depth, writes in a write buffer of write_buffer_depth, until their
// bank's command queue (bank_queue_depth requests, reads and writes together) has room
// and the channel admits their kind; the scheduler sees only the command queues. So the
// controller holds up to the queue depth plus bank_queue_depth per bank in use, as
// DRAMsim3 does. A request's commands may issue from the cycle after its admission
// (DRAMsim3 moves one request a cycle into the command queues, after the cycle's
// command).
//
// Reads and writes. The channel admits reads, except while the write buffer drains:
// once it holds write_high_watermark writes, the writes then buffered, less
// write_low_watermark, are admitted, and writes arriving meanwhile wait for the next
// drain (DRAMsim3 drains exactly what a full buffer holds). Requests already admitted
// are served whatever is admitted, as in DRAMsim3. rctsim differs in one rule: it also
// admits writes whenever the controller is idle (no read queued, nothing admitted),
// where DRAMsim3 waits for more than 8 and so never serves the last few writes of a
// trace. Admitting by kind rather than switching what is served also keeps a bank that
// was precharged and activated for a write serving it: the model used to drop such a
// write for each read arriving at intervals, re-opening the reads' row for every read.
//
// Scheduling. In each bank the first admitted request whose command is ready goes, as
// DRAMsim3's GetFirstReadyInQueue: the oldest request's activate or precharge, or any
// request's column command to the open row. A precharge for the oldest request waits
// while a younger one hits the open row until the row has served four column commands
// (DRAMsim3's row-hit cap); from then on it is permitted, not forced: it goes once its
// timing (tRAS, tRTP, tWR) allows, and hits ready before it keep being served. Across a
// channel's banks the first ready command goes, the banks taken round robin from the
// one after the last that issued, refresh work first (DRAMsim3's GetCommandToIssue).
// This is not FR-FCFS across banks: a hit in one bank does not overtake another bank's
// activate that is ready as early.
//
// Forwarding and merging. A read of an address with a buffered write is answered from
// the buffer a cycle later, a write to an address already buffered merges into it, and
// a read of an address already queued for reading waits for that read's burst. All
// three compare the address as the request gives it, offset included, as DRAMsim3
// does: two 64-byte requests in one 128-byte burst are two bursts. (The simulator's DMA
// issues whole, aligned bursts, so for it address and burst are the same.) The data
// path does not go through the model: a write queued after a read of its address may
// be served first.
//
// Commands obey, in DRAM clocks: tRCD, tRP, tRAS, tRC = tRAS+tRP, tCL, tCWL, the burst
// (burst_length/2 clocks on the data bus), tCCD_S/tCCD_L and tRRD_S/tRRD_L (another or
// the same bank group), tFAW (at most four activates per rank in any tFAW window),
// tWTR_S/tWTR_L (end of write data to a read), tWR (end of write data to precharge),
// tRTP (read to precharge), the turnarounds of DRAMsim3's timing.cc (read to write
// tCL + burst + tRTRS - tCWL; rank switches with tRTRS; DRAMsim3 reads tRPRE and tWPRE
// from its configurations but never uses them, and neither does rctsim), and one
// command per clock on each channel's command bus. Every tREFI each rank needs an
// all-bank refresh: from then on the rank takes no other command, its open banks are
// closed with one precharge-all (counted as one precharge per bank it closes), and the
// refresh blocks the rank for tRFC. Ranks refresh staggered by tREFI/ranks (DRAMsim3's
// RANK_LEVEL_STAGGERED). The closed-page policy precharges each bank automatically after
// its column command, at the earliest time tRAS, tRTP or tWR allow.
//
// TestDRAMsim3Reference holds the model to DRAMsim3's own figures (testdata/) on request
// patterns of every kind, on profiles that mirror three of its stock configurations.
//
// Row outcomes are counted per column command: the first access after an activate is a
// miss (the bank was precharged) or a conflict (another row had to be closed first);
// later ones are hits.
//
// # Transfers and statistics
//
// Transfer submits a batch of requests (a DMA descriptor's bursts) and must say when
// the last of them completes before any later batch is known. The controller therefore
// keeps a committed schedule, which stops where the batch's last request is accepted,
// and projects the queued rest to completion as if nothing else came; the projection
// gives the batch's completion and Stats. The next batch resumes the committed
// schedule, so it competes with the previous one's tail as a real controller's queue
// would (its row hits may overtake), and the projection is redone. Splitting a request
// stream into batches therefore changes nothing but the completion times reported for
// the batches (a test checks this). Stats differences across a Transfer are what that
// batch cost, up to the small shifts of earlier batches' tails it caused; the
// simulator charges them to the batch's tensor class.
//
// Energy follows DRAMsim3 (src/configuration.cc, InitPowerParams; src/simple_stats.cc)
// when the spec gives datasheet currents: per activate VDD*(IDD0*tRC - (IDD3N*tRAS +
// IDD2N*tRP)), per read burst VDD*(IDD4R-IDD3N)*burst, per write VDD*(IDD4W-IDD3N)*burst,
// per refresh VDD*(IDD5-IDD3N)*tRFC, and background VDD*IDD3N per rank-clock with a row
// open, VDD*IDD2N with all banks precharged, each times the devices per rank. DRAMsim3
// sums these in V*mA*clocks and labels them pJ; here they are multiplied by tCK in ns,
// which makes them pJ. When the spec gives pJ figures instead, an activate costs
// activate_energy_pj, a burst its bits times the pJ per bit, background power is
// background_power_mw throughout, and a refresh costs refresh_power_mw over tREFI
// divided by the ranks of all channels.
//
// # What is not modelled
//
// Power-down and self-refresh, per-bank refresh (LPDDR REFpb), refresh postponing or
// pulling in, LPDDR's longer all-bank precharge tRPab (tRP is used), additive latency,
// on-die termination and I/O (VDDQ) power, the VPP supply of DDR4 (as DRAMsim3),
// LPDDR4 details such as tPPD, read-modify-write for masked writes, command/address bus
// slots of multi-cycle LPDDR4 commands, and the ordering of a write after an older read
// of the same address (the model is timing-only: the data path does not go through
// it).
//
// # Addresses
//
// The lowest log2(burst bytes) bits are the offset within a burst and are ignored.
// Above them the fields are laid out from the least significant bit upward in the
// reverse order of the mapping string (which, as in DRAMsim3/Ramulator, is written most
// significant first), with these widths:
//
//	co  log2(row_size / burst bytes)   a row spans row_size bytes of one channel's bus
//	ba  log2(banks / bank_groups)
//	bg  log2(bank_groups)
//	ra  log2(ranks)
//	ch  log2(channels)
//	ro  all bits above the others (the device has no capacity limit)
//
// A Controller is not safe for concurrent use; it holds no global state.
package dram

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/rctsim/rctsim/hw"
)

// Request is one burst-sized read or write.
type Request struct {
	// Addr is a byte address; the offset within its burst is ignored.
	Addr  uint64
	Write bool
	// Issue is the DRAM cycle at which the requester issues the request (a trace's
	// cycle). It is accepted at Issue or later: not before the previous request of the
	// requester, not while its queue is full, not while the requester's window is full.
	Issue uint64
}

// Strided is a transfer of Rows rows of RowBytes bytes each, Stride bytes apart, from
// Addr: a tile a DMA engine moves. Each row moves the whole bursts that cover it.
type Strided struct {
	Addr                   uint64
	Rows, RowBytes, Stride int64
	Write                  bool
}

// AppendRequests appends t's burst requests to reqs, in order.
func (c *Controller) AppendRequests(reqs []Request, t Strided) []Request {
	bb := c.cfg.burstBytes
	for row := int64(0); row < t.Rows; row++ {
		lo := t.Addr + uint64(row*t.Stride)
		hi := lo + uint64(t.RowBytes)
		for a := lo &^ (bb - 1); a < hi; a += bb {
			reqs = append(reqs, Request{Addr: a, Write: t.Write})
		}
	}
	return reqs
}

// Bursts counts t's burst requests, as AppendRequests lists them, without listing
// them: a row's bursts depend only on where it starts within a burst, and those
// offsets repeat every burst/(the lowest set bit of Stride mod the burst) rows, so it
// sums one such cycle.
func (c *Controller) Bursts(t Strided) int64 {
	bb := c.cfg.burstBytes // a power of two
	cycle := int64(1)
	if s := uint64(t.Stride) & (bb - 1); s != 0 {
		cycle = int64(bb / (s & -s))
	}
	var perCycle, head int64 // the bursts of a whole cycle, and of the Rows%cycle first
	for row := range min(t.Rows, cycle) {
		off := (t.Addr + uint64(row)*uint64(t.Stride)) & (bb - 1)
		n := int64((off + uint64(t.RowBytes) + bb - 1) / bb)
		perCycle += n
		if row < t.Rows%cycle {
			head += n
		}
	}
	return t.Rows/cycle*perCycle + head
}

// TransferStrided is Transfer of t's requests. Under fast fidelity a transfer of a
// shape already sampled is answered without listing its bursts.
func (c *Controller) TransferStrided(t Strided, window int, at uint64) (lastAccept, lastDataEnd uint64, err error) {
	list := func() []Request {
		c.buf = c.AppendRequests(c.buf[:0], t)
		return c.buf
	}
	if c.fast != nil && t.Rows > 0 && t.RowBytes > 0 && at <= MaxCycle {
		return c.fastAnswer(c.fast.stridedKey(t, window), list, tailSource{strided: t}, window, at)
	}
	return c.exactTransfer(list(), window, at)
}

// Stats counts the work of every request submitted since New or Reset, as if no
// further request came: Transfer projects the requests still queued to completion.
type Stats struct {
	// Reads and Writes are the requests served; ReadBytes and WriteBytes their bytes
	// (a whole burst each). A read answered from the write buffer and a write merged
	// into a buffered one count here but move no data on the bus.
	Reads, Writes         int64
	ReadBytes, WriteBytes int64
	// ReadBursts and WriteBursts are the column commands: the bursts on the data bus.
	ReadBursts, WriteBursts int64
	// ForwardedReads were answered from the write buffer, MergedReads by the burst of
	// a queued read of the same address, and MergedWrites merged into a buffered write
	// to the same address (addresses as the requests give them, see the package doc).
	ForwardedReads, MergedReads, MergedWrites int64
	Activates                                 int64
	// Precharges counts precharges of a bank: explicit ones for a row conflict, the
	// banks a refresh closes and closed-page auto-precharges.
	Precharges int64
	// Refreshes counts all-bank refresh commands (one per rank per tREFI).
	Refreshes int64
	// RowHits, RowMisses and RowConflicts classify the column commands.
	RowHits, RowMisses, RowConflicts int64
	// ReadLatency sums, over reads, the cycles from the controller accepting each to
	// its data's end; ReadLatencyFromIssue from its Request.Issue instead.
	ReadLatency, ReadLatencyFromIssue uint64
	// ClosedRankCycles counts rank-cycles, up to LastDataEnd, in which every bank of
	// the rank was precharged (precharge standby power).
	ClosedRankCycles uint64
	// LastDataEnd is the end of the last data burst on any bus, in DRAM cycles.
	LastDataEnd uint64
}

// Effort counts, in requests, how a Controller came to its figures: those its
// scheduler took one by one (Stepped) or fast-forwarded in a steady stream (Skipped,
// exact all the same), and under fast fidelity those whose counters come from the
// samples of the transfers they belong to (Answered). Each request served counts once
// in Stepped + Skipped + Answered, which is Stats' Reads + Writes. Replayed, of
// Stepped and Skipped, are requests of answered transfers simulated again behind the
// next simulated transfer, for the work they left it (tail.go).
//
// The scheduler's cost goes with Stepped: it is what fast fidelity and the
// fast-forward save, and what a speed-up of the scheduler is measured against.
type Effort struct {
	Stepped, Skipped, Answered, Replayed int64
}

// Requests is the requests served: Stepped + Skipped + Answered.
func (e Effort) Requests() int64 { return e.Stepped + e.Skipped + e.Answered }

// Add adds o's counts to e.
func (e *Effort) Add(o Effort) {
	e.Stepped, e.Skipped, e.Answered, e.Replayed = e.Stepped+o.Stepped, e.Skipped+o.Skipped, e.Answered+o.Answered, e.Replayed+o.Replayed
}

// Controller models one DRAM memory (all its channels) and its controllers. Create it
// with New.
type Controller struct {
	cfg  config
	cur  *state // the committed schedule: every request accepted, commands up to cur.now
	proj *state // cur run on until everything submitted is served
	// projValid is set when proj holds the projection of cur (after a Transfer).
	projValid bool
	fast      *fastMemo // nil: exact fidelity
	buf       []Request // the requests of the last TransferStrided
	// effort counts the requests stepped and skipped since New or Reset (fastMemo
	// counts the answered and replayed ones).
	effort Effort
}

// config is the spec resolved into DRAM cycles and sizes; it never changes after New.
type config struct {
	spec       hw.DRAMSpec
	clock      hw.Frequency
	burstBytes uint64
	closedPage bool

	channels, ranks, bankGroups, banksPerBG int
	banksPerRank, banksPerCh, groupsPerCh   int
	activeWords                             int // uint64 words of a channel's bank bitset
	// flat is set when a channel has one rank of one bank group and at most 64 banks:
	// every bank of a channel shares its channel and rank constraints (see pickFlat).
	flat bool

	// Timings in DRAM cycles.
	rcd, rp, cl, cwl, ras, rc, wr, rtp, burst uint64
	ccdS, ccdL, rrdS, rrdL, faw, wtrS, wtrL   uint64
	rfc, refi                                 uint64
	rdToWr, rdToRdRank, rdToWrRank            uint64 // read to a later command
	wrToRdS, wrToRdL, wrToRdRank, wrToWrRank  uint64 // write to a later command
	wrToPre                                   uint64
	// colDelays[mode][k] is how long after a column command of mode (modeRead,
	// modeWrite) the next read and write may follow, to another rank (k 0), another
	// bank group of the same rank (1) or the same bank group (2).
	colDelays                               [2][3]turnaround
	colLatency                              [2]uint64 // column command to the end of its data, per mode
	maxStall                                uint64    // longest time without progress (see state.stalled)
	readQ, writeQ, bankQ, highMark, lowMark int
	queueCap                                [2]int32 // readQ and writeQ, per mode
	filterOff                               bool     // the queues are too deep for chanState's filters
	// bankRank and bankGroup map a bank (index in state.banks) to its rank (index in
	// state.ranks) and to its (rank, bank group) (index in state.groups).
	bankRank, bankGroup []int32
	dec                 decoder
	// locMask keeps the address bits that select channel, rank, bank and row (not the
	// column nor the offset); rankLocalShift and bgLocalShift place the rank and the
	// bank group in a bank's index within its channel.
	locMask                      uint64
	rankLocalShift, bgLocalShift uint
	mapping                      Mapping
	energy                       EnergyModel
	// skipOff makes the run simulate every burst of a steady stream rather than
	// fast-forward it (skip.go): tests compare the two.
	skipOff bool
}

// turnaround is the delay from a column command to the next read and the next write.
type turnaround struct{ rd, wr uint64 }

// rowHitCap is how many column commands a bank's open row serves before a precharge
// for an older request to another row is permitted while younger requests still hit
// the row: DRAMsim3's limit (command_queue.cc, ArbitratePrecharge).
const rowHitCap = 4

// never is a time that does not come.
const never = math.MaxUint64

// MaxCycle is the latest DRAM cycle a request may be issued at (about 49 hours at
// 1.6 GHz). Keeping issue cycles this far below 2^64 leaves room for every time the
// scheduler adds to them (validated timings stay below 2^23 clocks each), so its cycle
// arithmetic never wraps.
const MaxCycle = 1 << 48

// New builds a controller for spec. It fills the defaults below for the zero values of
// a hand-built spec, then checks the result with hw's DRAM rules (spec.ValidateModel,
// the same rules hw.Decode applies to profiles, less those only a datasheet
// transcription needs), whose *fileio.Error it returns.
//
// For specs built by hand, zero means: ranks and bank groups 1, address_mapping
// DefaultMapping, page_policy "open", device_width_bits bus_width_bits; tWR = tRP and
// tCWL = max(1, tCL/2); tCCD_S/L the burst; tRTP the burst; tRRD, tFAW, tWTR and tRTRS no
// constraint; tREFI and tRFC both zero: no refresh; queue depths 32 reads, 32 writes and
// 8 per bank, watermarks 3/4 and 1/4 of the write buffer. hw.Decode fills JEDEC values
// instead, so profiles read from files never rely on these.
func New(spec hw.DRAMSpec) (*Controller, error) {
	spec = withDefaults(spec)
	if err := spec.ValidateModel(); err != nil {
		return nil, err
	}
	cfg, err := newConfig(spec)
	if err != nil {
		return nil, err
	}
	c := &Controller{cfg: cfg}
	c.cur = newState(&c.cfg)
	c.proj = newState(&c.cfg)
	return c, nil
}

// withDefaults fills New's defaults for the zero values of a hand-built spec.
func withDefaults(spec hw.DRAMSpec) hw.DRAMSpec {
	if spec.Ranks == 0 {
		spec.Ranks = 1
	}
	if spec.BankGroups == 0 {
		spec.BankGroups = 1
	}
	if spec.AddressMapping == "" {
		spec.AddressMapping = DefaultMapping
	}
	if spec.PagePolicy == "" {
		spec.PagePolicy = "open"
	}
	if spec.DeviceWidthBits == 0 {
		spec.DeviceWidthBits = spec.BusWidthBits
	}
	// A timing is zero when it rounds to no clocks; before the data rate is known to be
	// valid, only a zero as given.
	clock := hw.Frequency(spec.DataRate / 2)
	zero := func(t hw.Timing) bool {
		if clock <= 0 {
			return t == hw.Timing{} || t == hw.Timing{InNS: true}
		}
		return t.ClockCycles(clock) == 0
	}
	if zero(spec.TWR) {
		spec.TWR = spec.TRP
	}
	if zero(spec.TCWL) && clock > 0 {
		spec.TCWL = hw.Timing{Cycles: max(1, spec.TCL.ClockCycles(clock)/2)}
	}
	burst := hw.Timing{Cycles: int64(spec.BurstLength / 2)}
	if zero(spec.TCCDS) {
		spec.TCCDS = burst
	}
	if zero(spec.TCCDL) {
		spec.TCCDL = spec.TCCDS
	}
	if zero(spec.TRTP) {
		spec.TRTP = burst
	}
	if spec.TransactionQueueDepth == 0 {
		spec.TransactionQueueDepth = 32
	}
	if spec.WriteBufferDepth == 0 {
		spec.WriteBufferDepth = 32
	}
	if spec.BankQueueDepth == 0 {
		spec.BankQueueDepth = 8
	}
	if spec.WriteHighWatermark == 0 {
		spec.WriteHighWatermark, spec.WriteLowWatermark = max(1, spec.WriteBufferDepth*3/4), spec.WriteBufferDepth/4
	}
	return spec
}

// newConfig resolves a spec that passed ValidateModel into DRAM cycles.
func newConfig(spec hw.DRAMSpec) (config, error) {
	c := config{spec: spec}
	burstBytes := spec.BusWidthBits / 8 * spec.BurstLength
	cols := int64(spec.RowSize) / int64(burstBytes)
	c.clock = hw.Frequency(spec.DataRate / 2)
	c.burstBytes = uint64(burstBytes)

	c.closedPage = spec.PagePolicy == "closed"

	cyc := func(t hw.Timing) uint64 { return uint64(max(t.ClockCycles(c.clock), 0)) }
	c.rcd = cyc(spec.TRCD)
	c.rp = cyc(spec.TRP)
	c.cl = cyc(spec.TCL)
	c.ras = cyc(spec.TRAS)
	c.wr = cyc(spec.TWR)
	c.cwl = cyc(spec.TCWL)
	c.rtp = cyc(spec.TRTP)
	c.ccdS = cyc(spec.TCCDS)
	c.ccdL = cyc(spec.TCCDL)
	c.rrdS = cyc(spec.TRRDS)
	c.rrdL = cyc(spec.TRRDL)
	c.faw = cyc(spec.TFAW)
	c.wtrS = cyc(spec.TWTRS)
	c.wtrL = cyc(spec.TWTRL)
	rtrs := cyc(spec.TRTRS)
	c.rfc = cyc(spec.TRFC)
	c.refi = cyc(spec.TREFI)
	c.burst = uint64(spec.BurstLength / 2)
	// A column command holds the data bus for a burst whatever tCCD says (DRAMsim3
	// takes the same maximum in timing.cc).
	c.ccdS = max(c.ccdS, c.burst)
	c.ccdL = max(c.ccdL, c.ccdS)
	c.rrdL = max(c.rrdL, c.rrdS)
	c.wtrL = max(c.wtrL, c.wtrS)
	c.rc = c.ras + c.rp
	// Turnarounds between column commands, as DRAMsim3's timing.cc with AL = 0. (JEDEC
	// DDR4 asks one clock more for read to write with a one-clock write preamble;
	// DRAMsim3 parses tRPRE and tWPRE but uses neither, and rctsim follows it.)
	c.rdToWr = sat(c.cl+c.burst+rtrs, c.cwl)
	c.rdToRdRank = c.burst + rtrs
	c.rdToWrRank = sat(c.cl+c.burst+rtrs, c.cwl)
	c.wrToRdS = c.cwl + c.burst + c.wtrS
	c.wrToRdL = c.cwl + c.burst + c.wtrL
	c.wrToRdRank = sat(c.cwl+c.burst+rtrs, c.cl)
	c.wrToWrRank = c.burst
	c.wrToPre = c.cwl + c.burst + c.wr
	c.colDelays[modeRead] = [3]turnaround{{c.rdToRdRank, c.rdToWrRank}, {c.ccdS, c.rdToWr}, {c.ccdL, c.rdToWr}}
	c.colDelays[modeWrite] = [3]turnaround{{c.wrToRdRank, c.wrToWrRank}, {c.wrToRdS, c.ccdS}, {c.wrToRdL, c.ccdL}}

	c.colLatency = [2]uint64{c.cl + c.burst, c.cwl + c.burst}
	// No valid spec leaves queued requests unserved this long: a few refresh intervals
	// (a request may wait out its rank's refresh) and many times every other delay.
	c.maxStall = 4*(c.refi+c.rfc) + 64*(c.rcd+c.rp+c.cl+c.cwl+c.ras+c.wr+c.rtp+c.burst+
		c.ccdL+c.rrdL+c.faw+c.wtrL+rtrs+8)
	c.readQ, c.writeQ, c.bankQ = spec.TransactionQueueDepth, spec.WriteBufferDepth, spec.BankQueueDepth
	c.queueCap = [2]int32{int32(c.readQ), int32(c.writeQ)}
	c.highMark, c.lowMark = spec.WriteHighWatermark, spec.WriteLowWatermark

	var err error
	if c.mapping, err = ParseMapping(spec.AddressMapping); err != nil {
		return c, fmt.Errorf("dram: %w", err)
	}
	var widths [numFields]uint
	widths[fieldColumn] = log2(int(cols))
	widths[fieldBank] = log2(spec.Banks / spec.BankGroups)
	widths[fieldBankGroup] = log2(spec.BankGroups)
	widths[fieldRank] = log2(spec.Ranks)
	widths[fieldChannel] = log2(spec.Channels)
	if c.dec, err = newDecoder(c.mapping, log2(burstBytes), widths); err != nil {
		return c, fmt.Errorf("dram: %w", err)
	}
	c.locMask = ^(c.dec.mask[fieldColumn]<<c.dec.shift[fieldColumn] | uint64(burstBytes-1))
	c.bgLocalShift = widths[fieldBank]
	c.rankLocalShift = widths[fieldBank] + widths[fieldBankGroup]

	c.channels, c.ranks, c.bankGroups = spec.Channels, spec.Ranks, spec.BankGroups
	c.banksPerBG = spec.Banks / spec.BankGroups
	c.banksPerRank = spec.Banks
	c.banksPerCh = spec.Ranks * spec.Banks
	c.groupsPerCh = spec.Ranks * spec.BankGroups
	c.activeWords = (c.banksPerCh + 63) / 64
	c.flat = c.groupsPerCh == 1 && c.activeWords == 1
	// A channel queues up to the transaction queue plus every bank's command queue.
	c.filterOff = max(c.readQ, c.writeQ)+c.banksPerCh*c.bankQ > math.MaxUint16
	n := c.channels * c.banksPerCh
	c.bankRank, c.bankGroup = make([]int32, n), make([]int32, n)
	for bi := range n {
		local := bi % c.banksPerCh
		rank := bi/c.banksPerCh*c.ranks + local/c.banksPerRank
		c.bankRank[bi] = int32(rank)
		c.bankGroup[bi] = int32(rank*c.bankGroups + local%c.banksPerRank/c.banksPerBG)
	}
	c.spec = spec
	c.energy = newEnergyModel(&c)
	return c, nil
}

// sat is a-b, or 0 when b > a.
func sat(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// log2 of a power of two.
func log2(n int) uint { return uint(bits.TrailingZeros64(uint64(n))) }

// BurstBytes returns the bytes one request moves: bus_width_bits/8 * burst_length.
func (c *Controller) BurstBytes() int { return int(c.cfg.burstBytes) }

// Clock returns the DRAM command clock, data_rate/2, in which all cycles here count.
func (c *Controller) Clock() hw.Frequency { return c.cfg.clock }

// PeakBytesPerCycle is the data all channels move per DRAM cycle at full rate.
func (c *Controller) PeakBytesPerCycle() float64 {
	return float64(c.cfg.channels) * float64(c.cfg.burstBytes) / float64(c.cfg.burst)
}

// Mapping returns the address mapping in use.
func (c *Controller) Mapping() Mapping { return c.cfg.mapping }

// Decode returns where addr lands; the offset within its burst is dropped.
func (c *Controller) Decode(addr uint64) Location { return c.cfg.dec.decode(addr) }

// Stats returns the counts of every request submitted since New or Reset, with the
// requests still queued projected to completion (see Transfer).
func (c *Controller) Stats() Stats {
	st := c.cur.snapshot()
	if c.projValid {
		st = c.proj.snapshot()
	}
	if c.fast != nil {
		st.add(&c.fast.extra)
		st.LastDataEnd = max(st.LastDataEnd, c.fast.extra.LastDataEnd)
	}
	return st
}

// Effort returns how the Controller came to its figures since New or Reset.
func (c *Controller) Effort() Effort {
	e := c.effort
	if c.fast != nil {
		e.Answered, e.Replayed = c.fast.answered-c.fast.replayed, c.fast.replayed
	}
	return e
}

// Reset empties every queue, precharges every bank, clears the statistics and sets time
// back to zero, as if the Controller were new.
func (c *Controller) Reset() {
	c.cur.reset()
	c.proj.reset()
	c.projValid = false
	c.effort = Effort{}
	if c.fast != nil {
		c.fast.reset()
	}
}

// Transfer submits reqs, in order, from a requester that keeps at most window requests
// outstanding (window <= 0: no limit); none is issued before DRAM cycle at, nor before
// its own Issue cycle. It returns when the controller accepted the last of them and
// when the last of their data moved (a write's data moves when the controller drains
// it). With no requests it returns (at, at).
//
// Transfers follow each other: requests of an earlier Transfer still queued compete
// with this one's (see Scheduling), and count against the window. The committed schedule
// stops where the last request is accepted; the rest is projected to completion as if
// nothing else came, which gives lastDataEnd and Stats. The next Transfer resumes the
// committed schedule, so its requests can still overtake (by row hits) or slow down
// the earlier ones' tails, and Stats then reflects that. An at earlier than the
// committed schedule's time is taken as that time: the requester cannot go back.
//
// Transfer returns an error, leaving the Controller to be Reset, for a time beyond
// MaxCycle (at or a request's Issue) and should the scheduler stop making progress
// (which validated specs do not cause: it is a guard against a model bug turning into a
// hang). In steady state Transfer does not allocate.
func (c *Controller) Transfer(reqs []Request, window int, at uint64) (lastAccept, lastDataEnd uint64, err error) {
	if c.fast != nil && len(reqs) > 0 && at <= MaxCycle {
		return c.fastTransfer(reqs, window, at)
	}
	return c.exactTransfer(reqs, window, at)
}

// exactTransfer is Transfer burst by burst.
func (c *Controller) exactTransfer(reqs []Request, window int, at uint64) (lastAccept, lastDataEnd uint64, err error) {
	if at > MaxCycle {
		return 0, 0, fmt.Errorf("dram: transfer at cycle %d: beyond the model's last cycle %d", at, uint64(MaxCycle))
	}
	for i := range reqs {
		if reqs[i].Issue > MaxCycle {
			return 0, 0, fmt.Errorf("dram: request %d issued at cycle %d: beyond the model's last cycle %d", i, reqs[i].Issue, uint64(MaxCycle))
		}
	}
	if len(reqs) == 0 {
		return at, at, nil
	}
	// When the projection already ran past the first arrival's time with nothing new
	// in between, the committed schedule would retrace it exactly: adopt it instead.
	if c.projValid && max(at, reqs[0].Issue) > c.proj.now {
		c.cur, c.proj = c.proj, c.cur
	}
	c.projValid = false
	s := c.cur
	s.begin(reqs, window, at)
	skipped := s.skip.skipped
	err = s.run(false)
	skipped = s.skip.skipped - skipped
	c.effort.Skipped += skipped
	c.effort.Stepped += int64(len(reqs)) - skipped
	if err == nil {
		c.proj.copyFrom(s)
		err = c.proj.run(true)
	}
	s.src, c.proj.src = nil, nil // do not keep the caller's slice
	if err != nil {
		return 0, 0, err
	}
	c.projValid = true
	return s.lastAccept, max(c.proj.genEnd, s.lastAccept), nil
}
