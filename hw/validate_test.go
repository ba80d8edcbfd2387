package hw

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/traces/fileio"
)

func TestCheckPacking(t *testing.T) {
	tests := []struct {
		v  float64
		ok bool
	}{
		{1, true}, {2, true}, {16, true}, {1024, true}, {0.5, true}, {0.25, true},
		{1.0 / 3, true}, {0.333, true}, {0.3333, true}, {0.125, true},
		{2.5, false}, {0.4, false}, {0, false}, {-1, false}, {2048, false},
		{math.NaN(), false}, {math.Inf(1), false}, {1.5, false}, {0.3, false},
	}
	for _, tt := range tests {
		if got := checkPacking(tt.v) == ""; got != tt.ok {
			t.Errorf("checkPacking(%v) ok = %v, want %v", tt.v, got, tt.ok)
		}
	}
}

func TestValidMapping(t *testing.T) {
	for m, ok := range map[string]bool{
		"rochrababgco": true, "chrobabgraco": true, "corabgbachro": true,
		"rochrababg": false, "rochrababgcoco": false, "rorochbabgco": false,
		"ROCHRABABGCO": false, "rochrababgxx": false, "": false, "rochrababgc": false,
	} {
		if validMapping(m) != ok {
			t.Errorf("validMapping(%q) = %v, want %v", m, !ok, ok)
		}
	}
}

func TestValidateHandBuilt(t *testing.T) {
	p := loadDefault(t)
	p.Source = ""
	p.MACArray.Rows = 0
	p.DRAM.BurstLength = 3
	err := p.Validate()
	var keys []string
	forEachError(err, func(pe *fileio.Error) {
		keys = append(keys, pe.Key)
		if pe.Line != 0 || pe.File != "" {
			t.Errorf("hand-built profile error has a position: %v", pe)
		}
	})
	if strings.Join(keys, " ") != "mac_array.rows dram.burst_length" {
		t.Errorf("keys %v; err:\n%v", keys, err)
	}
	var pe *fileio.Error
	if !errors.As(err, &pe) || pe.Key != "mac_array.rows" {
		t.Errorf("errors.As finds %v, want the first error", pe)
	}
}

func TestValidateEmptyProfile(t *testing.T) {
	for _, p := range []*Profile{{}, Defaults()} {
		err := p.Validate()
		if err == nil {
			t.Fatal("an empty profile validated")
		}
		for _, want := range []string{"name:", "clock:", "mac_array.rows:", "mac_array.modes:", "sram:", "dram.kind:", "dram.tRCD:", "vector.lanes:"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("missing %q in:\n%v", want, err)
			}
		}
	}
}

func TestValidateAccumulator(t *testing.T) {
	tests := []struct {
		acc int
		ok  bool
	}{
		// The default's widest integer mode is 16x16: 16 is a standard width as wide as its
		// operands; a non-standard width must hold the full 32-bit product.
		{16, true}, {32, true}, {48, true}, {64, true}, {40, true}, {24, true}, {31, false}, {0, false}, {200, false},
	}
	for _, tt := range tests {
		p := loadDefault(t)
		p.MACArray.AccumulatorBits = tt.acc
		err := p.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("accumulator_bits %d: err %v, want ok=%v", tt.acc, err, tt.ok)
		}
	}
}

func TestValidateTrainFloat(t *testing.T) {
	p := loadDefault(t)
	p.MACArray.TrainFloat = "fp16"
	if err := p.Validate(); err != nil {
		t.Errorf("fp16 is on the chip: %v", err)
	}
	p.MACArray.TrainFloat = "bf16"
	if err := p.Validate(); err == nil {
		t.Error("bf16 is not on the chip")
	}
	p.MACArray.TrainFloat = ""
	if err := p.Validate(); err == nil {
		t.Error("a float chip needs train_float")
	}
	if got := defaultTrainFloat([]MACMode{{Float: "bf16"}, {Float: "fp16"}, {WeightBits: 8}}); got != "bf16" {
		t.Errorf("defaultTrainFloat = %q, want the first widest (bf16)", got)
	}
	if got := defaultTrainFloat([]MACMode{{Float: "fp16"}, {Float: "fp32"}}); got != "fp32" {
		t.Errorf("defaultTrainFloat = %q, want fp32", got)
	}
	if got := defaultTrainFloat([]MACMode{{WeightBits: 8}}); got != "" {
		t.Errorf("defaultTrainFloat = %q, want none", got)
	}
}

func TestValidateFloatVectorEnergy(t *testing.T) {
	p := loadDefault(t)
	p.Vector.OpEnergyPJ.FP32 = 0
	var pe *fileio.Error
	if err := p.Validate(); !errors.As(err, &pe) || pe.Key != "vector.op_energy_pj.fp32" {
		t.Errorf("want vector.op_energy_pj.fp32 error, got %v", err)
	}
	// An integer-only chip needs no float energies.
	p = loadDefault(t)
	var ints []MACMode
	for _, m := range p.MACArray.Modes {
		if !m.IsFloat() {
			ints = append(ints, m)
		}
	}
	p.MACArray.Modes, p.MACArray.TrainFloat = ints, ""
	p.Vector.OpEnergyPJ.FP16, p.Vector.OpEnergyPJ.FP32 = 0, 0
	if err := p.Validate(); err != nil {
		t.Errorf("integer-only chip: %v", err)
	}
}
