package sim

import (
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
)

// Saving compares one figure of a method with the same figure of a baseline.
type Saving struct {
	Method, Baseline float64
	// Fraction is 1 - Method/Baseline: 0.86 means the method needs 86% less.
	Fraction float64
	// Cells names exactly what was summed, in the ledger's terms.
	Cells string
}

func saving(method, baseline float64, cells string) Saving {
	s := Saving{Method: method, Baseline: baseline, Cells: cells}
	if baseline != 0 {
		s.Fraction = 1 - method/baseline
	}
	return s
}

// PaperSavings are the three headline figures of the RCT paper (Huang et al., 2021),
// computed from two simulated training runs: RCT's saving over QAT in GEMM energy, in
// parameter memory and in the energy of moving parameters.
type PaperSavings struct {
	GEMMEnergy          Saving
	ParameterMemory     Saving
	ParameterMovementPJ Saving
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

// ParameterMovementPJ sums the SRAM and DRAM energy of moving weights and master
// weights, every phase.
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

// ComparePaper computes the paper's figures for a method's run against a baseline's
// (RCT against QAT). Parameter memory is the peak over the run of the weights and the
// master weights held in DRAM.
func ComparePaper(method, baseline *RunResult) PaperSavings {
	mem := func(r *RunResult) float64 {
		_, peak := r.ParameterBytes()
		return float64(peak)
	}
	return PaperSavings{
		GEMMEnergy: saving(method.Energy.GEMMEnergyPJ(), baseline.Energy.GEMMEnergyPJ(),
			"ledger cells (mac, any class, forward|backward_data|backward_weight), summed over the run"),
		ParameterMemory: saving(mem(method), mem(baseline),
			"peak DRAM footprint of classes weights + master_weights over the run, bytes"),
		ParameterMovementPJ: saving(method.Energy.ParameterMovementPJ(), baseline.Energy.ParameterMovementPJ(),
			"ledger cells (sram|dram, weights|master_weights, any phase), summed over the run"),
	}
}
