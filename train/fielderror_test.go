package train

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// TestConfigFieldErrors checks that each value Validate refuses is a *FieldError
// naming its field, non-finite values included.
func TestConfigFieldErrors(t *testing.T) {
	tests := []struct {
		name   string
		method numerics.Method
		edit   func(c *Config)
		field  string
	}{
		{"lr NaN", numerics.RCT, func(c *Config) { c.LR = math.NaN() }, "lr"},
		{"lr +Inf", numerics.FP32, func(c *Config) { c.LR = math.Inf(1) }, "lr"},
		{"lr beyond the fixed-point range", numerics.RCT, func(c *Config) { c.LR = 1 << 20 }, "lr"},
		{"momentum NaN", numerics.FP32, func(c *Config) { c.Momentum = math.NaN() }, "momentum"},
		{"weight decay +Inf", numerics.QAT, func(c *Config) { c.WeightDecay = math.Inf(1) }, "weight_decay"},
		{"weight decay NaN", numerics.QAT, func(c *Config) { c.WeightDecay = math.NaN() }, "weight_decay"},
		{"t_min NaN", numerics.RCT, func(c *Config) { c.Policy.TMin = math.NaN() }, "policy.t_min"},
		{"start_bits", numerics.RCT, func(c *Config) { c.Policy.StartBits = 40 }, "policy.start_bits"},
		{"qat bits 0", numerics.QAT, func(c *Config) { c.QATBits = 0 }, "qat_bits"},
		{"eval limit", numerics.RCT, func(c *Config) { c.EvalLimit = -1 }, "eval_limit"},
		{"max steps", numerics.RCT, func(c *Config) { c.MaxSteps = -1 }, "max_steps"},
		{"rounding", numerics.RCT, func(c *Config) { c.Rounding = "up" }, "rounding"},
		{"qat policy", numerics.QAT, func(c *Config) { c.Policy.Kind = PolicyRCT }, "policy.kind"},
	}
	for _, tt := range tests {
		c := DefaultConfig(tt.method)
		tt.edit(&c)
		err := c.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%s: got %v, want a FieldError for %s", tt.name, err, tt.field)
		}
	}
}

// TestCheckDataNamesTheFile checks that data that does not fit a model is refused
// with the file it came from and both shapes.
func TestCheckDataNamesTheFile(t *testing.T) {
	data, err := LoadMNIST(tinyDir, true, 0, 0) // 2x3 images, padded to 6x7
	if err != nil {
		t.Fatal(err)
	}
	err = CheckData(models.LeNet5(), data)
	for _, want := range []string{"training set", tinyDir, "train-images-idx3-ubyte", "1x6x7", "lenet5 expects 1x32x32"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckData: %v, want it to say %q", err, want)
		}
	}
}
