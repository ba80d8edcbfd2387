package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDRAMReplay(t *testing.T) {
	dir := t.TempDir()
	trace := filepath.Join(dir, "seq.trace")
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "0x%x READ 0\n", i*64)
	}
	os.WriteFile(trace, []byte(b.String()), 0o644)
	for _, hw := range []string{"dram/ddr4_3200.toml", "../../configs/dram/lpddr3_1600.toml", ""} {
		args := []string{"dram", "--trace", trace, "--format", "json"}
		if hw != "" {
			args = append(args, "--hw", hw)
		}
		code, out, stderr := rctsim(args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", hw, code, stderr)
		}
		var r struct {
			Requests int    `json:"requests"`
			Reads    int64  `json:"reads"`
			Cycles   uint64 `json:"cycles"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Requests != 2000 || r.Reads != 2000 || r.Cycles == 0 {
			t.Errorf("%s: %+v, %v\n%s", hw, r, err, out)
		}
	}
	bad := filepath.Join(dir, "bad.trace")
	os.WriteFile(bad, []byte("0x40 READ 0\n0x80 FETCH 3\n"), 0o644)
	code, _, stderr := rctsim("dram", "--trace", bad)
	if code != 1 || !strings.Contains(stderr, "bad.trace:2") {
		t.Errorf("bad trace: exit %d, %s", code, stderr)
	}
	// An empty trace, and one issued at the end of time, fail naming the file.
	empty := filepath.Join(dir, "empty.trace")
	os.WriteFile(empty, []byte("# nothing\n"), 0o644)
	if code, _, stderr := rctsim("dram", "--trace", empty); code != 1 || !strings.Contains(stderr, "empty.trace: no requests") {
		t.Errorf("empty trace: exit %d, %s", code, stderr)
	}
	late := filepath.Join(dir, "late.trace")
	os.WriteFile(late, []byte("0x40 READ 0\n0x80 READ 18446744073709551615\n"), 0o644)
	if code, _, stderr := rctsim("dram", "--trace", late); code != 1 || !strings.Contains(stderr, "late.trace:2") {
		t.Errorf("trace at 2^64-1: exit %d, %s", code, stderr)
	}
}
