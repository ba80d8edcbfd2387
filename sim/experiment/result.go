package experiment

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/traces/units"
	"github.com/rctsim/rctsim/train/numerics"
)

// Result is compare.json: the outcome of Compare.
type Result struct {
	Profile     string               `json:"profile"`
	Model       string               `json:"model"`
	Batch       int                  `json:"batch"`
	Epochs      int                  `json:"epochs"`
	Seed        uint64               `json:"seed"`
	Dataset     string               `json:"dataset"`
	Methods     []MethodResult       `json:"methods"`
	Savings     *sim.RCTPaperSavings `json:"savings_rct_vs_qat,omitempty"`
	DeviceCheck *DeviceCheck         `json:"device_check,omitempty"`
	// DeviceChecks are the device checks of every integer method compared (RCT, NITI,
	// their update masks), DeviceCheck being RCT's (or the first's).
	DeviceChecks []DeviceCheck `json:"device_checks,omitempty"`
	// Settings are what the comparison ran with; nil in files written before rctsim
	// recorded them.
	Settings *Settings `json:"settings,omitempty"`
}

// Settings are the settings of a comparison, recorded for its reports: the chip's key
// figures and how it was named, the training options, and the build that ran it.
type Settings struct {
	Profile hw.ProfileSummary `json:"profile"`
	// HW is the profile as it was named (an embedded name or a file; "" for the
	// default) and Sets its overrides (--set), in order.
	HW          string       `json:"hw,omitempty"`
	Sets        []string     `json:"set,omitempty"`
	Options     TrainOptions `json:"options"`
	Methods     []string     `json:"methods"`
	DeviceSteps int          `json:"device_steps"`
	// Fidelity is how exactly DRAM was simulated ("exact" or "fast").
	Fidelity string   `json:"fidelity,omitempty"`
	Versions Versions `json:"versions"`
}

// MethodResult is one method's row of compare.json: its training outcome and its
// simulated cost summed over the run. Energies are in joules.
type MethodResult struct {
	// Method is the variant trained ("rct", "rct@last:3"); BaseMethod and Update are
	// its method and mask when it has a mask.
	Method             string             `json:"method"`
	BaseMethod         string             `json:"base_method,omitempty"`
	Update             string             `json:"update,omitempty"`
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
	ParamMemoryBytes   FinalPeak          `json:"param_memory_bytes"`
	// ParamStateMemoryBytes is the parameters with their state: weights, master
	// copies, optimizer and accumulator state.
	ParamStateMemoryBytes FinalPeak        `json:"param_state_memory_bytes"`
	DRAMFootprintBytes    FinalPeak        `json:"dram_footprint_bytes"`
	PeakMemoryBytes       map[string]int64 `json:"peak_memory_bytes"`
	SimulatedSeconds      float64          `json:"simulated_seconds"`
	DRAMReadBytes         int64            `json:"dram_read_bytes"`
	DRAMWriteBytes        int64            `json:"dram_write_bytes"`
	DistinctPlans         int              `json:"distinct_plans"`
	TrainWallSeconds      float64          `json:"train_wall_seconds"`
}

// FinalPeak is a footprint at the end of the run and its peak over the run.
type FinalPeak struct {
	Final int64 `json:"final"`
	Peak  int64 `json:"peak"`
}

// DeviceCheck records the functional run of the first steps on the simulated chip.
type DeviceCheck struct {
	Method string `json:"method"`
	// Steps is how many steps ran on the device: 0 when the check could not run
	// (Detail says why), so that bit_exact false never hides a skipped check.
	Steps    int    `json:"steps"`
	BitExact bool   `json:"bit_exact"`
	Detail   string `json:"detail,omitempty"`
}

// WriteFiles writes compare.json, compare.csv and report.md into dir.
func (r *Result) WriteFiles(dir string) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := fileio.WriteBytes(filepath.Join(dir, "compare.json"), append(js, '\n')); err != nil {
		return err
	}
	if err := fileio.WriteFile(filepath.Join(dir, "compare.csv"), r.WriteCSV); err != nil {
		return err
	}
	return fileio.WriteFile(filepath.Join(dir, "report.md"), r.WriteReport)
}

// ReadResult reads a comparison folder's compare.json.
func ReadResult(dir string) (*Result, error) {
	path := filepath.Join(dir, "compare.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &Result{}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// csvColumns are compare.csv's columns, one row per method.
var csvColumns = []string{"method", "steps", "test_accuracy", "test_bpc", "avg_bits", "energy_j", "mac_j", "sram_j", "dram_j",
	"dram_background_j", "vector_j", "static_j", "param_memory_final_bytes", "param_memory_peak_bytes",
	"dram_footprint_peak_bytes", "simulated_seconds", "dram_read_bytes", "dram_write_bytes", "param_state_memory_peak_bytes"}

// WriteCSV writes compare.csv: one row per method.
func (r *Result) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(csvColumns)
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }
	for _, m := range r.Methods {
		cw.Write([]string{m.Method, strconv.Itoa(m.Steps), g(m.TestAccuracy), g(m.TestBPC), g(m.AvgBits), g(m.EnergyJ["total"]),
			g(m.EnergyJ["mac"]), g(m.EnergyJ["sram"]), g(m.EnergyJ["dram"]), g(m.EnergyJ["dram_background"]), g(m.EnergyJ["vector"]),
			g(m.EnergyJ["static"]), strconv.FormatInt(m.ParamMemoryBytes.Final, 10), strconv.FormatInt(m.ParamMemoryBytes.Peak, 10),
			strconv.FormatInt(m.DRAMFootprintBytes.Peak, 10), g(m.SimulatedSeconds), strconv.FormatInt(m.DRAMReadBytes, 10),
			strconv.FormatInt(m.DRAMWriteBytes, 10), strconv.FormatInt(m.ParamStateMemoryBytes.Peak, 10)})
	}
	cw.Flush()
	return cw.Error()
}

// dir is the folder of the method's run under the comparison's: the variant's Dir.
func (m *MethodResult) dir() string {
	if v, err := numerics.ParseVariant(m.Method); err == nil {
		return v.Dir()
	}
	return m.Method
}

// accuracy is a method's test figure: accuracy, or bits per character for a text model.
func (m *MethodResult) accuracy() string {
	if m.TestBPC > 0 {
		return fmt.Sprintf("%.3f bpc", m.TestBPC)
	}
	return fmt.Sprintf("%.2f%%", 100*m.TestAccuracy)
}

// WriteTable prints the headline table: one line per method, then the RCT paper's
// savings and the device check.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%s on %s, batch %d, %s\n", r.Model, r.Profile, r.Batch, r.Dataset)
	fmt.Fprintln(tw, "method\taccuracy\tavg bits\tenergy\tGEMM\tDRAM\tparams (peak)\t+ state\tfootprint\ttime\t")
	for _, m := range r.Methods {
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", m.Method, m.accuracy(), m.AvgBits, units.FormatSI(m.EnergyJ["total"], "J"),
			units.FormatSI(m.EnergyJ["mac"], "J"), units.FormatSI(m.EnergyJ["dram"]+m.EnergyJ["dram_background"], "J"),
			units.FormatBytes(m.ParamMemoryBytes.Peak), units.FormatBytes(m.ParamStateMemoryBytes.Peak),
			units.FormatBytes(m.DRAMFootprintBytes.Peak), units.FormatSI(m.SimulatedSeconds, "s"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if s := r.Savings; s != nil {
		fmt.Fprintf(w, "RCT vs QAT: GEMM energy -%.1f%%, parameter memory -%.1f%%, parameter movement energy -%.1f%%\n",
			100*s.GEMMEnergy.Fraction, 100*s.ParameterMemory.Fraction, 100*s.ParameterMovement.Fraction)
	}
	var err error
	for _, d := range r.AllDeviceChecks() {
		if d.Steps == 0 {
			_, err = fmt.Fprintf(w, "device check (%s): %s\n", d.Method, d.Detail)
		} else {
			_, err = fmt.Fprintf(w, "device check (%s, %d steps functionally on the chip): bit-exact %v\n", d.Method, d.Steps, d.BitExact)
		}
	}
	return err
}

// AllDeviceChecks are the checks to report: every integer method's, or the one check of
// a file written before there were several.
func (r *Result) AllDeviceChecks() []DeviceCheck {
	if len(r.DeviceChecks) > 0 {
		return r.DeviceChecks
	}
	if r.DeviceCheck != nil {
		return []DeviceCheck{*r.DeviceCheck}
	}
	return nil
}

// WriteReport writes report.md: the headline table, the RCT paper's figures with the
// ledger cells they sum, and the device check.
func (r *Result) WriteReport(w io.Writer) error {
	names := make([]string, len(r.Methods))
	for i, m := range r.Methods {
		names[i] = m.Method
	}
	fmt.Fprintf(w, "# %s on %s: %s compared\n\n", r.Model, r.Profile, strings.Join(names, ", "))
	fmt.Fprintf(w, "Each method trained %s (batch %d, seed %d); every training step's bitwidth plan was compiled and simulated on `%s`.\n\n",
		r.Dataset, r.Batch, r.Seed, r.Profile)
	fmt.Fprintln(w, "| method | test accuracy | avg bits | energy (J) | MAC/GEMM | SRAM | DRAM | DRAM background | static | params final / peak | params + state peak | DRAM footprint peak | simulated time (s) |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, m := range r.Methods {
		e := m.EnergyJ
		fmt.Fprintf(w, "| %s | %s | %.2f | %.4g | %.4g | %.4g | %.4g | %.4g | %.4g | %s / %s | %s | %s | %.4g |\n", m.Method, m.accuracy(), m.AvgBits,
			e["total"], e["mac"], e["sram"], e["dram"], e["dram_background"], e["static"],
			units.FormatBytes(m.ParamMemoryBytes.Final), units.FormatBytes(m.ParamMemoryBytes.Peak), units.FormatBytes(m.ParamStateMemoryBytes.Peak),
			units.FormatBytes(m.DRAMFootprintBytes.Peak), m.SimulatedSeconds)
	}
	if s := r.Savings; s != nil {
		fmt.Fprint(w, "\n## The RCT paper's figures (Huang et al. 2021), from the simulated ledger\n\n")
		fmt.Fprintln(w, "| figure | RCT | QAT | RCT saves | paper claims | cells summed |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
		row := func(name, unit string, x sim.Saving, claim string) {
			fmt.Fprintf(w, "| %s | %.4g %s | %.4g %s | %.1f%% | %s | %s |\n", name, x.RCT, unit, x.QAT, unit, 100*x.Fraction, claim, x.Cells)
		}
		row("GEMM energy", "pJ", s.GEMMEnergy, "> 86%")
		row("parameter memory", "B", s.ParameterMemory, "> 46%")
		row("parameter movement energy", "pJ", s.ParameterMovement, "about 50%")
	}
	var err error
	for _, d := range r.AllDeviceChecks() {
		if d.Steps == 0 {
			_, err = fmt.Fprintf(w, "\nDevice check (%s): %s.\n", d.Method, d.Detail)
		} else {
			_, err = fmt.Fprintf(w, "\nDevice check: the first %d %s steps ran functionally on the simulated chip; bit-exact with the host: %v. %s\n", d.Steps, d.Method, d.BitExact, d.Detail)
		}
	}
	return err
}

// Folder is what a comparison folder or a single training run folder holds.
type Folder struct {
	// Title names the experiment in figure titles ("lenet5 on default").
	Title string
	// Result is compare.json; nil for a training run folder.
	Result *Result
	// Runs are the training runs, one per method.
	Runs []RunFolder
}

// RunFolder is one training run's folder.
type RunFolder struct {
	Method string
	Dir    string
}

// FileName is the method as a part of file names: the variant's folder name
// ("rct@last-3"), without the characters a mask has that file names should not.
func (r RunFolder) FileName() string {
	if v, err := numerics.ParseVariant(r.Method); err == nil {
		return v.Dir()
	}
	return r.Method
}

// ReadFolder reads a comparison folder (compare.json and one run folder per method)
// or a training run folder (run.json).
func ReadFolder(dir string) (*Folder, error) {
	res, err := ReadResult(dir)
	switch {
	case err == nil:
		f := &Folder{Title: fmt.Sprintf("%s on %s", res.Model, res.Profile), Result: res}
		for _, m := range res.Methods {
			f.Runs = append(f.Runs, RunFolder{Method: m.Method, Dir: filepath.Join(dir, m.dir())})
		}
		return f, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	path := filepath.Join(dir, "run.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s holds neither compare.json nor run.json: %w", dir, err)
	}
	var rec RunRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Folder{Title: rec.Flags.Model, Runs: []RunFolder{{Method: rec.Flags.Method, Dir: dir}}}, nil
}
