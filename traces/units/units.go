// Package units prints quantities for people: energies, times and sizes with the
// prefix that makes them readable, in tables, reports and figure axes. (Profiles
// spell their own units, "256KiB" or "800MHz"; package hw reads and writes those.)
package units

import (
	"fmt"
	"math"
	"strings"
)

// siPrefixes are the decimal prefixes, largest first.
var siPrefixes = []struct {
	exp    int
	prefix string
}{{12, "T"}, {9, "G"}, {6, "M"}, {3, "k"}, {0, ""}, {-3, "m"}, {-6, "µ"}, {-9, "n"}, {-12, "p"}, {-15, "f"}}

// SI picks the decimal prefix that brings largest into [1, 1000) and returns the
// factor to multiply values by and the prefixed unit: (1e3, "mJ") for largest =
// 0.012 J. A zero or non-finite largest keeps the bare unit.
func SI(largest float64, unit string) (scale float64, prefixed string) {
	if !(largest > 0) || math.IsInf(largest, 0) {
		return 1, unit
	}
	for _, p := range siPrefixes {
		if largest >= math.Pow(10, float64(p.exp))*(1-1e-12) {
			return math.Pow(10, float64(-p.exp)), p.prefix + unit
		}
	}
	last := siPrefixes[len(siPrefixes)-1]
	return math.Pow(10, float64(-last.exp)), last.prefix + unit
}

// binaryPrefixes are the IEC units of bytes.
var binaryPrefixes = []string{"B", "KiB", "MiB", "GiB", "TiB"}

// Binary picks the binary (IEC) unit that brings largest bytes into [1, 1024): the
// SRAM and DRAM sizes of rctsim's profiles are powers of two ("256KiB"), so
// footprints read best in the same units.
func Binary(largest float64) (scale float64, unit string) {
	f := 1.0
	for i, u := range binaryPrefixes {
		if largest < f*1024 || i == len(binaryPrefixes)-1 {
			return 1 / f, u
		}
		f *= 1024
	}
	panic("unreachable")
}

// FormatSI prints v (at most a few units) with three significant digits and a
// prefix from none down to pico: 0.00084 s prints as "840 µs".
func FormatSI(v float64, unit string) string {
	for _, p := range siPrefixes {
		if p.exp > 0 {
			continue
		}
		scale := math.Pow(10, float64(p.exp))
		if v >= scale || p.exp == -12 {
			return fmt.Sprintf("%.3g %s%s", v/scale, p.prefix, unit)
		}
	}
	panic("unreachable")
}

// FormatBytes prints a byte count with a binary prefix: "1.50 MiB", "12.0 KiB", "42 B".
func FormatBytes(b int64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// ForColumn picks a readable unit for a result column from the unit its name carries
// (energies in pJ: "_pj"; powers in mW: "_mw"; areas: "area_mm2"; times: "seconds";
// sizes: "bytes", "capacity", "row_size"; the derived figures of merit) and the
// column's largest value. It returns the factor to multiply values by and an
// axis-label suffix such as " (mJ)"; a column without a known unit gets (1, "").
func ForColumn(column string, largest float64) (scale float64, suffix string) {
	type unit struct {
		size float64
		name string
	}
	pick := func(us []unit) (float64, string) {
		for _, u := range us {
			if largest >= u.size {
				return 1 / u.size, " (" + u.name + ")"
			}
		}
		last := us[len(us)-1]
		return 1 / last.size, " (" + last.name + ")"
	}
	si := func(unit string) (float64, string) {
		scale, prefixed := SI(largest, unit)
		return scale, " (" + prefixed + ")"
	}
	switch {
	case strings.HasPrefix(column, "area_mm2"):
		return 1, " (mm²)"
	case strings.HasSuffix(column, "edp_j_s"):
		return si("J·s")
	case strings.HasSuffix(column, "energy_area_j_mm2"):
		return si("J·mm²")
	case strings.HasSuffix(column, "examples_per_s_per_mm2"):
		return 1, " (examples/s/mm²)"
	case strings.HasSuffix(column, "examples_per_s_per_w"):
		return 1, " (examples/J)"
	case strings.Contains(column, "_mw"):
		return pick([]unit{{1e3, "W"}, {1, "mW"}, {1e-3, "µW"}})
	case strings.Contains(column, "_pj"):
		return pick([]unit{{1e12, "J"}, {1e9, "mJ"}, {1e6, "µJ"}, {1e3, "nJ"}, {1, "pJ"}})
	case column == "seconds":
		return pick([]unit{{1, "s"}, {1e-3, "ms"}, {1e-6, "µs"}})
	case strings.Contains(column, "bytes") || strings.HasSuffix(column, "capacity") || strings.HasSuffix(column, "row_size"):
		return pick([]unit{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}, {1, "B"}})
	}
	return 1, ""
}
