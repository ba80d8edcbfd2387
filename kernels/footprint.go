package kernels

import (
	"sort"

	"github.com/rctsim/rctsim/models"
)

// ComputeFootprint returns the DRAM bytes a program holds per tensor class: every
// tensor's bytes, except that activations no instruction after the forward pass reads
// (a frozen prefix's outputs under a sparse update, an addition's output that only the
// next layer reads, the logits the loss reads) are counted at their peak: the most of
// them live at once, each from its first store (or the step's start) to its last load.
// Their storage can be reused as soon as the forward pass is done with them; the saved
// activations the backward pass reads are held for the whole step.
func (p *Program) ComputeFootprint() [NumClasses]int64 {
	var out [NumClasses]int64
	type life struct {
		first, last int
		saved, used bool
	}
	lives := make([]life, len(p.Tensors))
	for t := range lives {
		lives[t].first = -1
	}
	for k := range p.Len() {
		in := p.shape(p.at(k).shape) // not written out: every field read here is the shape's
		if in.Op != OpLoad && in.Op != OpStore {
			continue
		}
		l := &lives[in.Tensor]
		if !l.used {
			l.first, l.used = k, true
			if in.Op == OpLoad {
				l.first = -1 // read before any store: in DRAM from the step's start
			}
		}
		l.last = k
		if in.Op == OpLoad && in.Phase != models.Forward {
			l.saved = true
		}
	}
	type event struct {
		at    int
		bytes int64
	}
	var events []event
	for t, tn := range p.Tensors {
		l := lives[t]
		if tn.Class != ClassActivations || l.saved || !l.used {
			out[tn.Class] += tn.Bytes
			continue
		}
		events = append(events, event{l.first, tn.Bytes}, event{l.last + 1, -tn.Bytes})
	}
	// Frees before allocations at the same instruction: a tensor last read by one
	// instruction is dead when the next one stores.
	sort.Slice(events, func(a, b int) bool {
		if events[a].at != events[b].at {
			return events[a].at < events[b].at
		}
		return events[a].bytes < events[b].bytes
	})
	var live, peak int64
	for _, e := range events {
		live += e.bytes
		peak = max(peak, live)
	}
	out[ClassActivations] += peak
	return out
}
