package sweep

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/rctsim/rctsim/train/numerics"
)

// The cost model of Estimate. A point's simulation time is mostly the DRAM model's
// work, one event per burst, and a step's bursts grow with the model's parameters
// (read and updated once per step, at the method's width) and its activations (kept
// for the backward pass, per example). The constants were fitted to the points of
// the embedded sweeps and of LeNet-5, ResNet-20 and the MLP at batch 8 and 32 with
// every method, timed one at a time on the 2-core development machine (an x86-64 VM):
// the estimate is within a factor of two of what those points took there, and closer
// on average. It leaves out what the hardware axes change (a small SRAM spills and
// moves up to three times the bytes), so it compares shards of one spec, whose
// hardware mix is the same in every shard, better than it predicts a time.
const (
	secondsPerPoint = 1e-3   // compiling, building the machine
	secondsPerBurst = 1.5e-7 // simulating one DRAM burst
	burstsPerParam  = 0.08   // an 8-bit RCT parameter per step
	burstsPerAct    = 0.07   // an activation element of one example per step
)

// methodTraffic is the DRAM traffic of a method's step relative to RCT's at 8 bits:
// QAT moves an fp32 master copy, a quantised copy and fp32 errors and gradients; FP32
// the same in fp32 (fitted as above).
var methodTraffic = map[numerics.Method]float64{
	numerics.RCT:  1,
	numerics.QAT:  4.3,
	numerics.FP32: 4.5,
	numerics.NITI: 1.1, // RCT's traffic and the int16 update buffers
	numerics.FP8:  1.6, // FP8 copies, activations and errors, fp32 masters and momentum
}

// Estimate is the expected simulation time of point k, in seconds of one core, from
// its model's size (parameters and activations), method, batch size, plan width and,
// for a recorded schedule, the number of distinct plans it simulates. It does not
// simulate or compile anything: it is for seeing before a sweep runs how its shards
// compare (EstimateShards, `rctsim sweep --check --shard i/N`) and roughly how long
// it takes, not for results.
func (s *Spec) Estimate(k int) float64 {
	return newEstimator(s).point(k)
}

// ShardEstimate is the expected work of one shard.
type ShardEstimate struct {
	Shard  Shard
	Points int
	// Seconds is the sum of Estimate over the shard's points.
	Seconds float64
	// Methods and Models count the shard's points by method and by model.
	Methods map[string]int
	Models  map[string]int
}

// MaxEstimatedShards bounds the shards EstimateShards lists at once.
const MaxEstimatedShards = 1 << 16

// EstimateShards returns the expected work of each of count shards of the sweep, in
// shard order, looking at every point once (no point is simulated or compiled).
func (s *Spec) EstimateShards(count int) ([]ShardEstimate, error) {
	if count < 1 || count > MaxEstimatedShards {
		return nil, fmt.Errorf("sweep: estimating %d shards: want 1..%d", count, MaxEstimatedShards)
	}
	out := make([]ShardEstimate, count)
	for i := range out {
		out[i] = ShardEstimate{Shard: Shard{i, count}, Methods: map[string]int{}, Models: map[string]int{}}
	}
	d := newDealing(s.total)
	e := newEstimator(s)
	for k := range s.total {
		se := &out[d.shardOf(k, count)]
		_, _, method, _, model := e.inner(k)
		se.Points++
		se.Seconds += e.point(k)
		se.Methods[method.String()]++
		se.Models[model]++
	}
	return out, nil
}

// estimator computes Estimate, each model's size once.
type estimator struct {
	spec  *Spec
	sizes map[string][2]float64 // model -> parameters, activation elements per example
}

func newEstimator(s *Spec) *estimator {
	return &estimator{spec: s, sizes: map[string][2]float64{}}
}

// inner decodes the lists of point k (what Point does, without the profile).
func (e *estimator) inner(k int) (b *block, plan *Plan, method numerics.Variant, batch int, model string) {
	s := e.spec
	bi := sort.Search(len(s.blocks), func(i int) bool { return s.blocks[i].start+s.blocks[i].count > k })
	b = &s.blocks[bi]
	r := k - b.start
	pick := func(n int) int {
		i := r % n
		r /= n
		return i
	}
	plan = b.plans[pick(len(b.plans))]
	method = b.methods[pick(len(b.methods))]
	batch = b.batches[pick(len(b.batches))]
	model = b.models[pick(len(b.models))]
	return
}

func (e *estimator) point(k int) float64 {
	_, plan, method, batch, model := e.inner(k)
	size, ok := e.sizes[model]
	if !ok {
		if net := e.spec.nets[model]; net != nil {
			var acts int64
			for _, l := range net.Layers {
				acts += l.Out.Elems()
			}
			size = [2]float64{float64(net.Params()), float64(acts)}
		}
		e.sizes[model] = size
	}
	width, steps := 8.0, 1.0
	if plan.Schedule != nil {
		steps = float64(max(len(plan.runs), 1))
	} else if len(plan.Bits) > 0 {
		sum := 0
		for _, b := range plan.Bits {
			sum += b
		}
		width = float64(sum) / float64(len(plan.Bits))
	}
	traffic, ok := methodTraffic[method.Method]
	if !ok {
		traffic = methodTraffic[numerics.QAT]
	}
	params := burstsPerParam * size[0]
	if method.Method == numerics.RCT {
		params *= width / 8
	}
	bursts := traffic * (params + burstsPerAct*size[1]*float64(batch))
	return steps * (secondsPerPoint + secondsPerBurst*bursts)
}

// maxShardTable bounds the shards --check lists one line each.
const maxShardTable = 64

// WriteCheck prints what `rctsim sweep --check` reports: the spec's size and columns,
// its estimated simulation time, and with a shard each shard's share (points, model
// and method mix, estimate and deviation), so that an imbalance shows before a sweep
// is submitted.
func (spec *Spec) WriteCheck(w io.Writer, shard Shard) error {
	total := spec.Len()
	fmt.Fprintf(w, "%s: %d points (shard %s: %d), %d columns\n", spec.File, total, shard, shard.Len(total), len(spec.Columns()))
	fmt.Fprintf(w, "swept profile keys: %s\n", strings.Join(spec.ProfileColumns(), ", "))
	if shard.Count <= 1 {
		var secs float64
		for k := range total {
			secs += spec.Estimate(k)
		}
		fmt.Fprintf(w, "estimated simulation time: %s on one core (a rough estimate from each point's model size, method, batch and plan)\n", seconds(secs))
		return nil
	}
	if shard.Count > MaxEstimatedShards {
		var secs float64
		for k := range shard.Points(total) {
			secs += spec.Estimate(k)
		}
		fmt.Fprintf(w, "shard %s: %d points, estimated %s on one core\n", shard, shard.Len(total), seconds(secs))
		return nil
	}
	ests, err := spec.EstimateShards(shard.Count)
	if err != nil {
		return err
	}
	var sum, lo, hi float64
	lo = math.Inf(1)
	for _, se := range ests {
		sum += se.Seconds
		lo, hi = min(lo, se.Seconds), max(hi, se.Seconds)
	}
	mean := sum / float64(len(ests))
	fmt.Fprintf(w, "estimated simulation time: %s on one core in all, %s per shard on average (a rough estimate from each point's model size, method, batch and plan)\n", seconds(sum), seconds(mean))
	spread := 0.0
	if lo > 0 {
		spread = 100 * (hi/lo - 1)
	}
	fmt.Fprintf(w, "shards: %d, the costliest %.1f%% above the cheapest\n", shard.Count, spread)
	show := func(se ShardEstimate) {
		var mix []string
		if len(spec.Models) > 1 {
			for _, m := range spec.Models {
				mix = append(mix, fmt.Sprintf("%s %d", m, se.Models[m]))
			}
		}
		if len(spec.Methods) > 1 {
			for _, m := range spec.Methods {
				mix = append(mix, fmt.Sprintf("%s %d", m, se.Methods[m.String()]))
			}
		}
		mark := ""
		if se.Shard == shard {
			mark = "  <- --shard"
		}
		dev := 0.0
		if mean > 0 {
			dev = math.Round(1000*(se.Seconds/mean-1))/10 + 0 // + 0: no "-0.0%"
		}
		fmt.Fprintf(w, "  shard %-9s %6d points %9s %+7.1f%%  %s%s\n", se.Shard, se.Points, seconds(se.Seconds), dev, strings.Join(mix, ", "), mark)
	}
	if len(ests) <= maxShardTable {
		for _, se := range ests {
			show(se)
		}
	} else {
		show(ests[shard.Index])
	}
	return nil
}

// seconds prints an estimated time for a person.
func seconds(s float64) string {
	switch {
	case s < 10:
		return fmt.Sprintf("%.2f s", s)
	case s < 60:
		return fmt.Sprintf("%.1f s", s)
	case s < 3600:
		return fmt.Sprintf("%.1f min", s/60)
	default:
		return fmt.Sprintf("%.1f h", s/3600)
	}
}
