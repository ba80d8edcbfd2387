package main

import (
	"fmt"
	"path/filepath"
)

var cmdDemo = &command{
	name:    "demo",
	usage:   "[--out out/demo] [--epochs 1]",
	summary: "the main job on the embedded defaults: LeNet-5 on MNIST with RCT, QAT and FP32 on the default chip, compared",
	run:     runDemo,
}

// runDemo is `rctsim compare` with the defaults a newcomer needs: LeNet-5 trained on the
// whole MNIST training set for one epoch with each method, evaluated on the whole test
// set, every step simulated on configs/default.toml, the first RCT steps checked bit for
// bit on the simulated device, and every figure drawn.
func runDemo(c *command, e *env, args []string) error {
	var f compareFlags
	fs := newFlags(c, e)
	fs.StringVar(&f.Out, "out", filepath.Join("out", "demo"), "output folder `dir`")
	fs.IntVar(&f.Epochs, "epochs", 1, "passes over the MNIST training set")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	f.Model, f.methods, f.Batch, f.Seed = "lenet5", "rct,qat,fp32", 32, 1
	f.figures, f.deviceSteps, f.Force = "png,svg,pdf", 2, true
	// Evaluate on the whole test set every 250 steps: enough points for the accuracy
	// curve (an epoch is 1,875 steps) without doubling the run.
	f.EvalEvery = 250
	fmt.Fprintf(e.stderr, "rctsim demo: LeNet-5 on MNIST, %d epoch(s) per method, simulated on the default chip; writing %s\n", f.Epochs, f.Out)
	return compare(e, &f)
}
