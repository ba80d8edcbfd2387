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
	// Missing lists points no input has. With a spec it is complete and every entry is
	// named; without one it lists the gaps in the point numbers up to the highest seen
	// (points after it cannot be known).
	Missing []Missing
	// Expected is the spec's number of points (0 without a spec).
	Expected int
	// Unknown counts rows whose hash is no point of the spec: rows of another spec or
	// of an earlier version of this one.
	Unknown int
}

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

// Missing is a point no input has.
type Missing struct {
	Index int
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
	return len(r.Missing) == 0
}

type mergeRow struct {
	point int
	hash  string
	line  []byte
	file  string
}

// Merge joins sweep CSV outputs into one, keyed by point hash: it writes the header and
// every distinct point once, sorted by point number (so merging the shards of a sweep
// gives the bytes a single run would have written), and reports duplicated and missing
// points. Given the spec the outputs were made from, it checks their columns against
// it and names the missing points; spec may be nil. The rows are held in memory.
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
	hashCol := -1
	ncols := 0
	for _, in := range inputs {
		br := bufio.NewReaderSize(in.R, 1<<16)
		for n := 1; ; n++ {
			line, err := br.ReadBytes('\n')
			if errors.Is(err, io.EOF) {
				if len(line) > 0 {
					rep.Partial = append(rep.Partial, in.Name)
				}
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", in.Name, err)
			}
			if n == 1 {
				if header == nil {
					header = line
					rec, err := csv.NewReader(bytes.NewReader(line)).Read()
					if err != nil {
						return nil, fmt.Errorf("%s:1: %w", in.Name, err)
					}
					ncols = len(rec)
					if ncols < 2 || rec[0] != ColPoint || rec[1] != ColHash {
						return nil, fmt.Errorf("%s:1: not a sweep output (its first columns are not %s,%s)", in.Name, ColPoint, ColHash)
					}
				} else if !bytes.Equal(line, header) {
					what := "the first input's"
					if spec != nil {
						what = "those of spec " + spec.File
					}
					return nil, fmt.Errorf("%s:1: its columns differ from %s: %s", in.Name, what, headerDiff(line, header))
				}
				if ncols == 0 {
					ncols = len(spec.columns)
				}
				hashCol = 1
				continue
			}
			rec, err := csv.NewReader(bytes.NewReader(line)).Read()
			if err == nil && len(rec) != ncols {
				err = fmt.Errorf("%d fields, want %d", len(rec), ncols)
			}
			var point int
			if err == nil {
				if point, err = strconv.Atoi(rec[0]); err == nil && point < 0 {
					err = fmt.Errorf("negative point %d", point)
				}
			}
			if err == nil && !isHash(rec[hashCol]) {
				err = fmt.Errorf("bad hash %q", rec[hashCol])
			}
			if err != nil {
				return nil, fmt.Errorf("%s:%d: not a sweep row: %v", in.Name, n, err)
			}
			h := rec[hashCol]
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
	if header == nil {
		return nil, errors.New("sweep: the inputs are empty")
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
		known := map[string]bool{}
		for k := range spec.Len() {
			pt := spec.Point(k)
			h, _ := spec.Identify(pt)
			if _, ok := byHash[h]; ok {
				known[h] = true
				continue
			}
			rep.Missing = append(rep.Missing, Missing{Index: k, Hash: h, Description: spec.Describe(pt)})
		}
		rep.Unknown = len(rows) - len(known)
		return rep, nil
	}
	next := 0
	for _, r := range rows {
		for ; next < r.point; next++ {
			rep.Missing = append(rep.Missing, Missing{Index: next})
		}
		next = max(next, r.point+1)
	}
	return rep, nil
}

// maxListed is how many missing or duplicated points WriteSummary names before summing
// up.
const maxListed = 20

// WriteSummary prints what Merge found for a person: the counts, the partial inputs,
// and the duplicated and missing points (the first few of each). inputs is the number
// of files merged; shards, when positive, is the N of the sweep's --shard i/N, to name
// the shard that should have run each missing point.
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
	if n := len(rep.Missing); n > 0 {
		if rep.Expected > 0 {
			fmt.Fprintf(w, "missing: %d points\n", n)
		} else {
			fmt.Fprintf(w, "missing: %d points below the highest point number (give --spec to check the rest and name them)\n", n)
		}
		for i, m := range rep.Missing {
			if i == maxListed {
				fmt.Fprintf(w, "  ... and %d more\n", n-maxListed)
				break
			}
			shard := ""
			if shards > 0 {
				shard = fmt.Sprintf(" (shard %s)", Shard{Index: m.Index % shards, Count: shards})
			}
			desc := ""
			if m.Description != "" {
				desc = fmt.Sprintf(": %s (hash %s)", m.Description, m.Hash)
			}
			fmt.Fprintf(w, "  point %d%s%s\n", m.Index, shard, desc)
		}
	}
}
