package numerics

import (
	"fmt"
	"strconv"
	"strings"
)

// Method is a training method.
type Method string

// Training methods (see ARCHITECTURE.md, "The method being simulated").
const (
	// RCT keeps only integer weights of b_l bits per layer, int8 activations and errors,
	// integer GEMMs in all three GEMM phases and an integer update on the vector unit.
	RCT Method = "rct"
	// QAT keeps fp32 master weights and a b-bit quantised copy for the GEMMs, runs the
	// GEMMs in the chip's training float format and updates the master copy in fp32.
	QAT Method = "qat"
	// FP32 is plain fp32 training.
	FP32 Method = "fp32"
	// NITI is NITI-style integer training (Wang et al., arXiv 2009.13108): int8
	// weights, activations and errors, int32 accumulation, no dynamic bitwidth; each
	// weight's update is normalised to a few bits with pseudo-stochastic rounding and
	// accumulated in an int16 buffer that carries whole grid steps into the weight
	// (UpdateNITI). The buffer is state kept in memory between steps.
	NITI Method = "niti"
	// FP8 is FP8 mixed-precision training (Micikevicius et al., arXiv 2209.05433):
	// fp32 master weights with an E4M3 copy for the GEMMs, E4M3 activations and E5M2
	// errors with per-tensor power-of-two scales, GEMMs on the chip's fp8 mode with
	// fp32 accumulation, SGD with momentum in fp32.
	FP8 Method = "fp8"
)

// DefaultQATBits is QAT's fake-quantisation width when a plan gives none.
const DefaultQATBits = 8

// Methods lists the methods in a stable order.
var Methods = []Method{RCT, QAT, FP32, NITI, FP8}

// ParseMethod reads a method name.
func ParseMethod(s string) (Method, error) {
	for _, m := range Methods {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown method %q (want rct, qat, fp32, niti or fp8)", s)
}

// Integer reports whether the method trains on the integer path (int8 activations and
// errors, integer weights, integer GEMMs and update): RCT and NITI.
func (m Method) Integer() bool { return m == RCT || m == NITI }

// Master reports whether the method keeps fp32 master weights behind the copy its
// GEMMs read: QAT and FP8.
func (m Method) Master() bool { return m == QAT || m == FP8 }

// NITIBits is NITI's weight width: int8, fixed (no dynamic bitwidth).
const NITIBits = 8

// Plan is the precision of one training step.
type Plan struct {
	// Bits gives each weight layer's bitwidth, in network order: the integer weight
	// width for RCT, the fake-quantisation width for QAT; ignored by FP32 and FP8, and
	// 8 for NITI (which has no other). One value applies to every layer.
	Bits []int
	// NextBits, when set, are the bitwidths the precision controller chose for the next
	// step; layers whose width changes get a conversion pass in this step.
	NextBits []int
	// Control runs the precision controller's statistics and decision this step (RCT
	// runs it every `interval` steps).
	Control bool
}

// ParseBits reads "8" or "8,6,8,8,8".
func ParseBits(s string) ([]int, error) {
	var bits []int
	for _, f := range strings.Split(s, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b < 1 || b > 32 {
			return nil, fmt.Errorf("bad bitwidth %q in %q (want integers 1..32, e.g. 8 or 8,6,8,8,8)", f, s)
		}
		bits = append(bits, b)
	}
	return bits, nil
}

// String formats the bit list as ParseBits reads it.
func (p Plan) String() string {
	var b strings.Builder
	for i, v := range p.Bits {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(v))
	}
	return b.String()
}
