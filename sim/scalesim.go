package sim

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
)

// ScaleSimRow is one row of SCALE-Sim v2's COMPUTE_REPORT.csv for a topology file on
// a profile's array: SCALE-Sim's figures, by its own rules (ScaleSimReport). A
// depthwise layer (a row whose name contains "DP") is one row per channel, as
// SCALE-Sim splits it.
type ScaleSimRow struct {
	LayerID int
	Name    string
	hw.ScaleSimLayer
	// Row is the index of the topology row (and of its rctsim run).
	Row   int
	Shape models.ScaleSimShape
}

// ScaleSimComparison is a topology row with SCALE-Sim's cycles next to rctsim's
// compute cycles, and why they differ.
type ScaleSimComparison struct {
	Name     string
	LayerIDs []int
	// ScaleSimTotal sums SCALE-Sim's Total Cycles (last-cycle indices); ScaleSimCycles
	// is the cycles they stand for (each index plus one).
	ScaleSimTotal, ScaleSimCycles int64
	RctsimComputeCycles           int64
	ScaleSimOfmap, RctsimOfmap    [2]int
	GEMMs                         int64
	Why                           []string
}

// ScaleSimReport computes SCALE-Sim v2's compute report for the layers of a topology
// file on prof's array (dataflow os, ws or is), as SCALE-Sim with InterfaceBandwidth
// CALC prints it: each layer whole (SCALE-Sim's compute ignores SRAM sizes), its ofmap
// sized by SCALE-Sim's rule, no stalls; python311 picks the float summation of Python
// 3.11 and older (hw.ScaleSimCompute). runs, when given (RunTopology's, at batch 1),
// are compared with it row by row.
func ScaleSimReport(prof *hw.Profile, layers []models.TopologyLayer, runs []LayerRun, python311 bool) ([]ScaleSimRow, []ScaleSimComparison, error) {
	arr := &prof.MACArray
	switch arr.Dataflow {
	case hw.OutputStationary, hw.WeightStationary, hw.InputStationary:
	default:
		return nil, nil, fmt.Errorf("profile %s is %s: SCALE-Sim has only the os, ws and is dataflows", prof.Name, arr.Dataflow)
	}
	var rows []ScaleSimRow
	var cmp []ScaleSimComparison
	for i, tl := range layers {
		shape := tl.ScaleSim()
		c := ScaleSimComparison{Name: tl.Layer.Name, ScaleSimOfmap: [2]int{shape.OfmapH, shape.OfmapW}, RctsimOfmap: [2]int{tl.Layer.Out.H, tl.Layer.Out.W}}
		if tl.Layer.Kind == models.Linear {
			c.RctsimOfmap = c.ScaleSimOfmap // a GEMM row: M rows of one column in both
		}
		split := 1
		name := tl.Layer.Name
		if strings.Contains(name, "DP") && tl.Layer.Kind == models.Conv2D {
			// SCALE-Sim runs a depthwise row as one single-channel layer per channel.
			split = tl.Layer.In.C
			shape.K /= int64(split)
		}
		for ch := 0; ch < split; ch++ {
			n := name
			if split > 1 {
				n = fmt.Sprintf("%sChannel_%d", name, ch)
			}
			l := hw.ScaleSimCompute(arr.Rows, arr.Cols, arr.Dataflow, hw.GEMM{M: shape.M, N: shape.N, K: shape.K}, python311)
			rows = append(rows, ScaleSimRow{LayerID: len(rows), Name: n, ScaleSimLayer: l, Row: i, Shape: shape})
			c.LayerIDs = append(c.LayerIDs, len(rows)-1)
			c.ScaleSimTotal += l.TotalCycles
			c.ScaleSimCycles += l.TotalCycles + 1
		}
		if i < len(runs) {
			s := runs[i].Stats
			c.RctsimComputeCycles = int64(s.ComputeCycles)
			c.GEMMs = s.GEMMs
			c.Why = scaleSimWhy(tl, shape, split, s)
		}
		cmp = append(cmp, c)
	}
	return rows, cmp, nil
}

// scaleSimWhy explains how rctsim's compute cycles for a row relate to SCALE-Sim's.
func scaleSimWhy(tl models.TopologyLayer, shape models.ScaleSimShape, split int, s *Stats) []string {
	var why []string
	l := &tl.Layer
	if split > 1 {
		why = append(why, fmt.Sprintf("SCALE-Sim splits this depthwise layer into %d single-channel layers; rctsim runs it as one convolution", split))
	}
	if l.Kind != models.Linear && (shape.OfmapH != l.Out.H || shape.OfmapW != l.Out.W) {
		why = append(why, fmt.Sprintf("SCALE-Sim sizes the ofmap ceil((H-F+S)/S) = %dx%d, rctsim floor((H-F)/S)+1 = %dx%d (the last window would hang over the edge)",
			shape.OfmapH, shape.OfmapW, l.Out.H, l.Out.W))
	}
	if s.GEMMs > 1 {
		why = append(why, fmt.Sprintf("rctsim tiles the layer to fit its SRAM (%d GEMM tiles, each filling and draining the array); SCALE-Sim's compute ignores SRAM sizes", s.GEMMs))
	}
	if s.Batch > 1 && l.Kind != models.Linear {
		why = append(why, fmt.Sprintf("rctsim ran %d images; SCALE-Sim has no batch", s.Batch))
	}
	if s.MappedPECycles != s.MACs {
		why = append(why, fmt.Sprintf("the chip's MAC mode for these operands does not do one MAC per PE per cycle (%d PE-cycles for %d MACs)", s.MappedPECycles, s.MACs))
	}
	if len(why) == 0 {
		why = []string{"the same cycles: SCALE-Sim's Total Cycles is the index of the last one"}
	}
	return why
}

// WriteScaleSimComputeReport writes rows as SCALE-Sim v2 writes COMPUTE_REPORT.csv:
// its header, then "LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping
// Efficiency %, Compute Util %," per layer, floats as Python prints them.
func WriteScaleSimComputeReport(w io.Writer, rows []ScaleSimRow) error {
	var b strings.Builder
	b.WriteString("LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, Compute Util %,\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%d, %d, %d, %s, %s, %s,\n", r.LayerID, r.TotalCycles, r.StallCycles,
			hw.PythonFloat(r.OverallUtil), hw.PythonFloat(r.MappingEfficiency), hw.PythonFloat(r.ComputeUtil))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteScaleSimComparison writes one CSV row per topology row: SCALE-Sim's layer ids,
// Total Cycles and the cycles they stand for, rctsim's compute cycles, the difference,
// both ofmap sizes, rctsim's GEMM tiles and why the figures differ.
func WriteScaleSimComparison(w io.Writer, cmp []ScaleSimComparison) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"layer", "scalesim_layer_ids", "scalesim_total_cycles", "scalesim_cycles", "rctsim_compute_cycles", "difference",
		"scalesim_ofmap", "rctsim_ofmap", "rctsim_gemm_tiles", "why"})
	for _, c := range cmp {
		ids := strconv.Itoa(c.LayerIDs[0])
		if n := len(c.LayerIDs); n > 1 {
			ids += "-" + strconv.Itoa(c.LayerIDs[n-1])
		}
		cw.Write([]string{c.Name, ids, strconv.FormatInt(c.ScaleSimTotal, 10), strconv.FormatInt(c.ScaleSimCycles, 10),
			strconv.FormatInt(c.RctsimComputeCycles, 10), strconv.FormatInt(c.RctsimComputeCycles-c.ScaleSimCycles, 10),
			fmt.Sprintf("%dx%d", c.ScaleSimOfmap[0], c.ScaleSimOfmap[1]), fmt.Sprintf("%dx%d", c.RctsimOfmap[0], c.RctsimOfmap[1]),
			strconv.FormatInt(c.GEMMs, 10), strings.Join(c.Why, "; ")})
	}
	cw.Flush()
	return cw.Error()
}
