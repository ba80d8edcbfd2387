package hw

import (
	"fmt"
	"testing"
)

// FuzzUnits: a size, frequency, data rate or timing that parses prints as text that
// parses back to the same value.
func FuzzUnits(f *testing.F) {
	for _, s := range []string{"4096", "64KiB", "2MiB", "1.5KB", "0", "800MHz", "1.2GHz", "32kHz", "3200MT/s",
		"1.6GT/s", "3200", "18ns", "17.5ns", "14ck", "14tck", "14 cycles", "-1", "1e300", "0x10", "NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		roundTrip(t, "size", s, ParseByteSize)
		roundTrip(t, "frequency", s, ParseFrequency)
		roundTrip(t, "data rate", s, ParseDataRate)
		roundTrip(t, "timing", s, ParseTiming)
	})
}

// roundTrip checks that when parse reads s, the value's String parses back to it.
func roundTrip[T interface {
	comparable
	fmt.Stringer
}](t *testing.T, what, s string, parse func(string) (T, error)) {
	t.Helper()
	v, err := parse(s)
	if err != nil {
		return
	}
	if back, err := parse(v.String()); err != nil || back != v {
		t.Errorf("%s %q = %v prints %q, reads back %v, %v", what, s, v, v.String(), back, err)
	}
}
