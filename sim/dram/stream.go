package dram

// A long contiguous transfer (a whole tensor, or a tile of whole rows) rarely recurs at
// its length: LeNet-5's qat step moves 314 transfers of 290 kinds, most of them tensors
// of tens to hundreds of kilobytes read or written once, so fast fidelity's kinds and
// wide kinds simulated 147,621 of its 150,381 requests. Such streams of one class
// (reads or writes, window, the first address's offset within a burst) differ mostly in
// length, along which their time and counters grow in a line: a burst every so many
// cycles, a bank row opened every so many bursts, a refresh every so many cycles. A
// stream class fits that line by least squares through its first fastStreamSamples
// simulated samples, once the longest is at least fastStreamSpread times the shortest
// (else it drops its oldest and samples on), and answers a stream of the class whose
// own kind and wide kind cannot, if it is no shorter than the shortest sample and no
// longer than fastStreamReach times the longest. Its bytes and requests are exact; the
// rest is read off the line.

// fastStreamSamples, fastStreamSpread and fastStreamReach shape a stream class (see
// above). Measured on LeNet-5's and the MLP's steps at batch 16, every profile and
// method (TestFastFidelity): 4 samples took LeNet-5's qat step on the default chip
// 0.48% off; without the bounds on spread and reach, LeNet-5's rct step on edge_tpu
// was 0.95% off (a class's samples of 294 to 400 bursts answered one of 1,176).
// With 6, 2 and 2 the error table (sim/testdata/fidelity/table.md) kept its largest
// errors and its one row past 0.5%; see sim/PERFORMANCE.md. A stream
// answered by its wide kind after 2 offsets instead of fastWideSamples (0f60582) took
// LeNet-5 qat's step from 41.3 to 42.1 thousand simulated requests: its stream classes
// then met fewer samples and fitted their lines later. Streams moved as chunks of 8
// bank rows, each its own kind, took it to 32.3 thousand but the error table to
// 1.82%, mostly by the refreshes a chunk's samples hold or not (sim/PERFORMANCE.md,
// "Streams in parts").
const (
	fastStreamSamples = 6
	fastStreamSpread  = 2
	fastStreamReach   = 2
)

// streamKey is a stream class: a long contiguous transfer's kind without its length
// and without where it starts beyond its offset within a burst.
type streamKey struct {
	window      int
	write       bool
	burstOffset uint64
}

// streamClass holds the samples of a stream class, by length in bursts, until it has
// fitted its line (fit non-nil), answering lengths in [shortest, reach].
type streamClass struct {
	bursts          []float64
	samples         []fastSample
	fit             *streamFit
	shortest, reach float64
}

// streamFit is a line through a class's samples by bursts: accept and end relative to
// the start, and each counter of statFields.
type streamFit struct {
	accept, end line
	stats       [numStatFields]line
}

// line is y = a + b*x.
//
// Its arithmetic rounds every product (float64(x*y)), which keeps the compiler from
// fusing multiply and add on the architectures that have the instruction: answers,
// rounded to whole cycles and counts, are then the same on every machine.
type line struct{ a, b float64 }

func (l line) at(x float64) float64 { return l.a + float64(l.b*x) }

// fitLine is the least-squares line through (xs[i], ys[i]); xs must not all be equal.
func fitLine(xs, ys []float64) line {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += float64(xs[i] * xs[i])
		sxy += float64(xs[i] * ys[i])
	}
	b := (float64(n*sxy) - float64(sx*sy)) / (float64(n*sxx) - float64(sx*sx))
	return line{a: (sy - float64(b*sx)) / n, b: b}
}

// The counters a stream class reads off its line; the others follow from them and
// from the stream's bursts.
const (
	statForwardedReads = iota
	statMergedReads
	statMergedWrites
	statActivates
	statPrecharges
	statRefreshes
	statRowMisses
	statRowConflicts
	statReadLatency
	statReadLatencyFromIssue
	statClosedRankCycles
	numStatFields
)

func statFields(s *Stats) [numStatFields]float64 {
	return [numStatFields]float64{
		statForwardedReads: float64(s.ForwardedReads), statMergedReads: float64(s.MergedReads),
		statMergedWrites: float64(s.MergedWrites), statActivates: float64(s.Activates),
		statPrecharges: float64(s.Precharges), statRefreshes: float64(s.Refreshes),
		statRowMisses: float64(s.RowMisses), statRowConflicts: float64(s.RowConflicts),
		statReadLatency: float64(s.ReadLatency), statReadLatencyFromIssue: float64(s.ReadLatencyFromIssue),
		statClosedRankCycles: float64(s.ClosedRankCycles),
	}
}

// streaming reports whether a transfer of kind key is a stream: strided, long and
// contiguous (one row, or rows that follow each other).
func (f *fastMemo) streaming(key fastKey) bool {
	return key.n == 0 && f.long(key) && (key.rows == 1 || key.stride == key.rowBytes)
}

// streamKeyOf is the stream class of a stream of kind key, and its length in bursts.
func (f *fastMemo) streamKeyOf(key fastKey) (streamKey, uint64) {
	off := key.align % f.burst
	bursts := (off + uint64(key.rows*key.rowBytes) + f.burst - 1) / f.burst
	return streamKey{window: key.window, write: key.write, burstOffset: off}, bursts
}

// answers reports whether c answers a stream of the given bursts.
func (c *streamClass) answers(bursts uint64) bool {
	x := float64(bursts)
	return c.fit != nil && x >= c.shortest && x <= c.reach
}

// add keeps a simulated stream of the class as a sample, and fits the line once the
// samples are enough and spread enough.
func (c *streamClass) add(bursts uint64, s fastSample) {
	if c.fit != nil {
		return
	}
	c.bursts = append(c.bursts, float64(bursts))
	c.samples = append(c.samples, s)
	if len(c.samples) < fastStreamSamples {
		return
	}
	lo, hi := c.bursts[0], c.bursts[0]
	for _, x := range c.bursts {
		lo, hi = min(lo, x), max(hi, x)
	}
	if hi < fastStreamSpread*lo {
		c.bursts, c.samples = c.bursts[1:], c.samples[1:]
		return
	}
	c.shortest, c.reach = lo, fastStreamReach*hi
	fit := &streamFit{}
	ys := make([]float64, len(c.samples))
	fitBy := func(y func(*fastSample) float64) line {
		for i := range c.samples {
			ys[i] = y(&c.samples[i])
		}
		return fitLine(c.bursts, ys)
	}
	fit.accept = fitBy(func(s *fastSample) float64 { return float64(s.accept) })
	fit.end = fitBy(func(s *fastSample) float64 { return float64(s.end) })
	for k := range numStatFields {
		fit.stats[k] = fitBy(func(s *fastSample) float64 { return statFields(&s.delta)[k] })
	}
	c.fit, c.bursts, c.samples = fit, nil, nil
}

// answer is the sample the line gives a stream of the given bursts (of burstBytes
// bytes each) writing or reading: requests and bytes exact, the counters that split
// them (forwarded, merged; hits, misses, conflicts) read off the line and kept
// within them, a stream's reads never forwarded or merged when it writes, nor its
// writes merged when it reads.
func (c *streamClass) answer(bursts, burstBytes uint64, write bool) fastSample {
	x := float64(bursts)
	var v [numStatFields]int64
	for k := range numStatFields {
		v[k] = max(int64(c.fit.stats[k].at(x)+0.5), 0)
	}
	d := Stats{
		ForwardedReads: v[statForwardedReads], MergedReads: v[statMergedReads], MergedWrites: v[statMergedWrites],
		Activates: v[statActivates], Precharges: v[statPrecharges], Refreshes: v[statRefreshes],
		RowMisses: v[statRowMisses], RowConflicts: v[statRowConflicts],
		ReadLatency: uint64(v[statReadLatency]), ReadLatencyFromIssue: uint64(v[statReadLatencyFromIssue]),
		ClosedRankCycles: uint64(v[statClosedRankCycles]),
	}
	d.setRequests(int64(bursts), write, int64(burstBytes))
	accept := uint64(max(c.fit.accept.at(x)+0.5, 0))
	end := max(uint64(max(c.fit.end.at(x)+0.5, 0)), accept)
	return fastSample{accept: accept, end: end, delta: d}
}
