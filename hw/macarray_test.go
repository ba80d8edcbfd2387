package hw

import (
	"errors"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
)

// TestUnsupportedModeIs checks that asking for a mode the chip lacks is
// ErrUnsupportedMode for errors.Is, and that a request that is itself wrong (a float
// format that does not exist) is not.
func TestUnsupportedModeIs(t *testing.T) {
	edgeTPU, err := LoadFS(configs.FS, "edge_tpu.toml")
	if err != nil {
		t.Fatal(err)
	}
	def := loadDefault(t)
	intMode := func(p *Profile, w, a int) func() error {
		return func() error { _, err := p.IntMode(w, a); return err }
	}
	floatMode := func(p *Profile, format string) func() error {
		return func() error { _, err := p.FloatMode(format); return err }
	}
	tests := []struct {
		name        string
		ask         func() error
		unsupported bool
		msg         string
	}{
		{"int mode wider than any", intMode(def, 32, 32), true, "has no MAC mode for 32x32 operands"},
		{"float on an integer chip", floatMode(edgeTPU, "fp32"), true, "has no MAC mode for fp32 operands"},
		{"unknown float format", floatMode(def, "fp64"), false, "unknown float format"},
		// A 0-bit operand used to run in the chip's narrowest (2x2) mode.
		{"0-bit weights", intMode(def, 0, 8), false, "integer operands of 0x8 bits"},
		{"0-bit activations", intMode(def, 8, 0), false, "integer operands of 8x0 bits"},
		{"negative widths", intMode(def, -1, -1), false, "need at least one bit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.ask()
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v, want one saying %q", err, tt.msg)
			}
			if got := errors.Is(err, ErrUnsupportedMode); got != tt.unsupported {
				t.Errorf("errors.Is(%v, ErrUnsupportedMode) = %v, want %v", err, got, tt.unsupported)
			}
		})
	}
}

// TestFP8Mode: fp8 runs only on an fp8 mode (never widened to fp16), narrower
// requests never land on it, and QAT and FP32 never train in it.
func TestFP8Mode(t *testing.T) {
	def := loadDefault(t)
	m, err := def.FloatMode("fp8")
	if err != nil || m.Float != "fp8" || m.MACsPerPEPerCycle != 1 {
		t.Fatalf("default's fp8 mode: %v, %v", m, err)
	}
	if m, _ := def.FloatMode("fp16"); m.Float != "fp16" {
		t.Errorf("fp16 runs in %s", m.Float)
	}
	lnpu, err := LoadFS(configs.FS, "lnpu.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lnpu.FloatMode("fp8"); !errors.Is(err, ErrUnsupportedMode) || !strings.Contains(err.Error(), "fp8") {
		t.Errorf("fp8 on an fp16 chip: %v", err)
	}
	if e := def.Vector.OpEnergy(8, "fp8"); e != def.Vector.OpEnergyPJ.FP16 {
		t.Errorf("fp8 element-wise op costs %v, want fp16's", e)
	}
	// A chip with fp8 alone trains QAT and FP32 in nothing; naming fp8 is an error.
	base := strings.Replace(string(mustRead(t, "default.toml")), `train_float      = "fp32"`, `train_float      = "fp8"`, 1)
	if _, err := Decode(strings.NewReader(base), "fp8.toml"); err == nil || !strings.Contains(err.Error(), "train_float") {
		t.Errorf("train_float fp8: %v", err)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := configs.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
