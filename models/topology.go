package models

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/traces/fileio"
)

// TopologyLayer is one row of a SCALE-Sim topology file: a layer and the number of
// examples (GEMM rows) it runs on.
type TopologyLayer struct {
	Layer Layer
	// Batch is 1 for a convolution row and M for a GEMM row, so that
	// Layer.MACs(Forward) * Batch is the row's M*N*K.
	Batch int
	// Line is the row's 1-based line in the file.
	Line int
}

// ErrEmptyTopology is wrapped by the error of a topology file that has no header row, or
// no layer after it.
var ErrEmptyTopology = errors.New("empty topology")

// maxTopologyValue bounds every integer in a topology file, and maxTopologyMACs the
// multiply-accumulates of one row: the simulator's bound for one program
// (kernels.MaxMACs, 10^15), within which no product or sum downstream overflows an
// int64. A row beyond it is refused at its line rather than after compiling.
const (
	maxTopologyValue = 1 << 24
	maxTopologyMACs  = 1 << 50
)

// topoColumn is one column of a topology format.
type topoColumn struct {
	// name is the spelling of SCALE-Sim's documentation, used in messages.
	name string
	// aliases are other spellings found in SCALE-Sim's own topology files, normalised
	// (see normHeader).
	aliases []string
}

// The column sets of SCALE-Sim's topology formats. SCALE-Sim's topology writer emits a
// ninth column (a stride per direction); rctsim reads it when both strides agree.
var (
	convColumns = []topoColumn{
		{"Layer name", []string{"layer"}},
		{"IFMAP Height", nil},
		{"IFMAP Width", nil},
		{"Filter Height", nil},
		{"Filter Width", nil},
		{"Channels", nil},
		{"Num Filter", []string{"numfilters"}},
		{"Strides", []string{"stride"}},
	}
	convColumns2Strides = append(append([]topoColumn(nil), convColumns[:7]...),
		topoColumn{"Stride Height", nil},
		topoColumn{"Stride Width", nil},
	)
	gemmColumns = []topoColumn{
		{"Layer Name", []string{"layer"}},
		{"M", nil},
		{"N", nil},
		{"K", nil},
	}
)

// normHeader folds a header cell for comparison: lower case, without spaces,
// underscores or hyphens ("IFMAP Height", "ifmap_height" and "Ifmap height" agree).
func normHeader(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if r != ' ' && r != '_' && r != '-' && r != '\t' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (c topoColumn) matches(cell string) bool {
	n := normHeader(cell)
	if n == normHeader(c.name) {
		return true
	}
	for _, a := range c.aliases {
		if n == a {
			return true
		}
	}
	return false
}

// leadingMatches counts the header cells that match cols before the first mismatch.
func leadingMatches(record []string, cols []topoColumn) int {
	n := 0
	for n < len(record) && n < len(cols) && cols[n].matches(record[n]) {
		n++
	}
	return n
}

func columnNames(cols []topoColumn) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// headerMatches reports whether record names exactly the columns of cols.
func headerMatches(record []string, cols []topoColumn) bool {
	if len(record) != len(cols) {
		return false
	}
	for i, c := range cols {
		if !c.matches(record[i]) {
			return false
		}
	}
	return true
}

// ReadTopology reads a SCALE-Sim topology CSV file. source names the file in errors.
//
// The convolution format (gemm false) has the header
//
//	Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
//
// and each row becomes a Conv2D layer In={Channels, IFMAP Height, IFMAP Width} with the
// filter as kernel, no padding and no bias, and Batch 1. The convolution is valid:
// out = floor((in - filter)/stride) + 1. (SCALE-Sim itself computes
// ceil((in - filter)/stride) + 1, letting a last, partial window hang over the edge;
// the two differ only when the stride does not divide in - filter, as in AlexNet's
// 224/11/4 first layer: 54 rows here, 55 in SCALE-Sim.) SCALE-Sim's nine-column
// variant with "Stride Height, Stride Width" is accepted when the two strides are
// equal. Rows named "DP..." are read as ordinary convolutions (SCALE-Sim splits them
// per channel).
//
// The GEMM format (gemm true) has the header "Layer Name, M, N, K," and each row becomes
// a Linear layer In={K,1,1}, Out={N,1,1}, no bias, with Batch M: SCALE-Sim's M is the
// number of rows of the left operand.
//
// The header row is required; its names are compared ignoring case, spaces and
// underscores, and the spellings of SCALE-Sim's own files ("Layer", "num filters",
// "strides") are accepted. The trailing comma SCALE-Sim writes after every row is
// optional, whitespace around fields is ignored, blank lines are skipped and layer names
// may repeat. Every number must be a positive integer, and a filter may not be larger
// than its input.
//
// The first problem is returned as a *fileio.Error at its line and column (in bytes, as
// encoding/csv counts; 0 when the problem has no position, as in an empty file), whose
// Key is the column's name, or "header" for a bad header row, or empty for a problem
// with the whole row or file; Err is encoding/csv's ErrQuote or ErrBareQuote for a
// malformed CSV file:
//
//	layers.csv:3:16: Filter Height: must be a positive integer (got "x")
//
// An empty source is named "topology", so that a message still says what it is about.
func ReadTopology(r io.Reader, source string, gemm bool) ([]TopologyLayer, error) {
	if source == "" {
		source = "topology"
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true

	t := topologyReader{cr: cr, source: source, gemm: gemm}
	var cols []topoColumn
	headerLine := 0
	var layers []TopologyLayer
	for first := true; ; first = false {
		record, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, t.csvError(err)
		}
		if first {
			record[0] = strings.TrimPrefix(record[0], "\ufeff") // a byte-order mark from a spreadsheet
		}
		record = trimRecord(record)
		if len(record) == 0 {
			continue // blank line
		}
		if cols == nil {
			headerLine, _ = cr.FieldPos(0)
			if cols, err = t.header(record); err != nil {
				return nil, err
			}
			continue
		}
		l, err := t.row(record, cols)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	if cols == nil {
		return nil, &fileio.Error{File: source, Err: fmt.Errorf("%w: no header row (want %q)", ErrEmptyTopology, columnNames(t.formats()[0]))}
	}
	if len(layers) == 0 {
		return nil, &fileio.Error{File: source, Line: headerLine, Err: fmt.Errorf("%w: no layers after the header", ErrEmptyTopology)}
	}
	return layers, nil
}

// trimRecord drops the one empty field that SCALE-Sim's trailing comma leaves, and
// returns nil for a blank row.
func trimRecord(record []string) []string {
	blank := true
	for _, f := range record {
		if strings.TrimSpace(f) != "" {
			blank = false
			break
		}
	}
	if blank {
		return nil
	}
	if n := len(record); n > 1 && strings.TrimSpace(record[n-1]) == "" {
		record = record[:n-1]
	}
	return record
}

// topologyReader holds the state of one ReadTopology call.
type topologyReader struct {
	cr     *csv.Reader
	source string
	gemm   bool
}

// formats returns the column sets the file may use, the canonical one first.
func (t *topologyReader) formats() [][]topoColumn {
	if t.gemm {
		return [][]topoColumn{gemmColumns}
	}
	return [][]topoColumn{convColumns, convColumns2Strides}
}

// errAt returns the error at field i of the current record.
func (t *topologyReader) errAt(i int, field string, format string, args ...any) error {
	line, col := t.cr.FieldPos(i)
	return &fileio.Error{File: t.source, Line: line, Col: col, Key: field, Err: fmt.Errorf(format, args...)}
}

func (t *topologyReader) csvError(err error) error {
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		return &fileio.Error{File: t.source, Line: perr.Line, Col: perr.Column, Err: perr.Err}
	}
	return &fileio.Error{File: t.source, Err: err}
}

// header checks the header row and returns the columns of the rows that follow.
func (t *topologyReader) header(record []string) ([]topoColumn, error) {
	formats := t.formats()
	for _, cols := range formats {
		if headerMatches(record, cols) {
			return cols, nil
		}
	}
	// Explain the mismatch against the format the header starts like.
	want, best := formats[0], -1
	for _, cols := range formats {
		if n := leadingMatches(record, cols); n > best {
			want, best = cols, n
		}
	}
	var hint string
	if t.gemm && (headerMatches(record, convColumns) || headerMatches(record, convColumns2Strides)) {
		hint = " (this is a convolution topology, not a GEMM one)"
	} else if !t.gemm && headerMatches(record, gemmColumns) {
		hint = " (this is a GEMM topology; read it in GEMM mode)"
	}
	if len(record) != len(want) {
		return nil, t.errAt(0, "header", "want %d columns (%s), got %d%s", len(want), columnNames(want), len(record), hint)
	}
	for i, c := range want {
		if !c.matches(record[i]) {
			return nil, t.errAt(i, "header", "column %d: want %q, got %q%s", i+1, c.name, strings.TrimSpace(record[i]), hint)
		}
	}
	return nil, t.errAt(0, "header", "unrecognised header") // not reached: headerMatches accepts it
}

// row turns one data row into a layer.
func (t *topologyReader) row(record []string, cols []topoColumn) (TopologyLayer, error) {
	line, _ := t.cr.FieldPos(0)
	if len(record) != len(cols) {
		return TopologyLayer{}, t.errAt(0, "", "want %d fields (%s), got %d", len(cols), columnNames(cols), len(record))
	}
	name := strings.TrimSpace(record[0])
	if name == "" {
		return TopologyLayer{}, t.errAt(0, cols[0].name, "must not be empty")
	}
	v := make([]int, len(cols))
	for i := 1; i < len(cols); i++ {
		s := strings.TrimSpace(record[i])
		n, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil && errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(s, "-"):
			return TopologyLayer{}, t.errAt(i, cols[i].name, "must be at most %d (got %q)", maxTopologyValue, s)
		case err != nil || n <= 0:
			return TopologyLayer{}, t.errAt(i, cols[i].name, "must be a positive integer (got %q)", s)
		case n > maxTopologyValue:
			return TopologyLayer{}, t.errAt(i, cols[i].name, "must be at most %d (got %q)", maxTopologyValue, s)
		}
		v[i] = int(n)
	}

	var tl TopologyLayer
	if t.gemm {
		m, n, k := v[1], v[2], v[3]
		tl = TopologyLayer{
			Layer: Layer{Name: name, Kind: Linear, In: Shape{k, 1, 1}, Out: Shape{n, 1, 1}},
			Batch: m,
			Line:  line,
		}
	} else {
		h, w, fh, fw, c, nf, stride := v[1], v[2], v[3], v[4], v[5], v[6], v[7]
		if fh > h {
			return TopologyLayer{}, t.errAt(3, cols[3].name, "%d exceeds %s %d", fh, cols[1].name, h)
		}
		if fw > w {
			return TopologyLayer{}, t.errAt(4, cols[4].name, "%d exceeds %s %d", fw, cols[2].name, w)
		}
		if len(cols) == 9 && v[8] != stride {
			return TopologyLayer{}, t.errAt(8, cols[8].name, "%d differs from %s %d (rctsim layers have one stride)", v[8], cols[7].name, stride)
		}
		tl = TopologyLayer{
			Layer: Layer{
				Name: name, Kind: Conv2D,
				In:      Shape{c, h, w},
				Out:     Shape{nf, (h-fh)/stride + 1, (w-fw)/stride + 1},
				KernelH: fh, KernelW: fw, Stride: stride,
			},
			Batch: 1,
			Line:  line,
		}
	}
	m, n, k := tl.Layer.GEMMDims()
	if !productAtMost(maxTopologyMACs, m, n, k, int64(tl.Batch)) {
		return TopologyLayer{}, t.errAt(0, "", "layer %q is too large (%s multiply-accumulates; the simulator runs at most 2^50 in one program)", name, macsText(m, n, k, int64(tl.Batch)))
	}
	return tl, nil
}

// macsText prints the product of positive factors, or "more than 2^63" when it
// overflows.
func macsText(factors ...int64) string {
	if !productAtMost(math.MaxInt64, factors...) {
		return "more than 2^63"
	}
	p := int64(1)
	for _, f := range factors {
		p *= f
	}
	return strconv.FormatInt(p, 10)
}

// productAtMost reports whether the product of positive factors is at most limit,
// without overflowing.
func productAtMost(limit int64, factors ...int64) bool {
	p := uint64(1)
	for _, f := range factors {
		hi, lo := bits.Mul64(p, uint64(f))
		if hi != 0 || lo > uint64(limit) {
			return false
		}
		p = lo
	}
	return true
}

// ScaleSimShape is a topology row as SCALE-Sim v2 sizes it (topology_utils.py): a
// convolution's ofmap is ceil((H - F + S) / S) rows (and columns), where rctsim's is
// floor((H - F) / S) + 1; they differ when the stride does not divide H - F. M is the
// ofmap's pixels (SCALE-Sim has no batch), N the filters, K the window; a GEMM row is
// M x N x K with a one-column ofmap.
type ScaleSimShape struct {
	OfmapH, OfmapW int
	M, N, K        int64
}

// ScaleSim returns the row's shape as SCALE-Sim computes it.
func (tl TopologyLayer) ScaleSim() ScaleSimShape {
	l := &tl.Layer
	if l.Kind == Linear {
		return ScaleSimShape{OfmapH: tl.Batch, OfmapW: 1, M: int64(tl.Batch), N: int64(l.Out.C), K: int64(l.In.C)}
	}
	s := max(l.Stride, 1)
	h := (l.In.H - l.KernelH + s + s - 1) / s
	w := (l.In.W - l.KernelW + s + s - 1) / s
	return ScaleSimShape{OfmapH: h, OfmapW: w, M: int64(h) * int64(w), N: int64(l.Out.C), K: int64(l.KernelH) * int64(l.KernelW) * int64(l.In.C)}
}
