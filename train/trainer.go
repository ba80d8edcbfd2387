// The Trainer: one network trained by one method, step by step.

package train

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// Config configures a training run. DefaultConfig gives each method's defaults; the
// zero value of a field is not a default (Validate rejects what cannot work).
type Config struct {
	Method numerics.Method
	// Policy is the precision policy. RCT accepts every kind (default rct); QAT accepts
	// fixed (its width is QATBits), cyclic and progressive (CPT- and FracTrain-style
	// schedules on a float master copy), and an empty Kind, meaning fixed; FP32 ignores it.
	Policy PolicyConfig
	// QATBits is QAT's fixed weight width (default 8).
	QATBits int
	// Epochs and Batch: passes over the training set and examples per step (defaults 2
	// and 32). Run drops each epoch's last partial batch so every step has Batch
	// examples (one compiled Program per plan fits every step).
	Epochs, Batch int
	// MaxSteps stops a run after this many steps (0: no limit).
	MaxSteps int
	// LR is the (peak) learning rate: 0.03 for fp32 and qat (with momentum), 0.1 for
	// rct (without momentum by default; its rate is represented as numerics.FixedLR).
	LR float64
	// LRSchedule is "constant" or "cosine": LR * (1 + cos(π s/LRSteps))/2 at step s.
	// LRSteps is the schedule's length (Run sets it to the run's steps when it is 0;
	// a Trainer stepped directly with LRSteps 0 keeps LR).
	// fp32 and qat default to cosine. RCT defaults to constant: its controller reads
	// lr*g, so a decaying rate reads as underflow and drives every layer to max_bits
	// (measured on the MLP: all layers at 16 bits and 0.7 points less accuracy).
	LRSchedule string
	LRSteps    int
	// WarmupSteps ramps the learning rate up linearly over the first steps: step s <
	// WarmupSteps trains at (s+1)/WarmupSteps of the schedule's rate (0: no warm-up).
	WarmupSteps int `json:",omitempty"`
	// Momentum (default 0.9) and WeightDecay (default 0: two-epoch runs do not overfit
	// enough for it to pay) apply to fp32 and qat. RCT's integer update has no weight
	// decay and, by default, no momentum; Momentum = 1 - 2^-k (0.5, 0.75, 0.875, ...)
	// gives it an integer momentum through an int16 buffer per parameter
	// (numerics.MomentumAccumulate), whose steady step is 2^k times LR's.
	Momentum, WeightDecay float64
	// Seed seeds everything random: the initial weights (the same for every method),
	// the batch order and RCT's stochastic rounding.
	Seed uint64
	// Rounding is RCT's update rounding: "stochastic" (default) or "nearest".
	Rounding string
	// LossRounding is how RCT rounds the loss error to int8: "stochastic" (default,
	// unbiased, numerics.SoftmaxXentRound) or "nearest". Stochastic rounding keeps the
	// many small errors of a wide softmax that nearest rounding zeroes: on the character
	// model it lowers the training loss after 300 steps from 2.82 to 2.69 nats, level
	// with fp32 SGD at the same rate (2.68); on MNIST it makes no measurable
	// difference.
	LossRounding string
	// Headroom is how many bits RCT's initial weight grid leaves above the largest
	// initial weight (default 1: weights may grow to twice their initial range before
	// saturating).
	Headroom int
	// EvalEvery is the number of steps between test evaluations (0: at the end of each
	// epoch); a run always evaluates after its last step.
	EvalEvery int
	// BNReestimate is how many of the latest training batches the integer methods (rct,
	// niti) re-estimate batch normalisation's running statistics from before each
	// evaluation (default 8; 0: none; see Trainer.ReestimateBN). The float methods
	// ignore it: their cosine rate has settled the weights by the end, so their
	// running statistics are current.
	BNReestimate int `json:",omitempty"`
	// InitFromModel starts from the network's own initial values (an ONNX file's
	// initializers, models.Network.Initial) instead of drawing them from Seed.
	InitFromModel bool `json:",omitempty"`
	// EvalBatch is the batch size of evaluations (0, the default: Batch, so that no
	// larger buffers are allocated); EvalLimit caps the examples evaluated (0: the
	// whole test set, see Trainer.Evaluate).
	EvalBatch, EvalLimit int
	// Update is the update mask (numerics.ParseUpdate: "all", "bias-only", "last:N",
	// "layers:..."), for every method: "" updates every parameter. See sparse.go.
	Update string `json:",omitempty"`
	// NoQAS turns off the quantization-aware scaling of integer updates (RCT), an
	// ablation: see numerics.UpdateShiftNoQAS.
	NoQAS bool `json:",omitempty"`
	// NITIUpdateBits is NITI's mu, the bits a layer's gradient is normalised to before
	// it enters the int16 update buffer (default numerics.DefaultNITIUpdateBits; see
	// niti.go).
	NITIUpdateBits int `json:",omitempty"`
}

// DefaultConfig returns the defaults of a method.
func DefaultConfig(method numerics.Method) Config {
	c := Config{Method: method, QATBits: numerics.DefaultQATBits, Epochs: 2, Batch: 32, LR: 0.03, LRSchedule: "cosine",
		Momentum: 0.9, Seed: 1, Rounding: numerics.RoundStochastic.String(), LossRounding: numerics.RoundStochastic.String(),
		Headroom: 1}
	switch method {
	case numerics.RCT:
		c.Policy = DefaultPolicyConfig(PolicyRCT)
		c.LR, c.LRSchedule, c.Momentum = 0.1, "constant", 0
		c.BNReestimate = 8
	case numerics.QAT:
		c.Policy = PolicyConfig{Kind: PolicyFixed, Bits: c.QATBits}
	case numerics.NITI:
		// NITI has no learning rate (its update is normalised; NITIUpdateBits sets its
		// size) and no momentum; LR is kept only as a valid number.
		c.Policy = PolicyConfig{Kind: PolicyFixed, Bits: numerics.NITIBits}
		c.LR, c.LRSchedule, c.Momentum = 0.1, "constant", 0
		c.NITIUpdateBits = numerics.DefaultNITIUpdateBits
		c.BNReestimate = 8 // its weights keep moving to the end, as RCT's do
	}
	return c
}

// FieldError is a value of a Config (or of its PolicyConfig) that cannot work. Field
// names it as the messages do, in snake case ("lr", "eval_limit"; "policy.t_min" in a
// Config's error), so that a caller that takes the value under another name (a
// command-line flag) can say which; the message is Err's alone.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Validate checks the fields the method uses: every problem, joined, each a
// *FieldError naming its field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Err: fmt.Errorf(format, args...)})
	}
	if _, err := numerics.ParseMethod(string(c.Method)); err != nil {
		return &FieldError{Field: "method", Err: err}
	}
	if c.Epochs < 1 {
		bad("epochs", "epochs %d must be at least 1", c.Epochs)
	}
	if c.Batch < 1 {
		bad("batch", "batch %d must be at least 1", c.Batch)
	}
	for _, f := range []struct {
		field string
		v     int
	}{{"max_steps", c.MaxSteps}, {"eval_every", c.EvalEvery}, {"bn_reestimate", c.BNReestimate}, {"eval_batch", c.EvalBatch}, {"eval_limit", c.EvalLimit}} {
		if f.v < 0 {
			bad(f.field, "%s %d must be >= 0", strings.ReplaceAll(f.field, "_", " "), f.v)
		}
	}
	if !(c.LR > 0) || math.IsInf(c.LR, 0) {
		bad("lr", "learning rate %v must be a positive finite number", c.LR)
	}
	switch c.LRSchedule {
	case "", "constant", "cosine":
	default:
		bad("lr_schedule", "unknown learning-rate schedule %q (want constant or cosine)", c.LRSchedule)
	}
	if c.LRSteps < 0 {
		bad("lr_steps", "lr steps %d must be >= 0", c.LRSteps)
	}
	if _, err := numerics.ParseUpdate(c.Update); err != nil {
		bad("update", "%v", err)
	}
	if c.NoQAS && c.Method != numerics.RCT {
		bad("no_qas", "method %s has no quantization-aware scaling to turn off (only rct's integer update has)", c.Method)
	}
	if c.WarmupSteps < 0 {
		bad("warmup_steps", "warm-up steps %d must be >= 0", c.WarmupSteps)
	}
	if !(c.Momentum >= 0 && c.Momentum < 1) {
		bad("momentum", "momentum %v must be in [0, 1)", c.Momentum)
	} else if c.Method == numerics.NITI && c.Momentum != 0 {
		// Silently ignoring it would make an ablation compare identical runs.
		bad("momentum", "%s's integer update has no momentum (got %v)", c.Method, c.Momentum)
	} else if c.Method == numerics.RCT {
		if _, err := numerics.MomentumShift(c.Momentum); err != nil {
			bad("momentum", "%v", err)
		}
	}
	switch c.Method {
	case numerics.NITI:
		if c.NITIUpdateBits < 1 || c.NITIUpdateBits > numerics.NITIAccBits-1 {
			bad("niti_update_bits", "niti update bits %d must be in 1..%d", c.NITIUpdateBits, numerics.NITIAccBits-1)
		}
		if c.LossRounding != "" {
			if _, err := numerics.ParseRounding(c.LossRounding); err != nil {
				bad("loss_rounding", "loss rounding: %v", err)
			}
		}
		if k := c.Policy.Kind; (k != "" && k != PolicyFixed) || (k == PolicyFixed && c.Policy.Bits != numerics.NITIBits) {
			bad("policy.kind", "method niti has no dynamic bitwidth: its weights are int8 (policy fixed, 8 bits)")
		}
		if c.Headroom < 0 || c.Headroom > 8 {
			bad("headroom", "headroom %d must be in 0..8 bits", c.Headroom)
		}
	case numerics.RCT:
		if _, err := numerics.ParseRounding(c.Rounding); err != nil {
			bad("rounding", "%v", err)
		}
		if c.LossRounding != "" {
			if _, err := numerics.ParseRounding(c.LossRounding); err != nil {
				bad("loss_rounding", "loss rounding: %v", err)
			}
		}
		if _, err := numerics.NewFixedLR(c.LR); err != nil && c.LR > 0 && !math.IsInf(c.LR, 0) {
			bad("lr", "%v", err)
		}
		if c.Headroom < 0 || c.Headroom > 8 {
			bad("headroom", "headroom %d must be in 0..8 bits", c.Headroom)
		}
		errs = append(errs, policyErrors(c.Policy.Validate())...)
	case numerics.QAT:
		if c.QATBits < 2 || c.QATBits > 32 {
			bad("qat_bits", "qat bits %d must be in 2..32", c.QATBits)
		}
		switch c.Policy.Kind {
		case "", PolicyFixed:
		case PolicyCyclic, PolicyProgressive:
			errs = append(errs, policyErrors(c.Policy.Validate())...)
		default:
			bad("policy.kind", "method qat cannot use policy %q (it needs RCT's integer weights); use fixed, cyclic or progressive", c.Policy.Kind)
		}
	}
	if !c.Method.Integer() {
		if !(c.Momentum >= 0 && c.Momentum < 1) {
			bad("momentum", "momentum %v must be in [0, 1)", c.Momentum)
		}
		if !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0) {
			bad("weight_decay", "weight decay %v must be a finite number >= 0", c.WeightDecay)
		}
	}
	return errors.Join(errs...)
}

// policyErrors lists the errors of PolicyConfig.Validate with their fields as a
// Config's ("policy.t_min").
func policyErrors(err error) []error {
	if err == nil {
		return nil
	}
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	for _, e := range list {
		if fe, ok := e.(*FieldError); ok {
			fe.Field = "policy." + fe.Field
		}
	}
	return list
}

// policyConfig returns the policy the method follows; false for FP32, which has none.
func (c *Config) policyConfig() (PolicyConfig, bool) {
	switch c.Method {
	case numerics.RCT:
		return c.Policy, true
	case numerics.QAT:
		if c.Policy.Kind == PolicyCyclic || c.Policy.Kind == PolicyProgressive {
			return c.Policy, true
		}
		return PolicyConfig{Kind: PolicyFixed, Bits: c.QATBits}, true
	case numerics.NITI:
		return PolicyConfig{Kind: PolicyFixed, Bits: numerics.NITIBits}, true
	}
	return PolicyConfig{}, false
}

// StepResult is what one training step reports.
type StepResult struct {
	Step int
	// Loss is the mean cross-entropy over the batch's labelled positions (nats).
	Loss float64
	// Correct of Labels labelled positions were predicted right (first largest logit).
	Correct, Labels int
	// Bits are the weight layers' widths this step trained at (nil for FP32).
	Bits []int
	// Stats are the controller's statistics, nil unless the policy asked for them.
	Stats []LayerStats
	// Decisions are what the policy decided after this step.
	Decisions []Decision
}

// EvalResult is an evaluation over a dataset.
type EvalResult struct {
	Loss     float64 // mean cross-entropy per labelled position (nats)
	Accuracy float64 // fraction of labelled positions predicted right
	// BitsPerChar is Loss in bits (Loss/ln 2), set for sequence models (several labels
	// per example), 0 otherwise.
	BitsPerChar float64
	// Examples and Labels evaluated.
	Examples, Labels int
}

// Trainer trains one network with one method. It is not safe for concurrent use.
type Trainer struct {
	net    *models.Network
	cfg    Config
	p      *plan
	policy Policy
	bits   []int
	step   int
	fn     *floatNet[float32] // fp32, qat and fp8
	in     *intNet            // rct and niti
	// scratch for Evaluate
	ex     []float32
	labels []int32
	// grads and gradExps keep the last step's gradients (RecordGradients).
	grads    [][]int32
	gradExps []int
}

// NewTrainer prepares net for training with cfg: it validates both, draws the initial
// weights from cfg.Seed and, for RCT, quantises them to the policy's start widths.
func NewTrainer(net *models.Network, cfg Config) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, err := newPlan(net)
	if err != nil {
		return nil, err
	}
	if err := p.applyUpdate(cfg.Update); err != nil {
		return nil, err
	}
	t := &Trainer{net: net, cfg: cfg, p: p}
	if pc, ok := cfg.policyConfig(); ok {
		if t.policy, err = NewPolicy(pc); err != nil {
			return nil, err
		}
	}
	init := initWeights(p, cfg.Seed)
	var biases [][]float64
	if cfg.InitFromModel {
		if init, biases, err = modelValues(p); err != nil {
			return nil, err
		}
	}
	switch cfg.Method {
	case numerics.RCT, numerics.NITI:
		t.bits = t.policy.Start(len(p.weights))
		st, err := initRCT(p, init, t.bits, cfg.Headroom)
		if err != nil {
			return nil, err
		}
		setRCTBiases(&st, biases, cfg.Headroom)
		lr, _ := numerics.NewFixedLR(cfg.LR)
		rounding, _ := numerics.ParseRounding(cfg.Rounding)
		if t.in, err = newIntNet(p, st, lr, rounding, rctSeed(cfg.Seed)); err != nil {
			return nil, err
		}
		t.in.lossRounding = numerics.RoundNearest
		if cfg.LossRounding != "" {
			t.in.lossRounding, _ = numerics.ParseRounding(cfg.LossRounding)
		}
		t.in.noQAS = cfg.NoQAS
		if cfg.Method == numerics.NITI {
			t.in.niti = newNITI(p, &t.in.st, cfg.NITIUpdateBits)
		}
		if k, _ := numerics.MomentumShift(cfg.Momentum); k > 0 && cfg.Method == numerics.RCT {
			newUpdateBuffers(p, &t.in.st)
			t.in.mom = &rctMomentum{k: k}
		}
	default:
		t.fn = newFloatNet[float32](p, init, cfg.Momentum > 0)
		t.fn.lr, t.fn.mom, t.fn.wd = cfg.LR, cfg.Momentum, cfg.WeightDecay
		if biases != nil {
			setFloatBiases(t.fn, p, biases)
		}
		switch cfg.Method {
		case numerics.QAT:
			t.bits = t.policy.Start(len(p.weights))
			t.fn.qat = newQATState[float32](p, t.bits)
		case numerics.FP8:
			t.fn.fp8 = newFP8State(p)
			t.bits = make([]int, len(p.weights))
			for j := range t.bits {
				t.bits[j] = 8 // the E4M3 copies; no policy changes them
			}
		}
	}
	if cfg.WarmupSteps > 0 {
		t.setLR(0)
	}
	return t, nil
}

// Bits returns the weight layers' current widths (nil for FP32; 8 for FP8's copies).
func (t *Trainer) Bits() []int { return append([]int(nil), t.bits...) }

// Steps returns the number of steps trained.
func (t *Trainer) Steps() int { return t.step }

// LayerNames returns the weight layers' names, in the order of Bits.
func (t *Trainer) LayerNames() []string {
	names := make([]string, len(t.p.weights))
	for j, i := range t.p.weights {
		names[j] = t.p.layers[i].l.Name
	}
	return names
}

// AvgBits is the current mean width of the weights and biases, weighted by their
// number (32 for FP32, 8 for FP8's copies).
func (t *Trainer) AvgBits() float64 {
	if t.bits == nil {
		return 32
	}
	var s, n float64
	for j, i := range t.p.weights {
		par := float64(t.p.layers[i].l.Params())
		s += float64(t.bits[j]) * par
		n += par
	}
	return s / n
}

// Saturations returns the integer methods' saturation counts so far (zero for other
// methods).
func (t *Trainer) Saturations() Saturations {
	if t.in == nil {
		return Saturations{}
	}
	return t.in.sat
}

// batchSize checks a batch's buffers against the network and returns its size.
func (t *Trainer) batchSize(x []float32, labels []int32) int {
	n := len(labels) / t.p.positions
	if n == 0 || n*t.p.positions != len(labels) || len(x) != n*t.p.inElems {
		panic(fmt.Sprintf("train: batch of %d inputs and %d labels does not fit %s (%d inputs and %d labels per example)",
			len(x), len(labels), t.net.Name, t.p.inElems, t.p.positions))
	}
	for _, y := range labels {
		if y < 0 || int(y) >= t.p.classes {
			panic(fmt.Sprintf("train: label %d outside the %d classes of %s", y, t.p.classes, t.net.Name))
		}
	}
	return n
}

// Step trains one step on a batch: x holds the examples as Dataset.Fill writes them,
// labels their labels. A batch that does not fit the network, or token ids outside an
// embedding's vocabulary, are programmer errors and panic.
func (t *Trainer) Step(x []float32, labels []int32) StepResult {
	n := t.batchSize(x, labels)
	res := StepResult{Step: t.step, Labels: len(labels), Bits: t.Bits()}
	var loss float64
	if t.in != nil {
		if err := t.in.forward(x, n, &t.in.st.Scales, true); err != nil {
			panic("train: " + err.Error())
		}
		loss, res.Correct = t.in.loss(labels, n, t.step)
		if t.policy.NeedsStats(t.step) {
			res.Stats = make([]LayerStats, len(t.p.weights))
		}
		t.in.backward(n, t.step, res.Stats)
	} else {
		if err := t.fn.forward(x, n, true); err != nil {
			panic("train: " + err.Error())
		}
		loss, res.Correct = t.fn.loss(labels, n)
		t.fn.backward(n)
		t.fn.update()
	}
	res.Loss = loss / float64(len(labels))
	if t.cfg.LRSchedule == "cosine" || t.cfg.WarmupSteps > 0 {
		t.setLR(t.step + 1)
	}
	if t.policy != nil {
		next, decisions := t.policy.Next(t.step, t.bits, res.Stats)
		next, res.Decisions = t.p.keepFrozenBits(t.bits, next, decisions)
		t.setBits(next)
	}
	t.step++
	return res
}

// LRAt is the learning rate of step s: Config.LR, decayed by a cosine schedule and
// ramped up by a warm-up.
func (c *Config) LRAt(s int) float64 {
	lr := c.LR
	if n := c.LRSteps; c.LRSchedule == "cosine" && n > 0 {
		lr *= (1 + math.Cos(math.Pi*float64(min(s, n))/float64(n))) / 2
	}
	if w := c.WarmupSteps; s < w {
		lr *= float64(s+1) / float64(w)
	}
	return lr
}

// setLR sets the learning rate of step s.
func (t *Trainer) setLR(s int) {
	lr := t.cfg.LRAt(s)
	if t.in != nil {
		// The integer update's range ends at 2^-40; a schedule's last steps may ask for less.
		t.in.lr, _ = numerics.NewFixedLR(max(lr, 0x1p-40))
		return
	}
	t.fn.lr = lr
}

// setBits moves every weight layer to its new width.
func (t *Trainer) setBits(bits []int) {
	for j, b := range bits {
		if b == t.bits[j] {
			continue
		}
		if t.in != nil {
			t.in.sat.Weights += int64(t.in.st.Layers[j].setBits(b))
			t.in.stale = true
		} else {
			t.fn.stale = true
		}
		t.bits[j] = b
	}
}

// Evaluate runs the network forward over ds in batches of `batch` examples, in order,
// and returns the mean loss and accuracy over every labelled position. For sequence
// data (several labels per example, overlapping windows such as the text datasets'),
// only every LabelsPerExample-th example is evaluated, so each position of the text is
// scored once. Config.EvalLimit caps the examples. Training state is not changed: RCT
// evaluates with a copy of its delayed scales, QAT with its activation ranges frozen.
func (t *Trainer) Evaluate(ds Dataset, batch int) EvalResult {
	stride := 1
	if lpe := ds.LabelsPerExample(); lpe > 1 {
		stride = lpe
	}
	var idx []int
	for i := 0; i < ds.Len(); i += stride {
		if t.cfg.EvalLimit > 0 && len(idx) == t.cfg.EvalLimit {
			break
		}
		idx = append(idx, i)
	}
	var res EvalResult
	if len(idx) == 0 {
		return res
	}
	batch = max(1, min(batch, len(idx)))
	if need := batch * t.p.inElems; len(t.ex) < need {
		t.ex, t.labels = make([]float32, need), make([]int32, batch*t.p.positions)
	}
	var sc scales
	if t.in != nil {
		sc = t.in.st.Scales.clone()
		saved := t.in.sat
		defer func() { t.in.sat = saved }()
	}
	var lossSum float64
	for lo := 0; lo < len(idx); lo += batch {
		b := idx[lo:min(lo+batch, len(idx))]
		x, labels := t.ex[:len(b)*t.p.inElems], t.labels[:len(b)*t.p.positions]
		ds.Fill(b, x, labels)
		n := t.batchSize(x, labels)
		var loss float64
		var correct int
		if t.in != nil {
			if err := t.in.forward(x, n, &sc, false); err != nil {
				panic("train: " + err.Error())
			}
			loss, correct = t.in.loss(labels, n, t.step)
		} else {
			if err := t.fn.forward(x, n, false); err != nil {
				panic("train: " + err.Error())
			}
			loss, correct = t.fn.loss(labels, n)
		}
		lossSum += loss
		res.Accuracy += float64(correct)
		res.Labels += len(labels)
		res.Examples += n
	}
	res.Loss = lossSum / float64(res.Labels)
	res.Accuracy /= float64(res.Labels)
	if t.p.positions > 1 {
		res.BitsPerChar = res.Loss / math.Ln2
	}
	return res
}

// ReestimateBN replaces RCT's batch normalisation running statistics by the
// equal-weight average of the batch statistics of ds's examples in batches, taken
// with the current weights (a training-mode forward pass per batch, no update; the
// delayed scales and saturation counts are left as they were). The running
// statistics of training are an exponential average over the last steps' weights;
// RCT's weights keep moving at its constant rate and oscillate between grid points
// under stochastic rounding, so by evaluation those statistics describe other
// weights (ResNet-20 on MNIST after 300 steps: 88.3% test accuracy with them, 96.3%
// with statistics re-estimated from 8 batches, qat 96.7%; Nagel et al. 2022 report
// the same for oscillating QAT weights). It needs no state beyond the running
// statistics. NITI's weights keep moving too and are treated alike; the float methods
// are left alone.
func (t *Trainer) ReestimateBN(ds Dataset, batches [][]int) {
	if t.in == nil || !slices.ContainsFunc(t.in.st.Running, func(r rctRunning) bool { return r.Mean != nil }) {
		return
	}
	sc := t.in.st.Scales.clone()
	saved := t.in.sat
	defer func() { t.in.sat, t.in.reestimate = saved, 0 }()
	for k, b := range batches {
		if need := len(b) * t.p.inElems; len(t.ex) < need {
			t.ex, t.labels = make([]float32, need), make([]int32, len(b)*t.p.positions)
		}
		x, labels := t.ex[:len(b)*t.p.inElems], t.labels[:len(b)*t.p.positions]
		ds.Fill(b, x, labels)
		t.in.reestimate = int64(k + 1)
		if err := t.in.forward(x, t.batchSize(x, labels), &sc, true); err != nil {
			panic("train: " + err.Error())
		}
	}
}

// MinBatchBytes is a lower bound on the host memory a trainer of net allocates for a
// batch of `batch` examples: every layer's output is kept for the backward pass and
// has an error of the same size, each at least one byte per value (RCT's int8; the
// float methods keep four). Commands compare it with the machine's memory to refuse an
// impossible --batch before allocating, instead of being killed by the OS.
func MinBatchBytes(net *models.Network, batch int) int64 {
	var values int64
	for i := range net.Layers {
		values += net.Layers[i].Out.Elems()
	}
	return 2 * values * int64(batch)
}
