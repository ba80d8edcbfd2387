package configs_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
)

// TestProfiles decodes every embedded profile strictly and checks the properties the
// rest of rctsim relies on.
func TestProfiles(t *testing.T) {
	files, err := fs.Glob(configs.FS, "*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 7 {
		t.Fatalf("want at least 7 profiles, have %v", files)
	}
	split := 0
	for _, f := range files {
		p, err := hw.LoadFS(configs.FS, f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if p.Name != strings.TrimSuffix(f, ".toml") {
			t.Errorf("%s: name %q differs from the file name", f, p.Name)
		}
		if len(p.SRAM) > 1 {
			split++
		}
		// Every value line cites a source: no key = value without a comment.
		data, _ := fs.ReadFile(configs.FS, f)
		for i, line := range strings.Split(string(data), "\n") {
			code, _, hasComment := strings.Cut(line, "#")
			header := strings.HasPrefix(strings.TrimSpace(code), "[")
			if strings.Contains(code, "=") && !hasComment && !header {
				t.Errorf("%s:%d: value without a source comment: %s", f, i+1, line)
			}
		}
	}
	if split < 3 {
		t.Errorf("%d profiles use split buffers, want at least 3", split)
	}
}

func TestDefault(t *testing.T) {
	p, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	if p.MACArray.Rows != 16 || p.MACArray.Cols != 16 || p.MACArray.TrainFloat != "fp32" || len(p.SRAM) != 1 {
		t.Errorf("default profile drifted from the documented one: %v", p.Summary())
	}
}
