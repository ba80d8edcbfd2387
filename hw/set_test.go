package hw

import (
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/traces/fileio"
)

func loadDefault(t testing.TB) *Profile {
	t.Helper()
	p, err := LoadFS(configs.FS, configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSetValid(t *testing.T) {
	tests := []struct {
		path, value string
		check       func(*Profile) bool
	}{
		{"mac_array.rows", "32", func(p *Profile) bool { return p.MACArray.Rows == 32 }},
		{"sram.global.capacity", "1MiB", func(p *Profile) bool { return p.SRAM["global"].Capacity == 1<<20 }},
		{"sram.global.capacity", `"256KiB"`, func(p *Profile) bool { return p.SRAM["global"].Capacity == 256<<10 }},
		{"sram.global.capacity", "262144", func(p *Profile) bool { return p.SRAM["global"].Capacity == 256<<10 }},
		{"dram.data_rate", "4266MT/s", func(p *Profile) bool { return p.DRAM.DataRate == 4266e6 }},
		{"dram.tRCD", "20ns", func(p *Profile) bool { return p.DRAM.TRCD == Timing{NS: 20, InNS: true} }},
		{"dram.tCL", "30", func(p *Profile) bool { return p.DRAM.TCL == Timing{Cycles: 30} }},
		{"mac_array.dataflow", "ws", func(p *Profile) bool { return p.MACArray.Dataflow == WeightStationary }},
		{"mac_array.modes[0].energy_per_mac_pj", "0.2", func(p *Profile) bool { return p.MACArray.Modes[0].EnergyPerMACPJ == 0.2 }},
		{"mac_array.modes[3].macs_per_pe_per_cycle", "2", func(p *Profile) bool { return p.MACArray.Modes[3].MACsPerPEPerCycle == 2 }},
		{"name", `"my chip"`, func(p *Profile) bool { return p.Name == "my chip" }},
		{"name", "1234", func(p *Profile) bool { return p.Name == "1234" }},
		{"clock", "1.2GHz", func(p *Profile) bool { return p.Clock == 1.2e9 }},
		{"dram.page_policy", "closed", func(p *Profile) bool { return p.DRAM.PagePolicy == "closed" }},
		{"sram.global.holds", "weights, inputs,outputs", func(p *Profile) bool {
			return reflect.DeepEqual(p.SRAM["global"].Holds, []string{"weights", "inputs", "outputs"})
		}},
		{"sram.global.holds", `["outputs", "weights", "inputs"]`, func(p *Profile) bool {
			return reflect.DeepEqual(p.SRAM["global"].Holds, []string{"outputs", "weights", "inputs"})
		}},
		{"vector.op_energy_pj.bf16", "0.35", func(p *Profile) bool { return p.Vector.OpEnergyPJ.BF16 == 0.35 }},
		{"dma.setup_cycles", "0", func(p *Profile) bool { return p.DMA.SetupCycles == 0 }},
		// Setting one field of a map entry must leave the entry's other fields alone.
		{"sram.global.ports", "1", func(p *Profile) bool {
			g := p.SRAM["global"]
			return g.Ports == 1 && g.Capacity == 512<<10 && g.Banks == 16 && len(g.Holds) == 3
		}},
	}
	for _, tt := range tests {
		t.Run(tt.path+"="+tt.value, func(t *testing.T) {
			p := loadDefault(t)
			if err := p.Set(tt.path, tt.value); err != nil {
				t.Fatal(err)
			}
			if !tt.check(p) {
				got, _ := p.Get(tt.path)
				t.Errorf("value not applied: Get = %q", got)
			}
			if err := p.Validate(); err != nil {
				t.Errorf("profile invalid after Set: %v", err)
			}
		})
	}
}

func TestSetInvalidLeavesProfileUnchanged(t *testing.T) {
	tests := []struct {
		path, value string
		key         string // key the error names
		msg         string
	}{
		{"mac_array.rows", "-4", "mac_array.rows", "must be at least 1 (got -4)"},
		{"mac_array.rows", "abc", "mac_array.rows", "want an integer"},
		{"mac_array.rows", "3.5", "mac_array.rows", "want an integer"},
		{"mac_array.rowz", "3", "mac_array.rowz", "did you mean mac_array.rows"},
		{"mac_array.Rows", "3", "mac_array.Rows", "did you mean mac_array.rows"},
		{"sram.nope.capacity", "1MiB", "sram.nope.capacity", `no entry "nope" in sram (have global)`},
		{"mac_array.modes[99].float", "fp32", "mac_array.modes[99].float", "out of range"},
		{"mac_array.modes[x].float", "fp32", "mac_array.modes[x].float", "bad segment"},
		{"mac_array", "3", "mac_array", "table, not a value"},
		{"mac_array.rows.x", "3", "mac_array.rows.x", "not a table"},
		{"sram.global.capacity", "256KiBB", "sram.global.capacity", "invalid size"},
		{"sram.global.banks", "3", "sram.global.capacity", "multiple of banks"},
		{"dram.address_mapping", "rochrababgbg", "dram.address_mapping", "once"},
		{"mac_array.dataflow", "xs", "mac_array.dataflow", `got "xs"`},
		{"mac_array.dataflow", "rs", "mac_array.spad", `row stationary dataflow needs`},
		{"mac_array.modes[0].float", "fp32", "mac_array.modes[0].weight_bits", "float mode"},
		{"dram.tRCD", "-3ns", "dram.tRCD", "invalid timing"},
		{"mac_array.modes[0].energy_per_mac_pj", "nan", "mac_array.modes[0].energy_per_mac_pj", "got NaN"},
		{"sram.global.holds", "weights,inputs", "sram", `no buffer holds "outputs"`},
		{"source", "x", "source", "unknown key"},
		// A deeply nested literal is no literal (tomlpos.Check), and no integer.
		{"mac_array.rows", strings.Repeat("[", 40) + strings.Repeat("]", 40), "mac_array.rows", "want an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.path+"="+tt.value, func(t *testing.T) {
			p := loadDefault(t)
			before := p.Clone()
			err := p.Set(tt.path, tt.value)
			var pe *fileio.Error
			if !errors.As(err, &pe) {
				t.Fatalf("want a *fileio.Error, got %v", err)
			}
			if pe.Key != tt.key || !strings.HasPrefix(pe.File, "--set ") {
				t.Errorf("error names file %q key %q, want --set ... and %q: %v", pe.File, pe.Key, tt.key, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if !reflect.DeepEqual(p, before) {
				t.Errorf("profile changed by a failed Set")
			}
		})
	}
}

func TestApplySetsTogether(t *testing.T) {
	p := loadDefault(t)
	// 12 banks x 8 B does not divide 512 KiB: alone it fails, with a new capacity it works.
	if err := p.Set("sram.global.banks", "12"); err == nil {
		t.Fatal("banks=12 alone should fail")
	}
	if err := p.ApplySets([]string{"sram.global.banks=12", "sram.global.capacity=384KiB"}); err != nil {
		t.Fatal(err)
	}
	if g := p.SRAM["global"]; g.Banks != 12 || g.Capacity != 384<<10 {
		t.Errorf("got %+v", g)
	}
	if err := p.ApplySets([]string{"mac_array.rows=8", "nonsense"}); err == nil || p.MACArray.Rows != 16 {
		t.Errorf("a bad argument must fail the whole batch and change nothing: err %v rows %d", err, p.MACArray.Rows)
	}
}

func TestParseSet(t *testing.T) {
	tests := []struct {
		arg, path, value string
		ok               bool
	}{
		{"mac_array.rows=32", "mac_array.rows", "32", true},
		{" dram.kind = LPDDR5 ", "dram.kind", "LPDDR5", true},
		{"description=a=b", "description", "a=b", true},
		{"name=", "name", "", true},
		{"norows", "", "", false},
		{"=3", "", "", false},
	}
	for _, tt := range tests {
		path, value, err := ParseSet(tt.arg)
		if (err == nil) != tt.ok || path != tt.path || value != tt.value {
			t.Errorf("ParseSet(%q) = %q, %q, %v", tt.arg, path, value, err)
		}
	}
}

func TestGetSetRoundTripAllProfiles(t *testing.T) {
	files, _ := fs.Glob(configs.FS, "*.toml")
	for _, f := range files {
		p, err := LoadFS(configs.FS, f)
		if err != nil {
			t.Fatal(err)
		}
		orig := p.Clone()
		for _, k := range KeyPaths(p) {
			v, err := p.Get(k)
			if err != nil {
				t.Fatalf("%s: Get(%s): %v", f, k, err)
			}
			if err := p.Set(k, v); err != nil {
				t.Fatalf("%s: Set(%s, %q): %v", f, k, v, err)
			}
		}
		if !reflect.DeepEqual(p, orig) {
			t.Errorf("%s: Set(k, Get(k)) changed the profile", f)
		}
	}
}

func TestGetQuotesLiteralLookingStrings(t *testing.T) {
	p := loadDefault(t)
	for _, name := range []string{`"quoted"`, "true", "12", "[1]", "it's"} {
		p.Name = name
		v, err := p.Get("name")
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Set("name", v); err != nil || p.Name != name {
			t.Errorf("name %q: Get = %q, after Set %q (%v)", name, v, p.Name, err)
		}
	}
}

func TestKeyPaths(t *testing.T) {
	p := loadDefault(t)
	paths := KeyPaths(p)
	if !sort.StringsAreSorted(paths) {
		t.Error("not sorted")
	}
	for _, want := range []string{"name", "clock", "mac_array.rows", "mac_array.modes[7].float",
		"sram.global.capacity", "sram.global.holds", "dram.tRCD", "vector.op_energy_pj.bf16", "dma.max_outstanding"} {
		if i := sort.SearchStrings(paths, want); i == len(paths) || paths[i] != want {
			t.Errorf("missing %s", want)
		}
	}
	for _, k := range paths {
		if strings.Contains(k, "Source") || strings.Contains(k, "source") {
			t.Errorf("untagged field listed: %s", k)
		}
	}
	// 4 top + 7 array (+ 6 spad + 4 noc) + 9 modes x 5 + 9 per buffer + 48 dram + 3+6 vector + 2 dma.
	if want := 4 + 7 + 6 + 4 + 9*5 + 9 + 48 + 9 + 2; len(paths) != want {
		t.Errorf("%d paths, want %d:\n%s", len(paths), want, strings.Join(paths, "\n"))
	}
}

func TestCloneIsDeep(t *testing.T) {
	p := loadDefault(t)
	c := p.Clone()
	c.SRAM["global"].Capacity = 1
	c.SRAM["global"].Holds[0] = "x"
	c.SRAM["extra"] = &SRAMSpec{}
	c.MACArray.Modes[0].EnergyPerMACPJ = 99
	if p.SRAM["global"].Capacity != 512<<10 || p.SRAM["global"].Holds[0] != "weights" ||
		p.SRAM["extra"] != nil || p.MACArray.Modes[0].EnergyPerMACPJ == 99 {
		t.Error("clone shares memory with the original")
	}
}

func TestNearPaths(t *testing.T) {
	paths := []string{"mac_array.rows", "mac_array.cols", "dram.tRCD", "dram.tRP", "sram.global.banks"}
	tests := []struct{ in, want string }{
		{"mac_array.rowz", "mac_array.rows"},
		{"dram.trcd", "dram.tRCD"},
		{"sram.gloabl.banks", "sram.global.banks"},
	}
	for _, tt := range tests {
		got := nearPaths(paths, tt.in, 5)
		if len(got) == 0 || got[0] != tt.want {
			t.Errorf("nearPaths(%q) = %v, want %s first", tt.in, got, tt.want)
		}
	}
	if got := nearPaths(paths, "completely.different.thing", 5); len(got) != 0 {
		t.Errorf("unexpected suggestions %v", got)
	}
	// A key as long as a command line allows is compared with no key at all (its
	// distance to each would take a second), and still ends with its last segment.
	long := strings.Repeat("x", 128<<10) + ".rows"
	if got := nearPaths(paths, long, 5); len(got) != 1 || got[0] != "mac_array.rows" {
		t.Errorf("nearPaths(128 KB key) = %v, want mac_array.rows", got)
	}
}

func ExampleProfile_Set() {
	p, err := LoadFS(configs.FS, configs.Default)
	if err != nil {
		panic(err)
	}
	if err := p.Set("sram.global.capacity", "1MiB"); err != nil {
		panic(err)
	}
	v, _ := p.Get("sram.global.capacity")
	fmt.Println(v)
	fmt.Println(p.Set("mac_array.rows", "-4"))
	// Output:
	// 1MiB
	// --set mac_array.rows=-4: mac_array.rows: must be at least 1 (got -4)
}

// FuzzSet: an override either fails, leaving the profile as it was, or succeeds; then
// Get reads back text that Set takes to the same profile.
func FuzzSet(f *testing.F) {
	for _, s := range []string{
		"mac_array.rows=32", "sram.global.capacity=1MiB", `sram.global.capacity="256KiB"`,
		"dram.tRCD=20ns", "dram.tCL=30", "mac_array.dataflow=ws", "mac_array.modes[0].energy_per_mac_pj=0.2",
		"mac_array.modes[9].energy_per_mac_pj=1", `name="my chip"`, "technology_node=7nm",
		"dram.data_rate=4266MT/s", "dram.page_policy=closed", "clock=1GHz", "=", "mac_array.rows", "mac_array.rows=-1",
	} {
		f.Add(s)
	}
	base := loadDefault(f)
	f.Fuzz(func(t *testing.T, arg string) {
		p := base.Clone()
		if err := p.ApplySets([]string{arg}); err != nil {
			if !reflect.DeepEqual(p, base) {
				t.Fatalf("--set %q failed (%v) but changed the profile", arg, err)
			}
			return
		}
		path, _, _ := ParseSet(arg)
		text, err := p.Get(path)
		if err != nil {
			t.Fatalf("--set %q took, but Get(%q): %v", arg, path, err)
		}
		q := base.Clone()
		if err := q.Set(path, text); err != nil {
			t.Fatalf("--set %q took, but Set(%q, %q) of what Get read: %v", arg, path, text, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("--set %q and --set %s=%s give different profiles", arg, path, text)
		}
	})
}
