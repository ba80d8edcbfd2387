package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/traces"
	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/traces/progress"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
)

// TrainOptions are the options of one training run, as `rctsim train` takes them;
// run.json records all of them. A zero value means the method's default, unless the
// option is listed in Given.
type TrainOptions struct {
	Out       string  `json:"out"`
	Model     string  `json:"model"`
	Method    string  `json:"method"`
	Policy    string  `json:"policy"`
	Epochs    int     `json:"epochs"`
	Steps     int     `json:"steps"`
	Batch     int     `json:"batch"`
	LR        float64 `json:"lr"`
	Seed      uint64  `json:"seed"`
	Limit     int     `json:"limit"`
	TestLimit int     `json:"test_limit"`
	Data      string  `json:"data"`
	Bits      int     `json:"bits"`
	Interval  int     `json:"interval"`
	TMin      float64 `json:"t_min"`
	TMax      float64 `json:"t_max"`
	MinBits   int     `json:"min_bits"`
	MaxBits   int     `json:"max_bits"`
	StartBits int     `json:"start_bits"`
	Period    int     `json:"period"`
	Rounding  string  `json:"rounding"`
	EvalEvery int     `json:"eval_every"`
	// Momentum, LRSchedule, Warmup and Headroom set train.Config's fields of the same
	// meaning (Warmup is WarmupSteps); zero or "" is the method's default unless given.
	Momentum   float64 `json:"momentum,omitempty"`
	LRSchedule string  `json:"lr_schedule,omitempty"`
	Warmup     int     `json:"warmup,omitempty"`
	Headroom   int     `json:"headroom,omitempty"`
	// BNReestimate is train.Config.BNReestimate (0 unless given: the default).
	BNReestimate int  `json:"bn_reestimate,omitempty"`
	Force        bool `json:"force"`
	// Given lists the options set explicitly, by their command-line names ("bits",
	// "lr", "t-min"): their values are used and checked even when zero, so that
	// --bits 0 is an error and --t-min 0 a threshold, rather than the default.
	Given []string `json:"given,omitempty"`
	// InputShape fills the input dimensions an ONNX model leaves open ("CxHxW");
	// InitFromModel starts from the model file's initial values.
	InputShape    string `json:"input_shape,omitempty"`
	InitFromModel bool   `json:"init_from_model,omitempty"`
	// Update is the update mask (numerics.ParseUpdate), NoQAS the ablation of RCT's
	// quantization-aware scaling, NITIBits NITI's mu (0: its default).
	Update   string `json:"update,omitempty"`
	NoQAS    bool   `json:"no_qas,omitempty"`
	NITIBits int    `json:"niti_bits,omitempty"`
	// RCTMomentum is rct's integer momentum, 1 - 2^-k (0: none, the default). It is
	// an option of its own, not Momentum, so that compare can give the float methods
	// their momentum and rct its own.
	RCTMomentum float64 `json:"rct_momentum,omitempty"`
}

// given reports whether option name was set: listed in Given, or not zero.
func (o *TrainOptions) given(name string, nonZero bool) bool {
	return nonZero || slices.Contains(o.Given, name)
}

// checkValues checks each option given on its own, whatever method and policy use
// it, so that a value no run could use (--bits 0, --lr NaN) is an error naming the
// option even where the method ignores it. Combinations are train.Config.Validate's.
func (o *TrainOptions) checkValues() error {
	var errs []error
	bad := func(option, format string, args ...any) { errs = append(errs, optionErrorf(option, format, args...)) }
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	for _, w := range []struct {
		option string
		v      int
	}{{"bits", o.Bits}, {"min-bits", o.MinBits}, {"max-bits", o.MaxBits}, {"start-bits", o.StartBits}} {
		if o.given(w.option, w.v != 0) && (w.v < train.PolicyMinBits || w.v > train.PolicyMaxBits) {
			bad(w.option, "bitwidth %d must be in %d..%d", w.v, train.PolicyMinBits, train.PolicyMaxBits)
		}
	}
	for _, n := range []struct {
		option string
		v, min int
	}{{"epochs", o.Epochs, 1}, {"batch", o.Batch, 1}, {"steps", o.Steps, 0}, {"limit", o.Limit, 0},
		{"test-limit", o.TestLimit, 0}, {"eval-every", o.EvalEvery, 0}} {
		if n.v < n.min {
			bad(n.option, "%d must be at least %d", n.v, n.min)
		}
	}
	if o.given("interval", o.Interval != 0) && o.Interval < 1 {
		bad("interval", "%d steps must be at least 1", o.Interval)
	}
	if o.given("period", o.Period != 0) && o.Period < 2 {
		bad("period", "%d steps must be at least 2", o.Period)
	}
	if o.given("lr", o.LR != 0) && !(o.LR > 0 && finite(o.LR)) {
		bad("lr", "learning rate %v must be a positive finite number", o.LR)
	}
	if o.given("t-min", o.TMin != 0) && !(o.TMin >= 0 && finite(o.TMin)) {
		bad("t-min", "%v must be a finite number >= 0", o.TMin)
	}
	if o.given("t-max", o.TMax != 0) && !(o.TMax > 0) {
		bad("t-max", "%v must be a number above 0 (+Inf: never drop a bit)", o.TMax)
	}
	if o.Rounding != "" {
		if _, err := numerics.ParseRounding(o.Rounding); err != nil {
			bad("rounding", "%v", err)
		}
	}
	if _, err := numerics.ParseUpdate(o.Update); err != nil {
		bad("update", "%v", err)
	}
	if o.given("niti-bits", o.NITIBits != 0) && (o.NITIBits < 1 || o.NITIBits > numerics.NITIAccBits-1) {
		bad("niti-bits", "%d must be in 1..%d", o.NITIBits, numerics.NITIAccBits-1)
	}
	if o.given("momentum", o.Momentum != 0) && !(o.Momentum >= 0 && o.Momentum < 1) {
		bad("momentum", "%v must be in [0, 1)", o.Momentum)
	}
	if _, err := numerics.MomentumShift(o.RCTMomentum); err != nil {
		bad("rct-momentum", "%v", err)
	}
	if o.given("headroom", o.Headroom != 0) && (o.Headroom < 0 || o.Headroom > 8) {
		bad("headroom", "%d bits must be in 0..8", o.Headroom)
	}
	return errors.Join(errs...)
}

// configOptions maps the fields of train.Config's errors (train.FieldError) to the
// options that set them.
var configOptions = map[string]string{
	"epochs": "epochs", "batch": "batch", "max_steps": "steps", "lr": "lr", "rounding": "rounding",
	"eval_every": "eval-every", "eval_limit": "test-limit", "qat_bits": "bits",
	"policy.kind": "policy", "policy.interval": "interval", "policy.t_min": "t-min", "policy.t_max": "t-max",
	"policy.min_bits": "min-bits", "policy.max_bits": "max-bits", "policy.start_bits": "start-bits",
	"policy.bits": "bits", "policy.period": "period", "update": "update", "no_qas": "no-qas", "niti_update_bits": "niti-bits",
	"momentum": "momentum", "lr_schedule": "lr-schedule", "warmup_steps": "warmup", "headroom": "headroom",
	"bn_reestimate": "bn-reestimate",
}

// optionErrors turns the errors of train.Config.Validate into OptionErrors naming
// the option of each field (none for a field no option sets).
func optionErrors(err error) error {
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	out := make([]error, len(list))
	for i, e := range list {
		oe := &OptionError{Err: e}
		var fe *train.FieldError
		if errors.As(e, &fe) {
			oe.Option = configOptions[fe.Field]
		}
		out[i] = oe
	}
	if len(out) == 1 {
		return out[0]
	}
	return errors.Join(out...)
}

// RunRecord is run.json: every option, the resolved training configuration and the
// outcome.
type RunRecord struct {
	Command  string         `json:"command"`
	Flags    TrainOptions   `json:"flags"`
	Config   train.Config   `json:"config"`
	Dataset  string         `json:"dataset"`
	Started  string         `json:"started"`
	Summary  *train.Summary `json:"summary"`
	Complete bool           `json:"complete"`
	// Versions is the build that trained the run (nil in older run.json files).
	Versions *Versions `json:"versions,omitempty"`
}

// OptionError is an option that cannot work, found before any work starts: on the
// command line, a bad flag.
type OptionError struct {
	// Option is the option's name as the command line spells it ("batch"), or ""
	// when the problem is a combination of options that Err describes.
	Option string
	Err    error
}

func (e *OptionError) Error() string {
	if e.Option == "" {
		return e.Err.Error()
	}
	dash := "--"
	if len(e.Option) == 1 {
		dash = "-" // -o, as cmd/go spells its one-letter flags
	}
	return dash + e.Option + ": " + e.Err.Error()
}
func (e *OptionError) Unwrap() error { return e.Err }

func optionErrorf(option, format string, args ...any) error {
	return &OptionError{Option: option, Err: fmt.Errorf(format, args...)}
}

// Observer receives what a long experiment has to say while it runs. Its zero value
// says nothing.
type Observer struct {
	// Log receives one line per stage ("training lenet5 with rct on mnist ...").
	Log io.Writer
	// Progress reports each training run's steps.
	Progress *progress.Reporter
}

func (o Observer) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format, args...)
	}
}

// Config starts from method's defaults (train.DefaultConfig) and applies the options
// that are set.
func (o *TrainOptions) Config(method numerics.Method) (train.Config, error) {
	cfg := train.DefaultConfig(method)
	if err := o.checkValues(); err != nil {
		return cfg, err
	}
	cfg.Epochs, cfg.Batch, cfg.Seed, cfg.MaxSteps, cfg.EvalEvery = o.Epochs, o.Batch, o.Seed, o.Steps, o.EvalEvery
	cfg.InitFromModel = o.InitFromModel
	if o.given("lr", o.LR != 0) {
		cfg.LR = o.LR
	}
	if o.Rounding != "" {
		cfg.Rounding = o.Rounding
	}
	// Like every option of another method, momentum is ignored by the integer
	// methods, whose updates have none, so that compare can pass it to all of them.
	if o.given("momentum", o.Momentum != 0) && !method.Integer() {
		cfg.Momentum = o.Momentum
	}
	if method == numerics.RCT {
		cfg.Momentum = o.RCTMomentum
	}
	if o.LRSchedule != "" {
		cfg.LRSchedule = o.LRSchedule
	}
	cfg.WarmupSteps = o.Warmup
	if o.given("bn-reestimate", o.BNReestimate != 0) {
		cfg.BNReestimate = o.BNReestimate
	}
	if o.given("headroom", o.Headroom != 0) {
		cfg.Headroom = o.Headroom
	}
	if o.TestLimit > 0 {
		cfg.EvalLimit = o.TestLimit
	}
	if method == numerics.QAT && o.given("bits", o.Bits != 0) {
		cfg.QATBits = o.Bits
	}
	cfg.Update, cfg.NoQAS = o.Update, o.NoQAS
	if method == numerics.NITI && o.given("niti-bits", o.NITIBits != 0) {
		cfg.NITIUpdateBits = o.NITIBits
	}
	if o.Policy != "" {
		if method == numerics.FP32 || method == numerics.FP8 || method == numerics.NITI {
			return cfg, optionErrorf("policy", "method %s has no precision policy", method)
		}
		cfg.Policy = train.DefaultPolicyConfig(o.Policy)
		if cfg.Policy.Kind == "" {
			return cfg, optionErrorf("policy", "unknown policy %q (want %v)", o.Policy, train.PolicyKinds)
		}
	}
	p := &cfg.Policy
	set := func(option string, dst *int, v int) {
		if o.given(option, v != 0) {
			*dst = v
		}
	}
	set("interval", &p.Interval, o.Interval)
	set("min-bits", &p.MinBits, o.MinBits)
	set("max-bits", &p.MaxBits, o.MaxBits)
	set("start-bits", &p.StartBits, o.StartBits)
	set("period", &p.Period, o.Period)
	set("bits", &p.Bits, o.Bits)
	if o.given("t-min", o.TMin != 0) {
		p.TMin = o.TMin
	}
	if o.given("t-max", o.TMax != 0) {
		p.TMax = o.TMax
	}
	if method == numerics.QAT && p.Kind == train.PolicyFixed {
		p.Bits = cfg.QATBits
	}
	return cfg, nil
}

// Check validates the options for training net with method before any work: the
// training configuration, the batch against this machine's memory, and that Out holds
// no earlier run (unless Force). It returns the configuration to train with.
func (o *TrainOptions) Check(net *models.Network, method numerics.Method) (train.Config, error) {
	if o.Out == "" {
		return train.Config{}, optionErrorf("o", "required")
	}
	cfg, err := o.Config(method)
	if err != nil {
		return cfg, err
	}
	check := cfg
	if check.Policy.Kind == train.PolicyProgressive && check.Policy.TotalSteps == 0 {
		check.Policy.TotalSteps = 1 // set from the data when the run starts
	}
	if err := check.Validate(); err != nil {
		return cfg, optionErrors(err)
	}
	if err := CheckBatchMemory(net, o.Batch, MachineMemoryBytes()); err != nil {
		return cfg, err
	}
	if !o.Force {
		if _, err := os.Stat(filepath.Join(o.Out, "run.json")); err == nil {
			return cfg, fmt.Errorf("%s already holds a run (run.json); choose another output folder or pass --force", o.Out)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return cfg, err
		}
	}
	return cfg, nil
}

// LoadData loads the data set a model trains on: MNIST for the image models (padded
// to 32x32 for those that take 32x32 inputs), the Opticks text for the character
// models. It returns the data and a one-line description. Data that does not fit the
// model (train.CheckData: a file of other image sizes, more symbols than the
// embedding holds) is an OptionError naming the file and both shapes, before any
// training starts.
func LoadData(net *models.Network, o *TrainOptions) (*train.Split, string, error) {
	if err := CheckData(net); err != nil {
		return nil, "", err
	}
	var split *train.Split
	var desc string
	if net.Layers[0].Kind == models.Embedding {
		if o.Limit > 0 {
			return nil, "", optionErrorf("limit", "applies to MNIST; limit a text run with --steps")
		}
		if o.TestLimit > 0 {
			return nil, "", optionErrorf("test-limit", "applies to MNIST; a text run evaluates on its held-out text")
		}
		text, err := train.LoadText(o.Data, int(net.Input.W))
		if err != nil {
			return nil, "", err
		}
		split = &text.Split
		desc = fmt.Sprintf("text (%d symbols, %d train / %d test windows)", len(text.Alphabet), split.Train.Len(), split.Test.Len())
	} else {
		pad := net.Input.H == 32
		var err error
		if split, err = train.LoadMNIST(o.Data, pad, o.Limit, o.TestLimit); err != nil {
			return nil, "", err
		}
		desc = fmt.Sprintf("mnist (%d train / %d test)", split.Train.Len(), split.Test.Len())
	}
	if err := train.CheckData(net, split); err != nil {
		// The data is the --data file's, or the default data, which the model does not
		// take.
		option := "data"
		if o.Data == "" {
			option = "model"
		}
		return nil, "", &OptionError{Option: option, Err: err}
	}
	return split, desc, nil
}

// The data sets' example shapes and classes.
var (
	mnistShape       = models.Shape{C: 1, H: 28, W: 28}
	mnistPaddedShape = models.Shape{C: 1, H: 32, W: 32}
)

const mnistClasses = 10

// CheckData checks that net fits the data set LoadData gives it, before anything is
// loaded: a network that reads token ids trains on text (any context, as many classes
// as the alphabet at least: checked when the text is read); every other network on
// MNIST, whose examples are 1x28x28 (1x32x32 padded) with 10 classes. An ONNX model's
// input and output are the user's, so a mismatch names both shapes.
func CheckData(net *models.Network) error {
	if net.Layers[0].Kind == models.Embedding {
		return nil
	}
	if net.Input != mnistShape && net.Input != mnistPaddedShape {
		return optionErrorf("model", "%s takes inputs of %v, but the data set, MNIST, has examples of %v (or %v padded); export the model for that input, or give --input-shape where it leaves it open",
			net.Name, net.Input, mnistShape, mnistPaddedShape)
	}
	last := net.Layers[len(net.Layers)-1].Out
	if net.Classes != mnistClasses || last.H*last.W != 1 {
		return optionErrorf("model", "%s outputs %v, but the data set, MNIST, has %d classes (one label per example)", net.Name, last, mnistClasses)
	}
	return nil
}

// runSteps is the number of steps a run will train.
func runSteps(data *train.Split, cfg train.Config) int {
	steps := cfg.Epochs * (data.Train.Len() / cfg.Batch)
	if cfg.MaxSteps > 0 {
		steps = min(steps, cfg.MaxSteps)
	}
	return steps
}

// Train trains net on data with cfg into the run folder o.Out: metrics.csv and
// schedule.csv as the run goes, run.json at the end, also when ctx is cancelled (then
// marked incomplete, and the error says how far the run got). dataset describes data
// for run.json. A run that fails for another reason removes the files it created, so
// a failing command leaves nothing behind.
func Train(ctx context.Context, net *models.Network, data *train.Split, dataset string, cfg train.Config, o *TrainOptions, obs Observer) (sum *train.Summary, err error) {
	steps := runSteps(data, cfg)
	if steps == 0 {
		return nil, optionErrorf("batch", "%d is more than the %d training examples: not one step to train (lower --batch or raise --limit)", cfg.Batch, data.Train.Len())
	}
	if cfg.Policy.Kind == train.PolicyProgressive && cfg.Policy.TotalSteps == 0 {
		cfg.Policy.TotalSteps = steps
	}
	if err := cfg.Validate(); err != nil {
		return nil, optionErrors(err)
	}
	created, err := newFileSet(o.Out)
	if err != nil {
		return nil, err
	}
	kept := false // an interrupted run keeps its files: a consistent folder up to a whole step
	defer func() {
		if err != nil && !kept {
			created.remove()
		}
	}()
	metrics, err := created.create("metrics.csv")
	if err != nil {
		return nil, err
	}
	defer metrics.Close()
	schedule, err := created.create("schedule.csv")
	if err != nil {
		return nil, err
	}
	defer schedule.Close()
	obs.logf("training %s with %s on %s\n", net.Name, cfg.Method, dataset)
	obs.Progress.Start("train "+net.Name+" "+string(cfg.Method), "steps", steps)
	report := func(done, total int) { obs.Progress.Update(progress.Status{Done: done}) }
	rec := RunRecord{Command: "rctsim train", Flags: *o, Config: cfg, Dataset: dataset, Started: time.Now().UTC().Format(time.RFC3339)}
	v := BuildVersions()
	rec.Versions = &v
	sum, runErr := train.Run(ctx, net, data, cfg, train.RunOutput{Metrics: metrics, Schedule: schedule, Progress: report})
	if sum != nil {
		obs.Progress.Finish(progress.Status{Done: sum.Steps})
	}
	for _, c := range []io.Closer{metrics, schedule} {
		if err := c.Close(); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil && (sum == nil || !errors.Is(runErr, context.Canceled)) {
		var diverged *train.DivergedError
		if errors.As(runErr, &diverged) {
			runErr = fmt.Errorf("%s: %w; a smaller --lr may train", cfg.Method, runErr)
		}
		return nil, runErr // failed, or cancelled before the first step: nothing to keep
	}
	rec.Summary, rec.Complete = sum, runErr == nil
	js, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return nil, err
	}
	created.files = append(created.files, filepath.Join(o.Out, "run.json"))
	if err := fileio.WriteBytes(filepath.Join(o.Out, "run.json"), append(js, '\n')); err != nil {
		return nil, err
	}
	if runErr != nil {
		kept = true
		return nil, fmt.Errorf("interrupted after %d steps; %s holds the run up to there: %w", sum.Steps, o.Out, runErr)
	}
	return sum, nil
}

// fileSet remembers the files (and the folder) a run created, to remove them when it
// fails.
type fileSet struct {
	dir        string
	createdDir bool
	files      []string
}

func newFileSet(dir string) (*fileSet, error) {
	fs := &fileSet{dir: dir}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		fs.createdDir = true
	}
	return fs, os.MkdirAll(dir, 0o755)
}

func (fs *fileSet) create(name string) (*os.File, error) {
	path := filepath.Join(fs.dir, name)
	f, err := os.Create(path)
	if err == nil {
		fs.files = append(fs.files, path)
	}
	return f, err
}

func (fs *fileSet) remove() {
	for _, f := range fs.files {
		os.Remove(f)
	}
	if fs.createdDir {
		os.Remove(fs.dir) // only if empty: it may hold what another run wrote since
	}
}

// WriteSummary prints a training run's outcome in a few lines.
func WriteSummary(w io.Writer, dir string, s *train.Summary) {
	fmt.Fprintf(w, "%s %s: %d steps in %.1f s (%.0f examples/s)\n", s.Model, s.Method, s.Steps, s.WallSeconds, s.ExamplesPerSecond)
	if s.TestBPC > 0 {
		fmt.Fprintf(w, "  test bits per character %.3f (loss %.4f)\n", s.TestBPC, s.TestLoss)
	} else {
		fmt.Fprintf(w, "  test accuracy %.2f%% (loss %.4f)\n", 100*s.TestAccuracy, s.TestLoss)
	}
	if s.FinalBits != nil {
		fmt.Fprintf(w, "  bits: average %.2f over the run, final %v\n", s.AvgBits, s.FinalBits)
	}
	fmt.Fprintf(w, "  wrote %s\n", filepath.Join(dir, "{metrics.csv,schedule.csv,run.json}"))
}

// CheckBatchMemory refuses a batch whose buffers cannot fit memBytes of memory (0 when
// unknown: no check), so that a typo is an error rather than the operating system
// killing the process half-way.
func CheckBatchMemory(net *models.Network, batch int, memBytes int64) error {
	if need := train.MinBatchBytes(net, batch); memBytes > 0 && need > memBytes {
		return optionErrorf("batch", "%d is too large: training %s needs at least %.1f GiB for the batch's activations and errors; this machine has %.1f GiB",
			batch, net.Name, float64(need)/(1<<30), float64(memBytes)/(1<<30))
	}
	return nil
}

// MachineMemoryBytes is the machine's total memory from /proc/meminfo, or 0 where that
// cannot be read.
func MachineMemoryBytes() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kib int64
		if n, _ := fmt.Sscanf(line, "MemTotal: %d kB", &kib); n == 1 {
			return kib << 10
		}
	}
	return 0
}

// readSchedule reads a run folder's schedule.csv.
func readSchedule(path string) (*traces.Schedule, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return traces.ReadSchedule(file, path)
}
