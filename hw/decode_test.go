package hw

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/rctsim/rctsim/configs"

	"github.com/rctsim/rctsim/hw/tomlpos"
	"github.com/rctsim/rctsim/traces/fileio"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func readMinimal(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/minimal.toml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecodeMinimal(t *testing.T) {
	p, err := Load("testdata/minimal.toml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Source != "testdata/minimal.toml" {
		t.Errorf("Source = %q", p.Source)
	}
	// Defaults from Defaults() and the derived ones.
	if p.DRAM.Channels != 1 || p.DRAM.Ranks != 1 || p.DRAM.BankGroups != 1 ||
		p.DRAM.PagePolicy != "open" || p.DRAM.AddressMapping != "rochrababgco" {
		t.Errorf("dram defaults not applied: %+v", p.DRAM)
	}
	if p.DMA.SetupCycles != 8 || p.DMA.MaxOutstanding != 16 || p.MACArray.AccumulatorBits != 32 {
		t.Errorf("dma/accumulator defaults not applied: %+v %d", p.DMA, p.MACArray.AccumulatorBits)
	}
	for _, name := range []string{"wbuf", "abuf"} {
		if p.SRAM[name].Ports != 1 {
			t.Errorf("sram.%s.ports = %d, want default 1", name, p.SRAM[name].Ports)
		}
	}
	if p.MACArray.TrainFloat != "fp16" {
		t.Errorf("train_float = %q, want derived fp16 (the only float mode)", p.MACArray.TrainFloat)
	}
	if p.DRAM.TWR != (Timing{NS: 18, InNS: true}) {
		t.Errorf("tWR = %v, want derived 18ns for LPDDR", p.DRAM.TWR)
	}
	if p.DRAM.TCWL != (Timing{Cycles: 14}) {
		t.Errorf("tCWL = %v, want derived 14ck (half of tCL for LPDDR)", p.DRAM.TCWL)
	}
	if p.Vector.OpEnergyPJ.FP16 != 0.4 {
		t.Errorf("inline table not decoded: %+v", p.Vector.OpEnergyPJ)
	}
}

func TestDecodeExplicitZeroPortsIsAnError(t *testing.T) {
	src := strings.Replace(readMinimal(t), `holds            = ["weights"]`, "holds = [\"weights\"]\nports = 0", 1)
	_, err := Decode(strings.NewReader(src), "x.toml")
	var pe *fileio.Error
	if !errors.As(err, &pe) || pe.Key != "sram.wbuf.ports" {
		t.Fatalf("err = %v, want sram.wbuf.ports error", err)
	}
}

func TestDerivedDefaults(t *testing.T) {
	tests := []struct {
		kind, tcl      string
		wantWR, wantWL Timing
	}{
		{"LPDDR4-3200", "28ck", Timing{NS: 18, InNS: true}, Timing{Cycles: 14}},
		{"DDR4-2400", "16ck", Timing{NS: 15, InNS: true}, Timing{Cycles: 12}},
		{"DDR3-1600", "11ck", Timing{NS: 15, InNS: true}, Timing{Cycles: 9}}, // ceil(8.25)
		{"DDR3-1600", "13.75ns", Timing{NS: 15, InNS: true}, Timing{NS: 10.3125, InNS: true}},
	}
	for _, tt := range tests {
		src := strings.Replace(readMinimal(t), `kind           = "LPDDR4-3200"`, `kind = "`+tt.kind+`"`, 1)
		src = strings.Replace(src, `tCL            = "28ck"`, `tCL = "`+tt.tcl+`"`, 1)
		p, err := Decode(strings.NewReader(src), "x.toml")
		if err != nil {
			t.Fatalf("%s: %v", tt.kind, err)
		}
		if p.DRAM.TWR != tt.wantWR || p.DRAM.TCWL != tt.wantWL {
			t.Errorf("%s tCL=%s: tWR=%v tCWL=%v, want %v %v", tt.kind, tt.tcl, p.DRAM.TWR, p.DRAM.TCWL, tt.wantWR, tt.wantWL)
		}
	}
}

// badCase edits testdata/minimal.toml by replacing old (which must occur) with new.
// The error must name key, sit on the line containing lineOf (new's first line when
// lineOf is empty) and contain msg.
type badCase struct {
	name     string
	old, new string
	key      string
	lineOf   string
	msg      string
}

var badCases = []badCase{
	{name: "unknown key", old: "rows     = 8", new: "rows     = 8\nrowz = 3", key: "mac_array.rowz", lineOf: "rowz", msg: "valid keys here: rows, cols"},
	{name: "mis-cased key", old: "rows     = 8", new: "Rows     = 8", key: "mac_array.Rows", msg: `write "rows"`},
	{name: "mis-cased key in inline table", old: "int8 = 0.03", new: "INT8 = 0.03", key: "vector.op_energy_pj.INT8", msg: "case-sensitive"},
	{name: "unknown table", old: "[vector]", new: "[vectr]\nlanes = 2\n[vector]", key: "vectr", lineOf: "[vectr]"},
	{name: "wrong type", old: "cols     = 4", new: `cols     = "4"`, key: "mac_array.cols", msg: `want an integer, got string "4"`},
	{name: "wrong type in second array element", old: "energy_per_mac_pj     = 2.0", new: `energy_per_mac_pj     = "2.0"`, key: "mac_array.modes[1].energy_per_mac_pj", msg: "want a number"},
	{name: "string for array", old: `holds            = ["weights"]`, new: `holds            = "weights"`, key: "sram.wbuf.holds", msg: "want an array of strings"},
	{name: "float for integer", old: "cols     = 4", new: "cols     = 4.0", key: "mac_array.cols", msg: "want an integer, got float 4"},
	{name: "negative size", old: `capacity         = "64KiB"`, new: `capacity         = -65536`, key: "sram.wbuf.capacity", msg: "negative size"},
	{name: "negative rows", old: "rows     = 8", new: "rows     = -4", key: "mac_array.rows", msg: "must be at least 1 (got -4)"},
	{name: "zero banks", old: "banks            = 8", new: "banks            = 0", key: "sram.wbuf.banks", msg: "got 0"},
	{name: "bank width not power of two", old: "bank_width_bytes = 8\nread_energy_pj   = 10", new: "bank_width_bytes = 6\nread_energy_pj   = 10", key: "sram.wbuf.bank_width_bytes", msg: "power of two"},
	{name: "capacity not multiple of row", old: `capacity         = "128KiB"`, new: `capacity         = 130000`, key: "sram.abuf.capacity", msg: "multiple of banks x bank_width_bytes = 128"},
	{name: "bad dataflow", old: `dataflow = "ws"`, new: `dataflow = "xs"`, key: "mac_array.dataflow", msg: `got "xs"`},
	{name: "rs without spads", old: `dataflow = "ws"`, new: `dataflow = "rs"`, key: "mac_array.spad", lineOf: "[mac_array]", msg: "row stationary dataflow needs"},
	{name: "bad unit", old: `"64KiB"`, new: `"256KiBB"`, key: "sram.wbuf.capacity", msg: "invalid size"},
	{name: "bad clock unit", old: `clock = "500MHz"`, new: `clock = "500MHzz"`, key: "clock", msg: "invalid frequency"},
	{name: "plain clock is hertz", old: `clock = "500MHz"`, new: `clock = 800`, key: "clock", msg: "below 1 MHz"},
	{name: "duplicate role", old: `holds            = ["inputs", "outputs"]`, new: `holds            = ["inputs", "outputs", "weights"]`, key: "sram.wbuf.holds", lineOf: `holds            = ["weights"]`, msg: "already held by sram.abuf"},
	{name: "missing role", old: `holds            = ["inputs", "outputs"]`, new: `holds            = ["inputs"]`, key: "sram", lineOf: "[sram.wbuf]", msg: `no buffer holds "outputs"`},
	{name: "unknown role", old: `holds            = ["weights"]`, new: `holds            = ["weights", "grads"]`, key: "sram.wbuf.holds", msg: `unknown role "grads"`},
	{name: "buffer name not identifier", old: "[sram.abuf]", new: `[sram."a buf"]`, key: `sram."a buf"`, msg: "identifier"},
	{name: "row size not power of two", old: `row_size       = "2KiB"`, new: `row_size       = "3KiB"`, key: "dram.row_size", msg: "power of two"},
	{name: "bad mapping", old: "burst_length   = 16", new: "burst_length   = 16\naddress_mapping = \"rorochbabgco\"", key: "dram.address_mapping", lineOf: "address_mapping", msg: "once"},
	{name: "bad page policy", old: "burst_length   = 16", new: "burst_length   = 16\npage_policy = \"lazy\"", key: "dram.page_policy", lineOf: "page_policy"},
	{name: "bus width", old: "bus_width_bits = 16", new: "bus_width_bits = 24", key: "dram.bus_width_bits"},
	{name: "odd burst length", old: "burst_length   = 16", new: "burst_length   = 7", key: "dram.burst_length", msg: "even"},
	{name: "bank groups do not divide banks", old: "burst_length   = 16", new: "burst_length   = 16\nbank_groups = 16", key: "dram.banks", lineOf: "banks          = 8", msg: "multiple of bank_groups"},
	{name: "tRAS below tRCD", old: `tRAS           = "42ns"`, new: `tRAS           = "10ns"`, key: "dram.tRAS", msg: "at least tRCD"},
	{name: "missing timing", old: "tRCD           = \"18ns\"\n", new: "", key: "dram.tRCD", lineOf: "[dram]", msg: "required"},
	{name: "bad timing unit", old: `tRCD           = "18ns"`, new: `tRCD           = "18 sec"`, key: "dram.tRCD", msg: "invalid timing"},
	{name: "float mode with bits", old: `float                 = "fp16"`, new: "float                 = \"fp16\"\nweight_bits = 16", key: "mac_array.modes[1].weight_bits", lineOf: "weight_bits = 16", msg: "float mode"},
	{name: "unknown float", old: `float                 = "fp16"`, new: `float                 = "fp4"`, key: "mac_array.modes[1].float", msg: `got "fp4"`},
	{name: "duplicate mode", old: `float                 = "fp16"`, new: "weight_bits = 8\nact_bits = 8", key: "mac_array.modes[1]", lineOf: "[[mac_array.modes]]\nweight_bits = 8", msg: "duplicate mode 8x8"},
	{name: "bad packing", old: "macs_per_pe_per_cycle = 1\n", new: "macs_per_pe_per_cycle = 2.5\n", key: "mac_array.modes[0].macs_per_pe_per_cycle", msg: "got 2.5"},
	{name: "NaN energy", old: "energy_per_mac_pj     = 0.3", new: "energy_per_mac_pj     = nan", key: "mac_array.modes[0].energy_per_mac_pj", msg: "got NaN"},
	{name: "infinite energy", old: "energy_per_mac_pj     = 0.3", new: "energy_per_mac_pj     = inf", key: "mac_array.modes[0].energy_per_mac_pj", msg: "got +Inf"},
	{name: "negative energy", old: "read_energy_pj   = 10", new: "read_energy_pj   = -10", key: "sram.wbuf.read_energy_pj", msg: "got -10"},
	{name: "train float not on chip", old: `dataflow = "ws"`, new: "dataflow = \"ws\"\ntrain_float = \"fp32\"", key: "mac_array.train_float", lineOf: "train_float", msg: "fp16"},
	{name: "accumulator too narrow", old: `dataflow = "ws"`, new: "dataflow = \"ws\"\naccumulator_bits = 4", key: "mac_array.accumulator_bits", lineOf: "accumulator_bits", msg: "narrower"},
	{name: "missing fp vector energy", old: "fp16 = 0.4, ", new: "", key: "vector.op_energy_pj.fp16", lineOf: "op_energy_pj", msg: "positive"},
	{name: "zero lanes", old: "lanes = 4", new: "lanes = 0", key: "vector.lanes"},
	{name: "syntax error", old: "rows     = 8", new: "rows     = ", key: "mac_array.rows", lineOf: "rows     = "},
	{name: "integer overflow", old: "lanes = 4", new: "lanes = 99999999999999999999", key: "vector.lanes"},
	{name: "empty name", old: `name  = "minimal"`, new: `name  = "  "`, key: "name"},
}

func lineNumber(doc, sub string) int {
	i := strings.Index(doc, sub)
	if i < 0 {
		return -1
	}
	return strings.Count(doc[:i], "\n") + 1
}

func TestBadProfiles(t *testing.T) {
	base := readMinimal(t)
	var golden strings.Builder
	for _, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(base, tc.old) {
				t.Fatalf("test bug: %q not in minimal.toml", tc.old)
			}
			doc := strings.Replace(base, tc.old, tc.new, 1)
			p, err := Decode(strings.NewReader(doc), "bad.toml")
			if err == nil {
				t.Fatalf("decoded without error: %+v", p)
			}
			golden.WriteString("# " + tc.name + "\n" + err.Error() + "\n\n")
			pe := checkProfileError(t, err, doc, tc.new, tc.lineOf, tc.key, tc.msg)
			if !strings.HasPrefix(pe.Error(), "bad.toml:") {
				t.Errorf("message %q does not start with the file", pe.Error())
			}
		})
	}
	checkGolden(t, "testdata/bad_profiles.golden", golden.String())
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./hw -run %s -update)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from the output (rerun with -update and review the diff):\n%s", path, got)
	}
}

func TestSyntaxErrorUnwrapsToParseError(t *testing.T) {
	_, err := Decode(strings.NewReader("name = \"x\"\n[mac_array\nrows = 3\n"), "s.toml")
	var perr toml.ParseError
	if !errors.As(err, &perr) {
		t.Fatalf("errors.As(ParseError) failed on %v", err)
	}
	var pe *fileio.Error
	if !errors.As(err, &pe) || pe.Line != 2 {
		t.Fatalf("want a *fileio.Error on line 2, got %v", err)
	}
	if strings.Contains(pe.Error(), "toml: line") {
		t.Errorf("toml's own prefix leaked into %q", pe.Error())
	}
}

func TestFromTOMLErrorPlainMismatch(t *testing.T) {
	// toml's struct decoder reports mismatches as plain errors; the binder never meets
	// them, but the conversion must still find line and key.
	pos := tomlpos.Scan("[mac_array]\nrows = \"x\"\n")
	err := fmt.Errorf(`toml: line 2 (last key "mac_array.rows"): incompatible types: TOML value has type string; destination has type integer`)
	pe := fromTOMLError("f.toml", nil, err, pos)
	if pe.Line != 2 || pe.Key != "mac_array.rows" || pe.Col != 1 {
		t.Fatalf("got %+v", pe)
	}
	if want := "f.toml:2:1: mac_array.rows: incompatible types"; !strings.HasPrefix(pe.Error(), want) {
		t.Errorf("Error() = %q, want prefix %q", pe.Error(), want)
	}
	if !errors.Is(pe, err) {
		t.Error("original error not reachable through Unwrap")
	}
}

func TestAllErrorsReported(t *testing.T) {
	doc := strings.Replace(readMinimal(t), "rows     = 8", "rows     = 0", 1)
	doc = strings.Replace(doc, "lanes = 4", "lanes = 0", 1)
	_, err := Decode(strings.NewReader(doc), "two.toml")
	var keys []string
	forEachError(err, func(pe *fileio.Error) { keys = append(keys, pe.Key) })
	if strings.Join(keys, " ") != "mac_array.rows vector.lanes" {
		t.Fatalf("keys %v, want both errors in file order; err:\n%v", keys, err)
	}
}

func TestEmbeddedProfilesDecode(t *testing.T) {
	files, err := fs.Glob(configs.FS, "*.toml")
	if err != nil || len(files) < 7 {
		t.Fatalf("want at least 7 embedded profiles, got %v (%v)", files, err)
	}
	for _, f := range files {
		p, err := LoadFS(configs.FS, f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: re-validation: %v", f, err)
		}
		if want := strings.TrimSuffix(f, ".toml"); p.Name != want {
			t.Errorf("%s: name %q, want %q (the file name, so --profile NAME finds it)", f, p.Name, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	var pe *fileio.Error
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

func TestUnitsRoundTrip(t *testing.T) {
	for _, s := range []string{"512KiB", "1MiB", "3GiB", "100B", "1000B"} {
		v, err := ParseByteSize(s)
		if err != nil {
			t.Fatal(err)
		}
		w, err := ParseByteSize(v.String())
		if err != nil || w != v {
			t.Errorf("ByteSize %s -> %s -> %v, %v", s, v, w, err)
		}
	}
	for _, s := range []string{"800MHz", "1.2GHz", "32kHz", "123Hz"} {
		v, _ := ParseFrequency(s)
		w, err := ParseFrequency(v.String())
		if err != nil || w != v {
			t.Errorf("Frequency %s -> %s -> %v, %v", s, v, w, err)
		}
	}
	for _, s := range []string{"3200MT/s", "1.6GT/s", "4266MT/s", "1234T/s"} {
		v, _ := ParseDataRate(s)
		w, err := ParseDataRate(v.String())
		if err != nil || w != v {
			t.Errorf("DataRate %s -> %s -> %v, %v", s, v, w, err)
		}
	}
	for in, want := range map[string]Timing{"14tck": {Cycles: 14}, "14nCK": {Cycles: 14}, "14 cycles": {Cycles: 14}, "14": {Cycles: 14}} {
		if got, err := ParseTiming(in); err != nil || got != want {
			t.Errorf("ParseTiming(%q) = %v, %v", in, got, err)
		}
	}
	for _, s := range []string{"18ns", "17.5ns", "14ck", "0.625ns"} {
		v, _ := ParseTiming(s)
		w, err := ParseTiming(v.String())
		if err != nil || w != v {
			t.Errorf("Timing %s -> %s -> %v, %v", s, v, w, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := fs.Glob(configs.FS, "*.toml")
	for _, name := range files {
		b, _ := fs.ReadFile(configs.FS, name)
		f.Add(b)
	}
	if b, err := os.ReadFile("testdata/minimal.toml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("a.b = [{c = 1}, {d = [1, {e = 2}]}]\n[[x.y]]\n[x.y.z]\n'q' = \"\"\"\n]\"\"\"\n"))
	// Nesting just past tomlpos.MaxDepth, of each kind.
	f.Add([]byte("[vector]\nx = " + strings.Repeat("{y = ", 17) + "1" + strings.Repeat("}", 17) + "\n"))
	f.Add([]byte("x = " + strings.Repeat("[", 17) + strings.Repeat("]", 17) + "\n"))
	f.Add([]byte("[" + strings.Repeat("a.", 17) + "b]\n" + strings.Repeat("c.", 17) + "d = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(bytes.NewReader(data), "fuzz.toml")
		if err != nil {
			var pe *fileio.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *fileio.Error: %v", err, err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("decoded profile does not validate: %v", err)
		}
		_ = p.Summary()
		c := p.Clone()
		for _, k := range KeyPaths(c) {
			v, err := c.Get(k)
			if err != nil {
				t.Fatalf("Get(%s): %v", k, err)
			}
			if err := c.Set(k, v); err != nil {
				t.Fatalf("Set(%s, Get) = %v", k, err)
			}
		}
	})
}

func ExampleDecode() {
	src, err := os.ReadFile("testdata/minimal.toml")
	if err != nil {
		panic(err)
	}
	src = bytes.Replace(src, []byte("rows     = 8"), []byte("rows     = -4"), 1)
	_, err = Decode(bytes.NewReader(src), "minimal.toml")
	fmt.Println(err)
	// Output:
	// minimal.toml:6:1: mac_array.rows: must be at least 1 (got -4)
}

// checkProfileError asserts that err is a *fileio.Error for file bad.toml naming key,
// at the line of doc that starts with lineOf (default: the first line of newText, the
// text the case put into doc), with a message containing msg.
func checkProfileError(t *testing.T, err error, doc, newText, lineOf, key, msg string) *fileio.Error {
	t.Helper()
	var pe *fileio.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %T is not a *fileio.Error: %v", err, err)
	}
	if pe.File != "bad.toml" || pe.Key != key || pe.Line <= 0 {
		t.Errorf("got file %q key %q line %d, want bad.toml %q line > 0\n%v", pe.File, pe.Key, pe.Line, key, err)
	}
	if lineOf == "" {
		lineOf, _, _ = strings.Cut(newText, "\n")
	}
	if want := lineNumber(doc, lineOf); pe.Line != want {
		t.Errorf("line %d, want %d (the line of %q)\n%v", pe.Line, want, lineOf, err)
	}
	if !strings.Contains(pe.Error(), msg) {
		t.Errorf("message %q does not contain %q", pe.Error(), msg)
	}
	return pe
}

// TestDecodeNesting checks that profiles nested beyond tomlpos.MaxDepth, which used to
// cost toml and the key scanner seconds and gigabytes, are refused before toml reads
// them, with the file, line and key.
func TestDecodeNesting(t *testing.T) {
	deep := func(open, close string, n int) string {
		return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
	}
	tests := []struct {
		name, text string // text is appended to the minimal profile
		lineOf     string // the start of the line named
		key        string
	}{
		{"inline tables", "[vector]\nx = " + deep("{y = ", "}", 20_000) + "\n", "x = {", "vector.x" + strings.Repeat(".y", 15)},
		{"arrays", "[vector]\nx = " + deep("[", "]", 50_000) + "\n", "x = [", "vector.x" + strings.Repeat("[0]", 15)},
		{"dotted key", "[vector]\n" + strings.Repeat("x.", 30_000) + "y = 1\n", "x.x.", "vector" + strings.Repeat(".x", 16)},
		{"table header", "[" + strings.Repeat("x.", 30_000) + "y]\n", "[x.x.", "x" + strings.Repeat(".x", 16)},
	}
	base := readMinimal(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(base+tt.text), "bad.toml")
			pe := checkProfileError(t, err, base+tt.text, tt.text, tt.lineOf, tt.key, "nested deeper than 16 levels")
			if !errors.Is(err, tomlpos.ErrTooDeep) {
				t.Errorf("%v does not wrap tomlpos.ErrTooDeep", pe)
			}
		})
	}
	// A --set value is a TOML literal: a deeply nested one is no literal, and so is
	// not a valid value of a number.
	p := loadDefault(t)
	if err := p.Set("mac_array.rows", deep("[", "]", 50_000)); err == nil {
		t.Error("--set of a deeply nested array accepted")
	}
}

// BenchmarkDecodeNested decodes profiles with a nested value of 1k, 10k and 100k
// bytes: refused in time linear in the size (toml alone took a second and a GB for
// 18 KB before the check).
func BenchmarkDecodeNested(b *testing.B) {
	base := readMinimal(b)
	for _, size := range []int{1_000, 10_000, 100_000} {
		n := size / 6
		doc := []byte(base + "[vector]\nx = " + strings.Repeat("{y = ", n) + "1" + strings.Repeat("}", n) + "\n")
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := Decode(bytes.NewReader(doc), "deep.toml"); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}
