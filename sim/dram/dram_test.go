package dram

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/hw"
)

// lpddr4 is an LPDDR4-3200 x32 device: 1600 MHz command clock, 64-byte bursts of 8
// cycles, peak 8 bytes per DRAM cycle (12.8 GB/s).
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
	tWR   = 29
	tCWL  = 14
	burst = 8 // cycles per burst on the data bus
	bb    = 64
	peak  = 8.0 // bytes per DRAM cycle
)

// ddr4 has every field wider than one, to exercise the decoder.
func ddr4() hw.DRAMSpec {
	s := lpddr4()
	s.Kind = "ddr4"
	s.Channels, s.Ranks, s.BankGroups, s.Banks = 2, 2, 4, 16
	s.BusWidthBits, s.BurstLength, s.RowSize = 64, 8, 8<<10
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

// encode is the inverse of Decode.
func encode(c *Controller, l Location) uint64 {
	d := &c.dec
	return l.Row<<d.shift[fieldRow] |
		uint64(l.Channel)<<d.shift[fieldChannel] |
		uint64(l.Rank)<<d.shift[fieldRank] |
		uint64(l.BankGroup)<<d.shift[fieldBankGroup] |
		uint64(l.Bank)<<d.shift[fieldBank] |
		uint64(l.Column)<<d.shift[fieldColumn]
}

func TestNewDerived(t *testing.T) {
	c := mustNew(t, lpddr4())
	if got := c.Clock(); got != 1600e6 {
		t.Errorf("Clock = %v, want 1600MHz", got)
	}
	if got := c.BurstBytes(); got != bb {
		t.Errorf("BurstBytes = %d, want %d", got, bb)
	}
	want := timing{rcd: tRCD, rp: tRP, cl: tCL, ras: tRAS, wr: tWR, cwl: tCWL, burst: burst}
	if c.t != want {
		t.Errorf("timing = %+v, want %+v", c.t, want)
	}
	if got := c.Mapping().String(); got != "rochrababgco" {
		t.Errorf("Mapping = %q", got)
	}

	// Zero tWR and tCWL are derived; zero ranks/bank groups and empty strings default.
	s := lpddr4()
	s.TWR, s.TCWL, s.Ranks, s.BankGroups, s.AddressMapping, s.PagePolicy = hw.Timing{}, hw.Timing{}, 0, 0, "", ""
	c = mustNew(t, s)
	if c.t.wr != tRP || c.t.cwl != tCL/2 {
		t.Errorf("derived tWR, tCWL = %d, %d; want %d, %d", c.t.wr, c.t.cwl, tRP, tCL/2)
	}
	if c.closedPage || c.Mapping().String() != DefaultMapping {
		t.Errorf("defaults: closed=%v mapping=%v", c.closedPage, c.Mapping())
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
		{"odd burst", func(s *hw.DRAMSpec) { s.BurstLength = 15 }, "burst_length"},
		{"burst not pow2", func(s *hw.DRAMSpec) { s.BurstLength = 12 }, "power of two"},
		{"row smaller than burst", func(s *hw.DRAMSpec) { s.RowSize = 32 }, "row_size"},
		{"row not pow2 bursts", func(s *hw.DRAMSpec) { s.RowSize = 3 << 10 }, "row_size"},
		{"data rate", func(s *hw.DRAMSpec) { s.DataRate = 0 }, "data_rate"},
		{"page policy", func(s *hw.DRAMSpec) { s.PagePolicy = "adaptive" }, "page_policy"},
		{"unknown mapping field", func(s *hw.DRAMSpec) { s.AddressMapping = "rochrababgxx" }, "unknown field"},
		{"row not first", func(s *hw.DRAMSpec) { s.AddressMapping = "chrorababgco" }, "most significant"},
		{"tRCD zero", func(s *hw.DRAMSpec) { s.TRCD = hw.Timing{} }, "tRCD"},
		{"tRAS zero", func(s *hw.DRAMSpec) { s.TRAS = hw.Timing{Cycles: 0} }, "tRAS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := lpddr4()
			tt.edit(&s)
			c, err := New(s)
			if err == nil {
				t.Fatalf("New succeeded (%+v), want error about %q", c.t, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
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

// stream issues n bursts at addrs(i) with at most window outstanding (0: all arrive at
// cycle 0) and returns the results.
func stream(c *Controller, n int, write bool, window int, addr func(i int) uint64) []Result {
	rs := make([]Result, n)
	for i := range n {
		var at uint64
		if window > 0 && i >= window {
			at = rs[i-window].DataEnd
		}
		rs[i] = c.Access(addr(i), write, at)
	}
	return rs
}

func TestStreamingSequentialNearPeak(t *testing.T) {
	const total = 1 << 20
	const n = total / bb
	const rows = total / (2 << 10)
	for _, tt := range []struct {
		name   string
		write  bool
		window int
	}{
		{"read/queued", false, 0},
		{"read/16 outstanding", false, 16},
		{"write/queued", true, 0},
		{"write/16 outstanding", true, 16},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, lpddr4())
			stream(c, n, tt.write, tt.window, func(i int) uint64 { return uint64(i * bb) })
			s := c.Stats()
			bw := float64(total) / float64(s.LastDataEnd)
			if bw < 0.97*peak || bw > peak {
				t.Errorf("bandwidth %.3f B/cycle, want within 3%% of peak %.1f", bw, peak)
			}
			want := Stats{RowHits: n - rows, RowMisses: 8, RowConflicts: rows - 8, Activates: rows, Precharges: rows - 8, LastDataEnd: s.LastDataEnd}
			if tt.write {
				want.Writes, want.WriteBytes = n, total
			} else {
				want.Reads, want.ReadBytes = n, total
			}
			if s != want {
				t.Errorf("Stats = %+v\nwant    %+v", s, want)
			}
		})
	}
}

// sameBankRow returns the address of row i in bank 0, column 0.
func sameBankRow(c *Controller) func(int) uint64 {
	return func(i int) uint64 { return encode(c, Location{Row: uint64(i)}) }
}

func TestSameBankConflictLatency(t *testing.T) {
	// One request per row in one bank, each arriving long after the previous one ended:
	// every request after the first pays precharge, activate and read latency.
	c := mustNew(t, lpddr4())
	addr := sameBankRow(c)
	const n = 50
	var at uint64
	for i := range n {
		r := c.Access(addr(i), false, at)
		wantOut, wantLat := RowConflict, uint64(tRP+tRCD+tCL+burst)
		if i == 0 {
			wantOut, wantLat = RowMiss, tRCD+tCL+burst
		}
		if r.Outcome != wantOut || r.DataEnd-at != wantLat {
			t.Fatalf("request %d: %v, latency %d; want %v, %d", i, r.Outcome, r.DataEnd-at, wantOut, wantLat)
		}
		at = r.DataEnd + 100 // past tRAS of this row's activate
	}
	s := c.Stats()
	if s.RowMisses != 1 || s.RowConflicts != n-1 || s.RowHits != 0 || s.Activates != n || s.Precharges != n-1 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestSameBankConflictStreamIsTRCBound(t *testing.T) {
	// Back to back, a same-bank conflict stream is limited by tRC = tRAS + tRP.
	c := mustNew(t, lpddr4())
	rs := stream(c, 64, false, 0, sameBankRow(c))
	for i := 1; i < len(rs); i++ {
		if d := rs[i].DataStart - rs[i-1].DataStart; d != tRAS+tRP {
			t.Fatalf("request %d starts %d cycles after the previous, want tRC = %d", i, d, tRAS+tRP)
		}
	}
}

func TestBankParallelismBeatsConflicts(t *testing.T) {
	const n = 512
	bandwidth := func(addr func(*Controller) func(int) uint64) float64 {
		c := mustNew(t, lpddr4())
		stream(c, n, false, 0, addr(c))
		return float64(n*bb) / float64(c.Stats().LastDataEnd)
	}
	// A row-size stride touches a new bank each time, so the activates of eight banks
	// overlap; tRC per bank still bounds it at 8 bursts per tRC.
	spread := bandwidth(func(*Controller) func(int) uint64 { return func(i int) uint64 { return uint64(i) * 2 << 10 } })
	same := bandwidth(sameBankRow)
	if want := peak * burst / (tRAS + tRP); math.Abs(same-want) > 0.01*want {
		t.Errorf("same-bank bandwidth %.3f B/cycle, want %.3f (one burst per tRC)", same, want)
	}
	if want := 8 * peak * burst / (tRAS + tRP); spread < 0.95*want {
		t.Errorf("all-banks bandwidth %.3f B/cycle, want about %.3f (eight bursts per tRC)", spread, want)
	}
	if spread < 4*same {
		t.Errorf("all-banks bandwidth %.3f not well above same-bank %.3f", spread, same)
	}
}

func TestRowHitsAfterFirstAccess(t *testing.T) {
	c := mustNew(t, lpddr4())
	var at uint64
	for col := range 32 {
		r := c.Access(uint64(col*bb), false, at)
		want, lat := RowHit, uint64(tCL+burst)
		if col == 0 {
			want, lat = RowMiss, tRCD+tCL+burst
		}
		if r.Outcome != want || r.DataEnd-at != lat || r.Row != 0 || r.Bank != 0 {
			t.Fatalf("column %d: %+v (latency %d), want %v with latency %d", col, r, r.DataEnd-at, want, lat)
		}
		at = r.DataEnd
	}
	if s := c.Stats(); s.RowHits != 31 || s.RowMisses != 1 || s.Activates != 1 || s.Precharges != 0 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestClosedPageAlwaysMisses(t *testing.T) {
	s := lpddr4()
	s.PagePolicy = "closed"
	for _, tt := range []struct {
		name string
		addr func(int) uint64
	}{
		{"sequential", func(i int) uint64 { return uint64(i * bb) }},
		{"same address", func(int) uint64 { return 4096 }},
		{"bank spread", func(i int) uint64 { return uint64(i) * 2 << 10 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, s)
			const n = 256
			rs := stream(c, n, false, 4, tt.addr)
			for i, r := range rs {
				if r.Outcome != RowMiss {
					t.Fatalf("request %d: %v, want miss", i, r.Outcome)
				}
			}
			st := c.Stats()
			if st.RowMisses != n || st.Activates != n || st.Precharges != n {
				t.Errorf("Stats = %+v", st)
			}
		})
	}
	// Same address back to back: ACT..PRE at ACT+tRAS, next ACT tRP later.
	c := mustNew(t, s)
	r0 := c.Access(0, false, 0)
	r1 := c.Access(0, false, 0)
	if d := r1.DataStart - r0.DataStart; d != tRAS+tRP {
		t.Errorf("closed-page same-row reaccess %d cycles apart, want tRC = %d", d, tRAS+tRP)
	}
}

func TestWriteRecoveryDelaysPrecharge(t *testing.T) {
	c := mustNew(t, lpddr4())
	addr := sameBankRow(c)
	w := c.Access(addr(0), true, 0)
	if w.DataStart != tRCD+tCWL || w.DataEnd != tRCD+tCWL+burst {
		t.Fatalf("write %+v", w)
	}
	r := c.Access(addr(1), false, 0)
	// PRE waits for write recovery (later than tRAS here), then tRP, tRCD, tCL.
	if want := w.DataEnd + tWR + tRP + tRCD + tCL; r.DataStart != want || r.Outcome != RowConflict {
		t.Errorf("read after write: %+v, want conflict with data at %d", r, want)
	}
}

func TestBusNeverOverlaps(t *testing.T) {
	c := mustNew(t, ddr4())
	rng := rand.New(rand.NewPCG(3, 4))
	last := make([]uint64, 2)
	var at uint64
	for i := range 20000 {
		at += uint64(rng.IntN(6))
		var addr uint64
		if rng.IntN(2) == 0 {
			addr = uint64(i) * 64 // sequential part
		} else {
			addr = rng.Uint64() >> 34
		}
		r := c.Access(addr, rng.IntN(3) == 0, at)
		if r.DataEnd-r.DataStart != 4 {
			t.Fatalf("burst of %d cycles", r.DataEnd-r.DataStart)
		}
		if r.DataStart < last[r.Channel] {
			t.Fatalf("request %d on channel %d starts at %d before the bus frees at %d", i, r.Channel, r.DataStart, last[r.Channel])
		}
		if r.DataStart < at+tCWL {
			t.Fatalf("request %d data at %d, sooner than possible after arrival %d", i, r.DataStart, at)
		}
		last[r.Channel] = r.DataEnd
	}
	s := c.Stats()
	if s.RowHits+s.RowMisses+s.RowConflicts != s.Reads+s.Writes || s.Activates != s.RowMisses+s.RowConflicts {
		t.Errorf("inconsistent Stats %+v", s)
	}
	if s.ReadBytes != s.Reads*64 || s.WriteBytes != s.Writes*64 {
		t.Errorf("bytes %d, %d for %d reads, %d writes", s.ReadBytes, s.WriteBytes, s.Reads, s.Writes)
	}
}

func TestCommandBusOnePerCycle(t *testing.T) {
	var b cmdBus
	booked := map[uint64]bool{}
	rng := rand.New(rand.NewPCG(5, 6))
	var floor uint64
	for range 10000 {
		want := floor + uint64(rng.IntN(300))
		got := b.book(want)
		if got < want {
			t.Fatalf("book(%d) = %d, earlier than asked", want, got)
		}
		if booked[got] {
			t.Fatalf("cycle %d booked twice", got)
		}
		booked[got] = true
		floor += uint64(rng.IntN(3))
	}
	// Filling a gap before a later booking is allowed.
	var g cmdBus
	if g.book(100) != 100 || g.book(10) != 10 || g.book(100) != 101 || g.book(99) != 99 || g.book(99) != 102 {
		t.Error("command bus does not take the first free slot")
	}
}

func TestReset(t *testing.T) {
	c := mustNew(t, lpddr4())
	first := stream(c, 300, false, 0, func(i int) uint64 { return uint64(i*bb) * 3 })
	c.Reset()
	if s := c.Stats(); s != (Stats{}) {
		t.Fatalf("Stats after Reset = %+v", s)
	}
	again := stream(c, 300, false, 0, func(i int) uint64 { return uint64(i*bb) * 3 })
	for i := range first {
		if first[i] != again[i] {
			t.Fatalf("request %d: %+v after Reset, %+v before", i, again[i], first[i])
		}
	}
}

func TestEnergy(t *testing.T) {
	c := mustNew(t, lpddr4())
	for i := range 1000 {
		c.Access(uint64(i)*2<<10, i%3 == 0, 0)
	}
	s := c.Stats()
	e := c.EnergyFor(s, 1600e6) // one second
	if sum := e.ActivatePJ + e.ReadPJ + e.WritePJ + e.BackgroundPJ + e.RefreshPJ; e.TotalPJ() != sum {
		t.Errorf("TotalPJ %g != sum of parts %g", e.TotalPJ(), sum)
	}
	want := Energy{
		ActivatePJ:   float64(s.Activates) * 900,
		ReadPJ:       float64(s.ReadBytes) * 8 * 4,
		WritePJ:      float64(s.WriteBytes) * 8 * 4.5,
		BackgroundPJ: 50e9, // 50 mW for 1 s = 50 mJ
		RefreshPJ:    10e9,
	}
	if e != want {
		t.Errorf("EnergyFor = %+v\nwant        %+v", e, want)
	}
	if s.Activates != 1000 {
		t.Errorf("Activates = %d, want 1000 (every access opens a row)", s.Activates)
	}
}

func TestAccessDoesNotAllocate(t *testing.T) {
	c := mustNew(t, lpddr4())
	var addr uint64
	if n := testing.AllocsPerRun(1000, func() {
		c.Access(addr, false, 0)
		addr += bb
	}); n != 0 {
		t.Errorf("Access allocates %v times per call", n)
	}
}

func BenchmarkAccessSequential(b *testing.B) {
	c := mustNew(b, lpddr4())
	var addr, at uint64
	b.ReportAllocs()
	for b.Loop() {
		r := c.Access(addr, false, at)
		addr += bb
		// Keep 8 bursts in flight, as a DMA engine would.
		if r.DataEnd > 8*burst {
			at = max(at, r.DataEnd-8*burst)
		}
	}
	b.ReportMetric(float64(c.Stats().ReadBytes)/float64(c.Stats().LastDataEnd), "B/dram-cycle")
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
