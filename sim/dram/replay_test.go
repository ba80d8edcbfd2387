package dram

import (
	"encoding/json"
	"math"
	"testing"
)

// TestReplayReport checks a report's figures against the statistics they come from.
func TestReplayReport(t *testing.T) {
	spec := withRefresh(lpddr4())
	var reqs []Request
	for i := range 3000 {
		reqs = append(reqs, Request{Addr: uint64(i%1000) * 2048, Write: i%3 == 2, Issue: uint64(i) * 20})
	}
	r, err := Replay(spec, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 3000 || r.Reads+r.Writes != 3000 || r.Writes != 1000 || r.Kind != "lpddr4" || r.ClockHz != 1.6e9 {
		t.Errorf("report %+v", r)
	}
	if r.Seconds != float64(r.Cycles)/1.6e9 || math.Abs(r.BandwidthGBps-3000*64/r.Seconds/1e9) > 1e-9 || r.PeakGBps != 12.8 {
		t.Errorf("time and bandwidth: %+v", r)
	}
	// Issued every 20 cycles (each a row conflict, four per tFAW = 64 cycles at best,
	// with read-write turnarounds), it finishes shortly after the last issue.
	if r.Cycles < 2999*20 || r.Cycles > 2999*20*102/100 {
		t.Errorf("cycles %d for a trace issued over %d", r.Cycles, 2999*20)
	}
	e := r.Energy
	if sum := e.Activate + e.Read + e.Write + e.Background + e.Refresh; math.Abs(sum-e.Total) > 1e-9*e.Total || e.Refresh == 0 {
		t.Errorf("energy %+v", e)
	}
	if math.Abs(r.PJPerBit-e.Total/(3000*64*8)) > 1e-12 {
		t.Errorf("pJ/bit %g", r.PJPerBit)
	}
	if r.AvgReadLatencyCycles < tCL+burst || r.AvgReadLatencyFromIssueCycles < r.AvgReadLatencyCycles {
		t.Errorf("latencies %g, %g", r.AvgReadLatencyCycles, r.AvgReadLatencyFromIssueCycles)
	}
	if _, err := json.Marshal(r); err != nil || r.String() == "" {
		t.Errorf("report does not print: %v", err)
	}
	bad := spec
	bad.Banks = 3
	if _, err := Replay(bad, reqs); err == nil {
		t.Error("Replay accepted a bad spec")
	}
}
