package hw

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"github.com/rctsim/rctsim/configs"
)

// CostTable is the technology cost table (configs/costs/technology.toml): per node, the
// factors that scale area, dynamic energy and static power from the reference node, and
// at the reference node the area of arithmetic, registers and SRAM, and the static
// power of logic and SRAM. What a profile does not state about its silicon comes from
// it; every value in the file cites its source.
type CostTable struct {
	ReferenceNode string                 `toml:"reference_node"`
	Nodes         map[string]NodeFactors `toml:"nodes"`
	Logic         struct {
		Int8MultUM2       float64 `toml:"int8_mult_um2"`
		Int32AddUM2       float64 `toml:"int32_add_um2"`
		FP16MultUM2       float64 `toml:"fp16_mult_um2"`
		FP32AddUM2        float64 `toml:"fp32_add_um2"`
		FP32MultUM2       float64 `toml:"fp32_mult_um2"`
		RegisterUM2PerBit float64 `toml:"register_um2_per_bit"`
		ScalablePEFactor  float64 `toml:"scalable_pe_factor"`
	} `toml:"logic"`
	SRAM struct {
		MM2PerKiB       float64 `toml:"mm2_per_kib"`
		MM2PerExtraBank float64 `toml:"mm2_per_extra_bank"`
		PortFactor      float64 `toml:"port_factor"`
		LeakageUWPerKiB float64 `toml:"leakage_uw_per_kib"`
		SpadMM2PerKiB   float64 `toml:"spad_mm2_per_kib"`
	} `toml:"sram"`
	Leakage struct {
		LogicMWPerMM2 float64 `toml:"logic_mw_per_mm2"`
	} `toml:"leakage"`
	Integration struct {
		OtherShareOfCore float64 `toml:"other_share_of_core"`
	} `toml:"integration"`
	DRAMInterface struct {
		MM2PerPin      float64 `toml:"mm2_per_pin"`
		PinsPerDataBit float64 `toml:"pins_per_data_bit"`
		LPDDRStaticMW  float64 `toml:"lpddr_static_mw"`
		DDRStaticMW    float64 `toml:"ddr_static_mw"`
	} `toml:"dram_interface"`
}

// NodeFactors scale a quantity at the reference node to one node.
type NodeFactors struct {
	Area    float64 `toml:"area"`    // logic area
	SRAM    float64 `toml:"sram"`    // SRAM area (the bit cell's)
	Energy  float64 `toml:"energy"`  // dynamic energy per event
	Leakage float64 `toml:"leakage"` // static power
}

// CostTablePath is the cost table's path in configs.FS.
const CostTablePath = "costs/technology.toml"

var costTable = sync.OnceValues(func() (*CostTable, error) {
	data, err := configs.FS.ReadFile(CostTablePath)
	if err != nil {
		return nil, err
	}
	return ParseCostTable(data)
})

// Costs returns the embedded cost table.
func Costs() *CostTable {
	t, err := costTable()
	if err != nil {
		// The table is embedded and tested: failing to read it is a build defect.
		panic(fmt.Sprintf("hw: embedded %s: %v", CostTablePath, err))
	}
	return t
}

// ParseCostTable reads a cost table strictly (every key known, every value positive).
func ParseCostTable(data []byte) (*CostTable, error) {
	var t CostTable
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CostTablePath, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown key %s", CostTablePath, und[0])
	}
	if _, ok := t.Nodes[t.ReferenceNode]; !ok {
		return nil, fmt.Errorf("%s: reference_node %q has no [nodes] entry", CostTablePath, t.ReferenceNode)
	}
	for name, n := range t.Nodes {
		if _, err := ParseNode(name); err != nil {
			return nil, fmt.Errorf("%s: [nodes.%s]: %w", CostTablePath, name, err)
		}
		for _, v := range []float64{n.Area, n.SRAM, n.Energy, n.Leakage} {
			if !(v > 0) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s: [nodes.%s]: every factor must be positive", CostTablePath, name)
			}
		}
	}
	return &t, nil
}

// ParseNode reads a technology node such as "28nm" and returns its feature size in
// nanometres.
func ParseNode(s string) (float64, error) {
	num, ok := strings.CutSuffix(s, "nm")
	var v float64
	if ok {
		_, err := fmt.Sscanf(num, "%g", &v)
		ok = err == nil && v > 0 && fmt.Sprint(v) == num
	}
	if !ok {
		return 0, fmt.Errorf("technology node %q: want a size in nanometres such as \"28nm\"", s)
	}
	return v, nil
}

// NodeNames lists the table's nodes, largest first.
func (t *CostTable) NodeNames() []string {
	names := make([]string, 0, len(t.Nodes))
	for n := range t.Nodes {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		x, _ := ParseNode(a)
		y, _ := ParseNode(b)
		return -cmpFloat(x, y)
	})
	return names
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// factors returns a node's factors, or an error listing the nodes the table has.
func (t *CostTable) factors(node string) (NodeFactors, error) {
	f, ok := t.Nodes[node]
	if !ok {
		return NodeFactors{}, fmt.Errorf("technology node %q is not in the cost table (have %s)", node, strings.Join(t.NodeNames(), ", "))
	}
	return f, nil
}

// Scale returns the factors that take a quantity from node `from` to node `to`:
// logic area, SRAM area, dynamic energy per event and static power.
func (t *CostTable) Scale(from, to string) (NodeFactors, error) {
	a, err := t.factors(from)
	if err != nil {
		return NodeFactors{}, err
	}
	b, err := t.factors(to)
	if err != nil {
		return NodeFactors{}, err
	}
	return NodeFactors{Area: b.Area / a.Area, SRAM: b.SRAM / a.SRAM, Energy: b.Energy / a.Energy, Leakage: b.Leakage / a.Leakage}, nil
}

// Rescale re-evaluates p at technology node to: every dynamic energy per event (MAC
// modes, SRAM accesses, vector operations), every stated leakage and every stated area
// is multiplied by the cost table's factor from p's node to `to`; the clock, the DRAM
// device and the DRAM interface (IO does not scale) are kept. Figures p leaves to the
// cost table follow the node by themselves.
func (p *Profile) Rescale(to string) error {
	from := p.node()
	s, err := Costs().Scale(from, to)
	if err != nil {
		return err
	}
	m := &p.MACArray
	for i := range m.Modes {
		m.Modes[i].EnergyPerMACPJ *= s.Energy
	}
	m.LeakageMW *= s.Leakage
	m.PEAreaUM2 *= s.Area
	m.Spad.ReadEnergyPJ *= s.Energy
	m.Spad.WriteEnergyPJ *= s.Energy
	m.Spad.AreaUM2 *= s.SRAM
	m.NoC.EnergyPJPerBit *= s.Energy
	for _, b := range p.SRAM {
		if b == nil {
			continue
		}
		b.ReadEnergyPJ *= s.Energy
		b.WriteEnergyPJ *= s.Energy
		b.LeakageMW *= s.Leakage
		b.AreaMM2 *= s.SRAM
	}
	v := &p.Vector
	for _, e := range []*float64{&v.OpEnergyPJ.Int8, &v.OpEnergyPJ.Int16, &v.OpEnergyPJ.Int32, &v.OpEnergyPJ.FP16, &v.OpEnergyPJ.BF16, &v.OpEnergyPJ.FP32} {
		*e *= s.Energy
	}
	v.LeakageMW *= s.Leakage
	v.AreaMM2 *= s.Area
	p.TechnologyNode = to
	return nil
}

// node is p's technology node, the reference node when p leaves it out.
func (p *Profile) node() string {
	if p.TechnologyNode == "" {
		return Costs().ReferenceNode
	}
	return p.TechnologyNode
}

// Silicon is the area and static power of a chip, by component. Maps are keyed
// "mac_array", "sram.<name>", "vector", "other" (control, network on chip, clock) and
// "dram_interface" (controller and PHY); Core sums all but the DRAM interface.
type Silicon struct {
	Node      string
	AreaMM2   map[string]float64
	LeakageMW map[string]float64
	// CoreAreaMM2 and TotalAreaMM2 sum the areas without and with the DRAM interface;
	// TotalLeakageMW sums every component's static power.
	CoreAreaMM2, TotalAreaMM2, TotalLeakageMW float64
}

// Silicon models p's area and static power at its node: each figure the profile
// states, else the cost table's model of the component.
func (p *Profile) Silicon() Silicon {
	t := Costs()
	f, err := t.factors(p.node())
	if err != nil {
		// Validate rejects unknown nodes; a hand-built profile must be validated.
		panic("hw: " + err.Error())
	}
	s := Silicon{Node: p.node(), AreaMM2: map[string]float64{}, LeakageMW: map[string]float64{}}
	logicLeak := t.Leakage.LogicMWPerMM2 * f.Leakage
	add := func(name string, area, leak float64) {
		s.AreaMM2[name], s.LeakageMW[name] = area, leak
	}

	m := &p.MACArray
	pe := m.PEAreaUM2
	if pe == 0 {
		pe = t.peAreaUM2(m) * f.Area
	}
	if m.Dataflow == RowStationary {
		// The PEs of a row stationary array carry their spads, whose leakage is the
		// array's (register files: logic leakage per area).
		spad := m.Spad.AreaUM2
		if spad == 0 {
			spad = float64(m.Spad.Bytes()) / 1024 * t.SRAM.SpadMM2PerKiB * 1e6 * f.SRAM
		}
		pe += spad
	}
	area := pe * float64(m.Rows*m.Cols) * 1e-6
	add("mac_array", area, orModel(m.LeakageMW, area*logicLeak))
	core := area

	for _, name := range p.BufferNames() {
		b := p.SRAM[name]
		area := b.AreaMM2
		if area == 0 {
			area = t.sramAreaMM2(b) * f.SRAM
		}
		leak := orModel(b.LeakageMW, float64(b.Capacity)/1024*t.SRAM.LeakageUWPerKiB*1e-3*f.Leakage)
		add("sram."+name, area, leak)
		core += area
	}

	v := &p.Vector
	area = v.AreaMM2
	if area == 0 {
		area = t.vectorAreaUM2(p) * f.Area * 1e-6
	}
	add("vector", area, orModel(v.LeakageMW, area*logicLeak))
	core += area

	// The rest of the core is a fixed share of it: other = core * share / (1 - share).
	other := core * t.Integration.OtherShareOfCore / (1 - t.Integration.OtherShareOfCore)
	add("other", other, other*logicLeak)
	s.CoreAreaMM2 = core + other

	d := &p.DRAM
	area = d.InterfaceAreaMM2
	if area == 0 {
		pins := float64(d.Channels*d.BusWidthBits) * t.DRAMInterface.PinsPerDataBit
		area = pins * t.DRAMInterface.MM2PerPin
	}
	phy := d.InterfacePowerMW
	if phy == 0 {
		phy = t.DRAMInterface.DDRStaticMW
		if strings.HasPrefix(strings.ToUpper(d.Kind), "LPDDR") {
			phy = t.DRAMInterface.LPDDRStaticMW
		}
		phy *= float64(d.Channels)
	}
	add("dram_interface", area, phy)
	s.TotalAreaMM2 = s.CoreAreaMM2 + area
	// Sum in a fixed order: the total must not depend on map iteration.
	for _, name := range slices.Sorted(maps.Keys(s.LeakageMW)) {
		s.TotalLeakageMW += s.LeakageMW[name]
	}
	return s
}

// orModel returns the stated value, or the model's when the profile leaves it at 0.
func orModel(stated, model float64) float64 {
	if stated != 0 {
		return stated
	}
	return model
}

// peAreaUM2 models one PE at the reference node: the integer datapath its widest mode
// needs (a w x a multiplier costs int8_mult * w*a/64, times the products it makes per
// cycle, so every fused or temporal mode of a Bit Fusion PE maps to the same 8x8
// datapath), the accumulator's adder and register, operand registers, the
// precision-scalable overhead when it has several integer modes, and for each float
// format a multiplier at its rate and an adder.
func (t *CostTable) peAreaUM2(m *MACArraySpec) float64 {
	l := &t.Logic
	var mult, maxW, maxA float64
	intModes := 0
	floats := map[string]float64{}
	for _, mode := range m.Modes {
		if mode.Float != "" {
			floats[mode.Float] = max(floats[mode.Float], mode.MACsPerPEPerCycle)
			continue
		}
		intModes++
		w, a := float64(mode.WeightBits), float64(mode.ActBits)
		mult = max(mult, l.Int8MultUM2*w*a/64*mode.MACsPerPEPerCycle)
		maxW, maxA = max(maxW, w), max(maxA, a)
	}
	acc := float64(m.AccumulatorBits)
	area := mult + l.Int32AddUM2*acc/32 + l.RegisterUM2PerBit*(acc+maxW+maxA)
	if intModes > 1 {
		area *= l.ScalablePEFactor
	}
	for format, rate := range floats {
		switch format {
		case "fp32":
			area += l.FP32MultUM2*rate + l.FP32AddUM2
		case "fp8":
			// A multiplier of 4-bit significands (E4M3's, with the hidden bit; E5M2's are
			// narrower) against fp16's 11-bit ones: area grows with the significand
			// product, 16/121 of fp16's. Products accumulate in fp32, in the adder of
			// the chip's other float mode when it has one.
			area += l.FP16MultUM2 * 16 / 121 * rate
			if len(floats) == 1 {
				area += l.FP32AddUM2
			}
		default: // fp16, bf16
			area += l.FP16MultUM2*rate + l.FP32AddUM2 // products accumulate in fp32
		}
	}
	return area
}

// sramAreaMM2 models an SRAM buffer at the reference node: capacity, plus the
// periphery of every bank after the first, times the port factor for each port after
// the first.
func (t *CostTable) sramAreaMM2(b *SRAMSpec) float64 {
	area := float64(b.Capacity)/1024*t.SRAM.MM2PerKiB + float64(max(b.Banks-1, 0))*t.SRAM.MM2PerExtraBank
	return area * math.Pow(t.SRAM.PortFactor, float64(max(b.Ports-1, 0)))
}

// vectorAreaUM2 models the vector unit at the reference node: per lane a 32-bit adder,
// a shifter (taken as another adder), a 16 x 16 multiplier for the update's learning
// rate, four 32-bit registers, and an fp32 adder and multiplier when the chip trains in
// float (QAT's update and loss).
func (t *CostTable) vectorAreaUM2(p *Profile) float64 {
	l := &t.Logic
	lane := 2*l.Int32AddUM2 + l.Int8MultUM2*4 + 4*32*l.RegisterUM2PerBit
	if p.HasFloat() {
		lane += l.FP32AddUM2 + l.FP32MultUM2
	}
	return lane * float64(p.Vector.Lanes)
}
