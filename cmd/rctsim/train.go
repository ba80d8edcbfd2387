package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/plots/figures"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/sim/experiment"
	"github.com/rctsim/rctsim/traces/progress"
	"github.com/rctsim/rctsim/train/numerics"
)

var cmdTrain = &command{
	name:    "train",
	usage:   "-o runs/NAME [--model lenet5|FILE.onnx] [--input-shape CxHxW] [--init-from-model] [--method rct|qat|fp32|niti|fp8] [--update MASK] [--policy rct|fixed|cyclic|progressive] [--epochs 2] [--steps N] [--batch 32] [--lr LR] [--seed 1] [--limit N] [--data DIR]",
	summary: "train a model on real data with RCT, QAT, FP32, NITI or FP8 (any of them with a sparse update) and write a run folder (metrics.csv, schedule.csv, run.json)",
	run:     runTrain,
}

func runTrain(c *command, e *env, args []string) error {
	var o experiment.TrainOptions
	fs := newFlags(c, e)
	registerOutputDir(fs, &o.Out, &o.Force, "the run (required)")
	registerTraining(fs, &o)
	fs.StringVar(&o.Method, "method", "rct", "training method: rct, qat, fp32, niti or fp8")
	if err := fs.parse(args, 0); err != nil {
		return err
	}
	o.Given = fs.given()
	method, err := numerics.ParseMethod(o.Method)
	if err != nil {
		return usagef("%v", err)
	}
	net, err := openModel(o.Model, o.InputShape, o.InitFromModel)
	if err != nil {
		return err
	}
	cfg, err := o.Check(net, method)
	if err != nil {
		return err
	}
	data, dataset, err := experiment.LoadData(net, &o)
	if err != nil {
		return err
	}
	// Ctrl-C stops after the current step; the run folder then ends at a whole step.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sum, err := experiment.Train(ctx, net, data, dataset, cfg, &o, observer(e))
	if err != nil {
		return err
	}
	experiment.WriteSummary(e.stdout, o.Out, sum)
	return nil
}

// observer reports an experiment's stages and progress on stderr.
func observer(e *env) experiment.Observer {
	return experiment.Observer{Log: e.stderr, Progress: progress.New(e.stderr)}
}

var cmdCompare = &command{
	name:    "compare",
	usage:   "-o runs/NAME [--model lenet5|FILE.onnx] [--input-shape CxHxW] [--hw NAME|FILE] [--set key=value ...] [--methods rct,qat,fp32,niti,fp8,rct@last:3] [--epochs 2] [--steps N] [--limit N] [--device-steps K] [--formats png,svg,pdf]",
	summary: "train a model with each method, run every step's plan on the simulated chip, and compare energy, memory, time and accuracy",
	run:     runCompare,
}

// compareFlags are compare's flags beyond the training group.
type compareFlags struct {
	experiment.CompareOptions
	hwFlags
	methods, formats, fidelity string
}

func runCompare(c *command, e *env, args []string) error {
	var f compareFlags
	fs := newFlags(c, e)
	registerOutputDir(fs, &f.Out, &f.Force, "the runs, compare.json, compare.csv, report.md, report.html and figures (required)")
	f.hwFlags.register(fs)
	registerTraining(fs, &f.TrainOptions)
	fs.StringVar(&f.methods, "methods", "rct,qat,fp32", "methods to compare, comma-separated, each METHOD or METHOD@MASK with an update mask of its own (rct,qat,fp32,niti,fp8,rct@last:3,qat@bias-only)")
	registerFormats(fs, &f.formats, "png,svg,pdf")
	fs.deprecated("figures", "formats")
	fs.StringVar(&f.fidelity, "fidelity", "exact", "DRAM simulation: exact or fast (see rctsim help sim)")
	fs.IntVar(&f.DeviceSteps, "device-steps", 2, "run the first `k` steps of every integer method (rct, niti, with their masks) functionally on the simulated chip and check them bit for bit against the host (0: skip)")
	if err := fs.parse(args, 0); err != nil {
		return err
	}
	f.Given = fs.given()
	return compare(e, &f)
}

// compare checks every option, then runs the comparison and draws its figures.
func compare(e *env, f *compareFlags) error {
	for _, s := range splitMethods(f.methods) {
		m, err := numerics.ParseVariant(s)
		if err != nil {
			return usagef("--methods: %v", err)
		}
		f.Methods = append(f.Methods, m)
	}
	formats, err := parseFormats(f.formats)
	if err != nil {
		return err
	}
	if f.Fidelity, err = sim.ParseFidelity(f.fidelity); err != nil {
		return usagef("--fidelity: %v", err)
	}
	net, err := openModel(f.Model, f.InputShape, f.InitFromModel)
	if err != nil {
		return err
	}
	if f.Profile, err = f.load(); err != nil {
		return err
	}
	f.HW, f.Sets = f.hw, f.sets
	if err := f.Check(net); err != nil {
		return err
	}
	data, dataset, err := experiment.LoadData(net, &f.TrainOptions)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := experiment.Compare(ctx, net, data, dataset, &f.CompareOptions, observer(e))
	if err != nil {
		return err
	}
	if err := res.WriteTable(e.stdout); err != nil {
		return err
	}
	wrote := fmt.Sprintf("%s/{compare.json,compare.csv,report.md,report.html}", f.Out)
	if len(formats) > 0 {
		dir := filepath.Join(f.Out, "figures")
		paths, err := figures.Folder(f.Out, dir, nil, formats)
		if err != nil {
			return fmt.Errorf("figures: %w", err)
		}
		wrote += fmt.Sprintf(" and %d figures in %s", len(paths), dir)
	}
	page, err := writeFolderReport(f.Out)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(e.stdout, "wrote %s\nopen %s in a browser: the results, figures and settings on one page\n", wrote, page)
	return nil
}

// splitMethods splits a --methods list at the commas between variants: a comma inside
// a layers: mask (rct@layers:0,b,1) belongs to the mask.
func splitMethods(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if n := len(out); n > 0 && strings.Contains(out[n-1], "@layers:") && !strings.ContainsAny(f, "@") && isMaskPart(f) {
			out[n-1] += "," + f
			continue
		}
		out = append(out, f)
	}
	return out
}

// isMaskPart reports whether s is one entry of a layers: mask (0, b, 1 or a fraction).
func isMaskPart(s string) bool {
	if s == "b" {
		return true
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

var cmdDemo = &command{
	name:    "demo",
	usage:   "[-o out/demo] [--epochs 1]",
	summary: "the main job on the embedded defaults: LeNet-5 on MNIST with RCT, QAT and FP32 on the default chip, compared",
	run:     runDemo,
}

// runDemo is `rctsim compare` with the defaults a newcomer needs: LeNet-5 trained on the
// whole MNIST training set for one epoch with each method, evaluated on the whole test
// set every 250 steps (enough points for the accuracy curve of an 1,875-step epoch),
// every step simulated on the default chip, the first RCT steps checked bit for bit on
// the simulated device, and every figure drawn.
func runDemo(c *command, e *env, args []string) error {
	f := compareFlags{methods: "rct,qat,fp32", formats: "png,svg,pdf"}
	fs := newFlags(c, e)
	fs.StringVar(&f.Out, "o", filepath.Join("out", "demo"), "output folder `dir`")
	fs.deprecated("out", "o")
	fs.IntVar(&f.Epochs, "epochs", 1, "passes over the MNIST training set")
	if err := fs.parse(args, 0); err != nil {
		return err
	}
	f.Model, f.Batch, f.Seed, f.EvalEvery = "lenet5", 32, 1, 250
	f.DeviceSteps, f.Force = 2, true
	fmt.Fprintf(e.stderr, "rctsim demo: LeNet-5 on MNIST, %d epoch(s) per method, simulated on the default chip; writing %s\n", f.Epochs, f.Out)
	return compare(e, &f)
}
