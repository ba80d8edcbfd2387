package hw

import (
	"io/fs"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
)

// TestCostTableCitesEverything: every value in the cost table carries a comment
// naming its source (a [KEY] of the header) or saying it is chosen.
func TestCostTableCitesEverything(t *testing.T) {
	data, err := configs.FS.ReadFile(CostTablePath)
	if err != nil {
		t.Fatal(err)
	}
	keys := regexp.MustCompile(`(?m)^#\s+\[(\w+)\]`).FindAllStringSubmatch(string(data), -1)
	known := map[string]bool{}
	for _, k := range keys {
		known[k[1]] = true
	}
	if len(known) < 5 {
		t.Fatalf("the header lists %d sources", len(known))
	}
	assign := regexp.MustCompile(`^\s*[\w.]+\s*=`)
	cite := regexp.MustCompile(`\[(\w+)\]`)
	values := 0
	for i, line := range strings.Split(string(data), "\n") {
		if !assign.MatchString(line) {
			continue
		}
		values++
		_, comment, ok := strings.Cut(line, "#")
		if !ok {
			t.Errorf("%s:%d: no comment citing the value's source: %s", CostTablePath, i+1, line)
			continue
		}
		m := cite.FindStringSubmatch(comment)
		if !strings.Contains(comment, "chosen") && (m == nil || !known[m[1]]) {
			t.Errorf("%s:%d: the comment cites no source of the header: %s", CostTablePath, i+1, line)
		}
	}
	if values < 30 {
		t.Errorf("read only %d values", values)
	}
}

func mustLoad(t *testing.T, name string, sets ...string) *Profile {
	t.Helper()
	p, err := LoadFS(configs.FS, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ApplySets(sets); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSmallerNodeNeverCostsMore: rescaled to each smaller node in turn, no energy per
// MAC or per SRAM access, no area and no static power of the default chip grows.
func TestSmallerNodeNeverCostsMore(t *testing.T) {
	nodes := Costs().NodeNames()
	if len(nodes) < 5 {
		t.Fatalf("nodes %v", nodes)
	}
	var prev *Profile
	var prevSi Silicon
	for _, n := range nodes {
		p := mustLoad(t, configs.Default, "technology_node="+n)
		si := p.Silicon()
		if si.Node != n {
			t.Fatalf("node %s, want %s", si.Node, n)
		}
		if prev != nil {
			for i, m := range p.MACArray.Modes {
				if m.EnergyPerMACPJ >= prev.MACArray.Modes[i].EnergyPerMACPJ {
					t.Errorf("%s: mode %d costs %g pJ per MAC, not less than %g", n, i, m.EnergyPerMACPJ, prev.MACArray.Modes[i].EnergyPerMACPJ)
				}
			}
			if g, pg := p.SRAM["global"], prev.SRAM["global"]; g.ReadEnergyPJ >= pg.ReadEnergyPJ || g.WriteEnergyPJ >= pg.WriteEnergyPJ {
				t.Errorf("%s: SRAM access %g/%g pJ, not less than %g/%g", n, g.ReadEnergyPJ, g.WriteEnergyPJ, pg.ReadEnergyPJ, pg.WriteEnergyPJ)
			}
			if p.Vector.OpEnergyPJ.Int32 >= prev.Vector.OpEnergyPJ.Int32 {
				t.Errorf("%s: vector op %g pJ", n, p.Vector.OpEnergyPJ.Int32)
			}
			for c, a := range si.AreaMM2 {
				if c != "dram_interface" && a >= prevSi.AreaMM2[c] {
					t.Errorf("%s: %s area %g mm2, not less than %g", n, c, a, prevSi.AreaMM2[c])
				}
				if c != "dram_interface" && si.LeakageMW[c] >= prevSi.LeakageMW[c] {
					t.Errorf("%s: %s leakage %g mW, not less than %g", n, c, si.LeakageMW[c], prevSi.LeakageMW[c])
				}
			}
		}
		prev, prevSi = p, si
	}
	// The clock and the DRAM device are the chip's, not the node's.
	a, b := mustLoad(t, configs.Default), mustLoad(t, configs.Default, "technology_node=7nm")
	if a.Clock != b.Clock || a.DRAM.ActivateEnergyPJ != b.DRAM.ActivateEnergyPJ {
		t.Error("rescaling changed the clock or the DRAM device")
	}
	// There and back again is the identity (up to rounding).
	c := mustLoad(t, configs.Default, "technology_node=7nm", "technology_node=45nm")
	if r := c.MACArray.Modes[3].EnergyPerMACPJ / a.MACArray.Modes[3].EnergyPerMACPJ; math.Abs(r-1) > 1e-12 {
		t.Errorf("45 -> 7 -> 45 nm changed the 8x8 MAC energy by a factor %g", r)
	}
	p := mustLoad(t, configs.Default)
	if err := p.ApplySets([]string{"technology_node=3nm"}); err == nil || !strings.Contains(err.Error(), "not in the cost table") {
		t.Errorf("an unknown node: %v", err)
	}
}

// TestAreaSums: the core is the sum of its components, the total adds the DRAM
// interface, and the total static power is the sum of the components'.
func TestAreaSums(t *testing.T) {
	names, _ := fs.Glob(configs.FS, "*.toml")
	for _, n := range names {
		si := mustLoad(t, n).Silicon()
		var core, leak float64
		for c, a := range si.AreaMM2 {
			if c != "dram_interface" {
				core += a
			}
			leak += si.LeakageMW[c]
		}
		if !close(core, si.CoreAreaMM2) || !close(core+si.AreaMM2["dram_interface"], si.TotalAreaMM2) || !close(leak, si.TotalLeakageMW) {
			t.Errorf("%s: parts %g mm2 / %g mW, totals %+v", n, core, leak, si)
		}
		// Every shipped profile has area and static power in every component.
		for c, a := range si.AreaMM2 {
			if !(a > 0) || !(si.LeakageMW[c] > 0) {
				t.Errorf("%s: %s has area %g mm2 and leakage %g mW", n, c, a, si.LeakageMW[c])
			}
		}
	}
}

func close(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }

func TestLeakageGrowsWithSRAM(t *testing.T) {
	prev := 0.0
	for _, c := range []string{"64KiB", "256KiB", "1MiB", "4MiB"} {
		si := mustLoad(t, configs.Default, "sram.global.capacity="+c).Silicon()
		if l := si.LeakageMW["sram.global"]; l <= prev || si.AreaMM2["sram.global"] <= 0 {
			t.Errorf("%s: leakage %g mW after %g", c, l, prev)
		} else {
			prev = l
		}
	}
	// Banks and ports cost area too.
	one := mustLoad(t, configs.Default, "sram.global.ports=1").Silicon().AreaMM2["sram.global"]
	two := mustLoad(t, configs.Default, "sram.global.ports=2").Silicon().AreaMM2["sram.global"]
	more := mustLoad(t, configs.Default, "sram.global.banks=32").Silicon().AreaMM2["sram.global"]
	if !(one < two && two < more) {
		t.Errorf("one port %g, two ports %g, two ports and 32 banks %g mm2", one, two, more)
	}
}

func TestBiggerArrayNeverSmaller(t *testing.T) {
	prev := 0.0
	for _, n := range []string{"4", "8", "16", "32", "64", "128"} {
		si := mustLoad(t, configs.Default, "mac_array.rows="+n, "mac_array.cols="+n).Silicon()
		if si.AreaMM2["mac_array"] <= prev || si.LeakageMW["mac_array"] <= 0 {
			t.Errorf("%sx%s: array %g mm2 after %g", n, n, si.AreaMM2["mac_array"], prev)
		}
		prev = si.AreaMM2["mac_array"]
	}
	// A precision-scalable PE with float modes is much larger than an int8-only one.
	scalable := Costs().peAreaUM2(&mustLoad(t, configs.Default).MACArray)
	int8only := Costs().peAreaUM2(&mustLoad(t, "edge_tpu.toml").MACArray)
	if scalable < 5*int8only {
		t.Errorf("scalable fp32 PE %g um2, int8 PE %g um2", scalable, int8only)
	}
}

// TestStatedFiguresWin: a profile's own area and leakage replace the model's.
func TestStatedFiguresWin(t *testing.T) {
	si := mustLoad(t, configs.Default, "sram.global.area_mm2=2.5", "sram.global.leakage_mw=7", "mac_array.pe_area_um2=1000",
		"vector.area_mm2=0.1", "dram.interface_area_mm2=0.5", "dram.interface_power_mw=4").Silicon()
	want := map[string][2]float64{"sram.global": {2.5, 7}, "mac_array": {0.256, -1}, "vector": {0.1, -1}, "dram_interface": {0.5, 4}}
	for c, w := range want {
		if !close(si.AreaMM2[c], w[0]) || (w[1] >= 0 && si.LeakageMW[c] != w[1]) {
			t.Errorf("%s: %g mm2, %g mW; want %v", c, si.AreaMM2[c], si.LeakageMW[c], w)
		}
	}
}

// Published areas the model is compared with: the chip's core (without the DRAM
// interface, whose IO lies outside a core) at its published node.
var publishedAreas = []struct {
	profile   string
	mm2       float64
	tolerance float64 // the deviation the model reaches, as a fraction
	source    string
}{
	// Eyeriss v1, 65 nm: a 3.5 mm x 3.5 mm core (Chen et al., JSSC 2017, Table IV, as
	// secondary sources quote it; the die is 4 mm x 4 mm). The spads are modelled at
	// 3.75x the global buffer's area per byte (the paper's ratio), and the buffer
	// model (CACTI macros) is below Eyeriss's own: -36% in all.
	{"eyeriss_v1.toml", 12.25, 0.40, "Eyeriss v1 core, 65 nm, JSSC 2017"},
	// NVDLA with 64 int8 MACs and a 128 KB convolution buffer: 0.91 mm2 in 28 nm,
	// synthesis including all memories (NVDLA Primer, "Example Area and Performance").
	// rctsim models NVDLA's fixed-function engines (SDP, PDP, CDP, DMA, CACC) as one
	// small vector unit, which is most of what it misses.
	{"nvdla_small.toml", 0.91, 0.50, "NVDLA 64 MACs + 128 KB, 28 nm, NVDLA Primer"},
}

func TestPublishedAreas(t *testing.T) {
	for _, c := range publishedAreas {
		si := mustLoad(t, c.profile).Silicon()
		dev := si.CoreAreaMM2/c.mm2 - 1
		t.Logf("%-18s %-44s published %6.2f mm2, modelled %6.2f mm2, deviation %+5.1f%%", c.profile, c.source, c.mm2, si.CoreAreaMM2, 100*dev)
		if math.Abs(dev) > c.tolerance {
			t.Errorf("%s: modelled core %g mm2 is %+.0f%% off the published %g mm2 (tolerance %.0f%%)", c.profile, si.CoreAreaMM2, 100*dev, c.mm2, 100*c.tolerance)
		}
	}
}

// TestPEAreaMatchesSynthesis compares the PE model with Bit Fusion's 45 nm synthesis
// results (github.com/hsharma35/bitfusion, results/systolic_array_synth.csv).
func TestPEAreaMatchesSynthesis(t *testing.T) {
	pe := func(modes ...[3]float64) float64 {
		m := MACArraySpec{AccumulatorBits: 32}
		for _, md := range modes {
			m.Modes = append(m.Modes, MACMode{WeightBits: int(md[0]), ActBits: int(md[1]), MACsPerPEPerCycle: md[2]})
		}
		return Costs().peAreaUM2(&m)
	}
	for _, c := range []struct {
		name      string
		model     float64
		published float64
		tolerance float64
	}{
		{"fixed 8-bit PE", pe([3]float64{8, 8, 1}), 687.6, 0.05},
		{"fixed 16-bit PE", pe([3]float64{16, 16, 1}), 2203, 0.30},
		{"2..8-bit fusion unit", pe([3]float64{2, 2, 16}, [3]float64{4, 4, 4}, [3]float64{8, 8, 1}), 1733, 0.05},
	} {
		dev := c.model/c.published - 1
		t.Logf("%-22s model %6.0f um2, synthesis %6.0f um2, %+5.1f%%", c.name, c.model, c.published, 100*dev)
		if math.Abs(dev) > c.tolerance {
			t.Errorf("%s: %g um2 against %g um2", c.name, c.model, c.published)
		}
	}
}
