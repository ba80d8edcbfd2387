package dram

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/traces/fileio"
)

// TestNewRejectsUnschedulableTimings: timings the scheduler cannot work with are errors
// of the one DRAM validator, naming their key, before anything is allocated.
func TestNewRejectsUnschedulableTimings(t *testing.T) {
	ck := func(n int64) hw.Timing { return hw.Timing{Cycles: n} }
	tests := []struct {
		name string
		edit func(s *hw.DRAMSpec)
		key  string
	}{
		{"refresh barely above tRFC", func(s *hw.DRAMSpec) { s.TRFC, s.TREFI = ck(448), ck(449) }, "dram.tREFI"},
		{"refresh without room for a request", func(s *hw.DRAMSpec) { s.TRFC, s.TREFI = ck(448), ck(448+tRAS+tRP+tRCD) }, "dram.tREFI"},
		{"tRP of a second", func(s *hw.DRAMSpec) { s.TRP = hw.Timing{NS: 1e9, InNS: true} }, "dram.tRP"},
		{"tCCD_L of a second", func(s *hw.DRAMSpec) { s.TCCDL = ck(1_600_000_000) }, "dram.tCCD_L"},
		{"tCL of 2^32 clocks", func(s *hw.DRAMSpec) { s.TCL = ck(1 << 32) }, "dram.tCL"},
		{"tREFI of a second", func(s *hw.DRAMSpec) { s.TRFC, s.TREFI = ck(448), hw.Timing{NS: 1e9, InNS: true} }, "dram.tREFI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := lpddr4()
			tt.edit(&s)
			_, err := New(s)
			var pe *fileio.Error
			if !errors.As(err, &pe) || pe.Key != tt.key {
				t.Errorf("New: %v, want an error for %s", err, tt.key)
			}
		})
	}
}

// TestExtremeValidTimings: the longest timings validation lets through, and the
// shortest refresh interval it allows, still run to the end quickly and without memory
// proportional to a timing.
func TestExtremeValidTimings(t *testing.T) {
	ck := func(n int64) hw.Timing { return hw.Timing{Cycles: n} }
	const limit = 16000 // 10 us at 1.6 GHz: every timing's ceiling
	tests := []struct {
		name string
		edit func(s *hw.DRAMSpec)
	}{
		{"tightest refresh", func(s *hw.DRAMSpec) { s.TRFC, s.TREFI = ck(448), ck(448+tRAS+tRP+tRCD+1) }},
		{"tightest refresh, two ranks", func(s *hw.DRAMSpec) {
			s.Ranks, s.TRFC, s.TREFI = 2, ck(448), ck(448+tRAS+tRP+tRCD+1)
		}},
		{"longest tCL", func(s *hw.DRAMSpec) { s.TCL, s.TCWL = ck(limit), ck(limit) }},
		{"longest tRP and tCCD", func(s *hw.DRAMSpec) { s.TRP, s.TCCDS, s.TCCDL = ck(limit), ck(limit), ck(limit) }},
		{"longest refresh", func(s *hw.DRAMSpec) { s.TRFC, s.TREFI = ck(limit), ck(160000) }},
		{"everything long", func(s *hw.DRAMSpec) {
			for _, p := range []*hw.Timing{&s.TRCD, &s.TRP, &s.TCL, &s.TRAS, &s.TWR, &s.TCWL, &s.TRTP, &s.TCCDS,
				&s.TCCDL, &s.TRRDS, &s.TRRDL, &s.TFAW, &s.TWTRS, &s.TWTRL, &s.TRTRS, &s.TRFC} {
				*p = ck(limit)
			}
			s.TREFI = ck(160000)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := lpddr4()
			tt.edit(&s)
			c := mustNew(t, s)
			if n := len(c.cur.done.buf); n > 4096 {
				t.Errorf("read completion queue of %d entries before any read", n)
			}
			r := rand.New(rand.NewPCG(1, 2))
			reqs := make([]Request, 300)
			for i := range reqs {
				reqs[i] = Request{Addr: r.Uint64N(1 << 24), Write: i%3 == 0, Issue: uint64(i) * 3}
			}
			start := time.Now()
			if _, _, err := c.Transfer(reqs, 0, 0); err != nil {
				t.Fatal(err)
			}
			if s := c.Stats(); s.Reads+s.Writes != 300 {
				t.Errorf("served %d of 300", s.Reads+s.Writes)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestTransferCycleBounds: times near 2^64 are errors, not an endless loop.
func TestTransferCycleBounds(t *testing.T) {
	c := mustNew(t, withRefresh(lpddr4()))
	for _, tt := range []struct {
		name string
		reqs []Request
		at   uint64
	}{
		{"issue near 2^64", []Request{{Addr: 0}, {Addr: 64, Issue: 1<<64 - 2}}, 0},
		{"issue just past MaxCycle", []Request{{Addr: 0, Issue: MaxCycle + 1}}, 0},
		{"start near 2^64", []Request{{Addr: 0}}, 1<<64 - 100},
	} {
		if _, _, err := c.Transfer(tt.reqs, 0, tt.at); err == nil || !strings.Contains(err.Error(), "beyond the model's last cycle") {
			t.Errorf("%s: %v, want an error", tt.name, err)
		}
	}
	// The last cycle itself works: a request issued there ends a little later.
	c.Reset()
	_, end := mustTransfer(t, c, []Request{{Addr: 0, Issue: MaxCycle}}, 0, MaxCycle)
	if end < MaxCycle || end > MaxCycle+1000 {
		t.Errorf("request at MaxCycle ends at %d", end)
	}
	if _, err := Replay(withRefresh(lpddr4()), []Request{{Addr: 1 << 20, Issue: 1<<64 - 1}}); err == nil {
		t.Error("Replay of a request at 2^64-1 succeeded")
	}
}

// TestSchedulerStallIsAnError: should the scheduler ever stop serving queued requests
// (here simulated by a stall limit no spec allows), Transfer reports it instead of
// looping or panicking.
func TestSchedulerStallIsAnError(t *testing.T) {
	c := mustNew(t, lpddr4())
	c.cfg.maxStall = 10 // shorter than one row conflict
	reqs := reads(64, sameBankRow(c))
	_, _, err := c.Transfer(reqs, 0, 0)
	if err == nil || !strings.Contains(err.Error(), "no request served") {
		t.Errorf("Transfer: %v, want a stall error", err)
	}
}

// FuzzDRAMProfile: whatever DRAM-only profile hw accepts, the model builds and runs a
// short mixed trace to the end without an error (no stall, no overflow, no panic).
func FuzzDRAMProfile(f *testing.F) {
	for _, name := range []string{"ddr4_3200", "lpddr4_2400", "lpddr3_1600"} {
		data, err := configs.FS.ReadFile("dram/" + name + ".toml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dp, err := hw.DecodeDRAM(bytes.NewReader(data), "fuzz.toml")
		if err != nil {
			return
		}
		c, err := New(dp.DRAM)
		if err != nil {
			t.Fatalf("hw accepted the spec, New did not: %v", err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		reqs := make([]Request, 64)
		for i := range reqs {
			reqs[i] = Request{Addr: r.Uint64N(1 << 26), Write: i%3 == 0, Issue: uint64(i) * 4}
		}
		if _, _, err := c.Transfer(reqs, 8, 0); err != nil {
			t.Fatalf("Transfer: %v", err)
		}
		if s := c.Stats(); s.Reads+s.Writes != 64 {
			t.Fatalf("served %d of 64", s.Reads+s.Writes)
		}
	})
}
