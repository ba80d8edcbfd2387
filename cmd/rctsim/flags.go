package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/plots"
	"github.com/rctsim/rctsim/sim/experiment"
	"github.com/rctsim/rctsim/traces/fileio"
)

var errFlagParse = errors.New("flag parse error")

// flagSet is a command's flags: a flag.FlagSet that reports errors instead of
// exiting, knows the old spellings of its flags, and which flags were given.
type flagSet struct {
	*flag.FlagSet
	e       *env
	aliases map[string]string // old spelling -> current name
}

func newFlags(c *command, e *env) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(c.name, flag.ContinueOnError), e: e, aliases: map[string]string{}}
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: rctsim %s %s\n\n%s\n\nFlags:\n", c.name, c.usage, c.summary)
		fs.PrintDefaults()
	}
	return fs
}

// deprecated registers old as an old spelling of the flag current, kept working for one
// release.
func (fs *flagSet) deprecated(old, current string) {
	fs.Var(fs.Lookup(current).Value, old, "deprecated spelling of -"+current)
	fs.aliases[old] = current
}

// parse parses args, allowing at most maxArgs positional arguments (the flag package
// stops at the first one, so `sim extra -format json` would silently ignore -format),
// none that looks like a flag unless after "--", and prints a deprecation line for
// each old spelling used.
func (fs *flagSet) parse(args []string, maxArgs int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errFlagParse
	}
	// The flag package stops at the first input, so a flag after it would be taken as
	// an input; after "--" an input may start with a dash.
	if n := len(args) - fs.NArg(); n == 0 || args[n-1] != "--" {
		for _, arg := range fs.Args() {
			if len(arg) > 1 && arg[0] == '-' {
				return usagef("flag %s after the inputs: put flags first", arg)
			}
		}
	}
	if fs.NArg() > maxArgs {
		return usagef("unexpected argument %q", fs.Arg(maxArgs))
	}
	fs.Visit(func(f *flag.Flag) {
		if cur, ok := fs.aliases[f.Name]; ok {
			fmt.Fprintf(fs.e.stderr, "rctsim %s: -%s is deprecated and goes away in the next release; use -%s\n", fs.Name(), f.Name, cur)
		}
	})
	return nil
}

// input takes the one input of a command given either as its argument or with --in
// (into in); what names the input in the error for both.
func (fs *flagSet) input(in *string, what string) error {
	if fs.NArg() == 1 {
		if *in != "" {
			return usagef("give the %s once: as an argument or with --in", what)
		}
		*in = fs.Arg(0)
	}
	return nil
}

// given lists the flags given, by their current names: the training options take
// them as experiment.TrainOptions.Given, so that an explicit zero is a value.
func (fs *flagSet) given() []string {
	var names []string
	fs.Visit(func(f *flag.Flag) {
		name := f.Name
		if cur, ok := fs.aliases[name]; ok {
			name = cur
		}
		names = append(names, name)
	})
	return names
}

// only rejects every flag given that is not in allowed: what a command is asked to
// do (the mode) does not use it, and ignoring it would hide a mistake.
func (fs *flagSet) only(mode string, allowed ...string) error {
	var bad string
	fs.Visit(func(f *flag.Flag) {
		name := f.Name
		if cur, ok := fs.aliases[name]; ok {
			name = cur
		}
		if bad == "" && !slices.Contains(allowed, name) {
			bad = f.Name
		}
	})
	if bad != "" {
		return usagef("-%s does not apply %s", bad, mode)
	}
	return nil
}

// multiFlag collects a repeatable flag (--set a=b --set c=d).
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// notFlag sets *dst to the negation of the boolean it is given: the old -min-x flag,
// whose false meant "higher is better", sets the new -max-x.
type notFlag struct{ dst *bool }

func (n notFlag) String() string {
	if n.dst == nil {
		return "true"
	}
	return strconv.FormatBool(!*n.dst)
}
func (n notFlag) IsBoolFlag() bool { return true }
func (n notFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	*n.dst = !v
	return err
}

// hwFlags are the hardware group: --hw and --set.
type hwFlags struct {
	hw   string
	sets multiFlag
}

func (h *hwFlags) register(fs *flagSet) {
	fs.StringVar(&h.hw, "hw", "", "hardware profile: an embedded `name` (see rctsim profiles), a TOML file or a SCALE-Sim configuration (.cfg) (default: the embedded default)")
	fs.Var(&h.sets, "set", "override a profile key: `key.path=value` (repeatable), e.g. mac_array.rows=32")
}

func (h *hwFlags) load() (*hw.Profile, error) { return loadProfile(h.hw, h.sets) }

// registerTraining registers the training group into o, with the defaults of rctsim
// train and compare.
func registerTraining(fs *flagSet, o *experiment.TrainOptions) {
	fs.StringVar(&o.Model, "model", "lenet5", modelHelp())
	fs.StringVar(&o.InputShape, "input-shape", "", inputShapeHelp)
	fs.BoolVar(&o.InitFromModel, "init-from-model", false, "start from the ONNX model's initial values (its initializers) instead of drawing them from --seed")
	fs.StringVar(&o.Policy, "policy", "", "precision policy: rct, fixed, cyclic or progressive (default: rct for rct, fixed for qat)")
	fs.IntVar(&o.Epochs, "epochs", 2, "passes over the training set")
	fs.IntVar(&o.Steps, "steps", 0, "stop after this many steps (0: no limit); for the text model, whose epochs are long")
	fs.IntVar(&o.Batch, "batch", 32, "examples per step")
	fs.Float64Var(&o.LR, "lr", 0, "learning rate (default: the method's, see train.DefaultConfig)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the initial weights, the batch order and stochastic rounding (the same for every method)")
	fs.IntVar(&o.Limit, "limit", 0, "train on the first `n` examples only (0: all)")
	fs.IntVar(&o.TestLimit, "test-limit", 0, "evaluate on the first `n` test examples only (0: all)")
	fs.StringVar(&o.Data, "data", "", "MNIST directory (default: the GoMNIST module's data folder) or text file (default: the Go toolchain's Opticks text)")
	fs.IntVar(&o.Bits, "bits", 0, "fixed bitwidth for --policy fixed and for qat (default 8)")
	fs.IntVar(&o.Interval, "interval", 0, "rct policy: steps between controller decisions (default 50)")
	fs.Float64Var(&o.TMin, "t-min", 0, "rct policy: add a bit when Gavg is below this")
	fs.Float64Var(&o.TMax, "t-max", 0, "rct policy: drop a bit when Gavg is above this")
	fs.IntVar(&o.MinBits, "min-bits", 0, "rct, cyclic, progressive: lowest bitwidth")
	fs.IntVar(&o.MaxBits, "max-bits", 0, "rct, cyclic, progressive: highest bitwidth")
	fs.IntVar(&o.StartBits, "start-bits", 0, "rct policy: bitwidth at step 0 (default 8)")
	fs.IntVar(&o.Period, "period", 0, "cyclic policy: steps per cycle")
	fs.StringVar(&o.Rounding, "rounding", "", "rct update rounding: stochastic (default) or nearest")
	fs.Float64Var(&o.Momentum, "momentum", 0, "fp32, qat and fp8: SGD momentum (default 0.9); rct has --rct-momentum, niti none")
	fs.Float64Var(&o.RCTMomentum, "rct-momentum", 0, "rct: integer momentum 1 - 2^-k (0.5, 0.75, 0.875, ...; 0: none) through an int16 buffer per parameter; the steady step is 2^k times --lr's")
	fs.StringVar(&o.LRSchedule, "lr-schedule", "", "learning-rate schedule: constant or cosine (default: cosine for fp32 and qat, constant for rct)")
	fs.IntVar(&o.Warmup, "warmup", 0, "steps of linear learning-rate warm-up (0: none)")
	fs.IntVar(&o.Headroom, "headroom", 0, "rct: bits of the initial weight grid above the largest initial weight (default 1)")
	fs.IntVar(&o.BNReestimate, "bn-reestimate", 0, "rct and niti: training batches batch normalisation's running statistics are re-estimated from before each evaluation (default 8; 0: none)")
	fs.IntVar(&o.EvalEvery, "eval-every", 0, "steps between test evaluations (0: each epoch's end)")
	fs.StringVar(&o.Update, "update", "", "update mask, any method: all (default), bias-only, last:N (the last N weight layers) or layers:U,U,... (per weight layer 0, b, 1 or a fraction of its output channels)")
	fs.BoolVar(&o.NoQAS, "no-qas", false, "rct: update without quantization-aware scaling (an ablation; see the README, Beyond RCT and QAT)")
	fs.IntVar(&o.NITIBits, "niti-bits", 0, "niti: bits a layer's gradient is normalised to before it enters the int16 update buffer (mu; default 10)")
}

// registerOutputDir registers -o as the output folder (old spelling --out), and
// --force.
func registerOutputDir(fs *flagSet, dir *string, force *bool, what string) {
	fs.StringVar(dir, "o", "", "output folder `dir` for "+what)
	fs.deprecated("out", "o")
	fs.BoolVar(force, "force", false, "replace an earlier run in the output folder")
}

// registerFormats registers --formats, the figure formats.
func registerFormats(fs *flagSet, formats *string, def string) {
	fs.StringVar(formats, "formats", def, "figure formats, comma-separated: png, svg, pdf (empty: no figures)")
}

// parseFormats checks a --formats value before any work.
func parseFormats(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	list := strings.Split(s, ",")
	if err := plots.CheckFormats(list); err != nil {
		return nil, usagef("--formats: %v", err)
	}
	return list, nil
}

// output writes a command's data to stdout (path "" or "-") or to the file path,
// which never holds half a result (fileio.WriteFile).
func output(e *env, path string, write func(w io.Writer) error) error {
	if path == "" || path == "-" {
		return write(e.stdout)
	}
	return fileio.WriteFile(path, write)
}

// modelHelp describes the --model flag.
func modelHelp() string {
	if exp := models.ExperimentalNames(); len(exp) > 0 {
		return fmt.Sprintf("built-in model %v (defined, not yet supported everywhere: %v), or an ONNX file `path.onnx`", models.Names(), exp)
	}
	return fmt.Sprintf("built-in model %v, or an ONNX file `path.onnx`", models.Names())
}

const inputShapeHelp = "per-example input shape `CxHxW` for the dimensions an ONNX model leaves open (e.g. 1x32x32)"

// parseShape reads --input-shape, CxHxW ("" is no shape).
func parseShape(s string) (models.Shape, error) {
	if s == "" {
		return models.Shape{}, nil
	}
	parts := strings.Split(s, "x")
	var d [3]int
	if len(parts) != 3 {
		return models.Shape{}, usagef("--input-shape %q: want CxHxW, such as 1x32x32", s)
	}
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 1 || v > 1<<24 {
			return models.Shape{}, usagef("--input-shape %q: %q is not a positive size", s, p)
		}
		d[i] = v
	}
	return models.Shape{C: d[0], H: d[1], W: d[2]}, nil
}

// openModel resolves --model (a built-in name or an ONNX file) with --input-shape;
// values reads the file's initial values (--init-from-model). An unknown name is a
// usage error.
func openModel(name, shape string, values bool) (*models.Network, error) {
	s, err := parseShape(shape)
	if err != nil {
		return nil, err
	}
	net, err := models.Open(name, models.OpenOptions{InputShape: s, Values: values})
	switch {
	case errors.Is(err, models.ErrUnknownModel):
		return nil, usagef("--model: %v", err)
	case err != nil && !models.IsONNXPath(name):
		return nil, usagef("%v", err) // options that do not apply to a built-in model
	}
	return net, err
}
