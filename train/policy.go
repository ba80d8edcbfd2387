// Precision policies: what decides the bitwidth of every weight layer as training goes.
//
// A policy is a plug-in behind one small interface (Policy) so that the trainer, the
// simulator and sweeps treat RCT's controller and the baselines it is compared with
// alike. Four kinds exist:
//
//   - rct: the RCT controller of ARCHITECTURE.md ("The method being simulated"). It is the
//     only policy that reads statistics: every Interval steps it looks at each layer's
//     Gavg and adds a bit (underflow), drops a bit (large updates) or keeps the width.
//   - fixed: one width for every layer and step (a NITI-like int8 baseline by default).
//   - cyclic: CPT's cosine precision cycle (Fu et al., ICLR 2021).
//   - progressive: FracTrain-style widths rising in equal stages (Fu et al., NeurIPS 2020).
//
// Step convention, shared by every policy and by the trainer: Start gives the widths of
// step 0; Next(s, ...) runs after step s has been trained and gives the widths of step
// s+1. The RCT controller runs after step s exactly when (s+1)%Interval == 0, so widths
// only change at steps that are multiples of Interval (50, 100, ... by default) and the
// statistics it reads are those of the last step of each interval.
//
// Policies are pure functions of their configuration and their inputs: no randomness,
// no hidden state, so one Policy value may serve several runs (or goroutines) at once.

package train

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// LayerStats is what a precision policy sees of one weight layer after a training step.
type LayerStats struct {
	// Gavg is mean(|lr*g|)/Δ over the layer's weights in the step: how many grid steps
	// (of the layer's weight step Δ) an average update would move. 0 when not measured.
	Gavg float64
}

// Decision records one policy decision about one layer. The RCT controller records a
// decision for every layer at every controller step, "keep" included, so the record
// shows every evaluation; schedule-driven policies (fixed, cyclic, progressive) record
// a decision only when a layer's width changes, since their widths follow from the step
// alone and the precision schedule already lists them step by step.
type Decision struct {
	Step     int // the step whose statistics were used (the new widths apply from Step+1)
	Layer    int // index among the weight layers
	From, To int // bitwidths before and after
	Gavg     float64
	// Reason starts with a fixed keyword so records can be grouped: "underflow",
	// "large updates", "keep" or "schedule"; details follow a colon, e.g.
	// "underflow: gavg 0.003 < t_min 0.05".
	Reason string
}

// Policy decides the bitwidth of every weight layer as training goes.
type Policy interface {
	// Name is the policy kind ("rct", "fixed", "cyclic", "progressive").
	Name() string
	// Start returns the bitwidths of the weight layers for step 0.
	Start(layers int) []int
	// NeedsStats reports whether Next uses the statistics of this step (the RCT
	// controller only every `interval` steps), so that the trainer computes Gavg only
	// then and the simulator compiles the controller's work only then.
	NeedsStats(step int) bool
	// Next is called after step `step` with that step's statistics (nil, or entries
	// with Gavg = 0, when NeedsStats was false) and the current bits; it returns the
	// bits for step+1 (a new slice; the input is not modified) and the decisions taken.
	// Statistics whose length differs from bits, or missing statistics at a step where
	// NeedsStats is true, are programmer errors and panic.
	Next(step int, bits []int, stats []LayerStats) ([]int, []Decision)
}

// Policy kinds accepted by PolicyConfig.Kind.
const (
	PolicyRCT         = "rct"
	PolicyFixed       = "fixed"
	PolicyCyclic      = "cyclic"
	PolicyProgressive = "progressive"
)

// PolicyKinds lists the policy kinds in a stable order (for help texts and sweeps).
var PolicyKinds = []string{PolicyRCT, PolicyFixed, PolicyCyclic, PolicyProgressive}

// Bounds on any weight width a policy may choose. Signed fixed point needs a sign bit
// and at least one magnitude bit, and the integer weights live in 32-bit words; these
// are also the widths kernels/ can compile.
const (
	PolicyMinBits = 2
	PolicyMaxBits = 32
)

// PolicyConfig selects and parameterises a policy. Each kind reads only its own
// fields; the others are ignored. Field names in error messages are the snake_case
// names the command line and sweep files use (t_min, max_bits, ...).
type PolicyConfig struct {
	Kind string // "rct", "fixed", "cyclic", "progressive"

	// rct controller (ARCHITECTURE.md): after every Interval-th step, per layer: Gavg < TMin
	// -> add a bit; Gavg > TMax -> drop a bit; the result is clamped to
	// [MinBits, MaxBits]. Every layer starts at StartBits. TMax may be +Inf (never drop).
	Interval   int
	TMin, TMax float64
	// MinBits and MaxBits bound the rct controller and are the two ends of the cyclic
	// and progressive schedules.
	MinBits, MaxBits int
	StartBits        int

	// fixed: Bits for every layer at every step (a NITI-like baseline).
	Bits int

	// cyclic (CPT): the period of one precision cycle, in steps. The CPT code sets it
	// to the run's length divided by the number of cycles (32 by default there).
	Period int

	// progressive (FracTrain-style): the run's length in steps, over which the widths
	// rise from MinBits to MaxBits in equal stages. Set it to the number of steps the
	// run trains; steps at or past TotalSteps stay at MaxBits.
	TotalSteps int
}

// Default policy parameters; DefaultPolicyConfig explains them.
const (
	DefaultRCTInterval   = 50
	DefaultRCTStartBits  = 8
	DefaultRCTMinBits    = 4
	DefaultRCTMaxBits    = 16
	DefaultRCTTMin       = 0.02
	DefaultRCTTMax       = 1.0
	DefaultFixedBits     = 8
	DefaultCyclicMinBits = 4
	DefaultCyclicMaxBits = 8
	DefaultCyclicPeriod  = 1000
	DefaultProgMinBits   = 4
	DefaultProgMaxBits   = 8
	DefaultProgSteps     = 5000
)

// DefaultPolicyConfig returns the defaults of one policy kind. An unknown kind gives a
// config with only Kind set, which NewPolicy rejects by name.
//
// rct: interval 50, start 8, range 4..16 (ARCHITECTURE.md); t_min = 0.02 and t_max = 1. The
// reasoning behind them:
//   - Gavg is the mean update in grid steps. With the default stochastic rounding an
//     update of x < 1 steps moves a weight one step with probability x, so Gavg is about
//     the fraction of weights that move per step, and the noise of each move is about
//     1/sqrt(x) times its signal. Below a few percent the layer's learning is dominated
//     by rounding noise (and with nearest rounding almost every update is lost): that
//     is underflow, and a bit is added (halving Δ doubles Gavg).
//   - Gavg > 1 means the average update spans more than a whole grid step: the grid is
//     finer than the updates need. After dropping a bit Gavg is still above 0.5, so
//     typical updates stay representable even under nearest rounding.
//   - One bit changes Gavg by a factor of 2, so t_max/t_min must exceed 2 or the
//     controller can flip a layer up and down at every evaluation. 1/0.02 = 50 leaves
//     between five and six bits of hysteresis for Gavg's drift between evaluations
//     (learning rate schedules, gradients shrinking as the loss falls).
//   - Measured on LeNet-5, MNIST, two epochs: t_min = 0.05 reached 98.27-98.61% test
//     accuracy at 10.4 bits on average; t_min = 0.02 reached 98.34-98.64% at 9.6-10.1
//     bits. A single step's Gavg is noisy (0.02-0.5 for the same layer), so widths
//     tend to ratchet upwards; the lower threshold adds bits less often.
//
// fixed: 8 bits, NITI's int8 weights. cyclic: 4..8 bits, a range CPT-style code uses for
// weights and activations (3..8 also appears), with a 1000-step period: CPT's code
// defaults to 32 cycles per run, which is 1000 steps for a 32k-step run. progressive:
// 4..8 bits over 5000 steps. The command line should set TotalSteps to the run's
// length, and may set a cyclic Period to the run's length over the cycles wanted.
func DefaultPolicyConfig(kind string) PolicyConfig {
	switch kind {
	case PolicyRCT:
		return PolicyConfig{Kind: kind, Interval: DefaultRCTInterval, TMin: DefaultRCTTMin, TMax: DefaultRCTTMax,
			MinBits: DefaultRCTMinBits, MaxBits: DefaultRCTMaxBits, StartBits: DefaultRCTStartBits}
	case PolicyFixed:
		return PolicyConfig{Kind: kind, Bits: DefaultFixedBits}
	case PolicyCyclic:
		return PolicyConfig{Kind: kind, MinBits: DefaultCyclicMinBits, MaxBits: DefaultCyclicMaxBits, Period: DefaultCyclicPeriod}
	case PolicyProgressive:
		return PolicyConfig{Kind: kind, MinBits: DefaultProgMinBits, MaxBits: DefaultProgMaxBits, TotalSteps: DefaultProgSteps}
	}
	return PolicyConfig{Kind: kind}
}

// String describes the policy and the parameters its kind uses, deterministically, for
// logs and result tables, e.g. "rct(interval=50,t_min=0.05,t_max=1,bits=4..16,start=8)".
func (c PolicyConfig) String() string {
	switch c.Kind {
	case PolicyRCT:
		return fmt.Sprintf("rct(interval=%d,t_min=%s,t_max=%s,bits=%d..%d,start=%d)",
			c.Interval, policyFloat(c.TMin), policyFloat(c.TMax), c.MinBits, c.MaxBits, c.StartBits)
	case PolicyFixed:
		return fmt.Sprintf("fixed(bits=%d)", c.Bits)
	case PolicyCyclic:
		return fmt.Sprintf("cyclic(bits=%d..%d,period=%d)", c.MinBits, c.MaxBits, c.Period)
	case PolicyProgressive:
		return fmt.Sprintf("progressive(bits=%d..%d,total_steps=%d)", c.MinBits, c.MaxBits, c.TotalSteps)
	}
	return fmt.Sprintf("%q", c.Kind)
}

// Validate checks the fields the config's kind uses. The error lists every problem,
// one per line, each naming the policy and the field, e.g.
// "policy rct: t_min 0.5 must be below t_max 0.1"; each is a *FieldError whose Field
// is the field's name in those messages ("t_min").
func (c PolicyConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Err: fmt.Errorf("policy %s: "+format, append([]any{c.Kind}, args...)...)})
	}
	width := func(name string, v int) bool {
		if v < PolicyMinBits || v > PolicyMaxBits {
			bad(name, "%s %d must be in %d..%d", name, v, PolicyMinBits, PolicyMaxBits)
			return false
		}
		return true
	}
	bitRange := func() bool {
		okMin, okMax := width("min_bits", c.MinBits), width("max_bits", c.MaxBits)
		if okMin && okMax && c.MinBits > c.MaxBits {
			bad("min_bits", "min_bits %d must not exceed max_bits %d", c.MinBits, c.MaxBits)
			return false
		}
		return okMin && okMax
	}
	switch c.Kind {
	case PolicyRCT:
		if c.Interval < 1 {
			bad("interval", "interval %d must be at least 1", c.Interval)
		}
		if bitRange() && width("start_bits", c.StartBits) && (c.StartBits < c.MinBits || c.StartBits > c.MaxBits) {
			bad("start_bits", "start_bits %d must be in min_bits..max_bits (%d..%d)", c.StartBits, c.MinBits, c.MaxBits)
		}
		okMin := !math.IsNaN(c.TMin) && !math.IsInf(c.TMin, 0) && c.TMin >= 0
		if !okMin {
			bad("t_min", "t_min %s must be a finite number >= 0", policyFloat(c.TMin))
		}
		okMax := !math.IsNaN(c.TMax)
		if !okMax {
			bad("t_max", "t_max %s must be a number (+Inf disables dropping bits)", policyFloat(c.TMax))
		}
		if okMin && okMax && c.TMin >= c.TMax {
			bad("t_min", "t_min %s must be below t_max %s", policyFloat(c.TMin), policyFloat(c.TMax))
		}
	case PolicyFixed:
		width("bits", c.Bits)
	case PolicyCyclic:
		ok := bitRange()
		if c.Period < 2 {
			bad("period", "period %d must be at least 2 steps", c.Period)
		} else if ok {
			// Within a cycle the width rises monotonically, so the cycle's last step has
			// its widest precision; a period too short never gets to max_bits.
			if top := cptBits(c.MinBits, c.MaxBits, c.Period, c.Period-1); top != c.MaxBits {
				bad("period", "period %d is too short: the cycle peaks at %d bits and never reaches max_bits %d", c.Period, top, c.MaxBits)
			}
		}
	case PolicyProgressive:
		ok := bitRange()
		if c.TotalSteps < 1 {
			bad("total_steps", "total_steps %d must be at least 1", c.TotalSteps)
		} else if ok && c.TotalSteps < c.MaxBits-c.MinBits+1 {
			bad("total_steps", "total_steps %d must be at least the number of stages, %d (max_bits-min_bits+1), so that every width is used",
				c.TotalSteps, c.MaxBits-c.MinBits+1)
		}
	default:
		return &FieldError{Field: "kind", Err: fmt.Errorf("unknown policy kind %q (want %s)", c.Kind, strings.Join(PolicyKinds, ", "))}
	}
	return errors.Join(errs...)
}

// NewPolicy validates cfg (see Validate) and returns its policy.
func NewPolicy(cfg PolicyConfig) (Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.Kind {
	case PolicyRCT:
		return &rctPolicy{cfg: cfg}, nil
	case PolicyFixed:
		bits := cfg.Bits
		return &schedulePolicy{name: cfg.Kind, bitsAt: func(int) int { return bits }}, nil
	case PolicyCyclic:
		lo, hi, period := cfg.MinBits, cfg.MaxBits, cfg.Period
		return &schedulePolicy{name: cfg.Kind, bitsAt: func(t int) int { return cptBits(lo, hi, period, t) }}, nil
	default: // PolicyProgressive; Validate rejected every other kind
		lo, hi, total := cfg.MinBits, cfg.MaxBits, cfg.TotalSteps
		return &schedulePolicy{name: cfg.Kind, bitsAt: func(t int) int { return progressiveBits(lo, hi, total, t) }}, nil
	}
}

// policyFloat formats a float the way every policy message does: shortest exact form,
// so messages are deterministic and reproduce the configured value.
func policyFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// policyStart is Start's common body.
func policyStart(layers, bits int) []int {
	if layers < 0 {
		panic(fmt.Sprintf("train: policy Start: %d layers", layers))
	}
	out := make([]int, layers)
	for i := range out {
		out[i] = bits
	}
	return out
}

// rctPolicy is the RCT precision controller.
type rctPolicy struct{ cfg PolicyConfig }

func (p *rctPolicy) Name() string { return PolicyRCT }

func (p *rctPolicy) Start(layers int) []int { return policyStart(layers, p.cfg.StartBits) }

// NeedsStats is true after the last step of every interval: steps Interval-1,
// 2*Interval-1, ... so the new widths take effect at multiples of Interval.
func (p *rctPolicy) NeedsStats(step int) bool {
	return step >= 0 && (step+1)%p.cfg.Interval == 0
}

func (p *rctPolicy) Next(step int, bits []int, stats []LayerStats) ([]int, []Decision) {
	out := append([]int(nil), bits...)
	if stats != nil && len(stats) != len(bits) {
		panic(fmt.Sprintf("train: rct policy: %d stats for %d layers at step %d", len(stats), len(bits), step))
	}
	if !p.NeedsStats(step) {
		return out, nil
	}
	if stats == nil && len(bits) > 0 {
		panic(fmt.Sprintf("train: rct policy: no statistics at controller step %d", step))
	}
	c := p.cfg
	decisions := make([]Decision, len(bits))
	for l, from := range bits {
		g := stats[l].Gavg
		to, reason := from, "keep"
		switch {
		case math.IsNaN(g):
			// A NaN compares false with both thresholds; say so rather than pretend the
			// layer is in band (it usually means training diverged).
			reason = "keep: gavg is NaN"
		case g < c.TMin:
			to, reason = from+1, "underflow: gavg "+policyFloat(g)+" < t_min "+policyFloat(c.TMin)
		case g > c.TMax:
			to, reason = from-1, "large updates: gavg "+policyFloat(g)+" > t_max "+policyFloat(c.TMax)
		}
		// Clamp after the rule, so a width that arrived out of range (a resumed run, a
		// changed config) is brought back and the record says why.
		switch {
		case to > c.MaxBits:
			to = c.MaxBits
			reason += "; at max_bits " + strconv.Itoa(c.MaxBits)
		case to < c.MinBits:
			to = c.MinBits
			reason += "; at min_bits " + strconv.Itoa(c.MinBits)
		}
		out[l] = to
		decisions[l] = Decision{Step: step, Layer: l, From: from, To: to, Gavg: g, Reason: reason}
	}
	return out, decisions
}

// schedulePolicy is a policy whose width is a function of the step alone, the same for
// every layer: fixed, cyclic and progressive.
type schedulePolicy struct {
	name   string
	bitsAt func(step int) int
}

func (p *schedulePolicy) Name() string { return p.name }

func (p *schedulePolicy) Start(layers int) []int { return policyStart(layers, p.bitsAt(0)) }

func (p *schedulePolicy) NeedsStats(int) bool { return false }

// Next ignores the statistics and the input widths' values: the schedule alone decides,
// so a run always follows it even if something else touched the widths.
func (p *schedulePolicy) Next(step int, bits []int, stats []LayerStats) ([]int, []Decision) {
	if stats != nil && len(stats) != len(bits) {
		panic(fmt.Sprintf("train: %s policy: %d stats for %d layers at step %d", p.name, len(stats), len(bits), step))
	}
	want := p.bitsAt(step + 1)
	out := make([]int, len(bits))
	var decisions []Decision
	for l, from := range bits {
		out[l] = want
		if from != want {
			decisions = append(decisions, Decision{Step: step, Layer: l, From: from, To: want, Reason: "schedule"})
		}
	}
	return out, decisions
}

// cptBits is CPT's precision at step t, following the CPT code's schedule
// (cyclic_adjust_precision in the authors' release; the same formula is the
// "cos_growth" schedule of Wolfe & Kyrillidis' 2024 study of CPT schedules):
//
//	b(t) = rint(lo + (hi-lo) * (1 - cos(π * (t mod period) / period)) / 2)
//
// Each cycle is half a cosine wave: the width starts at lo, rises slowly, then quickly,
// then slowly again towards hi at the cycle's end, and falls back to lo at once when
// the next cycle starts (a cosine sawtooth). The symmetric up-and-down wave (2π in
// place of π) is not CPT's schedule; Wolfe & Kyrillidis study such "triangular"
// variants separately. rint rounds ties to even, as numpy's does in the CPT code. CPT
// cycles the precision of weights and activations and keeps gradients at a fixed
// width; here the policy governs the weights' width.
func cptBits(lo, hi, period, t int) int {
	if t < 0 {
		t = 0
	}
	z := float64(t%period) / float64(period)
	// The same floating-point expression as the CPT code, 1+cos(πz+π) rather than the
	// algebraically equal 1-cos(πz), so that widths agree with it even where the value
	// lands on a tie (hi-lo odd, z = 1/2). The explicit float64 conversions keep the
	// compiler from fusing multiply-adds, so the result is the same on every
	// architecture for a given cos.
	v := float64(lo) + float64(0.5*float64(hi-lo)*float64(1+math.Cos(float64(math.Pi*z)+math.Pi)))
	return int(math.RoundToEven(v))
}

// progressiveBits is the FracTrain-style progressive width at step t: the run of
// `total` steps is split into hi-lo+1 equal stages (integer division, the remainder
// going to later stages), stage k trains at lo+k bits, and steps past the run stay at
// hi. FracTrain's progressive fractional quantization switches stages when an
// automated indicator (the loss's progress) says so and raises activations, weights
// and gradients together; this is its time-based form, so that a schedule depends only
// on the configuration.
func progressiveBits(lo, hi, total, t int) int {
	stages := int64(hi - lo + 1)
	if t < 0 {
		t = 0
	}
	stage := int64(t) * stages / int64(total)
	return lo + int(min(stage, stages-1))
}
