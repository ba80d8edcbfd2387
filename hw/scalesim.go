package hw

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/traces/fileio"
)

// ScaleSimConfig is a SCALE-Sim v2 configuration file (its configs/scale.cfg), read as
// SCALE-Sim's scale_config.read_conf_file reads it: an INI file (Python's
// configparser) with sections [general] (run_name), [architecture_presets]
// (ArrayHeight, ArrayWidth, IfmapSramSzkB, FilterSramSzkB, OfmapSramSzkB,
// IfmapOffset, FilterOffset, OfmapOffset, Dataflow, Bandwidth, MemoryBanks) and
// [run_presets] (InterfaceBandwidth: CALC or USER), and optionally [network_presets]
// (TopologyCsvLoc). Keys are case-insensitive, "key: value" or "key = value".
type ScaleSimConfig struct {
	RunName                    string
	ArrayHeight, ArrayWidth    int
	IfmapKB, FilterKB, OfmapKB int // SRAM sizes in KiB (SCALE-Sim multiplies by 1024)
	IfmapOffset, FilterOffset  int64
	OfmapOffset                int64
	Dataflow                   Dataflow
	UserBandwidth              bool  // InterfaceBandwidth USER (else CALC)
	Bandwidths                 []int // words per cycle, read for USER
	MemoryBanks                int   // 1 unless given
	TopologyCSV                string
	Source                     string
	lines                      map[string]int // "section.key" -> line, for errors
}

// scaleSimKeys lists the keys SCALE-Sim v2 reads (or its shipped configs carry), by
// section, lower-cased as configparser folds them.
var scaleSimKeys = map[string][]string{
	"general":              {"run_name"},
	"architecture_presets": {"arrayheight", "arraywidth", "ifmapsramszkb", "filtersramszkb", "ofmapsramszkb", "ifmapoffset", "filteroffset", "ofmapoffset", "dataflow", "bandwidth", "memorybanks"},
	"run_presets":          {"interfacebandwidth"},
	"network_presets":      {"topologycsvloc"},
}

// maxScaleSimConfigBytes bounds a configuration file: SCALE-Sim's are a few hundred
// bytes.
const maxScaleSimConfigBytes = 1 << 20

// ParseScaleSimConfig reads a SCALE-Sim configuration. Every problem is a
// *fileio.Error naming source, the line and the key ("architecture_presets.Dataflow"):
// a line that is no section, key or comment, a key SCALE-Sim does not read, a key given
// twice, a missing key, or a value SCALE-Sim would reject (or, for Dataflow, warn
// about and run anyway).
func ParseScaleSimConfig(data []byte, source string) (*ScaleSimConfig, error) {
	if len(data) > maxScaleSimConfigBytes {
		return nil, &fileio.Error{File: source, Err: fmt.Errorf("%d bytes: a SCALE-Sim configuration is at most %d", len(data), maxScaleSimConfigBytes)}
	}
	c := &ScaleSimConfig{Source: source, MemoryBanks: 1, lines: map[string]int{}}
	values := map[string]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxScaleSimConfigBytes+1)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		if n == 1 {
			raw = strings.TrimPrefix(raw, "\ufeff")
		}
		line := strings.TrimSpace(raw)
		errAt := func(key, format string, args ...any) error {
			return &fileio.Error{File: source, Line: n, Col: 1, Key: key, Err: fmt.Errorf(format, args...)}
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case raw[0] == ' ' || raw[0] == '\t':
			return nil, errAt("", "an indented line continues the previous value in configparser; SCALE-Sim's values are one line each")
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") {
				return nil, errAt("", "section header %q does not end with ]", line)
			}
			section = strings.TrimSpace(line[1 : len(line)-1])
			if _, ok := scaleSimKeys[section]; !ok {
				return nil, errAt("", "unknown section [%s] (SCALE-Sim reads [general], [architecture_presets], [run_presets], [network_presets])", section)
			}
			continue
		}
		i := strings.IndexAny(line, ":=")
		if i <= 0 {
			return nil, errAt("", "want key: value or key = value, got %q", line)
		}
		name := strings.TrimSpace(line[:i])
		value := strings.TrimSpace(line[i+1:])
		key := section + "." + name
		if section == "" {
			return nil, errAt(name, "key before any [section]")
		}
		lower := strings.ToLower(name)
		if !slices.Contains(scaleSimKeys[section], lower) {
			return nil, errAt(key, "SCALE-Sim v2 reads no such key in [%s] (it reads %s)", section, strings.Join(scaleSimKeys[section], ", "))
		}
		full := section + "." + lower
		if prev, dup := c.lines[full]; dup {
			return nil, errAt(key, "given twice (also line %d)", prev)
		}
		c.lines[full] = n
		values[full] = value
	}
	if err := sc.Err(); err != nil {
		return nil, &fileio.Error{File: source, Err: err}
	}
	if err := c.fill(values); err != nil {
		return nil, err
	}
	return c, nil
}

// fill reads the values as SCALE-Sim does, with bounds of its own.
func (c *ScaleSimConfig) fill(values map[string]string) error {
	errKey := func(full, format string, args ...any) error {
		return &fileio.Error{File: c.Source, Line: c.lines[full], Col: 1, Key: full, Err: fmt.Errorf(format, args...)}
	}
	get := func(full string) (string, error) {
		v, ok := values[full]
		if !ok {
			return "", &fileio.Error{File: c.Source, Key: full, Err: fmt.Errorf("missing: SCALE-Sim requires it")}
		}
		return v, nil
	}
	integer := func(full string, lo, hi int64) (int64, error) {
		s, err := get(full)
		if err != nil {
			return 0, err
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < lo || v > hi {
			return 0, errKey(full, "must be an integer from %d to %d (got %q)", lo, hi, s)
		}
		return v, nil
	}
	var err error
	if c.RunName, err = get("general.run_name"); err != nil {
		return err
	}
	mode, err := get("run_presets.interfacebandwidth")
	if err != nil {
		return err
	}
	switch mode {
	case "CALC":
	case "USER":
		c.UserBandwidth = true
	default:
		return errKey("run_presets.interfacebandwidth", "must be USER or CALC (got %q)", mode)
	}
	dims := []*int{&c.ArrayHeight, &c.ArrayWidth}
	for i, k := range []string{"arrayheight", "arraywidth"} {
		v, err := integer("architecture_presets."+k, 1, maxArrayDim)
		if err != nil {
			return err
		}
		*dims[i] = int(v)
	}
	sizes := []*int{&c.IfmapKB, &c.FilterKB, &c.OfmapKB}
	for i, k := range []string{"ifmapsramszkb", "filtersramszkb", "ofmapsramszkb"} {
		v, err := integer("architecture_presets."+k, 1, maxSRAMCapacity>>10)
		if err != nil {
			return err
		}
		*sizes[i] = int(v)
	}
	offsets := []*int64{&c.IfmapOffset, &c.FilterOffset, &c.OfmapOffset}
	for i, k := range []string{"ifmapoffset", "filteroffset", "ofmapoffset"} {
		if *offsets[i], err = integer("architecture_presets."+k, 0, 1<<50); err != nil {
			return err
		}
	}
	df, err := get("architecture_presets.dataflow")
	if err != nil {
		return err
	}
	switch Dataflow(df) {
	case OutputStationary, WeightStationary, InputStationary:
		c.Dataflow = Dataflow(df)
	default:
		return errKey("architecture_presets.dataflow", `must be "os", "ws" or "is", SCALE-Sim's dataflows (got %q)`, df)
	}
	if _, ok := values["architecture_presets.memorybanks"]; ok {
		v, err := integer("architecture_presets.memorybanks", 1, maxBanks)
		if err != nil {
			return err
		}
		c.MemoryBanks = int(v)
	}
	if c.UserBandwidth {
		s, err := get("architecture_presets.bandwidth")
		if err != nil {
			return err
		}
		for _, part := range strings.Split(s, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil || v < 1 || v > 1<<20 {
				return errKey("architecture_presets.bandwidth", "must be positive integers, words per cycle, separated by commas (got %q)", s)
			}
			c.Bandwidths = append(c.Bandwidths, v)
		}
	}
	if loc, ok := values["network_presets.topologycsvloc"]; ok {
		// SCALE-Sim takes the text between the first two double quotes.
		parts := strings.Split(loc, `"`)
		if len(parts) < 3 {
			return errKey("network_presets.topologycsvloc", `must be a quoted path, e.g. "topologies/conv_nets/alexnet.csv" (got %q)`, loc)
		}
		c.TopologyCSV = parts[1]
	}
	return nil
}

// Profile turns the configuration into a chip profile: SCALE-Sim's array (rows,
// columns, dataflow) and its three buffers (ifmap holding inputs, filter weights,
// ofmap outputs, of the configured KiB, in MemoryBanks banks wide enough to feed the
// array's edge every cycle, as SCALE-Sim assumes), on base for everything SCALE-Sim
// does not describe: the clock, the MAC modes and their energy (SCALE-Sim's words are
// one byte: the 8x8 mode runs its layers), SRAM energy per byte, DRAM, vector unit and
// DMA. The result is validated.
func (c *ScaleSimConfig) Profile(base *Profile) (*Profile, error) {
	p := base.Clone()
	p.Name = c.RunName
	if strings.TrimSpace(p.Name) == "" {
		p.Name = "scalesim"
	}
	p.Description = fmt.Sprintf("SCALE-Sim configuration %s on profile %s", c.Source, base.Name)
	p.Source = c.Source
	p.MACArray.Rows, p.MACArray.Cols, p.MACArray.Dataflow = c.ArrayHeight, c.ArrayWidth, c.Dataflow
	// Energy per byte of the base's first buffer.
	var perByteRead, perByteWrite float64
	for _, name := range base.BufferNames() {
		b := base.SRAM[name]
		perByteRead, perByteWrite = b.ReadEnergyPJ/float64(b.BankWidthBytes), b.WriteEnergyPJ/float64(b.BankWidthBytes)
		break
	}
	edge := max(c.ArrayHeight, c.ArrayWidth)
	p.SRAM = map[string]*SRAMSpec{}
	for _, b := range []struct {
		name string
		kb   int
		role string
	}{{"ifmap", c.IfmapKB, RoleInputs}, {"filter", c.FilterKB, RoleWeights}, {"ofmap", c.OfmapKB, RoleOutputs}} {
		capacity := int64(b.kb) * 1024
		// The widest power of two up to the array's edge whose rows divide the capacity.
		width := 1
		for w := 2; w <= min(edge, maxBankWidth); w *= 2 {
			if capacity%(int64(c.MemoryBanks)*int64(w)) == 0 {
				width = w
			}
		}
		p.SRAM[b.name] = &SRAMSpec{Capacity: ByteSize(capacity), Banks: c.MemoryBanks, BankWidthBytes: width, Ports: 1,
			ReadEnergyPJ: perByteRead * float64(width), WriteEnergyPJ: perByteWrite * float64(width), Holds: []string{b.role}}
	}
	if err := p.Validate(); err != nil {
		forEachError(err, func(e *fileio.Error) {
			e.File = c.Source
		})
		return nil, err
	}
	return p, nil
}

// openScaleSim reads a SCALE-Sim configuration as a profile on the embedded default.
func openScaleSim(data []byte, source string, embedded fs.FS) (*Profile, error) {
	c, err := ParseScaleSimConfig(data, source)
	if err != nil {
		return nil, err
	}
	base, err := LoadFS(embedded, "default.toml")
	if err != nil {
		return nil, err
	}
	return c.Profile(base)
}

// ScaleSimLayer is one row of SCALE-Sim v2's COMPUTE_REPORT.csv for a GEMM (its
// operand matrices: ifmap M x K, filter K x N) on a rows x cols array, with memory that
// never stalls the array (InterfaceBandwidth CALC): what SCALE-Sim prints.
type ScaleSimLayer struct {
	// TotalCycles is SCALE-Sim's "Total Cycles": the index of the cycle of the last
	// demand row, one less than the cycles Timing counts.
	TotalCycles int64
	StallCycles int64
	// OverallUtil, MappingEfficiency and ComputeUtil are percentages: the MACs over
	// TotalCycles x PEs, the mean over folds of the PEs mapped, and the mean over
	// folds of the PE-cycles computing over each fold's cycles.
	OverallUtil, MappingEfficiency, ComputeUtil float64
	Folds                                       int64
}

// ScaleSimCompute computes SCALE-Sim v2's compute report for g on a rows x cols array
// with dataflow df (os, ws or is), with SCALE-Sim's own arithmetic: per fold (column
// folds outer, row folds inner) the mapping efficiency rows_used x cols_used / PEs
// and the compute utilisation rows_used x cols_used x T / (PEs x fold cycles), where a
// fold's cycles are T + R + C - 2 for os and 2R + 2C + T - 3 for ws and is (the
// ofmap or filter demand matrix's rows plus its width, less one:
// systolic_compute_*.py); each is averaged with Python's sum, which compensates
// rounding (Neumaier) since Python 3.12 and did not before (python311 true: the
// figures a Python 3.11 or older SCALE-Sim prints, which can differ in the last
// digits).
func ScaleSimCompute(rows, cols int, df Dataflow, g GEMM, python311 bool) ScaleSimLayer {
	R, C := int64(rows), int64(cols)
	// foldCycles is what SCALE-Sim divides by for a fold's compute utilisation;
	// foldRows the demand rows a fold streams (Timing's cycles per fold).
	var sr, sc, t, foldCycles, foldRows int64
	switch df {
	case WeightStationary:
		sr, sc, t = g.K, g.N, g.M
		foldCycles, foldRows = 2*R+2*C+t-3, 2*R+C+t-2
	case InputStationary:
		sr, sc, t = g.K, g.M, g.N
		foldCycles, foldRows = 2*R+2*C+t-3, 2*R+C+t-2
	default:
		sr, sc, t = g.M, g.N, g.K
		foldCycles, foldRows = t+R+C-2, t+R+C-2
	}
	if sr <= 0 || sc <= 0 || t <= 0 || R <= 0 || C <= 0 {
		return ScaleSimLayer{}
	}
	rowFolds, colFolds := ceilDiv(sr, R), ceilDiv(sc, C)
	var mapping, compute pySum
	mapping.python311, compute.python311 = python311, python311
	pes := float64(R * C)
	for fc := int64(0); fc < colFolds; fc++ {
		colUsed := min(C, sc-fc*C)
		for fr := int64(0); fr < rowFolds; fr++ {
			rowUsed := min(R, sr-fr*R)
			used := rowUsed * colUsed
			mapping.add(float64(used) / pes)
			compute.add(float64(used*t) / float64(R*C*foldCycles))
		}
	}
	folds := rowFolds * colFolds
	// SCALE-Sim reports the index of the last demand row's cycle.
	total := foldRows*folds - 1
	macs := g.M * g.N * g.K
	return ScaleSimLayer{
		TotalCycles:       total,
		OverallUtil:       float64(macs*100) / float64(total*R*C),
		MappingEfficiency: mapping.total() / float64(folds) * 100,
		ComputeUtil:       compute.total() / float64(folds) * 100,
		Folds:             folds,
	}
}

// pySum adds floats as Python's built-in sum does: compensated (Neumaier) since
// Python 3.12, plainly before.
type pySum struct {
	sum, c    float64
	python311 bool
}

func (s *pySum) add(x float64) {
	if s.python311 {
		s.sum += x
		return
	}
	t := s.sum + x
	if math.Abs(s.sum) >= math.Abs(x) {
		s.c += (s.sum - t) + x
	} else {
		s.c += (x - t) + s.sum
	}
	s.sum = t
}

func (s *pySum) total() float64 {
	if s.c != 0 && !math.IsInf(s.c, 0) && !math.IsNaN(s.c) {
		return s.sum + s.c
	}
	return s.sum
}

// PythonFloat formats v as Python's repr does (the form SCALE-Sim's reports print
// floats in): the shortest digits that read back to v, with ".0" for a whole number,
// and exponent form below 1e-4 or from 1e16.
func PythonFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	a := math.Abs(v)
	if a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(v, 'e', -1, 64) // 1e-05, 1.5e+16: as Python writes them
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}
