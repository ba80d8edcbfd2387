package experiment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
)

// TestTrainOptionValues checks that every value no run can use is an OptionError
// naming its option, whichever method and policy would (or would not) read it, and
// that an option given as zero is a value rather than the default.
func TestTrainOptionValues(t *testing.T) {
	base := TrainOptions{Model: "mlp", Epochs: 1, Batch: 8, Seed: 1}
	tests := []struct {
		name   string
		method numerics.Method
		edit   func(o *TrainOptions)
		option string // "" when the options are valid
		msg    string
	}{
		{"bits 0 given (trained at 8)", numerics.RCT, func(o *TrainOptions) { o.Given = []string{"bits"} }, "bits", "bitwidth 0 must be in 2..32"},
		{"bits 0 given to qat", numerics.QAT, func(o *TrainOptions) { o.Given = []string{"bits"} }, "bits", "bitwidth 0"},
		{"bits 40", numerics.RCT, func(o *TrainOptions) { o.Bits = 40 }, "bits", "bitwidth 40"},
		{"min-bits 1", numerics.RCT, func(o *TrainOptions) { o.MinBits = 1 }, "min-bits", "bitwidth 1"},
		{"start-bits 0 given", numerics.FP32, func(o *TrainOptions) { o.Given = []string{"start-bits"} }, "start-bits", "bitwidth 0"},
		{"lr NaN", numerics.RCT, func(o *TrainOptions) { o.LR = math.NaN() }, "lr", "learning rate NaN"},
		{"lr NaN for fp32", numerics.FP32, func(o *TrainOptions) { o.LR = math.NaN() }, "lr", "learning rate NaN"},
		{"lr +Inf", numerics.QAT, func(o *TrainOptions) { o.LR = math.Inf(1) }, "lr", "learning rate +Inf"},
		{"lr 0 given", numerics.RCT, func(o *TrainOptions) { o.Given = []string{"lr"} }, "lr", "learning rate 0"},
		{"lr -1", numerics.RCT, func(o *TrainOptions) { o.LR = -1 }, "lr", "learning rate -1"},
		{"lr below the integer update's range", numerics.RCT, func(o *TrainOptions) { o.LR = 1e-20 }, "lr", "integer update's range"},
		{"t-min NaN, unused by qat", numerics.QAT, func(o *TrainOptions) { o.TMin = math.NaN() }, "t-min", "NaN must be a finite number"},
		{"t-min -Inf", numerics.RCT, func(o *TrainOptions) { o.TMin = math.Inf(-1) }, "t-min", "-Inf"},
		{"t-max NaN", numerics.RCT, func(o *TrainOptions) { o.TMax = math.NaN() }, "t-max", "NaN"},
		{"t-min above t-max", numerics.RCT, func(o *TrainOptions) { o.TMin, o.TMax = 2, 1 }, "t-min", "t_min 2 must be below t_max 1"},
		{"interval 0 given", numerics.RCT, func(o *TrainOptions) { o.Given = []string{"interval"} }, "interval", "at least 1"},
		{"period 1", numerics.RCT, func(o *TrainOptions) { o.Policy, o.Period = "cyclic", 1 }, "period", "at least 2"},
		{"min-bits above max-bits", numerics.RCT, func(o *TrainOptions) { o.MinBits, o.MaxBits = 9, 4 }, "min-bits", "must not exceed max_bits 4"},
		{"epochs 0", numerics.RCT, func(o *TrainOptions) { o.Epochs = 0 }, "epochs", "0 must be at least 1"},
		{"batch -3", numerics.RCT, func(o *TrainOptions) { o.Batch = -3 }, "batch", "-3 must be at least 1"},
		{"steps -1", numerics.RCT, func(o *TrainOptions) { o.Steps = -1 }, "steps", "at least 0"},
		{"limit -1", numerics.RCT, func(o *TrainOptions) { o.Limit = -1 }, "limit", "at least 0"},
		{"eval-every -1", numerics.RCT, func(o *TrainOptions) { o.EvalEvery = -1 }, "eval-every", "at least 0"},
		{"rounding", numerics.QAT, func(o *TrainOptions) { o.Rounding = "up" }, "rounding", "up"},
		{"policy", numerics.RCT, func(o *TrainOptions) { o.Policy = "greedy" }, "policy", "unknown policy"},
		{"momentum 1", numerics.FP32, func(o *TrainOptions) { o.Momentum = 1 }, "momentum", "[0, 1)"},
		{"momentum NaN", numerics.QAT, func(o *TrainOptions) { o.Momentum = math.NaN() }, "momentum", "NaN"},
		{"momentum, ignored by rct", numerics.RCT, func(o *TrainOptions) { o.Momentum = 0.9 }, "", ""},
		{"rct-momentum not 1 - 2^-k", numerics.RCT, func(o *TrainOptions) { o.RCTMomentum = 0.9 }, "rct-momentum", "1 - 2^-k"},
		{"rct-momentum checked whatever the method", numerics.QAT, func(o *TrainOptions) { o.RCTMomentum = 1 }, "rct-momentum", "1 - 2^-k"},
		{"rct-momentum 0.875", numerics.RCT, func(o *TrainOptions) { o.RCTMomentum = 0.875 }, "", ""},
		{"lr-schedule", numerics.RCT, func(o *TrainOptions) { o.LRSchedule = "step" }, "lr-schedule", "unknown learning-rate schedule"},
		{"warmup -1", numerics.FP32, func(o *TrainOptions) { o.Warmup = -1 }, "warmup", "must be >= 0"},
		{"bn-reestimate -1", numerics.RCT, func(o *TrainOptions) { o.BNReestimate = -1 }, "bn-reestimate", "must be >= 0"},
		{"headroom 9", numerics.RCT, func(o *TrainOptions) { o.Headroom = 9 }, "headroom", "0..8"},
		{"momentum 0 given to fp32 is a value", numerics.FP32, func(o *TrainOptions) { o.Given = []string{"momentum"} }, "", ""},
		{"t-min 0 given is a threshold", numerics.RCT, func(o *TrainOptions) { o.Given = []string{"t-min"} }, "", ""},
		{"nothing given", numerics.RCT, func(o *TrainOptions) {}, "", ""},
	}
	net := models.MLP()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			o.Out = t.TempDir()
			tt.edit(&o)
			_, err := o.Check(net, tt.method)
			if tt.option == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Option != tt.option || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v, want --%s: ...%s...", err, tt.option, tt.msg)
			}
		})
	}
	// Given zeros are values; unset ones are the defaults.
	o := base
	o.Given = []string{"t-min"}
	cfg, err := o.Config(numerics.RCT)
	if err != nil || cfg.Policy.TMin != 0 {
		t.Errorf("--t-min 0: t_min %v, %v; want 0", cfg.Policy.TMin, err)
	}
	o = base
	o.Given = []string{"momentum"}
	if cfg, err := o.Config(numerics.FP32); err != nil || cfg.Momentum != 0 {
		t.Errorf("--momentum 0: momentum %v, %v; want 0", cfg.Momentum, err)
	}
	o = base
	o.LRSchedule, o.Warmup, o.Headroom = "constant", 5, 3
	if cfg, err := o.Config(numerics.RCT); err != nil || cfg.LRSchedule != "constant" || cfg.WarmupSteps != 5 || cfg.Headroom != 3 {
		t.Errorf("--lr-schedule constant --warmup 5 --headroom 3: %q %d %d, %v", cfg.LRSchedule, cfg.WarmupSteps, cfg.Headroom, err)
	}
	o = base
	o.Given = []string{"bn-reestimate"}
	if cfg, err := o.Config(numerics.RCT); err != nil || cfg.BNReestimate != 0 {
		t.Errorf("--bn-reestimate 0: %d, %v; want 0 (off)", cfg.BNReestimate, err)
	}
	o = base
	if cfg, _ := o.Config(numerics.RCT); cfg.Policy.TMin != train.DefaultRCTTMin || cfg.LR != train.DefaultConfig(numerics.RCT).LR {
		t.Errorf("defaults not applied: t_min %v lr %v", cfg.Policy.TMin, cfg.LR)
	}
}

// idx writes an IDX file of unsigned bytes.
func idx(dims []uint32, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(data)
	return b.Bytes()
}

// TestLoadDataThatDoesNotFit checks that data whose shape or classes do not fit the
// model is an OptionError naming the file and both shapes, before any training.
func TestLoadDataThatDoesNotFit(t *testing.T) {
	// MNIST files of 16x16 images: LeNet-5 takes 32x32 (28x28 padded).
	dir := t.TempDir()
	files := map[string][]byte{
		"train-images-idx3-ubyte": idx([]uint32{4, 16, 16}, make([]byte, 4*256)),
		"train-labels-idx1-ubyte": idx([]uint32{4}, []byte{0, 1, 2, 3}),
		"t10k-images-idx3-ubyte":  idx([]uint32{2, 16, 16}, make([]byte, 2*256)),
		"t10k-labels-idx1-ubyte":  idx([]uint32{2}, []byte{4, 5}),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A text of every byte value: more symbols than the character model's embedding.
	text := filepath.Join(t.TempDir(), "bytes.txt")
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if err := os.WriteFile(text, bytes.Repeat(all, 10), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		model, data string
		want        []string
	}{
		{"lenet5", dir, []string{"--data", filepath.Join(dir, "train-images-idx3-ubyte"), "1x20x20", "1x32x32"}},
		{"mlp", dir, []string{"--data", "1x16x16", "1x28x28"}},
		{"charlm", text, []string{"--data", text, "256 classes", "96 outputs"}},
	}
	for _, tt := range tests {
		net, _ := models.ByName(tt.model)
		_, _, err := LoadData(net, &TrainOptions{Data: tt.data})
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != "data" {
			t.Errorf("%s: got %v, want an OptionError for --data", tt.model, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tt.model, err, w)
			}
		}
	}
}

// TestTextRunRefusesMNISTLimits: each MNIST-only limit given to a text model is an
// error that names that flag.
func TestTextRunRefusesMNISTLimits(t *testing.T) {
	net, err := models.ByName("transformer")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		option string
		set    func(*TrainOptions)
	}{
		{"limit", func(o *TrainOptions) { o.Limit = 100 }},
		{"test-limit", func(o *TrainOptions) { o.TestLimit = 100 }},
	} {
		var o TrainOptions
		tc.set(&o)
		_, _, err := LoadData(net, &o)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option {
			t.Errorf("--%s on a text model: %v, want an OptionError naming %s", tc.option, err, tc.option)
		}
	}
}
