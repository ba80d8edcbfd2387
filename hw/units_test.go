package hw

import "testing"

// FuzzUnits: a size, frequency, data rate or timing that parses prints as text that
// parses back to the same value.
func FuzzUnits(f *testing.F) {
	for _, s := range []string{"4096", "64KiB", "2MiB", "1.5KB", "0", "800MHz", "1.2GHz", "32kHz", "3200MT/s",
		"1.6GT/s", "3200", "18ns", "17.5ns", "14ck", "14tck", "14 cycles", "-1", "1e300", "0x10", "NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseByteSize(s); err == nil {
			if back, err := ParseByteSize(v.String()); err != nil || back != v {
				t.Errorf("size %q = %d prints %q, reads back %d, %v", s, v, v.String(), back, err)
			}
		}
		if v, err := ParseFrequency(s); err == nil {
			if back, err := ParseFrequency(v.String()); err != nil || back != v {
				t.Errorf("frequency %q = %d prints %q, reads back %d, %v", s, v, v.String(), back, err)
			}
		}
		if v, err := ParseDataRate(s); err == nil {
			if back, err := ParseDataRate(v.String()); err != nil || back != v {
				t.Errorf("data rate %q = %d prints %q, reads back %d, %v", s, v, v.String(), back, err)
			}
		}
		if v, err := ParseTiming(s); err == nil {
			if back, err := ParseTiming(v.String()); err != nil || back != v {
				t.Errorf("timing %q = %+v prints %q, reads back %+v, %v", s, v, v.String(), back, err)
			}
		}
	})
}
