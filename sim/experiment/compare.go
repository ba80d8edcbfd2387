package experiment

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"path/filepath"
	"strconv"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/sim/devcheck"
	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/traces/timeline"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
)

// CompareOptions are the options of a comparison of training methods on one chip.
type CompareOptions struct {
	// TrainOptions apply to every method's run; Out is the comparison's folder, and
	// each method trains into Out/METHOD. Method is ignored.
	TrainOptions
	// Profile is the chip every step is simulated on.
	Profile *hw.Profile
	// Methods are compared in this order: each a method with an update mask
	// (numerics.Variant: "rct", "rct@last:3"). A variant without a mask of its own
	// trains with TrainOptions.Update.
	Methods []numerics.Variant
	// DeviceSteps is how many RCT steps run functionally on the simulated chip and are
	// checked bit for bit against the host (0: no check).
	DeviceSteps int
	// Fidelity is how exactly DRAM is simulated (sim.FidelityExact by default).
	Fidelity sim.Fidelity
	// HW and Sets say how Profile was named and overridden (--hw, --set), for the
	// record (Result.Settings); they are not read.
	HW   string
	Sets []string
}

// Check validates the options for net before any work: every method's training
// configuration, the batch against this machine's memory, that the chip can run every
// method, and that Out holds no earlier run (unless Force).
func (o *CompareOptions) Check(net *models.Network) error {
	if o.Out == "" {
		return optionErrorf("o", "required")
	}
	if len(o.Methods) == 0 {
		return optionErrorf("methods", "no method to compare")
	}
	for i, m := range o.Methods {
		for _, other := range o.Methods[:i] {
			if other.Dir() == m.Dir() {
				return optionErrorf("methods", "%s appears twice", m)
			}
		}
	}
	if o.DeviceSteps < 0 {
		return optionErrorf("device-steps", "must be at least 0 (got %d)", o.DeviceSteps)
	}
	for _, m := range o.Methods {
		run := o.variantOptions(m)
		if _, err := run.Check(net, m.Method); err != nil {
			return err
		}
		update, err := numerics.ParseUpdate(run.Update)
		if err != nil {
			return optionErrorf("methods", "%v", err)
		}
		// Fail before hours of training if the chip cannot run a method at all.
		opts := kernels.Options{Method: m.Method, Batch: o.Batch, Update: update, MomentumShift: rctMomentumShift(m.Method, run.RCTMomentum)}
		if _, err := kernels.Compile(net, o.Profile, opts); err != nil {
			return err
		}
	}
	return nil
}

// variantOptions are the training options of one variant: its folder under Out, and
// its mask when it has one.
func (o *CompareOptions) variantOptions(v numerics.Variant) TrainOptions {
	run := o.TrainOptions
	run.Method, run.Out = string(v.Method), filepath.Join(o.Out, v.Dir())
	if !v.Update.All() {
		run.Update = v.Update.String()
	}
	return run
}

// Compare trains net on data with each method, simulates every training step's plan
// on the chip, checks the first RCT steps on the simulated device, computes the RCT
// paper's savings, and writes o.Out: one run folder per method (with steps.csv and
// timeline.csv beside the training files), compare.json, compare.csv and report.md.
// Call o.Check first.
func Compare(ctx context.Context, net *models.Network, data *train.Split, dataset string, o *CompareOptions, obs Observer) (*Result, error) {
	prof := o.Profile
	res := &Result{Profile: prof.Name, Model: net.Name, Batch: o.Batch, Epochs: o.Epochs, Seed: o.Seed, Dataset: dataset,
		Settings: &Settings{Profile: prof.Summary(), HW: o.HW, Sets: o.Sets, Options: o.TrainOptions, DeviceSteps: o.DeviceSteps, Fidelity: string(o.Fidelity), Versions: BuildVersions()}}
	for _, m := range o.Methods {
		res.Settings.Methods = append(res.Settings.Methods, m.String())
	}
	runs := map[string]*sim.RunResult{}
	for _, m := range o.Methods {
		row, run, err := compareOne(ctx, net, data, dataset, o, m, obs)
		if err != nil {
			return nil, err
		}
		res.Methods = append(res.Methods, *row)
		runs[row.Method] = run
	}
	if o.DeviceSteps > 0 {
		// Every integer method (and mask) runs functionally on the chip too; the first
		// (RCT's, when compared) is the headline check.
		for _, m := range o.Methods {
			if !m.Method.Integer() {
				continue
			}
			dc := checkDevice(net, data, o, m, obs)
			res.DeviceChecks = append(res.DeviceChecks, *dc)
			if res.DeviceCheck == nil || m.String() == string(numerics.RCT) {
				res.DeviceCheck = dc
			}
		}
	}
	if rct, qat := runs[string(numerics.RCT)], runs[string(numerics.QAT)]; rct != nil && qat != nil {
		s := sim.CompareRCTPaper(rct, qat)
		res.Savings = &s
	}
	if err := res.WriteFiles(o.Out); err != nil {
		return nil, err
	}
	return res, nil
}

// compareOne trains one variant into Out/VARIANT and simulates every step of the run.
func compareOne(ctx context.Context, net *models.Network, data *train.Split, dataset string, o *CompareOptions, v numerics.Variant, obs Observer) (*MethodResult, *sim.RunResult, error) {
	to := o.variantOptions(v)
	m := v.Method
	cfg, err := to.Config(m)
	if err != nil {
		return nil, nil, err
	}
	update, err := numerics.ParseUpdate(cfg.Update)
	if err != nil {
		return nil, nil, err
	}
	sum, err := Train(ctx, net, data, dataset, cfg, &to, obs)
	if err != nil {
		return nil, nil, err
	}
	if obs.Log != nil {
		WriteSummary(obs.Log, to.Out, sum)
	}
	sched, err := readSchedule(filepath.Join(to.Out, "schedule.csv"))
	if err != nil {
		return nil, nil, err
	}
	machine, err := sim.New(o.Profile, sim.Options{Fidelity: o.Fidelity})
	if err != nil {
		return nil, nil, err
	}
	obs.logf("simulating %d steps of %s on %s\n", len(sched.Plans()), v, o.Profile.Name)
	// The chip runs the update the variant trained with: RCT's momentum included.
	opts := kernels.Options{Method: m, Batch: o.Batch, Update: update, MomentumShift: rctMomentumShift(m, cfg.Momentum)}
	run, err := sim.SimulateRun(machine, net, opts, sched.Plans(), true)
	if err != nil {
		return nil, nil, err
	}
	if err := fileio.WriteFile(filepath.Join(to.Out, "steps.csv"), func(w io.Writer) error { return writeStepCosts(w, run) }); err != nil {
		return nil, nil, err
	}
	if err := writeTimeline(filepath.Join(to.Out, "timeline.csv"), o.Profile, net, opts, sched.Plans()[0]); err != nil {
		return nil, nil, err
	}
	row := methodResult(sum, run)
	row.Method = numerics.Variant{Method: m, Update: update}.String()
	if !update.All() {
		row.BaseMethod, row.Update = string(m), update.String()
	}
	return row, run, nil
}

// rctMomentumShift is the momentum shift of RCT's update for method m trained with
// momentum beta (already validated): 0 for every other method, whose momentum is
// not RCT's integer one.
func rctMomentumShift(m numerics.Method, beta float64) int {
	if m != numerics.RCT {
		return 0
	}
	k, _ := numerics.MomentumShift(beta)
	return k
}

// methodResult summarises a method's training and simulated run.
func methodResult(sum *train.Summary, run *sim.RunResult) *MethodResult {
	const pj = 1e-12
	l := &run.Energy
	row := &MethodResult{
		Method: sum.Method, Policy: sum.Policy, Steps: sum.Steps, TestAccuracy: sum.TestAccuracy, TestBPC: sum.TestBPC,
		TestLoss: sum.TestLoss, AvgBits: sum.AvgBits, FinalBits: sum.FinalBits,
		EnergyJ: map[string]float64{"total": l.Total() * pj}, SRAMEnergyByTensor: map[string]float64{},
		DRAMEnergyByTensor: map[string]float64{}, EnergyByPhaseJ: map[string]float64{}, PeakMemoryBytes: map[string]int64{},
		SimulatedSeconds: run.Seconds(), DRAMReadBytes: run.DRAM.ReadBytes, DRAMWriteBytes: run.DRAM.WriteBytes,
		DistinctPlans: run.Distinct, TrainWallSeconds: sum.WallSeconds,
	}
	switch sum.Method {
	case string(numerics.FP32):
		row.AvgBits = 32
	case string(numerics.FP8):
		row.AvgBits = 8
	}
	for c := sim.Component(0); c < sim.NumComponents; c++ {
		row.EnergyJ[c.String()] = l.Component(c) * pj
	}
	for cl := kernels.TensorClass(0); cl < kernels.ClassNone; cl++ {
		row.SRAMEnergyByTensor[cl.String()] = l.ComponentClass(sim.SRAM, cl) * pj
		row.DRAMEnergyByTensor[cl.String()] = l.ComponentClass(sim.DRAM, cl) * pj
		row.PeakMemoryBytes[cl.String()] = run.PeakFootprint[cl]
		row.DRAMFootprintBytes.Final += run.FinalFootprint[cl]
		row.DRAMFootprintBytes.Peak += run.PeakFootprint[cl]
	}
	for p := models.Phase(0); p < models.NumPhases; p++ {
		row.EnergyByPhaseJ[p.String()] = l.Phase(p) * pj
	}
	row.ParamMemoryBytes.Final, row.ParamMemoryBytes.Peak = run.ParameterBytes()
	row.ParamStateMemoryBytes.Final, row.ParamStateMemoryBytes.Peak = run.ParameterStateBytes()
	row.EnergyJ["gemm"] = l.GEMMEnergyPJ() * pj
	return row
}

// writeStepCosts writes steps.csv: every step's simulated cost.
func writeStepCosts(w io.Writer, run *sim.RunResult) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"step", "cycles", "energy_pj", "dram_bytes"})
	for _, s := range run.PerStep {
		cw.Write([]string{strconv.Itoa(s.Step), strconv.FormatUint(s.Cycles, 10), strconv.FormatFloat(s.EnergyPJ, 'g', -1, 64), strconv.FormatInt(s.DRAMBytes, 10)})
	}
	cw.Flush()
	return cw.Error()
}

// writeTimeline simulates one step with a timeline hook and writes its intervals.
func writeTimeline(path string, prof *hw.Profile, net *models.Network, opts kernels.Options, plan numerics.Plan) error {
	opts.Plan = plan
	prog, err := kernels.Compile(net, prof, opts)
	if err != nil {
		return err
	}
	tl := &timeline.Recorder{}
	machine, err := sim.New(prof, sim.Options{Hooks: []sim.Hook{tl}})
	if err != nil {
		return err
	}
	if _, err := machine.Run(prog); err != nil {
		return err
	}
	return fileio.WriteFile(path, tl.WriteCSV)
}

// checkDevice runs the first steps of an integer variant (RCT, NITI, with their update
// masks) functionally on the simulated chip and compares them with the host's, with
// the run's own seed and batches. It runs for every model: the instructions the device
// executes are those of the compiled steps, and one it cannot execute fails the check
// with its name (Steps counts the steps that ran).
func checkDevice(net *models.Network, data *train.Split, o *CompareOptions, v numerics.Variant, obs Observer) *DeviceCheck {
	dc := &DeviceCheck{Method: v.String()}
	to := o.variantOptions(v)
	cfg, err := to.Config(v.Method)
	if err != nil {
		dc.Detail = "not run: " + err.Error()
		return dc
	}
	obs.logf("checking %d %s steps functionally on the simulated %s\n", o.DeviceSteps, v, o.Profile.Name)
	batches := train.NewBatcher(data.Train.Len(), cfg.Batch, cfg.Seed, true).Epoch(0)
	r, err := devcheck.Run(net, o.Profile, cfg, data.Train, batches, o.DeviceSteps)
	if err != nil {
		dc.Detail = "not run: " + err.Error()
		return dc
	}
	dc.Steps, dc.BitExact = r.Steps, r.BitExact
	dc.Detail = fmt.Sprintf("%d tensors compared (weights, scales, running statistics, activations, errors, gradients, Gavg, loss), starting after the calibration step 0", r.Compared)
	if !r.BitExact {
		dc.Detail = r.Detail
	}
	return dc
}
