package sweep

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/traces/fileio"
)

// MergeInput is one CSV output to merge (a shard's, or an earlier merge's).
type MergeInput struct {
	Name string
	R    io.Reader
}

// MergeReport is what Merge found.
type MergeReport struct {
	// Rows is the number of distinct points written.
	Rows int
	// Duplicates lists the points more than one row carried (by hash); the first row
	// in input order was kept.
	Duplicates []Duplicate
	// Partial names the inputs whose last line was torn (no final newline, as a killed
	// run leaves it); that line was ignored.
	Partial []string
	// Missing lists the points no input has, in order. With a spec each entry is one
	// point, named, and the list stops at MaxMissing entries (MissingPoints counts
	// them all); without one each entry is a gap in the point numbers below the
	// highest seen (points after it cannot be known), a run of Count points.
	Missing []Missing
	// MissingPoints is the number of points missing, listed or not.
	MissingPoints int
	// Expected is the spec's number of points (0 without a spec).
	Expected int
	// Unknown counts rows whose hash is no point of the spec: rows of another spec or
	// of an earlier version of this one.
	Unknown int
}

// MaxMissing bounds the missing points a MergeReport names: a spec has up to
// MaxPoints points, and a list of every one of them would not fit in memory.
const MaxMissing = 10000

// Duplicate is a point that several rows carry.
type Duplicate struct {
	Hash  string
	Point int
	// Files names the inputs of every row, in input order (an input can repeat).
	Files []string
	// Differ is true when the rows are not identical: the simulator changed between
	// the runs, or the outputs came from different specs.
	Differ bool
}

// Missing is a point no input has, or (without a spec) a run of them.
type Missing struct {
	Index int
	// Count is the number of consecutive missing points from Index: 1 with a spec.
	Count int
	// Hash and Description are set when Merge was given the spec.
	Hash, Description string
}

// Complete reports whether the merge has every point (as far as it can tell) and no
// conflicting duplicates.
func (r *MergeReport) Complete() bool {
	for _, d := range r.Duplicates {
		if d.Differ {
			return false
		}
	}
	return r.MissingPoints == 0
}

type mergeRow struct {
	point int
	hash  string
	line  []byte
	file  string
}

// sweepColumns are the columns every sweep output has, whatever its spec and rctsim
// version (outputs from before failure_kind lack that one): an input without them is
// not a sweep output.
var sweepColumns = []string{ColPoint, ColHash, ColModel, ColMeth, ColPlan, ColBatch, ColSteps, ColError}

// Merge joins sweep CSV outputs into one, keyed by point hash: it writes the header and
// every distinct point once, sorted by point number (so merging the shards of a sweep
// gives the bytes a single run would have written), and reports duplicated and missing
// points. Given the spec the outputs were made from, it checks their columns against
// it and names the missing points; spec may be nil. The rows are held in memory.
//
// Every input must be a sweep output: a header line (and any number of rows, a shard
// may have none). An empty input, one whose header is not a sweep's (or not the
// others'), and a line that is not a row of it are errors naming the input and line
// (a *fileio.Error), and nothing is written.
func Merge(w io.Writer, inputs []MergeInput, spec *Spec) (*MergeReport, error) {
	if len(inputs) == 0 {
		return nil, errors.New("sweep: nothing to merge")
	}
	var header []byte
	if spec != nil {
		header = csvLine(spec.columns)
	}
	rep := &MergeReport{}
	var rows []mergeRow
	byHash := map[string]int{} // hash -> index in rows
	dups := map[string]int{}   // hash -> index in rep.Duplicates
	ncols := 0
	if spec != nil {
		ncols = len(spec.columns)
	}
	for _, in := range inputs {
		bad := func(line int, key, format string, args ...any) error {
			return &fileio.Error{File: in.Name, Line: line, Key: key, Err: fmt.Errorf(format, args...)}
		}
		br := bufio.NewReaderSize(in.R, 1<<16)
		for n := 1; ; n++ {
			line, err := readLine(br)
			if errors.Is(err, io.EOF) {
				switch {
				case n == 1 && len(line) == 0:
					return nil, bad(0, "", "empty file: not a sweep output (a sweep writes its header first)")
				case n == 1:
					return nil, bad(1, "", "no complete header line: not a sweep output")
				case len(line) > 0:
					rep.Partial = append(rep.Partial, in.Name)
				}
				break
			}
			if errors.Is(err, errLongLine) {
				return nil, bad(n, "", "%v: not a sweep output", err)
			}
			if err != nil {
				return nil, &fileio.Error{File: in.Name, Err: err}
			}
			if n == 1 {
				cols, err := sweepHeader(line)
				switch {
				case err != nil:
					return nil, bad(1, "", "%v", err)
				case header == nil:
					header, ncols = line, cols
				case !bytes.Equal(line, header):
					what := "the first input's"
					if spec != nil {
						what = "those of spec " + spec.File
					}
					return nil, bad(1, "", "its columns differ from %s: %s", what, headerDiff(line, header))
				}
				continue
			}
			point, h, err := mergeRowKey(line, ncols)
			if err != nil {
				var fe *fileio.Error
				if errors.As(err, &fe) {
					fe.File, fe.Line = in.Name, n
					return nil, fe
				}
				return nil, bad(n, "", "not a sweep row: %v", err)
			}
			if i, seen := byHash[h]; seen {
				d, ok := dups[h]
				if !ok {
					d = len(rep.Duplicates)
					dups[h] = d
					rep.Duplicates = append(rep.Duplicates, Duplicate{Hash: h, Point: rows[i].point, Files: []string{rows[i].file}})
				}
				dd := &rep.Duplicates[d]
				dd.Files = append(dd.Files, in.Name)
				dd.Differ = dd.Differ || !bytes.Equal(line, rows[i].line)
				continue
			}
			byHash[h] = len(rows)
			rows = append(rows, mergeRow{point: point, hash: h, line: line, file: in.Name})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].point != rows[j].point {
			return rows[i].point < rows[j].point
		}
		return rows[i].hash < rows[j].hash
	})
	bw := bufio.NewWriter(w)
	bw.Write(header)
	for _, r := range rows {
		bw.Write(r.line)
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	rep.Rows = len(rows)
	if spec != nil {
		rep.Expected = spec.Len()
		known := 0
		// Consecutive points share their hardware: resolve each configuration once.
		wk := &worker{spec: spec}
		for k := range spec.Len() {
			pt := spec.Point(k)
			h := spec.pointHash(wk.hardware(pt.Base, pt.Sets).res, pt)
			if _, ok := byHash[h]; ok {
				known++
				continue
			}
			rep.MissingPoints++
			if len(rep.Missing) < MaxMissing {
				rep.Missing = append(rep.Missing, Missing{Index: k, Count: 1, Hash: h, Description: spec.Describe(pt)})
			}
		}
		rep.Unknown = len(rows) - known
		return rep, nil
	}
	// Without a spec only the gaps in the numbering show: one entry per gap, so the
	// list grows with the rows read, not with the point numbers they carry.
	next := 0
	for _, r := range rows {
		if r.point > next {
			rep.Missing = append(rep.Missing, Missing{Index: next, Count: r.point - next})
			rep.MissingPoints += r.point - next
		}
		next = max(next, r.point+1)
	}
	return rep, nil
}

// sweepHeader checks that a header line is a sweep output's and returns its number of
// columns.
func sweepHeader(line []byte) (int, error) {
	rec, err := csv.NewReader(bytes.NewReader(line)).Read()
	if err != nil {
		return 0, fmt.Errorf("not a sweep output: %v", err)
	}
	if len(rec) < 2 || rec[0] != ColPoint || rec[1] != ColHash {
		return 0, fmt.Errorf("not a sweep output (its first columns are not %s,%s)", ColPoint, ColHash)
	}
	seen := map[string]bool{}
	for _, c := range rec {
		if seen[c] {
			return 0, fmt.Errorf("not a sweep output: column %q appears twice", c)
		}
		seen[c] = true
	}
	if missing := notIn(sweepColumns, rec); len(missing) > 0 {
		return 0, fmt.Errorf("not a sweep output: it lacks %s", columnList(missing))
	}
	return len(rec), nil
}

// mergeRowKey reads the point number and hash of a row with ncols fields. A bad point
// number is a *fileio.Error with the column as its key (the caller adds the position).
func mergeRowKey(line []byte, ncols int) (point int, hash string, err error) {
	rec, err := csv.NewReader(bytes.NewReader(line)).Read()
	if err != nil {
		return 0, "", err
	}
	if len(rec) != ncols {
		return 0, "", fmt.Errorf("%d fields, want %d", len(rec), ncols)
	}
	point, err = strconv.Atoi(rec[0])
	switch {
	case err != nil:
		return 0, "", &fileio.Error{Key: ColPoint, Err: fmt.Errorf("want a point number, got %q", rec[0])}
	case point < 0 || point >= MaxPoints:
		return 0, "", &fileio.Error{Key: ColPoint, Err: fmt.Errorf("point %d is outside 0..%d", point, MaxPoints-1)}
	}
	if !isHash(rec[1]) {
		return 0, "", &fileio.Error{Key: ColHash, Err: fmt.Errorf("want 16 hex digits, got %q", rec[1])}
	}
	return point, rec[1], nil
}

// maxListed is how many missing or duplicated points WriteSummary names before summing
// up.
const maxListed = 20

// WriteSummary prints what Merge found for a person: the counts, the partial inputs,
// and the duplicated and missing points (the first few of each). inputs is the number
// of files merged; shards, when positive, is the N of the sweep's --shard i/N, to name
// the shard that should have run each missing point (ShardOf: only when Merge was
// given the spec, whose number of points the assignment depends on).
func (rep *MergeReport) WriteSummary(w io.Writer, inputs, shards int) {
	fmt.Fprintf(w, "merged %d files: %d points", inputs, rep.Rows)
	if rep.Expected > 0 {
		fmt.Fprintf(w, " of %d", rep.Expected)
	}
	fmt.Fprintln(w)
	for _, name := range rep.Partial {
		fmt.Fprintf(w, "%s: ignored a partial last row (an interrupted run; rerun its shard to finish it)\n", name)
	}
	if n := len(rep.Duplicates); n > 0 {
		fmt.Fprintf(w, "duplicated: %d points appear in more than one row (the first was kept)\n", n)
		for i, d := range rep.Duplicates {
			if i == maxListed {
				fmt.Fprintf(w, "  ... and %d more\n", n-maxListed)
				break
			}
			note := ""
			if d.Differ {
				note = " (rows DIFFER)"
			}
			fmt.Fprintf(w, "  point %d (hash %s) in %s%s\n", d.Point, d.Hash, strings.Join(d.Files, ", "), note)
		}
	}
	if rep.Unknown > 0 {
		fmt.Fprintf(w, "%d rows are not points of the spec (another spec, or an earlier version of it)\n", rep.Unknown)
	}
	if n := rep.MissingPoints; n > 0 {
		if rep.Expected > 0 {
			fmt.Fprintf(w, "missing: %d points\n", n)
		} else {
			fmt.Fprintf(w, "missing: %d points below the highest point number (give --spec to check the rest and name them)\n", n)
		}
		listed := 0
		for i, m := range rep.Missing {
			if i == maxListed {
				break
			}
			listed += max(m.Count, 1)
			if m.Count > 1 {
				// A gap in the numbering (no spec): one line, whatever its length.
				fmt.Fprintf(w, "  points %d..%d (%d points)\n", m.Index, m.Index+m.Count-1, m.Count)
				continue
			}
			shard := ""
			if shards > 0 && rep.Expected > 0 {
				shard = fmt.Sprintf(" (shard %s)", Shard{Index: ShardOf(m.Index, rep.Expected, shards), Count: shards})
			}
			desc := ""
			if m.Description != "" {
				desc = fmt.Sprintf(": %s (hash %s)", m.Description, m.Hash)
			}
			fmt.Fprintf(w, "  point %d%s%s\n", m.Index, shard, desc)
		}
		if listed < n {
			fmt.Fprintf(w, "  ... and %d more\n", n-listed)
		}
	}
}
