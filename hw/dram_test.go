package hw

import (
	"errors"
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/traces/fileio"
)

// TestLoadDRAMProfiles decodes every shipped DRAM-only profile strictly.
func TestLoadDRAMProfiles(t *testing.T) {
	files, err := fs.Glob(configs.FS, "dram/*.toml")
	if err != nil || len(files) < 3 {
		t.Fatalf("DRAM profiles %v: %v", files, err)
	}
	for _, f := range files {
		dp, err := LoadDRAM(configs.FS, f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if dp.Name != strings.TrimSuffix(path.Base(f), ".toml") || dp.Source != f {
			t.Errorf("%s: name %q, source %q", f, dp.Name, dp.Source)
		}
		if !dp.DRAM.UsesCurrents() || dp.DRAM.DeviceWidthBits == 0 {
			t.Errorf("%s: want datasheet currents and a device width: %+v", f, dp.DRAM)
		}
		// Every value line cites a source.
		data, _ := fs.ReadFile(configs.FS, f)
		for i, line := range strings.Split(string(data), "\n") {
			code, _, hasComment := strings.Cut(line, "#")
			if strings.Contains(code, "=") && !hasComment && !strings.HasPrefix(strings.TrimSpace(code), "[") {
				t.Errorf("%s:%d: value without a source comment: %s", f, i+1, line)
			}
		}
	}
	if _, err := LoadDRAM(configs.FS, "dram/none.toml"); err == nil {
		t.Error("LoadDRAM of a missing file succeeded")
	}
}

// TestDRAMDerivedDefaults checks the DRAM defaults that depend on other keys.
func TestDRAMDerivedDefaults(t *testing.T) {
	p, err := Load("testdata/minimal.toml") // LPDDR4-3200 x16, BL16, no new keys
	if err != nil {
		t.Fatal(err)
	}
	d := p.DRAM
	ck := func(n int64) Timing { return Timing{Cycles: n} }
	ns := func(v float64) Timing { return Timing{NS: v, InNS: true} }
	for _, c := range []struct {
		key       string
		got, want Timing
	}{
		{"tCCD_S", d.TCCDS, ck(8)}, {"tCCD_L", d.TCCDL, ck(8)},
		{"tRRD_S", d.TRRDS, ck(16)}, {"tRRD_L", d.TRRDL, ck(16)}, // 10 ns at 1.6 GHz
		{"tFAW", d.TFAW, ns(40)},
		{"tWTR_S", d.TWTRS, ck(16)}, {"tWTR_L", d.TWTRL, ck(16)},
		{"tRTP", d.TRTP, ck(12)}, // 7.5 ns, more than 8 clocks
		{"tRFC", d.TRFC, ns(280)}, {"tREFI", d.TREFI, ns(3904)}, {"tRTRS", d.TRTRS, ck(1)},
	} {
		if c.got != c.want {
			t.Errorf("LPDDR %s = %v, want %v", c.key, c.got, c.want)
		}
	}
	if d.DeviceWidthBits != 16 || d.TransactionQueueDepth != 32 || d.WriteBufferDepth != 32 ||
		d.BankQueueDepth != 8 || d.WriteHighWatermark != 24 || d.WriteLowWatermark != 8 {
		t.Errorf("defaults %+v", d)
	}

	// DDR4 with bank groups takes the long timings of JESD79-4; a given key stays.
	src := strings.Replace(readMinimal(t), `kind           = "LPDDR4-3200"`, "kind = \"DDR4-3200\"\nbank_groups = 4\ntFAW = \"21ns\"\nwrite_buffer_depth = 16", 1)
	src = strings.Replace(src, "burst_length   = 16", "burst_length   = 8", 1)
	p, err = Decode(strings.NewReader(src), "ddr4.toml")
	if err != nil {
		t.Fatal(err)
	}
	d = p.DRAM
	for _, c := range []struct {
		key       string
		got, want Timing
	}{
		{"tCCD_S", d.TCCDS, ck(4)}, {"tCCD_L", d.TCCDL, ck(8)},
		{"tRRD_S", d.TRRDS, ck(9)}, {"tRRD_L", d.TRRDL, ck(11)},
		{"tFAW", d.TFAW, ns(21)},
		{"tWTR_S", d.TWTRS, ck(4)}, {"tWTR_L", d.TWTRL, ck(12)},
		{"tRTP", d.TRTP, ck(12)}, {"tRFC", d.TRFC, ns(350)}, {"tREFI", d.TREFI, ns(7800)},
	} {
		if c.got != c.want {
			t.Errorf("DDR4 %s = %v, want %v", c.key, c.got, c.want)
		}
	}
	if d.WriteHighWatermark != 12 || d.WriteLowWatermark != 4 {
		t.Errorf("watermarks %d, %d; want 12, 4 (3/4 and 1/4 of 16)", d.WriteHighWatermark, d.WriteLowWatermark)
	}
}

// badDRAMCases edit configs/dram/ddr4_3200.toml; see badCase.
var badDRAMCases = []badCase{
	{name: "unknown key", old: "idd5_ma", new: "idd7_ma = 3\nidd5_ma", key: "dram.idd7_ma", lineOf: "idd7_ma", msg: "valid keys here: kind, channels"},
	{name: "mis-cased timing", old: `tCCD_S            = "4ck"`, new: `tccd_s = "4ck"`, key: "dram.tccd_s", msg: `write "tCCD_S"`},
	{name: "both energy forms", old: "vdd_v", new: "activate_energy_pj = 900\nvdd_v", key: "dram.activate_energy_pj", lineOf: "activate_energy_pj", msg: "one energy form"},
	{name: "missing current", old: "idd5_ma           = 280", new: "", key: "dram.idd5_ma", lineOf: "[dram]", msg: "required with the other datasheet currents"},
	{name: "current below standby", old: "idd4r_ma          = 302", new: "idd4r_ma = 30", key: "dram.idd4r_ma", msg: "at least idd3n_ma = 56"},
	{name: "no activate energy", old: "idd0_ma           = 95", new: "idd0_ma = 40", key: "dram.idd0_ma", msg: "no activate energy"},
	{name: "watermark above buffer", old: "write_high_watermark    = 24", new: "write_high_watermark = 40", key: "dram.write_high_watermark", msg: "between 1 and 32"},
	{name: "low watermark not below high", old: "write_low_watermark     = 8", new: "write_low_watermark = 24", key: "dram.write_low_watermark", msg: "between 0 and 23"},
	{name: "zero queue", old: "bank_queue_depth        = 8", new: "bank_queue_depth = 0", key: "dram.bank_queue_depth", msg: "at least 1"},
	{name: "long below short", old: `tCCD_L            = "8ck"`, new: `tCCD_L = "2ck"`, key: "dram.tCCD_L", msg: "at least tCCD_S (4 cycles)"},
	{name: "tCCD below the burst", old: `tCCD_S            = "4ck"`, new: `tCCD_S = "3ck"`, key: "dram.tCCD_S", msg: "burst_length/2 = 4"},
	{name: "refresh never ends", old: `tREFI             = "12480ck"`, new: `tREFI = "500ck"`, key: "dram.tREFI", msg: "longer than tRFC (560 cycles)"},
	{name: "zero timing", old: `tFAW              = "48ck"`, new: `tFAW = "0ck"`, key: "dram.tFAW", msg: "required and must be positive"},
	{name: "device wider than bus", old: "device_width_bits = 16", new: "device_width_bits = 128", key: "dram.device_width_bits", msg: "at most bus_width_bits = 64"},
	{name: "bad timing unit", old: `tRRD_S            = "9ck"`, new: `tRRD_S = "9 cycles please"`, key: "dram.tRRD_S", msg: "invalid timing"},
	{name: "empty name", old: `name        = "ddr4_3200"`, new: `name = ""`, key: "name"},
	{name: "syntax error", old: "idd0_ma           = 95", new: "idd0_ma = ", key: "dram.idd0_ma", lineOf: "idd0_ma = "},
}

func TestBadDRAMProfiles(t *testing.T) {
	data, err := fs.ReadFile(configs.FS, "dram/ddr4_3200.toml")
	if err != nil {
		t.Fatal(err)
	}
	base := string(data)
	for _, tc := range badDRAMCases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(base, tc.old) {
				t.Fatalf("test bug: %q not in ddr4_3200.toml", tc.old)
			}
			doc := strings.Replace(base, tc.old, tc.new, 1)
			dp, err := DecodeDRAM(strings.NewReader(doc), "bad.toml")
			if err == nil {
				t.Fatalf("decoded without error: %+v", dp)
			}
			checkProfileError(t, err, doc, tc.new, tc.lineOf, tc.key, tc.msg)
		})
	}
}

// TestSetEnergyForm: an override cannot leave a profile with both energy forms.
func TestSetEnergyForm(t *testing.T) {
	p := loadDefault(t)
	err := p.Set("dram.idd0_ma", "50")
	var pe *fileio.Error
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "one energy form") || !strings.Contains(err.Error(), "dram.idd2n_ma") {
		t.Errorf("Set(dram.idd0_ma) on a pJ profile: %v", err)
	}
	if p.DRAM.IDD0MA != 0 {
		t.Error("failed Set changed the profile")
	}
	if err := p.Set("dram.tRFC", "350ns"); err != nil || p.DRAM.TRFC != (Timing{NS: 350, InNS: true}) {
		t.Errorf("Set(dram.tRFC): %v, %v", err, p.DRAM.TRFC)
	}
}
