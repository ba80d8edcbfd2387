package sim

import (
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// rsSets turn the default chip into a row stationary array with Eyeriss's spads
// (224 weights, 12 inputs, 24 psums of 32 bits) and networks.
var rsSets = []string{"mac_array.dataflow=rs",
	"mac_array.spad.weight_bytes=448", "mac_array.spad.input_bytes=24", "mac_array.spad.psum_bytes=96",
	"mac_array.spad.read_energy_pj=0.25", "mac_array.spad.write_energy_pj=0.3",
	"mac_array.noc.weight_bits=64", "mac_array.noc.input_bits=16", "mac_array.noc.psum_bits=64",
	"mac_array.noc.energy_pj_per_bit=0.02"}

func rsProfile(t testing.TB, sets ...string) *hw.Profile {
	return loadProfile(t, configs.Default, append(append([]string(nil), rsSets...), sets...)...)
}

// TestRowStationaryInvariants: the conservation laws hold on a row stationary array
// for every method, in every pass of training.
func TestRowStationaryInvariants(t *testing.T) {
	p := rsProfile(t)
	for _, model := range []string{"mlp", "lenet5"} {
		net, _ := models.ByName(model)
		for _, method := range numerics.Methods {
			s, ok := simulate(t, p, net, kernels.Options{Method: method, Batch: 8}, Options{})
			if !ok {
				t.Fatalf("%s: %s does not run", model, method)
			}
			checkInvariants(t, "rs/"+model+"/"+string(method), p, s)
			if s.Energy.Component(Spad) <= 0 || s.Energy.Component(NoC) <= 0 {
				t.Errorf("%s %s: spad %g pJ, NoC %g pJ", model, method, s.Energy.Component(Spad), s.Energy.Component(NoC))
			}
		}
	}
}

// TestRowStationaryClosedForm simulates one 2x2 filter over a 4x4 ifmap on a 2x3 row
// stationary array, worked out by hand: one pass of 4 cycles loading the filter rows,
// 16 streaming the 16 ifmap values one a cycle (the PEs need only 6), 1 hop up the
// column and 3 pipeline stages: 24 cycles (hw's TestRowStationaryHandComputed derives
// the same mapping). Its 36 MACs each read a weight, an input and a psum and write the
// psum; 12 weights and 24 inputs are written into the spads; the networks carry 4
// weights and 16 inputs of 8 bits, and 9 psums of 32 bits out plus 9 hops.
func TestRowStationaryClosedForm(t *testing.T) {
	// The Edge TPU profile's only mode is 8x8 (spads of 8-bit entries), its
	// accumulators 32-bit.
	p := loadProfile(t, "edge_tpu.toml", append(append([]string(nil), rsSets...), "mac_array.rows=2", "mac_array.cols=3", "mac_array.spad.weight_bytes=2",
		"mac_array.spad.input_bytes=2", "mac_array.spad.psum_bytes=4",
		"mac_array.noc.weight_bits=8", "mac_array.noc.input_bits=8", "mac_array.noc.psum_bits=32")...)
	net := &models.Network{Name: "tiny", Input: models.Shape{C: 1, H: 4, W: 4}, Classes: 1, Layers: []models.Layer{
		{Name: "conv", Kind: models.Conv2D, In: models.Shape{C: 1, H: 4, W: 4}, Out: models.Shape{C: 1, H: 3, W: 3}, KernelH: 2, KernelW: 2, Stride: 1}}}
	s, _ := simulate(t, p, net, kernels.Options{Method: numerics.RCT, Batch: 1, ForwardOnly: true, PipelineDepth: 1}, Options{IdealDRAM: true})
	if s.ComputeCycles != 24 || s.MACs != 36 || s.MappedPECycles != 36 {
		t.Errorf("%d compute cycles, %d MACs (%d mapped PE-cycles); want 24, 36, 36", s.ComputeCycles, s.MACs, s.MappedPECycles)
	}
	sp := p.MACArray.Spad
	if got, want := s.Energy.Component(Spad), 3*36*sp.ReadEnergyPJ+(12+24+36)*sp.WriteEnergyPJ; !relClose(got, want) {
		t.Errorf("spad energy %g pJ, want %g", got, want)
	}
	if got, want := s.Energy.Component(NoC), float64(4*8+16*8+18*32)*p.MACArray.NoC.EnergyPJPerBit; !relClose(got, want) {
		t.Errorf("NoC energy %g pJ, want %g", got, want)
	}
	// The spads and networks carry the GEMM's operands: weights, activations and the
	// accumulators (activations too, as they become the layer's output).
	if w := s.Energy.ComponentClass(Spad, kernels.ClassWeights); !relClose(w, 36*sp.ReadEnergyPJ+12*sp.WriteEnergyPJ) {
		t.Errorf("weights' spad energy %g pJ", w)
	}
	if u := s.MACUtilization(); u <= 0 || u > 1 {
		t.Errorf("utilisation %g", u)
	}
}
