// Package hw describes accelerator hardware: the Profile decoded strictly from a TOML file,
// its validation, and the timing and energy rules of each component (MAC array, SRAM
// buffers, DRAM, vector unit, DMA). It knows nothing of neural networks: callers ask it
// how many cycles a fold of a systolic array takes or what a DRAM burst costs, never
// what a layer is.
package hw

// Profile is one accelerator: the root of a hardware TOML file.
//
// Every field carries its unit in its name or in its type (ByteSize, Frequency,
// DataRate, Timing). Decode fills a Profile from TOML and validates it; a Profile built
// by hand must be checked with Validate before use.
type Profile struct {
	Name        string    `toml:"name"`
	Description string    `toml:"description"`
	Clock       Frequency `toml:"clock"`

	MACArray MACArraySpec         `toml:"mac_array"`
	SRAM     map[string]*SRAMSpec `toml:"sram"`
	DRAM     DRAMSpec             `toml:"dram"`
	Vector   VectorSpec           `toml:"vector"`
	DMA      DMASpec              `toml:"dma"`

	// Source is the file the profile was read from ("" for embedded or hand-built
	// profiles); errors name it.
	Source string `toml:"-"`
}

// Dataflow is the stationarity of a systolic array.
type Dataflow string

// The dataflows of SCALE-Sim: output, weight and input stationary.
const (
	OutputStationary Dataflow = "os"
	WeightStationary Dataflow = "ws"
	InputStationary  Dataflow = "is"
)

// MACArraySpec is a rows x cols systolic array of precision-scalable PEs.
type MACArraySpec struct {
	Rows            int      `toml:"rows"`
	Cols            int      `toml:"cols"`
	Dataflow        Dataflow `toml:"dataflow"`
	AccumulatorBits int      `toml:"accumulator_bits"`
	// TrainFloat is the float format ("fp32", "fp16" or "bf16") that QAT and FP32
	// training GEMMs run in; empty when the chip has no float mode.
	TrainFloat string    `toml:"train_float"`
	LeakageMW  float64   `toml:"leakage_mw"`
	Modes      []MACMode `toml:"modes"`
}

// MACMode is one operand mode a PE supports: an integer weight-bits x activation-bits
// pair, or a float format.
type MACMode struct {
	// Float is "fp32", "fp16" or "bf16" for a float mode, empty for an integer one.
	Float      string `toml:"float"`
	WeightBits int    `toml:"weight_bits"`
	ActBits    int    `toml:"act_bits"`
	// MACsPerPEPerCycle is an integer (several narrow products per cycle along the
	// reduction) or the reciprocal of one (one product every k cycles).
	MACsPerPEPerCycle float64 `toml:"macs_per_pe_per_cycle"`
	EnergyPerMACPJ    float64 `toml:"energy_per_mac_pj"`
}

// Buffer roles: which operands of a GEMM tile live in an SRAM buffer.
const (
	RoleWeights = "weights"
	RoleInputs  = "inputs"
	RoleOutputs = "outputs"
)

// SRAMSpec is one named on-chip buffer.
type SRAMSpec struct {
	Capacity       ByteSize `toml:"capacity"`
	Banks          int      `toml:"banks"`
	BankWidthBytes int      `toml:"bank_width_bytes"`
	Ports          int      `toml:"ports"`
	// ReadEnergyPJ and WriteEnergyPJ are per access of one bank word.
	ReadEnergyPJ  float64 `toml:"read_energy_pj"`
	WriteEnergyPJ float64 `toml:"write_energy_pj"`
	LeakageMW     float64 `toml:"leakage_mw"`
	// Holds lists the roles (RoleWeights, RoleInputs, RoleOutputs) this buffer serves;
	// across all buffers every role is held exactly once.
	Holds []string `toml:"holds"`
}

// DRAMSpec is an LPDDR/DDR-class memory. Timings are in the DRAM clock, which runs at
// half the data rate.
type DRAMSpec struct {
	Kind         string   `toml:"kind"`
	Channels     int      `toml:"channels"`
	Ranks        int      `toml:"ranks"`
	BankGroups   int      `toml:"bank_groups"`
	Banks        int      `toml:"banks"` // per rank, across all bank groups
	RowSize      ByteSize `toml:"row_size"`
	BusWidthBits int      `toml:"bus_width_bits"` // per channel
	DataRate     DataRate `toml:"data_rate"`
	BurstLength  int      `toml:"burst_length"`
	// AddressMapping lists address fields from most to least significant bits in the
	// DRAMsim3/Ramulator notation: ro (row), ch, ra, bg, ba, co (column).
	AddressMapping string `toml:"address_mapping"`
	PagePolicy     string `toml:"page_policy"` // "open" (default) or "closed"

	TRCD Timing `toml:"tRCD"`
	TRP  Timing `toml:"tRP"`
	TCL  Timing `toml:"tCL"`
	TRAS Timing `toml:"tRAS"`
	TWR  Timing `toml:"tWR"`
	TCWL Timing `toml:"tCWL"`

	ActivateEnergyPJ    float64 `toml:"activate_energy_pj"` // one activate plus its precharge
	ReadEnergyPJPerBit  float64 `toml:"read_energy_pj_per_bit"`
	WriteEnergyPJPerBit float64 `toml:"write_energy_pj_per_bit"`
	BackgroundPowerMW   float64 `toml:"background_power_mw"`
	RefreshPowerMW      float64 `toml:"refresh_power_mw"`
}

// VectorSpec is the element-wise unit (quantise, requantise, activations, loss, update,
// rounding).
type VectorSpec struct {
	Lanes int `toml:"lanes"`
	// OpEnergyPJ is the energy of one elementary operation on one element, per width.
	OpEnergyPJ VectorOpEnergy `toml:"op_energy_pj"`
	LeakageMW  float64        `toml:"leakage_mw"`
}

// VectorOpEnergy lists the energy of one vector-lane operation by operand format. An
// integer width not listed uses the next wider integer width.
type VectorOpEnergy struct {
	Int8  float64 `toml:"int8"`
	Int16 float64 `toml:"int16"`
	Int32 float64 `toml:"int32"`
	FP16  float64 `toml:"fp16"`
	BF16  float64 `toml:"bf16"`
	FP32  float64 `toml:"fp32"`
}

// DMASpec is the engine moving tiles between DRAM and SRAM.
type DMASpec struct {
	// SetupCycles is paid once per transfer descriptor, before its first request.
	SetupCycles int `toml:"setup_cycles"`
	// MaxOutstanding is the number of DRAM bursts in flight at once.
	MaxOutstanding int `toml:"max_outstanding"`
}
