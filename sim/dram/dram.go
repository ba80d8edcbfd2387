// Package dram models an off-chip LPDDR/DDR device burst by burst: it decodes each
// address to a channel, bank and row, keeps every bank's open row and timing state in the
// DRAM's own clock, and returns when each burst's data moves and what the bank had to do
// (row hit, miss or conflict). The simulator's DMA engine drives it; the trace-replay
// command drives it directly. It knows nothing of accelerator cycles: callers convert.
//
// # Clock and sizes
//
// The DRAM command clock is data_rate/2 (see Controller.Clock); every time here is an
// integer count of its cycles. A burst moves bus_width_bits/8 * burst_length bytes and
// holds the channel's data bus for burst_length/2 cycles. ns timings are converted with
// hw.Timing.ClockCycles, which rounds up.
//
// # Address bits
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
// # Timing rules
//
// Requests are served in arrival order per channel: their data bursts go on the bus in
// that order and never overlap. Commands, though, may be issued out of order across
// banks: a request's activate or precharge takes the earliest free command slot (one
// command per cycle per channel) once its bank allows it, even if an earlier request is
// still waiting for the bus. That is what lets a stream over several banks hide tRCD and
// approach the bus peak, as a real controller's look-ahead does.
//
// Each command below goes in the first free command slot at or after the time given.
//
//   - Row hit: CAS at max(arrival, ACT+tRCD).
//   - Row miss (bank precharged): ACT at max(arrival, bank precharged), CAS tRCD later.
//   - Row conflict (another row open): PRE at max(arrival, ACT+tRAS, last read CAS +
//     burst_length/2, last write data end + tWR), ACT tRP after the PRE, CAS tRCD after
//     the ACT.
//   - The CAS is pushed later until its data would start after the channel's bus is
//     free. Read data starts tCL after the CAS, write data tCWL after it, and lasts
//     burst_length/2 cycles.
//   - Closed-page policy: every access auto-precharges at the earliest legal time (no
//     command slot), so the bank is precharged tRP later and every access is a miss.
//
// So an isolated conflict costs tRP+tRCD+tCL+burst_length/2 from arrival to data end,
// and back-to-back conflicts in one bank are tRC = tRAS+tRP apart. Requests are not
// reordered, so a stream needs enough requests in flight to cover a conflict's latency
// (for LPDDR4-3200 x32, 94 cycles, about 12 bursts) to keep the bus busy.
//
// A zero tWR means tWR = tRP (both are about 15-18 ns in the DDR4/LPDDR4 generations);
// a zero tCWL means tCWL = max(1, tCL/2), LPDDR4's ratio (WL 14 to RL 28 at 3200 MT/s). The
// read-to-precharge delay tRTP is taken as burst_length/2, the LPDDR4 minimum.
//
// Not modelled yet (structure is ready for them in the per-bank and per-channel state):
// refresh timing (refresh costs energy only), bank-group timings tCCD_S/L and tRRD_S/L,
// tFAW, read/write bus turnaround (tWTR, tRTW) and rank switching, power-down, and
// FR-FCFS reordering of queued requests.
//
// A Controller is not safe for concurrent use; it holds no global state.
package dram

import (
	"fmt"
	"math/bits"

	"github.com/rctsim/rctsim/hw"
)

// Outcome is what the bank had to do before the column command.
type Outcome uint8

const (
	// RowHit means the requested row was already open.
	RowHit Outcome = iota
	// RowMiss means the bank was precharged: one activate.
	RowMiss
	// RowConflict means another row was open: a precharge, then an activate.
	RowConflict
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case RowHit:
		return "hit"
	case RowMiss:
		return "miss"
	case RowConflict:
		return "conflict"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Result is the schedule of one burst.
type Result struct {
	// DataStart and DataEnd bound the burst's data transfer on the bus, in DRAM cycles
	// (DataEnd is exclusive: DataEnd-DataStart is burst_length/2).
	DataStart, DataEnd uint64
	Outcome            Outcome
	Channel            int
	// Bank is the bank's index within its channel, counting across ranks and bank
	// groups: (rank*bank_groups + bank_group)*banks_per_group + bank.
	Bank int
	Row  uint64
}

// Stats counts the events since New or Reset.
type Stats struct {
	Reads, Writes int64
	Activates     int64
	// Precharges counts explicit precharges and closed-page auto-precharges.
	Precharges                       int64
	RowHits, RowMisses, RowConflicts int64
	ReadBytes, WriteBytes            int64
	// LastDataEnd is the latest DataEnd returned, in DRAM cycles.
	LastDataEnd uint64
}

// bank is the state of one bank. All times are DRAM cycles.
type bank struct {
	open     bool
	openRow  uint64
	casReady uint64 // earliest CAS to the open row: its activate + tRCD
	preReady uint64 // earliest precharge of the open row (tRAS, read-to-precharge, tWR)
	actReady uint64 // earliest activate: the last precharge + tRP
}

// channel is the state shared by the banks of one channel.
type channel struct {
	busFree     uint64 // end of the last data burst
	lastArrival uint64 // arrivals are clamped to be non-decreasing per channel
	cmd         cmdBus
}

// timing is the spec's timing, in DRAM cycles.
type timing struct {
	rcd, rp, cl, ras, wr, cwl uint64
	burst                     uint64 // data-bus cycles per burst: burst_length/2
}

// Controller models one DRAM device (all its channels) with an open- or closed-page
// policy. Create it with New.
type Controller struct {
	spec       hw.DRAMSpec
	clock      hw.Frequency
	burstBytes int
	closedPage bool
	t          timing
	dec        decoder
	bankGroups int
	banksPerBG int
	banksPerCh int
	channels   []channel
	banks      []bank // banksPerCh per channel, channel-major
	stats      Stats
	mapping    Mapping
}

// New builds a controller for spec. It assumes spec passed hw validation but returns an
// error for anything it cannot model: counts that are not powers of two, a bus width
// that is not whole bytes, an odd burst length, a row that is not a power-of-two number
// of bursts, a bad mapping, a bad page policy or a zero required timing.
//
// Zero ranks or bank groups mean one (devices without bank groups leave it out); empty
// address_mapping means DefaultMapping; empty page_policy means "open".
func New(spec hw.DRAMSpec) (*Controller, error) {
	c := &Controller{spec: spec}
	if spec.Ranks == 0 {
		spec.Ranks = 1
	}
	if spec.BankGroups == 0 {
		spec.BankGroups = 1
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"channels", spec.Channels}, {"ranks", spec.Ranks}, {"bank_groups", spec.BankGroups}, {"banks", spec.Banks}} {
		if n.v <= 0 || n.v&(n.v-1) != 0 {
			return nil, fmt.Errorf("dram: %s = %d: must be a positive power of two", n.name, n.v)
		}
	}
	if spec.Banks%spec.BankGroups != 0 {
		return nil, fmt.Errorf("dram: banks = %d is not a multiple of bank_groups = %d", spec.Banks, spec.BankGroups)
	}
	if spec.BusWidthBits <= 0 || spec.BusWidthBits%8 != 0 {
		return nil, fmt.Errorf("dram: bus_width_bits = %d: must be a positive multiple of 8", spec.BusWidthBits)
	}
	if spec.BurstLength <= 0 || spec.BurstLength%2 != 0 {
		return nil, fmt.Errorf("dram: burst_length = %d: must be positive and even (a burst uses both clock edges)", spec.BurstLength)
	}
	burstBytes := spec.BusWidthBits / 8 * spec.BurstLength
	if burstBytes&(burstBytes-1) != 0 {
		return nil, fmt.Errorf("dram: burst of %d bytes (bus_width_bits/8 * burst_length) is not a power of two", burstBytes)
	}
	if spec.RowSize < hw.ByteSize(burstBytes) || spec.RowSize%hw.ByteSize(burstBytes) != 0 {
		return nil, fmt.Errorf("dram: row_size = %v is not a multiple of the %d-byte burst", spec.RowSize, burstBytes)
	}
	cols := int64(spec.RowSize) / int64(burstBytes)
	if cols&(cols-1) != 0 {
		return nil, fmt.Errorf("dram: row_size = %v holds %d bursts, not a power of two", spec.RowSize, cols)
	}
	if spec.DataRate <= 0 || spec.DataRate%2 != 0 {
		return nil, fmt.Errorf("dram: data_rate = %d T/s: must be positive and even (the clock is data_rate/2)", int64(spec.DataRate))
	}
	c.clock = hw.Frequency(spec.DataRate / 2)
	c.burstBytes = burstBytes

	switch spec.PagePolicy {
	case "", "open":
	case "closed":
		c.closedPage = true
	default:
		return nil, fmt.Errorf("dram: page_policy %q: want \"open\" or \"closed\"", spec.PagePolicy)
	}

	cyc := func(name string, t hw.Timing, required bool) (uint64, error) {
		v := t.ClockCycles(c.clock)
		if v < 0 || (required && v == 0) {
			return 0, fmt.Errorf("dram: %s = %v: must be positive", name, t)
		}
		return uint64(v), nil
	}
	var err error
	tm := &c.t
	if tm.rcd, err = cyc("tRCD", spec.TRCD, true); err != nil {
		return nil, err
	}
	if tm.rp, err = cyc("tRP", spec.TRP, true); err != nil {
		return nil, err
	}
	if tm.cl, err = cyc("tCL", spec.TCL, true); err != nil {
		return nil, err
	}
	if tm.ras, err = cyc("tRAS", spec.TRAS, true); err != nil {
		return nil, err
	}
	if tm.wr, err = cyc("tWR", spec.TWR, false); err != nil {
		return nil, err
	}
	if tm.wr == 0 {
		tm.wr = tm.rp
	}
	if tm.cwl, err = cyc("tCWL", spec.TCWL, false); err != nil {
		return nil, err
	}
	if tm.cwl == 0 {
		tm.cwl = max(1, tm.cl/2)
	}
	tm.burst = uint64(spec.BurstLength / 2)

	ms := spec.AddressMapping
	if ms == "" {
		ms = DefaultMapping
	}
	if c.mapping, err = ParseMapping(ms); err != nil {
		return nil, fmt.Errorf("dram: %w", err)
	}
	var widths [numFields]uint
	widths[fieldColumn] = log2(int(cols))
	widths[fieldBank] = log2(spec.Banks / spec.BankGroups)
	widths[fieldBankGroup] = log2(spec.BankGroups)
	widths[fieldRank] = log2(spec.Ranks)
	widths[fieldChannel] = log2(spec.Channels)
	if c.dec, err = newDecoder(c.mapping, log2(burstBytes), widths); err != nil {
		return nil, fmt.Errorf("dram: %w", err)
	}

	c.bankGroups = spec.BankGroups
	c.banksPerBG = spec.Banks / spec.BankGroups
	c.banksPerCh = spec.Ranks * spec.Banks
	c.channels = make([]channel, spec.Channels)
	c.banks = make([]bank, spec.Channels*c.banksPerCh)
	return c, nil
}

// log2 of a power of two.
func log2(n int) uint { return uint(bits.TrailingZeros64(uint64(n))) }

// BurstBytes returns the bytes one burst moves: bus_width_bits/8 * burst_length.
func (c *Controller) BurstBytes() int { return c.burstBytes }

// Clock returns the DRAM command clock, data_rate/2, in which all cycles here count.
func (c *Controller) Clock() hw.Frequency { return c.clock }

// Mapping returns the address mapping in use.
func (c *Controller) Mapping() Mapping { return c.mapping }

// Decode returns where addr lands; the offset within its burst is dropped.
func (c *Controller) Decode(addr uint64) Location { return c.dec.decode(addr) }

// Stats returns the event counts since New or Reset.
func (c *Controller) Stats() Stats { return c.stats }

// Reset precharges every bank, frees every bus, clears the statistics and sets time
// back to zero, as if the Controller were new.
func (c *Controller) Reset() {
	clear(c.channels)
	clear(c.banks)
	c.stats = Stats{}
}

// Access schedules one burst-sized read or write of the burst holding addr, arriving at
// DRAM cycle at, and returns when its data moves and what its bank had to do.
//
// Calls for the same channel must come in non-decreasing at (calls for different
// channels may interleave freely); an earlier at than the channel's previous arrival is
// taken as that arrival. Bursts of one channel are served in call order.
func (c *Controller) Access(addr uint64, write bool, at uint64) Result {
	d := &c.dec
	chIdx := int(d.get(addr, fieldChannel))
	flat := (int(d.get(addr, fieldRank))*c.bankGroups+int(d.get(addr, fieldBankGroup)))*c.banksPerBG + int(d.get(addr, fieldBank))
	row := addr >> d.shift[fieldRow]
	ch := &c.channels[chIdx]
	b := &c.banks[chIdx*c.banksPerCh+flat]
	t := &c.t

	if at < ch.lastArrival {
		at = ch.lastArrival
	}
	ch.lastArrival = at

	var outcome Outcome
	var casEarliest uint64
	switch {
	case b.open && b.openRow == row:
		outcome = RowHit
		casEarliest = max(at, b.casReady)
	case b.open:
		outcome = RowConflict
		pre := ch.cmd.book(max(at, b.preReady))
		c.stats.Precharges++
		c.activate(ch, b, row, pre+t.rp)
		casEarliest = b.casReady
	default:
		outcome = RowMiss
		c.activate(ch, b, row, max(at, b.actReady))
		casEarliest = b.casReady
	}

	lat := t.cl
	if write {
		lat = t.cwl
	}
	// The data must not start before the bus is free.
	if ch.busFree > lat {
		casEarliest = max(casEarliest, ch.busFree-lat)
	}
	cas := ch.cmd.book(casEarliest)
	start := cas + lat
	end := start + t.burst
	ch.busFree = end

	// The row may close once this column access is done with it.
	if write {
		b.preReady = max(b.preReady, end+t.wr)
	} else {
		b.preReady = max(b.preReady, cas+t.burst)
	}
	if c.closedPage {
		// Auto-precharge rides on the column command: no command slot of its own.
		b.open = false
		b.actReady = b.preReady + t.rp
		c.stats.Precharges++
	}

	s := &c.stats
	switch outcome {
	case RowHit:
		s.RowHits++
	case RowMiss:
		s.RowMisses++
	default:
		s.RowConflicts++
	}
	if write {
		s.Writes++
		s.WriteBytes += int64(c.burstBytes)
	} else {
		s.Reads++
		s.ReadBytes += int64(c.burstBytes)
	}
	s.LastDataEnd = max(s.LastDataEnd, end)
	return Result{DataStart: start, DataEnd: end, Outcome: outcome, Channel: chIdx, Bank: flat, Row: row}
}

// activate opens row in bank b with an ACT at the first free command slot at or after
// cycle from.
func (c *Controller) activate(ch *channel, b *bank, row uint64, from uint64) {
	act := ch.cmd.book(from)
	b.open, b.openRow = true, row
	b.casReady = act + c.t.rcd
	b.preReady = act + c.t.ras
	c.stats.Activates++
}
