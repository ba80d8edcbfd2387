package kernels

import (
	"fmt"
	"math"
	"strings"

	"github.com/rctsim/rctsim/hw"
)

// gemmKernel is one layer's GEMM in one phase, described by its three dimensions and
// by how tiles of its operands map to DRAM; emitGEMM tiles and schedules it.
type gemmKernel struct {
	m, n, k dim
	// groups is the number of independent products of this shape the kernel runs one
	// after another (0 means 1), sharing one tiling and one set of SRAM slots: the
	// groups of a grouped convolution, attention's (example, head) pairs. Every tile
	// carries its product in grp, which the box, prologue and epilogue functions map
	// to the data.
	groups int64

	format         Format
	weightBits     int // B operand width for integer GEMMs
	actBits        int // A operand width for integer GEMMs
	aClass, bClass TensorClass
	cClass         TensorClass // what the accumulators become
	aBits, bBits   int         // as stored
	// aLayout and bLayout are the tensors A and B come from; aBox and bBox the boxes
	// of them a tile needs.
	aLayout, bLayout layout
	aBox             func(m, k tile) Box
	bBox             func(k, n tile) Box
	epilogueBytes    func(m, n tile) int64 // outputs-buffer bytes the epilogue needs per tile (one copy)
	extraOutputs     int64                 // outputs-buffer bytes held for the whole kernel (bias gradients)
	// epilogue runs after an output tile's last GEMM; acc, its accumulator, is the
	// GEMM pipeline's, valid during the call only (as onB's b).
	epilogue func(m, n tile, acc *operandSlot, e *epilogueSlots)
	// prologue, when set, runs as an output tile's operands are first staged: it loads
	// what the tile's epilogue will need (the weights an update rewrites), early enough
	// to overlap the tile's GEMMs.
	prologue         func(m, n tile, e *epilogueSlots)
	newEpilogueSlots func(mt, nt int64) *epilogueSlots
	// onB, when set, runs once per B tile of each product's first M tile (bias
	// gradients).
	onB func(k, n tile, b *operandSlot, box Box)
	// conv, when set, gives each tile's product as a convolution (Instr.Conv).
	conv func(m, n, k tile) hw.Conv
}

// epilogueSlots are the double-buffered slots an epilogue writes, allocated once per
// kernel.
type epilogueSlots struct {
	pairs []*pair
	// staged holds, oldest first, what prologues loaded for epilogues still to run.
	staged [][]*operandSlot
}

// tiling is a choice of tile sizes and the SRAM bytes each slot needs.
type tiling struct {
	mt, nt, kt             int64
	aBytes, bBytes, cBytes int64
	epiBytes               int64
}

// choose picks the largest tiles that fit, preferring the whole reduction in one tile
// (no partial sums to spill), then the whole N, then the largest M.
func (c *compiler) choose(g *gemmKernel) (tiling, error) {
	accBytes := int64(c.num.accBits / 8)
	need := func(t tiling) [numRoles]int64 {
		var r [numRoles]int64
		r[roleInputs] += 2 * t.aBytes
		r[roleWeights] += 2 * t.bBytes
		r[roleOutputs] += 2*t.cBytes + 2*t.epiBytes + g.extraOutputs
		return r
	}
	fits := func(t tiling) bool {
		used := make([]int64, len(c.prog.Buffers))
		for role, b := range need(t) {
			used[c.roleBuf[role]] += b
		}
		for i, u := range used {
			if u > c.prog.Buffers[i].Capacity {
				return false
			}
		}
		return true
	}
	// Each slot's size depends on two of the three tile sizes only: remember them, as
	// the search below measures many tilings that share a pair (enumerating every tile
	// of a large layer is the compiler's costliest step).
	type sizes struct {
		x, y int64
		all  bool
	}
	aMemo, bMemo, cMemo := map[sizes]int64{}, map[sizes]int64{}, map[sizes][2]int64{}
	measure := func(mt, nt, kt int64, all bool) tiling {
		t := tiling{mt: mt, nt: nt, kt: kt}
		// The tiles of each dimension, cut when first needed.
		var ts [3][]tile
		tilesOf := func(i int, d dim, size int64) []tile {
			if ts[i] == nil {
				if all {
					ts[i] = d.tiles(size)
				} else {
					ts[i] = d.samples(size)
				}
			}
			return ts[i]
		}
		ms := func() []tile { return tilesOf(0, g.m, mt) }
		ns := func() []tile { return tilesOf(1, g.n, nt) }
		ks := func() []tile { return tilesOf(2, g.k, kt) }
		var ok bool
		if t.aBytes, ok = aMemo[sizes{mt, kt, all}]; !ok {
			for _, m := range ms() {
				for _, k := range ks() {
					t.aBytes = max(t.aBytes, g.aLayout.boxBytes(g.aBox(m, k)))
				}
			}
			aMemo[sizes{mt, kt, all}] = t.aBytes
		}
		if ce, ok := cMemo[sizes{mt, nt, all}]; ok {
			t.cBytes, t.epiBytes = ce[0], ce[1]
		} else {
			for _, m := range ms() {
				for _, n := range ns() {
					t.cBytes = max(t.cBytes, m.len()*n.len()*accBytes)
					t.epiBytes = max(t.epiBytes, g.epilogueBytes(m, n))
				}
			}
			cMemo[sizes{mt, nt, all}] = [2]int64{t.cBytes, t.epiBytes}
		}
		if t.bBytes, ok = bMemo[sizes{kt, nt, all}]; !ok {
			for _, k := range ks() {
				for _, n := range ns() {
					t.bBytes = max(t.bBytes, g.bLayout.boxBytes(g.bBox(k, n)))
				}
			}
			bMemo[sizes{kt, nt, all}] = t.bBytes
		}
		return t
	}
	rows := int64(c.prof.MACArray.Rows)
	// steps is the GEMM instructions of a tiling. Measuring a tiling exactly cuts every
	// tile, so one with more steps than the program has room for is never measured:
	// tooMany keeps the fewest steps of those, for the error when no tiling is left.
	left := c.maxInstrs - int64(c.prog.Len())
	steps := func(mt, nt, kt int64) int64 {
		return hw.MulSat(max(g.groups, 1), g.m.tileCount(mt), g.n.tileCount(nt), g.k.tileCount(kt))
	}
	tooMany := int64(0)
	var fallback *tiling
	mc, nc, kc := g.m.candidates(), g.n.candidates(), g.k.candidates()
	// One tile per layer leaves nothing to overlap: cut the largest streaming dimension
	// into at least pipelineDepth tiles when it is big enough that each still fills
	// the array, so the DMA loads tile i+1 while the array works on tile i.
	depth := int64(c.opt.PipelineDepth)
	if depth <= 0 {
		depth = defaultPipelineDepth
	}
	// Each product of a grouped kernel already overlaps the next one's loads: cut only
	// as deep as the groups do not reach.
	depth = ceilDiv(depth, max(g.groups, 1))
	rs := c.prof.MACArray.Dataflow == hw.RowStationary
	switch {
	case rs:
		// A row stationary array's tiling is ranked below, DRAM time included.
	case depth > 1 && g.m.size() >= depth*rows:
		mc = atMost(mc, ceilDiv(g.m.size(), depth))
	case depth > 1 && g.k.size() >= depth*rows:
		kc = atMost(kc, ceilDiv(g.k.size(), depth))
	}
	if rs {
		// Row stationary: which tiles run well depends on how they map (a pass
		// amortises loading its filters over the ifmaps it streams, and needs enough
		// filters and channels to keep the networks from starving the PEs), so the
		// compiler asks hw's mapper to rank the tilings that fit, as Eyeriss chooses
		// its processing passes and mapping together (JSSC 2017, Sec. IV-A): the
		// fewest cycles of array and DRAM overlapped (rsRanker), then the fewest bytes
		// loaded, then the fewest tiles. For each M and N tile the largest reduction
		// tile that fits is tried. (No tile count is imposed for pipelining: the
		// ranking counts what too few tiles leave unhidden.)
		rank := c.rsRanker(g)
		var best *tiling
		var bestScore, bestBytes, bestSteps int64
		for _, mt := range mc {
			for _, nt := range nc {
				lo, hi := 0, len(kc)
				for lo < hi {
					mid := (lo + hi) / 2
					if fits(measure(mt, nt, kc[mid], false)) {
						hi = mid
					} else {
						lo = mid + 1
					}
				}
				if lo == len(kc) {
					continue
				}
				kt := kc[lo]
				n := steps(mt, nt, kt)
				if n > left {
					if tooMany == 0 || n < tooMany {
						tooMany = n
					}
					continue
				}
				t := measure(mt, nt, kt, false)
				bytes := loadBytes(g, t)
				score := rank(t, n, bytes)
				if best == nil || score < bestScore || score == bestScore && (bytes < bestBytes || bytes == bestBytes && n < bestSteps) {
					best, bestScore, bestBytes, bestSteps = &t, score, bytes, n
				}
			}
		}
		if best != nil {
			if t := measure(best.mt, best.nt, best.kt, true); fits(t) {
				return t, nil
			}
		}
		mc, nc, kc = nil, nil, nil // nothing fits: report it below
	}
	// Partial folds waste the array: among M tiles that fit, prefer the largest that
	// fills whole folds of the array dimension M maps onto (output stationary: rows).
	aligned := func(mt int64) bool {
		return mt == g.m.size() || c.prof.MACArray.Dataflow != hw.OutputStationary || mt%rows == 0
	}
	for _, kt := range kc {
		for _, nt := range nc {
			// Largest M tile that fits, by bisection over the (monotone) candidates.
			lo, hi := 0, len(mc)
			for lo < hi {
				mid := (lo + hi) / 2
				if fits(measure(mc[mid], nt, kt, false)) {
					hi = mid
				} else {
					lo = mid + 1
				}
			}
			if fallback != nil && (lo == len(mc) || mc[lo] < min(g.m.size(), rows)) {
				// No M tile here can beat the fallback (the tiles below are no larger):
				// spare the exact measurement of every tile.
				continue
			}
			for j := lo; j < len(mc); j++ {
				if !aligned(mc[j]) && alignedAfter(mc, j, aligned) {
					continue
				}
				if n := steps(mc[j], nt, kt); n > left {
					if tooMany == 0 || n < tooMany {
						tooMany = n
					}
					continue
				}
				t := measure(mc[j], nt, kt, true)
				if !fits(t) {
					continue
				}
				if mc[j] >= min(g.m.size(), rows) {
					return t, nil
				}
				if fallback == nil {
					fallback = &t
				}
				break
			}
		}
	}
	if fallback != nil {
		return *fallback, nil
	}
	if tooMany > 0 {
		return tiling{}, c.room(tooMany, g.describe("in tiles that fit the SRAM"))
	}
	mc, nc, kc = g.m.candidates(), g.n.candidates(), g.k.candidates()
	smallest := measure(mc[len(mc)-1], nc[len(nc)-1], kc[len(kc)-1], false)
	used := make([]int64, len(c.prog.Buffers))
	for role, b := range need(smallest) {
		used[c.roleBuf[role]] += b
	}
	var parts []string
	for i, u := range used {
		if buf := c.prog.Buffers[i]; u > buf.Capacity {
			parts = append(parts, fmt.Sprintf("%d bytes of buffer %s (capacity %d)", u, buf.Name, buf.Capacity))
		}
	}
	return tiling{}, fmt.Errorf("%w: even the smallest tiles (M=%d N=%d K=%d, double-buffered) need %s",
		ErrNoFit, smallest.mt, smallest.nt, smallest.kt, strings.Join(parts, " and "))
}

// rsRanker returns how a row stationary array would run a tiling of g (steps tiles
// loading bytes from DRAM): the cycles hw's mapper gives its full tile times the
// tiles, or the DRAM bytes at the DRAM's peak if those take longer, plus one tile's
// share of the other (what double buffering cannot hide). Mappings are remembered
// per compilation.
func (c *compiler) rsRanker(g *gemmKernel) func(t tiling, steps, bytes int64) int64 {
	mode, err := c.prof.FloatMode(g.format.String())
	if g.format == FormatInt {
		mode, err = c.prof.IntMode(g.weightBits, g.actBits)
	}
	perCycle := c.prof.DRAM.PeakBytesPerSecond() / float64(c.prof.Clock.Hz())
	return func(t tiling, steps, bytes int64) int64 {
		dram := int64(math.Min(float64(bytes)/perCycle, math.MaxInt64/2))
		if err != nil {
			return dram // checkModes reports the missing mode
		}
		m, n, k := g.m.samples(t.mt)[0], g.n.samples(t.nt)[0], g.k.samples(t.kt)[0]
		conv := hw.GEMMConv(hw.GEMM{M: m.len(), N: n.len(), K: k.len()})
		if g.conv != nil {
			conv = g.conv(m, n, k)
		}
		key := rsKey{conv, mode, g.k.tileCount(t.kt) > 1}
		cycles, ok := c.rsMemo[key]
		if !ok {
			cycles = c.prof.MACArray.RowStationary(conv, mode, c.num.accBits, key.accumulate).Cycles
			if c.rsMemo == nil {
				c.rsMemo = map[rsKey]int64{}
			}
			c.rsMemo[key] = cycles
		}
		// Loads overlap the array's work tile by tile: all but one tile's share of
		// the shorter of the two hides behind the longer.
		array := hw.MulSat(steps, cycles)
		return max(array, dram) + min(array, dram)/max(steps, 1)
	}
}

// rsKey identifies a tile's mapping in rsMemo.
type rsKey struct {
	conv       hw.Conv
	mode       hw.MACMode
	accumulate bool
}

// loadBytes estimates the DRAM bytes a tiling loads, in emitGEMM's order (products,
// N tiles, M tiles, the reduction): an A tile for every step unless one A tile covers
// the product, a B tile for every step unless the reduction is one tile (which then
// stays resident across the M tiles).
func loadBytes(g *gemmKernel, t tiling) int64 {
	nm, nn, nk := g.m.tileCount(t.mt), g.n.tileCount(t.nt), g.k.tileCount(t.kt)
	aLoads, bLoads := hw.MulSat(nm, nk, nn), hw.MulSat(nn, nk, nm)
	if nm == 1 && nk == 1 {
		aLoads = 1
	}
	if nk == 1 {
		bLoads = nn
	}
	groups := max(g.groups, 1)
	return hw.MulSat(groups, hw.MulSat(aLoads, t.aBytes)+hw.MulSat(bLoads, t.bBytes))
}

// describe names the GEMM's size for errors, with how it is tiled.
func (g *gemmKernel) describe(tiled string) string {
	s := fmt.Sprintf("a GEMM of M=%d N=%d K=%d", g.m.size(), g.n.size(), g.k.size())
	if g.groups > 1 {
		s += fmt.Sprintf(" (%d of them)", g.groups)
	}
	return s + " " + tiled
}

// defaultPipelineDepth is Options.PipelineDepth's default.
const defaultPipelineDepth = 4

// alignedAfter reports whether a candidate after j (smaller) is aligned.
func alignedAfter(cands []int64, j int, aligned func(int64) bool) bool {
	for _, v := range cands[j+1:] {
		if aligned(v) {
			return true
		}
	}
	return false
}

// atMost keeps the candidates not above limit (always at least the smallest).
func atMost(cands []int64, limit int64) []int64 {
	for i, v := range cands {
		if v <= limit {
			return cands[i:]
		}
	}
	return cands[len(cands)-1:]
}

// emitGEMM schedules a GEMM kernel: the products of a grouped kernel one after another,
// within each N tiles outermost, then M tiles, then the reduction, with double-buffered
// A, B and accumulator slots. An operand tile identical to the one already resident is
// not reloaded.
func (c *compiler) emitGEMM(g *gemmKernel) error {
	t, err := c.choose(g)
	if err != nil {
		return err
	}
	groups := max(g.groups, 1)
	nSteps := hw.MulSat(groups, g.m.tileCount(t.mt), g.n.tileCount(t.nt), g.k.tileCount(t.kt))
	if err := c.room(nSteps, g.describe(fmt.Sprintf("in tiles of %dx%dx%d", t.mt, t.nt, t.kt))); err != nil {
		return err
	}
	aSlots := c.newPair(roleInputs, t.aBytes)
	bSlots := c.newPair(roleWeights, t.bBytes)
	cSlots := c.newPair(roleOutputs, t.cBytes)
	epi := g.newEpilogueSlots(t.mt, t.nt)
	if err := c.checkAlloc(); err != nil {
		return err
	}
	// The iteration space: products, then N tiles, then M tiles, then the reduction.
	type step struct {
		m, n, k     tile
		mi, ki, nki int // nki: reduction tiles per output tile
	}
	ms, ns, ks := g.m.tiles(t.mt), g.n.tiles(t.nt), g.k.tiles(t.kt)
	// stepAt is step i of the order: groups, N tiles, M tiles, reduction tiles, the
	// last innermost. (A list of them was 8 MB of a MobileNetV2 compile.)
	stepAt := func(i int64) step {
		ki, i := i%int64(len(ks)), i/int64(len(ks))
		mi, i := i%int64(len(ms)), i/int64(len(ms))
		ni, grp := i%int64(len(ns)), i/int64(len(ns))
		m, n, k := ms[mi], ns[ni], ks[ki]
		m.grp, n.grp, k.grp = grp, grp, grp
		return step{m: m, n: n, k: k, mi: int(mi), ki: int(ki), nki: len(ks)}
	}
	nSteps = int64(groups) * int64(len(ns)) * int64(len(ms)) * int64(len(ks)) // as many as room was asked for
	// staged is a step whose operands are loaded (or resident). Its operands are
	// values, as is the accumulator's: a new one of each per step was the most of a
	// compile's allocations (the callbacks keep none).
	type staged struct {
		a, b operandSlot
	}
	// aRs and bRs are the DMA regions of a step's operands, reused step after step:
	// stage lets none of them outlive it.
	var aRs, bRs []region
	stage := func(s step) staged {
		aRs = g.aLayout.appendRegions(aRs[:0], g.aBox(s.m, s.k))
		aSlot, resident := aSlots.take([5]int64{s.m.grp, s.m.lo, s.m.hi, s.k.lo, s.k.hi})
		if !resident {
			c.load(aRs, g.aClass, g.aBits, aSlot)
		}
		bRs = g.bLayout.appendRegions(bRs[:0], g.bBox(s.k, s.n))
		bSlot, resident := bSlots.take([5]int64{s.k.grp, s.k.lo, s.k.hi, s.n.lo, s.n.hi})
		if !resident {
			c.load(bRs, g.bClass, g.bBits, bSlot)
		}
		st := staged{a: operandSlot{s: aSlot, class: g.aClass, bits: g.aBits, bytes: regionsBytes(aRs)},
			b: operandSlot{s: bSlot, class: g.bClass, bits: g.bBits, bytes: regionsBytes(bRs)}}
		if s.ki == 0 && g.prologue != nil {
			g.prologue(s.m, s.n, epi)
		}
		return st
	}
	// Software pipelining: the next step's loads are emitted before this step's GEMM
	// and epilogue, so the in-order DMA queue fetches them while the array computes
	// instead of waiting behind this tile's stores.
	accBits := c.num.accBits
	var cOp operandSlot
	cur := stage(stepAt(0))
	for i := range nSteps {
		if c.err != nil {
			return c.err
		}
		s := stepAt(i)
		var next staged
		if i+1 < nSteps {
			next = stage(stepAt(i + 1))
		}
		if s.ki == 0 {
			acc := cSlots.fresh()
			cOp = operandSlot{s: acc, class: g.cClass, bits: accBits, bytes: s.m.len() * s.n.len() * int64(accBits/8)}
		}
		if g.onB != nil && s.mi == 0 {
			g.onB(s.k, s.n, &cur.b, g.bBox(s.k, s.n))
		}
		in := Instr{Op: OpGEMM, M: s.m.len(), N: s.n.len(), K: s.k.len(), Format: g.format,
			WeightBits: g.weightBits, ActBits: g.actBits, Accumulate: s.ki > 0,
			A: cur.a.operand(), B: cur.b.operand(), C: cOp.operand()}
		if g.conv != nil {
			in.Conv = g.conv(s.m, s.n, s.k)
		}
		if c.opt.Functional {
			in.Fn = &FuncDesc{M: exportTile(s.m), N: exportTile(s.n), K: exportTile(s.k), A: g.aBox(s.m, s.k), B: g.bBox(s.k, s.n), Group: s.m.grp}
		}
		c.op(in, []*slot{cur.a.s, cur.b.s}, []*slot{cOp.s})
		if s.ki == s.nki-1 {
			g.epilogue(s.m, s.n, &cOp, epi)
		}
		cur = next
	}
	return nil
}
