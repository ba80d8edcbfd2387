package sweep

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/train/numerics"
)

// parseString parses a spec held in a string, resolving paths against testdata/.
func parseString(t testing.TB, src string) (*Spec, error) {
	t.Helper()
	return Parse([]byte(src), "spec.toml", "testdata")
}

func mustParse(t testing.TB, src string) *Spec {
	t.Helper()
	s, err := parseString(t, src)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSpecErrors checks that each bad spec fails validation with the position and key
// of the mistake: the first error's "spec.toml:line:col: key: message" prefix and a
// phrase of its message.
func TestSpecErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		key, msg  string
	}{
		{"syntax", "models = [\"lenet5\"\nbatch = 8\n", 2, "models", "expected a comma"},
		{"unknown top key", "name = \"x\"\nbogus = 1\n", 2, "bogus", "unknown key"},
		{"unknown axis key", "[axes]\n\"mac_array.rowz\" = [8, 16]\n", 2, `axes."mac_array.rowz"`, "unknown key"},
		{"bare nested axis key", "[axes]\nmac_array.colz = [8]\n", 2, "axes.mac_array.colz", "unknown key"},
		{"bad capacity unit", "[axes]\n\"sram.global.capacity\" = [\n  \"64KiB\",\n  \"64KiX\",\n]\n", 4, `axes."sram.global.capacity"[1]`, "invalid size"},
		{"capacity not a multiple of banks", "[axes]\n\"sram.global.capacity\" = [\"64KiB\", \"1000B\"]\n", 2, `axes."sram.global.capacity"[1]`, "multiple of banks"},
		{"rows out of range", "[axes]\n\"mac_array.rows\" = [16, 0]\n", 2, `axes."mac_array.rows"[1]`, "at least 1"},
		{"rows of the wrong type", "[axes]\n\"mac_array.rows\" = [\"many\"]\n", 2, `axes."mac_array.rows"[0]`, "integer"},
		{"axis not an array", "[axes]\n\"mac_array.rows\" = 16\n", 2, `axes."mac_array.rows"`, "non-empty array"},
		{"empty axis", "[axes]\n\"mac_array.rows\" = []\n", 2, `axes."mac_array.rows"`, "non-empty array"},
		{"repeated value", "[axes]\n\"mac_array.rows\" = [8, 16, 8]\n", 2, `axes."mac_array.rows"[2]`, "repeats value 0"},
		{"repeated size in other units", "[axes]\n\"sram.global.capacity\" = [\"1MiB\", \"1024KiB\"]\n", 2, `axes."sram.global.capacity"[1]`, "repeats value 0"},
		{"linked axis arity", "[axes]\n\"mac_array.rows,mac_array.cols\" = [[8, 8], [16]]\n", 2, `axes."mac_array.rows,mac_array.cols"[1]`, "arrays of 2 values"},
		{"key in two axes", "[axes]\n\"mac_array.rows\" = [8]\n\"mac_array.rows,mac_array.cols\" = [[8, 8]]\n", 3, `axes."mac_array.rows,mac_array.cols"`, "already set"},
		{"axis also in set", "[set]\n\"mac_array.rows\" = 8\n[axes]\n\"mac_array.rows\" = [8, 16]\n", 4, `axes."mac_array.rows"`, "already set by [set]"},
		{"bad set value", "[set]\n\"dram.data_rate\" = \"fast\"\n", 2, `set."dram.data_rate"`, "invalid data rate"},
		{"unknown model", "models = [\"lenet5\", \"resnet\"]\n", 1, "models[1]", "unknown model"},
		{"repeated model", "models = [\"lenet5\", \"lenet5\"]\n", 1, "models[1]", "listed twice"},
		{"unknown method", "methods = \"sgd\"\n", 1, "methods", "unknown method"},
		{"bad batch", "batch = [8, 0]\n", 1, "batch[1]", "batch size in 1..1048576"},
		{"batch over the bound", "batch = 1048577\n", 1, "batch", "batch size in 1..1048576, got integer 1048577"},
		{"pipeline depth over the bound", "pipeline_depth = 1048577\n", 1, "pipeline_depth", "0..1048576"},
		// A value that would break a row over two lines, or that changes no result.
		{"plan name with a newline", "[[plans]]\nname = \"a\\nb\"\nbits = 8\n", 2, "plans[0].name", "control character"},
		{"axis value with a newline", "[axes]\n\"name\" = [\"a\", \"b\\nc\"]\n", 2, `axes.name[1]`, "control character"},
		{"point value with a newline", "[[points]]\n\"name\" = \"x\\ry\"\n", 2, `points[0].name`, "control character"},
		{"axis over the description", "[axes]\ndescription = [\"a\", \"b\"]\n", 2, "axes.description", "changes no result"},
		{"point sets the description", "[[points]]\ndescription = \"a\"\n", 2, "points[0].description", "changes no result"},
		{"bad dram", "dram = \"fast\"\n", 1, "dram", `"model" or "ideal"`},
		{"bad pipeline depth", "pipeline_depth = -1\n", 1, "pipeline_depth", "integer in 0..1048576"},
		{"unknown base", "base = \"nope\"\n", 1, "base", "no embedded profile"},
		{"missing base file", "base = \"nope.toml\"\n", 1, "base", "no such file"},
		{"plan with bits and schedule", "[[plans]]\nbits = 8\nschedule = \"run_rct\"\n", 1, "plans[0]", "exactly one of"},
		{"plan bitwidth out of range", "[[plans]]\nbits = 8\n[[plans]]\nbits = [8, 40, 8, 8, 8]\n", 4, "plans[1].bits[1]", "2..32"},
		{"plan unknown key", "[[plans]]\nbits = 8\nwidth = 4\n", 3, "plans[0].width", "unknown key"},
		{"plan names repeat", "[[plans]]\nbits = 8\n[[plans]]\nname = \"8\"\nbits = 6\n", 3, "plans[1]", "already used"},
		{"plans repeat", "[[plans]]\nbits = 8\n[[plans]]\nname = \"eight\"\nbits = 8\n", 3, "plans[1]", "same as plans[0]"},
		{"per-layer plan of another model", "[[plans]]\nbits = 8\n[[plans]]\nbits = [8, 6, 8]\n", 4, "plans[1].bits", "has 5 weight layers"},
		{"missing schedule", "[[plans]]\nschedule = \"no_such_run\"\n", 2, "plans[0].schedule", "no such file"},
		{"schedule of another model", "models = [\"mlp\"]\n[[plans]]\nschedule = \"run_rct\"\n", 3, "plans[0].schedule", "weight layers fc1,fc2,fc3"},
		{"point with unknown plan", "[[points]]\nplan = \"int4\"\n", 2, "points[0].plan", "name of a [[plans]] entry"},
		{"point with bad profile value", "[[points]]\nmethod = \"qat\"\n\"mac_array.dataflow\" = \"diagonal\"\n", 3, `points[0]."mac_array.dataflow"`, `"os", "ws", "is" or "rs"`},
		{"point fixes half a linked axis", "[axes]\n\"mac_array.rows,mac_array.cols\" = [[8, 8]]\n[[points]]\n\"mac_array.rows\" = 16\n", 3, "points[0]", "part of the linked axis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseString(t, tt.src)
			if err == nil {
				t.Fatal("no error")
			}
			var se *fileio.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *fileio.Error: %v", err, err)
			}
			if se.File != "spec.toml" || se.Line != tt.line || se.Key != tt.key {
				t.Errorf("got %s:%d key %q, want spec.toml:%d key %q (%v)", se.File, se.Line, se.Key, tt.line, tt.key, err)
			}
			if !strings.Contains(se.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", se.Error(), tt.msg)
			}
			if se.Line > 0 && !strings.HasPrefix(se.Error(), "spec.toml:") {
				t.Errorf("error %q does not start with its position", se.Error())
			}
		})
	}
}

// TestSpecErrorKinds checks that what a spec names but does not exist is found with
// errors.Is through the spec's positioned error: a model, a base profile (embedded or
// a file), a schedule; and that a base file that exists but is no profile is not an
// unknown profile.
func TestSpecErrorKinds(t *testing.T) {
	kinds := []error{models.ErrUnknownModel, hw.ErrUnknownProfile, fs.ErrNotExist}
	tests := []struct {
		name, src string
		kinds     []error
	}{
		{"unknown model", "models = [\"resnet\"]\n", []error{models.ErrUnknownModel}},
		{"unknown embedded base", "base = \"nope\"\n", []error{hw.ErrUnknownProfile}},
		{"missing base file", "base = \"nope.toml\"\n", []error{hw.ErrUnknownProfile, fs.ErrNotExist}},
		{"base file that is no profile", "base = \"run_rct/schedule.csv\"\n", nil},
		{"missing schedule", "[[plans]]\nschedule = \"no_such_run\"\n", []error{fs.ErrNotExist}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseString(t, tt.src)
			var se *fileio.Error
			if !errors.As(err, &se) || se.File != "spec.toml" {
				t.Fatalf("error %v is not a *fileio.Error of spec.toml", err)
			}
			for _, kind := range kinds {
				if got, want := errors.Is(err, kind), slices.Contains(tt.kinds, kind); got != want {
					t.Errorf("errors.Is(%v, %v) = %v, want %v", err, kind, got, want)
				}
			}
		})
	}
}

// TestSpecErrorsAll checks that validation reports every problem at once, in file order.
func TestSpecErrorsAll(t *testing.T) {
	_, err := parseString(t, "methods = [\"sgd\"]\nbatch = 0\n[axes]\n\"mac_array.rows\" = [0]\n")
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "spec.toml:1:") || !strings.HasPrefix(lines[1], "spec.toml:2:") || !strings.HasPrefix(lines[2], "spec.toml:4:") {
		t.Errorf("want three errors in file order, got:\n%v", err)
	}
}

func TestSpecDefaults(t *testing.T) {
	s := mustParse(t, "")
	if s.Len() != 1 || !slices.Equal(s.Models, []string{"lenet5"}) || len(s.Methods) != 1 || s.Methods[0].String() != string(numerics.RCT) ||
		!slices.Equal(s.Batches, []int{32}) || len(s.Plans) != 1 || s.Plans[0].Name != "8" || s.Base.Name != "default" {
		t.Errorf("defaults: %d points, models %v, methods %v, batches %v, plans %d, base %s", s.Len(), s.Models, s.Methods, s.Batches, len(s.Plans), s.Base.Name)
	}
}

// TestPointOrder checks the product's order (first axis slowest, plan fastest), linked
// axes, nested axis keys, and [[points]] crossing what they leave free.
func TestPointOrder(t *testing.T) {
	s := mustParse(t, `
methods = ["rct", "qat"]
batch = 8
[axes]
mac_array.rows = [8, 16]
"sram.global.capacity,sram.global.banks" = [["64KiB", 16], ["128KiB", 8]]
[[plans]]
bits = 8
[[plans]]
bits = 4
`)
	if s.Len() != 16 {
		t.Fatalf("%d points, want 2*2*2*2", s.Len())
	}
	want := []string{
		`mac_array.rows=8 sram.global.capacity=64KiB sram.global.banks=16 model=lenet5 method=rct plan=8 batch=8`,
		`mac_array.rows=8 sram.global.capacity=64KiB sram.global.banks=16 model=lenet5 method=rct plan=4 batch=8`,
		`mac_array.rows=8 sram.global.capacity=64KiB sram.global.banks=16 model=lenet5 method=qat plan=8 batch=8`,
	}
	for k, w := range want {
		if got := s.Describe(s.Point(k)); got != w {
			t.Errorf("point %d: %s\nwant %s", k, got, w)
		}
	}
	if got := s.Describe(s.Point(15)); got != `mac_array.rows=16 sram.global.capacity=128KiB sram.global.banks=8 model=lenet5 method=qat plan=4 batch=8` {
		t.Errorf("last point: %s", got)
	}
	if got, want := s.ProfileColumns(), []string{"mac_array.rows", "sram.global.capacity", "sram.global.banks"}; !slices.Equal(got, want) {
		t.Errorf("profile columns %v, want %v", got, want)
	}

	s = mustParse(t, `
methods = ["rct", "qat"]
batch = 8
[axes]
"mac_array.rows" = [8, 16]
[[points]]
"sram.global.capacity" = "64KiB"
[[points]]
"mac_array.rows" = 32
method = "rct"
`)
	// The first point crosses rows and methods (4); the second fixes both (1).
	if s.Len() != 5 {
		t.Fatalf("%d points, want 5", s.Len())
	}
	if got := s.Describe(s.Point(4)); got != "mac_array.rows=32 model=lenet5 method=rct plan=8 batch=8" {
		t.Errorf("point 4: %s", got)
	}
	if got, want := s.ProfileColumns(), []string{"mac_array.rows", "sram.global.capacity"}; !slices.Equal(got, want) {
		t.Errorf("profile columns %v, want %v", got, want)
	}
	// The second point leaves the capacity at the base profile's value.
	if _, vals := s.Identify(s.Point(4)); !slices.Equal(vals, []string{"32", "512KiB"}) {
		t.Errorf("point 4 values %v", vals)
	}
}

// TestHash checks that the hash follows the resolved configuration, not its spelling.
func TestHash(t *testing.T) {
	a := mustParse(t, "batch = 8\n[axes]\n\"sram.global.capacity\" = [\"1MiB\"]\n")
	b := mustParse(t, "batch = 8\n[axes]\nsram.global.capacity = [\"1024KiB\"]\n[[plans]]\nname = \"int8\"\nbits = 8\n")
	c := mustParse(t, "batch = 8\n[axes]\n\"sram.global.capacity\" = [\"512KiB\"]\n")
	ha, _ := a.Identify(a.Point(0))
	hb, _ := b.Identify(b.Point(0))
	hc, _ := c.Identify(c.Point(0))
	if ha != hb {
		t.Errorf("same configuration, different hashes %s %s", ha, hb)
	}
	if ha == hc || !isHash(ha) {
		t.Errorf("hashes %s (1MiB) and %s (512KiB)", ha, hc)
	}
	// 512KiB is the base profile's capacity: the same as not sweeping it at all.
	d := mustParse(t, "batch = 8\n")
	if hd, _ := d.Identify(d.Point(0)); hd != hc {
		t.Errorf("base capacity swept (%s) and not swept (%s) differ", hc, hd)
	}
}

func TestSchedulePlan(t *testing.T) {
	s := mustParse(t, "[[plans]]\nschedule = \"run_rct\"\n[[plans]]\nbits = 8\n[[points]]\nplan = \"run_rct\"\n")
	pl := s.Plans[0]
	if pl.Name != "run_rct" || pl.Steps() != 100 || pl.ScheduleFile != filepath.Join("testdata", "run_rct", "schedule.csv") || s.Len() != 1 {
		t.Errorf("plan %q, %d steps, file %s, %d points", pl.Name, pl.Steps(), pl.ScheduleFile, s.Len())
	}
	// Named by its file rather than its folder, the schedule is the same plan.
	s2 := mustParse(t, "[[plans]]\nname = \"file\"\nschedule = \"run_rct/schedule.csv\"\n")
	if s2.Plans[0].key != pl.key {
		t.Errorf("the same schedule read twice has keys %s and %s", pl.key, s2.Plans[0].key)
	}
	h1, _ := s.Identify(s.Point(0))
	h2, _ := s2.Identify(s2.Point(0))
	if h1 != h2 {
		t.Errorf("renaming a schedule plan changed the hash: %s, %s", h1, h2)
	}
}

// TestEmbeddedSweeps validates every example spec shipped in configs/sweeps.
func TestEmbeddedSweeps(t *testing.T) {
	files, err := fs.Glob(configs.FS, "sweeps/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no embedded sweeps: %v", err)
	}
	for _, f := range files {
		s, err := LoadFS(configs.FS, f, ".")
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if s.Len() == 0 || s.Name+".toml" != filepath.Base(f) {
			t.Errorf("%s: %d points, name %q", f, s.Len(), s.Name)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.toml")
	if err := os.WriteFile(path, []byte("base = \"prof.toml\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The base profile is found next to the spec, not in the working directory.
	prof, err := fs.ReadFile(configs.FS, "edge_tpu.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prof.toml"), prof, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Base.Name != "edge_tpu" || s.File != path {
		t.Errorf("base %s, file %s", s.Base.Name, s.File)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("methods = [\"rct\", \"qat\"]\nbatch = 8\n[axes]\n\"mac_array.rows\" = [8, 16]\n")
	f.Add("[axes]\nsram.global.capacity = [\"64KiB\"]\n[[points]]\nmethod = \"qat\"\n")
	f.Add("[[plans]]\nbits = [8, 6, 8, 8, 8]\n[set]\n\"dram.data_rate\" = \"1600MT/s\"\n")
	f.Add("[axes]\n\"mac_array.rows,mac_array.cols\" = [[8, 8]]\n[[points]]\n\"mac_array.rows\" = 4\n")
	f.Fuzz(func(t *testing.T, src string) {
		s, err := Parse([]byte(src), "fuzz.toml", t.TempDir())
		if err != nil {
			var se *fileio.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *fileio.Error: %v", err, err)
			}
			return
		}
		if s.Len() < 1 {
			t.Fatalf("a valid spec with %d points", s.Len())
		}
		for _, k := range []int{0, s.Len() - 1} {
			s.Describe(s.Point(k))
		}
	})
}

// TestAxisOrder checks that axes keep the file's order when bare dotted keys of one
// table are interleaved with others'.
func TestAxisOrder(t *testing.T) {
	s := mustParse(t, "[axes]\nmac_array.rows = [8]\nsram.global.capacity = [\"64KiB\"]\nmac_array.cols = [8]\n")
	if got, want := s.ProfileColumns(), []string{"mac_array.rows", "sram.global.capacity", "mac_array.cols"}; !slices.Equal(got, want) {
		t.Errorf("axes %v, want %v", got, want)
	}
}

// TestTooManyPoints checks that a product too large to run is refused up front.
func TestTooManyPoints(t *testing.T) {
	var b strings.Builder
	b.WriteString("[axes]\n")
	for _, key := range []string{"mac_array.rows", "mac_array.cols", "vector.lanes", "dma.max_outstanding", "dma.setup_cycles"} {
		b.WriteString(`"` + key + `" = [`)
		for v := 1; v <= 100; v++ {
			if v > 1 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Itoa(v))
		}
		b.WriteString("]\n")
	}
	_, err := parseString(t, b.String())
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("10^10 points: %v", err)
	}
}

// TestSpecNestingRefused: a deeply nested spec is refused before toml reads it.
func TestSpecNestingRefused(t *testing.T) {
	src := "x = " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n"
	_, err := Parse([]byte(src), "deep.toml", ".")
	if err == nil || !strings.Contains(err.Error(), "deep.toml:1:") || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("got %v", err)
	}
}

// TestSpecONNXModel checks that a spec's models take an ONNX file, relative to the
// spec, and that a file that is not one is an error at its key.
func TestSpecONNXModel(t *testing.T) {
	s := mustParse(t, "models = [\"lenet5\", \"../../../models/testdata/lenet5.onnx\"]\nbatch = 8\n")
	if len(s.Models) != 2 {
		t.Fatalf("models %v", s.Models)
	}
	a, b := s.nets[s.Models[0]], s.nets[s.Models[1]]
	if b == nil || a.Params() != b.Params() || a.MACs(models.Forward, 1) != b.MACs(models.Forward, 1) {
		t.Errorf("the ONNX LeNet-5 differs from the built-in")
	}
	_, err := parseString(t, "models = [\"missing.onnx\"]\n")
	if err == nil || !strings.Contains(err.Error(), "models[0]") || !strings.Contains(err.Error(), "missing.onnx") {
		t.Errorf("a missing file: %v", err)
	}
}

// TestSeveralBases: a spec may list several base profiles; the points are their
// product with the lists, the base varying slowest, and the output names each point's
// base in a column of its own.
func TestSeveralBases(t *testing.T) {
	s := mustParse(t, `base = ["default", "lnpu", "edge_tpu"]
methods = ["rct", "fp8", "rct@last:3"]`)
	if s.Len() != 9 || len(s.Bases) != 3 || s.Base != s.Bases[0] || s.BaseName != "default" {
		t.Fatalf("%d points, %d bases", s.Len(), len(s.Bases))
	}
	if cols := s.Columns(); !slices.Contains(cols, ColBase) || slices.Index(cols, ColBase) > slices.Index(cols, ColModel) {
		t.Errorf("columns %v", cols)
	}
	hashes := map[string]bool{}
	for k := range s.Len() {
		pt := s.Point(k)
		if pt.Base != k/3 || pt.Method.String() != []string{"rct", "fp8", "rct@last:3"}[k%3] {
			t.Errorf("point %d: base %d method %s", k, pt.Base, pt.Method)
		}
		hash, values := s.Identify(pt)
		if values[0] != s.BaseNames[pt.Base] || !strings.Contains(s.Describe(pt), "base="+s.BaseNames[pt.Base]) {
			t.Errorf("point %d: values %v, %s", k, values, s.Describe(pt))
		}
		hashes[hash] = true
	}
	if len(hashes) != 9 {
		t.Errorf("%d distinct hashes for 9 points", len(hashes))
	}
	// One base keeps the outputs as they were: no base column.
	if one := mustParse(t, `base = "lnpu"`); slices.Contains(one.Columns(), ColBase) {
		t.Error("a spec with one base has a base column")
	}
	for _, bad := range []string{
		"base = [\"default\", \"lnpu\"]\n[axes]\n\"mac_array.rows\" = [8, 16]",
		`base = ["default", "default"]`,
		`base = ["default", "nosuchchip"]`,
		`base = []`,
	} {
		if _, err := parseString(t, bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
