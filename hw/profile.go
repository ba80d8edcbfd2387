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
	// TechnologyNode is the CMOS node every energy, area and leakage figure of the
	// profile is given at ("28nm"); it names a node of the cost table
	// (configs/costs/technology.toml). Setting it with --set rescales those figures
	// (Rescale).
	TechnologyNode string `toml:"technology_node"`

	MACArray MACArraySpec         `toml:"mac_array"`
	SRAM     map[string]*SRAMSpec `toml:"sram"`
	DRAM     DRAMSpec             `toml:"dram"`
	Vector   VectorSpec           `toml:"vector"`
	DMA      DMASpec              `toml:"dma"`

	// Source is the file the profile was read from ("" for embedded or hand-built
	// profiles); errors name it.
	Source string `toml:"-"`
}

// Dataflow is how the array maps a product: the stationarity of a systolic array, or
// Eyeriss's row stationary spatial array.
type Dataflow string

// The dataflows of SCALE-Sim (output, weight and input stationary systolic arrays) and
// Eyeriss's row stationary dataflow (Chen et al., ISCA 2016; JSSC 2017), whose PEs hold
// rows of filters in scratchpads (RowStationary).
const (
	OutputStationary Dataflow = "os"
	WeightStationary Dataflow = "ws"
	InputStationary  Dataflow = "is"
	RowStationary    Dataflow = "rs"
)

// MACArraySpec is a rows x cols array of precision-scalable PEs: a systolic array
// (os, ws, is) or a row stationary spatial array (rs) whose PEs have scratchpads (Spad)
// and are fed by multicast networks (NoC).
type MACArraySpec struct {
	Rows            int      `toml:"rows"`
	Cols            int      `toml:"cols"`
	Dataflow        Dataflow `toml:"dataflow"`
	AccumulatorBits int      `toml:"accumulator_bits"`
	// TrainFloat is the float format ("fp32", "fp16" or "bf16") that QAT and FP32
	// training GEMMs run in; empty when the chip has no float mode.
	TrainFloat string `toml:"train_float"`
	// PEAreaUM2 is one PE's area (datapath, accumulator, registers) and LeakageMW the
	// whole array's static power; 0 takes the cost table's model (Silicon).
	PEAreaUM2 float64   `toml:"pe_area_um2"`
	LeakageMW float64   `toml:"leakage_mw"`
	Modes     []MACMode `toml:"modes"`
	// Spad and NoC describe a row stationary array (dataflow "rs") and are required for
	// it; other dataflows ignore them.
	Spad SpadSpec `toml:"spad"`
	NoC  NoCSpec  `toml:"noc"`
}

// SpadSpec is the scratchpads of one PE of a row stationary array: a filter spad
// holding rows of weights, an ifmap spad holding sliding windows of input rows, and a
// psum spad holding partial sums. Entries are of the PE's operand width (the MAC
// mode's weight and activation widths, the accumulator's width for partial sums).
type SpadSpec struct {
	WeightBytes int `toml:"weight_bytes"`
	InputBytes  int `toml:"input_bytes"`
	PsumBytes   int `toml:"psum_bytes"`
	// ReadEnergyPJ and WriteEnergyPJ are per access of one entry.
	ReadEnergyPJ  float64 `toml:"read_energy_pj"`
	WriteEnergyPJ float64 `toml:"write_energy_pj"`
	// AreaUM2 is one PE's three spads; 0 takes the cost table's model (per KiB).
	AreaUM2 float64 `toml:"area_um2"`
}

// Bytes is the capacity of one PE's spads.
func (s *SpadSpec) Bytes() int { return s.WeightBytes + s.InputBytes + s.PsumBytes }

// NoCSpec is the on-chip network of a row stationary array: a global input network
// per data type that multicasts one bus word from the global buffer to every PE
// needing it in one cycle, a global output network returning partial sums (as wide as
// the psum input network), and links between vertically adjacent PEs that pass partial
// sums up a column.
type NoCSpec struct {
	WeightBits int `toml:"weight_bits"` // data width of the filter input network
	InputBits  int `toml:"input_bits"`  // of the ifmap input network
	PsumBits   int `toml:"psum_bits"`   // of the psum input network, and of the output network
	// EnergyPJPerBit is the energy of one bit delivered by a global network (once,
	// however many PEs a multicast reaches) or passed from one PE to the next.
	EnergyPJPerBit float64 `toml:"energy_pj_per_bit"`
}

// MACMode is one operand mode a PE supports: an integer weight-bits x activation-bits
// pair, or a float format.
type MACMode struct {
	// Float is "fp32", "fp16", "bf16" or "fp8" for a float mode, empty for an integer
	// one. fp8 multiplies E4M3 and E5M2 operands alike, accumulating in fp32.
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
	// AreaMM2 and LeakageMW are the macro's area and static power; 0 takes the cost
	// table's model (capacity, banks and ports at the node).
	AreaMM2   float64 `toml:"area_mm2"`
	LeakageMW float64 `toml:"leakage_mw"`
	// Holds lists the roles (RoleWeights, RoleInputs, RoleOutputs) this buffer serves;
	// across all buffers every role is held exactly once.
	Holds []string `toml:"holds"`
}

// DRAMSpec is an LPDDR/DDR-class memory and its controller. Timings are in the DRAM
// clock, which runs at half the data rate.
//
// Energy comes in one of two forms, never both: pJ per event and mW of background and
// refresh power (activate_energy_pj ... refresh_power_mw), or datasheet currents that
// the DRAM model turns into energy per command as DRAMsim3 does (vdd_v, idd0_ma ...
// idd5_ma, per device, with device_width_bits giving the devices per rank).
type DRAMSpec struct {
	Kind         string   `toml:"kind"`
	Channels     int      `toml:"channels"`
	Ranks        int      `toml:"ranks"`
	BankGroups   int      `toml:"bank_groups"`
	Banks        int      `toml:"banks"` // per rank, across all bank groups
	RowSize      ByteSize `toml:"row_size"`
	BusWidthBits int      `toml:"bus_width_bits"` // per channel
	// DeviceWidthBits is the data width of one device (16 for an x16 part); a rank puts
	// bus_width_bits/device_width_bits devices side by side. Datasheet currents are per
	// device, so the current energy form scales by it.
	DeviceWidthBits int      `toml:"device_width_bits"`
	DataRate        DataRate `toml:"data_rate"`
	BurstLength     int      `toml:"burst_length"`
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
	// TRTP is read to precharge in the same bank.
	TRTP Timing `toml:"tRTP"`
	// TCCDS and TCCDL are column command to column command in another bank group and in
	// the same one (equal on devices without bank groups).
	TCCDS Timing `toml:"tCCD_S"`
	TCCDL Timing `toml:"tCCD_L"`
	// TRRDS and TRRDL are activate to activate in another bank group and in the same one.
	TRRDS Timing `toml:"tRRD_S"`
	TRRDL Timing `toml:"tRRD_L"`
	// TFAW is the window in which a rank takes at most four activates.
	TFAW Timing `toml:"tFAW"`
	// TWTRS and TWTRL are the end of write data to a read command, another bank group
	// and the same one.
	TWTRS Timing `toml:"tWTR_S"`
	TWTRL Timing `toml:"tWTR_L"`
	// TRTRS is the data-bus turnaround between ranks.
	TRTRS Timing `toml:"tRTRS"`
	// TRFC is the all-bank refresh time (the rank is blocked) and TREFI the refresh
	// interval.
	TRFC  Timing `toml:"tRFC"`
	TREFI Timing `toml:"tREFI"`

	// TransactionQueueDepth is the reads a channel's controller holds until their
	// bank's command queue takes them, WriteBufferDepth the writes likewise;
	// BankQueueDepth is each bank's command queue (reads and writes together), all the
	// scheduler sees. Once WriteHighWatermark writes are buffered, the writes then
	// buffered, less WriteLowWatermark, drain into the command queues (and writes are
	// admitted whenever the controller is otherwise idle). See sim/dram.
	TransactionQueueDepth int `toml:"transaction_queue_depth"`
	WriteBufferDepth      int `toml:"write_buffer_depth"`
	BankQueueDepth        int `toml:"bank_queue_depth"`
	WriteHighWatermark    int `toml:"write_high_watermark"`
	WriteLowWatermark     int `toml:"write_low_watermark"`

	// Energy, pJ form.
	ActivateEnergyPJ    float64 `toml:"activate_energy_pj"` // one activate plus its precharge
	ReadEnergyPJPerBit  float64 `toml:"read_energy_pj_per_bit"`
	WriteEnergyPJPerBit float64 `toml:"write_energy_pj_per_bit"`
	BackgroundPowerMW   float64 `toml:"background_power_mw"` // whole memory, all channels
	RefreshPowerMW      float64 `toml:"refresh_power_mw"`    // whole memory, averaged over tREFI

	// Energy, datasheet form: supply voltage and per-device currents. A part with
	// several supplies (LPDDR's VDD1 and VDD2) folds them into one: I = sum(V_i*I_i)/VDD.
	VDDV    float64 `toml:"vdd_v"`
	IDD0MA  float64 `toml:"idd0_ma"`  // one bank activate-precharge
	IDD2NMA float64 `toml:"idd2n_ma"` // precharge standby
	IDD3NMA float64 `toml:"idd3n_ma"` // active standby
	IDD4RMA float64 `toml:"idd4r_ma"` // burst read
	IDD4WMA float64 `toml:"idd4w_ma"` // burst write
	IDD5MA  float64 `toml:"idd5_ma"`  // all-bank refresh burst

	// InterfaceAreaMM2 and InterfacePowerMW are the on-chip DRAM controller and PHY:
	// their area and static power; 0 takes the cost table's model (per pin, per
	// channel). They are the chip's, not the DRAM device's.
	InterfaceAreaMM2 float64 `toml:"interface_area_mm2"`
	InterfacePowerMW float64 `toml:"interface_power_mw"`
}

// UsesCurrents reports whether the spec gives its energy as datasheet currents rather
// than pJ figures (any current or the voltage set).
func (d *DRAMSpec) UsesCurrents() bool {
	return d.VDDV != 0 || d.IDD0MA != 0 || d.IDD2NMA != 0 || d.IDD3NMA != 0 ||
		d.IDD4RMA != 0 || d.IDD4WMA != 0 || d.IDD5MA != 0
}

// DRAMProfile is a DRAM-only file (configs/dram/*.toml): a name, a description and a
// [dram] table with the keys of a chip profile's [dram]. The trace replay reads these.
type DRAMProfile struct {
	Name        string   `toml:"name"`
	Description string   `toml:"description"`
	DRAM        DRAMSpec `toml:"dram"`

	// Source is the file the profile was read from; errors name it.
	Source string `toml:"-"`
}

// VectorSpec is the element-wise unit (quantise, requantise, activations, loss, update,
// rounding).
type VectorSpec struct {
	Lanes int `toml:"lanes"`
	// OpEnergyPJ is the energy of one elementary operation on one element, per width.
	OpEnergyPJ VectorOpEnergy `toml:"op_energy_pj"`
	// AreaMM2 and LeakageMW are the unit's area and static power; 0 takes the cost
	// table's model (per lane).
	AreaMM2   float64 `toml:"area_mm2"`
	LeakageMW float64 `toml:"leakage_mw"`
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
