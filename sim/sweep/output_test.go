package sweep

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// snapshot records the bytes of files (nil: the file does not exist) to check that a
// failed run left them as they were.
func snapshot(paths ...string) map[string][]byte {
	m := map[string][]byte{}
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			m[p] = b
		} else {
			m[p] = nil
		}
	}
	return m
}

// TestBadOutputTouchesNone checks that a run with one output that cannot be used fails
// before it creates, cuts, starts over or writes a header to any other: finished rows
// survive --fresh with a bad --jsonl, and no new file is left behind.
func TestBadOutputTouchesNone(t *testing.T) {
	spec := mustParse(t, smallSpec)
	wantCSV, wantJSON := reference(t, spec)
	tests := []struct {
		name string
		// setup makes the outputs in dir and returns the Options' CSV and JSONL.
		setup func(t *testing.T, dir string) (csvPath, jsonl string)
		msg   string
		// resumeOnly: the output is refused for what it holds, which Fresh overrides
		// (its error says so).
		resumeOnly bool
	}{
		{"jsonl is a folder", func(t *testing.T, dir string) (string, string) {
			return existing(t, dir, "out.csv", wantCSV), mkdir(t, dir, "rows")
		}, "rows: is a folder", false},
		{"csv is a folder, jsonl has rows", func(t *testing.T, dir string) (string, string) {
			return mkdir(t, dir, "rows.csv"), existing(t, dir, "out.jsonl", wantJSON)
		}, "rows.csv: is a folder", false},
		{"new csv, jsonl is a folder", func(t *testing.T, dir string) (string, string) {
			return filepath.Join(dir, "new", "out.csv"), mkdir(t, dir, "rows")
		}, "is a folder", false},
		{"jsonl under a file", func(t *testing.T, dir string) (string, string) {
			return existing(t, dir, "out.csv", wantCSV), filepath.Join(existing(t, dir, "plain", []byte("x\n")), "out.jsonl")
		}, "is not a folder", false},
		{"jsonl of something else", func(t *testing.T, dir string) (string, string) {
			return existing(t, dir, "out.csv", wantCSV[:len(wantCSV)-7]), existing(t, dir, "out.jsonl", []byte("hello\n"))
		}, "out.jsonl:1: not a row", true},
		{"csv of another sweep", func(t *testing.T, dir string) (string, string) {
			return existing(t, dir, "out.csv", []byte("point,hash,x\n")), filepath.Join(dir, "new.jsonl")
		}, "its columns are not this sweep's", true},
		{"csv is one foreign line", func(t *testing.T, dir string) (string, string) {
			return existing(t, dir, "out.csv", []byte("not a sweep")), filepath.Join(dir, "new.jsonl")
		}, "out.csv:1: not an output of this sweep", true},
		{"jsonl is one foreign line", func(t *testing.T, dir string) (string, string) {
			return existing(t, dir, "out.csv", wantCSV), existing(t, dir, "out.jsonl", []byte("[1, 2"))
		}, "out.jsonl:1: not an output of this sweep", true},
		{"jsonl of one long line", func(t *testing.T, dir string) (string, string) {
			return existing(t, dir, "out.csv", wantCSV), existing(t, dir, "out.jsonl", bytes.Repeat([]byte("{"), maxLineBytes+1))
		}, "longer than", true},
		{"one file for both", func(t *testing.T, dir string) (string, string) {
			p := existing(t, dir, "out.csv", wantCSV)
			return p, filepath.Join(dir, ".", "out.csv")
		}, "same file", false},
	}
	for _, tt := range tests {
		for _, fresh := range []bool{false, true} {
			if fresh && tt.resumeOnly {
				continue
			}
			dir := t.TempDir()
			csvPath, jsonl := tt.setup(t, dir)
			before := snapshot(csvPath, jsonl)
			_, err := Run(context.Background(), spec, Options{Workers: 1, CSV: csvPath, JSONL: jsonl, Fresh: fresh})
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("%s (fresh %v): error %v, want one mentioning %q", tt.name, fresh, err, tt.msg)
			}
			for p, b := range snapshot(csvPath, jsonl) {
				if !bytes.Equal(b, before[p]) || (b == nil) != (before[p] == nil) {
					t.Errorf("%s (fresh %v): the failed run changed %s:\n%.200q\nwas\n%.200q", tt.name, fresh, p, b, before[p])
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
				t.Errorf("%s (fresh %v): the failed run made the folder of a new output", tt.name, fresh)
			}
		}
	}
	// The stream gets no header either.
	var stdout bytes.Buffer
	dir := t.TempDir()
	if _, err := Run(context.Background(), spec, Options{Stdout: &stdout, JSONL: mkdir(t, dir, "rows")}); err == nil || stdout.Len() != 0 {
		t.Errorf("stdout with a bad JSONL: %v, wrote %q", err, stdout.String())
	}
}

func existing(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mkdir(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOutputThroughSymlink checks that an output named by a symbolic link is written
// and resumed through it, and stays a link; a dangling link gets its file created.
func TestOutputThroughSymlink(t *testing.T) {
	spec := mustParse(t, smallSpec)
	wantCSV, _ := reference(t, spec)
	dir := t.TempDir()
	target := filepath.Join(dir, "results", "real.csv")
	link := filepath.Join(dir, "out.csv")
	if err := os.Symlink(filepath.Join("results", "real.csv"), link); err != nil {
		t.Skip(err)
	}
	half := wantCSV[:bytes.IndexByte(wantCSV, '\n')+1+20] // the header and a torn row
	for _, step := range []struct {
		name    string
		fresh   bool
		skipped int
	}{{"dangling", false, 0}, {"resume", false, spec.Len()}, {"fresh", true, 0}, {"cut", false, 0}} {
		if step.name == "cut" {
			if err := os.WriteFile(target, half, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		sum, err := Run(context.Background(), spec, Options{Workers: 2, CSV: link, Fresh: step.fresh})
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if sum.Skipped != step.skipped {
			t.Errorf("%s: %d skipped, want %d", step.name, sum.Skipped, step.skipped)
		}
		if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("%s: the link was replaced: %v %v", step.name, st.Mode(), err)
		}
		if got := readFile(t, target); !bytes.Equal(got, wantCSV) {
			t.Errorf("%s: the link's target holds\n%s", step.name, got)
		}
	}
}

// TestOutputDevice checks that /dev/null as an output stays a device, and that a
// device is written, not resumed from: every point the other outputs lack is simulated
// for it, and Fresh is harmless.
func TestOutputDevice(t *testing.T) {
	before, err := os.Lstat(os.DevNull)
	if err != nil || before.Mode()&os.ModeDevice == 0 {
		t.Skipf("no device at %s", os.DevNull)
	}
	spec := mustParse(t, smallSpec)
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "out.jsonl")
	for i, fresh := range []bool{false, false, true} {
		sum, err := Run(context.Background(), spec, Options{Workers: 2, CSV: os.DevNull, JSONL: jsonl, Fresh: fresh})
		if err != nil {
			t.Fatal(err)
		}
		// The JSON Lines file is resumed; the device always wants every row.
		if sum.Simulated != spec.Len() || sum.Skipped != 0 {
			t.Errorf("run %d: %+v", i, sum)
		}
	}
	if after, err := os.Lstat(os.DevNull); err != nil || after.Mode() != before.Mode() {
		t.Errorf("%s changed: %v -> %v (%v)", os.DevNull, before.Mode(), after.Mode(), err)
	}
	_, wantJSON := reference(t, spec)
	if got := readFile(t, jsonl); !bytes.Equal(got, wantJSON) {
		t.Error("the JSON Lines next to /dev/null differ from a plain run's")
	}
}
