package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagDoesNotApply: a flag the chosen mode does not use is a usage error naming
// the flag, never silently ignored.
func TestFlagDoesNotApply(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"sim", "--topology", "lenet5", "--trace", filepath.Join(dir, "x.json")},
		{"sim", "--topology", "lenet5", "--format", "json"},
		{"sim", "--topology", "lenet5", "--ledger"},
		{"sim", "--topology", "lenet5", "--gemm"},
		{"sim", "--topology", "../../models/testdata/lenet_conv.csv", "--forward"},
		{"sim", "--topology", "../../models/testdata/lenet_conv.csv", "--dump", filepath.Join(dir, "x.prog")},
		{"sim", "--program", "x.prog", "--model", "mlp"},
		{"sim", "--forward"},
		{"sweep", "--check", "--workers", "2", "lenet5_array_sram"},
	} {
		code, _, stderr := rctsim(args...)
		flag := ""
		for _, a := range args[1:] {
			if strings.HasPrefix(a, "-") && a != "--topology" && a != "--program" && a != "--check" {
				flag = strings.TrimLeft(a, "-")
			}
		}
		if code != 2 || !strings.Contains(stderr, "-"+flag+" does not apply") {
			t.Errorf("rctsim %v: exit %d, %q; want exit 2 naming -%s", args, code, stderr, flag)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused command wrote %d files", len(entries))
	}
}

// TestDeprecatedSpellings: the old flags still work for one release, with a line on
// stderr naming the new one.
func TestDeprecatedSpellings(t *testing.T) {
	dir := t.TempDir()
	trace := filepath.Join(dir, "t.trc")
	if err := os.WriteFile(trace, []byte("0x0 READ 0\n0x40 WRITE 10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		note string
	}{
		{[]string{"dram", "--trace", trace}, "-trace is deprecated"},
		{[]string{"train", "--out", filepath.Join(dir, "r"), "--model", "mlp", "--method", "sgd"}, "-out is deprecated"},
	} {
		_, _, stderr := rctsim(c.args...)
		if !strings.Contains(stderr, c.note) || !strings.Contains(stderr, "use -") {
			t.Errorf("rctsim %v: stderr %q, want %q", c.args, stderr, c.note)
		}
	}
	code, out, _ := rctsim("dram", trace)
	_, old, _ := rctsim("dram", "--trace", trace)
	if code != 0 || out != old || out == "" {
		t.Errorf("the positional trace and --trace differ (exit %d):\n%s\n%s", code, out, old)
	}
}

// TestHWByName: --hw takes an embedded profile's name as well as a file, and an
// unknown name lists the embedded ones.
func TestHWByName(t *testing.T) {
	code, byName, stderr := rctsim("sim", "--hw", "edge_tpu", "--batch", "4", "--format", "csv")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, byPath, _ := rctsim("sim", "--hw", "../../configs/edge_tpu.toml", "--batch", "4", "--format", "csv")
	if byName != byPath {
		t.Errorf("by name and by path differ:\n%s\n%s", byName, byPath)
	}
	code, _, stderr = rctsim("sim", "--hw", "edge_tpuu")
	if code != 1 || !strings.Contains(stderr, "nor an embedded profile") || !strings.Contains(stderr, "edge_tpu") {
		t.Errorf("unknown profile: exit %d, %s", code, stderr)
	}
	code, _, stderr = rctsim("dram", "--hw", "dram/lpddr3_1600", "--in", filepath.Join(t.TempDir(), "none.trc"))
	if code != 1 || !strings.Contains(stderr, "none.trc") {
		t.Errorf("dram by name: exit %d, %s", code, stderr)
	}
}

func TestHelpDescribesGrammar(t *testing.T) {
	code, out, _ := rctsim("help")
	if code != 0 || !strings.Contains(out, "-o PATH") || !strings.Contains(out, "--formats") || !strings.Contains(out, "deprecation") {
		t.Errorf("help:\n%s", out)
	}
}
