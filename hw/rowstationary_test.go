package hw

import (
	"math/rand/v2"
	"testing"
)

// eyerissArray is Eyeriss v1's array as JSSC 2017 describes it: 12 x 14 PEs, 16-bit
// operands and psums, spads of 224, 12 and 24 entries, a 64-bit filter and psum
// network and a 16-bit ifmap network.
func eyerissArray() (*MACArraySpec, MACMode) {
	m := &MACArraySpec{Rows: 12, Cols: 14, Dataflow: RowStationary, AccumulatorBits: 16,
		Spad: SpadSpec{WeightBytes: 448, InputBytes: 24, PsumBytes: 48, ReadEnergyPJ: 1, WriteEnergyPJ: 1},
		NoC:  NoCSpec{WeightBits: 64, InputBits: 16, PsumBits: 64, EnergyPJPerBit: 0.1}}
	return m, MACMode{WeightBits: 16, ActBits: 16, MACsPerPEPerCycle: 1, EnergyPerMACPJ: 1}
}

// AlexNet's convolution layers as Eyeriss ran them (JSSC 2017, Table III; CONV2, 4 and
// 5 per group of the grouped convolution), batch 4.
var alexNetConvs = []Conv{
	{N: 4, M: 96, C: 3, R: 11, S: 11, E: 55, F: 55, U: 4, D: 1},
	{N: 4, M: 256, C: 48, R: 5, S: 5, E: 27, F: 27, U: 1, D: 1},
	{N: 4, M: 384, C: 256, R: 3, S: 3, E: 13, F: 13, U: 1, D: 1},
	{N: 4, M: 384, C: 192, R: 3, S: 3, E: 13, F: 13, U: 1, D: 1},
	{N: 4, M: 256, C: 192, R: 3, S: 3, E: 13, F: 13, U: 1, D: 1},
}

// TestRowStationaryEyerissMapping: on Eyeriss's array the mapper finds the PE sets of
// JSSC 2017 (Sec. IV-A, Fig. 5): CONV1's 11x55 set strip-mined to 11x7 with two sets
// side by side (154 active PEs), CONV2's 5x27 set divided into two segments (135),
// and four 3x13 sets for CONV3-CONV5 (156), 88% of the PEs on average.
func TestRowStationaryEyerissMapping(t *testing.T) {
	m, mode := eyerissArray()
	want := []struct{ h, w, segments, active int64 }{{11, 7, 1, 154}, {5, 27, 2, 135}, {3, 13, 1, 156}, {3, 13, 1, 156}, {3, 13, 1, 156}}
	var macs, weighted float64
	for i, c := range alexNetConvs {
		got := m.RowStationary(c, mode, 16, false)
		x := got.RSMapping
		t.Logf("CONV%d: %dx%d set in %d segment(s), p=%d q=%d r=%d t=%d, %d passes of %d cycles, %d active PEs, utilisation %.1f%%",
			i+1, x.SetRows, x.SetCols, x.Segments, x.Filters, x.Channels, x.ChannelSets, x.FilterSets, x.Passes, x.PassCycles,
			x.ActivePEs(), 100*float64(got.MappedPECycles)/float64(got.Cycles*168))
		w := want[i]
		if x.SetRows != w.h || x.SetCols != w.w || x.Segments != w.segments || x.ActivePEs() != w.active {
			t.Errorf("CONV%d: %dx%d set in %d segments on %d PEs, want %dx%d in %d on %d", i+1,
				x.SetRows, x.SetCols, x.Segments, x.ActivePEs(), w.h, w.w, w.segments, w.active)
		}
		if sp := x.Filters * x.Channels * c.S; sp > 224 || x.Channels*c.S > 12 || x.Filters > 24 {
			t.Errorf("CONV%d: p=%d q=%d overflow the spads", i+1, x.Filters, x.Channels)
		}
		macs += float64(c.MACs())
		weighted += float64(c.MACs()) * float64(x.ActivePEs())
	}
	if avg := weighted / macs / 168; avg < 0.87 || avg > 0.89 {
		t.Errorf("average active PEs %.1f%%, JSSC 2017 reports 88%%", 100*avg)
	}
}

// TestRowStationaryHandComputed works one small convolution out by hand: one 2x2
// filter over a 4x4 ifmap (a 3x3 ofmap) on a 2x3 array with 16-bit operands, spads of
// two weights, two inputs and one psum, and 16-bit networks.
func TestRowStationaryHandComputed(t *testing.T) {
	m := &MACArraySpec{Rows: 2, Cols: 3, Dataflow: RowStationary, AccumulatorBits: 16,
		Spad: SpadSpec{WeightBytes: 4, InputBytes: 4, PsumBytes: 2, ReadEnergyPJ: 1, WriteEnergyPJ: 1},
		NoC:  NoCSpec{WeightBits: 16, InputBits: 16, PsumBits: 16, EnergyPJPerBit: 1}}
	mode := MACMode{WeightBits: 16, ActBits: 16, MACsPerPEPerCycle: 1, EnergyPerMACPJ: 1}
	c := Conv{N: 1, M: 1, C: 1, R: 2, S: 2, E: 3, F: 3, U: 1, D: 1}
	got := m.RowStationary(c, mode, 16, false)
	// The 2x3 set fills the array: one pass. Its filter rows (2 x 2 weights) come one
	// word a cycle: 4 cycles. Each PE then computes 3 outputs of 2 taps: 6 cycles; but
	// the set reads all 4 ifmap rows of 4 values, one a cycle on the 16-bit ifmap
	// network: 16 cycles, which bound the pass (the 9 psums leave in 9). The column's
	// psums take 1 hop up and the PE pipeline 3 stages: 4 + 16 + 1 + 3 = 24 cycles. A
	// narrower strip needs more passes: width 2 is 2 x (4 + 12 + 4) = 40, width 1 is
	// 3 x (4 + 8 + 4) = 48.
	want := RSCost{
		RSMapping: RSMapping{SetRows: 2, VFolds: 1, SChunks: 1, SetCols: 3, Segments: 1, Filters: 1, Channels: 1,
			ChannelSets: 1, FilterSets: 1, Images: 1, Passes: 1, PassCycles: 24},
		Cycles: 24, MappedPECycles: 36,
		WeightReads: 4, InputReads: 16, PsumReads: 0, PsumWrites: 9,
		// psums: 9 leave through the output network and 9 hop up a PE on the way.
		NoCWords: [RSDataTypes]int64{4, 16, 18},
		// Every one of the 36 MACs reads a weight, an input and a psum and writes the
		// psum; each weight is stored in the 3 PEs of its row (12), each PE stores its
		// ifmap row of 4 values (6 x 4 = 24).
		SpadReads:  [RSDataTypes]int64{36, 36, 36},
		SpadWrites: [RSDataTypes]int64{12, 24, 36},
	}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// Continuing an earlier tile's reduction reads its psums back first.
	if acc := m.RowStationary(c, mode, 16, true); acc.PsumReads != 9 || acc.NoCWords[RSPsums] != 27 {
		t.Errorf("accumulating: %d psum reads, %d psum words on the networks; want 9 and 27", acc.PsumReads, acc.NoCWords[RSPsums])
	}
	// A GEMM runs as a 1x1 convolution, and Timing says the same.
	g := GEMM{M: 5, N: 7, K: 9}
	rs := m.RowStationary(GEMMConv(g), mode, 16, false)
	if ft := m.Timing(g, mode); ft.Cycles != rs.Cycles || ft.Folds != rs.Passes || ft.MappedMACs != g.MACs() {
		t.Errorf("Timing %+v, RowStationary %d cycles in %d passes", ft, rs.Cycles, rs.Passes)
	}
}

func randomConv(rng *rand.Rand) Conv {
	n := func(hi int) int64 { return int64(1 + rng.IntN(hi)) }
	return Conv{N: n(4), M: n(64), C: n(64), R: n(7), S: n(14), E: n(40), F: n(40), U: n(3), D: n(2)}
}

// TestRowStationaryInvariants: on random convolutions and arrays, utilisation never
// exceeds one, every MAC reads its three spads, each pass reads inputs and weights,
// psums are written once per pass and read back on all but the first of each output.
func TestRowStationaryInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		m, mode := eyerissArray()
		m.Rows, m.Cols = 1+rng.IntN(16), 1+rng.IntN(16)
		c := randomConv(rng)
		got := m.RowStationary(c, mode, 16, false)
		pes := int64(m.Rows * m.Cols)
		if got.Cycles <= 0 || got.MappedPECycles != c.MACs() || got.MappedPECycles > pes*got.Cycles {
			t.Fatalf("%+v on %dx%d: %d mapped PE-cycles in %d cycles", c, m.Rows, m.Cols, got.MappedPECycles, got.Cycles)
		}
		if got.ActivePEs() > pes || got.SetRows > int64(m.Rows) || got.Filters*got.Channels*ceilDiv(c.S, got.SChunks) > 224 {
			t.Fatalf("%+v on %dx%d: mapping %+v does not fit", c, m.Rows, m.Cols, got.RSMapping)
		}
		if got.SpadReads != [RSDataTypes]int64{c.MACs(), c.MACs(), c.MACs()} || got.SpadWrites[RSPsums] != c.MACs() {
			t.Fatalf("%+v: spad reads %v", c, got.SpadReads)
		}
		// Every output is written at least once and read back once per later pass
		// over its channels.
		outputs := c.N * c.M * c.E * c.F
		if got.PsumWrites < outputs || got.PsumWrites-got.PsumReads < outputs || got.InputReads <= 0 || got.WeightReads < c.M*c.C*c.R*c.S {
			t.Fatalf("%+v: %+v", c, got)
		}
	}
}

// TestRowStationaryBiggerArrayNeverSlower: an array at least as large in both
// dimensions can run any mapping of the smaller one, so its best is never slower.
func TestRowStationaryBiggerArrayNeverSlower(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		c := randomConv(rng)
		m, mode := eyerissArray()
		m.Rows, m.Cols = 2, 2
		prev := m.RowStationary(c, mode, 16, false).Cycles
		for range 4 {
			m.Rows += rng.IntN(5)
			m.Cols += rng.IntN(5)
			got := m.RowStationary(c, mode, 16, false).Cycles
			if got > prev {
				t.Fatalf("%+v: %d cycles on %dx%d, more than %d on the smaller array", c, got, m.Rows, m.Cols, prev)
			}
			prev = got
		}
	}
}
