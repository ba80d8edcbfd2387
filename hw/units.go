package hw

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a size in bytes. In TOML and on the command line it reads a plain integer
// (bytes) or a number with a unit: B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB
// (powers of 1000).
type ByteSize int64

// Frequency is a clock frequency in hertz; it reads "800MHz", "1.2GHz", "32kHz" or a
// plain integer in Hz.
type Frequency int64

// DataRate is a DRAM data rate in transfers per second; it reads "3200MT/s", "1.6GT/s"
// or a plain integer in MT/s.
type DataRate int64

// Timing is a DRAM timing parameter given either in nanoseconds ("18ns", "17.5ns") or in
// DRAM clock cycles ("14ck", "14cycles", or a plain integer).
type Timing struct {
	NS     float64 // set when the value was given in ns
	Cycles int64   // set when the value was given in cycles
	InNS   bool
}

var byteUnits = []struct {
	suffix string
	scale  int64
}{
	// Longest suffixes first so "KiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"b", 1},
}

// ParseByteSize reads a ByteSize from text such as "256KiB".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("empty size")
	}
	scale := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			scale = u.scale
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("invalid size %q (want e.g. 4096, \"64KiB\", \"2MiB\")", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("negative size %q", s)
	}
	b := v * float64(scale)
	if b != math.Trunc(b) {
		return 0, fmt.Errorf("size %q is not a whole number of bytes", s)
	}
	if b > float64(1<<50) {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(b), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// String prints the size with the largest binary unit that divides it.
func (b ByteSize) String() string {
	switch {
	case b != 0 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", b>>30)
	case b != 0 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", b>>20)
	case b != 0 && b%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", b>>10)
	}
	return fmt.Sprintf("%dB", int64(b))
}

// unit is a suffix and the scale it applies; lists of units are ordered longest
// suffix first so that "mhz" is tried before "hz".
type unit struct {
	suffix string
	scale  float64
}

// parseScaled reads a positive number followed by one of units (matched without case),
// or a plain number scaled by plain.
func parseScaled(s string, units []unit, plain float64, what, example string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	scale := plain
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, scale = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.scale
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("invalid %s %q (want e.g. %s)", what, s, example)
	}
	if v <= 0 {
		return 0, fmt.Errorf("%s %q must be positive", what, s)
	}
	r := math.Round(v * scale)
	if r > 1e15 {
		return 0, fmt.Errorf("%s %q is too large", what, s)
	}
	if r < 1 {
		// "0.4Hz" would otherwise pass as a positive value and become 0.
		return 0, fmt.Errorf("%s %q is too small: it rounds to 0", what, s)
	}
	return int64(r), nil
}

var freqUnits = []unit{{"ghz", 1e9}, {"mhz", 1e6}, {"khz", 1e3}, {"hz", 1}}

// ParseFrequency reads a Frequency from text such as "800MHz".
func ParseFrequency(s string) (Frequency, error) {
	v, err := parseScaled(s, freqUnits, 1, "frequency", `"800MHz"`)
	return Frequency(v), err
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *Frequency) UnmarshalText(text []byte) error {
	v, err := ParseFrequency(string(text))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (f Frequency) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// Hz returns the frequency in hertz.
func (f Frequency) Hz() int64 { return int64(f) }

// String prints the frequency in MHz or GHz when exact.
func (f Frequency) String() string {
	switch {
	case f != 0 && f%1e9 == 0:
		return fmt.Sprintf("%dGHz", f/1e9)
	case f != 0 && f%1e6 == 0:
		return fmt.Sprintf("%dMHz", f/1e6)
	case f != 0 && f%1e3 == 0:
		return fmt.Sprintf("%dkHz", f/1e3)
	}
	return fmt.Sprintf("%dHz", int64(f))
}

var rateUnits = []unit{{"mt/s", 1e6}, {"gt/s", 1e9}, {"mtps", 1e6}, {"mbps", 1e6}, {"t/s", 1}}

// ParseDataRate reads a DataRate from text such as "3200MT/s"; a plain number is MT/s.
func ParseDataRate(s string) (DataRate, error) {
	v, err := parseScaled(s, rateUnits, 1e6, "data rate", `"3200MT/s"`)
	return DataRate(v), err
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *DataRate) UnmarshalText(text []byte) error {
	v, err := ParseDataRate(string(text))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (r DataRate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// TransfersPerSecond returns the data rate.
func (r DataRate) TransfersPerSecond() int64 { return int64(r) }

// String prints the rate in MT/s.
func (r DataRate) String() string {
	if r%1e6 == 0 {
		return fmt.Sprintf("%dMT/s", r/1e6)
	}
	return fmt.Sprintf("%dT/s", int64(r))
}

// ParseTiming reads a Timing such as "18ns", "14ck" or "14".
func ParseTiming(s string) (Timing, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if strings.HasSuffix(t, "ns") {
		v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "ns")), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e9 {
			return Timing{}, fmt.Errorf("invalid timing %q (want e.g. \"18ns\" or \"14ck\")", s)
		}
		return Timing{NS: v, InNS: true}, nil
	}
	// "tck" and "nck" (JEDEC's nCK) before "ck", or "14tck" would leave "14t".
	for _, suffix := range []string{"cycles", "cycle", "tck", "nck", "ck"} {
		if strings.HasSuffix(t, suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, suffix))
			break
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 || v > 1<<32 {
		return Timing{}, fmt.Errorf("invalid timing %q (want e.g. \"18ns\" or \"14ck\")", s)
	}
	return Timing{Cycles: v}, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Timing) UnmarshalText(text []byte) error {
	v, err := ParseTiming(string(text))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (t Timing) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// String prints the timing as it was given.
func (t Timing) String() string {
	if t.InNS {
		return strconv.FormatFloat(t.NS, 'f', -1, 64) + "ns"
	}
	return fmt.Sprintf("%dck", t.Cycles)
}

// ClockCycles converts the timing to cycles of a clock, rounding up as a memory
// controller must (a constraint of 17.5 ns at 1.6 GHz is 28 cycles, not 27.99).
func (t Timing) ClockCycles(clock Frequency) int64 {
	if !t.InNS {
		return t.Cycles
	}
	// Round away float noise first: 17.5 ns * 1.6 GHz must be 28, not 28.000000000004 -> 29.
	c := t.NS * float64(clock) / 1e9
	r := math.Round(c)
	if math.Abs(c-r) < 1e-6 {
		return int64(r)
	}
	return int64(math.Ceil(c))
}
