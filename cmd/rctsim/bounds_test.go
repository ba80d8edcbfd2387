package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileSizesAndValues runs the commands on inputs whose sizes or values used to
// hang, exhaust memory or be silently replaced: each fails at once with the exit code
// of its kind (2 for a bad flag) and a message naming what is wrong and where.
func TestHostileSizesAndValues(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gemm := write("big.csv", "Layer Name, M, N, K,\nbig, 1000000, 1000000, 1000000,\n")
	deep := write("deep.toml", "name = \"deep\"\nx = "+strings.Repeat("[", 20_000)+strings.Repeat("]", 20_000)+"\n")
	// A program dump whose first load moves 2^50 rows of 2^14 bytes: 0 bytes once wrapped.
	var prog string
	if code, _, stderr := rctsim("sim", "--batch", "2", "--dump", filepath.Join(dir, "ok.prog")); code != 0 {
		t.Fatalf("dump: exit %d: %s", code, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "ok.prog")); err != nil {
		t.Fatal(err)
	} else {
		lines := strings.Split(string(b), "\n")
		for i, l := range lines {
			if strings.Contains(l, " load ") {
				f := strings.Fields(l)
				for j := range f {
					switch {
					case strings.HasPrefix(f[j], "rows="):
						f[j] = "rows=1125899906842624"
					case strings.HasPrefix(f[j], "rowbytes="):
						f[j] = "rowbytes=16384"
					case strings.HasPrefix(f[j], "a="):
						f[j] = "a=0:0:0:weights:8"
					}
				}
				lines[i] = strings.Join(f, " ")
				prog = write("wrap.prog", strings.Join(lines, "\n"))
				break
			}
		}
	}
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"sim", "--batch", "1000000000"}, 1, []string{"layer conv1", "program too large", "batch 1000000000"}},
		{[]string{"sim", "--batch", "4611686018427387904"}, 1, []string{"tensor input needs more than 2^63 bytes"}},
		{[]string{"sim", "--topology", gemm, "--gemm"}, 1, []string{gemm + ":2", `layer "big" is too large`, "2^50"}},
		{[]string{"sim", "--hw", deep}, 1, []string{deep + ":2:", "nested deeper than 16 levels"}},
		{[]string{"sim", "--program", prog}, 1, []string{"wrap.prog:", "rows:", "one transfer moves at most"}},
		{[]string{"train", "--bits", "0", "-o", filepath.Join(dir, "run")}, 2, []string{"--bits: bitwidth 0 must be in 2..32"}},
		{[]string{"train", "--method", "qat", "--bits", "0", "-o", filepath.Join(dir, "run")}, 2, []string{"--bits"}},
		{[]string{"train", "--lr", "NaN", "-o", filepath.Join(dir, "run")}, 2, []string{"--lr: learning rate NaN"}},
		{[]string{"train", "--t-min", "-Inf", "-o", filepath.Join(dir, "run")}, 2, []string{"--t-min"}},
		{[]string{"compare", "--lr", "Inf", "-o", filepath.Join(dir, "cmp")}, 2, []string{"--lr: learning rate +Inf"}},
	}
	for _, tt := range tests {
		code, _, stderr := rctsim(tt.args...)
		if code != tt.code {
			t.Errorf("rctsim %.80q: exit %d, want %d: %s", tt.args, code, tt.code, stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("rctsim %.80q: stderr %.300q does not say %q", tt.args, stderr, w)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); !os.IsNotExist(err) {
		t.Errorf("a refused train created its run folder")
	}
}
