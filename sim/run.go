package sim

import (
	"fmt"
	"strings"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// StepCost is what one training step of a run cost.
type StepCost struct {
	Step      int
	Cycles    uint64
	EnergyPJ  float64
	DRAMBytes int64
}

// RunResult is the simulated cost of a whole training run: every step's plan compiled
// and executed, summed.
type RunResult struct {
	Steps  int
	Cycles uint64
	Energy Ledger
	DRAM   DRAMStats
	MACs   int64
	// PerStep has one entry per step, in order.
	PerStep []StepCost
	// FinalFootprint is the DRAM footprint of the last step; PeakFootprint the largest
	// of each class over the run (weights grow when the controller adds bits).
	FinalFootprint, PeakFootprint [kernels.NumClasses]int64
	// Distinct is the number of distinct plans compiled and simulated; the other steps
	// reused one of their results.
	Distinct int
	ClockHz  int64
	// Sample is the full statistics of the first step, for reports that want one
	// step's detail (buffers, utilisation).
	Sample *Stats
}

// Seconds is the simulated training time.
func (r *RunResult) Seconds() float64 { return float64(r.Cycles) / float64(r.ClockHz) }

// planKey identifies a step's program: everything in a Plan that changes it.
func planKey(p numerics.Plan) string {
	var b strings.Builder
	for _, v := range p.Bits {
		fmt.Fprintf(&b, "%d,", v)
	}
	b.WriteByte('|')
	for _, v := range p.NextBits {
		fmt.Fprintf(&b, "%d,", v)
	}
	if p.Control {
		b.WriteString("|c")
	}
	return b.String()
}

// SimulateRun compiles and simulates a training run of net, one plan per step. A
// step's program and its simulation depend only on the plan (the machine starts every
// step from the same state), so identical plans are simulated once and their result
// reused, unless reuse is false. Reused or not, every step's figures are added one by
// one in step order, so reuse changes no figure.
func SimulateRun(m *Machine, net *models.Network, opts kernels.Options, plans []numerics.Plan, reuse bool) (*RunResult, error) {
	res := &RunResult{Steps: len(plans), ClockHz: m.prof.Clock.Hz(), PerStep: make([]StepCost, 0, len(plans))}
	cache := make(map[string]*Stats)
	for step, plan := range plans {
		key := planKey(plan)
		s := cache[key]
		if s == nil {
			o := opts
			o.Plan = plan
			prog, err := kernels.Compile(net, m.prof, o)
			if err != nil {
				return nil, fmt.Errorf("step %d: %w", step, err)
			}
			if s, err = m.Run(prog); err != nil {
				return nil, fmt.Errorf("step %d: %w", step, err)
			}
			res.Distinct++
			if reuse {
				cache[key] = s
			}
		}
		if res.Sample == nil {
			res.Sample = s
		}
		res.add(step, s)
	}
	return res, nil
}

func (r *RunResult) add(step int, s *Stats) {
	r.Cycles += s.Cycles
	r.MACs += s.MACs
	r.Energy.Merge(&s.Energy, 1)
	d := &r.DRAM
	d.ReadBytes += s.DRAM.ReadBytes
	d.WriteBytes += s.DRAM.WriteBytes
	d.Bursts += s.DRAM.Bursts
	d.Activates += s.DRAM.Activates
	d.Precharges += s.DRAM.Precharges
	d.RowHits += s.DRAM.RowHits
	d.RowMisses += s.DRAM.RowMisses
	d.RowConflicts += s.DRAM.RowConflicts
	r.FinalFootprint = s.Footprint
	for c, b := range s.Footprint {
		r.PeakFootprint[c] = max(r.PeakFootprint[c], b)
	}
	r.PerStep = append(r.PerStep, StepCost{Step: step, Cycles: s.Cycles, EnergyPJ: s.Energy.Total(), DRAMBytes: s.DRAM.ReadBytes + s.DRAM.WriteBytes})
}
