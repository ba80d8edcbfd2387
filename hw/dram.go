package hw

import (
	"io"
	"io/fs"
	"math"
	"reflect"
	"strings"

	"github.com/rctsim/rctsim/traces/fileio"
)

// fillDerived sets the DRAM defaults that depend on other keys (listed in the doc of
// Defaults), for each key given reports as absent. Paths are those of a chip profile
// ("dram.tWR"), which a DRAM-only file shares.
func (d *DRAMSpec) fillDerived(given func(path string) bool) {
	lp := strings.HasPrefix(strings.ToLower(d.Kind), "lpddr")
	if !given("dram.tWR") {
		d.TWR = Timing{NS: 15, InNS: true}
		if lp {
			d.TWR.NS = 18
		}
	}
	if !given("dram.tCWL") && (d.TCL.Cycles > 0 || d.TCL.NS > 0) {
		num, den := int64(3), int64(4)
		if lp {
			num, den = 1, 2
		}
		if d.TCL.InNS {
			d.TCWL = Timing{NS: d.TCL.NS * float64(num) / float64(den), InNS: true}
		} else {
			d.TCWL = Timing{Cycles: (d.TCL.Cycles*num + den - 1) / den}
		}
	}
	if !given("dram.device_width_bits") {
		d.DeviceWidthBits = d.BusWidthBits
	}
	if !given("dram.write_high_watermark") {
		d.WriteHighWatermark = max(1, d.WriteBufferDepth*3/4)
	}
	if !given("dram.write_low_watermark") {
		d.WriteLowWatermark = d.WriteBufferDepth / 4
	}

	// atLeast is max(ns, ck DRAM clocks) in clocks, or the time alone when the clock is
	// unknown (validation reports the data rate).
	atLeast := func(ns float64, ck int64) Timing {
		t := Timing{NS: ns, InNS: true}
		if d.DataRate <= 0 {
			return t
		}
		return Timing{Cycles: max(t.ClockCycles(d.Clock()), ck)}
	}
	burst := int64(d.BurstLength / 2)
	groups := d.BankGroups > 1
	set := func(key string, field *Timing, v Timing) {
		if !given("dram." + key) {
			*field = v
		}
	}
	if lp {
		set("tCCD_S", &d.TCCDS, Timing{Cycles: burst})
		set("tRRD_S", &d.TRRDS, atLeast(10, 4))
		set("tFAW", &d.TFAW, Timing{NS: 40, InNS: true})
		set("tWTR_S", &d.TWTRS, atLeast(10, 8))
		set("tRTP", &d.TRTP, atLeast(7.5, 8))
		set("tRFC", &d.TRFC, Timing{NS: 280, InNS: true})
		set("tREFI", &d.TREFI, Timing{NS: 3904, InNS: true})
		groups = false
	} else {
		set("tCCD_S", &d.TCCDS, Timing{Cycles: max(4, burst)})
		set("tRRD_S", &d.TRRDS, atLeast(5.3, 4))
		set("tFAW", &d.TFAW, Timing{NS: 30, InNS: true})
		set("tWTR_S", &d.TWTRS, atLeast(2.5, 2))
		set("tRTP", &d.TRTP, atLeast(7.5, 4))
		set("tRFC", &d.TRFC, Timing{NS: 350, InNS: true})
		set("tREFI", &d.TREFI, Timing{NS: 7800, InNS: true})
	}
	if groups {
		set("tCCD_L", &d.TCCDL, atLeast(5, 5))
		set("tRRD_L", &d.TRRDL, atLeast(6.4, 4))
		set("tWTR_L", &d.TWTRL, atLeast(7.5, 4))
	} else {
		set("tCCD_L", &d.TCCDL, d.TCCDS)
		set("tRRD_L", &d.TRRDL, d.TRRDS)
		set("tWTR_L", &d.TWTRL, d.TWTRS)
	}
}

// LoadDRAM reads and validates the DRAM-only profile at path in fsys (e.g. configs.FS
// with "dram/ddr4_3200.toml"). Errors are *fileio.Error with file, line and key, as for
// chip profiles.
func LoadDRAM(fsys fs.FS, path string) (*DRAMProfile, error) {
	data, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, &fileio.Error{File: path, Err: err}
	}
	return decodeDRAMBytes(data, path)
}

// DecodeDRAM reads a DRAM-only profile from r as strictly as Decode reads a chip
// profile (unknown and mis-cased keys, wrong types and bad units are errors), fills
// the same defaults as a chip profile's [dram] and validates it; source names r in
// errors and becomes the profile's Source.
//
// The file holds name, description and a [dram] table:
//
//	name        = "ddr4_3200"
//	description = "DDR4-3200 x16 8Gb, four devices on a 64-bit bus"
//	[dram]
//	kind = "DDR4-3200"
//	...
func DecodeDRAM(r io.Reader, source string) (*DRAMProfile, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &fileio.Error{File: source, Err: err}
	}
	return decodeDRAMBytes(data, source)
}

func decodeDRAMBytes(data []byte, source string) (*DRAMProfile, error) {
	raw, pos, err := decodeTOML(data, source)
	if err != nil {
		return nil, err
	}
	dp := &DRAMProfile{DRAM: defaultDRAM()}
	b := &binder{file: source, pos: pos, defined: map[string]bool{}}
	b.bindStruct(reflect.ValueOf(dp).Elem(), raw, nil)
	if len(b.errs) > 0 {
		return nil, fileio.Join(b.errs)
	}
	dp.Source = source
	dp.DRAM.fillDerived(func(path string) bool { return b.defined[path] })
	if err := dp.Validate(); err != nil {
		return nil, locate(err, pos)
	}
	return dp, nil
}

// Validate checks the DRAM-only profile as Profile.Validate checks a chip's [dram]
// (keys are named "dram.<key>").
func (dp *DRAMProfile) Validate() error {
	c := &checker{file: dp.Source}
	if strings.TrimSpace(dp.Name) == "" {
		c.add("name", "must not be empty")
	}
	validateDRAM(c, &dp.DRAM, true)
	return fileio.Join(c.errs)
}

// finite reports whether v is a finite number.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
