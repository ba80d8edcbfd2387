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
