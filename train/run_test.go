package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/traces"
	"github.com/rctsim/rctsim/train/numerics"
)

// smallConvNet is a LeNet-like network on 12x12 images, big enough for gonum to split
// its GEMMs across goroutines and for RCT's controller to act, small enough for tests.
func smallConvNet(t testing.TB) *models.Network {
	S := func(c, h, w int) models.Shape { return models.Shape{C: c, H: h, W: w} }
	return mkNet(t, "smallconv", S(1, 12, 12),
		models.Layer{Name: "conv1", Kind: models.Conv2D, Out: S(8, 12, 12), KernelH: 3, KernelW: 3, Stride: 1, Padding: 1, Bias: true},
		models.Layer{Kind: models.ReLU, Out: S(8, 12, 12)},
		models.Layer{Kind: models.MaxPool, Out: S(8, 6, 6), KernelH: 2, KernelW: 2, Stride: 2},
		models.Layer{Name: "conv2", Kind: models.Conv2D, Out: S(8, 4, 4), KernelH: 3, KernelW: 3, Stride: 1, Bias: true},
		models.Layer{Kind: models.ReLU, Out: S(8, 4, 4)},
		models.Layer{Kind: models.Flatten, Out: S(128, 1, 1)},
		models.Layer{Name: "fc", Kind: models.Linear, Out: S(4, 1, 1), Bias: true},
	)
}

// runOnce runs a short training and returns its metrics and schedule bytes.
func runOnce(t *testing.T, net *models.Network, data *Split, cfg Config) (*Summary, []byte, []byte) {
	t.Helper()
	var metrics, schedule bytes.Buffer
	sum, err := Run(context.Background(), net, data, cfg, RunOutput{Metrics: &metrics, Schedule: &schedule})
	if err != nil {
		t.Fatal(err)
	}
	return sum, metrics.Bytes(), schedule.Bytes()
}

func shortConfig(m numerics.Method) Config {
	cfg := DefaultConfig(m)
	cfg.Epochs, cfg.Batch, cfg.EvalEvery = 2, 16, 7
	if m == numerics.RCT {
		cfg.Policy.Interval = 5
	}
	return cfg
}

// TestRunDeterministic runs every method twice, and FP32 also on one core: the
// metrics and schedules must be byte-identical.
func TestRunDeterministic(t *testing.T) {
	net := smallConvNet(t)
	data := SyntheticSplit(3, 160, 48, net.Input, 4)
	for _, m := range numerics.Methods {
		cfg := shortConfig(m)
		_, m1, s1 := runOnce(t, net, data, cfg)
		_, m2, s2 := runOnce(t, net, data, cfg)
		if !bytes.Equal(m1, m2) || !bytes.Equal(s1, s2) {
			t.Errorf("%s: two runs with the same seed wrote different metrics or schedules", m)
		}
		prev := runtime.GOMAXPROCS(1)
		_, m3, s3 := runOnce(t, net, data, cfg)
		runtime.GOMAXPROCS(prev)
		if !bytes.Equal(m1, m3) || !bytes.Equal(s1, s3) {
			t.Errorf("%s: a run on one core wrote different metrics or schedules", m)
		}
		cfg.Seed++
		_, m4, _ := runOnce(t, net, data, cfg)
		if bytes.Equal(m1, m4) {
			t.Errorf("%s: another seed gave the same metrics", m)
		}
	}
}

// TestRunOutputs checks the files' shape: one metrics row and one schedule step per
// step, evaluations where configured, a schedule the traces reader accepts, and
// controller statistics exactly at the policy's steps.
func TestRunOutputs(t *testing.T) {
	net := smallConvNet(t)
	data := SyntheticSplit(3, 160, 48, net.Input, 4)
	for _, m := range numerics.Methods {
		cfg := shortConfig(m)
		sum, metrics, schedule := runOnce(t, net, data, cfg)
		lines := strings.Split(strings.TrimSpace(string(metrics)), "\n")
		steps := 2 * (160 / 16)
		if sum.Steps != steps || len(lines) != steps+1 || lines[0] != MetricsHeader {
			t.Fatalf("%s: %d steps, %d metrics lines, header %q", m, sum.Steps, len(lines), lines[0])
		}
		for i, line := range lines[1:] {
			f := strings.Split(line, ",")
			evaluated := f[5] != "" && f[6] != ""
			if want := (i+1)%7 == 0 || i+1 == steps; evaluated != want {
				t.Errorf("%s: step %d evaluated=%v, want %v", m, i, evaluated, want)
			}
			if f[7] != "" {
				t.Errorf("%s: a classifier's metrics have a bpc value: %q", m, line)
			}
		}
		sch, err := traces.ReadSchedule(bytes.NewReader(schedule), "schedule.csv")
		if err != nil {
			t.Fatalf("%s: schedule does not read back: %v", m, err)
		}
		if len(sch.Steps) != steps || strings.Join(sch.Layers, ",") != "conv1,conv2,fc" {
			t.Errorf("%s: schedule has %d steps of layers %v", m, len(sch.Steps), sch.Layers)
		}
		for i, step := range sch.Steps {
			if want := m == numerics.RCT && (step+1)%5 == 0; sch.Measured(step) != want {
				t.Errorf("%s: step %d measured=%v, want %v", m, step, sch.Measured(step), want)
			}
			if m == numerics.FP32 && sch.Bits[i][0] != 32 {
				t.Errorf("fp32 schedule lists %d bits", sch.Bits[i][0])
			}
		}
		if sum.TestAccuracy == 0 || sum.ExamplesPerSecond <= 0 || len(sum.EpochSeconds) != 2 {
			t.Errorf("%s: summary %+v", m, sum)
		}
	}
}

// TestRunCancel cancels a run from its progress callback: it stops after the step in
// progress, with whole-step outputs and the context's error.
func TestRunCancel(t *testing.T) {
	net := smallConvNet(t)
	data := SyntheticSplit(3, 160, 48, net.Input, 4)
	ctx, cancel := context.WithCancel(context.Background())
	var metrics, schedule bytes.Buffer
	cfg := shortConfig(numerics.RCT)
	sum, err := Run(ctx, net, data, cfg, RunOutput{Metrics: &metrics, Schedule: &schedule, Progress: func(done, total int) {
		if done == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || sum == nil || !sum.Interrupted || sum.Steps != 3 {
		t.Fatalf("cancelled run: err %v, summary %+v", err, sum)
	}
	if n := strings.Count(metrics.String(), "\n"); n != 4 {
		t.Errorf("metrics has %d lines after 3 steps", n)
	}
	sch, err := traces.ReadSchedule(&schedule, "schedule.csv")
	if err != nil || len(sch.Steps) != 3 {
		t.Errorf("schedule after 3 steps: %v, %v", sch, err)
	}
}

// TestRunDiverged: a float run whose loss becomes NaN or infinite stops at that step
// with a DivergedError naming it, instead of training on (and reporting) NaN. The same
// network at the default rate trains on (the guard fires on divergence only).
func TestRunDiverged(t *testing.T) {
	net := smallConvNet(t)
	data := SyntheticSplit(3, 160, 48, net.Input, 4)
	for _, lr := range []float64{1e30, 0.03} {
		cfg := shortConfig(numerics.FP32)
		cfg.LR, cfg.LRSchedule = lr, "constant"
		var metrics, schedule bytes.Buffer
		sum, err := Run(context.Background(), net, data, cfg, RunOutput{Metrics: &metrics, Schedule: &schedule})
		var d *DivergedError
		if lr == 0.03 {
			if err != nil {
				t.Errorf("lr %g: %v", lr, err)
			}
			continue
		}
		if !errors.As(err, &d) {
			t.Fatalf("lr %g: err %v, want a DivergedError", lr, err)
		}
		if !(math.IsNaN(d.Loss) || math.IsInf(d.Loss, 0)) || d.LR != lr || sum == nil || sum.Steps != d.Step {
			t.Errorf("lr %g: %+v after %+v", lr, d, sum)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("step %d", d.Step)) {
			t.Errorf("error %q does not name the step", err)
		}
	}
}

// TestRunRejectsMismatchedData: data that does not fit the network is an error.
func TestRunRejectsMismatchedData(t *testing.T) {
	net := smallConvNet(t)
	for _, data := range []*Split{
		SyntheticSplit(1, 32, 8, models.Shape{C: 1, H: 10, W: 10}, 4),
		SyntheticSplit(1, 32, 8, net.Input, 7),
		{Train: Synthetic(1, 32, net.Input, 4)},
	} {
		if _, err := Run(context.Background(), net, data, shortConfig(numerics.FP32), RunOutput{}); err == nil {
			t.Errorf("Run accepted data %v", data)
		}
	}
}

// ExampleRun trains a small network with RCT on synthetic data and reads the summary.
func ExampleRun() {
	S := func(c, h, w int) models.Shape { return models.Shape{C: c, H: h, W: w} }
	net := &models.Network{Name: "tiny", Input: S(1, 4, 4), Classes: 3, Layers: []models.Layer{
		{Name: "flat", Kind: models.Flatten, In: S(1, 4, 4), Out: S(16, 1, 1)},
		{Name: "fc1", Kind: models.Linear, In: S(16, 1, 1), Out: S(12, 1, 1), Bias: true},
		{Name: "relu", Kind: models.ReLU, In: S(12, 1, 1), Out: S(12, 1, 1)},
		{Name: "fc2", Kind: models.Linear, In: S(12, 1, 1), Out: S(3, 1, 1), Bias: true},
	}}
	data := SyntheticSplit(1, 256, 64, net.Input, 3)
	cfg := DefaultConfig(numerics.RCT)
	cfg.Epochs = 10
	var metrics bytes.Buffer
	sum, err := Run(context.Background(), net, data, cfg, RunOutput{Metrics: &metrics})
	if err != nil {
		panic(err)
	}
	fmt.Println(sum.Steps, "steps; layers", sum.Layers, "at", sum.FinalBits, "bits")
	fmt.Println(strings.SplitN(metrics.String(), "\n", 2)[0])
	fmt.Println("learned:", sum.TestAccuracy > 0.8)
	// Output:
	// 80 steps; layers [fc1 fc2] at [8 8] bits
	// step,epoch,loss,train_acc,avg_bits,test_loss,test_acc,test_bpc
	// learned: true
}
