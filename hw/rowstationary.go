package hw

import (
	"math"
	"slices"
)

// Conv is a convolution in the terms of Eyeriss (Chen et al., "Eyeriss: An
// Energy-Efficient Reconfigurable Accelerator for Deep Convolutional Neural Networks",
// IEEE JSSC 52(1), 2017, Table I): N ifmaps of C channels, M filters of C x R x S,
// ofmaps of E x F. Ofmap row y reads the ifmap rows y*U + i*D for the filter rows
// i < R (U is the stride, D the dilation of the filter), and likewise for columns.
//
// A row stationary array runs every product as a Conv: a layer's forward pass as
// itself, backward-data as the convolution of the error with the flipped filters,
// backward-weight as the convolution of the ifmaps with the error, whose rows are then
// the filter rows (GEMMConv covers products that are no convolution).
type Conv struct {
	N, M, C int64 // ifmaps (images), filters (ofmap channels), channels
	R, S    int64 // filter rows and columns
	E, F    int64 // ofmap rows and columns
	U, D    int64 // stride of the ofmap over the ifmap, dilation of the filter
}

// MACs is N*M*C*R*S*E*F, saturated at math.MaxInt64.
func (c Conv) MACs() int64 { return MulSat(c.N, c.M, c.C, c.R, c.S, c.E, c.F) }

// Valid reports whether every dimension is positive.
func (c Conv) Valid() bool {
	return c.N > 0 && c.M > 0 && c.C > 0 && c.R > 0 && c.S > 0 && c.E > 0 && c.F > 0 && c.U > 0 && c.D > 0
}

// GEMMConv is how a row stationary array runs a product that is no convolution (a
// linear layer, attention's products): as a 1x1 convolution of g.M one-pixel ifmaps
// with g.K channels and g.N filters. Every PE set is then one PE, so the array holds
// rows x cols sets, each PE keeping p filters x q channels of weights in its filter
// spad and streaming the g.M rows of the left operand past them.
func GEMMConv(g GEMM) Conv {
	return Conv{N: g.M, M: g.N, C: g.K, R: 1, S: 1, E: 1, F: 1, U: 1, D: 1}
}

// RSMapping is how a Conv maps onto a row stationary array, in the parameters of
// Eyeriss's RS dataflow (JSSC 2017, Sec. IV-A and Table II), with two extensions for
// shapes Eyeriss does not support natively (a filter taller than the array, a filter
// row longer than the spads hold).
//
// A PE runs 1-D convolution primitives: one filter row against one ifmap row, giving
// one row of partial sums. A PE set of SetRows x SetCols PEs computes a 2-D
// convolution: filter row i stays in the spads of the PEs of set row i (reused
// horizontally), ifmap rows reach the PEs along diagonals (row i + j*U of column j,
// one multicast per value), and the partial sums of column j flow up the column and
// leave it as ofmap row j (accumulated vertically). A set of more ofmap rows than fit
// is strip-mined to SetCols rows; a set wider than the array is divided into Segments
// mapped independently (a column of the set goes to any column of PEs); a PE
// interleaves Filters filters and Channels channels (p and q); ChannelSets x
// FilterSets sets (r and t) run different channels (their psums accumulate in the
// array) and different filters (sharing the ifmap). A pass streams Images ifmaps
// through the array; psums that need more channels go back to the global buffer and
// return in a later pass.
type RSMapping struct {
	SetRows     int64 // h: filter rows per PE set (R, or R cut into VFolds)
	VFolds      int64 // filter rows taller than the array, processed fold by fold
	SChunks     int64 // pieces of a filter row longer than the filter or ifmap spad holds
	SetCols     int64 // e: ofmap rows per (strip-mined) set, the set's width
	Segments    int64 // pieces of at most the array's width a set is divided into
	Filters     int64 // p
	Channels    int64 // q (channels times filter-row pieces)
	ChannelSets int64 // r
	FilterSets  int64 // t
	Images      int64 // n
	Passes      int64
	PassCycles  int64
}

// ActivePEs is the PEs a pass uses: the rest of the array is clock gated.
func (m RSMapping) ActivePEs() int64 {
	return m.SetRows * m.SetCols * m.ChannelSets * m.FilterSets
}

// Data types of the row stationary array's access counts.
const (
	RSWeights = iota
	RSInputs
	RSPsums
	RSDataTypes
)

// RSCost is the time and data movement of one Conv on a row stationary array. Counts
// are in words: entries of one value (weights and inputs at the MAC mode's widths,
// partial sums at the accumulator's).
type RSCost struct {
	RSMapping
	// Cycles is Passes x PassCycles: each pass loads its filter rows into the spads
	// through the filter network, then computes while the ifmap and psum networks
	// stream (a network slower than the PEs stretches the pass), then drains its
	// partial sums up the columns and through the PE pipeline.
	Cycles int64
	// MappedPECycles is the PE-cycles doing useful multiply-accumulates.
	MappedPECycles int64
	// Buffer words: weights read from the buffer holding filters, inputs and partial
	// sums read from and partial sums written to the global buffer. Every pass reads
	// its inputs and weights once; its psums are read back unless it starts them.
	WeightReads, InputReads, PsumReads, PsumWrites int64
	// NoCWords are the words each network carries, by data type: global input network
	// deliveries (a multicast counts once), and for psums also the output network and
	// the hops between vertically adjacent PEs.
	NoCWords [RSDataTypes]int64
	// SpadReads and SpadWrites count spad entry accesses by data type: every MAC reads
	// a weight, an input and a partial sum and writes the partial sum back; weights and
	// inputs are written into the spads of every PE a multicast reaches.
	SpadReads, SpadWrites [RSDataTypes]int64
}

// rsPipelineDepth is the PE pipeline: one stage for spad access and two for the
// multiplier and adder (JSSC 2017, Sec. V-C).
const rsPipelineDepth = 3

// RowStationary maps c onto the array with the RS dataflow and returns its cost. The
// mapping is the one with the fewest cycles, then the fewest global buffer accesses,
// then the fewest active PEs, over every strip-mined width, segments side by side, p,
// q, r and t that the spads and the array allow (the set is as tall as the filter, or
// as few vertical folds of it as the array's rows need); a pass streams all N
// ifmaps (the compiler's tiles already fit the global buffer). psumBits is the width
// partial sums are kept at; accumulate says the first pass adds to partial sums in the
// buffer (a tile continuing an earlier one's reduction).
//
// The array's Spad and NoC must be set (a validated "rs" profile has them).
func (m *MACArraySpec) RowStationary(c Conv, mode MACMode, psumBits int, accumulate bool) RSCost {
	if !c.Valid() || psumBits <= 0 {
		return RSCost{}
	}
	pack, stretch := mode.packing()
	wb, ab := mode.OperandBits()
	sp := &m.Spad
	fEnt := max(int64(sp.WeightBytes*8/wb), 1)
	iEnt := max(int64(sp.InputBytes*8/ab), 1)
	pEnt := max(int64(sp.PsumBytes*8/psumBits), 1)
	// A filter row longer than a spad holds is cut into pieces, which a PE runs as if
	// they were channels: their psums accumulate in its psum spad.
	sf := ceilDiv(c.S, min(fEnt, iEnt))
	s1 := ceilDiv(c.S, sf)
	c1 := MulSat(c.C, sf)
	rows, cols := int64(m.Rows), int64(m.Cols)

	// A set is as tall as the filter (its rows' psums accumulate up the column); a
	// filter taller than the array is cut into as few folds as fit, whose psums meet in
	// the global buffer.
	h := ceilDiv(c.R, ceilDiv(c.R, rows))
	inCols1 := addSat(MulSat(c.F-1, c.U), MulSat(s1-1, c.D)) + 1
	// The array is floor(rows/h) bands of cols columns of h PEs; a set of w ofmap rows
	// takes w columns, in segments of at most cols (JSSC: a set wider than the array
	// is divided into segments mapped independently).
	units := (rows / h) * cols
	var best RSCost
	found := false
	// The largest values first: they find a fast mapping early, and the bound below
	// then skips most of the rest.
	for _, w := range descending(smallestPerCeil(c.E, min(c.E, units))) {
		for _, q := range descending(smallestPerCeil(c1, min(c1, iEnt/s1))) {
			for _, p := range descending(smallestPerCeil(c.M, min(c.M, pEnt, fEnt/(q*s1)))) {
				mp, cq := ceilDiv(c.M, p), ceilDiv(c1, q)
				// A lower bound on a mapping's cycles, from the passes' totals: every
				// pass computes, streams its ifmaps and psums (the slowest sets its
				// pace) and loads its filters. groups bounds the passes over filter
				// sets from below, loads those times the sets. A mapping whose passes
				// cannot beat the best found so far is not timed.
				compute := MulSat(c.N, p, c.F, ceilDiv(MulSat(q, s1), pack), stretch)
				strips := MulSat(ceilDiv(c.R, h), ceilDiv(c.E, w))
				weightBits := MulSat(p, q, h, s1, int64(wb)) // per filter set and channel set
				inRows := addSat(MulSat(w-1, c.U), MulSat(h-1, c.D)) + 1
				inputBits := MulSat(c.N, q, inRows, inCols1, int64(ab)) // per channel set
				psumBits1 := MulSat(c.N, p, w, c.F, int64(psumBits))    // per filter set
				atLeast := func(groups, loads, r int64) int64 {
					busy := max(MulSat(groups, ceilDiv(cq, r), compute),
						MulSat(groups, cq, inputBits)/int64(m.NoC.InputBits),
						MulSat(loads, ceilDiv(cq, r), psumBits1)/int64(m.NoC.PsumBits))
					fills := MulSat(loads, cq, weightBits) / int64(m.NoC.WeightBits)
					return MulSat(strips, addSat(busy, fills))
				}
				tMax := min(mp, units/w)
				if found && atLeast(ceilDiv(mp, tMax), mp, min(cq, units/w)) > best.Cycles {
					continue
				}
				for _, t := range descending(smallestPerCeil(mp, tMax)) {
					rMax := min(cq, units/(w*t))
					if found && atLeast(ceilDiv(mp, t), MulSat(ceilDiv(mp, t), t), rMax) > best.Cycles {
						continue
					}
					for _, r := range descending(smallestPerCeil(cq, rMax)) {
						x := RSMapping{SetRows: h, VFolds: ceilDiv(c.R, h), SChunks: sf, SetCols: w, Segments: ceilDiv(w, cols),
							Filters: p, Channels: q, ChannelSets: r, FilterSets: t, Images: c.N}
						e := m.rsPass(c, x, s1, c1, wb, ab, psumBits, pack, stretch)
						if found && e.cycles > best.Cycles {
							continue // only a mapping at least as fast needs its counts
						}
						cost := e.cost(c, accumulate)
						if !found || cost.better(&best) {
							best, found = cost, true
						}
					}
				}
			}
		}
	}
	return best
}

// better orders mappings: fewer cycles, then fewer buffer accesses, then fewer PEs.
func (a *RSCost) better(b *RSCost) bool {
	if a.Cycles != b.Cycles {
		return a.Cycles < b.Cycles
	}
	if x, y := a.bufferWords(), b.bufferWords(); x != y {
		return x < y
	}
	return a.ActivePEs() < b.ActivePEs()
}

func (a *RSCost) bufferWords() int64 {
	return addSat(addSat(a.WeightReads, a.InputReads), addSat(a.PsumReads, a.PsumWrites))
}

// rsPassShape is one mapping's passes and what each moves, before the counts.
type rsPassShape struct {
	x                                  RSMapping
	groups                             int64 // passes over the channels, each adding to the last one's psums
	mapped                             int64 // useful PE-cycles
	inCols                             int64
	weightWords, inputWords, psumWords int64 // per pass
	cycles                             int64
}

// rsPass times one mapping x of c (s1 taps per filter-row piece, c1 channels times
// pieces).
func (m *MACArraySpec) rsPass(c Conv, x RSMapping, s1, c1 int64, wb, ab, psumBits int, pack, stretch int64) rsPassShape {
	h, w, p, q, r, t, n := x.SetRows, x.SetCols, x.Filters, x.Channels, x.ChannelSets, x.FilterSets, x.Images
	e := rsPassShape{groups: ceilDiv(c1, MulSat(q, r))}
	x.Passes = MulSat(x.VFolds, ceilDiv(c.E, w), ceilDiv(c.M, MulSat(p, t)), e.groups)
	// A pass produces w ofmap rows (the last strip may have fewer: counted whole).
	e.inCols = addSat(MulSat(c.F-1, c.U), MulSat(s1-1, c.D)) + 1
	inRows := addSat(MulSat(w-1, c.U), MulSat(h-1, c.D)) + 1
	e.weightWords = MulSat(p, t, q, r, h, s1)
	e.inputWords = MulSat(n, q, r, inRows, e.inCols)
	e.psumWords = MulSat(n, p, t, w, c.F)

	noc := &m.NoC
	fill := bitCycles(e.weightWords, wb, noc.WeightBits)
	compute := MulSat(n, p, c.F, ceilDiv(MulSat(q, s1), pack), stretch)
	busy := max(compute, bitCycles(e.inputWords, ab, noc.InputBits), bitCycles(e.psumWords, psumBits, noc.PsumBits))
	x.PassCycles = addSat(addSat(fill, busy), h*r-1+rsPipelineDepth)
	e.x = x
	e.cycles = MulSat(x.Passes, x.PassCycles)
	e.mapped = MulSat(c.N, c.E, c.F, c.M, ceilDiv(MulSat(c.C, c.R, c.S), pack), stretch)
	return e
}

// cost counts the accesses of a timed mapping.
func (e *rsPassShape) cost(c Conv, accumulate bool) RSCost {
	x := e.x
	cost := RSCost{RSMapping: x, Cycles: e.cycles, MappedPECycles: e.mapped}
	first := int64(0) // passes that start their psums rather than read them back
	if !accumulate {
		first = x.Passes / MulSat(e.groups, x.VFolds)
	}
	cost.WeightReads = MulSat(x.Passes, e.weightWords)
	cost.InputReads = MulSat(x.Passes, e.inputWords)
	cost.PsumWrites = MulSat(x.Passes, e.psumWords)
	cost.PsumReads = MulSat(x.Passes-first, e.psumWords)
	cost.NoCWords = [RSDataTypes]int64{
		RSWeights: cost.WeightReads,
		RSInputs:  cost.InputReads,
		RSPsums:   addSat(addSat(cost.PsumReads, cost.PsumWrites), MulSat(x.Passes, e.psumWords, x.SetRows*x.ChannelSets-1)),
	}
	macs := c.MACs()
	cost.SpadReads = [RSDataTypes]int64{macs, macs, macs}
	cost.SpadWrites = [RSDataTypes]int64{
		RSWeights: MulSat(cost.WeightReads, x.SetCols),
		RSInputs:  MulSat(x.Passes, x.ActivePEs(), x.Images, x.Channels, e.inCols),
		RSPsums:   macs,
	}
	return cost
}

// bitCycles is the cycles a bus of busBits moves words of bits each in.
func bitCycles(words int64, bits, busBits int) int64 {
	if words <= 0 {
		return 0
	}
	return ceilDiv(MulSat(words, int64(bits)), int64(busBits))
}

// smallestPerCeil lists, for each value k of ceil(n/v) with 1 <= v <= limit, the
// smallest v giving it, ascending. A larger v with the same ceiling does the same
// number of steps with more waste, so these are the only candidates worth trying.
func smallestPerCeil(n, limit int64) []int64 {
	var out []int64
	for v := int64(1); v <= limit; {
		out = append(out, v)
		k := ceilDiv(n, v)
		if k <= 1 {
			break
		}
		v = ceilDiv(n, k-1)
	}
	return out
}

// descending reverses a list in place and returns it.
func descending(v []int64) []int64 {
	slices.Reverse(v)
	return v
}

// OperandBits returns the widths a PE holds a mode's weights and inputs at.
func (mode MACMode) OperandBits() (weight, input int) {
	if mode.IsFloat() {
		w := floatWidth[mode.Float]
		return w, w
	}
	return mode.WeightBits, mode.ActBits
}

// MulSat multiplies non-negative factors, saturating at math.MaxInt64: sizes derived
// from a user's batch or a layer's dimensions are compared with a bound, never allowed
// to wrap. A factor of 0 (or below) gives 0.
func MulSat(factors ...int64) int64 {
	p := int64(1)
	for _, f := range factors {
		if f <= 0 {
			return 0
		}
		if p > math.MaxInt64/f {
			return math.MaxInt64
		}
		p *= f
	}
	return p
}

// addSat adds non-negative numbers, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
