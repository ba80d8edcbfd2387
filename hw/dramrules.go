package hw

import (
	"strings"

	"github.com/rctsim/rctsim/traces/fileio"
)

// The DRAM rules live here, once: a chip profile's [dram] table, a DRAM-only profile
// and the DRAM model (sim/dram.New) all check a DRAMSpec with validateDRAM. There are
// two sets, both stated below:
//
//   - The model rules are what sim/dram needs to run a spec: powers of two where the
//     address decoder slices bits, a whole number of bursts per row, an exact DRAM
//     clock, the timings every command depends on, refresh that ends, bounded queues
//     and energies that are numbers. Hand-built specs (tests, tools) must meet these.
//   - The profile rules add what a datasheet always satisfies, so that a slip in
//     transcribing one is an error rather than a strange result: the kind is named,
//     every timing is given (a zero tRRD, tFAW or tWTR would mean "no constraint",
//     and a zero tRFC/tREFI pair "no refresh", which no real part has), tRAS >= tRCD,
//     the bank-group timings are at least the short ones, and tCCD_S covers a burst.
//     The model is well defined without them (it takes DRAMsim3's maxima of the
//     tCCD and bank-group pairs, as timing.cc does), which the DRAM model's tests use
//     to probe odd corners.
//
// Where the two earlier copies of these rules disagreed, the choice made is:
//   - tRFC and tREFI: required in profiles (every real part refreshes); for the model,
//     both zero means no refresh, and giving only one is an error.
//   - device_width_bits must divide bus_width_bits (a rank is a whole number of
//     devices); with both widths powers of two this is "at most", which is how the
//     message reads.
//   - data_rate must be even: the DRAM clock is data_rate/2, and every timing in
//     clocks is converted exactly from it.
//   - the row must be the most significant field of the address mapping: a spec gives
//     no device capacity, so the model's row takes every address bit above the others.
//   - bus_width_bits is one of 8, 16, 32, 64 or 128, and the burst
//     (bus_width_bits/8 x burst_length bytes) a power of two, so that the offset,
//     column and row are bit fields.

var (
	busWidths     = []int{8, 16, 32, 64, 128}
	deviceWidths  = []int{4, 8, 16, 32, 64, 128}
	mappingFields = []string{"ro", "ch", "ra", "bg", "ba", "co"}
)

// maxQueueDepth bounds the controller queues: far above any real controller, low
// enough that a typo is an error rather than a slow run.
const maxQueueDepth = 1 << 12

// Bounds on the clock and the timings. They are far outside any DRAM (data rates run
// from 200 MT/s to about 10 GT/s, tRFC stays below 1 us and tREFI below 8 us), and they
// keep every time the model computes, in clocks, below 2^23 for one timing, so that
// cycle arithmetic cannot overflow and a typo (a tRP of "1000000000ns", a tCL of 2^32
// clocks) is an error rather than a scheduler that never finishes.
const (
	minDataRate    = 10e6  // T/s
	maxDataRate    = 100e9 // T/s
	maxTimingNS    = 10e3  // every timing but tREFI
	maxRefreshNS   = 100e3 // tREFI
	maxTimingCheck = "far above any DRAM's"
)

// dramTiming is one timing key of a DRAMSpec and what the model makes of a zero.
type dramTiming struct {
	key string
	get func(d *DRAMSpec) Timing
	// zeroOK is set when the model reads zero as "no constraint" (or, for tRFC and
	// tREFI together, "no refresh"); profiles require every timing but tRTRS.
	zeroOK bool
}

// dramTimings lists the timings in the order errors are reported. tRTRS is apart: zero
// (one rank, or ranks that switch without a gap) is valid everywhere.
var dramTimings = []dramTiming{
	{"tRCD", func(d *DRAMSpec) Timing { return d.TRCD }, false},
	{"tRP", func(d *DRAMSpec) Timing { return d.TRP }, false},
	{"tCL", func(d *DRAMSpec) Timing { return d.TCL }, false},
	{"tRAS", func(d *DRAMSpec) Timing { return d.TRAS }, false},
	{"tWR", func(d *DRAMSpec) Timing { return d.TWR }, false},
	{"tCWL", func(d *DRAMSpec) Timing { return d.TCWL }, false},
	{"tRTP", func(d *DRAMSpec) Timing { return d.TRTP }, false},
	{"tCCD_S", func(d *DRAMSpec) Timing { return d.TCCDS }, false},
	{"tCCD_L", func(d *DRAMSpec) Timing { return d.TCCDL }, false},
	{"tRRD_S", func(d *DRAMSpec) Timing { return d.TRRDS }, true},
	{"tRRD_L", func(d *DRAMSpec) Timing { return d.TRRDL }, true},
	{"tFAW", func(d *DRAMSpec) Timing { return d.TFAW }, true},
	{"tWTR_S", func(d *DRAMSpec) Timing { return d.TWTRS }, true},
	{"tWTR_L", func(d *DRAMSpec) Timing { return d.TWTRL }, true},
	{"tRFC", func(d *DRAMSpec) Timing { return d.TRFC }, true},
	{"tREFI", func(d *DRAMSpec) Timing { return d.TREFI }, true},
}

// negative reports whether a timing is below zero or not a number (only a hand-built
// one can be: ParseTiming rejects such values).
func (t Timing) negative() bool { return t.InNS && !(t.NS >= 0) || !t.InNS && t.Cycles < 0 }

// zero reports whether a timing is zero as given (not after rounding to clocks).
func (t Timing) zero() bool { return t.InNS && t.NS == 0 || !t.InNS && t.Cycles == 0 }

// Validate checks d by every rule of a profile's [dram] table (the model rules and
// the profile rules, see above). It returns nil, one *ProfileError or several joined;
// keys are named "dram.<key>" and no file or line is known.
func (d *DRAMSpec) Validate() error {
	c := &checker{}
	validateDRAM(c, d, true)
	return fileio.Join(c.errs)
}

// ValidateModel checks d by the model rules only: those without which sim/dram cannot
// run it. sim/dram.New calls it after filling its defaults for hand-built specs.
// Errors are as Validate's.
func (d *DRAMSpec) ValidateModel() error {
	c := &checker{}
	validateDRAM(c, d, false)
	return fileio.Join(c.errs)
}

// validateDRAM checks a DRAM spec, naming keys "dram.<key>" (chip profiles and DRAM-only
// files share the table name); profile adds the profile rules to the model rules.
func validateDRAM(c *checker, d *DRAMSpec, profile bool) {
	if profile && strings.TrimSpace(d.Kind) == "" {
		c.add("dram.kind", `must name the memory, e.g. "LPDDR4-3200"`)
	}
	c.powerOfTwo("dram.channels", d.Channels, 64)
	c.powerOfTwo("dram.ranks", d.Ranks, 16)
	okBG := c.powerOfTwo("dram.bank_groups", d.BankGroups, 16)
	okBanks := c.powerOfTwo("dram.banks", d.Banks, 256)
	if okBG && okBanks && d.Banks%d.BankGroups != 0 {
		c.add("dram.banks", "must be a multiple of bank_groups = %d (got %d)", d.BankGroups, d.Banks)
	}
	okBus := false
	for _, w := range busWidths {
		okBus = okBus || d.BusWidthBits == w
	}
	if !okBus {
		c.add("dram.bus_width_bits", "must be 8, 16, 32, 64 or 128 (got %d)", d.BusWidthBits)
	}
	okDev := false
	for _, w := range deviceWidths {
		okDev = okDev || d.DeviceWidthBits == w
	}
	switch {
	case !okDev && !okBus && d.DeviceWidthBits == d.BusWidthBits:
		// The default copied a bad bus width: reported there.
	case !okDev:
		c.add("dram.device_width_bits", "must be 4, 8, 16, 32, 64 or 128 (got %d)", d.DeviceWidthBits)
	case okBus && d.BusWidthBits%d.DeviceWidthBits != 0:
		// Both are powers of two: dividing is being at most as wide.
		c.add("dram.device_width_bits", "must be at most bus_width_bits = %d and divide it: a rank is bus_width_bits/device_width_bits devices (got %d)", d.BusWidthBits, d.DeviceWidthBits)
	}
	okBL := d.BurstLength >= 2 && d.BurstLength <= 64 && d.BurstLength%2 == 0
	if !okBL {
		c.add("dram.burst_length", "must be even, from 2 to 64 (got %d)", d.BurstLength)
	} else if bb := d.BurstBytes(); okBus && bb&(bb-1) != 0 {
		c.add("dram.burst_length", "must make a burst of a power of two bytes: bus_width_bits/8 x burst_length = %d bytes (got %d)", bb, d.BurstLength)
		okBL = false
	}
	if rs := int64(d.RowSize); rs <= 0 || rs > 1<<20 || rs&(rs-1) != 0 {
		c.add("dram.row_size", `must be a power of two up to 1MiB, e.g. "2KiB" (got %d bytes)`, rs)
	} else if okBus && okBL && rs%int64(d.BurstBytes()) != 0 {
		c.add("dram.row_size", "must be a multiple of the burst, bus_width_bits/8 x burst_length = %d bytes (got %d bytes)", d.BurstBytes(), rs)
	}
	okRate := false
	switch r := int64(d.DataRate); {
	case r <= 0:
		c.add("dram.data_rate", `must be positive, e.g. "3200MT/s" (got %d T/s)`, r)
	case r < minDataRate || r > maxDataRate:
		c.add("dram.data_rate", `must be between 10MT/s and 100GT/s, e.g. "3200MT/s" (got %v)`, d.DataRate)
	case r%2 != 0:
		c.add("dram.data_rate", "must be even: the DRAM clock is data_rate/2 (got %d T/s)", r)
	default:
		okRate = true
	}
	if !validMapping(d.AddressMapping) {
		c.add("dram.address_mapping", `must list each of ro, ch, ra, bg, ba, co once, most significant first, e.g. "rochrababgco" (got %q)`, d.AddressMapping)
	} else if !strings.HasPrefix(d.AddressMapping, "ro") {
		c.add("dram.address_mapping", `must put the row (ro) first, as the most significant field: it takes every address bit above the others, since the DRAM's size is not given (got %q)`, d.AddressMapping)
	}
	switch d.PagePolicy {
	case "open", "closed":
	default:
		c.add("dram.page_policy", `must be "open" or "closed" (got %q)`, d.PagePolicy)
	}

	positive := map[string]bool{}
	for _, tm := range dramTimings {
		t := tm.get(d)
		switch {
		case t.negative():
			c.add("dram."+tm.key, "must be zero or positive (got %v)", t)
		case t.zero() && (profile || !tm.zeroOK):
			c.add("dram."+tm.key, `is required and must be positive, e.g. "18ns" or "14ck"`)
		case !t.zero():
			positive[tm.key] = true
		}
	}
	if d.TRTRS.negative() {
		c.add("dram.tRTRS", "must be zero or positive (got %v)", d.TRTRS)
	}
	// Ceilings, in time: a timing in clocks needs the clock to be known.
	ceiling := func(key string, t Timing, maxNS float64) {
		ns := t.NS
		if !t.InNS {
			if !okRate {
				return
			}
			ns = float64(t.Cycles) * 1e9 / float64(d.Clock())
		}
		if ns > maxNS {
			c.add("dram."+key, "must be at most %gns, %s (got %v)", maxNS, maxTimingCheck, t)
			delete(positive, key) // no relations on it
		}
	}
	for _, tm := range dramTimings {
		if t := tm.get(d); !t.negative() {
			limit := maxTimingNS
			if tm.key == "tREFI" {
				limit = maxRefreshNS
			}
			ceiling(tm.key, t, limit)
		}
	}
	if !d.TRTRS.negative() {
		ceiling("tRTRS", d.TRTRS, maxTimingNS)
	}
	if !profile && positive["tRFC"] != positive["tREFI"] && !d.TRFC.negative() && !d.TREFI.negative() {
		key, other := "dram.tREFI", "tRFC"
		if positive["tREFI"] {
			key, other = "dram.tRFC", "tREFI"
		}
		c.add(key, "must be given with %s (both zero: no refresh)", other)
	}
	if okRate {
		clk := d.Clock()
		cyc := func(name string) int64 {
			for _, tm := range dramTimings {
				if tm.key == name {
					return tm.get(d).ClockCycles(clk)
				}
			}
			panic("hw: unknown DRAM timing " + name) // a bug here, not bad input
		}
		if profile {
			if positive["tRAS"] && positive["tRCD"] && cyc("tRAS") < cyc("tRCD") {
				c.add("dram.tRAS", "must be at least tRCD (%d cycles) (got %d cycles)", cyc("tRCD"), cyc("tRAS"))
			}
			// The long (same bank group) timings can only be longer than the short ones.
			for _, pair := range [][2]string{{"tCCD_S", "tCCD_L"}, {"tRRD_S", "tRRD_L"}, {"tWTR_S", "tWTR_L"}} {
				if positive[pair[0]] && positive[pair[1]] && cyc(pair[1]) < cyc(pair[0]) {
					c.add("dram."+pair[1], "must be at least %s (%d cycles) (got %d cycles)", pair[0], cyc(pair[0]), cyc(pair[1]))
				}
			}
			if burst := int64(d.BurstLength / 2); okBL && positive["tCCD_S"] && cyc("tCCD_S") < burst {
				c.add("dram.tCCD_S", "must be at least burst_length/2 = %d cycles, the time a burst holds the data bus (got %d cycles)", burst, cyc("tCCD_S"))
			}
		}
		if positive["tRFC"] && positive["tREFI"] {
			// Between two refreshes a rank must be able to serve a request: wait for the
			// banks to close (up to tRC after an activate), refresh (tRFC), then activate
			// and reach the column command (tRCD) before the next refresh falls due.
			// With less, requests could wait for ever.
			refi, rfc := cyc("tREFI"), cyc("tRFC")
			room := rfc + cyc("tRAS") + cyc("tRP") + cyc("tRCD")
			switch {
			case refi <= rfc:
				c.add("dram.tREFI", "must be longer than tRFC (%d cycles), or refresh never ends (got %d cycles)", rfc, refi)
			case refi <= room:
				c.add("dram.tREFI", "must exceed tRFC + tRAS + tRP + tRCD = %d cycles, to leave room for a request between refreshes (got %d cycles)", room, refi)
			}
		}
	}

	c.intRange("dram.transaction_queue_depth", d.TransactionQueueDepth, 1, maxQueueDepth)
	okWB := c.intRange("dram.write_buffer_depth", d.WriteBufferDepth, 1, maxQueueDepth)
	c.intRange("dram.bank_queue_depth", d.BankQueueDepth, 1, maxQueueDepth)
	if okWB && c.intRange("dram.write_high_watermark", d.WriteHighWatermark, 1, d.WriteBufferDepth) {
		c.intRange("dram.write_low_watermark", d.WriteLowWatermark, 0, d.WriteHighWatermark-1)
	}

	validateDRAMEnergy(c, d)
}

// validateDRAMEnergy checks that exactly one energy form is given, and given whole.
func validateDRAMEnergy(c *checker, d *DRAMSpec) {
	pj := []struct {
		key string
		v   float64
	}{{"activate_energy_pj", d.ActivateEnergyPJ}, {"read_energy_pj_per_bit", d.ReadEnergyPJPerBit},
		{"write_energy_pj_per_bit", d.WriteEnergyPJPerBit}, {"background_power_mw", d.BackgroundPowerMW},
		{"refresh_power_mw", d.RefreshPowerMW}}
	if !d.UsesCurrents() {
		c.positive("dram.activate_energy_pj", d.ActivateEnergyPJ)
		c.positive("dram.read_energy_pj_per_bit", d.ReadEnergyPJPerBit)
		c.positive("dram.write_energy_pj_per_bit", d.WriteEnergyPJPerBit)
		c.nonNegative("dram.background_power_mw", d.BackgroundPowerMW)
		c.nonNegative("dram.refresh_power_mw", d.RefreshPowerMW)
		return
	}
	for _, x := range pj {
		if x.v != 0 {
			c.add("dram."+x.key, "must be absent when the datasheet currents (vdd_v, idd*_ma) are given: give one energy form (got %s)", fmtFloat(x.v))
		}
	}
	currents := []struct {
		key string
		v   float64
	}{{"vdd_v", d.VDDV}, {"idd0_ma", d.IDD0MA}, {"idd2n_ma", d.IDD2NMA}, {"idd3n_ma", d.IDD3NMA},
		{"idd4r_ma", d.IDD4RMA}, {"idd4w_ma", d.IDD4WMA}, {"idd5_ma", d.IDD5MA}}
	ok := true
	for _, x := range currents {
		if !finite(x.v) || x.v <= 0 {
			c.add("dram."+x.key, "is required with the other datasheet currents and must be positive (got %s)", fmtFloat(x.v))
			ok = false
		}
	}
	if !ok {
		return
	}
	// Each command's energy is its current above active standby: a current below
	// standby would make the command give energy back.
	for _, x := range currents[4:] {
		if x.v < d.IDD3NMA {
			c.add("dram."+x.key, "must be at least idd3n_ma = %s (got %s)", fmtFloat(d.IDD3NMA), fmtFloat(x.v))
		}
	}
	if d.DataRate > 0 {
		clk := d.Clock()
		ras, rp := float64(d.TRAS.ClockCycles(clk)), float64(d.TRP.ClockCycles(clk))
		if ras > 0 && rp > 0 && d.IDD0MA*(ras+rp) <= d.IDD3NMA*ras+d.IDD2NMA*rp {
			c.add("dram.idd0_ma", "gives no activate energy: idd0_ma*tRC must exceed idd3n_ma*tRAS + idd2n_ma*tRP (got %s)", fmtFloat(d.IDD0MA))
		}
	}
}

// validMapping reports whether m lists each DRAM address field exactly once.
func validMapping(m string) bool {
	if len(m) != 2*len(mappingFields) {
		return false
	}
	seen := map[string]bool{}
	for i := 0; i < len(m); i += 2 {
		f := m[i : i+2]
		known := false
		for _, g := range mappingFields {
			known = known || f == g
		}
		if !known || seen[f] {
			return false
		}
		seen[f] = true
	}
	return true
}
