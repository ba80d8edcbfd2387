package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
)

var cmdTrain = &command{
	name:    "train",
	usage:   "--out runs/NAME [--model lenet5] [--method rct|qat|fp32] [--policy rct|fixed|cyclic|progressive] [--epochs 2] [--steps N] [--batch 32] [--lr LR] [--seed 1] [--limit N] [--data DIR]",
	summary: "train a model on real data with RCT, QAT or FP32 and write a run folder (metrics.csv, schedule.csv, run.json)",
	run:     runTrain,
}

// trainFlags are the options of `rctsim train`; run.json records all of them.
type trainFlags struct {
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
	Force     bool    `json:"force"`
}

// runRecord is run.json: every option, the resolved training configuration and the
// outcome.
type runRecord struct {
	Command  string         `json:"command"`
	Flags    trainFlags     `json:"flags"`
	Config   train.Config   `json:"config"`
	Dataset  string         `json:"dataset"`
	Started  string         `json:"started"`
	Summary  *train.Summary `json:"summary"`
	Complete bool           `json:"complete"`
}

func runTrain(c *command, e *env, args []string) error {
	var f trainFlags
	fs := newFlags(c, e)
	fs.StringVar(&f.Out, "out", "", "run folder `dir` to write (required)")
	fs.StringVar(&f.Model, "model", "lenet5", modelHelp())
	fs.StringVar(&f.Method, "method", "rct", "training method: rct, qat or fp32")
	fs.StringVar(&f.Policy, "policy", "", "precision policy: rct, fixed, cyclic or progressive (default: rct for rct, fixed for qat)")
	fs.IntVar(&f.Epochs, "epochs", 2, "passes over the training set")
	fs.IntVar(&f.Steps, "steps", 0, "stop after this many steps (0: no limit); for the text model, whose epochs are long")
	fs.IntVar(&f.Batch, "batch", 32, "examples per step")
	fs.Float64Var(&f.LR, "lr", 0, "learning rate (default: the method's, see train.DefaultConfig)")
	fs.Uint64Var(&f.Seed, "seed", 1, "seed of the initial weights, the batch order and stochastic rounding")
	fs.IntVar(&f.Limit, "limit", 0, "train on the first `n` examples only (0: all)")
	fs.IntVar(&f.TestLimit, "test-limit", 0, "evaluate on the first `n` test examples only (0: all)")
	fs.StringVar(&f.Data, "data", "", "MNIST directory (default: the GoMNIST module's data folder) or text file (default: the Go toolchain's Opticks text)")
	fs.IntVar(&f.Bits, "bits", 0, "fixed bitwidth for --policy fixed and for qat (default 8)")
	fs.IntVar(&f.Interval, "interval", 0, "rct policy: steps between controller decisions (default 50)")
	fs.Float64Var(&f.TMin, "t-min", 0, "rct policy: add a bit when Gavg is below this")
	fs.Float64Var(&f.TMax, "t-max", 0, "rct policy: drop a bit when Gavg is above this")
	fs.IntVar(&f.MinBits, "min-bits", 0, "rct, cyclic, progressive: lowest bitwidth")
	fs.IntVar(&f.MaxBits, "max-bits", 0, "rct, cyclic, progressive: highest bitwidth")
	fs.IntVar(&f.StartBits, "start-bits", 0, "rct policy: bitwidth at step 0 (default 8)")
	fs.IntVar(&f.Period, "period", 0, "cyclic policy: steps per cycle")
	fs.StringVar(&f.Rounding, "rounding", "", "rct update rounding: stochastic (default) or nearest")
	fs.IntVar(&f.EvalEvery, "eval-every", 0, "steps between test evaluations (0: each epoch's end)")
	fs.BoolVar(&f.Force, "force", false, "overwrite an existing run folder")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if f.Out == "" {
		return usagef("--out is required")
	}
	method, err := numerics.ParseMethod(f.Method)
	if err != nil {
		return usagef("%v", err)
	}
	net, err := models.ByName(f.Model)
	if err != nil {
		return usagef("--model: %v", err)
	}
	cfg, err := trainConfig(&f, method)
	if err != nil {
		return usagef("%v", err)
	}
	if err := checkBatchMemory(net, f.Batch, machineMemoryBytes()); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(f.Out, "run.json")); err == nil && !f.Force {
		return fmt.Errorf("%s already holds a run (run.json); choose another --out or pass --force", f.Out)
	}
	data, dataset, err := loadData(net, &f)
	if err != nil {
		return err
	}
	if cfg.Policy.Kind == train.PolicyProgressive && cfg.Policy.TotalSteps == 0 {
		cfg.Policy.TotalSteps = runSteps(data, cfg)
	}
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	return trainRun(e, &f, net, data, dataset, cfg)
}

// trainConfig starts from the method's defaults and applies the flags that were set.
func trainConfig(f *trainFlags, method numerics.Method) (train.Config, error) {
	cfg := train.DefaultConfig(method)
	cfg.Epochs, cfg.Batch, cfg.Seed, cfg.MaxSteps, cfg.EvalEvery = f.Epochs, f.Batch, f.Seed, f.Steps, f.EvalEvery
	if f.LR != 0 {
		cfg.LR = f.LR
	}
	if f.Rounding != "" {
		cfg.Rounding = f.Rounding
	}
	if f.TestLimit > 0 {
		cfg.EvalLimit = f.TestLimit
	}
	if method == numerics.QAT && f.Bits != 0 {
		cfg.QATBits = f.Bits
	}
	if f.Policy != "" {
		if method == numerics.FP32 {
			return cfg, errors.New("method fp32 has no precision policy")
		}
		cfg.Policy = train.DefaultPolicyConfig(f.Policy)
		if cfg.Policy.Kind == "" {
			return cfg, fmt.Errorf("unknown --policy %q (want %v)", f.Policy, train.PolicyKinds)
		}
	}
	p := &cfg.Policy
	set := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	set(&p.Interval, f.Interval)
	set(&p.MinBits, f.MinBits)
	set(&p.MaxBits, f.MaxBits)
	set(&p.StartBits, f.StartBits)
	set(&p.Period, f.Period)
	set(&p.Bits, f.Bits)
	if f.TMin != 0 {
		p.TMin = f.TMin
	}
	if f.TMax != 0 {
		p.TMax = f.TMax
	}
	if method == numerics.QAT && p.Kind == train.PolicyFixed {
		p.Bits = cfg.QATBits
	}
	return cfg, nil
}

// loadData picks the dataset a model trains on: MNIST for the image models (padded to
// 32x32 for LeNet-5), the Opticks text for the character model.
func loadData(net *models.Network, f *trainFlags) (*train.Split, string, error) {
	if net.Layers[0].Kind == models.Embedding {
		text, err := train.LoadText(f.Data, int(net.Input.W))
		if err != nil {
			return nil, "", err
		}
		split := text.Split
		if f.Limit > 0 || f.TestLimit > 0 {
			return nil, "", errors.New("--limit and --test-limit apply to MNIST; limit a text run with --steps")
		}
		return &split, fmt.Sprintf("text (%d symbols, %d train / %d test windows)", len(text.Alphabet), split.Train.Len(), split.Test.Len()), nil
	}
	pad := net.Input.H == 32
	split, err := train.LoadMNIST(f.Data, pad, f.Limit, f.TestLimit)
	if err != nil {
		return nil, "", err
	}
	return split, fmt.Sprintf("mnist (%d train / %d test)", split.Train.Len(), split.Test.Len()), nil
}

// runSteps is the number of steps a run will train.
func runSteps(data *train.Split, cfg train.Config) int {
	steps := cfg.Epochs * (data.Train.Len() / cfg.Batch)
	if cfg.MaxSteps > 0 {
		steps = min(steps, cfg.MaxSteps)
	}
	return steps
}

func trainRun(e *env, f *trainFlags, net *models.Network, data *train.Split, dataset string, cfg train.Config) error {
	// Ctrl-C stops after the current step; the run folder then ends at a whole step.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sum, err := trainRunFiles(ctx, e, f, net, data, dataset, cfg)
	if err != nil {
		return err
	}
	printSummary(e.stdout, f.Out, sum)
	return nil
}

// trainRunFiles trains into the run folder f.Out: metrics.csv and schedule.csv as the
// run goes, run.json at the end (also when interrupted, marked incomplete).
func trainRunFiles(ctx context.Context, e *env, f *trainFlags, net *models.Network, data *train.Split, dataset string, cfg train.Config) (*train.Summary, error) {
	if err := os.MkdirAll(f.Out, 0o755); err != nil {
		return nil, err
	}
	metrics, err := os.Create(filepath.Join(f.Out, "metrics.csv"))
	if err != nil {
		return nil, err
	}
	defer metrics.Close()
	schedule, err := os.Create(filepath.Join(f.Out, "schedule.csv"))
	if err != nil {
		return nil, err
	}
	defer schedule.Close()
	fmt.Fprintf(e.stderr, "training %s with %s on %s\n", net.Name, cfg.Method, dataset)
	bar := newProgress(e.stderr, "train "+net.Name+" "+string(cfg.Method))
	rec := runRecord{Command: "rctsim train", Flags: *f, Config: cfg, Dataset: dataset, Started: time.Now().UTC().Format(time.RFC3339)}
	sum, runErr := train.Run(ctx, net, data, cfg, train.RunOutput{Metrics: metrics, Schedule: schedule, Progress: bar.update})
	rec.Summary, rec.Complete = sum, runErr == nil
	if sum != nil {
		js, err := json.MarshalIndent(rec, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(filepath.Join(f.Out, "run.json"), append(js, '\n')); err != nil {
			return nil, err
		}
	}
	for _, c := range []io.Closer{metrics, schedule} {
		if err := c.Close(); err != nil && runErr == nil {
			runErr = err
		}
	}
	if errors.Is(runErr, context.Canceled) {
		return nil, fmt.Errorf("interrupted after %d steps; %s holds the run up to there", sum.Steps, f.Out)
	}
	if runErr != nil {
		return nil, runErr
	}
	return sum, nil
}

func printSummary(w io.Writer, dir string, s *train.Summary) {
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

// checkBatchMemory refuses a --batch whose buffers cannot fit the machine's memory
// (memBytes, 0 when unknown), so that a typo is an error rather than the OS killing
// the process half-way.
func checkBatchMemory(net *models.Network, batch int, memBytes int64) error {
	if need := train.MinBatchBytes(net, batch); memBytes > 0 && need > memBytes {
		return usagef("--batch %d: training %s needs at least %.1f GiB for the batch's activations and errors; this machine has %.1f GiB",
			batch, net.Name, float64(need)/(1<<30), float64(memBytes)/(1<<30))
	}
	return nil
}

// machineMemoryBytes is the machine's total memory from /proc/meminfo, or 0 where that
// cannot be read (the check is then skipped).
func machineMemoryBytes() int64 {
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
