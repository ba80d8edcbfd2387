package dram

import (
	"fmt"

	"github.com/rctsim/rctsim/hw"
)

// Report is the result of replaying a request trace through the DRAM model alone: the
// figures of `rctsim dram`. Cycles count the DRAM clock (data_rate/2).
type Report struct {
	Kind     string `json:"kind"`
	Requests int    `json:"requests"`
	ClockHz  int64  `json:"clock_hz"`
	// Cycles runs from cycle 0 to the end of the last data burst.
	Cycles  uint64  `json:"cycles"`
	Seconds float64 `json:"seconds"`
	// BandwidthGBps is the requests' bytes over Seconds (1 GB = 1e9 bytes); PeakGBps
	// the bus peak of all channels.
	BandwidthGBps float64 `json:"bandwidth_gbps"`
	PeakGBps      float64 `json:"peak_gbps"`
	// AvgReadLatencyCycles is from the controller accepting a read to the end of its
	// data; AvgReadLatencyFromIssueCycles from the trace's issue cycle instead (it adds
	// the time the read waited for room in the controller).
	AvgReadLatencyCycles          float64      `json:"avg_read_latency_cycles"`
	AvgReadLatencyFromIssueCycles float64      `json:"avg_read_latency_from_issue_cycles"`
	Reads                         int64        `json:"reads"`
	Writes                        int64        `json:"writes"`
	Activates                     int64        `json:"activates"`
	Precharges                    int64        `json:"precharges"`
	Refreshes                     int64        `json:"refreshes"`
	RowHits                       int64        `json:"row_hits"`
	RowMisses                     int64        `json:"row_misses"`
	RowConflicts                  int64        `json:"row_conflicts"`
	ForwardedReads                int64        `json:"forwarded_reads"`
	MergedReads                   int64        `json:"merged_reads"`
	MergedWrites                  int64        `json:"merged_writes"`
	Energy                        ReportEnergy `json:"energy_pj"`
	// PJPerBit is the total energy over the bits the requests moved.
	PJPerBit float64 `json:"pj_per_bit"`
}

// ReportEnergy is a Report's energy in pJ.
type ReportEnergy struct {
	Activate   float64 `json:"activate"`
	Read       float64 `json:"read"`
	Write      float64 `json:"write"`
	Background float64 `json:"background"`
	Refresh    float64 `json:"refresh"`
	Total      float64 `json:"total"`
}

// Replay runs reqs (e.g. from ReadTrace) through a new controller for spec, each issued
// at its own Issue cycle with no limit on requests outstanding, and reports on the
// whole run. It is the library side of `rctsim dram --hw PROFILE --trace FILE`:
//
//	dp, err := hw.LoadDRAM(configs.FS, "dram/ddr4_3200.toml") // or a chip profile's DRAM
//	f, err := os.Open(path)
//	reqs, err := dram.ReadTrace(f, path)
//	rep, err := dram.Replay(dp.DRAM, reqs)
//
// The error is New's, for a spec the model cannot take, or Transfer's.
func Replay(spec hw.DRAMSpec, reqs []Request) (Report, error) {
	c, err := New(spec)
	if err != nil {
		return Report{}, err
	}
	if _, _, err := c.Transfer(reqs, 0, 0); err != nil {
		return Report{}, err
	}
	return c.report(len(reqs)), nil
}

// report summarises the controller's statistics.
func (c *Controller) report(requests int) Report {
	s := c.Stats()
	e := c.Energy(s)
	hz := c.cfg.clock.Hz()
	r := Report{
		Kind:     c.cfg.spec.Kind,
		Requests: requests,
		ClockHz:  hz,
		Cycles:   s.LastDataEnd,
		Seconds:  float64(s.LastDataEnd) / float64(hz),
		PeakGBps: c.PeakBytesPerCycle() * float64(hz) / 1e9,
		Reads:    s.Reads, Writes: s.Writes,
		Activates: s.Activates, Precharges: s.Precharges, Refreshes: s.Refreshes,
		RowHits: s.RowHits, RowMisses: s.RowMisses, RowConflicts: s.RowConflicts,
		ForwardedReads: s.ForwardedReads, MergedReads: s.MergedReads, MergedWrites: s.MergedWrites,
		Energy: ReportEnergy{Activate: e.ActivatePJ, Read: e.ReadPJ, Write: e.WritePJ,
			Background: e.BackgroundPJ, Refresh: e.RefreshPJ, Total: e.TotalPJ()},
	}
	bytes := s.ReadBytes + s.WriteBytes
	if r.Seconds > 0 {
		r.BandwidthGBps = float64(bytes) / r.Seconds / 1e9
	}
	if s.Reads > 0 {
		r.AvgReadLatencyCycles = float64(s.ReadLatency) / float64(s.Reads)
		r.AvgReadLatencyFromIssueCycles = float64(s.ReadLatencyFromIssue) / float64(s.Reads)
	}
	if bytes > 0 {
		r.PJPerBit = r.Energy.Total / float64(8*bytes)
	}
	return r
}

// String prints the report as an aligned two-column table.
func (r Report) String() string {
	return fmt.Sprintf(`kind                      %s
requests                  %d
cycles                    %d (%.6g s at %d Hz)
bandwidth                 %.3f GB/s of %.3f peak
read latency              %.1f cycles from accept, %.1f from issue
reads / writes            %d / %d (%d forwarded, %d merged reads, %d merged writes)
activates / precharges    %d / %d
refreshes                 %d
row hits/misses/conflicts %d / %d / %d
energy (pJ)               activate %.4g, read %.4g, write %.4g, background %.4g, refresh %.4g, total %.4g
energy per bit            %.3f pJ
`, r.Kind, r.Requests, r.Cycles, r.Seconds, r.ClockHz, r.BandwidthGBps, r.PeakGBps,
		r.AvgReadLatencyCycles, r.AvgReadLatencyFromIssueCycles, r.Reads, r.Writes, r.ForwardedReads, r.MergedReads, r.MergedWrites,
		r.Activates, r.Precharges, r.Refreshes, r.RowHits, r.RowMisses, r.RowConflicts,
		r.Energy.Activate, r.Energy.Read, r.Energy.Write, r.Energy.Background, r.Energy.Refresh, r.Energy.Total, r.PJPerBit)
}
