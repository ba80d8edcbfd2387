package sim

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

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
// reused, unless reuse is false. With reuse, the distinct plans are simulated in
// parallel on up to GOMAXPROCS machines like m. Reused or not, every step's figures
// are added one by one in step order, so neither reuse nor parallelism changes a
// figure.
func SimulateRun(m *Machine, net *models.Network, opts kernels.Options, plans []numerics.Plan, reuse bool) (*RunResult, error) {
	res := &RunResult{Steps: len(plans), ClockHz: m.prof.Clock.Hz(), PerStep: make([]StepCost, 0, len(plans))}
	simulate := func(m *Machine, step int, plan numerics.Plan) (*Stats, error) {
		o := opts
		o.Plan = plan
		prog, err := kernels.Compile(net, m.prof, o)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", step, err)
		}
		s, err := m.Run(prog)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", step, err)
		}
		return s, nil
	}
	if !reuse {
		for step, plan := range plans {
			s, err := simulate(m, step, plan)
			if err != nil {
				return nil, err
			}
			res.Distinct++
			if res.Sample == nil {
				res.Sample = s
			}
			res.add(step, s)
		}
		return res, nil
	}
	// The distinct plans, by the first step that has each.
	var firsts []int
	index := make([]int, len(plans)) // step -> position in firsts
	seen := map[string]int{}
	for step, plan := range plans {
		key := planKey(plan)
		i, ok := seen[key]
		if !ok {
			i = len(firsts)
			seen[key] = i
			firsts = append(firsts, step)
		}
		index[step] = i
	}
	stats, err := simulateAll(m, firsts, func(m *Machine, step int) (*Stats, error) { return simulate(m, step, plans[step]) })
	if err != nil {
		return nil, err
	}
	res.Distinct = len(firsts)
	for step := range plans {
		s := stats[index[step]]
		if res.Sample == nil {
			res.Sample = s
		}
		res.add(step, s)
	}
	return res, nil
}

// simulateAll runs f for each step of steps, on m and on up to GOMAXPROCS-1 more
// machines like it (none when m has hooks, which observe one machine), and returns the
// results in the order of steps (or the error of the earliest failing step).
func simulateAll(m *Machine, steps []int, f func(m *Machine, step int) (*Stats, error)) ([]*Stats, error) {
	out := make([]*Stats, len(steps))
	errs := make([]error, len(steps))
	workers := min(runtime.GOMAXPROCS(0), len(steps))
	if len(m.opts.Hooks) > 0 {
		workers = min(workers, 1)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		mw := m
		if w > 0 {
			var err error
			if mw, err = New(m.prof, m.opts); err != nil {
				return nil, err
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(steps) {
					return
				}
				out[i], errs[i] = f(mw, steps[i])
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
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
	d.Effort.Add(s.DRAM.Effort)
	r.FinalFootprint = s.Footprint
	for c, b := range s.Footprint {
		r.PeakFootprint[c] = max(r.PeakFootprint[c], b)
	}
	r.PerStep = append(r.PerStep, StepCost{Step: step, Cycles: s.Cycles, EnergyPJ: s.Energy.Total(), DRAMBytes: s.DRAM.ReadBytes + s.DRAM.WriteBytes})
}
