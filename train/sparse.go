// Sparse and partial updates (Config.Update): any method may update only some
// parameters, as TinyTL (Cai et al., NeurIPS 2020) and Lin et al. ("On-Device
// Training Under 256KB Memory", NeurIPS 2022) do.
//
// Each weight layer has a numerics.LayerUpdate: frozen, bias only, or the bias and the
// weights of the first fraction of its output channels (rows of the canonical
// [Cout][...] layout; linear and dense convolution layers only). The backward pass
// starts at the last layer and stops at the first weight layer that updates anything:
// the layers before it get no error and no gradient. A layer propagates the error to
// its input only when a weight layer before it updates something (plan.applyUpdate
// sets needDX). Frozen parameters are not touched: no update, no momentum, no
// precision change (keepFrozenBits). The weight gradient of a layer whose weights are
// frozen is not used; the host may still compute it where that is simpler, the
// compiled step does not (kernels/).
//
// With integer weights the update is Lin et al.'s quantization-aware scaling by
// construction: RCT's update divides the real gradient by the grid step Δ, which is
// their G·s_W^-2 for weights (and the bias step's square for biases); NITI's update is
// normalised per tensor, which no per-tensor scaling changes. Config.NoQAS turns the
// scaling off for RCT (numerics.UpdateShiftNoQAS), an ablation.

package train

import (
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// applyUpdate resolves the update mask spec for p's weight layers and sets needDX and
// backStart accordingly. The empty spec (or "all") leaves the plan as it is.
func (p *plan) applyUpdate(spec string) error {
	u, err := numerics.ParseUpdate(spec)
	if err != nil {
		return err
	}
	if u.All() {
		return nil
	}
	targets := make([]numerics.UpdateTarget, len(p.weights))
	for j, i := range p.weights {
		l := p.layers[i].l
		targets[j] = numerics.UpdateTarget{Name: l.Name, Kind: string(l.Kind),
			Channels: (l.Kind == models.Linear || l.Kind == models.Conv2D) && l.NumGroups() == 1, Bias: l.BiasParams() > 0}
	}
	ups, j, err := numerics.ResolveUpdate(u, targets, p.net.Name)
	if err != nil {
		return err
	}
	first := p.weights[j]
	p.update, p.backStart = ups, first
	for i := range p.layers {
		p.layers[i].needDX = p.layers[i].needDX && i > first
	}
	return nil
}

// layerUpdate is weight layer j's update (everything without a mask).
func (p *plan) layerUpdate(j int) numerics.LayerUpdate {
	if p.update == nil {
		return numerics.Full
	}
	return p.update[j]
}

// updated returns how many of network layer i's n weights (a prefix, in the canonical
// layout) its update changes, and whether it updates its bias.
func (p *plan) updated(i, n int) (weights int, bias bool) {
	nl := &p.layers[i]
	u := p.layerUpdate(nl.weight)
	if u.Weights >= 1 {
		return n, u.Bias
	}
	rows := nl.l.Out.C
	return u.UpdatedRows(rows) * (n / rows), u.Bias
}

// prefix is x[:n], or nil for a nil x (a tensor the method does not keep).
func prefix[T any](x []T, n int) []T {
	if x == nil {
		return nil
	}
	return x[:n]
}

// maskGrads cuts a weight layer's gradient segments to what its update changes: the
// weights' segments to the updated prefix (none when frozen), the bias's to nothing
// when frozen. It also returns the number of weights updated.
func (p *plan) maskGrads(i int, nw int, w, b []gradSeg) ([]gradSeg, []gradSeg, int) {
	n, bias := p.updated(i, nw)
	if !bias {
		b = nil
	}
	if n == nw {
		return w, b, n
	}
	var out []gradSeg
	for _, sg := range w {
		if sg.lo >= n {
			continue
		}
		if hi := sg.lo + len(sg.grad); hi > n {
			sg.grad = sg.grad[:n-sg.lo]
		}
		out = append(out, sg)
	}
	return out, b, n
}

// keepFrozenBits keeps the width of every weight layer whose weights are frozen (a
// policy reading their Gavg, which is 0, would add bits for nothing) and drops the
// decisions about them.
func (p *plan) keepFrozenBits(bits, next []int, decisions []Decision) ([]int, []Decision) {
	if p.update == nil {
		return next, decisions
	}
	for j, u := range p.update {
		if u.Weights == 0 {
			next[j] = bits[j]
		}
	}
	out := decisions[:0]
	for _, d := range decisions {
		if p.update[d.Layer].Weights > 0 {
			out = append(out, d)
		}
	}
	return next, out
}
