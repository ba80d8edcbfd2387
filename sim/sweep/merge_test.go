package sweep

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
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
	if s := (Shard{}); s.String() != "0/1" || !s.Contains(5) || s.Len(7) != 7 {
		t.Errorf("the zero shard is not the whole sweep: %v", s)
	}
}

// TestShardPartition checks that the shards of a sweep hold every point exactly once,
// and that Len and At agree with Contains.
func TestShardPartition(t *testing.T) {
	for _, total := range []int{0, 1, 7, 100, 101} {
		for n := 1; n <= 9; n++ {
			owners := make([]int, total)
			for i := range n {
				sh := Shard{i, n}
				count := 0
				for k := range total {
					if sh.Contains(k) {
						owners[k]++
						count++
					}
				}
				if sh.Len(total) != count {
					t.Errorf("shard %v of %d: Len %d, holds %d", sh, total, sh.Len(total), count)
				}
				for j := range sh.Len(total) {
					if k := sh.At(j); !sh.Contains(k) || k >= total {
						t.Errorf("shard %v: At(%d) = %d", sh, j, k)
					}
				}
			}
			for k, o := range owners {
				if o != 1 {
					t.Errorf("%d shards of %d points: point %d is in %d shards", n, total, k, o)
				}
			}
		}
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
		if m.Index%n != 1 || m.Description != spec.Describe(spec.Point(m.Index)) || !isHash(m.Hash) {
			t.Errorf("missing %+v", m)
		}
	}
	for _, d := range rep.Duplicates {
		if d.Differ || len(d.Files) != 2 || d.Files[0] != "shard0.csv" || d.Point%n != 0 {
			t.Errorf("duplicate %+v", d)
		}
	}
	// Without the spec, merge sees the gaps below the highest point.
	rep, err = Merge(&got, inputs(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if hi := (spec.Len() - 1) / n * n; len(rep.Missing) != hi+1-(hi/n+1) {
		t.Errorf("without a spec: %d missing", len(rep.Missing))
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
