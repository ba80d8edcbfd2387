package sim

import (
	"maps"
	"slices"
	"strings"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim/dram"
	"github.com/rctsim/rctsim/train/numerics"
)

// Stats are the measured results of one run.
type Stats struct {
	Profile, Model string
	Method         numerics.Method
	Batch          int
	Instructions   int
	// DRAMModel is how the DRAM was simulated: "exact", "fast" (Options.Fidelity) or
	// "ideal" (Options.IdealDRAM), so that a result says how it was made.
	DRAMModel string

	Cycles  uint64
	ClockHz int64

	MACs int64
	// MappedPECycles is the PE-cycles doing useful work (MACs divided by the packing of
	// their mode): the numerator of the array's utilisation.
	MappedPECycles int64
	PEs            int64
	// ComputeCycles is the sum of GEMM fold cycles with ideal memory; StallCycles the
	// cycles GEMMs waited on SRAM bandwidth. GEMMs counts the GEMM tiles.
	ComputeCycles, StallCycles uint64
	GEMMs                      int64
	VectorOps                  int64
	// Busy is each unit's cycles spent executing instructions (DMA transfers overlap, so
	// the DMA's may exceed Cycles).
	Busy [kernels.NumUnits]uint64

	Energy Ledger

	DRAM    DRAMStats
	DMA     DMAStats
	Buffers []BufferStats
	// Footprint is the DRAM bytes held per tensor class.
	Footprint [kernels.NumClasses]int64
	// PeakDRAMBytesPerCycle is the DRAM bus peak in bytes per accelerator cycle.
	PeakDRAMBytesPerCycle float64
	// Layers breaks the run down by (layer, phase), in that order (Options.PerLayer).
	Layers []LayerStats
	// Silicon is the chip's area and static power by component; the ledger's static
	// energy is their static power over the run's time.
	Silicon hw.Silicon
}

// LayerStats is the part of a run one layer's instructions in one phase account for.
// Time-proportional energy (leakage, DRAM background) goes to the layer and phase the
// machine was working through, as in the ledger.
type LayerStats struct {
	Layer        int32
	Phase        models.Phase
	Instructions int
	// First and Last bound the layer's instructions: the first issue and the last
	// completion, in cycles (other layers' work may overlap the span).
	First, Last                   uint64
	MACs, MappedPECycles          int64
	ComputeCycles, StallCycles    uint64
	DRAMReadBytes, DRAMWriteBytes int64
	EnergyPJ                      [NumComponents]float64
}

// layerKey indexes per-layer statistics.
type layerKey struct {
	layer int32
	phase models.Phase
}

// DRAMStats count the DRAM's work.
type DRAMStats struct {
	ReadBytes, WriteBytes            int64
	Bursts                           int64
	Activates, Precharges            int64
	RowHits, RowMisses, RowConflicts int64
	// Effort is how the DRAM model came to these figures: the requests it scheduled
	// one by one, fast-forwarded, or (fast fidelity) answered from samples. A
	// RunResult sums it over the steps, like the counts above, reused ones included.
	Effort dram.Effort
}

// DMAStats count bytes the DMA delivered to and took from SRAM. DRAM moves whole
// bursts, so a load of a partial burst discards the rest and a store masks it: DRAM
// bytes read equal LoadedBytes + DiscardedBytes, written StoredBytes + MaskedBytes.
type DMAStats struct {
	LoadedBytes, StoredBytes    int64
	DiscardedBytes, MaskedBytes int64
}

// BufferStats are one SRAM buffer's traffic and high-water mark.
type BufferStats struct {
	Name                  string
	CapacityBytes         int64
	ReadBytes, WriteBytes int64
	// PeakBytes is the highest byte offset any instruction touched: the buffer's
	// occupancy, never above its capacity.
	PeakBytes int64
}

func newStats(m *Machine, prog *kernels.Program) *Stats {
	s := &Stats{
		Profile: m.prof.Name, Model: prog.Model, Method: prog.Method, Batch: prog.Batch,
		Instructions: prog.Len(), DRAMModel: m.opts.dramModel(), ClockHz: m.prof.Clock.Hz(),
		PEs:       int64(m.prof.MACArray.Rows * m.prof.MACArray.Cols),
		Footprint: prog.Footprint, Silicon: m.silicon,
	}
	for _, b := range m.bufs {
		s.Buffers = append(s.Buffers, BufferStats{Name: b.name, CapacityBytes: int64(b.spec.Capacity)})
	}
	peakBytesPerSecond := float64(m.prof.DRAM.Channels) * float64(m.prof.DRAM.BusWidthBits) / 8 * float64(m.prof.DRAM.DataRate.TransfersPerSecond())
	s.PeakDRAMBytesPerCycle = peakBytesPerSecond / float64(m.accHz)
	return s
}

func (s *Stats) addDRAMBytes(write bool, bytes int64) {
	if write {
		s.DRAM.WriteBytes += bytes
	} else {
		s.DRAM.ReadBytes += bytes
	}
}

// finish closes the books: total time and the DRAM's counters.
func (r *run) finish() {
	s := r.stats
	s.Cycles = r.now
	for _, ls := range r.layers {
		s.Layers = append(s.Layers, *ls)
	}
	slices.SortFunc(s.Layers, func(a, b LayerStats) int {
		if a.Layer != b.Layer {
			return int(a.Layer - b.Layer)
		}
		return int(a.Phase - b.Phase)
	})
	if r.m.opts.IdealDRAM {
		return
	}
	d := r.m.dram.Stats()
	s.DRAM.ReadBytes, s.DRAM.WriteBytes = d.ReadBytes, d.WriteBytes
	s.DRAM.Activates, s.DRAM.Precharges = d.Activates, d.Precharges
	s.DRAM.RowHits, s.DRAM.RowMisses, s.DRAM.RowConflicts = d.RowHits, d.RowMisses, d.RowConflicts
	s.DRAM.Effort = r.m.dram.Effort()
}

// Seconds is the simulated time.
func (s *Stats) Seconds() float64 { return float64(s.Cycles) / float64(s.ClockHz) }

// MACUtilization is the fraction of PE-cycles doing useful work.
func (s *Stats) MACUtilization() float64 {
	if s.Cycles == 0 {
		return 0
	}
	return float64(s.MappedPECycles) / (float64(s.PEs) * float64(s.Cycles))
}

// DRAMBusUtilization is the fraction of the DRAM bus peak used over the run.
func (s *Stats) DRAMBusUtilization() float64 {
	if s.Cycles == 0 {
		return 0
	}
	return float64(s.DRAM.ReadBytes+s.DRAM.WriteBytes) / (s.PeakDRAMBytesPerCycle * float64(s.Cycles))
}

// SRAMBytes returns total SRAM bytes read and written, and the sum of every buffer's
// high-water mark.
func (s *Stats) SRAMBytes() (read, write, peak int64) {
	for _, b := range s.Buffers {
		read += b.ReadBytes
		write += b.WriteBytes
		peak += b.PeakBytes
	}
	return
}

// Report is the JSON form of Stats (`rctsim sim --format json`), one object per run.
type Report struct {
	Profile   string `json:"profile"`
	Model     string `json:"model"`
	Method    string `json:"method"`
	Batch     int    `json:"batch"`
	DRAMModel string `json:"dram_model"`
	// DRAMAnswered is, under fast fidelity (nil otherwise), how many of the DRAM
	// requests served were answered from samples rather than simulated burst by burst.
	DRAMAnswered   *ReportAnswered    `json:"dram_answered,omitempty"`
	Cycles         uint64             `json:"cycles"`
	Seconds        float64            `json:"seconds"`
	MACs           int64              `json:"macs"`
	Instructions   int                `json:"instructions"`
	EnergyPJ       map[string]float64 `json:"energy_pj"`
	EnergyByTensor map[string]float64 `json:"energy_by_tensor_pj"`
	EnergyByPhase  map[string]float64 `json:"energy_by_phase_pj"`
	DRAM           ReportDRAM         `json:"dram"`
	SRAM           ReportSRAM         `json:"sram"`
	MemoryBytes    map[string]int64   `json:"memory_bytes"`
	Utilization    map[string]float64 `json:"utilization"`
	ComputeCycles  uint64             `json:"compute_cycles"`
	StallCycles    uint64             `json:"stall_cycles"`
	VectorOps      int64              `json:"vector_ops"`
	DMALoadedBytes int64              `json:"dma_loaded_bytes"`
	DMAStoredBytes int64              `json:"dma_stored_bytes"`
	// TechnologyNode is the node of the chip's figures; AreaMM2 and LeakageMW its area
	// and static power by component (mac_array, sram, vector, other, dram_interface;
	// hw.Silicon) with "core" (all but the DRAM interface) and "total"; StaticEnergyPJ
	// the static power of each over the run.
	TechnologyNode string             `json:"technology_node"`
	AreaMM2        map[string]float64 `json:"area_mm2"`
	LeakageMW      map[string]float64 `json:"leakage_mw"`
	StaticEnergyPJ map[string]float64 `json:"static_energy_pj"`
	// PowerMW is the average power over the run: the chip's dynamic (MACs, SRAM,
	// vector, spads, networks) and static power, the chip's sum, the DRAM device's (accesses,
	// background and refresh), and the total.
	PowerMW map[string]float64 `json:"power_mw"`
	// Derived are figures of merit: energy-delay product (J s), energy x area
	// (J mm2), and training throughput per mm2 of silicon and per watt (examples/s).
	Derived         map[string]float64 `json:"derived"`
	EnergyBreakdown []LedgerCell       `json:"energy_ledger_pj,omitempty"`
}

// ReportAnswered is the DRAMAnswered part of a Report.
type ReportAnswered struct {
	Requests int64 `json:"requests"`
	Answered int64 `json:"answered"`
}

// ReportDRAM is the DRAM part of a Report.
type ReportDRAM struct {
	ReadBytes    int64 `json:"read_bytes"`
	WriteBytes   int64 `json:"write_bytes"`
	Activates    int64 `json:"activates"`
	RowHits      int64 `json:"row_hits"`
	RowMisses    int64 `json:"row_misses"`
	RowConflicts int64 `json:"row_conflicts"`
}

// ReportSRAM is the SRAM part of a Report.
type ReportSRAM struct {
	ReadBytes  int64          `json:"read_bytes"`
	WriteBytes int64          `json:"write_bytes"`
	PeakBytes  int64          `json:"peak_bytes"`
	Buffers    []ReportBuffer `json:"buffers"`
}

// ReportBuffer is one buffer in a Report.
type ReportBuffer struct {
	Name          string  `json:"name"`
	CapacityBytes int64   `json:"capacity_bytes"`
	PeakBytes     int64   `json:"peak_bytes"`
	AreaMM2       float64 `json:"area_mm2"`
	LeakageMW     float64 `json:"leakage_mw"`
}

// LedgerCell is one non-zero cell of the ledger.
type LedgerCell struct {
	Component string  `json:"component"`
	Class     string  `json:"class"`
	Phase     string  `json:"phase"`
	PJ        float64 `json:"pj"`
}

// memoryKeys names the footprint of each class in a Report.
var memoryKeys = map[kernels.TensorClass]string{
	kernels.ClassWeights:        "params",
	kernels.ClassMasterWeights:  "master_params",
	kernels.ClassActivations:    "activations",
	kernels.ClassErrors:         "errors",
	kernels.ClassGradients:      "gradients",
	kernels.ClassOptimizerState: "optimizer_state",
	kernels.ClassOther:          "other",
}

// Report builds the JSON form; cells adds the full ledger.
func (s *Stats) Report(cells bool) Report {
	r := Report{
		Profile: s.Profile, Model: s.Model, Method: string(s.Method), Batch: s.Batch, DRAMModel: s.DRAMModel,
		Cycles: s.Cycles, Seconds: s.Seconds(), MACs: s.MACs, Instructions: s.Instructions,
		EnergyPJ:       map[string]float64{"total": s.Energy.Total()},
		EnergyByTensor: map[string]float64{},
		EnergyByPhase:  map[string]float64{},
		MemoryBytes:    map[string]int64{},
		Utilization:    map[string]float64{"mac_array": s.MACUtilization(), "dram_bus": s.DRAMBusUtilization()},
		ComputeCycles:  s.ComputeCycles, StallCycles: s.StallCycles, VectorOps: s.VectorOps,
		DMALoadedBytes: s.DMA.LoadedBytes, DMAStoredBytes: s.DMA.StoredBytes,
		DRAM: ReportDRAM{ReadBytes: s.DRAM.ReadBytes, WriteBytes: s.DRAM.WriteBytes, Activates: s.DRAM.Activates,
			RowHits: s.DRAM.RowHits, RowMisses: s.DRAM.RowMisses, RowConflicts: s.DRAM.RowConflicts},
	}
	if s.DRAMModel == string(FidelityFast) {
		r.DRAMAnswered = &ReportAnswered{Requests: s.DRAM.Effort.Requests(), Answered: s.DRAM.Effort.Answered}
	}
	for c := Component(0); c < NumComponents; c++ {
		r.EnergyPJ[c.String()] = s.Energy.Component(c)
	}
	for cl := kernels.TensorClass(0); cl < kernels.ClassNone; cl++ {
		r.EnergyByTensor[cl.String()] = s.Energy.Class(cl)
		r.MemoryBytes[memoryKeys[cl]] = s.Footprint[cl]
	}
	for p := models.Phase(0); p < models.NumPhases; p++ {
		r.EnergyByPhase[p.String()] = s.Energy.Phase(p)
	}
	r.SRAM.ReadBytes, r.SRAM.WriteBytes, r.SRAM.PeakBytes = s.SRAMBytes()
	for _, b := range s.Buffers {
		r.SRAM.Buffers = append(r.SRAM.Buffers, ReportBuffer{Name: b.Name, CapacityBytes: b.CapacityBytes, PeakBytes: b.PeakBytes})
	}
	s.siliconReport(&r)
	if cells {
		for c := Component(0); c < NumComponents; c++ {
			for cl := kernels.TensorClass(0); cl < kernels.NumClasses; cl++ {
				for p := models.Phase(0); p < models.NumPhases; p++ {
					if v := s.Energy.Cell(c, cl, p); v != 0 {
						r.EnergyBreakdown = append(r.EnergyBreakdown, LedgerCell{c.String(), cl.String(), p.String(), v})
					}
				}
			}
		}
	}
	return r
}

// siliconParts are the components of a report's area, leakage and static energy: a
// fixed set, so that sweeps over chips with other buffers share their columns (the
// buffers' own figures are in ReportSRAM.Buffers).
var siliconParts = []string{"mac_array", "sram", "vector", "other", "dram_interface"}

// siliconPart is the report component a hw.Silicon component belongs to.
func siliconPart(name string) string {
	if strings.HasPrefix(name, "sram.") {
		return "sram"
	}
	return name
}

// siliconReport fills the area, static power and power figures of a Report.
func (s *Stats) siliconReport(r *Report) {
	si := s.Silicon
	sec := s.Seconds()
	if s.ClockHz == 0 {
		sec = 0
	}
	r.TechnologyNode = si.Node
	r.AreaMM2 = map[string]float64{"core": si.CoreAreaMM2, "total": si.TotalAreaMM2}
	r.LeakageMW = map[string]float64{"total": si.TotalLeakageMW}
	r.StaticEnergyPJ = map[string]float64{}
	for _, part := range siliconParts {
		r.AreaMM2[part], r.LeakageMW[part], r.StaticEnergyPJ[part] = 0, 0, 0
	}
	for _, name := range slices.Sorted(maps.Keys(si.AreaMM2)) {
		part := siliconPart(name)
		r.AreaMM2[part] += si.AreaMM2[name]
		r.LeakageMW[part] += si.LeakageMW[name]
		r.StaticEnergyPJ[part] += si.LeakageMW[name] * 1e9 * sec // mW x s = 1e9 pJ
	}
	for i := range r.SRAM.Buffers {
		b := &r.SRAM.Buffers[i]
		b.AreaMM2, b.LeakageMW = si.AreaMM2["sram."+b.Name], si.LeakageMW["sram."+b.Name]
	}
	perMW := func(pj float64) float64 {
		if sec == 0 {
			return 0
		}
		return pj * 1e-9 / sec
	}
	e := &s.Energy
	dynamic := e.Component(MAC) + e.Component(SRAM) + e.Component(Vector) + e.Component(Spad) + e.Component(NoC)
	dram := e.Component(DRAM) + e.Component(DRAMBackground)
	r.PowerMW = map[string]float64{
		"chip_dynamic": perMW(dynamic), "chip_static": perMW(e.Component(Static)),
		"chip": perMW(dynamic + e.Component(Static)), "dram": perMW(dram), "total": perMW(e.Total()),
	}
	joules := e.Total() * 1e-12
	r.Derived = map[string]float64{"edp_j_s": joules * sec, "energy_area_j_mm2": joules * si.TotalAreaMM2,
		"examples_per_s_per_mm2": 0, "examples_per_s_per_w": 0}
	if sec > 0 && joules > 0 && si.TotalAreaMM2 > 0 {
		r.Derived["examples_per_s_per_mm2"] = float64(s.Batch) / sec / si.TotalAreaMM2
		r.Derived["examples_per_s_per_w"] = float64(s.Batch) / joules
	}
}
