package sweep

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/traces/fileio"
)

func TestParseShard(t *testing.T) {
	tests := []struct {
		in   string
		want Shard
		err  string
	}{
		{"0/1", Shard{0, 1}, ""},
		{"3/8", Shard{3, 8}, ""},
		{" 7 / 8 ", Shard{7, 8}, ""},
		{"8/8", Shard{}, "0..7"},
		{"-1/8", Shard{}, "0..7"},
		{"1/0", Shard{}, "at least 1"},
		{"3", Shard{}, "want i/N"},
		{"a/b", Shard{}, "want i/N"},
	}
	for _, tt := range tests {
		got, err := ParseShard(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseShard(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseShard(%q) error %v, want one mentioning %q", tt.in, err, tt.err)
		}
	}
	if s := (Shard{}); s.String() != "0/1" || !s.Contains(5, 7) || s.Len(7) != 7 {
		t.Errorf("the zero shard is not the whole sweep: %v", s)
	}
}

// TestShardPartition checks that the shards of a sweep hold every point exactly once,
// that their sizes differ by at most one, and that Len and Points agree with Contains.
func TestShardPartition(t *testing.T) {
	for _, total := range []int{0, 1, 2, 3, 7, 84, 100, 101, 336} {
		for n := 1; n <= 17; n++ {
			owners := make([]int, total)
			sizes := map[int]bool{}
			for i := range n {
				sh := Shard{i, n}
				count := 0
				for k := range total {
					if sh.Contains(k, total) {
						owners[k]++
						count++
					}
				}
				if sh.Len(total) != count {
					t.Errorf("shard %v of %d: Len %d, holds %d", sh, total, sh.Len(total), count)
				}
				sizes[count] = true
				var pts []int
				for k := range sh.Points(total) {
					pts = append(pts, k)
				}
				if len(pts) != count || !slices.IsSorted(pts) {
					t.Errorf("shard %v of %d: Points %v, want %d in order", sh, total, pts, count)
				}
				for _, k := range pts {
					if !sh.Contains(k, total) || k >= total {
						t.Errorf("shard %v of %d: Points yields %d", sh, total, k)
					}
				}
			}
			if len(sizes) > 2 {
				t.Errorf("%d shards of %d points: sizes %v differ by more than one", n, total, sizes)
			}
			for k, o := range owners {
				if o != 1 {
					t.Errorf("%d shards of %d points: point %d is in %d shards", n, total, k, o)
				}
			}
		}
	}
	// The whole sweep is one shard, in point order.
	var all []int
	for k := range (Shard{}).Points(5) {
		all = append(all, k)
	}
	if !slices.Equal(all, []int{0, 1, 2, 3, 4}) {
		t.Errorf("the zero shard's points: %v", all)
	}
	// Huge counts and sweeps do not overflow.
	if got := ShardOf(MaxPoints-1, MaxPoints, math.MaxInt); got < 0 {
		t.Errorf("ShardOf with MaxInt shards: %d", got)
	}
	if n := (Shard{math.MaxInt - 1, math.MaxInt}).Len(MaxPoints); n != 0 && n != 1 {
		t.Errorf("Len of one of MaxInt shards: %d", n)
	}
}

// TestShardsMerge runs a sweep in shards and checks that merging them gives the bytes
// of a single run, and that merge reports duplicated and missing points.
func TestShardsMerge(t *testing.T) {
	spec := mustParse(t, smallSpec)
	want, _ := reference(t, spec)
	const n = 3
	outs := make([]string, n)
	for i := range n {
		var b bytes.Buffer
		sum, err := Run(context.Background(), spec, Options{Workers: 2, Shard: Shard{i, n}, Stdout: &b})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Points != (Shard{i, n}).Len(spec.Len()) {
			t.Errorf("shard %d: %d points", i, sum.Points)
		}
		outs[i] = b.String()
	}
	inputs := func(idx ...int) []MergeInput {
		var in []MergeInput
		for _, i := range idx {
			in = append(in, MergeInput{Name: fmt.Sprintf("shard%d.csv", i), R: strings.NewReader(outs[i])})
		}
		return in
	}
	for _, spec := range []*Spec{nil, spec} {
		var got bytes.Buffer
		rep, err := Merge(&got, inputs(2, 0, 1), spec)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("merged shards differ from a single run:\n%s\nwant\n%s", got.Bytes(), want)
		}
		if !rep.Complete() || rep.Rows != 8 || len(rep.Duplicates) != 0 || rep.Unknown != 0 {
			t.Errorf("report %+v", rep)
		}
	}

	// Shard 1 missing, shard 0 twice.
	var got bytes.Buffer
	rep, err := Merge(&got, inputs(0, 2, 0), spec)
	if err != nil {
		t.Fatal(err)
	}
	missing := Shard{1, n}.Len(spec.Len())
	if rep.Complete() || len(rep.Missing) != missing || len(rep.Duplicates) != (Shard{0, n}).Len(spec.Len()) {
		t.Errorf("report: %d missing (want %d), %d duplicated", len(rep.Missing), missing, len(rep.Duplicates))
	}
	for _, m := range rep.Missing {
		if ShardOf(m.Index, spec.Len(), n) != 1 || m.Description != spec.Describe(spec.Point(m.Index)) || !isHash(m.Hash) {
			t.Errorf("missing %+v", m)
		}
	}
	for _, d := range rep.Duplicates {
		if d.Differ || len(d.Files) != 2 || d.Files[0] != "shard0.csv" || ShardOf(d.Point, spec.Len(), n) != 0 {
			t.Errorf("duplicate %+v", d)
		}
	}
	// Without the spec, merge sees the gaps below the highest point.
	rep, err = Merge(&got, inputs(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	var wantMissing, wantGaps int
	next := 0
	for k := range (Shard{0, n}).Points(spec.Len()) {
		if k > next {
			wantMissing += k - next
			wantGaps++
		}
		next = k + 1
	}
	if rep.MissingPoints != wantMissing || len(rep.Missing) != wantGaps {
		t.Errorf("without a spec: %d missing in %d gaps, want %d in %d", rep.MissingPoints, len(rep.Missing), wantMissing, wantGaps)
	}
}

// TestMergeProblems checks conflicting duplicates, torn last rows and foreign inputs.
func TestMergeProblems(t *testing.T) {
	spec := mustParse(t, smallSpec)
	full, _ := reference(t, spec)
	lines := strings.SplitAfter(string(full), "\n")
	header, row0 := lines[0], lines[1]
	changed := strings.Replace(row0, ",default,", ",other,", 1)
	var out bytes.Buffer
	rep, err := Merge(&out, []MergeInput{
		{"a.csv", strings.NewReader(header + row0)},
		{"b.csv", strings.NewReader(header + changed + strings.TrimSuffix(lines[2], "\n"))},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Duplicates) != 1 || !rep.Duplicates[0].Differ || rep.Complete() || len(rep.Partial) != 1 || rep.Partial[0] != "b.csv" {
		t.Errorf("report %+v", rep)
	}
	if out.String() != header+row0 {
		t.Errorf("merged %q", out.String())
	}
	_, err = Merge(&out, []MergeInput{{"a.csv", strings.NewReader(header + row0)}, {"c.csv", strings.NewReader("point,hash,x\n")}}, nil)
	if err == nil || !strings.Contains(err.Error(), "c.csv:1:") {
		t.Errorf("foreign header: %v", err)
	}
	other := mustParse(t, "batch = 8\n")
	_, err = Merge(&out, []MergeInput{{"a.csv", strings.NewReader(header + row0)}}, other)
	if err == nil || !strings.Contains(err.Error(), "a.csv:1:") {
		t.Errorf("another spec: %v", err)
	}
	_, err = Merge(&out, []MergeInput{{"a.csv", strings.NewReader(header + "1,zz\n")}}, nil)
	if err == nil || !strings.Contains(err.Error(), "a.csv:2:") {
		t.Errorf("bad row: %v", err)
	}
}

// TestMergeBadInputs checks that every input that is not a sweep output, or a line of
// one that is not a row, is an error naming the input, the line and (for a bad value)
// the column, and that nothing is written.
func TestMergeBadInputs(t *testing.T) {
	spec := mustParse(t, smallSpec)
	full, _ := reference(t, spec)
	lines := strings.SplitAfter(string(full), "\n")
	header, row0 := lines[0], lines[1]
	good := MergeInput{Name: "good.csv", R: strings.NewReader(header + row0)}
	tests := []struct {
		name, data string
		spec       *Spec
		want       string // the error's beginning
	}{
		{"empty file", "", nil, "bad.csv: empty file"},
		{"empty file with a spec", "", spec, "bad.csv: empty file"},
		{"a header without its newline", strings.TrimSuffix(header, "\n"), nil, "bad.csv:1: no complete header line"},
		{"binary data", "\x89PNG\r\n\x1a\n\x00\x00", nil, "bad.csv:1: not a sweep output"},
		{"a quote in the header", "point,hash,\"x\n", nil, "bad.csv:1: not a sweep output"},
		{"another CSV", "a,b,c\n1,2,3\n", nil, "bad.csv:1: not a sweep output (its first columns are not point,hash)"},
		{"sweep columns missing", "point,hash,x\n", nil, `bad.csv:1: not a sweep output: it lacks columns "model"`},
		{"a column twice", "point,hash,model,model\n", nil, `bad.csv:1: not a sweep output: column "model" appears twice`},
		{"a line too long", strings.Repeat("x", maxLineBytes+1), nil, "bad.csv:1: a line longer than"},
		{"a row too long", header + strings.Repeat("x", maxLineBytes+1) + "\n", nil, "bad.csv:2: a line longer than"},
		{"a row of other width", header + "1,2\n", nil, "bad.csv:2: not a sweep row: 2 fields"},
		{"a point number past the bound", header + renumber(row0, "2147483647"), nil, "bad.csv:2: point: point 2147483647 is outside 0..2147483646"},
		{"a point number past int64", header + renumber(row0, "99999999999999999999"), nil, `bad.csv:2: point: want a point number, got "99999999999999999999"`},
		{"a negative point", header + renumber(row0, "-1"), nil, "bad.csv:2: point: point -1 is outside"},
		{"a bad hash", header + strings.Replace(row0, row0[2:18], "XYZ", 1), nil, `bad.csv:2: hash: want 16 hex digits`},
	}
	for _, tt := range tests {
		for _, order := range []string{"first", "second"} {
			bad := MergeInput{Name: "bad.csv", R: strings.NewReader(tt.data)}
			good.R = strings.NewReader(header + row0)
			inputs := []MergeInput{bad, good}
			if order == "second" {
				inputs = []MergeInput{good, bad}
			}
			var out bytes.Buffer
			_, err := Merge(&out, inputs, tt.spec)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("%s (%s input): error %v, want one starting %q", tt.name, order, err, tt.want)
			}
			var fe *fileio.Error
			if err != nil && (!errors.As(err, &fe) || fe.File != "bad.csv") {
				t.Errorf("%s: error %T does not name the file in a *fileio.Error", tt.name, err)
			}
			if out.Len() != 0 {
				t.Errorf("%s: wrote %d bytes", tt.name, out.Len())
			}
		}
	}
	// A shard with no points is its header alone: that is a sweep output.
	var out bytes.Buffer
	if _, err := Merge(&out, []MergeInput{{"empty-shard.csv", strings.NewReader(header)}, {"good.csv", strings.NewReader(header + row0)}}, nil); err != nil {
		t.Errorf("a header-only shard: %v", err)
	}
}

// renumber replaces the point number of a row.
func renumber(row, point string) string {
	_, rest, _ := strings.Cut(row, ",")
	return point + "," + rest
}

// TestMergeMissingBounded checks that missing points cost memory in proportion to the
// rows read, not to the point numbers they carry: a row numbered 2^31-2 without a spec
// is one gap (it used to allocate an entry for every number below it), and a spec's
// missing points are listed up to MaxMissing and counted beyond.
func TestMergeMissingBounded(t *testing.T) {
	spec := mustParse(t, smallSpec)
	full, _ := reference(t, spec)
	lines := strings.SplitAfter(string(full), "\n")
	header, row0, row1 := lines[0], lines[1], lines[2]
	high := MaxPoints - 1
	in := []MergeInput{{"a.csv", strings.NewReader(header + row1 + renumber(row0, strconv.Itoa(high)))}}
	var out bytes.Buffer
	rep, err := Merge(&out, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Missing{{Index: 0, Count: 1}, {Index: 2, Count: high - 2}}
	if rep.MissingPoints != high-1 || !slices.Equal(rep.Missing, want) || rep.Complete() {
		t.Errorf("missing %d points in %+v, want %d in %+v", rep.MissingPoints, rep.Missing, high-1, want)
	}
	// Without the spec the shards of missing points cannot be named (the assignment
	// depends on the number of points): --shards is ignored.
	var gaps strings.Builder
	rep.WriteSummary(&gaps, 1, 4)
	for _, s := range []string{"missing: 2147483645 points", "  point 0\n", "  points 2..2147483645 (2147483644 points)\n"} {
		if !strings.Contains(gaps.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, gaps.String())
		}
	}
	var sum strings.Builder

	// A spec of more points than MaxMissing, of which no input has any.
	batches := make([]string, 700)
	for i := range batches {
		batches[i] = strconv.Itoa(i + 1)
	}
	big := mustParse(t, "methods = [\"rct\", \"qat\", \"fp32\"]\nbatch = ["+strings.Join(batches, ", ")+"]\n[axes]\n\"mac_array.rows\" = [8, 16, 32, 64, 128]\n")
	n := big.Len()
	if n <= MaxMissing {
		t.Fatalf("the spec has %d points, want more than %d", n, MaxMissing)
	}
	rep, err = Merge(&out, []MergeInput{{"empty-shard.csv", bytes.NewReader(csvLine(big.columns))}}, big)
	if err != nil {
		t.Fatal(err)
	}
	if rep.MissingPoints != n || len(rep.Missing) != MaxMissing || rep.Missing[MaxMissing-1].Index != MaxMissing-1 {
		t.Errorf("%d missing, %d listed; want %d and %d", rep.MissingPoints, len(rep.Missing), n, MaxMissing)
	}
	rep.WriteSummary(&sum, 1, 0)
	if !strings.Contains(sum.String(), fmt.Sprintf("missing: %d points\n", n)) || !strings.Contains(sum.String(), fmt.Sprintf("... and %d more\n", n-maxListed)) {
		t.Errorf("summary:\n%s", sum.String())
	}
}
