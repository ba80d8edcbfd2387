package hw

import (
	"fmt"
	"math"
	"testing"
)

// This file checks MACArraySpec.Timing against an oracle that rebuilds, shape by shape,
// the demand matrices SCALE-Sim v2 generates in scalesim/compute/systolic_compute_os.py,
// systolic_compute_ws.py and systolic_compute_is.py. The oracle does not restate the
// closed form: it replays every numpy slice, null-request concatenation, flip,
// transpose and skew_matrix call of each fold (partial folds included), on the
// matrices' shapes only, and checks what numpy would check (the other dimension agrees
// on every concatenation) and what SCALE-Sim asserts (the ifmap, filter and ofmap demand
// matrices have the same number of rows and the array's width).
//
// SCALE-Sim streams one demand row per cycle; with ideal memory (no stalls) its
// double_buffered_scratchpad.service_memory_requests gives row i cycle i and records
// total_cycles as the cycle of the last ofmap row. So SCALE-Sim's COMPUTE_REPORT
// "Total Cycles" is the number of demand rows minus 1, the index of the last cycle,
// while Timing(...).Cycles is the number of rows itself.

// mat is the shape of a numpy matrix in SCALE-Sim's demand generation.
type mat struct{ r, c int64 }

// np is the numpy subset SCALE-Sim's demand generation uses, on shapes. It records the
// first operation numpy would reject.
type np struct {
	t   *testing.T
	bad bool
}

func (n *np) fail(format string, args ...any) {
	n.t.Helper()
	if !n.bad {
		n.t.Errorf("numpy would raise: "+format, args...)
	}
	n.bad = true
}

// nulls is np.ones((r, c)) * -1.
func (n *np) nulls(r, c int64) mat {
	if r < 0 || c < 0 {
		n.fail("negative dimensions (%d, %d)", r, c)
	}
	return mat{r, c}
}

// clampRange is Python's slice clamping of [start:end] on a dimension of length d.
func clampRange(start, end, d int64) int64 {
	start = min(max(start, 0), d)
	end = min(max(end, 0), d)
	return max(end-start, 0)
}

// slice is a[r0:r1, c0:c1]; use 0, r for a full ':'.
func (n *np) slice(a mat, r0, r1, c0, c1 int64) mat {
	return mat{clampRange(r0, r1, a.r), clampRange(c0, c1, a.c)}
}

// concat0 is np.concatenate((a, b), axis=0).
func (n *np) concat0(a, b mat) mat {
	if a.c != b.c {
		n.fail("concatenate axis=0 of %v and %v", a, b)
	}
	return mat{a.r + b.r, a.c}
}

// concat1 is np.concatenate((a, b), axis=1).
func (n *np) concat1(a, b mat) mat {
	if a.r != b.r {
		n.fail("concatenate axis=1 of %v and %v", a, b)
	}
	return mat{a.r, a.c + b.c}
}

func (n *np) flip0(a mat) mat     { return a }
func (n *np) transpose(a mat) mat { return mat{a.c, a.r} }

// skew is SCALE-Sim's skew_matrix in its column-by-column form: column c gets c null
// rows above it and cols-c-1 below, and the columns are concatenated side by side.
func (n *np) skew(a mat) mat {
	var out mat
	for c := int64(0); c < a.c; c++ {
		col := mat{a.r, 1}
		this := n.concat0(n.concat0(n.nulls(c, 1), col), n.nulls(a.c-c-1, 1))
		if c == 0 {
			out = this
		} else {
			out = n.concat1(out, this)
		}
	}
	return out
}

// pyCeil is math.ceil(a / b) on Python floats, as SCALE-Sim computes folds.
func pyCeil(a, b int64) int64 { return int64(math.Ceil(float64(a) / float64(b))) }

// scaleSimDemand is the oracle's result for one layer.
type scaleSimDemand struct {
	ifmap, filter, ofmap mat
	// foldRows lists each fold's rows of the ofmap demand matrix, in SCALE-Sim's loop
	// order (column folds outer, row folds inner).
	foldRows []int64
}

// accumulate appends one fold's demand matrix to the whole, as SCALE-Sim does with
// np.concatenate(axis=0) (or by concatenating a list at the end).
func (n *np) accumulate(acc *mat, first bool, fold mat) {
	if first {
		*acc = fold
		return
	}
	*acc = n.concat0(*acc, fold)
}

// scaleSimDemandShapes replays SCALE-Sim v2's create_demand_matrices for dataflow df on
// an arrRow x arrCol array. The operand matrices are those of operand_matrix.py:
// ifmap M x K (ofmap pixels x convolution window), filter K x N, ofmap M x N.
func scaleSimDemandShapes(t *testing.T, df Dataflow, arrRow, arrCol int64, g GEMM) scaleSimDemand {
	t.Helper()
	n := &np{t: t}
	ifmapOp := mat{g.M, g.K}
	filterOp := mat{g.K, g.N}
	ofmapOp := mat{g.M, g.N}
	ifmapOpTrans := n.transpose(ifmapOp)

	var d scaleSimDemand
	switch df {
	case OutputStationary:
		// set_params
		Sr, Sc, T := ifmapOp.r, filterOp.c, ifmapOp.c
		rowFold, colFold := pyCeil(Sr, arrRow), pyCeil(Sc, arrCol)

		// create_ifmap_demand_mat
		suffix := n.nulls(arrCol-1, arrRow)
		for fc := int64(0); fc < colFold; fc++ {
			for fr := int64(0); fr < rowFold; fr++ {
				rowStart := fr * arrRow
				rowEnd := min(rowStart+arrRow, Sr)
				delta := arrRow - (rowEnd - rowStart)
				f := n.slice(ifmapOpTrans, 0, ifmapOpTrans.r, rowStart, rowEnd)
				if delta > 0 {
					f = n.concat1(f, n.nulls(T, delta))
				}
				f = n.concat0(f, suffix)
				f = n.skew(f)
				n.accumulate(&d.ifmap, fr == 0 && fc == 0, f)
			}
		}
		// create_filter_demand_mat
		suffix = n.nulls(arrRow-1, arrCol)
		for fc := int64(0); fc < colFold; fc++ {
			for fr := int64(0); fr < rowFold; fr++ {
				colStart := fc * arrCol
				colEnd := min(colStart+arrCol, Sc)
				delta := arrCol - (colEnd - colStart)
				f := n.slice(filterOp, 0, filterOp.r, colStart, colEnd)
				if delta > 0 {
					f = n.concat1(f, n.nulls(T, delta))
				}
				f = n.concat0(f, suffix)
				f = n.skew(f)
				n.accumulate(&d.filter, fr == 0 && fc == 0, f)
			}
		}
		// create_ofmap_demand_mat
		prefix := n.nulls(T-1, arrCol)
		for fc := int64(0); fc < colFold; fc++ {
			for fr := int64(0); fr < rowFold; fr++ {
				rowStart := fr * arrRow
				rowEnd := min(rowStart+arrRow, Sr)
				rowDelta := arrRow - (rowEnd - rowStart)
				colStart := fc * arrCol
				colEnd := min(colStart+arrCol, Sc)
				colDelta := arrCol - (colEnd - colStart)
				f := n.slice(ofmapOp, rowStart, rowEnd, colStart, colEnd)
				if colDelta > 0 {
					f = n.concat1(f, n.nulls(f.r, colDelta))
				}
				if rowDelta > 0 {
					f = n.concat0(f, n.nulls(rowDelta, arrCol))
				}
				f = n.flip0(f)
				f = n.concat0(prefix, f)
				f = n.skew(f)
				d.foldRows = append(d.foldRows, f.r)
				n.accumulate(&d.ofmap, fr == 0 && fc == 0, f)
			}
		}
		checkWidths(t, d, arrRow, arrCol, arrCol)

	case WeightStationary:
		Sr, Sc, T := ifmapOp.c, filterOp.c, ifmapOp.r
		rowFold, colFold := pyCeil(Sr, arrRow), pyCeil(Sc, arrCol)

		// create_ifmap_demand_mat
		prefix := n.nulls(arrRow, arrRow)
		suffix := n.nulls(arrCol-1, arrRow)
		for fc := int64(0); fc < colFold; fc++ {
			for fr := int64(0); fr < rowFold; fr++ {
				colStart := fr * arrRow
				colEnd := min(colStart+arrRow, Sr)
				delta := arrRow - (colEnd - colStart)
				f := n.slice(ifmapOp, 0, ifmapOp.r, colStart, colEnd)
				if delta > 0 {
					f = n.concat1(f, n.nulls(T, delta))
				}
				f = n.concat0(prefix, f)
				f = n.concat0(f, suffix)
				f = n.skew(f)
				n.accumulate(&d.ifmap, fr == 0 && fc == 0, f)
			}
		}
		// create_filter_demand_mat: no skew for weight stationary
		suffix = n.nulls(arrRow+arrCol+T-2, arrCol)
		for fc := int64(0); fc < colFold; fc++ {
			for fr := int64(0); fr < rowFold; fr++ {
				rowStart := fr * arrRow
				rowEnd := min(rowStart+arrRow, Sr)
				rowDelta := arrRow - (rowEnd - rowStart)
				colStart := fc * arrCol
				colEnd := min(colStart+arrCol, Sc)
				colDelta := arrCol - (colEnd - colStart)
				f := n.slice(filterOp, rowStart, rowEnd, colStart, colEnd)
				if colDelta > 0 {
					f = n.concat1(f, n.nulls(f.r, colDelta))
				}
				if rowDelta > 0 {
					f = n.concat0(f, n.nulls(rowDelta, arrCol))
				}
				f = n.flip0(f)
				f = n.concat0(f, suffix)
				n.accumulate(&d.filter, fr == 0 && fc == 0, f)
			}
		}
		// create_ofmap_demand_mat
		prefix = n.nulls(2*arrRow-1, arrCol)
		for fc := int64(0); fc < colFold; fc++ {
			for fr := int64(0); fr < rowFold; fr++ {
				colStart := fc * arrCol
				colEnd := min(colStart+arrCol, Sc)
				colDelta := arrCol - (colEnd - colStart)
				f := n.slice(ofmapOp, 0, ofmapOp.r, colStart, colEnd)
				if colDelta > 0 {
					f = n.concat1(f, n.nulls(f.r, colDelta))
				}
				f = n.concat0(prefix, f)
				f = n.skew(f)
				d.foldRows = append(d.foldRows, f.r)
				n.accumulate(&d.ofmap, fr == 0 && fc == 0, f)
			}
		}
		checkWidths(t, d, arrRow, arrCol, arrCol)

	case InputStationary:
		Sr, Sc, T := ifmapOp.c, ifmapOp.r, filterOp.c
		rowFold, colFold := pyCeil(Sr, arrRow), pyCeil(Sc, arrCol)

		// create_ifmap_demand_mat: no skew for input stationary
		suffix := n.nulls(arrRow+arrCol+T-2, arrCol)
		for fc := int64(0); fc < colFold; fc++ {
			for fr := int64(0); fr < rowFold; fr++ {
				rowStart := fr * arrRow
				rowEnd := min(rowStart+arrRow, Sr)
				rowDelta := arrRow - (rowEnd - rowStart)
				colStart := fc * arrCol
				colEnd := min(colStart+arrCol, Sc)
				colDelta := arrCol - (colEnd - colStart)
				f := n.slice(ifmapOpTrans, rowStart, rowEnd, colStart, colEnd)
				if colDelta > 0 {
					f = n.concat1(f, n.nulls(f.r, colDelta))
				}
				if rowDelta > 0 {
					f = n.concat0(f, n.nulls(rowDelta, arrCol))
				}
				f = n.flip0(f)
				f = n.concat0(f, suffix)
				n.accumulate(&d.ifmap, fr == 0 && fc == 0, f)
			}
		}
		// create_filter_demand_mat
		prefix := n.nulls(arrRow, arrRow)
		suffix = n.nulls(arrCol-1, arrRow)
		for fc := int64(0); fc < colFold; fc++ {
			for fr := int64(0); fr < rowFold; fr++ {
				rowStart := fr * arrRow
				rowEnd := min(rowStart+arrRow, Sr)
				delta := arrRow - (rowEnd - rowStart)
				f := n.slice(filterOp, rowStart, rowEnd, 0, filterOp.c)
				f = n.transpose(f)
				if delta > 0 {
					f = n.concat1(f, n.nulls(T, delta))
				}
				f = n.concat0(prefix, f)
				f = n.concat0(f, suffix)
				f = n.skew(f)
				n.accumulate(&d.filter, fr == 0 && fc == 0, f)
			}
		}
		// create_ofmap_demand_mat
		prefix = n.nulls(2*arrRow-1, arrCol)
		for fc := int64(0); fc < colFold; fc++ {
			for fr := int64(0); fr < rowFold; fr++ {
				colStart := fc * arrCol
				colEnd := min(colStart+arrCol, Sc)
				colDelta := arrCol - (colEnd - colStart)
				f := n.slice(ofmapOp, colStart, colEnd, 0, ofmapOp.c)
				f = n.transpose(f)
				if colDelta > 0 {
					f = n.concat1(f, n.nulls(T, colDelta))
				}
				f = n.concat0(prefix, f)
				f = n.skew(f)
				d.foldRows = append(d.foldRows, f.r)
				n.accumulate(&d.ofmap, fr == 0 && fc == 0, f)
			}
		}
		// For input stationary the ifmap demand spans the columns and the filter the rows.
		checkWidths(t, d, arrCol, arrRow, arrCol)

	default:
		t.Fatalf("unknown dataflow %q", df)
	}
	return d
}

// checkWidths is the tail of SCALE-Sim's create_demand_matrices: the three demand
// matrices advance in lock step and have the array's widths.
func checkWidths(t *testing.T, d scaleSimDemand, ifmapCols, filterCols, ofmapCols int64) {
	t.Helper()
	if d.ifmap.r != d.filter.r {
		t.Errorf("IFMAP and Filter demands out of sync: %d vs %d rows", d.ifmap.r, d.filter.r)
	}
	if d.ofmap.r != d.filter.r {
		t.Errorf("OFMAP and Filter demands out of sync: %d vs %d rows", d.ofmap.r, d.filter.r)
	}
	if d.ifmap.c != ifmapCols || d.filter.c != filterCols || d.ofmap.c != ofmapCols {
		t.Errorf("demand widths ifmap %d filter %d ofmap %d, want %d %d %d", d.ifmap.c, d.filter.c, d.ofmap.c, ifmapCols, filterCols, ofmapCols)
	}
}

var (
	// unitMode does one product per PE per cycle.
	unitMode = MACMode{WeightBits: 8, ActBits: 8, MACsPerPEPerCycle: 1}

	scaleSimArrays = []struct{ rows, cols int }{{8, 8}, {16, 16}, {32, 8}, {12, 14}}

	scaleSimLayers = []struct {
		name string
		g    GEMM
	}{
		{"lenet-conv1", GEMM{M: 28 * 28, N: 6, K: 1 * 5 * 5}},
		{"fc-400x120-batch32", GEMM{M: 32, N: 120, K: 400}},
		{"fc-400x120-batch1", GEMM{M: 1, N: 120, K: 400}},
		{"resnet-conv-32x32x16-3x3", GEMM{M: 1024, N: 16, K: 16 * 3 * 3}},
		{"smaller-than-array", GEMM{M: 5, N: 3, K: 7}},
		{"one", GEMM{M: 1, N: 1, K: 1}},
		{"equal-8", GEMM{M: 8, N: 8, K: 8}},
		{"one-more-than-8", GEMM{M: 9, N: 9, K: 9}},
		{"equal-16", GEMM{M: 16, N: 16, K: 16}},
		{"one-more-than-16", GEMM{M: 17, N: 17, K: 17}},
		{"equal-32x8", GEMM{M: 32, N: 8, K: 32}},
		{"one-more-than-32x8", GEMM{M: 33, N: 9, K: 33}},
		{"equal-12x14", GEMM{M: 12, N: 14, K: 12}},
		{"one-more-than-12x14", GEMM{M: 13, N: 15, K: 13}},
		{"tall-skinny", GEMM{M: 100, N: 1, K: 3}},
	}
)

// TestTimingScaleSimParity compares Timing with the oracle over every dataflow, array
// and layer of the tables: the number of demand rows of every fold, the number of folds,
// and the total.
func TestTimingScaleSimParity(t *testing.T) {
	for _, df := range []Dataflow{OutputStationary, WeightStationary, InputStationary} {
		for _, arr := range scaleSimArrays {
			for _, layer := range scaleSimLayers {
				name := fmt.Sprintf("%s/%dx%d/%s", df, arr.rows, arr.cols, layer.name)
				t.Run(name, func(t *testing.T) {
					spec := MACArraySpec{Rows: arr.rows, Cols: arr.cols, Dataflow: df}
					got := spec.Timing(layer.g, unitMode)
					d := scaleSimDemandShapes(t, df, int64(arr.rows), int64(arr.cols), layer.g)
					if got.Cycles != d.ofmap.r {
						t.Errorf("Timing(%+v).Cycles = %d, SCALE-Sim demand matrices have %d rows (it would report Total Cycles %d)",
							layer.g, got.Cycles, d.ofmap.r, d.ofmap.r-1)
					}
					if got.Folds != int64(len(d.foldRows)) {
						t.Errorf("Folds = %d, SCALE-Sim loops over %d folds", got.Folds, len(d.foldRows))
					}
					for i, r := range d.foldRows {
						if r != got.CyclesPerFold {
							t.Errorf("fold %d has %d demand rows, CyclesPerFold = %d", i, r, got.CyclesPerFold)
							break
						}
					}
					if want := layer.g.M * layer.g.N * layer.g.K; got.MappedMACs != want {
						t.Errorf("MappedMACs = %d, want M*N*K = %d", got.MappedMACs, want)
					}
				})
			}
		}
	}
}

// TestTimingScaleSimHandChecked pins a few totals worked out by hand from SCALE-Sim's
// construction, so that the oracle itself is checked too.
func TestTimingScaleSimHandChecked(t *testing.T) {
	tests := []struct {
		df         Dataflow
		rows, cols int
		g          GEMM
		folds      int64
		want       int64 // demand rows = Timing cycles; SCALE-Sim reports want-1
	}{
		// os, one fold: ifmap K x R plus C-1 null rows, skewed over R columns:
		// 8 + 7 + 8 - 1 = 22.
		{OutputStationary, 8, 8, GEMM{M: 8, N: 8, K: 8}, 1, 22},
		// ws, one fold: ifmap R null rows, M rows, C-1 null rows, skewed: 8+8+7+8-1 = 30.
		{WeightStationary, 8, 8, GEMM{M: 8, N: 8, K: 8}, 1, 30},
		// is, one fold: filter R null rows, N rows, C-1 null rows, skewed: 30.
		{InputStationary, 8, 8, GEMM{M: 8, N: 8, K: 8}, 1, 30},
		// os, 2 x 2 folds (9 = 8 + 1 partial) of 9 + 7 + 8 - 1 = 23 rows.
		{OutputStationary, 8, 8, GEMM{M: 9, N: 9, K: 9}, 4, 92},
		// ws, LeNet conv1 on 16x16: Sr = K = 25 -> 2 row folds, Sc = N = 6 -> 1;
		// 16 + 784 + 15 + 16 - 1 = 830 rows per fold.
		{WeightStationary, 16, 16, GEMM{M: 784, N: 6, K: 25}, 2, 1660},
		// is, ResNet-like conv on 32x8: Sr = K = 144 -> 5, Sc = M = 1024 -> 128 folds;
		// 32 + 16 + 7 + 32 - 1 = 86 rows per fold (the ofmap: 63 + 16 rows, skewed over 8).
		{InputStationary, 32, 8, GEMM{M: 1024, N: 16, K: 144}, 640, 55_040},
		// os, fc 400x120 at batch 32 on 12x14: Sr = 32 -> 3, Sc = 120 -> 9 folds;
		// 400 + 13 + 14 - 1 = 424... as ifmap rows K + C - 1 = 413 skewed over R = 12: 424.
		{OutputStationary, 12, 14, GEMM{M: 32, N: 120, K: 400}, 27, 11_448},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s/%dx%d/%d-%d-%d", tt.df, tt.rows, tt.cols, tt.g.M, tt.g.N, tt.g.K)
		t.Run(name, func(t *testing.T) {
			d := scaleSimDemandShapes(t, tt.df, int64(tt.rows), int64(tt.cols), tt.g)
			if d.ofmap.r != tt.want || int64(len(d.foldRows)) != tt.folds {
				t.Errorf("oracle: %d rows in %d folds, want %d in %d", d.ofmap.r, len(d.foldRows), tt.want, tt.folds)
			}
			spec := MACArraySpec{Rows: tt.rows, Cols: tt.cols, Dataflow: tt.df}
			if got := spec.Timing(tt.g, unitMode); got.Cycles != tt.want || got.Folds != tt.folds {
				t.Errorf("Timing: %d cycles in %d folds, want %d in %d", got.Cycles, got.Folds, tt.want, tt.folds)
			}
		})
	}
}

// TestTimingPacking checks precision-scalable modes: p products per PE per cycle
// shorten the reduction to ceil(K/p); one product every k cycles multiplies the cycles
// by k.
func TestTimingPacking(t *testing.T) {
	pack4 := MACMode{WeightBits: 2, ActBits: 2, MACsPerPEPerCycle: 4}
	slow4 := MACMode{Float: "fp32", MACsPerPEPerCycle: 0.25}
	for _, df := range []Dataflow{OutputStationary, WeightStationary, InputStationary} {
		for _, arr := range scaleSimArrays {
			for _, layer := range scaleSimLayers {
				name := fmt.Sprintf("%s/%dx%d/%s", df, arr.rows, arr.cols, layer.name)
				t.Run(name, func(t *testing.T) {
					spec := MACArraySpec{Rows: arr.rows, Cols: arr.cols, Dataflow: df}
					g := layer.g
					base := spec.Timing(g, unitMode)

					packedK := GEMM{M: g.M, N: g.N, K: (g.K + 3) / 4}
					if got, want := spec.Timing(g, pack4), spec.Timing(packedK, unitMode); got != want {
						t.Errorf("p=4: %+v, want the p=1 timing of K'=%d: %+v", got, packedK.K, want)
					}
					d := scaleSimDemandShapes(t, df, int64(arr.rows), int64(arr.cols), packedK)
					if got := spec.Timing(g, pack4).Cycles; got != d.ofmap.r {
						t.Errorf("p=4: %d cycles, SCALE-Sim's construction on K'=%d gives %d", got, packedK.K, d.ofmap.r)
					}

					slow := spec.Timing(g, slow4)
					want := FoldTiming{
						Folds:         base.Folds,
						CyclesPerFold: 4 * base.CyclesPerFold,
						Cycles:        4 * base.Cycles,
						MappedMACs:    4 * base.MappedMACs,
					}
					if slow != want {
						t.Errorf("p=1/4: %+v, want %+v", slow, want)
					}
				})
			}
		}
	}
}

func TestTimingEmptyGEMM(t *testing.T) {
	spec := MACArraySpec{Rows: 8, Cols: 8, Dataflow: OutputStationary}
	for _, g := range []GEMM{{0, 8, 8}, {8, 0, 8}, {8, 8, 0}, {-1, 8, 8}} {
		if got := spec.Timing(g, unitMode); got != (FoldTiming{}) {
			t.Errorf("Timing(%+v) = %+v, want zero", g, got)
		}
	}
}
