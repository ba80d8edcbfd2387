package units

import (
	"math"
	"testing"
)

func TestSIAndBinary(t *testing.T) {
	for _, c := range []struct {
		max  float64
		f    float64
		unit string
	}{
		{0.012, 1e3, "mJ"}, {1, 1, "J"}, {999, 1, "J"}, {1000, 1e-3, "kJ"}, {3e-7, 1e9, "nJ"},
		{0, 1, "J"}, {math.NaN(), 1, "J"}, {1e-20, 1e15, "fJ"},
	} {
		f, u := SI(c.max, "J")
		if u != c.unit || math.Abs(f-c.f) > 1e-9*c.f {
			t.Errorf("SI(%v) = %v %s, want %v %s", c.max, f, u, c.f, c.unit)
		}
	}
	for _, c := range []struct {
		max  float64
		unit string
	}{{0, "B"}, {1023, "B"}, {1024, "KiB"}, {5 << 20, "MiB"}, {3 << 30, "GiB"}} {
		if _, u := Binary(c.max); u != c.unit {
			t.Errorf("Binary(%v) unit %s, want %s", c.max, u, c.unit)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{FormatSI(0.00084, "s"), "840 µs"}, {FormatSI(2.5, "J"), "2.5 J"}, {FormatSI(1234, "J"), "1.23e+03 J"},
		{FormatSI(0, "J"), "0 pJ"}, {FormatSI(3e-15, "J"), "0.003 pJ"},
		{FormatBytes(42), "42 B"}, {FormatBytes(12 << 10), "12.0 KiB"}, {FormatBytes(3 << 19), "1.50 MiB"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestForColumn(t *testing.T) {
	for _, c := range []struct {
		column  string
		largest float64
		scale   float64
		suffix  string
	}{
		{"energy_pj.total", 3e9, 1e-9, " (mJ)"}, {"energy_pj.total", 0.5, 1, " (pJ)"}, {"seconds", 0.02, 1e3, " (ms)"},
		{"sram.global.capacity", 3 << 20, 1.0 / (1 << 20), " (MiB)"}, {"mac_array.rows", 64, 1, ""},
		{"area_mm2.total", 12, 1, " (mm²)"}, {"power_mw.total", 2500, 1e-3, " (W)"}, {"leakage_mw.total", 15, 1, " (mW)"},
		{"derived.edp_j_s", 2e-7, 1e9, " (nJ·s)"},
	} {
		scale, suffix := ForColumn(c.column, c.largest)
		if suffix != c.suffix || math.Abs(scale-c.scale) > 1e-12*c.scale {
			t.Errorf("ForColumn(%q, %v) = %v %q, want %v %q", c.column, c.largest, scale, suffix, c.scale, c.suffix)
		}
	}
}
