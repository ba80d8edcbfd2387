package hw

import (
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/rctsim/rctsim/configs"
)

func TestSummaryDefault(t *testing.T) {
	p := loadDefault(t)
	s := p.Summary()
	want := ProfileSummary{
		Name: "default", Rows: 16, Cols: 16, Dataflow: OutputStationary, Clock: 800e6,
		Modes:    []string{"2x2", "4x4", "4x8", "8x8", "16x8", "16x16", "fp16", "fp8", "fp32"},
		PeakMode: "8x8", PeakGOPS: 409.6,
		SRAMBytes: 512 << 10, SRAMBuffers: 1,
		DRAMKind: "LPDDR4-3200", DRAMPeakGBps: 12.8,
		HasFloat: true, TrainFloat: "fp32",
		Node: "45nm", AreaMM2: p.Silicon().TotalAreaMM2, LeakageMW: p.Silicon().TotalLeakageMW,
	}
	if !(s.AreaMM2 > 0 && s.LeakageMW > 0) {
		t.Errorf("area %g mm2, leakage %g mW", s.AreaMM2, s.LeakageMW)
	}
	if math.Abs(s.PeakGOPS-want.PeakGOPS) < 1e-9 {
		s.PeakGOPS = want.PeakGOPS
	}
	if math.Abs(s.DRAMPeakGBps-want.DRAMPeakGBps) < 1e-9 {
		s.DRAMPeakGBps = want.DRAMPeakGBps
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
}

func TestSummaryPeakMode(t *testing.T) {
	tests := []struct {
		file, mode string
		gops       float64
	}{
		{"eyeriss_v1.toml", "16x16", 2 * 168 * 200e6 / 1e9}, // no 8x8: the narrowest integer mode
		{"edge_tpu.toml", "8x8", 2 * 4096 * 500e6 / 1e9},
		{"bitfusion.toml", "8x8", 2 * 512 * 500e6 / 1e9},
	}
	for _, tt := range tests {
		p, err := LoadFS(configs.FS, tt.file)
		if err != nil {
			t.Fatal(err)
		}
		s := p.Summary()
		if s.PeakMode != tt.mode || math.Abs(s.PeakGOPS-tt.gops) > 1e-6 {
			t.Errorf("%s: peak %v GOPS in %s, want %v in %s", tt.file, s.PeakGOPS, s.PeakMode, tt.gops, tt.mode)
		}
	}
	floatOnly := &Profile{Clock: 1e9, MACArray: MACArraySpec{Rows: 2, Cols: 2, Modes: []MACMode{
		{Float: "fp32", MACsPerPEPerCycle: 0.25}, {Float: "fp16", MACsPerPEPerCycle: 1}}}}
	if s := floatOnly.Summary(); s.PeakMode != "fp16" || s.PeakGOPS != 8 {
		t.Errorf("float-only chip: %s %v", s.PeakMode, s.PeakGOPS)
	}
}

func TestDRAMHelpers(t *testing.T) {
	d := loadDefault(t).DRAM
	if d.BurstBytes() != 64 {
		t.Errorf("BurstBytes = %d, want 32/8*16", d.BurstBytes())
	}
	if d.Clock() != 1600e6 {
		t.Errorf("Clock = %v, want 1600MHz", d.Clock())
	}
	if d.PeakBytesPerSecond() != 12.8e9 {
		t.Errorf("PeakBytesPerSecond = %v", d.PeakBytesPerSecond())
	}
	d.Channels, d.Ranks = 2, 2
	if d.PeakBytesPerSecond() != 25.6e9 {
		t.Errorf("two channels: %v (ranks must not add bandwidth)", d.PeakBytesPerSecond())
	}
}

func TestBufferFor(t *testing.T) {
	p, err := LoadFS(configs.FS, "bitfusion.toml")
	if err != nil {
		t.Fatal(err)
	}
	for role, want := range map[string]string{RoleWeights: "wbuf", RoleInputs: "ibuf", RoleOutputs: "obuf"} {
		name, spec := p.BufferFor(role)
		if name != want || spec != p.SRAM[want] {
			t.Errorf("BufferFor(%s) = %s, want %s", role, name, want)
		}
	}
	if name, spec := p.BufferFor("gradients"); name != "" || spec != nil {
		t.Errorf("unknown role found %s", name)
	}
	if got := p.BufferNames(); !reflect.DeepEqual(got, []string{"ibuf", "obuf", "wbuf"}) {
		t.Errorf("BufferNames = %v", got)
	}
	if p.SRAMBytes() != 112<<10 {
		t.Errorf("SRAMBytes = %v", p.SRAMBytes())
	}
}

func TestOpEnergy(t *testing.T) {
	v := VectorSpec{OpEnergyPJ: VectorOpEnergy{Int8: 1, Int16: 2, Int32: 4, FP16: 8, FP32: 16}}
	tests := []struct {
		bits  int
		float string
		want  float64
	}{
		{1, "", 1}, {4, "", 1}, {8, "", 1}, {9, "", 2}, {16, "", 2}, {17, "", 4}, {32, "", 4},
		{48, "", 8}, {64, "", 8},
		{0, "fp16", 8}, {0, "fp32", 16}, {0, "bf16", 8}, {0, "fp64", 16},
	}
	for _, tt := range tests {
		if got := v.OpEnergy(tt.bits, tt.float); got != tt.want {
			t.Errorf("OpEnergy(%d, %q) = %v, want %v", tt.bits, tt.float, got, tt.want)
		}
	}
	// Zero entries widen: int16 -> int32, bf16 -> fp16 -> fp32.
	v.OpEnergyPJ.Int16, v.OpEnergyPJ.FP16 = 0, 0
	if v.OpEnergy(12, "") != 4 || v.OpEnergy(0, "bf16") != 16 || v.OpEnergy(0, "fp16") != 16 {
		t.Error("fallbacks")
	}
	v.OpEnergyPJ.BF16 = 3
	if v.OpEnergy(0, "bf16") != 3 {
		t.Error("bf16 given")
	}
}

func ExampleProfile_Summary() {
	p, err := LoadFS(configs.FS, "nvdla_small.toml")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Summary())
	// Output:
	// nvdla_small: 8x8 ws @ 1GHz, modes 8x8, peak 128.0 GOPS (8x8), SRAM 128KiB in 1 buffer(s), DDR4-2400 19.2 GB/s, no float; 28nm, 3.10 mm2, 30.3 mW leakage
}
