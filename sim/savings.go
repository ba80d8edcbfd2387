package sim

import (
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
)

// Saving compares one figure of an RCT run with the same figure of a QAT run.
type Saving struct {
	RCT float64 `json:"rct"`
	QAT float64 `json:"qat"`
	// Fraction is 1 - RCT/QAT: 0.86 means RCT needs 86% less.
	Fraction float64 `json:"saving"`
	// Cells names exactly what was summed, in the ledger's terms.
	Cells string `json:"cells"`
}

func saving(rct, qat float64, cells string) Saving {
	s := Saving{RCT: rct, QAT: qat, Cells: cells}
	if qat != 0 {
		s.Fraction = 1 - rct/qat
	}
	return s
}

// RCTPaperSavings are the three headline figures of the RCT paper (Huang et al., "RCT:
// Resource Constrained Training for Edge AI", 2021), computed from two simulated
// training runs: RCT's saving over QAT in GEMM energy, in parameter memory and in the
// energy of moving parameters. The paper claims more than 86%, more than 46% and about
// half.
type RCTPaperSavings struct {
	GEMMEnergy        Saving `json:"gemm_energy"`
	ParameterMemory   Saving `json:"parameter_memory"`
	ParameterMovement Saving `json:"parameter_movement_energy"`
}

// gemmPhases are the phases whose MACs are GEMMs.
var gemmPhases = []models.Phase{models.Forward, models.BackwardData, models.BackwardWeight}

// GEMMEnergyPJ sums the MAC array's energy over the three GEMM phases, every class.
func (l *Ledger) GEMMEnergyPJ() float64 {
	var s float64
	for _, p := range gemmPhases {
		for cl := kernels.TensorClass(0); cl < kernels.NumClasses; cl++ {
			s += l.Cell(MAC, cl, p)
		}
	}
	return s
}

// ParameterMovementPJ sums the energy of moving weights and master weights through
// DRAM, SRAM (and a row stationary array's networks and spads), every phase.
func (l *Ledger) ParameterMovementPJ() float64 {
	return l.Class(kernels.ClassWeights) + l.Class(kernels.ClassMasterWeights)
}

// ParameterBytes is the DRAM the model's parameters take, weights plus master
// weights: at the last step and at the peak over the run.
func (r *RunResult) ParameterBytes() (final, peak int64) {
	params := func(f [kernels.NumClasses]int64) int64 {
		return f[kernels.ClassWeights] + f[kernels.ClassMasterWeights]
	}
	return params(r.FinalFootprint), params(r.PeakFootprint)
}

// ParameterStateBytes is the DRAM the parameters take with the state kept for them
// between steps: weights, master weights, optimizer and accumulator state (momentum,
// NITI's update buffers), at the last step and at the peak over the run.
func (r *RunResult) ParameterStateBytes() (final, peak int64) {
	state := func(f [kernels.NumClasses]int64) int64 {
		return f[kernels.ClassWeights] + f[kernels.ClassMasterWeights] + f[kernels.ClassOptimizerState]
	}
	return state(r.FinalFootprint), state(r.PeakFootprint)
}

// CompareRCTPaper computes the RCT paper's figures for an RCT run against a QAT run.
// Parameter memory is the peak over the run of the weights and the master weights held
// in DRAM.
func CompareRCTPaper(rct, qat *RunResult) RCTPaperSavings {
	mem := func(r *RunResult) float64 {
		_, peak := r.ParameterBytes()
		return float64(peak)
	}
	return RCTPaperSavings{
		GEMMEnergy: saving(rct.Energy.GEMMEnergyPJ(), qat.Energy.GEMMEnergyPJ(),
			"ledger cells (mac, any class, forward|backward_data|backward_weight), summed over the run"),
		ParameterMemory: saving(mem(rct), mem(qat),
			"peak DRAM footprint of classes weights + master_weights over the run, bytes"),
		ParameterMovement: saving(rct.Energy.ParameterMovementPJ(), qat.Energy.ParameterMovementPJ(),
			"ledger cells (sram|dram, weights|master_weights, any phase), summed over the run"),
	}
}
