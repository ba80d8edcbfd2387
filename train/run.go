// Run: a whole training run over a dataset, with its logs.

package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/traces"
)

// RunOutput is where a run writes. The caller owns the writers (opens and closes the
// files); Run only writes and flushes.
type RunOutput struct {
	// Metrics receives metrics.csv (MetricsHeader); nil: not written.
	Metrics io.Writer
	// Schedule receives the precision schedule (traces' format): every step, every
	// weight layer's width, and Gavg at the controller's steps. FP32 runs list 32 bits.
	// nil: not written.
	Schedule io.Writer
	// Progress, when set, is called after every step with the steps done and the run's
	// total (for a progress bar).
	Progress func(done, total int)
}

// Summary is the outcome of a run. Fields derived from the clock (seconds, rates) are
// the only ones that differ between identical runs.
type Summary struct {
	Model  string `json:"model"`
	Method string `json:"method"`
	// Policy describes the precision policy (PolicyConfig.String()), "" for fp32.
	Policy string `json:"policy"`
	Seed   uint64 `json:"seed"`
	// Epochs is the number of epochs started, Steps the steps trained, Examples the
	// training examples processed.
	Epochs   int   `json:"epochs"`
	Steps    int   `json:"steps"`
	Examples int64 `json:"examples"`
	// Interrupted is set when the run stopped early because its context was cancelled.
	Interrupted bool `json:"interrupted"`
	// TrainLoss and TrainAccuracy are the means over the steps of the last epoch run.
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	// Test is the last evaluation on the test set (zero if none ran).
	TestLoss     float64 `json:"test_loss"`
	TestAccuracy float64 `json:"test_accuracy"`
	TestBPC      float64 `json:"test_bpc,omitempty"`
	// Layers are the weight layers' names; FinalBits their widths after the last step
	// (nil for fp32); AvgBits the parameter-weighted mean width averaged over steps.
	Layers    []string `json:"layers"`
	FinalBits []int    `json:"final_bits,omitempty"`
	AvgBits   float64  `json:"avg_bits"`
	// Decisions are the policy's width changes (decisions that kept a width are in the
	// schedule's Gavg record, not here).
	Decisions []Decision `json:"decisions,omitempty"`
	// Saturations are RCT's clipped values over the run.
	Saturations Saturations `json:"saturations"`
	// WallSeconds is the whole run; TrainSeconds excludes evaluations; EpochSeconds is
	// the training time of each epoch; ExamplesPerSecond is training throughput.
	WallSeconds       float64   `json:"wall_seconds"`
	TrainSeconds      float64   `json:"train_seconds"`
	EpochSeconds      []float64 `json:"epoch_seconds"`
	ExamplesPerSecond float64   `json:"examples_per_second"`
}

// Sourced is a Dataset read from a file, which errors about it name: the MNIST sets
// (their images file) and the text sets (the text file).
type Sourced interface {
	Source() string
}

// CheckData checks that both sets of data fit net: the input shape, the classes
// (outputs, or an embedding's vocabulary), the labels per example. An error names the
// set, the file it came from (when Sourced) and both shapes or counts, so that a data
// file that does not fit is found before any training starts.
func CheckData(net *models.Network, data *Split) error {
	p, err := newPlan(net)
	if err != nil {
		return err
	}
	if data == nil {
		return errors.New("no data")
	}
	if err := checkData(net, p, "training", data.Train); err != nil {
		return err
	}
	return checkData(net, p, "test", data.Test)
}

// checkData checks that a dataset fits the network.
func checkData(net *models.Network, p *plan, name string, ds Dataset) error {
	if ds == nil {
		return fmt.Errorf("no %s set", name)
	}
	if s, ok := ds.(Sourced); ok && s.Source() != "" {
		name += " set " + s.Source()
	} else {
		name += " set"
	}
	if s := ds.InputShape(); s != net.Input {
		return fmt.Errorf("%s has inputs %v but %s expects %v", name, s, net.Name, net.Input)
	}
	if c := ds.Classes(); c > net.Classes {
		return fmt.Errorf("%s has %d classes but %s has %d outputs", name, c, net.Name, net.Classes)
	}
	if l := ds.LabelsPerExample(); l != p.positions {
		return fmt.Errorf("%s has %d labels per example but %s predicts %d positions", name, l, net.Name, p.positions)
	}
	if p.embedIn && ds.Classes() > net.Layers[0].Vocab {
		return fmt.Errorf("%s has %d token ids but %s's embedding has %d", name, ds.Classes(), net.Name, net.Layers[0].Vocab)
	}
	if ds.Len() == 0 {
		return fmt.Errorf("%s is empty", name)
	}
	return nil
}

// DivergedError reports a run whose training loss stopped being a number: the float
// methods diverge when the learning rate is too large for the network.
type DivergedError struct {
	Step int     // the step whose loss was not finite
	Loss float64 // NaN or ±Inf
	LR   float64 // the learning rate of that step
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("training diverged: the loss of step %d is %v (learning rate %.3g)", e.Step, e.Loss, e.LR)
}

// Run trains net on data.Train for cfg.Epochs epochs (or cfg.MaxSteps steps), with
// batches from a Batcher seeded by cfg.Seed (the last partial batch of each epoch is
// dropped), evaluating on data.Test every cfg.EvalEvery steps (or at the end of each
// epoch) and after the last step. It writes one metrics row and one schedule step per
// training step. The same inputs give byte-identical metrics and schedules.
//
// A step whose loss is NaN or infinite ends the run with a *DivergedError and the
// summary so far.
//
// When ctx is cancelled, Run finishes the step in progress, flushes its outputs (so
// they end at a whole step) and returns the summary so far, with Interrupted set, and
// ctx's error.
func Run(ctx context.Context, net *models.Network, data *Split, cfg Config, out RunOutput) (*Summary, error) {
	start := time.Now()
	t, err := NewTrainer(net, cfg)
	if err != nil {
		return nil, err
	}
	if err := CheckData(net, data); err != nil {
		return nil, err
	}
	batcher := NewBatcher(data.Train.Len(), cfg.Batch, cfg.Seed, true)
	perEpoch := batcher.BatchesPerEpoch()
	if perEpoch == 0 {
		return nil, fmt.Errorf("training set of %d examples is smaller than one batch of %d", data.Train.Len(), cfg.Batch)
	}
	total := cfg.Epochs * perEpoch
	if cfg.MaxSteps > 0 {
		total = min(total, cfg.MaxSteps)
	}
	if cfg.LRSteps == 0 {
		cfg.LRSteps = total
		t.cfg.LRSteps = total
	}
	sum := &Summary{Model: net.Name, Method: string(cfg.Method), Seed: cfg.Seed, Layers: t.LayerNames()}
	if pc, ok := cfg.policyConfig(); ok {
		sum.Policy = pc.String()
	}
	var mw *MetricsWriter
	if out.Metrics != nil {
		mw = NewMetricsWriter(out.Metrics)
	}
	var sw *traces.ScheduleWriter
	if out.Schedule != nil {
		sw = traces.NewScheduleWriter(out.Schedule)
	}
	flush := func() error {
		var errs []error
		if mw != nil {
			errs = append(errs, mw.Flush())
		}
		if sw != nil {
			errs = append(errs, sw.Flush())
		}
		return errors.Join(errs...)
	}
	layers := sum.Layers
	bits32 := make([]int, len(layers))
	for j := range bits32 {
		bits32[j] = 32
	}
	gavg := make([]float64, len(layers))
	x := make([]float32, cfg.Batch*t.p.inElems)
	labels := make([]int32, cfg.Batch*t.p.positions)
	var bitsSum float64
	var trainTime time.Duration
	evalBatch := cfg.EvalBatch
	if evalBatch == 0 {
		evalBatch = cfg.Batch
	}
	// evaluate re-estimates RCT's running statistics from the epoch's latest
	// batches, those up to order[last], then evaluates.
	evaluate := func(order [][]int, last int) *EvalResult {
		t.ReestimateBN(data.Train, order[max(0, last+1-cfg.BNReestimate):last+1])
		r := t.Evaluate(data.Test, evalBatch)
		sum.TestLoss, sum.TestAccuracy, sum.TestBPC = r.Loss, r.Accuracy, r.BitsPerChar
		return &r
	}
	step := 0
	for e := 0; e < cfg.Epochs && step < total && !sum.Interrupted; e++ {
		var epochTrain time.Duration
		var lossSum float64
		var correct, nLabels, epochSteps int
		order := batcher.Epoch(e)
		for pos, idx := range order {
			if step >= total {
				break
			}
			if ctx.Err() != nil {
				sum.Interrupted = true
				break
			}
			stepStart := time.Now()
			data.Train.Fill(idx, x, labels)
			avgBits := t.AvgBits()
			res := t.Step(x, labels)
			if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
				// Every later step would compute on NaN; the run can say no more.
				return sum, errors.Join(&DivergedError{Step: res.Step, Loss: res.Loss, LR: t.cfg.LRAt(res.Step)}, flush())
			}
			epochTrain += time.Since(stepStart)
			bitsSum += avgBits
			lossSum += res.Loss
			correct += res.Correct
			nLabels += res.Labels
			epochSteps++
			sum.Steps++
			sum.Examples += int64(len(idx))
			for _, d := range res.Decisions {
				if d.From != d.To {
					sum.Decisions = append(sum.Decisions, d)
				}
			}
			if sw != nil {
				bits := res.Bits
				if bits == nil {
					bits = bits32
				}
				for j := range gavg {
					gavg[j] = 0
					if res.Stats != nil {
						gavg[j] = res.Stats[j].Gavg
					}
				}
				if err := sw.Write(res.Step, layers, bits, gavg, res.Stats != nil); err != nil {
					return sum, errors.Join(err, flush())
				}
			}
			var eval *EvalResult
			endOfEpoch := epochSteps == perEpoch || step+1 == total
			if (cfg.EvalEvery > 0 && (step+1)%cfg.EvalEvery == 0) || (cfg.EvalEvery == 0 && endOfEpoch) || step+1 == total {
				eval = evaluate(order, pos)
			}
			if mw != nil {
				row := MetricsRow{Step: res.Step, Epoch: e, Loss: res.Loss, TrainAcc: float64(res.Correct) / float64(res.Labels),
					AvgBits: avgBits, Eval: eval, Sequence: t.p.positions > 1}
				if err := mw.Write(row); err != nil {
					return sum, errors.Join(err, flush())
				}
			}
			step++
			if out.Progress != nil {
				out.Progress(step, total)
			}
		}
		if epochSteps > 0 {
			sum.Epochs = e + 1
			sum.EpochSeconds = append(sum.EpochSeconds, epochTrain.Seconds())
			trainTime += epochTrain
			sum.TrainLoss = lossSum / float64(epochSteps)
			sum.TrainAccuracy = float64(correct) / float64(nLabels)
		}
	}
	if sum.Steps > 0 {
		sum.AvgBits = bitsSum / float64(sum.Steps)
	}
	sum.FinalBits = t.Bits()
	sum.Saturations = t.Saturations()
	sum.TrainSeconds = trainTime.Seconds()
	if trainTime > 0 {
		sum.ExamplesPerSecond = float64(sum.Examples) / trainTime.Seconds()
	}
	sum.WallSeconds = time.Since(start).Seconds()
	if err := flush(); err != nil {
		return sum, err
	}
	if sum.Interrupted {
		return sum, ctx.Err()
	}
	return sum, nil
}
