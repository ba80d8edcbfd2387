package hw

import (
	"errors"
	"fmt"
	"math"
)

// GEMM is a matrix product in the terms of SCALE-Sim: M output rows (output pixels times
// batch), N output columns (filters) and K the reduction (the convolution window).
type GEMM struct{ M, N, K int64 }

// MACs returns M*N*K.
func (g GEMM) MACs() int64 { return g.M * g.N * g.K }

// FoldTiming is how a GEMM maps onto the array.
type FoldTiming struct {
	Folds         int64 // row folds x column folds
	CyclesPerFold int64
	Cycles        int64 // Folds x CyclesPerFold
	// MappedMACs is the number of PE-cycles doing useful work: the GEMM's MACs divided
	// by the mode's MACs per PE per cycle.
	MappedMACs int64
}

// Timing returns the compute cycles of g on the array in mode, with ideal memory.
//
// The rule is SCALE-Sim v2's: the operand matrices are cut into folds of rows x cols
// PEs, and each fold takes the rows of its demand matrix, fill and drain included:
//
//	os: Sr=M, Sc=N, T=K, per fold T + R + C - 2
//	ws: Sr=K, Sc=N, T=M, per fold 2R + C + T - 2
//	is: Sr=K, Sc=M, T=N, per fold 2R + C + T - 2
//
// with ceil(Sr/R) x ceil(Sc/C) folds. SCALE-Sim's COMPUTE_REPORT prints the index of the
// last cycle, one less than this count.
//
// A mode packing p > 1 products per PE per cycle shortens the reduction to ceil(K/p); a
// mode taking k cycles per product (p = 1/k) multiplies every cycle by k.
//
// A row stationary array (rs) runs g as the 1x1 convolution GEMMConv(g), with partial
// sums at the accumulator's width: a fold is then one of its passes (RowStationary).
func (m *MACArraySpec) Timing(g GEMM, mode MACMode) FoldTiming {
	if g.M <= 0 || g.N <= 0 || g.K <= 0 {
		return FoldTiming{}
	}
	if m.Dataflow == RowStationary {
		c := m.RowStationary(GEMMConv(g), mode, m.AccumulatorBits, false)
		return FoldTiming{Folds: c.Passes, CyclesPerFold: c.PassCycles, Cycles: c.Cycles, MappedMACs: c.MappedPECycles}
	}
	pack, stretch := mode.packing()
	k := ceilDiv(g.K, pack)
	R, C := int64(m.Rows), int64(m.Cols)
	var sr, sc, t, perFold int64
	switch m.Dataflow {
	case WeightStationary:
		sr, sc, t = k, g.N, g.M
		perFold = 2*R + C + t - 2
	case InputStationary:
		sr, sc, t = k, g.M, g.N
		perFold = 2*R + C + t - 2
	default:
		sr, sc, t = g.M, g.N, k
		perFold = t + R + C - 2
	}
	folds := ceilDiv(sr, R) * ceilDiv(sc, C)
	perFold *= stretch
	return FoldTiming{
		Folds:         folds,
		CyclesPerFold: perFold,
		Cycles:        folds * perFold,
		MappedMACs:    g.M * g.N * k * stretch,
	}
}

// PeakMACsPerCycle is rows x cols x the mode's MACs per PE per cycle.
func (m *MACArraySpec) PeakMACsPerCycle(mode MACMode) float64 {
	return float64(m.Rows*m.Cols) * mode.MACsPerPEPerCycle
}

// packing splits MACsPerPEPerCycle into an integer packing factor (>= 1) and an
// integer slow-down factor (>= 1); validation guarantees one of them is 1.
func (mode MACMode) packing() (pack, stretch int64) {
	p := mode.MACsPerPEPerCycle
	if p >= 1 {
		return int64(math.Round(p)), 1
	}
	return 1, int64(math.Round(1 / p))
}

// IsFloat reports whether the mode is a float format.
func (mode MACMode) IsFloat() bool { return mode.Float != "" }

// String names the mode: "8x8" (weight x activation bits) or "fp32".
func (mode MACMode) String() string {
	if mode.IsFloat() {
		return mode.Float
	}
	return fmt.Sprintf("%dx%d", mode.WeightBits, mode.ActBits)
}

// ErrUnsupportedMode is what every *UnsupportedModeError is, for errors.Is: a caller
// that only asks whether the chip lacks a mode (a sweep classifying a failed point, a
// test skipping a method the chip cannot run) need not name the type.
var ErrUnsupportedMode = errors.New("unsupported MAC mode")

// UnsupportedModeError says that a chip cannot run an operand format at all.
type UnsupportedModeError struct {
	Profile   string
	Requested string
	Available []string
}

func (e *UnsupportedModeError) Error() string {
	return fmt.Sprintf("profile %s has no MAC mode for %s operands (it supports %v)", e.Profile, e.Requested, e.Available)
}

// Is reports whether target is ErrUnsupportedMode.
func (e *UnsupportedModeError) Is(target error) bool { return target == ErrUnsupportedMode }

// floatWidth orders float formats by width; fp16 and bf16 both widen to fp32. fp8 (the
// E4M3 and E5M2 operands of FP8 training, one mode for both) widens to nothing: a
// product of 8-bit floats on 16-bit float units is another method, so a chip without
// an fp8 mode refuses it.
var floatWidth = map[string]int{"fp8": 8, "fp16": 16, "bf16": 16, "fp32": 32}

// FloatFormats lists the float formats a MAC mode may name.
var FloatFormats = []string{"fp32", "fp16", "bf16", "fp8"}

// IntMode returns the mode an integer product of weightBits x actBits runs in: the
// supported integer mode at least that wide on both operands with the fewest operand
// bits (ties: the cheaper one). The chip never runs an operand pair for free; if no mode
// is wide enough the error names what the chip has. Operands narrower than one bit are
// no operands at all: they are refused, not run in the narrowest mode.
func (p *Profile) IntMode(weightBits, actBits int) (MACMode, error) {
	if weightBits < 1 || actBits < 1 {
		return MACMode{}, fmt.Errorf("integer operands of %dx%d bits: weights and activations need at least one bit", weightBits, actBits)
	}
	best := -1
	for i, mode := range p.MACArray.Modes {
		if mode.IsFloat() || mode.WeightBits < weightBits || mode.ActBits < actBits {
			continue
		}
		if best < 0 || narrowerOrCheaper(mode, p.MACArray.Modes[best]) {
			best = i
		}
	}
	if best < 0 {
		return MACMode{}, p.unsupported(fmt.Sprintf("%dx%d", weightBits, actBits))
	}
	return p.MACArray.Modes[best], nil
}

func narrowerOrCheaper(a, b MACMode) bool {
	wa, wb := a.WeightBits*a.ActBits, b.WeightBits*b.ActBits
	if wa != wb {
		return wa < wb
	}
	return a.EnergyPerMACPJ < b.EnergyPerMACPJ
}

// FloatMode returns the mode a float product of format runs in: that format, or the next
// wider one the chip has (fp16 and bf16 widen to fp32); fp8 runs only on an fp8 mode.
func (p *Profile) FloatMode(format string) (MACMode, error) {
	want, ok := floatWidth[format]
	if !ok {
		return MACMode{}, fmt.Errorf("unknown float format %q (want fp32, fp16, bf16 or fp8)", format)
	}
	best := -1
	for i, mode := range p.MACArray.Modes {
		if !mode.IsFloat() {
			continue
		}
		w := floatWidth[mode.Float]
		if w < want || (w == want && mode.Float != format) || (format == "fp8" && mode.Float != "fp8") {
			continue
		}
		if best < 0 || w < floatWidth[p.MACArray.Modes[best].Float] {
			best = i
		}
	}
	if best < 0 {
		return MACMode{}, p.unsupported(format)
	}
	return p.MACArray.Modes[best], nil
}

func (p *Profile) unsupported(requested string) error {
	var have []string
	for _, mode := range p.MACArray.Modes {
		have = append(have, mode.String())
	}
	return &UnsupportedModeError{Profile: p.Name, Requested: requested, Available: have}
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
