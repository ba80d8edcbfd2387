package hw

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/hw/tomlpos"
	"github.com/rctsim/rctsim/traces/fileio"
)

// Upper bounds that no edge chip comes near. They exist so that products such as
// rows*cols*clock or capacity*banks can never overflow an int64 in the simulator, and so
// that a slip of the keyboard (rows = 16000000) is an error rather than an hour-long run.
const (
	maxArrayDim      = 1 << 16
	maxBanks         = 1 << 16
	maxBankWidth     = 1 << 12
	maxPorts         = 64
	maxSRAMCapacity  = 1 << 40
	maxPackingFactor = 1024
	maxVectorLanes   = 1 << 20
	maxSetupCycles   = 1 << 20
	maxOutstanding   = 1 << 12
	minClockHz       = 1_000_000
)

// checker collects validation errors, each naming its key.
type checker struct {
	file string
	errs []*fileio.Error
}

func (c *checker) add(key, format string, args ...any) {
	c.errs = append(c.errs, &fileio.Error{File: c.file, Key: key, Err: fmt.Errorf(format, args...)})
}

func (c *checker) intRange(key string, v, lo, hi int) bool {
	if v < lo || v > hi {
		if lo == 1 && v < lo {
			c.add(key, "must be at least 1 (got %d)", v)
		} else {
			c.add(key, "must be between %d and %d (got %d)", lo, hi, v)
		}
		return false
	}
	return true
}

func (c *checker) powerOfTwo(key string, v, hi int) bool {
	if !c.intRange(key, v, 1, hi) {
		return false
	}
	if v&(v-1) != 0 {
		c.add(key, "must be a power of two (got %d)", v)
		return false
	}
	return true
}

// positive checks an energy or power that must be finite and > 0.
func (c *checker) positive(key string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		c.add(key, "must be a positive number (got %s)", fmtFloat(v))
	}
}

// nonNegative checks an energy or power that must be finite and >= 0.
func (c *checker) nonNegative(key string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		c.add(key, "must be zero or a positive number (got %s)", fmtFloat(v))
	}
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Validate checks every value of the profile and returns nil, one *fileio.Error, or all
// of them joined (errors.As finds the first). Each error names its dotted key; Decode
// adds file and line. Validate does not change the profile.
func (p *Profile) Validate() error {
	c := &checker{file: p.Source}
	if strings.TrimSpace(p.Name) == "" {
		c.add("name", "must not be empty")
	}
	switch {
	case p.Clock <= 0:
		c.add("clock", `must be positive, e.g. "800MHz" (got %d Hz)`, int64(p.Clock))
	case p.Clock < minClockHz:
		// A plain number is in Hz: "clock = 800" almost certainly meant MHz.
		c.add("clock", `%s is below 1 MHz; a plain number is in Hz, write e.g. "800MHz"`, p.Clock)
	}
	if _, err := Costs().factors(p.node()); err != nil {
		c.add("technology_node", "%v", err)
	}
	p.validateMAC(c)
	p.validateSRAM(c)
	validateDRAM(c, &p.DRAM, true)
	p.validateVector(c)
	c.intRange("dma.setup_cycles", p.DMA.SetupCycles, 0, maxSetupCycles)
	c.intRange("dma.max_outstanding", p.DMA.MaxOutstanding, 1, maxOutstanding)
	return fileio.Join(c.errs)
}

var accumulatorWidths = []int{16, 24, 32, 48, 64}

func (p *Profile) validateMAC(c *checker) {
	m := &p.MACArray
	c.intRange("mac_array.rows", m.Rows, 1, maxArrayDim)
	c.intRange("mac_array.cols", m.Cols, 1, maxArrayDim)
	switch m.Dataflow {
	case OutputStationary, WeightStationary, InputStationary:
	case RowStationary:
		p.validateRowStationary(c)
	default:
		c.add("mac_array.dataflow", `must be "os", "ws", "is" or "rs" (got %q)`, m.Dataflow)
	}
	c.nonNegative("mac_array.leakage_mw", m.LeakageMW)
	c.nonNegative("mac_array.pe_area_um2", m.PEAreaUM2)
	if len(m.Modes) == 0 {
		c.add("mac_array.modes", "at least one mode is required ([[mac_array.modes]] sections)")
	}
	seen := map[string]int{}
	maxProduct, maxOperand := 0, 0
	floats := map[string]bool{}
	for i, mode := range m.Modes {
		key := fmt.Sprintf("mac_array.modes[%d]", i)
		if mode.IsFloat() {
			if _, ok := floatWidth[mode.Float]; ok {
				floats[mode.Float] = true
			} else {
				c.add(key+".float", `must be "fp32", "fp16", "bf16" or "fp8" (got %q)`, mode.Float)
			}
			if mode.WeightBits != 0 {
				c.add(key+".weight_bits", "must be absent for a float mode (got %d)", mode.WeightBits)
			}
			if mode.ActBits != 0 {
				c.add(key+".act_bits", "must be absent for a float mode (got %d)", mode.ActBits)
			}
		} else {
			okW := c.intRange(key+".weight_bits", mode.WeightBits, 1, 32)
			okA := c.intRange(key+".act_bits", mode.ActBits, 1, 32)
			if okW && okA {
				maxProduct = max(maxProduct, mode.WeightBits+mode.ActBits)
				maxOperand = max(maxOperand, mode.WeightBits, mode.ActBits)
			}
		}
		if err := checkPacking(mode.MACsPerPEPerCycle); err != "" {
			c.add(key+".macs_per_pe_per_cycle", "%s", err)
		}
		c.positive(key+".energy_per_mac_pj", mode.EnergyPerMACPJ)
		name := mode.String()
		if j, dup := seen[name]; dup {
			c.add(key, "duplicate mode %s (also mac_array.modes[%d])", name, j)
		} else {
			seen[name] = i
		}
	}

	acc := m.AccumulatorBits
	standard := false
	for _, w := range accumulatorWidths {
		standard = standard || acc == w
	}
	switch {
	case acc < 1 || acc > 128:
		c.add("mac_array.accumulator_bits", "must be between 1 and 128 (got %d)", acc)
	case acc < maxOperand:
		c.add("mac_array.accumulator_bits", "is narrower than the widest integer operand (%d bits) (got %d)", maxOperand, acc)
	case !standard && acc < maxProduct:
		c.add("mac_array.accumulator_bits", "must be 16, 24, 32, 48 or 64, or at least the widest product (%d bits) (got %d)", maxProduct, acc)
	}

	// QAT and FP32 train in a 16- or 32-bit float: an fp8 mode serves FP8 training only.
	hasFP8 := floats["fp8"]
	delete(floats, "fp8")
	switch tf := m.TrainFloat; {
	case len(floats) == 0 && p.HasFloat() && !hasFP8:
		// Only unknown float formats: already reported on their modes.
	case len(floats) == 0 && tf != "":
		c.add("mac_array.train_float", "the chip has no fp32, fp16 or bf16 mode, so it must be empty (got %q)", tf)
	case len(floats) > 0 && tf == "":
		c.add("mac_array.train_float", "must name the float mode QAT and FP32 training run in (one of %s)", strings.Join(sortedKeys(floats), ", "))
	case tf != "" && !floats[tf]:
		c.add("mac_array.train_float", "must be one of the chip's fp32, fp16 and bf16 modes %s (got %q)", strings.Join(sortedKeys(floats), ", "), tf)
	}
}

// Bounds of a row stationary array's spads and networks.
const (
	maxSpadBytes = 1 << 20
	maxNoCBits   = 1 << 16
)

// validateRowStationary checks the spads and networks an "rs" array needs: every spad
// holds at least one entry of the widest operand it stores.
func (p *Profile) validateRowStationary(c *checker) {
	m := &p.MACArray
	wMax, aMax := 0, 0
	for _, mode := range m.Modes {
		w, a := mode.OperandBits()
		wMax, aMax = max(wMax, w), max(aMax, a)
	}
	if m.Spad == (SpadSpec{}) {
		c.add("mac_array.spad", "the row stationary dataflow needs the PEs' scratchpads: a [mac_array.spad] table with weight_bytes, input_bytes, psum_bytes, read_energy_pj and write_energy_pj")
	} else {
		spad := func(key string, v, bits int, what string) {
			if c.intRange(key, v, 1, maxSpadBytes) && v*8 < bits {
				c.add(key, "must hold one %d-bit %s entry (got %d bytes)", bits, what, v)
			}
		}
		spad("mac_array.spad.weight_bytes", m.Spad.WeightBytes, wMax, "weight")
		spad("mac_array.spad.input_bytes", m.Spad.InputBytes, aMax, "input")
		spad("mac_array.spad.psum_bytes", m.Spad.PsumBytes, max(m.AccumulatorBits, 32*btoi(p.HasFloat())), "psum")
		c.positive("mac_array.spad.read_energy_pj", m.Spad.ReadEnergyPJ)
		c.positive("mac_array.spad.write_energy_pj", m.Spad.WriteEnergyPJ)
		c.nonNegative("mac_array.spad.area_um2", m.Spad.AreaUM2)
	}
	if m.NoC == (NoCSpec{}) {
		c.add("mac_array.noc", "the row stationary dataflow needs its networks: a [mac_array.noc] table with weight_bits, input_bits, psum_bits and energy_pj_per_bit")
		return
	}
	c.intRange("mac_array.noc.weight_bits", m.NoC.WeightBits, 1, maxNoCBits)
	c.intRange("mac_array.noc.input_bits", m.NoC.InputBits, 1, maxNoCBits)
	c.intRange("mac_array.noc.psum_bits", m.NoC.PsumBits, 1, maxNoCBits)
	c.positive("mac_array.noc.energy_pj_per_bit", m.NoC.EnergyPJPerBit)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkPacking accepts an integer k >= 1 (k products per PE per cycle) or 1/k (one
// product every k cycles). The reciprocal may carry float noise (0.333 for 1/3), which
// packing() rounds away, so it is accepted within 1%.
func checkPacking(v float64) string {
	const want = "must be an integer from 1 to 1024 or its reciprocal (0.5, 0.25, 1/3 as 0.3333)"
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0) || v <= 0:
		return fmt.Sprintf("%s (got %s)", want, fmtFloat(v))
	case v >= 1:
		k := math.Round(v)
		if math.Abs(v-k) > 1e-9*k || k > maxPackingFactor {
			return fmt.Sprintf("%s (got %s)", want, fmtFloat(v))
		}
	default:
		k := math.Round(1 / v)
		if math.Abs(1/v-k) > 0.01*k || k > maxPackingFactor {
			return fmt.Sprintf("%s (got %s)", want, fmtFloat(v))
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var identifierRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// roles lists the buffer roles in the order validation reports them.
var roles = []string{RoleWeights, RoleInputs, RoleOutputs}

func (p *Profile) validateSRAM(c *checker) {
	if len(p.SRAM) == 0 {
		c.add("sram", "at least one buffer is required, e.g. [sram.global]")
		return
	}
	holders := map[string][]string{}
	for _, name := range p.BufferNames() {
		s := p.SRAM[name]
		key := "sram." + tomlpos.Seg(name)
		if !identifierRE.MatchString(name) {
			c.add(key, "buffer name %q must be an identifier (letters, digits, _)", name)
		}
		if s == nil {
			c.add(key, "buffer is empty")
			continue
		}
		okCap := true
		if s.Capacity <= 0 || s.Capacity > maxSRAMCapacity {
			c.add(key+".capacity", `must be positive and at most 1TiB, e.g. "512KiB" (got %d bytes)`, int64(s.Capacity))
			okCap = false
		}
		okBanks := c.intRange(key+".banks", s.Banks, 1, maxBanks)
		okWidth := c.powerOfTwo(key+".bank_width_bytes", s.BankWidthBytes, maxBankWidth)
		c.intRange(key+".ports", s.Ports, 1, maxPorts)
		if okCap && okBanks && okWidth {
			if row := int64(s.Banks) * int64(s.BankWidthBytes); int64(s.Capacity)%row != 0 {
				c.add(key+".capacity", "must be a multiple of banks x bank_width_bytes = %d bytes (got %d bytes)", row, int64(s.Capacity))
			}
		}
		c.positive(key+".read_energy_pj", s.ReadEnergyPJ)
		c.positive(key+".write_energy_pj", s.WriteEnergyPJ)
		c.nonNegative(key+".leakage_mw", s.LeakageMW)
		c.nonNegative(key+".area_mm2", s.AreaMM2)
		if len(s.Holds) == 0 {
			c.add(key+".holds", `must list at least one of "weights", "inputs", "outputs"`)
		}
		own := map[string]bool{}
		for _, r := range s.Holds {
			switch {
			case r != RoleWeights && r != RoleInputs && r != RoleOutputs:
				c.add(key+".holds", `unknown role %q (want "weights", "inputs" or "outputs")`, r)
			case own[r]:
				c.add(key+".holds", "lists %q twice", r)
			default:
				own[r] = true
				holders[r] = append(holders[r], name)
			}
		}
	}
	for _, r := range roles {
		switch h := holders[r]; len(h) {
		case 0:
			c.add("sram", "no buffer holds %q: every role (weights, inputs, outputs) needs exactly one", r)
		case 1:
		default:
			c.add("sram."+tomlpos.Seg(h[1])+".holds", "%q is already held by sram.%s: every role needs exactly one buffer", r, h[0])
		}
	}
}

func (p *Profile) validateVector(c *checker) {
	v := &p.Vector
	c.intRange("vector.lanes", v.Lanes, 1, maxVectorLanes)
	c.nonNegative("vector.leakage_mw", v.LeakageMW)
	c.nonNegative("vector.area_mm2", v.AreaMM2)
	e := v.OpEnergyPJ
	for _, x := range []struct {
		key string
		v   float64
	}{{"int8", e.Int8}, {"int16", e.Int16}, {"int32", e.Int32}, {"fp16", e.FP16}, {"bf16", e.BF16}, {"fp32", e.FP32}} {
		c.nonNegative("vector.op_energy_pj."+x.key, x.v)
	}
	// Integer element-wise work (quantise, requantise, update) happens on every chip.
	c.positive("vector.op_energy_pj.int8", e.Int8)
	c.positive("vector.op_energy_pj.int32", e.Int32)
	// A chip with float MACs runs float element-wise work too; fp32 is needed even on an
	// fp16-only chip because the QAT master weights are fp32. bf16 may be 0: it falls
	// back to fp16, then fp32 (see OpEnergy).
	// fp8 element-wise work (FP8 training's requantisation) runs at fp16's cost.
	hasFP16 := false
	for _, m := range p.MACArray.Modes {
		hasFP16 = hasFP16 || m.Float == "fp16" || m.Float == "fp8"
	}
	if p.HasFloat() {
		c.positive("vector.op_energy_pj.fp32", e.FP32)
	}
	if hasFP16 {
		c.positive("vector.op_energy_pj.fp16", e.FP16)
	}
}

// HasFloat reports whether the MAC array has any float mode.
func (p *Profile) HasFloat() bool {
	for _, m := range p.MACArray.Modes {
		if m.IsFloat() {
			return true
		}
	}
	return false
}
