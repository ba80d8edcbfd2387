package sim

import (
	"cmp"
	"fmt"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/sim/dram"
)

// dma executes a load or store: descriptor setup, then the DRAM bursts covering each
// row, submitted to the DRAM controller as one transfer from a requester that keeps at
// most MaxOutstanding bursts in flight (counting the previous transfers' bursts still
// in flight), with the SRAM side limited by its buffer's bandwidth. It returns when the
// unit may issue its next transfer (the controller took its last burst) and when this
// one completes (its last data moved).
func (r *run) dma(index int32, in *kernels.Instr) (free, complete uint64) {
	m := r.m
	write := in.Op == kernels.OpStore
	bytes := in.Bytes()
	class := in.A.Class
	r.sramAccess(in, in.A, bytes, !write)
	if write {
		r.stats.DMA.StoredBytes += bytes
	} else {
		r.stats.DMA.LoadedBytes += bytes
	}
	if m.opts.IdealDRAM {
		em := m.dram.EnergyModel()
		pj := em.ReadPJPerBit
		if write {
			pj = em.WritePJPerBit
		}
		r.charge(in, DRAM, class, float64(bytes*8)*pj)
		r.stats.addDRAMBytes(write, bytes)
		return r.now, r.now
	}
	start := r.now + uint64(m.prof.DMA.SetupCycles)
	bb := uint64(m.dram.BurstBytes())
	tableRows := uint64(1)
	if in.Gather {
		tableRows = uint64(r.prog.Tensors[in.Tensor].Bytes / in.Stride)
	}
	var reqs []dram.Request // a gather's; a strided transfer's bursts are the controller's to list
	var nBursts int64
	t := dram.Strided{Addr: in.Addr, Rows: in.Rows, RowBytes: in.RowBytes, Stride: in.Stride, Write: write}
	if in.Gather {
		reqs = r.bursts[:0]
		for row := int64(0); row < in.Rows; row++ {
			// The rows a lookup touches depend on data the timing model does not see:
			// take a fixed pseudo-random row per (instruction, row), so that repeated
			// runs agree and the DRAM sees the scattered rows a lookup really causes.
			lo := in.Addr + gatherRow(uint64(index), uint64(row), tableRows)*uint64(in.Stride)
			reqs = m.dram.AppendRequests(reqs, dram.Strided{Addr: lo, Rows: 1, RowBytes: in.RowBytes, Write: write})
		}
		nBursts = int64(len(reqs))
	} else {
		nBursts = m.dram.Bursts(t)
	}
	// Whole bursts move: a load discards the bytes outside the rows, a store masks
	// them.
	if wasted := nBursts*int64(bb) - in.Rows*in.RowBytes; write {
		r.stats.DMA.MaskedBytes += wasted
	} else {
		r.stats.DMA.DiscardedBytes += wasted
	}
	r.stats.DRAM.Bursts += nBursts
	before := &r.dramSeen
	var lastAccept, lastEnd uint64
	var err error
	if in.Gather {
		r.bursts = reqs
		lastAccept, lastEnd, err = m.dram.Transfer(reqs, m.prof.DMA.MaxOutstanding, m.toDRAM(start))
	} else {
		lastAccept, lastEnd, err = m.dram.TransferStrided(t, m.prof.DMA.MaxOutstanding, m.toDRAM(start))
	}
	if err != nil {
		// The run stops at the next issue (loop reports r.err); this transfer takes no
		// time so that nothing else is scheduled on its account.
		r.err = cmp.Or(r.err, fmt.Errorf("instruction %d (%s): %w", index, in.Op, err))
		return r.now, r.now
	}
	after := m.dram.Stats()
	r.chargeDRAM(in, class, before, &after)
	if r.layers != nil {
		ls := r.layer(in)
		ls.DRAMReadBytes += after.ReadBytes - before.ReadBytes
		ls.DRAMWriteBytes += after.WriteBytes - before.WriteBytes
	}
	r.dramSeen = after
	sram := r.sramCycles(in.A.Buffer, bytes)
	return max(r.now, m.fromDRAM(lastAccept)), max(m.fromDRAM(lastEnd), start+sram)
}

// gatherRow hashes (instruction, row) to a table row (SplitMix64's finaliser).
func gatherRow(index, row, rows uint64) uint64 {
	z := index<<32 ^ row + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return (z ^ z>>31) % rows
}

// chargeDRAM charges the activates and bursts of one transfer (the difference of the
// controller's counters, which project every queued request to completion) to its
// tensor class. Background and refresh power are charged over time (advance).
func (r *run) chargeDRAM(in *kernels.Instr, class kernels.TensorClass, before, after *dram.Stats) {
	em := r.m.dram.EnergyModel()
	pj := float64(after.Activates-before.Activates)*em.ActivatePJ +
		float64(after.ReadBursts-before.ReadBursts)*em.ReadPJ +
		float64(after.WriteBursts-before.WriteBursts)*em.WritePJ
	r.charge(in, DRAM, class, pj)
}

// mode resolves the MAC mode an instruction runs in.
func (m *Machine) mode(in *kernels.Instr) (hw.MACMode, error) {
	if in.Format != kernels.FormatInt {
		return m.prof.FloatMode(in.Format.String())
	}
	return m.prof.IntMode(in.WeightBits, in.ActBits)
}

// gemm returns a GEMM tile's cycles in MAC mode (Machine.check resolved it for the
// tile's shape): the systolic fold rule (or the row stationary mapping), stretched
// when the SRAM cannot feed the array's operand demand.
func (r *run) gemm(in *kernels.Instr, mode hw.MACMode) uint64 {
	m := r.m
	arr := &m.prof.MACArray
	var ft hw.FoldTiming
	var aReads, bReads, cWrites, cReads int64
	if arr.Dataflow == hw.RowStationary {
		rs := r.rowStationary(in, mode)
		ft = hw.FoldTiming{Folds: rs.Passes, CyclesPerFold: rs.PassCycles, Cycles: rs.Cycles, MappedMACs: rs.MappedPECycles}
		aReads, bReads, cWrites, cReads = rs.InputReads, rs.WeightReads, rs.PsumWrites, rs.PsumReads
	} else {
		ft = arr.Timing(hw.GEMM{M: in.M, N: in.N, K: in.K}, mode)
		aReads, bReads, cWrites, cReads = operandTraffic(arr, in)
	}
	r.stats.MACs += in.MACs()
	r.stats.MappedPECycles += ft.MappedMACs
	r.stats.ComputeCycles += uint64(ft.Cycles)
	r.stats.GEMMs++
	var ls *LayerStats
	if r.layers != nil {
		ls = r.layer(in)
		ls.MACs += in.MACs()
		ls.MappedPECycles += ft.MappedMACs
		ls.ComputeCycles += uint64(ft.Cycles)
	}
	r.charge(in, MAC, kernels.ClassNone, float64(in.MACs())*mode.EnergyPerMACPJ)

	bytesOf := func(elems int64, bits int) int64 { return (elems*int64(bits) + 7) / 8 }
	traffic := []struct {
		o     kernels.Operand
		bytes int64
		write bool
	}{
		{in.A, bytesOf(aReads, in.A.Bits), false},
		{in.B, bytesOf(bReads, in.B.Bits), false},
		{in.C, bytesOf(cWrites, in.C.Bits), true},
		{in.C, bytesOf(cReads, in.C.Bits), false},
	}
	demand := r.clearDemand()
	for _, t := range traffic {
		r.sramAccess(in, t.o, t.bytes, t.write)
		if t.bytes > 0 {
			demand[t.o.Buffer] += t.bytes
		}
	}
	cycles := uint64(ft.Cycles)
	for b, bytes := range demand {
		if s := r.sramCycles(b, bytes); s > cycles {
			r.stats.StallCycles += s - cycles
			if ls != nil {
				ls.StallCycles += s - cycles
			}
			cycles = s
		}
	}
	return cycles
}

// rsKey identifies a row stationary mapping: the convolution, the operands' widths and
// whether it continues an earlier tile's reduction.
type rsKey struct {
	conv       hw.Conv
	mode       hw.MACMode
	psumBits   int
	accumulate bool
}

// rowStationary maps a GEMM tile onto the row stationary array (its convolution, or
// the GEMM as a 1x1 convolution), charges the spads and networks it uses to the
// classes of the operands they carry, and returns the mapping's cost. Mappings are
// remembered per machine: a layer's tiles share a few shapes, and finding the best
// mapping searches many.
func (r *run) rowStationary(in *kernels.Instr, mode hw.MACMode) hw.RSCost {
	m := r.m
	conv := in.Conv
	if conv == (hw.Conv{}) {
		conv = hw.GEMMConv(hw.GEMM{M: in.M, N: in.N, K: in.K})
	}
	key := rsKey{conv, mode, in.C.Bits, in.Accumulate}
	rs, ok := m.rsMemo[key]
	if !ok {
		rs = m.prof.MACArray.RowStationary(conv, mode, in.C.Bits, in.Accumulate)
		if m.rsMemo == nil {
			m.rsMemo = map[rsKey]hw.RSCost{}
		}
		m.rsMemo[key] = rs
	}
	arr := &m.prof.MACArray
	wb, ab := mode.OperandBits()
	classes := [hw.RSDataTypes]kernels.TensorClass{hw.RSWeights: in.B.Class, hw.RSInputs: in.A.Class, hw.RSPsums: in.C.Class}
	bits := [hw.RSDataTypes]int{hw.RSWeights: wb, hw.RSInputs: ab, hw.RSPsums: in.C.Bits}
	for d := range hw.RSDataTypes {
		r.charge(in, Spad, classes[d], float64(rs.SpadReads[d])*arr.Spad.ReadEnergyPJ+float64(rs.SpadWrites[d])*arr.Spad.WriteEnergyPJ)
		r.charge(in, NoC, classes[d], float64(rs.NoCWords[d])*float64(bits[d])*arr.NoC.EnergyPJPerBit)
	}
	return rs
}

// operandTraffic counts the SRAM element accesses of a GEMM tile by dataflow: the
// stationary operand is read once, the streamed ones once per fold of the other
// dimension, and partial sums are written once per reduction fold (and read back
// between folds, and at the start when accumulating onto an earlier tile).
func operandTraffic(arr *hw.MACArraySpec, in *kernels.Instr) (aReads, bReads, cWrites, cReads int64) {
	R, C := int64(arr.Rows), int64(arr.Cols)
	M, N, K := in.M, in.N, in.K
	mn := M * N
	switch arr.Dataflow {
	case hw.WeightStationary:
		rowFolds := ceilDiv(K, R)
		aReads, bReads = M*K*ceilDiv(N, C), K*N
		cWrites, cReads = mn*rowFolds, mn*(rowFolds-1)
	case hw.InputStationary:
		rowFolds := ceilDiv(K, R)
		aReads, bReads = M*K, K*N*ceilDiv(M, C)
		cWrites, cReads = mn*rowFolds, mn*(rowFolds-1)
	default:
		aReads, bReads = M*K*ceilDiv(N, C), K*N*ceilDiv(M, R)
		cWrites = mn
	}
	if in.Accumulate {
		cReads += mn
	}
	return
}

// vector returns a vector instruction's cycles: one elementary operation per lane per
// cycle, or the SRAM traffic's cycles if those are more.
func (r *run) vector(in *kernels.Instr) uint64 {
	m := r.m
	ops := in.Elems * in.VOp.OpsPerElement()
	lanes := int64(m.prof.Vector.Lanes)
	cycles := uint64(ceilDiv(ops, lanes))
	format := ""
	if in.Format != kernels.FormatInt {
		format = in.Format.String()
	}
	r.stats.VectorOps += ops
	r.charge(in, Vector, kernels.ClassNone, float64(ops)*m.prof.Vector.OpEnergy(in.Bits, format))
	demand := r.clearDemand()
	for _, t := range []struct {
		o     kernels.Operand
		write bool
	}{{in.A, false}, {in.B, false}, {in.C, true}} {
		r.sramAccess(in, t.o, t.o.Bytes, t.write)
		if t.o.Bytes > 0 {
			demand[t.o.Buffer] += t.o.Bytes
		}
	}
	for b, bytes := range demand {
		cycles = max(cycles, r.sramCycles(b, bytes))
	}
	return max(cycles, 1)
}

// clearDemand returns the per-buffer byte counters, zeroed, for one instruction.
func (r *run) clearDemand() []int64 {
	clear(r.demand)
	return r.demand
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
