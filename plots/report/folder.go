package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/plots/figures"
	"github.com/rctsim/rctsim/sim/experiment"
	"github.com/rctsim/rctsim/traces/units"
)

// WriteFolder writes the page of a comparison folder (compare.json and one run folder
// per method) or of a training run folder (run.json) in. dir is the folder the page is
// written into: links to the files are relative to it. A figure that cannot be drawn
// is a note on the page, not an error; an unreadable result file is an error.
func WriteFolder(w io.Writer, in, dir string) error {
	f, err := experiment.ReadFolder(in)
	if err != nil {
		return err
	}
	l := linker{dir: dir}
	var p *page
	if f.Result != nil {
		p, err = comparisonPage(in, f, l)
	} else {
		p, err = runPage(in, f, l)
	}
	if err != nil {
		return err
	}
	return render(w, p)
}

// runFiles are the files of a method's run folder, with what each holds.
var runFiles = []struct{ name, note string }{
	{"metrics.csv", "loss, accuracy and average bits per step"},
	{"schedule.csv", "every step's per-layer bits"},
	{"run.json", "every option and the outcome"},
	{"steps.csv", "each step's simulated cycles, energy and DRAM bytes"},
	{"timeline.csv", "one simulated step's instructions"},
}

func comparisonPage(in string, f *experiment.Folder, l linker) (*page, error) {
	r := f.Result
	var names []string
	for _, m := range r.Methods {
		names = append(names, strings.ToUpper(m.Method))
	}
	p := &page{Kind: "comparison", Title: fmt.Sprintf("%s on %s: %s compared", r.Model, r.Profile, andList(names))}
	steps := 0
	if len(r.Methods) > 0 {
		steps = r.Methods[0].Steps
	}
	lede := fmt.Sprintf("Each method trained %s on %s (batch %d, seed %d, %d steps); every training step's bitwidth plan was compiled and simulated on the chip %s",
		r.Model, r.Dataset, r.Batch, r.Seed, steps, r.Profile)
	if s := r.Settings; s != nil {
		ps := s.Profile
		lede += fmt.Sprintf(" (%dx%d %s array at %s, %s SRAM, %s; %s, %.2f mm², %.1f mW leakage)", ps.Rows, ps.Cols, ps.Dataflow, ps.Clock,
			ps.SRAMBytes, ps.DRAMKind, ps.Node, ps.AreaMM2, ps.LeakageMW)
	}
	p.Lede = append(p.Lede, lede+". Energies and times are the whole run's, on the simulated chip.")
	if s := r.Savings; s != nil {
		p.Lede = append(p.Lede, fmt.Sprintf("RCT against QAT: GEMM energy −%s, parameter memory −%s, parameter movement energy −%s.",
			percent(s.GEMMEnergy.Fraction), percent(s.ParameterMemory.Fraction), percent(s.ParameterMovement.Fraction)))
	}

	results := &section{ID: "results", Heading: "Results", Tables: []*table{headline(r)}}
	p.Sections = append(p.Sections, results)
	p.Sections = append(p.Sections, paperSection(r), deviceSection(r))

	figs := &section{ID: "figures", Heading: "Figures"}
	if err := addFolderFigures(figs, in, figures.Kinds, l); err != nil {
		return nil, err
	}
	p.Sections = append(p.Sections, figs)

	settings, err := comparisonSettings(r, f)
	if err != nil {
		return nil, err
	}
	p.Sections = append(p.Sections, settings)

	files := &section{ID: "files", Heading: "Files"}
	files.Intro = []string{"The result files next to this page; every figure and number above comes from them."}
	for _, lk := range l.existing(in, "compare.json", "compare.csv", "report.md") {
		lk.Note = map[string]string{"compare.json": "the comparison, every figure of this page's tables",
			"compare.csv": "one row per method", "report.md": "the same report as text"}[lk.Text]
		files.Links = append(files.Links, lk)
	}
	for _, run := range f.Runs {
		for _, rf := range runFiles {
			for _, lk := range l.existing(run.Dir, rf.name) {
				lk.Text, lk.Note = filepath.Base(run.Dir)+"/"+rf.name, rf.note
				files.Links = append(files.Links, lk)
			}
		}
	}
	p.Sections = append(p.Sections, files)
	return p, nil
}

// headline is the table of the comparison's results, one row per method.
func headline(r *experiment.Result) *table {
	accLabel := "test accuracy"
	for _, m := range r.Methods {
		if m.TestBPC > 0 {
			accLabel = "test bits per character"
		}
	}
	t := &table{ID: "headline", Caption: fmt.Sprintf("%s on %s, batch %d: each method's outcome and simulated cost over the whole run", r.Model, r.Profile, r.Batch),
		Groups: []group{{"", 3}, {"Energy over the run", 7}, {"Parameter memory", 2}, {"", 2}},
		Head: []cell{{Text: "method"}, {Text: accLabel, Num: true}, {Text: "avg bits", Num: true, Title: "parameter-weighted mean weight bitwidth over the run"},
			{Text: "total", Num: true}, {Text: "MAC/GEMM", Num: true}, {Text: "SRAM", Num: true}, {Text: "DRAM", Num: true, Title: "DRAM commands: activates, reads, writes"},
			{Text: "DRAM background", Num: true, Title: "DRAM background and refresh power over the simulated time"}, {Text: "vector", Num: true},
			{Text: "static", Num: true, Title: "on-chip leakage over the simulated time"},
			{Text: "final", Num: true}, {Text: "peak", Num: true},
			{Text: "DRAM footprint (peak)", Num: true, Title: "every tensor class in DRAM at its peak"}, {Text: "simulated time", Num: true}}}
	var names []string
	for _, m := range r.Methods {
		names = append(names, m.Method)
	}
	sw := methodSwatches(names)
	for i, m := range r.Methods {
		e := m.EnergyJ
		acc := num(fmt.Sprintf("%.2f%%", 100*m.TestAccuracy), m.TestAccuracy)
		if m.TestBPC > 0 {
			acc = num(fmt.Sprintf("%.3f", m.TestBPC), m.TestBPC)
		}
		joules := func(v float64) cell { return num(units.FormatSI(v, "J"), v) }
		size := func(v int64) cell { return num(units.FormatBytes(v), float64(v)) }
		t.Rows = append(t.Rows, row{Cells: []cell{{Text: m.Method, Swatch: sw[i]}, acc, num(fmt.Sprintf("%.2f", m.AvgBits), m.AvgBits),
			joules(e["total"]), joules(e["mac"]), joules(e["sram"]), joules(e["dram"]), joules(e["dram_background"]), joules(e["vector"]), joules(e["static"]),
			size(m.ParamMemoryBytes.Final), size(m.ParamMemoryBytes.Peak), size(m.DRAMFootprintBytes.Peak),
			num(units.FormatSI(m.SimulatedSeconds, "s"), m.SimulatedSeconds)}})
	}
	return t
}

// paperSection compares the run with the RCT paper's headline claims.
func paperSection(r *experiment.Result) *section {
	s := &section{ID: "rct-paper", Heading: "The RCT paper's figures"}
	s.Intro = []string{"Huang et al. (\"RCT: Resource Constrained Training for Edge AI\", 2021) claim that RCT saves more than 86% of the energy of GEMMs, " +
		"more than 46% of the memory for model parameters and about half the energy of moving them, compared with QAT. " +
		"Each figure here is a sum of cells of the simulated energy ledger (component × tensor class × phase) or of the DRAM footprint, named in the last column."}
	sv := r.Savings
	if sv == nil {
		s.Notes = []string{"Not computed: the comparison needs both rct and qat."}
		return s
	}
	t := &table{ID: "paper", Caption: "RCT against QAT, from the simulated ledger",
		Head: []cell{{Text: "figure"}, {Text: "RCT", Num: true}, {Text: "QAT", Num: true}, {Text: "RCT saves", Num: true}, {Text: "the paper claims"}, {Text: "ledger cells summed"}}}
	energy := func(pj float64) cell { return num(units.FormatSI(pj*1e-12, "J"), pj) }
	mem := func(b float64) cell { return num(units.FormatBytes(int64(b)), b) }
	for _, x := range []struct {
		name   string
		rct    cell
		qat    cell
		saving float64
		claim  string
		cells  string
	}{
		{"GEMM energy", energy(sv.GEMMEnergy.RCT), energy(sv.GEMMEnergy.QAT), sv.GEMMEnergy.Fraction, "> 86%", sv.GEMMEnergy.Cells},
		{"parameter memory", mem(sv.ParameterMemory.RCT), mem(sv.ParameterMemory.QAT), sv.ParameterMemory.Fraction, "> 46%", sv.ParameterMemory.Cells},
		{"parameter movement energy", energy(sv.ParameterMovement.RCT), energy(sv.ParameterMovement.QAT), sv.ParameterMovement.Fraction, "about 50%", sv.ParameterMovement.Cells},
	} {
		t.Rows = append(t.Rows, row{Cells: []cell{{Text: x.name}, x.rct, x.qat, num(percent(x.saving), x.saving), {Text: x.claim}, {Text: x.cells, Code: true}}})
	}
	s.Tables = []*table{t}
	return s
}

// deviceSection reports the functional check of the first RCT steps on the chip.
func deviceSection(r *experiment.Result) *section {
	s := &section{ID: "device-check", Heading: "Device check"}
	s.Intro = []string{"The first steps of every integer method (RCT, NITI, with their update masks) run again functionally on the simulated chip " +
		"(every instruction on real bytes in DRAM and SRAM images) and are compared bit for bit with the host trainer: weights, update buffers, scales, " +
		"activations, errors, gradients and the loss."}
	checks := r.AllDeviceChecks()
	if len(checks) == 0 {
		s.Check = &check{Class: "skip", Badge: "not run", Text: "The comparison ran no device check (--device-steps 0, or no integer method)."}
		return s
	}
	// The badge is the worst outcome; the text says each method's.
	var texts []string
	class, badge := "pass", "bit-exact"
	for _, d := range checks {
		switch {
		case d.Steps == 0:
			texts = append(texts, fmt.Sprintf("%s: %s.", d.Method, d.Detail))
			if class == "pass" {
				class, badge = "skip", "not run"
			}
		case d.BitExact:
			texts = append(texts, fmt.Sprintf("%d %s steps ran on the simulated chip and matched the host bit for bit. %s.", d.Steps, d.Method, d.Detail))
		default:
			texts = append(texts, fmt.Sprintf("%d %s steps ran on the simulated chip and differ from the host: %s.", d.Steps, d.Method, d.Detail))
			class, badge = "fail", "differs"
		}
	}
	s.Check = &check{Class: class, Badge: badge, Text: strings.Join(texts, " ")}
	return s
}

// addFolderFigures draws each kind of figure of the folder in into s; a kind that
// cannot be drawn becomes a note.
func addFolderFigures(s *section, in string, kinds []string, l linker) error {
	figDir := filepath.Join(in, "figures")
	for _, kind := range kinds {
		drawn, err := figures.DrawFolder(in, []string{kind})
		if err != nil {
			s.Notes = append(s.Notes, fmt.Sprintf("The %s figures could not be drawn: %v.", kind, err))
			continue
		}
		for _, d := range drawn {
			cmd := command("rctsim", "plot", "-o", figDir, "--kind", kind, in)
			if err := s.addFigure(d, len(s.Figures)+1, cmd, l.figureFiles(figDir, d.Name)); err != nil {
				return err
			}
		}
	}
	if len(s.Figures) > 0 {
		s.Intro = append(s.Intro, "Each figure is drawn from the result files when this page is written; the command under it writes it as PNG, SVG and PDF.")
	}
	return nil
}

// comparisonSettings lists what the comparison ran with.
func comparisonSettings(r *experiment.Result, f *experiment.Folder) (*section, error) {
	s := &section{ID: "settings", Heading: "Settings"}
	run := &list{Heading: "Run", Items: []item{{Key: "model", Value: r.Model}, {Key: "data", Value: r.Dataset}, {Key: "batch", Value: strconv.Itoa(r.Batch)},
		{Key: "epochs", Value: strconv.Itoa(r.Epochs)}, {Key: "seed", Value: strconv.FormatUint(r.Seed, 10)}}}
	if st := r.Settings; st != nil {
		o := st.Options
		hwName := st.HW
		if hwName == "" {
			hwName = "the embedded default"
		}
		run.Items = append(run.Items, item{Key: "steps (limit)", Value: limit(o.Steps)}, item{Key: "training examples (limit)", Value: limit(o.Limit)},
			item{Key: "test examples (limit)", Value: limit(o.TestLimit)}, item{Key: "evaluate every", Value: evalEvery(o.EvalEvery)},
			item{Key: "methods", Value: strings.Join(st.Methods, ", ")}, item{Key: "device check steps", Value: strconv.Itoa(st.DeviceSteps)},
			item{Key: "--hw", Value: hwName})
		for _, set := range st.Sets {
			run.Items = append(run.Items, item{Key: "--set", Value: set, Code: true})
		}
		s.Lists = append(s.Lists, chipList(st), run, &list{Heading: "Versions", Items: []item{{Key: "this run", Value: st.Versions.String()}}})
	} else {
		s.Notes = append(s.Notes, "compare.json does not record the chip's key figures, the options or the versions: an older rctsim wrote it. Run the comparison again to record them.")
		s.Lists = append(s.Lists, run)
	}
	opts, err := optionsTable(f)
	if err != nil {
		return nil, err
	}
	if opts != nil {
		s.Tables = append(s.Tables, opts)
	}
	return s, nil
}

// chipList is the chip's key figures (hw.Profile.Summary).
func chipList(st *experiment.Settings) *list {
	ps := st.Profile
	float := ps.TrainFloat
	if float == "" {
		float = "none"
	}
	return &list{Heading: "Chip", Items: []item{{Key: "profile", Value: ps.Name}, {Key: "technology node", Value: ps.Node},
		{Key: "area", Value: fmt.Sprintf("%.2f mm² (with the DRAM interface)", ps.AreaMM2)}, {Key: "leakage", Value: fmt.Sprintf("%.1f mW", ps.LeakageMW)},
		{Key: "MAC array", Value: fmt.Sprintf("%dx%d, dataflow %s, at %s", ps.Rows, ps.Cols, ps.Dataflow, ps.Clock)},
		{Key: "MAC modes", Value: strings.Join(ps.Modes, ", ")}, {Key: "peak", Value: fmt.Sprintf("%.1f GOPS (%s)", ps.PeakGOPS, ps.PeakMode)},
		{Key: "SRAM", Value: fmt.Sprintf("%s in %d buffer(s)", ps.SRAMBytes, ps.SRAMBuffers)},
		{Key: "DRAM", Value: fmt.Sprintf("%s, %.1f GB/s peak", ps.DRAMKind, ps.DRAMPeakGBps)}, {Key: "training float", Value: float}}}
}

func limit(n int) string {
	if n == 0 {
		return "none"
	}
	return strconv.Itoa(n)
}

func evalEvery(n int) string {
	if n == 0 {
		return "each epoch's end"
	}
	return strconv.Itoa(n) + " steps"
}

// optionsTable lists every method's resolved training configuration (the config of
// its run.json), one column per method; nil when no run.json is there.
func optionsTable(f *experiment.Folder) (*table, error) {
	type col struct {
		method string
		values map[string]string
	}
	var cols []col
	var keys []string
	seen := map[string]bool{}
	for _, run := range f.Runs {
		rec, raw, err := readRunRecord(run.Dir)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		c := col{method: run.Method, values: map[string]string{}}
		kvs, err := flattenJSON(raw.Config)
		if err != nil {
			return nil, fmt.Errorf("%s: config: %w", filepath.Join(run.Dir, "run.json"), err)
		}
		if rec.Summary != nil && rec.Summary.Policy != "" {
			kvs = append([]kv{{"policy (as run)", rec.Summary.Policy}}, kvs...)
		}
		for _, x := range kvs {
			if !seen[x.key] {
				seen[x.key] = true
				keys = append(keys, x.key)
			}
			c.values[x.key] = x.value
		}
		cols = append(cols, c)
	}
	if len(cols) == 0 {
		return nil, nil
	}
	t := &table{ID: "options", Caption: "Each method's training options as the trainer resolved them (the config of its run.json)", Head: []cell{{Text: "option"}}}
	var names []string
	for _, c := range cols {
		names = append(names, c.method)
	}
	sw := methodSwatches(names)
	for i, c := range cols {
		t.Head = append(t.Head, cell{Text: c.method, Swatch: sw[i]})
	}
	for _, k := range keys {
		r := row{Cells: []cell{{Text: k}}}
		for _, c := range cols {
			r.Cells = append(r.Cells, cell{Text: c.values[k]})
		}
		t.Rows = append(t.Rows, r)
	}
	return t, nil
}

// rawRecord is run.json with its configuration kept as written, to list it in order.
type rawRecord struct {
	Config json.RawMessage `json:"config"`
}

// readRunRecord reads a run folder's run.json.
func readRunRecord(dir string) (*experiment.RunRecord, *rawRecord, error) {
	path := filepath.Join(dir, "run.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var rec experiment.RunRecord
	var raw rawRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return &rec, &raw, nil
}

type kv struct{ key, value string }

// flattenJSON lists the leaves of a JSON object in the order written, nested keys
// joined by dots ("Policy.Interval"); arrays are one value.
func flattenJSON(data json.RawMessage) ([]kv, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var out []kv
	var walk func(prefix string, d json.RawMessage) error
	walk = func(prefix string, d json.RawMessage) error {
		dec := json.NewDecoder(bytes.NewReader(d))
		dec.UseNumber()
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if delim, ok := tok.(json.Delim); !ok || delim != '{' {
			v := strings.TrimSpace(string(d))
			if s, ok := tok.(string); ok {
				v = s
			}
			out = append(out, kv{prefix, v})
			return nil
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return err
			}
			key := k.(string)
			if prefix != "" {
				key = prefix + "." + key
			}
			if err := walk(key, v); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk("", data)
}

// runPage is the page of a single training run.
func runPage(in string, f *experiment.Folder, l linker) (*page, error) {
	rec, _, err := readRunRecord(in)
	if err != nil {
		return nil, err
	}
	sum := rec.Summary
	if sum == nil {
		return nil, fmt.Errorf("%s: run.json has no summary", in)
	}
	p := &page{Kind: "training run", Title: fmt.Sprintf("%s trained with %s", sum.Model, strings.ToUpper(sum.Method))}
	state := "complete"
	if !rec.Complete {
		state = "interrupted: the folder holds the run up to its last whole step"
	}
	p.Lede = []string{fmt.Sprintf("%s trained %s on %s for %d steps (batch %d, seed %d); the run is %s.", strings.ToUpper(sum.Method), sum.Model, rec.Dataset,
		sum.Steps, rec.Config.Batch, sum.Seed, state),
		"A training run is not simulated on a chip; rctsim compare trains every method and simulates each step's plan for energy, memory and time."}
	acc := cell{Text: fmt.Sprintf("%.2f%%", 100*sum.TestAccuracy), Num: true}
	accLabel := "test accuracy"
	if sum.TestBPC > 0 {
		acc, accLabel = cell{Text: fmt.Sprintf("%.3f", sum.TestBPC), Num: true}, "test bits per character"
	}
	bits := "32 (fp32)"
	if sum.FinalBits != nil {
		var b []string
		for i, n := range sum.FinalBits {
			name := strconv.Itoa(i)
			if i < len(sum.Layers) {
				name = sum.Layers[i]
			}
			b = append(b, fmt.Sprintf("%s %d", name, n))
		}
		bits = strings.Join(b, ", ")
	}
	policy := sum.Policy
	if policy == "" {
		policy = "none"
	}
	t := &table{ID: "headline", Caption: "The run's outcome",
		Head: []cell{{Text: "method"}, {Text: "policy"}, {Text: "steps", Num: true}, {Text: accLabel, Num: true}, {Text: "test loss", Num: true},
			{Text: "train loss", Num: true, Title: "mean over the last epoch's steps"}, {Text: "avg bits", Num: true}, {Text: "final bits per layer"}, {Text: "wall time", Num: true}},
		Rows: []row{{Cells: []cell{{Text: sum.Method, Swatch: methodSwatches([]string{sum.Method})[0]}, {Text: policy, Code: true}, {Text: strconv.Itoa(sum.Steps), Num: true}, acc,
			{Text: fmt.Sprintf("%.4f", sum.TestLoss), Num: true}, {Text: fmt.Sprintf("%.4f", sum.TrainLoss), Num: true},
			{Text: fmt.Sprintf("%.2f", sum.AvgBits), Num: true}, {Text: bits}, {Text: fmt.Sprintf("%.1f s", sum.WallSeconds), Num: true}}}}}
	p.Sections = append(p.Sections, &section{ID: "results", Heading: "Results", Tables: []*table{t}})

	figs := &section{ID: "figures", Heading: "Figures"}
	if err := addFolderFigures(figs, in, []string{"accuracy", "bitwidth"}, l); err != nil {
		return nil, err
	}
	p.Sections = append(p.Sections, figs)

	settings := &section{ID: "settings", Heading: "Settings"}
	run := &list{Heading: "Run", Items: []item{{Key: "command", Value: rec.Command, Code: true}, {Key: "data", Value: rec.Dataset}, {Key: "started", Value: rec.Started}}}
	if rec.Versions != nil {
		run.Items = append(run.Items, item{Key: "versions", Value: rec.Versions.String()})
	}
	settings.Lists = append(settings.Lists, run)
	opts, err := optionsTable(f)
	if err != nil {
		return nil, err
	}
	if opts != nil {
		settings.Tables = append(settings.Tables, opts)
	}
	p.Sections = append(p.Sections, settings)

	files := &section{ID: "files", Heading: "Files", Intro: []string{"The result files next to this page."}}
	for _, rf := range runFiles {
		for _, lk := range l.existing(in, rf.name) {
			lk.Note = rf.note
			files.Links = append(files.Links, lk)
		}
	}
	p.Sections = append(p.Sections, files)
	return p, nil
}

// andList joins names as prose: "RCT, QAT and FP32".
func andList(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
