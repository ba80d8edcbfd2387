package sim

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"sort"
	"strconv"
)

// Columns flattens a report into named columns, nested keys joined by dots
// ("energy_pj.total"), in a fixed order: the CSV form of `rctsim sim` and the metric
// columns of a sweep.
func (r Report) Columns() (names, values []string) {
	add := func(n, v string) { names, values = append(names, n), append(values, v) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	addMap := func(prefix string, m map[string]float64) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			add(prefix+"."+k, f(m[k]))
		}
	}
	add("profile", r.Profile)
	add("model", r.Model)
	add("method", r.Method)
	add("batch", strconv.Itoa(r.Batch))
	add("cycles", strconv.FormatUint(r.Cycles, 10))
	add("seconds", f(r.Seconds))
	add("macs", i(r.MACs))
	add("instructions", strconv.Itoa(r.Instructions))
	add("compute_cycles", strconv.FormatUint(r.ComputeCycles, 10))
	add("stall_cycles", strconv.FormatUint(r.StallCycles, 10))
	addMap("energy_pj", r.EnergyPJ)
	addMap("energy_by_tensor_pj", r.EnergyByTensor)
	addMap("energy_by_phase_pj", r.EnergyByPhase)
	add("dram.read_bytes", i(r.DRAM.ReadBytes))
	add("dram.write_bytes", i(r.DRAM.WriteBytes))
	add("dram.activates", i(r.DRAM.Activates))
	add("dram.row_hits", i(r.DRAM.RowHits))
	add("dram.row_misses", i(r.DRAM.RowMisses))
	add("dram.row_conflicts", i(r.DRAM.RowConflicts))
	add("sram.read_bytes", i(r.SRAM.ReadBytes))
	add("sram.write_bytes", i(r.SRAM.WriteBytes))
	add("sram.peak_bytes", i(r.SRAM.PeakBytes))
	mem := make(map[string]float64, len(r.MemoryBytes))
	for k, v := range r.MemoryBytes {
		mem[k] = float64(v)
	}
	keys := make([]string, 0, len(mem))
	for k := range mem {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add("memory_bytes."+k, i(r.MemoryBytes[k]))
	}
	addMap("utilization", r.Utilization)
	add("technology_node", r.TechnologyNode)
	addMap("area_mm2", r.AreaMM2)
	addMap("leakage_mw", r.LeakageMW)
	addMap("static_energy_pj", r.StaticEnergyPJ)
	addMap("power_mw", r.PowerMW)
	addMap("derived", r.Derived)
	return names, values
}

// WriteJSON writes the report as one indented JSON object, the form of
// `rctsim sim --format json`.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteCSV writes the report as a header row and one row of Columns.
func (r Report) WriteCSV(w io.Writer) error {
	names, values := r.Columns()
	cw := csv.NewWriter(w)
	cw.Write(names)
	cw.Write(values)
	cw.Flush()
	return cw.Error()
}
