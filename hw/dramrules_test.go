package hw

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/traces/fileio"
)

// loadDDR4 is the shipped DDR4-3200 profile's DRAM: valid by both rule sets.
func loadDDR4(t *testing.T) DRAMSpec {
	t.Helper()
	dp, err := LoadDRAM(configs.FS, "dram/ddr4_3200.toml")
	if err != nil {
		t.Fatal(err)
	}
	return dp.DRAM
}

// TestDRAMRuleSets checks each rule against both rule sets: the model rules
// (ValidateModel, what sim/dram.New applies) and the profile rules (Validate, what
// profiles get), which add the datasheet relations.
func TestDRAMRuleSets(t *testing.T) {
	ck := func(n int64) Timing { return Timing{Cycles: n} }
	tests := []struct {
		name string
		edit func(d *DRAMSpec)
		// modelKey and profileKey are the key of the first error, "" for none.
		modelKey, profileKey string
		msg                  string // in the profile error
	}{
		{"valid", func(d *DRAMSpec) {}, "", "", ""},
		{"no kind", func(d *DRAMSpec) { d.Kind = " " }, "", "dram.kind", "name the memory"},
		{"zero tRRD_S: no constraint", func(d *DRAMSpec) { d.TRRDS = Timing{} }, "", "dram.tRRD_S", "required"},
		{"zero tFAW: no constraint", func(d *DRAMSpec) { d.TFAW = Timing{InNS: true} }, "", "dram.tFAW", "required"},
		{"zero tWTR_L: no constraint", func(d *DRAMSpec) { d.TWTRL = Timing{} }, "", "dram.tWTR_L", "required"},
		{"no refresh", func(d *DRAMSpec) { d.TRFC, d.TREFI = Timing{}, Timing{} }, "", "dram.tRFC", "required"},
		{"tRFC alone", func(d *DRAMSpec) { d.TREFI = Timing{} }, "dram.tREFI", "dram.tREFI", "required"},
		{"tREFI alone", func(d *DRAMSpec) { d.TRFC = Timing{} }, "dram.tRFC", "dram.tRFC", "required"},
		{"zero tRCD", func(d *DRAMSpec) { d.TRCD = Timing{} }, "dram.tRCD", "dram.tRCD", "required"},
		{"zero tCCD_L", func(d *DRAMSpec) { d.TCCDL = Timing{} }, "dram.tCCD_L", "dram.tCCD_L", "required"},
		{"negative tRTP", func(d *DRAMSpec) { d.TRTP = ck(-1) }, "dram.tRTP", "dram.tRTP", "zero or positive"},
		{"NaN tRP", func(d *DRAMSpec) { d.TRP = Timing{NS: nan(), InNS: true} }, "dram.tRP", "dram.tRP", "zero or positive"},
		{"negative tRTRS", func(d *DRAMSpec) { d.TRTRS = ck(-2) }, "dram.tRTRS", "dram.tRTRS", "zero or positive"},
		{"tRAS below tRCD", func(d *DRAMSpec) { d.TRAS = ck(10) }, "", "dram.tRAS", "at least tRCD (22 cycles)"},
		{"tCCD_L below tCCD_S", func(d *DRAMSpec) { d.TCCDL = ck(2) }, "", "dram.tCCD_L", "at least tCCD_S"},
		{"tRRD_L below tRRD_S", func(d *DRAMSpec) { d.TRRDL = ck(2) }, "", "dram.tRRD_L", "at least tRRD_S"},
		{"tCCD_S below the burst", func(d *DRAMSpec) { d.TCCDS, d.TCCDL = ck(2), ck(2) }, "", "dram.tCCD_S", "burst_length/2 = 4"},
		{"tREFI not above tRFC", func(d *DRAMSpec) { d.TREFI = ck(560) }, "dram.tREFI", "dram.tREFI", "longer than tRFC"},
		{"tRP of a second", func(d *DRAMSpec) { d.TRP = Timing{NS: 1e9, InNS: true} }, "dram.tRP", "dram.tRP", "at most 10000ns"},
		{"tCCD_L of a second", func(d *DRAMSpec) { d.TCCDL = ck(1_600_000_000) }, "dram.tCCD_L", "dram.tCCD_L", "at most 10000ns"},
		{"tCL of 2^32 clocks", func(d *DRAMSpec) { d.TCL = ck(1 << 32) }, "dram.tCL", "dram.tCL", "at most 10000ns"},
		{"infinite tRAS", func(d *DRAMSpec) { d.TRAS = Timing{NS: math.Inf(1), InNS: true} }, "dram.tRAS", "dram.tRAS", "at most"},
		{"tREFI of a millisecond", func(d *DRAMSpec) { d.TREFI = Timing{NS: 1e6, InNS: true} }, "dram.tREFI", "dram.tREFI", "at most 100000ns"},
		{"tREFI barely above tRFC", func(d *DRAMSpec) { d.TREFI = ck(600) }, "dram.tREFI", "dram.tREFI", "room for a request"},
		{"tREFI just room enough", func(d *DRAMSpec) { d.TREFI = ck(560 + 52 + 22 + 22 + 1) }, "", "", ""},
		{"data rate too high", func(d *DRAMSpec) { d.DataRate = 1e12 }, "dram.data_rate", "dram.data_rate", "between 10MT/s and 100GT/s"},
		{"data rate too low", func(d *DRAMSpec) { d.DataRate = 3200 }, "dram.data_rate", "dram.data_rate", "between 10MT/s"},
		{"odd data rate", func(d *DRAMSpec) { d.DataRate = 3200e6 + 1 }, "dram.data_rate", "dram.data_rate", "even"},
		{"zero data rate", func(d *DRAMSpec) { d.DataRate = 0 }, "dram.data_rate", "dram.data_rate", "positive"},
		{"device wider than bus", func(d *DRAMSpec) { d.DeviceWidthBits = 128 }, "dram.device_width_bits", "dram.device_width_bits", "at most bus_width_bits = 64 and divide it"},
		{"device width not listed", func(d *DRAMSpec) { d.DeviceWidthBits = 12 }, "dram.device_width_bits", "dram.device_width_bits", "must be 4, 8"},
		{"bus width not bytes", func(d *DRAMSpec) { d.BusWidthBits = 12 }, "dram.bus_width_bits", "dram.bus_width_bits", "must be 8, 16"},
		{"burst not a power of two", func(d *DRAMSpec) { d.BurstLength = 12 }, "dram.burst_length", "dram.burst_length", "power of two bytes"},
		{"row not first", func(d *DRAMSpec) { d.AddressMapping = "chrorababgco" }, "dram.address_mapping", "dram.address_mapping", "most significant"},
		{"duplicate field", func(d *DRAMSpec) { d.AddressMapping = "rorochbabgco" }, "dram.address_mapping", "dram.address_mapping", "once"},
		{"too many banks", func(d *DRAMSpec) { d.Banks = 512 }, "dram.banks", "dram.banks", "between 1 and 256"},
		{"queue too deep", func(d *DRAMSpec) { d.TransactionQueueDepth = 1 << 20 }, "dram.transaction_queue_depth", "dram.transaction_queue_depth", "between 1 and 4096"},
		{"both energy forms", func(d *DRAMSpec) { d.ActivateEnergyPJ = 5 }, "dram.activate_energy_pj", "dram.activate_energy_pj", "one energy form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := loadDDR4(t)
			tt.edit(&d)
			for _, c := range []struct {
				set  string
				err  error
				want string
			}{{"model", d.ValidateModel(), tt.modelKey}, {"profile", d.Validate(), tt.profileKey}} {
				var pe *fileio.Error
				switch {
				case c.want == "" && c.err != nil:
					t.Errorf("%s rules: %v, want no error", c.set, c.err)
				case c.want == "":
				case !errors.As(c.err, &pe):
					t.Errorf("%s rules: error %v, want a *fileio.Error for %s", c.set, c.err, c.want)
				case pe.Key != c.want || pe.File != "" || pe.Line != 0:
					t.Errorf("%s rules: first error %v (key %q), want key %q with no position", c.set, c.err, pe.Key, c.want)
				case c.set == "profile" && !strings.Contains(c.err.Error(), tt.msg):
					t.Errorf("profile rules: %q does not mention %q", c.err, tt.msg)
				}
			}
		})
	}
}

// TestDRAMRulesShared: a chip profile, a DRAM-only profile and DRAMSpec.Validate report
// the same DRAM errors; the profiles add their file and line.
func TestDRAMRulesShared(t *testing.T) {
	p := loadDefault(t)
	p.DRAM.Banks = 3
	p.DRAM.DataRate++
	var fromProfile, fromSpec []string
	forEachError(p.Validate(), func(pe *fileio.Error) { fromProfile = append(fromProfile, pe.Key+": "+pe.Err.Error()) })
	forEachError(p.DRAM.Validate(), func(pe *fileio.Error) { fromSpec = append(fromSpec, pe.Key+": "+pe.Err.Error()) })
	dp := &DRAMProfile{Name: "x", DRAM: p.DRAM}
	var fromDRAMProfile []string
	forEachError(dp.Validate(), func(pe *fileio.Error) { fromDRAMProfile = append(fromDRAMProfile, pe.Key+": "+pe.Err.Error()) })
	a, b, c := strings.Join(fromProfile, "\n"), strings.Join(fromSpec, "\n"), strings.Join(fromDRAMProfile, "\n")
	if len(fromSpec) != 2 || a != b || b != c {
		t.Errorf("profile:\n%s\nspec:\n%s\nDRAM profile:\n%s", a, b, c)
	}
}

func nan() float64 { return math.NaN() }
