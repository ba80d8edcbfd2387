package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/sim/devcheck"
	"github.com/rctsim/rctsim/traces"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
)

var cmdCompare = &command{
	name:    "compare",
	usage:   "--out runs/NAME [--model lenet5] [--hw FILE] [--set key=value ...] [--methods rct,qat,fp32] [--epochs 2] [--steps N] [--limit N] [--device-steps K]",
	summary: "train a model with each method, run every step's plan on the simulated chip, and compare energy, memory, time and accuracy",
	run:     runCompare,
}

type compareFlags struct {
	trainFlags
	hw          string
	sets        multiFlag
	methods     string
	figures     string
	deviceSteps int
}

// compareMethod is one method's row of compare.json.
type compareMethod struct {
	Method             string             `json:"method"`
	Policy             string             `json:"policy,omitempty"`
	Steps              int                `json:"steps"`
	TestAccuracy       float64            `json:"test_accuracy"`
	TestBPC            float64            `json:"test_bpc,omitempty"`
	TestLoss           float64            `json:"test_loss"`
	AvgBits            float64            `json:"avg_bits"`
	FinalBits          []int              `json:"final_bits,omitempty"`
	EnergyJ            map[string]float64 `json:"energy_j"`
	SRAMEnergyByTensor map[string]float64 `json:"sram_energy_by_tensor_j"`
	DRAMEnergyByTensor map[string]float64 `json:"dram_energy_by_tensor_j"`
	EnergyByPhaseJ     map[string]float64 `json:"energy_by_phase_j"`
	ParamMemoryBytes   minMax             `json:"param_memory_bytes"`
	DRAMFootprintBytes minMax             `json:"dram_footprint_bytes"`
	PeakMemoryBytes    map[string]int64   `json:"peak_memory_bytes"`
	SimulatedSeconds   float64            `json:"simulated_seconds"`
	DRAMReadBytes      int64              `json:"dram_read_bytes"`
	DRAMWriteBytes     int64              `json:"dram_write_bytes"`
	DistinctPlans      int                `json:"distinct_plans"`
	TrainWallSeconds   float64            `json:"train_wall_seconds"`
}

// minMax is a footprint at the end of the run and its peak over the run.
type minMax struct {
	Final int64 `json:"final"`
	Peak  int64 `json:"peak"`
}

// compareResult is compare.json.
type compareResult struct {
	Profile     string          `json:"profile"`
	Model       string          `json:"model"`
	Batch       int             `json:"batch"`
	Epochs      int             `json:"epochs"`
	Seed        uint64          `json:"seed"`
	Dataset     string          `json:"dataset"`
	Methods     []compareMethod `json:"methods"`
	Savings     *paperSavings   `json:"savings_rct_vs_qat,omitempty"`
	DeviceCheck *deviceCheck    `json:"device_check,omitempty"`
}

// paperSavings are sim.PaperSavings in compare.json's terms.
type paperSavings struct {
	GEMMEnergy        saving `json:"gemm_energy"`
	ParameterMemory   saving `json:"parameter_memory"`
	ParameterMovement saving `json:"parameter_movement_energy"`
}

type saving struct {
	RCT      float64 `json:"rct"`
	QAT      float64 `json:"qat"`
	Fraction float64 `json:"saving"`
	Cells    string  `json:"cells"`
}

// deviceCheck records the functional run of the first steps on the simulated chip.
type deviceCheck struct {
	Method string `json:"method"`
	// Steps is how many steps ran on the device: 0 when the check could not run
	// (Detail says why), so that bit_exact false never hides a skipped check.
	Steps    int    `json:"steps"`
	BitExact bool   `json:"bit_exact"`
	Detail   string `json:"detail,omitempty"`
}

func runCompare(c *command, e *env, args []string) error {
	var f compareFlags
	fs := newFlags(c, e)
	f.register(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	return compare(e, &f)
}

func (f *compareFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.Out, "out", "", "folder `dir` for the runs, compare.json, compare.csv, report.md and figures (required)")
	fs.StringVar(&f.Model, "model", "lenet5", modelHelp())
	fs.StringVar(&f.hw, "hw", "", "hardware profile `file` (default: the embedded configs/default.toml)")
	fs.Var(&f.sets, "set", "override a profile key: `key.path=value` (repeatable)")
	fs.StringVar(&f.methods, "methods", "rct,qat,fp32", "methods to compare, comma-separated")
	fs.IntVar(&f.Epochs, "epochs", 2, "passes over the training set")
	fs.IntVar(&f.Steps, "steps", 0, "stop each run after this many steps (0: no limit)")
	fs.IntVar(&f.Batch, "batch", 32, "examples per step")
	fs.Uint64Var(&f.Seed, "seed", 1, "seed of every run (the same initial weights for each method)")
	fs.IntVar(&f.Limit, "limit", 0, "train on the first `n` examples only (0: all)")
	fs.IntVar(&f.TestLimit, "test-limit", 0, "evaluate on the first `n` test examples only (0: all)")
	fs.StringVar(&f.Data, "data", "", "dataset location (see rctsim train)")
	fs.IntVar(&f.EvalEvery, "eval-every", 0, "steps between test evaluations (0: each epoch's end)")
	fs.StringVar(&f.figures, "figures", "png,svg,pdf", "figure formats to write into DIR/figures (empty: none)")
	fs.IntVar(&f.deviceSteps, "device-steps", 2, "run the first `k` RCT steps functionally on the simulated chip and check them bit for bit against the host (0: skip)")
	fs.BoolVar(&f.Force, "force", false, "overwrite existing runs in --out")
}

func compare(e *env, f *compareFlags) error {
	if f.Out == "" {
		return usagef("--out is required")
	}
	var methods []numerics.Method
	for _, s := range strings.Split(f.methods, ",") {
		m, err := numerics.ParseMethod(strings.TrimSpace(s))
		if err != nil {
			return usagef("--methods: %v", err)
		}
		methods = append(methods, m)
	}
	net, err := models.ByName(f.Model)
	if err != nil {
		return usagef("--model: %v", err)
	}
	if err := checkBatchMemory(net, f.Batch, machineMemoryBytes()); err != nil {
		return err
	}
	prof, err := loadProfile(f.hw, f.sets)
	if err != nil {
		return err
	}
	// Fail before hours of training if the chip cannot run a method at all.
	for _, m := range methods {
		if _, err := kernels.Compile(net, prof, kernels.Options{Method: m, Batch: f.Batch}); err != nil {
			return err
		}
	}
	data, dataset, err := loadData(net, &f.trainFlags)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res := &compareResult{Profile: prof.Name, Model: net.Name, Batch: f.Batch, Epochs: f.Epochs, Seed: f.Seed, Dataset: dataset}
	runs := map[numerics.Method]*sim.RunResult{}
	for _, m := range methods {
		row, run, err := compareOne(ctx, e, f, prof, net, data, dataset, m)
		if err != nil {
			return err
		}
		res.Methods = append(res.Methods, *row)
		runs[m] = run
	}
	if runs[numerics.RCT] != nil && f.deviceSteps > 0 {
		res.DeviceCheck = checkDevice(e, f, prof, net, data)
	}
	if rct, qat := runs[numerics.RCT], runs[numerics.QAT]; rct != nil && qat != nil {
		s := sim.ComparePaper(rct, qat)
		conv := func(x sim.Saving) saving {
			return saving{RCT: x.Method, QAT: x.Baseline, Fraction: x.Fraction, Cells: x.Cells}
		}
		res.Savings = &paperSavings{conv(s.GEMMEnergy), conv(s.ParameterMemory), conv(s.ParameterMovementPJ)}
	}
	if err := writeCompare(f.Out, res); err != nil {
		return err
	}
	printCompare(e.stdout, res)
	if f.figures != "" {
		paths, err := compareFigures(f.Out, strings.Split(f.figures, ","))
		if err != nil {
			return fmt.Errorf("figures: %w", err)
		}
		fmt.Fprintf(e.stdout, "wrote %s/{compare.json,compare.csv,report.md} and %d figures in %s\n", f.Out, len(paths), filepath.Join(f.Out, "figures"))
	} else {
		fmt.Fprintf(e.stdout, "wrote %s/{compare.json,compare.csv,report.md}\n", f.Out)
	}
	return nil
}

// compareOne trains one method into DIR/METHOD and simulates every step of the run.
func compareOne(ctx context.Context, e *env, f *compareFlags, prof *hw.Profile, net *models.Network, data *train.Split, dataset string, m numerics.Method) (*compareMethod, *sim.RunResult, error) {
	tf := f.trainFlags
	tf.Method, tf.Out = string(m), filepath.Join(f.Out, string(m))
	cfg, err := trainConfig(&tf, m)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, usagef("%v", err)
	}
	if _, err := os.Stat(filepath.Join(tf.Out, "run.json")); err == nil && !f.Force {
		return nil, nil, fmt.Errorf("%s already holds a run; choose another --out or pass --force", tf.Out)
	}
	sum, err := trainInto(ctx, e, &tf, net, data, dataset, cfg)
	if err != nil {
		return nil, nil, err
	}
	sched, err := readSchedule(filepath.Join(tf.Out, "schedule.csv"))
	if err != nil {
		return nil, nil, err
	}
	machine, err := sim.New(prof, sim.Options{})
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(e.stderr, "simulating %d steps of %s on %s\n", len(sched.Plans()), m, prof.Name)
	run, err := sim.SimulateRun(machine, net, kernels.Options{Method: m, Batch: f.Batch}, sched.Plans(), true)
	if err != nil {
		return nil, nil, err
	}
	if err := writeStepCosts(filepath.Join(tf.Out, "steps.csv"), run); err != nil {
		return nil, nil, err
	}
	if err := writeTimeline(filepath.Join(tf.Out, "timeline.csv"), prof, net, m, f.Batch, sched.Plans()[0]); err != nil {
		return nil, nil, err
	}
	return methodRow(sum, run), run, nil
}

func readSchedule(path string) (*traces.Schedule, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return traces.ReadSchedule(file, path)
}

// methodRow summarises a method's training and simulated run.
func methodRow(sum *train.Summary, run *sim.RunResult) *compareMethod {
	const pj = 1e-12
	l := &run.Energy
	row := &compareMethod{
		Method: sum.Method, Policy: sum.Policy, Steps: sum.Steps, TestAccuracy: sum.TestAccuracy, TestBPC: sum.TestBPC,
		TestLoss: sum.TestLoss, AvgBits: sum.AvgBits, FinalBits: sum.FinalBits,
		EnergyJ: map[string]float64{"total": l.Total() * pj}, SRAMEnergyByTensor: map[string]float64{},
		DRAMEnergyByTensor: map[string]float64{}, EnergyByPhaseJ: map[string]float64{}, PeakMemoryBytes: map[string]int64{},
		SimulatedSeconds: run.Seconds(), DRAMReadBytes: run.DRAM.ReadBytes, DRAMWriteBytes: run.DRAM.WriteBytes,
		DistinctPlans: run.Distinct, TrainWallSeconds: sum.WallSeconds,
	}
	if sum.Method == string(numerics.FP32) {
		row.AvgBits = 32
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
	return row
}

// trainInto runs one training into tf.Out, as `rctsim train` does.
func trainInto(ctx context.Context, e *env, tf *trainFlags, net *models.Network, data *train.Split, dataset string, cfg train.Config) (*train.Summary, error) {
	if cfg.Policy.Kind == train.PolicyProgressive && cfg.Policy.TotalSteps == 0 {
		cfg.Policy.TotalSteps = runSteps(data, cfg)
	}
	sum, err := trainRunFiles(ctx, e, tf, net, data, dataset, cfg)
	if err != nil {
		return nil, err
	}
	printSummary(e.stderr, tf.Out, sum)
	return sum, nil
}

func writeStepCosts(path string, run *sim.RunResult) error {
	return writeFileWith(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"step", "cycles", "energy_pj", "dram_bytes"})
		for _, s := range run.PerStep {
			cw.Write([]string{strconv.Itoa(s.Step), strconv.FormatUint(s.Cycles, 10), strconv.FormatFloat(s.EnergyPJ, 'g', -1, 64), strconv.FormatInt(s.DRAMBytes, 10)})
		}
		cw.Flush()
		return cw.Error()
	})
}

// writeTimeline simulates one step with a timeline hook and writes its intervals.
func writeTimeline(path string, prof *hw.Profile, net *models.Network, m numerics.Method, batch int, plan numerics.Plan) error {
	prog, err := kernels.Compile(net, prof, kernels.Options{Method: m, Batch: batch, Plan: plan})
	if err != nil {
		return err
	}
	tl := &traces.Timeline{}
	machine, err := sim.New(prof, sim.Options{Hooks: []sim.Hook{tl}})
	if err != nil {
		return err
	}
	if _, err := machine.Run(prog); err != nil {
		return err
	}
	return writeFileWith(path, tl.WriteCSV)
}

// writeFileWith writes a file atomically from a writer function.
func writeFileWith(path string, write func(io.Writer) error) error {
	var b strings.Builder
	if err := write(&b); err != nil {
		return err
	}
	return writeFileAtomic(path, []byte(b.String()))
}

func writeCompare(dir string, res *compareResult) error {
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, "compare.json"), append(js, '\n')); err != nil {
		return err
	}
	if err := writeFileWith(filepath.Join(dir, "compare.csv"), func(w io.Writer) error { return compareCSV(w, res) }); err != nil {
		return err
	}
	return writeFileWith(filepath.Join(dir, "report.md"), func(w io.Writer) error { return compareReport(w, res) })
}

// compareColumns are compare.csv's columns, one row per method.
var compareColumns = []string{"method", "steps", "test_accuracy", "test_bpc", "avg_bits", "energy_j", "mac_j", "sram_j", "dram_j",
	"dram_background_j", "vector_j", "static_j", "param_memory_final_bytes", "param_memory_peak_bytes",
	"dram_footprint_peak_bytes", "simulated_seconds", "dram_read_bytes", "dram_write_bytes"}

func compareCSV(w io.Writer, res *compareResult) error {
	cw := csv.NewWriter(w)
	cw.Write(compareColumns)
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }
	for _, m := range res.Methods {
		cw.Write([]string{m.Method, strconv.Itoa(m.Steps), g(m.TestAccuracy), g(m.TestBPC), g(m.AvgBits), g(m.EnergyJ["total"]),
			g(m.EnergyJ["mac"]), g(m.EnergyJ["sram"]), g(m.EnergyJ["dram"]), g(m.EnergyJ["dram_background"]), g(m.EnergyJ["vector"]),
			g(m.EnergyJ["static"]), strconv.FormatInt(m.ParamMemoryBytes.Final, 10), strconv.FormatInt(m.ParamMemoryBytes.Peak, 10),
			strconv.FormatInt(m.DRAMFootprintBytes.Peak, 10), g(m.SimulatedSeconds), strconv.FormatInt(m.DRAMReadBytes, 10),
			strconv.FormatInt(m.DRAMWriteBytes, 10)})
	}
	cw.Flush()
	return cw.Error()
}

// printCompare prints the headline table.
func printCompare(w io.Writer, res *compareResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%s on %s, batch %d, %s\n", res.Model, res.Profile, res.Batch, res.Dataset)
	fmt.Fprintln(tw, "method\taccuracy\tavg bits\tenergy\tGEMM\tDRAM\tparams (peak)\ttime\t")
	for _, m := range res.Methods {
		acc := fmt.Sprintf("%.2f%%", 100*m.TestAccuracy)
		if m.TestBPC > 0 {
			acc = fmt.Sprintf("%.3f bpc", m.TestBPC)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t\n", m.Method, acc, m.AvgBits, siUnit(m.EnergyJ["total"], "J"),
			siUnit(m.EnergyJ["mac"], "J"), siUnit(m.EnergyJ["dram"]+m.EnergyJ["dram_background"], "J"),
			byteUnit(m.ParamMemoryBytes.Peak), siUnit(m.SimulatedSeconds, "s"))
	}
	tw.Flush()
	if s := res.Savings; s != nil {
		fmt.Fprintf(w, "RCT vs QAT: GEMM energy -%.1f%%, parameter memory -%.1f%%, parameter movement energy -%.1f%%\n",
			100*s.GEMMEnergy.Fraction, 100*s.ParameterMemory.Fraction, 100*s.ParameterMovement.Fraction)
	}
	if d := res.DeviceCheck; d != nil && d.Steps == 0 {
		fmt.Fprintf(w, "device check (%s): %s\n", d.Method, d.Detail)
	} else if d != nil {
		fmt.Fprintf(w, "device check (%s, %d steps functionally on the chip): bit-exact %v\n", d.Method, d.Steps, d.BitExact)
	}
}

// byteUnit prints bytes with a binary prefix.
func byteUnit(b int64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

func compareReport(w io.Writer, res *compareResult) error {
	fmt.Fprintf(w, "# %s on %s: RCT, QAT and FP32 compared\n\n", res.Model, res.Profile)
	fmt.Fprintf(w, "Each method trained %s (batch %d, seed %d); every training step's bitwidth plan was compiled and simulated on `%s`.\n\n",
		res.Dataset, res.Batch, res.Seed, res.Profile)
	fmt.Fprintln(w, "| method | test accuracy | avg bits | energy (J) | MAC/GEMM | SRAM | DRAM | DRAM background | static | params final / peak | DRAM footprint peak | simulated time (s) |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, m := range res.Methods {
		acc := fmt.Sprintf("%.2f%%", 100*m.TestAccuracy)
		if m.TestBPC > 0 {
			acc = fmt.Sprintf("%.3f bpc", m.TestBPC)
		}
		e := m.EnergyJ
		fmt.Fprintf(w, "| %s | %s | %.2f | %.4g | %.4g | %.4g | %.4g | %.4g | %.4g | %s / %s | %s | %.4g |\n", m.Method, acc, m.AvgBits,
			e["total"], e["mac"], e["sram"], e["dram"], e["dram_background"], e["static"],
			byteUnit(m.ParamMemoryBytes.Final), byteUnit(m.ParamMemoryBytes.Peak), byteUnit(m.DRAMFootprintBytes.Peak), m.SimulatedSeconds)
	}
	if s := res.Savings; s != nil {
		fmt.Fprint(w, "\n## The seed paper's figures, from the simulated ledger\n\n")
		fmt.Fprintln(w, "| figure | RCT | QAT | RCT saves | paper claims | cells summed |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
		row := func(name, unit string, x saving, claim string) {
			fmt.Fprintf(w, "| %s | %.4g %s | %.4g %s | %.1f%% | %s | %s |\n", name, x.RCT, unit, x.QAT, unit, 100*x.Fraction, claim, x.Cells)
		}
		row("GEMM energy", "pJ", s.GEMMEnergy, "> 86%")
		row("parameter memory", "B", s.ParameterMemory, "> 46%")
		row("parameter movement energy", "pJ", s.ParameterMovement, "about 50%")
	}
	if d := res.DeviceCheck; d != nil && d.Steps == 0 {
		fmt.Fprintf(w, "\nDevice check (%s): %s.\n", d.Method, d.Detail)
	} else if d != nil {
		fmt.Fprintf(w, "\nDevice check: the first %d %s steps ran functionally on the simulated chip; bit-exact with the host: %v. %s\n", d.Steps, d.Method, d.BitExact, d.Detail)
	}
	return nil
}

// checkDevice runs the first RCT steps functionally on the simulated chip and compares
// them with the host's, as devcheck does; the run's own seed and batches are used.
func checkDevice(e *env, f *compareFlags, prof *hw.Profile, net *models.Network, data *train.Split) *deviceCheck {
	dc := &deviceCheck{Method: string(numerics.RCT)}
	cfg, err := trainConfig(&f.trainFlags, numerics.RCT)
	if err != nil {
		dc.Detail = "not run: " + err.Error()
		return dc
	}
	fmt.Fprintf(e.stderr, "checking %d RCT steps functionally on the simulated %s\n", f.deviceSteps, prof.Name)
	batches := train.NewBatcher(data.Train.Len(), cfg.Batch, cfg.Seed, true).Epoch(0)
	r, err := devcheck.Run(net, prof, cfg, data.Train, batches, f.deviceSteps)
	if err != nil {
		dc.Detail = "not run: " + err.Error()
		return dc
	}
	dc.Steps, dc.BitExact = r.Steps, r.BitExact
	dc.Detail = fmt.Sprintf("%d tensors compared (weights, scales, activations, errors, gradients, loss), starting after the calibration step 0", r.Compared)
	if !r.BitExact {
		dc.Detail = r.Detail
	}
	return dc
}
