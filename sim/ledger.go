package sim

import (
	"fmt"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
)

// Component is a part of the machine that spends energy.
type Component uint8

// Components. DRAM is the energy of DRAM commands (activates, reads, writes), which
// move tensors; DRAMBackground is its background and refresh power over time; Static is
// the leakage of the on-chip components (SRAM, MAC array, vector unit). Spad and NoC are
// the levels a row stationary array adds between its global buffer and its MACs: the
// PEs' scratchpads and the networks that multicast data to the PEs and pass partial
// sums between them (zero on the systolic dataflows, whose operand forwarding is part
// of the MAC energy).
const (
	MAC Component = iota
	SRAM
	DRAM
	Vector
	Static
	DRAMBackground
	Spad
	NoC
	NumComponents
)

var componentNames = [...]string{"mac", "sram", "dram", "vector", "static", "dram_background", "spad", "noc"}

func (c Component) String() string {
	if c < NumComponents {
		return componentNames[c]
	}
	return fmt.Sprintf("Component(%d)", int(c))
}

// Ledger holds energy in pJ by (component, tensor class, phase). Every event charges
// exactly one cell, so any marginal (per component, class or phase) sums to the total.
type Ledger struct {
	cells [NumComponents][kernels.NumClasses][models.NumPhases]float64
}

// Add charges pj to one cell.
func (l *Ledger) Add(c Component, class kernels.TensorClass, p models.Phase, pj float64) {
	l.cells[c][class][p] += pj
}

// Cell returns one cell.
func (l *Ledger) Cell(c Component, class kernels.TensorClass, p models.Phase) float64 {
	return l.cells[c][class][p]
}

// Total is the sum of every cell.
func (l *Ledger) Total() float64 {
	var s float64
	for c := range l.cells {
		s += l.Component(Component(c))
	}
	return s
}

// movementComponents are the components whose energy moves tensors.
var movementComponents = []Component{SRAM, DRAM, Spad, NoC}

// Component is the energy of one component.
func (l *Ledger) Component(c Component) float64 {
	var s float64
	for cl := range l.cells[c] {
		for p := range l.cells[c][cl] {
			s += l.cells[c][cl][p]
		}
	}
	return s
}

// Class is the energy of moving one tensor class through the memory levels (DRAM, SRAM,
// and a row stationary array's networks and spads): arithmetic and leakage move no
// tensor.
func (l *Ledger) Class(class kernels.TensorClass) float64 {
	var s float64
	for _, c := range movementComponents {
		for p := range l.cells[c][class] {
			s += l.cells[c][class][p]
		}
	}
	return s
}

// ComponentClass is one component's energy for one tensor class, every phase.
func (l *Ledger) ComponentClass(c Component, class kernels.TensorClass) float64 {
	var s float64
	for p := range l.cells[c][class] {
		s += l.cells[c][class][p]
	}
	return s
}

// Phase is the energy of one phase.
func (l *Ledger) Phase(p models.Phase) float64 {
	var s float64
	for c := range l.cells {
		for cl := range l.cells[c] {
			s += l.cells[c][cl][p]
		}
	}
	return s
}

// Merge adds every cell of o, scaled by k, to l (k repeated steps).
func (l *Ledger) Merge(o *Ledger, k float64) {
	for c := range l.cells {
		for cl := range l.cells[c] {
			for p := range l.cells[c][cl] {
				l.cells[c][cl][p] += k * o.cells[c][cl][p]
			}
		}
	}
}
