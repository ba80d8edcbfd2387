// Package kernels owns rctsim's instruction set and the compiler that lowers one training
// step of a network (forward, backward-data, backward-weight, update, precision
// control) into a Program for a hardware profile, a training method and a per-layer
// bitwidth plan. It decides tiling, double buffering, the DRAM layout of every tensor
// and the lowering of convolutions to GEMM tiles. It knows no time and no energy: those
// belong to the simulator (sim/), which executes Programs.
package kernels

import (
	"fmt"
	"strings"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// Unit is the execution unit an instruction runs on. Instructions on one unit execute
// in program order; across units only the explicit dependencies order them.
type Unit uint8

// The units of the machine.
const (
	UnitDMA Unit = iota
	UnitMAC
	UnitVector
	NumUnits
)

var unitNames = [...]string{"dma", "mac", "vector"}

func (u Unit) String() string {
	if u < NumUnits {
		return unitNames[u]
	}
	return fmt.Sprintf("Unit(%d)", int(u))
}

// Op is an instruction's operation.
type Op uint8

// Operations.
const (
	// OpLoad copies a 2-D region of DRAM (Rows rows of RowBytes bytes, Stride bytes apart)
	// into contiguous SRAM.
	OpLoad Op = iota
	// OpStore copies contiguous SRAM into a 2-D region of DRAM.
	OpStore
	// OpGEMM multiplies an M x K tile by a K x N tile on the MAC array into an M x N
	// accumulator tile, adding to it when Accumulate is set.
	OpGEMM
	// OpVector applies an element-wise or reducing vector operation.
	OpVector
	NumOps
)

var opNames = [...]string{"load", "store", "gemm", "vector"}

func (o Op) String() string {
	if o < NumOps {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Unit returns the unit that executes o.
func (o Op) Unit() Unit {
	switch o {
	case OpLoad, OpStore:
		return UnitDMA
	case OpGEMM:
		return UnitMAC
	}
	return UnitVector
}

// TensorClass is what a tensor holds; the simulator's ledger charges every byte moved
// to the class of the tensor it belongs to.
type TensorClass uint8

// Tensor classes. ClassNone marks energy that moves no tensor (arithmetic, leakage).
const (
	ClassWeights TensorClass = iota
	ClassMasterWeights
	ClassActivations
	ClassErrors
	ClassGradients
	ClassOptimizerState
	ClassOther
	ClassNone
	NumClasses
)

var classNames = [...]string{"weights", "master_weights", "activations", "errors", "gradients", "optimizer_state", "other", "none"}

func (c TensorClass) String() string {
	if c < NumClasses {
		return classNames[c]
	}
	return fmt.Sprintf("TensorClass(%d)", int(c))
}

// ParseTensorClass is the inverse of TensorClass.String.
func ParseTensorClass(s string) (TensorClass, error) {
	for i, n := range classNames {
		if n == s {
			return TensorClass(i), nil
		}
	}
	return 0, fmt.Errorf("unknown tensor class %q", s)
}

// Format is the number format of a GEMM's operands or of a vector operation.
type Format uint8

// Formats. Integer widths are carried separately in bits.
const (
	FormatInt Format = iota
	FormatFP32
	FormatFP16
	FormatBF16
	// FormatFP8 is FP8 training's 8-bit floats (E4M3 and E5M2 on one MAC mode).
	FormatFP8
	NumFormats
)

var formatNames = [...]string{"int", "fp32", "fp16", "bf16", "fp8"}

func (f Format) String() string {
	if f < NumFormats {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat reads "int", "fp32", "fp16", "bf16" or "fp8".
func ParseFormat(s string) (Format, error) {
	for i, n := range formatNames {
		if n == s {
			return Format(i), nil
		}
	}
	return 0, fmt.Errorf("unknown number format %q (want int, fp32, fp16, bf16 or fp8)", s)
}

// Bits returns the width of a float format (0 for FormatInt).
func (f Format) Bits() int {
	switch f {
	case FormatFP32:
		return 32
	case FormatFP16, FormatBF16:
		return 16
	case FormatFP8:
		return 8
	}
	return 0
}

// VectorOp is the operation of an OpVector instruction.
type VectorOp uint8

// Vector operations. OpsPerElement gives the elementary lane operations each costs.
const (
	// VRequant shifts int32 (or float) accumulators to the output format, applies the
	// layer's fused activation, saturates and records the tensor's max for the next
	// step's scale.
	VRequant VectorOp = iota
	// VReLU applies a ReLU that could not be fused into a requantisation.
	VReLU
	// VReLUBackward masks an error tensor by the saved activation's sign.
	VReLUBackward
	// VMaxPool and VAvgPool reduce windows; their backward ops scatter errors back.
	VMaxPool
	VMaxPoolBackward
	VAvgPool
	VAvgPoolBackward
	// VSoftmaxXent computes the loss and the logits' error.
	VSoftmaxXent
	// VUpdate applies a weight update to a tile: integer (round and saturate onto the
	// b-bit grid) or float (SGD, with momentum when the tile carries optimizer state).
	VUpdate
	// VBiasGrad reduces an error tile over positions into bias gradients.
	VBiasGrad
	// VGradStat accumulates a statistic of gradient accumulators: mean(|lr*g|) for
	// RCT's precision controller, max |g| for NITI's next normalisation shift; under
	// RCT's momentum it reads the momentum buffer instead (A of class
	// ClassOptimizerState): mean(|acc|), the update the weights take.
	VGradStat
	// VControl is the controller's per-layer decision (a handful of scalar operations).
	VControl
	// VConvert moves a weight tile to a new bitwidth (shift left, or round away LSBs),
	// or weights to activations (an embedding's gathered rows).
	VConvert
	// VAdd adds two tensors element-wise (residual connections).
	VAdd
	// VCopy copies a tensor (keeping a residual branch's error for later).
	VCopy

	// Normalisation (kernels/norm.go). Statistics, gradient sums and coefficients live
	// in per-channel (batch normalisation) or per-position (layer normalisation)
	// records of 32-bit fields; an operand that reads records is the records of the
	// channels or positions its chunk covers.

	// VNormStats accumulates the sum and the sum of squares of its input into records.
	VNormStats
	// VNormScale turns records into other records, one element per channel or
	// position: mean and inverse standard deviation from the sums, the folded scale and
	// shift of batch normalisation, the running statistics, the weight gradients and the
	// backward coefficients.
	VNormScale
	// VNormApply is batch normalisation's forward: y = a*x + b with the scale a and
	// shift b folded per channel, then requantised as VRequant does (with the fused
	// activation).
	VNormApply
	// VNormGradStats accumulates batch normalisation's per-channel sums of dy and dy*x,
	// from which VNormScale derives the gradients of the scale and shift.
	VNormGradStats
	// VNormBackward is batch normalisation's backward data with the per-channel
	// coefficients folded: dx = a*dy + k1*x + k0, requantised.
	VNormBackward
	// VLayerNormApply is layer normalisation's forward:
	// y = gamma*(x - mean)*rstd + beta, requantised.
	VLayerNormApply
	// VLayerNormWGrad accumulates layer normalisation's per-channel sums of dy*x_hat and
	// dy (the gradients of its scale and shift), recomputing x_hat.
	VLayerNormWGrad
	// VLayerNormDGradStats accumulates, per position, the sums of g = gamma*dy and
	// g*x_hat that layer normalisation's backward data needs.
	VLayerNormDGradStats
	// VLayerNormBackward is layer normalisation's backward data:
	// dx = rstd*(g - mean(g) - x_hat*mean(g*x_hat)), requantised.
	VLayerNormBackward

	// Attention (kernels/attention.go).

	// VSoftmax turns a tile of attention scores (whole rows: every key of each query)
	// into probabilities: the 1/sqrt(dh) scaling, then max, subtract, exponential, sum
	// and normalise per row, rounded to the output format.
	VSoftmax
	// VSoftmaxCausal is VSoftmax with the causal mask (scores of later keys dropped).
	VSoftmaxCausal
	// VSoftmaxBackward turns the error of the probabilities into the error of the
	// scores, dS = P*(dP - sum(dP*P)) scaled by 1/sqrt(dh), reading the saved
	// probabilities as its second operand, requantised.
	VSoftmaxBackward

	// NITI's update (numerics.UpdateNITI), three passes over a tile.

	// VNITIAccumulate normalises gradient accumulators (A) to mu bits with
	// pseudo-stochastic rounding and subtracts them from the int16 update buffer (B,
	// written back to C).
	VNITIAccumulate
	// VNITICarry adds the buffer's (A) whole grid steps to the int8 weights (B, written
	// back to C), saturating.
	VNITICarry
	// VNITIRemainder leaves in the buffer (A, written back to C) what is below half a
	// grid step.
	VNITIRemainder

	// RCT's integer momentum (numerics.MomentumAccumulate, MomentumApply), two passes
	// over a tile; the controller's statistic (VGradStat) reads the buffer between them.

	// VMomentumAccumulate rescales the int16 momentum buffer (B, written back to C) to
	// the weights' grid, decays it and adds the update of gradient accumulators (A).
	VMomentumAccumulate
	// VMomentumApply adds the buffer's (A) update, rounded to whole grid steps, to the
	// weights (B, written back to C), saturating.
	VMomentumApply
	NumVectorOps
)

var vectorOpNames = [...]string{"requant", "relu", "relu_bwd", "maxpool", "maxpool_bwd", "avgpool", "avgpool_bwd",
	"softmax_xent", "update", "bias_grad", "grad_stat", "control", "convert", "add", "copy",
	"norm_stats", "norm_scale", "norm_apply", "norm_grad_stats", "norm_bwd",
	"layernorm_apply", "layernorm_wgrad", "layernorm_dgrad_stats", "layernorm_bwd",
	"softmax", "softmax_causal", "softmax_bwd", "niti_accumulate", "niti_carry", "niti_remainder",
	"momentum_accumulate", "momentum_apply"}

func (v VectorOp) String() string {
	if v < NumVectorOps {
		return vectorOpNames[v]
	}
	return fmt.Sprintf("VectorOp(%d)", int(v))
}

// ParseVectorOp is the inverse of VectorOp.String.
func ParseVectorOp(s string) (VectorOp, error) {
	for i, n := range vectorOpNames {
		if n == s {
			return VectorOp(i), nil
		}
	}
	return 0, fmt.Errorf("unknown vector op %q", s)
}

// SRAMRef is a region of an on-chip buffer.
type SRAMRef struct {
	Buffer int // index into Program.Buffers
	Offset int64
	Bytes  int64
}

// End is the first byte after the region.
func (r SRAMRef) End() int64 { return r.Offset + r.Bytes }

// Operand is one SRAM operand of a GEMM or vector instruction.
type Operand struct {
	SRAMRef
	Class TensorClass
	// Bits is the element width as stored (packed for integer weights).
	Bits int
}

// Instr is one instruction. Fields not used by its Op are zero.
type Instr struct {
	Op    Op
	Phase models.Phase
	// Layer is the index of the network layer the instruction serves, -1 for none.
	Layer int32
	// Deps lists earlier instructions (indices into the Program) that must complete
	// before this one issues.
	Deps []int32

	// DMA (OpLoad, OpStore): the DRAM side is Rows rows of RowBytes bytes starting at
	// Addr and Stride bytes apart; the SRAM side is A, contiguous. A gather (Gather set)
	// moves Rows rows of a table whose rows are Stride bytes apart, chosen by indices
	// the data holds (an embedding lookup): which rows is not known when compiling.
	Tensor   int32 // index into Program.Tensors
	Addr     uint64
	Rows     int64
	RowBytes int64
	Stride   int64
	Gather   bool

	// GEMM: C[M x N] (+)= A[M x K] * B[K x N]. A and B are read, C is written (and read
	// when Accumulate). WeightBits/ActBits give the integer operand widths of B and A
	// when Format is FormatInt.
	M, N, K    int64
	Format     Format
	WeightBits int
	ActBits    int
	Accumulate bool
	// Conv is the GEMM as the convolution it computes (its MACs are M*N*K), zero when
	// it is no convolution: a row stationary array maps the convolution itself (a
	// GEMM without one as hw.GEMMConv), the systolic dataflows only M, N and K. A
	// weight layer's tiles are convolutions in all three passes: forward (N images or
	// 1 image's E rows, M output channels, C input channels), backward-data (the error
	// convolved with the flipped filters: M input channels, C output channels) and
	// backward-weight (the input convolved with the error: N input channels, M output
	// channels, C images, the error's R rows and S columns as the filter, the kernel's
	// E x F as the output, D the layer's stride).
	Conv hw.Conv

	// Vector: VOp over Elems elements, in Format (for FormatInt, at Bits-wide lanes).
	VOp   VectorOp
	Elems int64
	Bits  int

	// Operands. Loads write A; stores read A; GEMMs read A and B and write C; vector
	// ops read A (and B when present) and write C (when present).
	A, B, C Operand

	// Fn describes the operands' contents for functional execution (nil unless the
	// program was compiled with Options.Functional; on GEMMs, vector instructions and
	// gathers and scatters).
	Fn *FuncDesc
}

// Unit returns the unit that executes the instruction.
func (in *Instr) Unit() Unit { return in.Op.Unit() }

// Bytes is the DRAM bytes a DMA instruction moves.
func (in *Instr) Bytes() int64 {
	if in.Op == OpLoad || in.Op == OpStore {
		return in.Rows * in.RowBytes
	}
	return 0
}

// MACs is the multiply-accumulates of a GEMM instruction.
func (in *Instr) MACs() int64 {
	if in.Op == OpGEMM {
		return in.M * in.N * in.K
	}
	return 0
}

// OpsPerElement is the elementary lane operations a vector op performs per element:
// part of the instruction's definition, from the arithmetic each implements (see
// semantics in the package documentation of each op).
func (v VectorOp) OpsPerElement() int64 {
	switch v {
	case VRequant:
		return 4 // shift, round, saturate, max-track (activation folded into saturate)
	case VReLU:
		return 1 // max with zero
	case VReLUBackward:
		return 2 // compare, select
	case VMaxPool, VAvgPool:
		return 1 // one compare or add per input element
	case VMaxPoolBackward, VAvgPoolBackward:
		return 2 // compare/scale, scatter
	case VSoftmaxXent:
		return 8 // max, subtract, exp, sum, divide, subtract one-hot, log, accumulate
	case VUpdate:
		return 3 // scale, add (rounding onto the grid), saturate
	case VBiasGrad, VGradStat:
		return 2
	case VControl:
		return 8
	case VConvert:
		return 2 // shift, round
	case VAdd:
		return 2 // add, saturate
	case VCopy:
		return 1
	case VNormStats, VNormGradStats:
		return 3 // multiply, and two accumulating adds
	case VNormScale:
		return 8 // per record: divide, multiply-subtract, reciprocal square root, fold (a few each)
	case VNormApply:
		return 5 // multiply, add, round, saturate, max-track
	case VNormBackward:
		return 7 // two multiplies, two adds, round, saturate, max-track
	case VLayerNormApply:
		return 7 // subtract, two multiplies, add, round, saturate, max-track
	case VLayerNormWGrad:
		return 5 // x_hat (subtract, multiply), multiply, two accumulating adds
	case VLayerNormDGradStats:
		return 6 // x_hat (2), g = gamma*dy, g*x_hat, two accumulating adds
	case VLayerNormBackward:
		return 10 // x_hat (2), g, subtract mean(g), multiply-subtract (2), multiply by rstd, round, saturate, max-track
	case VSoftmax:
		return 7 // scale, max, subtract, exponential, sum, normalise, round
	case VSoftmaxCausal:
		return 8 // VSoftmax and the mask's select
	case VSoftmaxBackward:
		return 8 // dP*P, row sum, subtract, multiply by P, scale, round, saturate, max-track
	case VNITIAccumulate:
		return 5 // shift, compare the halves of the discarded bits (the rounding), clip, subtract, saturate
	case VNITICarry:
		return 3 // round-shift, add, saturate
	case VNITIRemainder:
		return 2 // round-shift, subtract
	case VMomentumAccumulate:
		return 7 // rescale shift, decay (shift, subtract), scale the gradient, round-shift, add, saturate
	case VMomentumApply:
		return 3 // round-shift, add, saturate
	}
	return 1
}

// Tensor is a tensor resident in DRAM.
type Tensor struct {
	Name  string
	Class TensorClass
	Layer int32 // -1 when not tied to a layer
	Addr  uint64
	Bytes int64
	Bits  int // element width as stored
}

// Buffer is an on-chip buffer a Program uses, by its profile name.
type Buffer struct {
	Name     string
	Capacity int64
}

// Program is a compiled training step (or inference pass): instructions in program
// order, the DRAM tensors they touch and the SRAM buffers they use. Instructions are
// added with Append and read with Len and Instr (or All); they are stored compactly
// (see store.go), so a Program is not copied by value.
type Program struct {
	Model   string
	Profile string
	Method  numerics.Method
	Batch   int
	Tensors []Tensor
	Buffers []Buffer
	// Footprint is the DRAM bytes held per tensor class for the whole step.
	Footprint [NumClasses]int64

	code       [][]code       // in chunks (see codeChunk)
	n          int            // instructions
	shapes     [][]instrShape // in chunks (see shapeChunk)
	numShapes  int
	shapeIndex map[uint64]uint32 // shapes by hash, while appending (see shapeKey)
	// recent holds, by a quick hash of a few fields, the last shape appended with
	// that hash (1 + its index; 0 for none): a step repeats a few shapes in turn,
	// and comparing a shape costs much less than hashing it all for shapeIndex.
	recent *[recentShapes]uint32
	deps   []int32 // every instruction's Deps, one after another
	fns    []*FuncDesc
}

// MACs is the total multiply-accumulates of the program.
func (p *Program) MACs() int64 {
	var s int64
	for i := range p.n {
		if sh := p.shape(p.at(i).shape); sh.Op == OpGEMM {
			s += sh.M * sh.N * sh.K
		}
	}
	return s
}

// Limits of programs, which Validate enforces and the compiler respects. They keep
// every product and sum the simulator forms (MACs times a slow mode's cycles per MAC,
// elements times bits, folds times cycles per fold, the totals of a run) inside an
// int64, and the DRAM requests it holds for one transfer (one per burst) bounded. A
// training step of an edge model is many orders of magnitude below each.
const (
	// MaxDMABytes and MaxDMARows bound one load or store; the compiler splits larger
	// regions into several.
	MaxDMABytes = 1 << 26
	MaxDMARows  = 1 << 20
	// MaxGEMMDim bounds each of M, N and K of one GEMM.
	MaxGEMMDim = 1 << 32
	// MaxMACs bounds the multiply-accumulates of a program, and so of each GEMM.
	MaxMACs = 1 << 50
	// MaxVectorElems bounds the elements of a program's vector instructions, summed.
	MaxVectorElems = 1 << 50
)

// InstrError is a Program.Validate failure at one instruction, with the field at fault
// in the program dump's terms ("rows", "m", "wbits", "a", "deps"; "" for the
// instruction as a whole), so that a dump's reader can name its line and key.
type InstrError struct {
	Index int
	Op    Op
	Field string
	Err   error
}

func (e *InstrError) Error() string {
	return fmt.Sprintf("instruction %d (%s): %v", e.Index, e.Op, e.Err)
}

func (e *InstrError) Unwrap() error { return e.Err }

// Validate checks the structural rules the simulator relies on: dependencies point
// backwards, operands lie inside their buffers, DMA regions inside their tensors,
// every size within the limits above (with checked arithmetic: a product that would
// wrap is an error, not a small number), integer operands at least one bit wide. An
// error about an instruction is an *InstrError.
func (p *Program) Validate() error {
	for i, b := range p.Buffers {
		if b.Capacity <= 0 {
			return fmt.Errorf("buffer %d (%s): capacity %d is not positive", i, b.Name, b.Capacity)
		}
	}
	for i, t := range p.Tensors {
		if t.Bytes < 0 || t.Addr > MaxDRAMBytes || uint64(t.Bytes) > MaxDRAMBytes-t.Addr {
			return fmt.Errorf("tensor %d (%s): [%#x, +%d bytes) is not within the 2^50 bytes of DRAM a program may span", i, t.Name, t.Addr, t.Bytes)
		}
	}
	// A shape's own checks are made at its first instruction, in the order below;
	// later instructions of a shape that passed them need only the checks of their
	// own fields (dependencies, a transfer's DRAM region) and of the program's totals,
	// which come in the same order, so the first error is the same either way.
	// Instructions are checked from their stored parts, without being written out.
	checked := make([]bool, p.numShapes)
	var macs, elems int64
	for i := range p.n {
		c := p.at(i)
		if err := p.validateInstr(i, p.shape(c.shape), p.Deps(i), c.addr, checked[c.shape], &macs, &elems); err != nil {
			return err
		}
		checked[c.shape] = true
	}
	return nil
}

// instrAt makes instruction Index's *InstrError.
type instrAt struct {
	Index int
	Op    Op
}

func (at instrAt) bad(field, format string, args ...any) error {
	return &InstrError{Index: at.Index, Op: at.Op, Field: field, Err: fmt.Errorf(format, args...)}
}

// validateInstr is Validate's check of instruction i, of shape in, dependencies deps
// and DRAM address addr, adding its multiply-accumulates and vector elements to the
// program's; known skips the checks of its shape, which an earlier instruction of
// the same shape passed.
func (p *Program) validateInstr(i int, in *instrShape, deps []int32, addr uint64, known bool, macs, elems *int64) error {
	if !known && in.Op >= NumOps {
		return fmt.Errorf("instruction %d: unknown op %d", i, in.Op)
	}
	at := instrAt{i, in.Op}
	for _, d := range deps {
		if d < 0 || int(d) >= i {
			return at.bad("deps", "dependency %d does not precede it", d)
		}
	}
	if !known {
		for j, o := range in.operands() {
			field := [...]string{"a", "b", "c"}[j]
			if o.Bits < 0 || o.Bits > 64 {
				return at.bad(field, "operand of %d bits (want 0..64)", o.Bits)
			}
			if o.Bytes == 0 {
				continue
			}
			if o.Buffer < 0 || o.Buffer >= len(p.Buffers) {
				return at.bad(field, "buffer %d does not exist", o.Buffer)
			}
			if capacity := p.Buffers[o.Buffer].Capacity; o.Offset < 0 || o.Bytes < 0 || o.Offset > capacity || o.Bytes > capacity-o.Offset {
				return at.bad(field, "SRAM region [%d, +%d bytes) outside buffer %s of %d bytes",
					o.Offset, o.Bytes, p.Buffers[o.Buffer].Name, capacity)
			}
		}
	}
	switch in.Op {
	case OpLoad, OpStore:
		if err := p.validateDMA(in, addr, at); err != nil {
			return err
		}
	case OpGEMM:
		if !known {
			if err := validateGEMM(in, at); err != nil {
				return err
			}
		}
		n := in.M * in.N * in.K
		if n > MaxMACs-*macs {
			return at.bad("m", "the program's multiply-accumulates pass 2^50")
		}
		*macs += n
	case OpVector:
		switch {
		case known:
		case in.VOp >= NumVectorOps:
			return at.bad("op", "unknown vector op %d", in.VOp)
		case in.Elems <= 0:
			return at.bad("elems", "%d elements (want at least 1)", in.Elems)
		}
		if in.Elems > MaxVectorElems-*elems {
			return at.bad("elems", "the program's vector elements pass 2^50")
		}
		switch {
		case known:
		case in.Format >= NumFormats:
			return at.bad("format", "unknown format %d", in.Format)
		case in.Format == FormatInt && (in.Bits < 1 || in.Bits > 64):
			return at.bad("bits", "integer lanes of %d bits (want 1..64)", in.Bits)
		}
	}
	*elems += in.Elems
	return nil
}

// validateDMA checks a load or store: a region of at most MaxDMARows rows and
// MaxDMABytes bytes inside its tensor, as many SRAM bytes as DRAM bytes.
func (p *Program) validateDMA(in *instrShape, addr uint64, at instrAt) error {
	bad := at.bad
	if in.Tensor < 0 || int(in.Tensor) >= len(p.Tensors) {
		return bad("tensor", "tensor %d does not exist", in.Tensor)
	}
	t := &p.Tensors[in.Tensor]
	switch {
	case in.Rows <= 0 || in.RowBytes <= 0 || in.Stride < 0:
		return bad("rows", "empty or negative region")
	case in.Rows > MaxDMARows:
		return bad("rows", "%d rows; one transfer moves at most %d", in.Rows, MaxDMARows)
	case in.RowBytes > MaxDMABytes/in.Rows:
		// Rows*RowBytes, checked: a product that wraps (to 0, say) must not pass as small.
		return bad("rowbytes", "%d rows of %d bytes; one transfer moves at most %d bytes", in.Rows, in.RowBytes, MaxDMABytes)
	case in.Stride > MaxDRAMBytes:
		return bad("stride", "stride %d beyond the 2^50 bytes of DRAM a program may span", in.Stride)
	}
	// (Rows-1)*Stride may reach 2^70 within the limits above: compare it with the room
	// the tensor leaves by division, never by a product that could wrap.
	end := t.Addr + uint64(t.Bytes)
	if addr < t.Addr || addr > end {
		return bad("addr", "DRAM address %#x outside tensor %s [%#x, %#x)", addr, t.Name, t.Addr, end)
	}
	room := end - addr
	if in.Gather {
		// Any row of the table may be touched: the table must hold whole rows.
		if in.Stride <= 0 || in.RowBytes > in.Stride || addr != t.Addr || uint64(in.Stride) > room {
			return bad("stride", "gather of %d-byte rows %d apart from %s", in.RowBytes, in.Stride, t.Name)
		}
	} else if uint64(in.RowBytes) > room || in.Rows > 1 && uint64(in.Stride) > 0 && uint64(in.Rows-1) > (room-uint64(in.RowBytes))/uint64(in.Stride) {
		return bad("rows", "DRAM region of %d rows of %d bytes, %d apart, from %#x runs past tensor %s [%#x, %#x)",
			in.Rows, in.RowBytes, in.Stride, addr, t.Name, t.Addr, end)
	}
	if in.A.Bytes != in.Rows*in.RowBytes {
		return bad("a", "moves %d DRAM bytes but %d SRAM bytes", in.Rows*in.RowBytes, in.A.Bytes)
	}
	return nil
}

// validateGEMM checks a GEMM's shape (checked: M*N*K must not wrap), its format and
// its operands; integer operands are at least one bit wide, or the chip would run them
// in its narrowest mode.
func validateGEMM(in *instrShape, at instrAt) error {
	bad := at.bad
	for _, d := range []struct {
		field string
		v     int64
	}{{"m", in.M}, {"n", in.N}, {"k", in.K}} {
		if d.v <= 0 || d.v > MaxGEMMDim {
			return bad(d.field, "%s=%d (want 1..2^32)", strings.ToUpper(d.field), d.v)
		}
	}
	// M*N*K checked by division: 2^32 * 2^32 already wraps an int64 to 0.
	if in.M > MaxMACs/in.N || in.M*in.N > MaxMACs/in.K {
		return bad("m", "%dx%dx%d is more than 2^50 multiply-accumulates in one instruction", in.M, in.N, in.K)
	}
	if in.Format >= NumFormats {
		return bad("format", "unknown format %d", in.Format)
	}
	if in.Format == FormatInt {
		if in.WeightBits < 1 || in.WeightBits > 64 {
			return bad("wbits", "integer weights of %d bits (want 1..64)", in.WeightBits)
		}
		if in.ActBits < 1 || in.ActBits > 64 {
			return bad("abits", "integer activations of %d bits (want 1..64)", in.ActBits)
		}
	}
	for j, o := range in.operands() {
		if o.Bytes <= 0 || o.Bits < 1 {
			return bad(string(rune('a'+j)), "a GEMM reads A and B and writes C: operand %c is empty or has no width", 'A'+j)
		}
	}
	if c := in.Conv; c != (hw.Conv{}) {
		switch {
		case !c.Valid():
			return bad("conv", "convolution %+v has a dimension below 1", c)
		case c.MACs() != in.M*in.N*in.K:
			return bad("conv", "convolution of %d MACs for a %dx%dx%d GEMM", c.MACs(), in.M, in.N, in.K)
		}
	}
	return nil
}

func (in *instrShape) operands() [3]Operand { return [3]Operand{in.A, in.B, in.C} }
