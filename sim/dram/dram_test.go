package dram

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/traces/fileio"
)

// lpddr4 is an LPDDR4-3200 x32 device without refresh: 1600 MHz command clock, 64-byte
// bursts of 8 cycles, peak 8 bytes per DRAM cycle (12.8 GB/s), 8 banks of 2 KiB rows.
func lpddr4() hw.DRAMSpec {
	return hw.DRAMSpec{
		Kind:           "lpddr4",
		Channels:       1,
		Ranks:          1,
		BankGroups:     1,
		Banks:          8,
		RowSize:        2 << 10,
		BusWidthBits:   32,
		DataRate:       3200e6,
		BurstLength:    16,
		AddressMapping: "rochrababgco",
		PagePolicy:     "open",
		TRCD:           hw.Timing{NS: 18, InNS: true}, // 28.8 -> 29 cycles
		TRP:            hw.Timing{NS: 18, InNS: true}, // 29
		TCL:            hw.Timing{Cycles: 28},
		TRAS:           hw.Timing{NS: 42, InNS: true}, // 67.2 -> 68
		TWR:            hw.Timing{NS: 18, InNS: true}, // 29
		TCWL:           hw.Timing{Cycles: 14},
		TRTP:           hw.Timing{Cycles: 12},
		TCCDS:          hw.Timing{Cycles: 8},
		TRRDS:          hw.Timing{Cycles: 16},
		TFAW:           hw.Timing{Cycles: 64},
		TWTRS:          hw.Timing{Cycles: 16},

		ActivateEnergyPJ:    900,
		ReadEnergyPJPerBit:  4,
		WriteEnergyPJPerBit: 4.5,
		BackgroundPowerMW:   50,
		RefreshPowerMW:      10,
	}
}

// The lpddr4 timings in DRAM cycles.
const (
	tRCD  = 29
	tRP   = 29
	tCL   = 28
	tRAS  = 68
	tRC   = tRAS + tRP
	tWR   = 29
	tCWL  = 14
	tRTP  = 12
	tRRD  = 16
	tFAW  = 64
	burst = 8 // cycles per burst on the data bus
	bb    = 64
	peak  = 8.0 // bytes per DRAM cycle
)

// withRefresh adds LPDDR4's refresh: tRFC 280 ns = 448 cycles, tREFI 3904 ns = 6247.
func withRefresh(s hw.DRAMSpec) hw.DRAMSpec {
	s.TRFC = hw.Timing{NS: 280, InNS: true}
	s.TREFI = hw.Timing{NS: 3904, InNS: true}
	return s
}

// admit is the cycle between a request's admission into its bank's command queue and
// its first command (DRAMsim3 moves a request there after the cycle's command).
const admit = 1

const (
	tRFC  = 448
	tREFI = 6247 // 3904 ns * 1.6 GHz = 6246.4, rounded up
)

// ddr4 has every field wider than one, to exercise the decoder and the bank groups:
// DDR4-3200, 64-bit bus, 8 KiB rows, 4 bank groups.
func ddr4() hw.DRAMSpec {
	s := lpddr4()
	s.Kind = "ddr4"
	s.Channels, s.Ranks, s.BankGroups, s.Banks = 2, 2, 4, 16
	s.BusWidthBits, s.BurstLength, s.RowSize = 64, 8, 8<<10
	s.TCCDS, s.TCCDL = hw.Timing{Cycles: 4}, hw.Timing{Cycles: 8}
	s.TRRDS, s.TRRDL = hw.Timing{Cycles: 9}, hw.Timing{Cycles: 11}
	s.TFAW = hw.Timing{Cycles: 48}
	s.TWTRS, s.TWTRL = hw.Timing{Cycles: 4}, hw.Timing{Cycles: 12}
	return s
}

func mustNew(t testing.TB, s hw.DRAMSpec) *Controller {
	t.Helper()
	c, err := New(s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// mustTransfer is c.Transfer, failing the test on its error.
func mustTransfer(t testing.TB, c *Controller, reqs []Request, window int, at uint64) (lastAccept, lastDataEnd uint64) {
	t.Helper()
	a, e, err := c.Transfer(reqs, window, at)
	if err != nil {
		t.Fatalf("Transfer: %v", err)
	}
	return a, e
}

// command is one command seen by the test hook.
type command struct {
	kind uint8
	t    uint64
	addr uint64
}

// record logs every command of the committed schedule and of its projection. For a
// single Transfer the two together are the whole schedule, each command once.
func record(c *Controller) *[]command {
	var log []command
	f := func(kind uint8, t, addr uint64) { log = append(log, command{kind, t, addr}) }
	c.cur.onCmd, c.proj.onCmd = f, f
	return &log
}

// encode is the inverse of Decode.
func encode(c *Controller, l Location) uint64 {
	d := &c.cfg.dec
	return l.Row<<d.shift[fieldRow] |
		uint64(l.Channel)<<d.shift[fieldChannel] |
		uint64(l.Rank)<<d.shift[fieldRank] |
		uint64(l.BankGroup)<<d.shift[fieldBankGroup] |
		uint64(l.Bank)<<d.shift[fieldBank] |
		uint64(l.Column)<<d.shift[fieldColumn]
}

// reads makes n read requests at addr(i), all issued at cycle 0.
func reads(n int, addr func(i int) uint64) []Request {
	r := make([]Request, n)
	for i := range r {
		r[i] = Request{Addr: addr(i)}
	}
	return r
}

func seq(i int) uint64 { return uint64(i * bb) }

func TestNewDerived(t *testing.T) {
	c := mustNew(t, lpddr4())
	if got := c.Clock(); got != 1600e6 {
		t.Errorf("Clock = %v, want 1600MHz", got)
	}
	if got := c.BurstBytes(); got != bb {
		t.Errorf("BurstBytes = %d, want %d", got, bb)
	}
	cf := &c.cfg
	got := []uint64{cf.rcd, cf.rp, cf.cl, cf.ras, cf.rc, cf.wr, cf.cwl, cf.rtp, cf.burst, cf.rrdS, cf.faw, cf.refi}
	want := []uint64{tRCD, tRP, tCL, tRAS, tRC, tWR, tCWL, tRTP, burst, tRRD, tFAW, 0}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("timings = %v, want %v", got, want)
			break
		}
	}
	// Long timings default to the short ones, and the DRAMsim3 turnarounds follow
	// (read to write RL + burst - WL + tRTRS, with no tRTRS here).
	if cf.ccdL != 8 || cf.rrdL != tRRD || cf.wtrL != 16 || cf.rdToWr != tCL+burst-tCWL || cf.wrToRdS != tCWL+burst+16 {
		t.Errorf("derived: ccdL %d rrdL %d wtrL %d rdToWr %d wrToRdS %d", cf.ccdL, cf.rrdL, cf.wtrL, cf.rdToWr, cf.wrToRdS)
	}
	if cf.readQ != 32 || cf.writeQ != 32 || cf.bankQ != 8 || cf.highMark != 24 || cf.lowMark != 8 {
		t.Errorf("queues %d %d %d %d %d", cf.readQ, cf.writeQ, cf.bankQ, cf.highMark, cf.lowMark)
	}

	// Zero tWR and tCWL are derived; zero ranks/bank groups and empty strings default.
	s := lpddr4()
	s.TWR, s.TCWL, s.Ranks, s.BankGroups, s.AddressMapping, s.PagePolicy = hw.Timing{}, hw.Timing{}, 0, 0, "", ""
	c = mustNew(t, s)
	if c.cfg.wr != tRP || c.cfg.cwl != tCL/2 {
		t.Errorf("derived tWR, tCWL = %d, %d; want %d, %d", c.cfg.wr, c.cfg.cwl, tRP, tCL/2)
	}
	if c.cfg.closedPage || c.Mapping().String() != DefaultMapping {
		t.Errorf("defaults: closed=%v mapping=%v", c.cfg.closedPage, c.Mapping())
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*hw.DRAMSpec)
		want string
	}{
		{"banks not pow2", func(s *hw.DRAMSpec) { s.Banks = 6 }, "banks"},
		{"channels zero", func(s *hw.DRAMSpec) { s.Channels = 0 }, "channels"},
		{"ranks 3", func(s *hw.DRAMSpec) { s.Ranks = 3 }, "ranks"},
		{"bank groups > banks", func(s *hw.DRAMSpec) { s.BankGroups = 16 }, "multiple"},
		{"bus width", func(s *hw.DRAMSpec) { s.BusWidthBits = 12 }, "bus_width_bits"},
		{"device width", func(s *hw.DRAMSpec) { s.DeviceWidthBits = 64 }, "device_width_bits"},
		{"odd burst", func(s *hw.DRAMSpec) { s.BurstLength = 15 }, "burst_length"},
		{"burst not pow2", func(s *hw.DRAMSpec) { s.BurstLength = 12 }, "power of two"},
		{"row smaller than burst", func(s *hw.DRAMSpec) { s.RowSize = 32 }, "row_size"},
		{"row not pow2 bursts", func(s *hw.DRAMSpec) { s.RowSize = 3 << 10 }, "row_size"},
		{"data rate", func(s *hw.DRAMSpec) { s.DataRate = 0 }, "data_rate"},
		{"page policy", func(s *hw.DRAMSpec) { s.PagePolicy = "adaptive" }, "page_policy"},
		{"unknown mapping field", func(s *hw.DRAMSpec) { s.AddressMapping = "rochrababgxx" }, "address_mapping"},
		{"row not first", func(s *hw.DRAMSpec) { s.AddressMapping = "chrorababgco" }, "most significant"},
		{"tRCD zero", func(s *hw.DRAMSpec) { s.TRCD = hw.Timing{} }, "tRCD"},
		{"tRAS zero", func(s *hw.DRAMSpec) { s.TRAS = hw.Timing{Cycles: 0} }, "tRAS"},
		{"refresh half given", func(s *hw.DRAMSpec) { s.TREFI = hw.Timing{Cycles: 100} }, "tREFI"},
		{"tREFI below tRFC", func(s *hw.DRAMSpec) { s.TREFI, s.TRFC = hw.Timing{Cycles: 100}, hw.Timing{Cycles: 200} }, "tREFI"},
		{"watermarks", func(s *hw.DRAMSpec) { s.WriteHighWatermark, s.WriteLowWatermark = 8, 8 }, "write_low_watermark"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := lpddr4()
			tt.edit(&s)
			_, err := New(s)
			if err == nil {
				t.Fatalf("New succeeded, want error about %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			// The rules are hw's: the error names its key as a profile's would.
			var pe *fileio.Error
			if !errors.As(err, &pe) || !strings.HasPrefix(pe.Key, "dram.") {
				t.Errorf("error %v is not a *fileio.Error naming a dram key", err)
			}
		})
	}
}

func TestParseMapping(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // "" for success
	}{
		{"rochrababgco", ""},
		{"rorabgbachco", ""},
		{"rocochrabgba", ""},
		{"roch", "two-letter"},
		{"", "two-letter"},
		{"rorochbaco", "two-letter"},
		{"rorochbacoba", "twice"},
		{"xxchrababgco", "unknown field"},
		{"ROCHRABABGCO", "unknown field"},
		{"rochrababgc", "two-letter"},
		{"chrorababgco", "most significant"},
	}
	for _, tt := range tests {
		m, err := ParseMapping(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ParseMapping(%q): %v", tt.in, err)
		case tt.wantErr == "" && m.String() != tt.in:
			t.Errorf("ParseMapping(%q).String() = %q", tt.in, m.String())
		case tt.wantErr != "" && err == nil:
			t.Errorf("ParseMapping(%q) succeeded, want error", tt.in)
		case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
			t.Errorf("ParseMapping(%q) error %q, want it to mention %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestDecodeLayout(t *testing.T) {
	// Default mapping on LPDDR4: 6 offset bits, 5 column bits, 3 bank bits, then row.
	c := mustNew(t, lpddr4())
	tests := []struct {
		addr uint64
		want Location
	}{
		{0, Location{}},
		{63, Location{}},
		{64, Location{Column: 1}},
		{2047, Location{Column: 31}},
		{2048, Location{Bank: 1}},
		{7 * 2048, Location{Bank: 7}},
		{16 << 10, Location{Row: 1}},
		{5<<14 | 3<<11 | 9<<6 | 17, Location{Row: 5, Bank: 3, Column: 9}},
	}
	for _, tt := range tests {
		if got := c.Decode(tt.addr); got != tt.want {
			t.Errorf("Decode(%#x) = %+v, want %+v", tt.addr, got, tt.want)
		}
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	for _, m := range []string{"rochrababgco", "rorabgbachco", "rocochrabgba", "robabgracoch"} {
		t.Run(m, func(t *testing.T) {
			s := ddr4()
			s.AddressMapping = m
			c := mustNew(t, s)
			rng := rand.New(rand.NewPCG(1, 2))
			for range 1000 {
				addr := rng.Uint64() >> 20
				l := c.Decode(addr)
				if l.Channel >= s.Channels || l.Rank >= s.Ranks || l.BankGroup >= s.BankGroups ||
					l.Bank >= s.Banks/s.BankGroups || l.Column >= int(s.RowSize)/c.BurstBytes() {
					t.Fatalf("Decode(%#x) = %+v out of range", addr, l)
				}
				if got, want := encode(c, l), addr&^uint64(c.BurstBytes()-1); got != want {
					t.Fatalf("encode(Decode(%#x)) = %#x, want %#x", addr, got, want)
				}
			}
		})
	}
}

// TestStreamingReadsReachPeak: a sequential stream runs at the bus peak, less what
// refresh takes: every tREFI the bus stops for tRFC plus the precharge before it and
// the activate and read latency after it.
func TestStreamingReadsReachPeak(t *testing.T) {
	const n = 20000
	for _, tt := range []struct {
		name     string
		spec     hw.DRAMSpec
		window   int
		min, max float64 // fraction of peak
	}{
		{"no refresh/queued", lpddr4(), 0, 0.98, 1},
		{"no refresh/16 outstanding", lpddr4(), 16, 0.98, 1},
		{"refresh/queued", withRefresh(lpddr4()), 0,
			1 - float64(tRFC+tRAS+tRP+tRCD+tCL+2*burst)/tREFI, 1 - float64(tRFC)/tREFI},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, tt.spec)
			c.Transfer(reads(n, seq), tt.window, 0)
			s := c.Stats()
			frac := float64(n*bb) / float64(s.LastDataEnd) / peak
			if frac < tt.min || frac > tt.max {
				t.Errorf("bandwidth %.4f of peak, want %.4f..%.4f", frac, tt.min, tt.max)
			}
			if s.Reads != n || s.ReadBursts != n || s.ReadBytes != n*bb ||
				s.RowHits+s.RowMisses+s.RowConflicts != n {
				t.Errorf("Stats = %+v", s)
			}
		})
	}
}

// TestBankGroupLimit: on DDR4, column commands to one bank group are tCCD_L apart, to
// different groups tCCD_S, exactly. A stream that stays in one bank group for a whole
// row (DRAMsim3's rochrababgco mapping) therefore runs near half the bus; one whose
// bank group changes every burst reaches it.
func TestBankGroupLimit(t *testing.T) {
	s := ddr4()
	s.Channels, s.Ranks = 1, 1
	const n = 128 // one 8 KiB row of 64-byte bursts
	for _, tt := range []struct {
		name   string
		groups int
		gap    uint64
	}{{"one bank group", 1, 8}, {"two bank groups", 2, 4}} {
		c := mustNew(t, s)
		log := record(c)
		c.Transfer(reads(n, func(i int) uint64 {
			return encode(c, Location{BankGroup: i % tt.groups, Column: i / tt.groups})
		}), 0, 0)
		var cas []uint64
		for _, cmd := range *log {
			if cmd.kind == cmdRead {
				cas = append(cas, cmd.t)
			}
		}
		// Past the activates, and before the last burst (alone in its group).
		for i := 3; i < n-1; i++ {
			if d := cas[i] - cas[i-1]; d != tt.gap {
				t.Fatalf("%s: reads %d and %d are %d cycles apart, want %d", tt.name, i-1, i, d, tt.gap)
			}
		}
	}

	for _, tt := range []struct {
		mapping  string
		min, max float64 // fraction of peak
	}{
		{"rochrababgco", 0.5, 0.7}, // near burst/tCCD_L, helped where the queue spans two rows
		{"rochrabacobg", 0.98, 1},
	} {
		s.AddressMapping = tt.mapping
		c := mustNew(t, s)
		c.Transfer(reads(4096, seq), 0, 0)
		got := float64(4096*64) / float64(c.Stats().LastDataEnd) / (64.0 / 4)
		if got < tt.min || got > tt.max {
			t.Errorf("%s: %.4f of peak, want %.2f..%.2f", tt.mapping, got, tt.min, tt.max)
		}
	}
}

// sameBankRow returns the address of row i in bank 0, column 0.
func sameBankRow(c *Controller) func(int) uint64 {
	return func(i int) uint64 { return encode(c, Location{Row: uint64(i)}) }
}

// TestStridePaysPrechargeAndActivate: one request per row, each issued long after the
// previous one: every request but the first pays tRP + tRCD on top of the read
// latency, exactly.
func TestStridePaysPrechargeAndActivate(t *testing.T) {
	const n = 50
	c := mustNew(t, lpddr4())
	row := sameBankRow(c)
	reqs := reads(n, row)
	for i := range reqs {
		reqs[i].Issue = uint64(i) * 1000 // past tRAS of the previous activate
	}
	c.Transfer(reqs, 0, 0)
	s := c.Stats()
	want := uint64(n*(admit+tRCD+tCL+burst) + (n-1)*tRP)
	if s.ReadLatency != want || s.ReadLatencyFromIssue != want {
		t.Errorf("read latency %d (from issue %d) cycles in all, want %d", s.ReadLatency, s.ReadLatencyFromIssue, want)
	}
	if s.RowMisses != 1 || s.RowConflicts != n-1 || s.RowHits != 0 || s.Activates != n || s.Precharges != n-1 {
		t.Errorf("Stats = %+v", s)
	}
}

// TestSameBankConflictsAreTRCBound: back-to-back requests to different rows of one
// bank run one per tRC = tRAS + tRP.
func TestSameBankConflictsAreTRCBound(t *testing.T) {
	const n = 64
	c := mustNew(t, lpddr4())
	c.Transfer(reads(n, sameBankRow(c)), 0, 0)
	if got, want := c.Stats().LastDataEnd, uint64(admit+tRCD+tCL+burst+(n-1)*tRC); got != want {
		t.Errorf("last data at %d, want %d (one row per tRC)", got, want)
	}
}

// TestFAWBoundsActivates: with tRRD short, activates come in fours, each four a tFAW
// after the previous four.
func TestFAWBoundsActivates(t *testing.T) {
	s := lpddr4()
	s.TRRDS = hw.Timing{Cycles: 2}
	s.TFAW = hw.Timing{Cycles: 100}
	c := mustNew(t, s)
	log := record(c)
	// Eight banks, a new row each time: every request activates.
	c.Transfer(reads(64, func(i int) uint64 { return encode(c, Location{Bank: i % 8, Row: uint64(i / 8)}) }), 0, 0)
	var acts []uint64
	for _, cmd := range *log {
		if cmd.kind == cmdAct {
			acts = append(acts, cmd.t)
		}
	}
	if len(acts) != 64 {
		t.Fatalf("%d activates, want 64", len(acts))
	}
	for i := 4; i < len(acts); i++ {
		if acts[i]-acts[i-4] < 100 {
			t.Fatalf("activates %d and %d are %d cycles apart, tFAW is 100", i-4, i, acts[i]-acts[i-4])
		}
	}
	// Four activates per tFAW at best, and the stream reaches it: the window binds.
	if span := acts[len(acts)-1] - acts[0]; span > 100*(64/4-1)+8 {
		t.Errorf("64 activates over %d cycles, want about %d", span, 100*(64/4-1))
	}
}

// TestRefreshCount: one refresh per tREFI, also across idle time between transfers,
// and none of the bus is used while it runs.
func TestRefreshCount(t *testing.T) {
	for _, ranks := range []int{1, 2} {
		s := withRefresh(lpddr4())
		s.Ranks = ranks
		c := mustNew(t, s)
		log := record(c)
		c.Transfer(reads(5000, seq), 16, 0)
		c.Transfer(reads(5000, func(i int) uint64 { return seq(i + 5000) }), 16, 3_000_000)
		st := c.Stats()
		// Rank r falls due at (k + (r+1)/ranks) * tREFI.
		var want int64
		for r := range ranks {
			first := uint64(tREFI * (r + 1) / ranks)
			want += int64((st.LastDataEnd-first)/tREFI) + 1
		}
		if st.Refreshes != want {
			t.Errorf("%d ranks: %d refreshes up to cycle %d, want %d", ranks, st.Refreshes, st.LastDataEnd, want)
		}
		// The log misses the refreshes done without stepping (idle time); the stepped
		// ones leave tRFC before the rank's next activate.
		var lastRef uint64
		refs := 0
		for _, cmd := range *log {
			switch cmd.kind {
			case cmdRef:
				lastRef = cmd.t
				refs++
			case cmdAct:
				if ranks == 1 && refs > 0 && cmd.t < lastRef+tRFC {
					t.Fatalf("activate at %d, %d cycles after a refresh", cmd.t, cmd.t-lastRef)
				}
			}
		}
		if refs == 0 || int64(refs) >= want {
			t.Errorf("%d ranks: %d refreshes stepped, want some stepped and the idle ones skipped (of %d)", ranks, refs, want)
		}
	}
}

// TestFRFCFSServesHitsFirst: a younger request to the open row goes before an older
// one to another row of the same bank.
func TestFRFCFSServesHitsFirst(t *testing.T) {
	c := mustNew(t, lpddr4())
	log := record(c)
	row0 := encode(c, Location{Row: 0})
	row1 := encode(c, Location{Row: 1})
	hit := encode(c, Location{Row: 0, Column: 5})
	c.Transfer([]Request{{Addr: row0}, {Addr: row1, Issue: 1}, {Addr: hit, Issue: 2}}, 0, 0)
	var order []uint64
	for _, cmd := range *log {
		if cmd.kind == cmdRead {
			order = append(order, cmd.addr)
		}
	}
	if len(order) != 3 || order[0] != row0 || order[1] != hit || order[2] != row1 {
		t.Errorf("reads served in order %#x, want %#x %#x %#x", order, row0, hit, row1)
	}
	if s := c.Stats(); s.RowHits != 1 || s.RowMisses != 1 || s.RowConflicts != 1 {
		t.Errorf("Stats = %+v", s)
	}
}

// TestRowHitCap: as in DRAMsim3, below rowHitCap column commands to the open row a
// bank serves younger hits before precharging for an older request to another row;
// from the cap on the precharge is permitted, not forced: it goes once it is ready
// (tRAS, tRTP), and hits ready before it keep being served.
func TestRowHitCap(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(s *hw.DRAMSpec)
		want []uint64 // rows of the reads, in order
	}{
		// tRTP (12) exceeds the hits' spacing (tCCD, 8): the precharge never becomes
		// ready before the next hit, so every hit goes first.
		{"precharge held back by tRTP", func(*hw.DRAMSpec) {}, []uint64{0, 0, 0, 0, 0, 0, 0, 1}},
		// With tRAS and tRTP short, the precharge is ready right after the fourth
		// column command, and goes before the fifth hit.
		{"precharge ready at the cap", func(s *hw.DRAMSpec) { s.TRAS, s.TRTP = hw.Timing{Cycles: 30}, hw.Timing{Cycles: 1} },
			[]uint64{0, 0, 0, 0, 1, 0, 0, 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := lpddr4()
			tt.edit(&spec)
			c := mustNew(t, spec)
			log := record(c)
			reqs := []Request{{Addr: encode(c, Location{Row: 0})}, {Addr: encode(c, Location{Row: 1}), Issue: 1}}
			for i := range 6 {
				reqs = append(reqs, Request{Addr: encode(c, Location{Row: 0, Column: i + 1}), Issue: uint64(2 + i)})
			}
			c.Transfer(reqs, 0, 0)
			var rows []uint64
			for _, cmd := range *log {
				if cmd.kind == cmdRead {
					rows = append(rows, c.Decode(cmd.addr).Row)
				}
			}
			if fmt.Sprint(rows) != fmt.Sprint(tt.want) {
				t.Errorf("rows %v, want %v", rows, tt.want)
			}
		})
	}
}

// TestLoneWriteDoesNotPingPong is the ping-pong repro: one write to row 1 and 200 reads
// from address 0 on, one every 16 cycles, on LPDDR3-1600. Once the write is admitted its
// bank precharges and activates for it and serves it, and the reads re-open their row
// once. The model used to re-open the reads' row for every read (45 activates, 42
// conflicts). The reads also reach a second bank (past 8 KiB), and tREFI (3120 cycles)
// falls inside the trace: three activates (the write's row, the reads' row in each
// bank) plus one per refresh that closes a row still in use; without refresh, three.
func TestLoneWriteDoesNotPingPong(t *testing.T) {
	dp, err := hw.LoadDRAM(configs.FS, "dram/lpddr3_1600.toml")
	if err != nil {
		t.Fatal(err)
	}
	reqs := []Request{{Addr: 0x10000, Write: true}}
	for i := range 200 {
		reqs = append(reqs, Request{Addr: uint64(i * 64), Issue: uint64(1 + i*16)})
	}
	noRefresh := dp.DRAM
	noRefresh.TREFI = hw.Timing{NS: 100e3, InNS: true}
	for _, tt := range []struct {
		name string
		spec hw.DRAMSpec
	}{{"lpddr3_1600", dp.DRAM}, {"without refresh", noRefresh}} {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, tt.spec)
			if c.Decode(0x10000).Bank != c.Decode(0).Bank || c.Decode(0x10000).Row == c.Decode(0).Row {
				t.Fatal("test bug: the write must go to another row of the reads' bank")
			}
			c.Transfer(reqs, 0, 0)
			s := c.Stats()
			if s.Activates > 3+s.Refreshes || s.RowConflicts > 1 || s.Reads != 200 || s.Writes != 1 {
				t.Errorf("%d activates with %d refreshes, %d conflicts (want at most 3 + refreshes, and 1): %+v",
					s.Activates, s.Refreshes, s.RowConflicts, s)
			}
		})
	}
}

// TestWriteDrainWatermarks: writes wait in the buffer while reads are served, drain
// from the high watermark down to the low one, and the rest drain when reads run out.
func TestWriteDrainWatermarks(t *testing.T) {
	c := mustNew(t, lpddr4()) // 32 writes, watermarks 24 and 8
	log := record(c)
	var reqs []Request
	for i := range 32 {
		reqs = append(reqs, Request{Addr: seq(i)})
	}
	for i := range 24 {
		reqs = append(reqs, Request{Addr: seq(4096 + i), Write: true})
	}
	for i := range 32 {
		reqs = append(reqs, Request{Addr: seq(32 + i)})
	}
	c.Transfer(reqs, 0, 0)
	// Runs of column commands: reads, 16 writes (24 down to 8), reads, 8 writes.
	var runs []int
	var kinds []uint8
	for _, cmd := range *log {
		if cmd.kind != cmdRead && cmd.kind != cmdWrite {
			continue
		}
		if len(kinds) == 0 || kinds[len(kinds)-1] != cmd.kind {
			kinds, runs = append(kinds, cmd.kind), append(runs, 0)
		}
		runs[len(runs)-1]++
	}
	if len(runs) != 4 || kinds[0] != cmdRead || runs[1] != 16 || runs[3] != 8 || runs[0]+runs[2] != 64 {
		t.Errorf("column runs %v of kinds %v, want reads, 16 writes, reads, 8 writes", runs, kinds)
	}
}

// TestWindow: with one request outstanding, each read waits for the previous one's
// data; row hits then cost tCL + burst each.
func TestWindow(t *testing.T) {
	const n = 20
	c := mustNew(t, lpddr4())
	accept, end := mustTransfer(t, c, reads(n, seq), 1, 0)
	want := uint64(tRCD + n*(admit+tCL+burst))
	if end != want || c.Stats().LastDataEnd != want || accept != want-tCL-burst-admit {
		t.Errorf("accept %d, end %d; want %d, %d", accept, end, want-tCL-burst-admit, want)
	}
}

// TestTransfersEqualOneStream: splitting a stream into transfers changes nothing: the
// committed schedule continues where the last one stopped, whether the projection was
// overtaken (back-to-back transfers) or adopted (a later start).
func TestTransfersEqualOneStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var all []Request
	starts := []uint64{0, 0, 5000, 5000, 200000, 200010}
	var chunks [][]Request
	for k, at := range starts {
		var chunk []Request
		for i := range 300 + 100*k {
			addr := uint64(k*1000+i) * 64
			if rng.IntN(3) == 0 {
				addr = rng.Uint64() >> 36
			}
			chunk = append(chunk, Request{Addr: addr, Write: rng.IntN(4) == 0})
		}
		// The same issue cycle either way, so that latencies from issue agree too.
		for i := range chunk {
			chunk[i].Issue = at
		}
		chunks = append(chunks, chunk)
		all = append(all, chunk...)
	}
	spec := withRefresh(ddr4())
	split := mustNew(t, spec)
	for k, chunk := range chunks {
		split.Transfer(chunk, 16, starts[k])
	}
	whole := mustNew(t, spec)
	whole.Transfer(all, 16, 0)
	if a, b := split.Stats(), whole.Stats(); a != b {
		t.Errorf("split: %+v\nwhole: %+v", a, b)
	}
}

func TestClosedPageAlwaysMisses(t *testing.T) {
	s := lpddr4()
	s.PagePolicy = "closed"
	for _, tt := range []struct {
		name string
		addr func(int) uint64
	}{
		{"sequential", seq},
		{"same row", func(i int) uint64 { return 4096 + uint64(i%32)*bb }},
		{"bank spread", func(i int) uint64 { return uint64(i) * 2 << 10 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, s)
			const n = 256
			c.Transfer(reads(n, tt.addr), 4, 0)
			st := c.Stats()
			if st.RowMisses != n || st.Activates != n || st.Precharges != n || st.RowHits != 0 {
				t.Errorf("Stats = %+v", st)
			}
		})
	}
	// The same row again: activate, auto-precharge at tRAS, activate tRP later.
	c := mustNew(t, s)
	c.Transfer(reads(2, func(i int) uint64 { return uint64(i) * bb }), 0, 0)
	if got, want := c.Stats().LastDataEnd, uint64(admit+tRC+tRCD+tCL+burst); got != want {
		t.Errorf("closed-page reaccess ends at %d, want %d (tRC apart)", got, want)
	}
}

// TestWriteRecoveryDelaysPrecharge: a conflict after a write waits for the write data
// and tWR before its precharge.
func TestWriteRecoveryDelaysPrecharge(t *testing.T) {
	c := mustNew(t, lpddr4())
	log := record(c)
	row := sameBankRow(c)
	// The write drains at once (no read waits); the read comes after its column command.
	c.Transfer([]Request{{Addr: row(0), Write: true}, {Addr: row(1), Issue: tRCD + 1}}, 0, 0)
	wantWrite := uint64(admit + tRCD)         // the write's column command
	wantPre := wantWrite + tCWL + burst + tWR // later than tRAS here
	var wr, pre uint64
	for _, cmd := range *log {
		switch cmd.kind {
		case cmdWrite:
			wr = cmd.t
		case cmdPre:
			pre = cmd.t
		}
	}
	if wr != wantWrite || pre != wantPre {
		t.Errorf("write at %d, precharge at %d; want %d, %d", wr, pre, wantWrite, wantPre)
	}
}

// TestWriteBufferForwardsAndMerges: as in DRAMsim3, a read of a buffered write's
// address is answered from the buffer, a second write to it merges, and a read of an
// address already queued for reading shares that read's burst; all by the address as
// given, so another address within the same burst does none of these.
func TestWriteBufferForwardsAndMerges(t *testing.T) {
	c := mustNew(t, lpddr4())
	// Reads keep the writes buffered; a read and a write of a buffered address, and a
	// read and a write of another address in the same burst.
	var reqs []Request
	for i := range 16 {
		reqs = append(reqs, Request{Addr: seq(100 + i)})
	}
	reqs = append(reqs, Request{Addr: 64, Write: true}, Request{Addr: 64}, Request{Addr: 64, Write: true},
		Request{Addr: 64 + 8}, Request{Addr: 64 + 8, Write: true})
	// A read of an address queued for reading, and one of another address in its
	// burst.
	reqs = append(reqs, Request{Addr: seq(115)}, Request{Addr: seq(115) + 8})
	c.Transfer(reqs, 0, 0)
	s := c.Stats()
	if s.ForwardedReads != 1 || s.MergedWrites != 1 || s.Writes != 3 || s.WriteBursts != 2 ||
		s.MergedReads != 1 || s.Reads != 20 || s.ReadBursts != 18 {
		t.Errorf("Stats = %+v", s)
	}
}

// TestBusNeverOverlaps checks the schedule of a random mixed stream: column commands
// of a channel are at least a burst apart, reads follow activates by tRCD, and every
// count adds up.
func TestBusNeverOverlaps(t *testing.T) {
	spec := withRefresh(ddr4())
	c := mustNew(t, spec)
	log := record(c)
	rng := rand.New(rand.NewPCG(3, 4))
	var reqs []Request
	var at uint64
	for i := range 20000 {
		at += uint64(rng.IntN(6))
		addr := uint64(i) * 64
		if rng.IntN(2) == 0 {
			addr = rng.Uint64() >> 34
		}
		reqs = append(reqs, Request{Addr: addr, Write: rng.IntN(3) == 0, Issue: at})
	}
	c.Transfer(reqs, 0, 0)
	type busKey struct{ ch int }
	lastData := map[busKey]uint64{}
	lastCmd := map[busKey]uint64{}
	for _, cmd := range *log {
		ch := busKey{c.Decode(cmd.addr).Channel}
		if cmd.kind == cmdRef || cmd.kind == cmdPreAll {
			continue
		}
		if prev, ok := lastCmd[ch]; ok && cmd.t <= prev {
			t.Fatalf("two commands on channel %d at cycles %d, %d", ch.ch, prev, cmd.t)
		}
		lastCmd[ch] = cmd.t
		if cmd.kind == cmdRead || cmd.kind == cmdWrite {
			start := cmd.t + tCL
			if cmd.kind == cmdWrite {
				start = cmd.t + tCWL
			}
			if start < lastData[ch] {
				t.Fatalf("burst at %d on channel %d overlaps the previous one ending at %d", start, ch.ch, lastData[ch])
			}
			lastData[ch] = start + 4
		}
	}
	s := c.Stats()
	if s.RowHits+s.RowMisses+s.RowConflicts != s.ReadBursts+s.WriteBursts ||
		s.Reads+s.Writes != int64(len(reqs)) ||
		s.ReadBursts+s.ForwardedReads != s.Reads || s.WriteBursts+s.MergedWrites != s.Writes {
		t.Errorf("inconsistent Stats %+v", s)
	}
	if s.ReadBytes != s.Reads*64 || s.WriteBytes != s.Writes*64 {
		t.Errorf("bytes %d, %d for %d reads, %d writes", s.ReadBytes, s.WriteBytes, s.Reads, s.Writes)
	}
}

func TestReset(t *testing.T) {
	c := mustNew(t, withRefresh(lpddr4()))
	reqs := reads(300, func(i int) uint64 { return uint64(i*bb) * 3 })
	c.Transfer(reqs, 8, 0)
	first := c.Stats()
	c.Reset()
	if s := c.Stats(); s != (Stats{}) {
		t.Fatalf("Stats after Reset = %+v", s)
	}
	c.Transfer(reqs, 8, 0)
	if again := c.Stats(); again != first {
		t.Errorf("after Reset %+v, before %+v", again, first)
	}
}

func TestEnergyPJForm(t *testing.T) {
	c := mustNew(t, withRefresh(lpddr4()))
	c.Transfer(reads(1000, func(i int) uint64 { return uint64(i) * 2 << 10 }), 0, 0)
	s := c.Stats()
	e := c.Energy(s)
	if sum := e.ActivatePJ + e.ReadPJ + e.WritePJ + e.BackgroundPJ + e.RefreshPJ; e.TotalPJ() != sum {
		t.Errorf("TotalPJ %g != sum of parts %g", e.TotalPJ(), sum)
	}
	seconds := float64(s.LastDataEnd) / 1.6e9
	want := Energy{
		ActivatePJ:   float64(s.Activates) * 900,
		ReadPJ:       float64(s.ReadBursts) * bb * 8 * 4,
		BackgroundPJ: 50e9 * seconds, // 50 mW
		RefreshPJ:    float64(s.Refreshes) * 10e9 * tREFI / 1.6e9,
	}
	if !close(e.ActivatePJ, want.ActivatePJ) || !close(e.ReadPJ, want.ReadPJ) || e.WritePJ != 0 ||
		!close(e.BackgroundPJ, want.BackgroundPJ) || !close(e.RefreshPJ, want.RefreshPJ) {
		t.Errorf("Energy = %+v\nwant     %+v", e, want)
	}
	if em := c.EnergyModel(); em.RefreshMW != 10 || em.ActiveStandbyMW != 50 || em.ReadPJPerBit != 4 {
		t.Errorf("EnergyModel = %+v", em)
	}
}

func close(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }

// TestEnergyCurrentForm checks DRAMsim3's formulas on DDR4-3200 x16 (four devices).
func TestEnergyCurrentForm(t *testing.T) {
	s := withRefresh(ddr4())
	s.Channels, s.Ranks = 1, 1
	s.DeviceWidthBits = 16
	s.TRCD, s.TRP, s.TCL, s.TRAS = hw.Timing{Cycles: 22}, hw.Timing{Cycles: 22}, hw.Timing{Cycles: 22}, hw.Timing{Cycles: 52}
	s.TRFC, s.TREFI = hw.Timing{Cycles: 560}, hw.Timing{Cycles: 12480}
	s.ActivateEnergyPJ, s.ReadEnergyPJPerBit, s.WriteEnergyPJPerBit, s.BackgroundPowerMW, s.RefreshPowerMW = 0, 0, 0, 0, 0
	s.VDDV, s.IDD0MA, s.IDD2NMA, s.IDD3NMA, s.IDD4RMA, s.IDD4WMA, s.IDD5MA = 1.2, 95, 37, 56, 302, 278, 280
	c := mustNew(t, s)
	em := c.EnergyModel()
	const tck, dev = 0.625, 4
	want := EnergyModel{
		ActivatePJ:         1.2 * (95*74 - (56*52 + 37*22)) * dev * tck,
		ReadPJ:             1.2 * (302 - 56) * 4 * dev * tck,
		WritePJ:            1.2 * (278 - 56) * 4 * dev * tck,
		RefreshPJ:          1.2 * (280 - 56) * 560 * dev * tck,
		ActiveStandbyMW:    1.2 * 56 * dev,
		PrechargeStandbyMW: 1.2 * 37 * dev,
	}
	want.ReadPJPerBit, want.WritePJPerBit = want.ReadPJ/512, want.WritePJ/512
	want.RefreshMW = want.RefreshPJ / (12480 * tck)
	for _, p := range [][3]any{{"activate", em.ActivatePJ, want.ActivatePJ}, {"read", em.ReadPJ, want.ReadPJ},
		{"write", em.WritePJ, want.WritePJ}, {"refresh", em.RefreshPJ, want.RefreshPJ},
		{"active standby", em.ActiveStandbyMW, want.ActiveStandbyMW}, {"precharge standby", em.PrechargeStandbyMW, want.PrechargeStandbyMW},
		{"refresh power", em.RefreshMW, want.RefreshMW}, {"read per bit", em.ReadPJPerBit, want.ReadPJPerBit}} {
		if !close(p[1].(float64), p[2].(float64)) {
			t.Errorf("%s: %g, want %g", p[0], p[1], p[2])
		}
	}

	// Background: precharge standby while every bank is closed. One read, then idle
	// until a read much later: the bank stays open (open page) until a refresh closes
	// it.
	c.Transfer([]Request{{Addr: 0}, {Addr: 1 << 30, Issue: 100000}}, 0, 0)
	st := c.Stats()
	e := c.Energy(st)
	if st.ClosedRankCycles == 0 || st.ClosedRankCycles >= st.LastDataEnd {
		t.Errorf("closed rank-cycles %d of %d", st.ClosedRankCycles, st.LastDataEnd)
	}
	tckNS := 0.625
	wantBG := tckNS * (em.ActiveStandbyMW*float64(st.LastDataEnd-st.ClosedRankCycles) + em.PrechargeStandbyMW*float64(st.ClosedRankCycles))
	if !close(e.BackgroundPJ, wantBG) || !close(e.TotalPJ(), e.ActivatePJ+e.ReadPJ+e.WritePJ+e.BackgroundPJ+e.RefreshPJ) {
		t.Errorf("Energy = %+v, background want %g", e, wantBG)
	}
}

func TestTransferDoesNotAllocate(t *testing.T) {
	c := mustNew(t, withRefresh(ddr4()))
	reqs := make([]Request, 64)
	var addr uint64
	if n := testing.AllocsPerRun(200, func() {
		for i := range reqs {
			reqs[i] = Request{Addr: addr, Write: i%5 == 0}
			addr += 64
		}
		c.Transfer(reqs, 16, 0)
	}); n != 0 {
		t.Errorf("Transfer allocates %v times per call", n)
	}
}

// bench runs b.N replays of reqs and reports the time per request.
func benchReplay(b *testing.B, spec hw.DRAMSpec, reqs []Request) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Replay(spec, reqs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(reqs)), "ns/request")
}

// BenchmarkReplay20k replays 20,000 requests issued at full rate (the target is under
// 20 ms per replay).
func BenchmarkReplay20k(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	random := reads(20000, func(int) uint64 { return rng.Uint64() % (256 << 20) })
	spec := withRefresh(lpddr4())
	b.Run("sequential", func(b *testing.B) { benchReplay(b, spec, reads(20000, seq)) })
	b.Run("random", func(b *testing.B) { benchReplay(b, spec, random) })
}

// BenchmarkTransfer is the DMA's use: transfers of 64 bursts, 16 outstanding.
func BenchmarkTransfer(b *testing.B) {
	c := mustNew(b, withRefresh(lpddr4()))
	reqs := make([]Request, 64)
	var addr uint64
	b.ReportAllocs()
	for b.Loop() {
		for i := range reqs {
			reqs[i] = Request{Addr: addr}
			addr += bb
		}
		c.Transfer(reqs, 16, 0)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(reqs)), "ns/burst")
}

func FuzzParseMapping(f *testing.F) {
	for _, s := range []string{"rochrababgco", "rorabgbachco", "roch", "xx", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMapping(s)
		if err != nil {
			return
		}
		if m.String() != s {
			t.Errorf("ParseMapping(%q).String() = %q", s, m.String())
		}
		spec := ddr4()
		spec.AddressMapping = s
		if _, err := New(spec); err != nil {
			t.Errorf("New with accepted mapping %q: %v", s, err)
		}
	})
}

// TestSlotSize keeps a request slot to one cache line (see slot).
func TestSlotSize(t *testing.T) {
	if n := unsafe.Sizeof(slot{}); n != 64 {
		t.Errorf("slot is %d bytes, want 64", n)
	}
}

// TestPickFlatLateAgrees checks pickFlat's packed keys against pickFlatLate, its pass
// for times too late to pack, at every command of a mixed stream on a flat channel:
// reads and writes to a few rows of every bank, hits, conflicts and refreshes, so
// that banks with one option and with several meet.
func TestPickFlatLateAgrees(t *testing.T) {
	c := mustNew(t, withRefresh(lpddr4()))
	if !c.cfg.flat {
		t.Fatal("lpddr4 is not flat: the test does not reach pickFlat")
	}
	r := rand.New(rand.NewPCG(61, 62))
	reqs := make([]Request, 4000)
	for i := range reqs {
		reqs[i] = Request{
			Addr:  encode(c, Location{Row: uint64(r.IntN(3)), Bank: r.IntN(8), Column: r.IntN(64)}),
			Write: r.IntN(3) == 0,
			Issue: uint64(i * 3),
		}
	}
	compared, several := 0, 0
	for _, s := range []*state{c.cur, c.proj} {
		s.onCmd = func(kind uint8, at, addr uint64) {
			for ch := range s.chans {
				floor := s.now + 1
				lb := floors(&s.groups[ch], &s.ranks[ch], floor)
				t0, d0, k0, b0 := s.pickFlat(ch, floor)
				t1, d1, k1, b1 := s.pickFlatLate(ch, &lb)
				if t0 != t1 || d0 != d1 || k0 != k1 || b0 != b1 {
					t.Fatalf("cycle %d: pickFlat gives (%d, %d, %d, %d), pickFlatLate (%d, %d, %d, %d)", s.now, t0, d0, k0, b0, t1, d1, k1, b1)
				}
				compared++
				for _, b := range s.banks {
					if b.candOK && !b.one && b.adm[modeRead]+b.adm[modeWrite] > 0 {
						several++
					}
				}
			}
		}
	}
	mustTransfer(t, c, reqs, 16, 0)
	if compared < 1000 || several == 0 {
		t.Fatalf("%d picks compared, %d with a bank of several options: too few", compared, several)
	}
}

// TestBurstsCountsAppendRequests checks the count of bursts over a cycle of row
// offsets against the requests AppendRequests lists, for bursts of 1 to 128 bytes.
func TestBurstsCountsAppendRequests(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var c Controller // AppendRequests reads only the burst size
		c.cfg.burstBytes = uint64(1) << rng.IntN(8)
		// From 1 MiB up, so that no row of a negative stride lies below address 0.
		tr := Strided{Addr: 1<<20 + rng.Uint64N(1<<20), Rows: rng.Int64N(300), RowBytes: rng.Int64N(600), Stride: rng.Int64N(2000) - 1000}
		if rng.IntN(4) == 0 {
			tr.Stride = int64(c.cfg.burstBytes) * rng.Int64N(8) // a whole number of bursts: one offset
		}
		if got, want := c.Bursts(tr), len(c.AppendRequests(nil, tr)); got != int64(want) {
			t.Fatalf("Bursts(%+v) with bursts of %d bytes = %d; AppendRequests lists %d", tr, c.cfg.burstBytes, got, want)
		}
	}
}
