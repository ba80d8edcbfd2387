package program

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/train/numerics"
)

func compileLeNet(t testing.TB, method numerics.Method) (*hw.Profile, *kernels.Program) {
	t.Helper()
	p, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	plan := numerics.Plan{Bits: []int{8, 6, 8, 8, 8}, NextBits: []int{8, 7, 8, 8, 8}, Control: true}
	if method == numerics.NITI {
		plan = numerics.Plan{Bits: []int{8}} // int8 weights, no precision control
	}
	prog, err := kernels.Compile(models.LeNet5(), p, kernels.Options{Method: method, Batch: 4, Functional: method == numerics.RCT, Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	return p, prog
}

func TestProgramRoundTrip(t *testing.T) {
	for _, m := range numerics.Methods {
		p, prog := compileLeNet(t, m)
		var first bytes.Buffer
		if err := Write(&first, prog); err != nil {
			t.Fatal(err)
		}
		back, err := Read(bytes.NewReader(first.Bytes()), "step.prog")
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		var second bytes.Buffer
		Write(&second, back)
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Fatalf("%s: the dump changes when read and written again", m)
		}
		if back.Footprint != prog.Footprint || back.Len() != prog.Len() {
			t.Errorf("%s: footprint or instruction count differs after reading", m)
		}
		// The replayed program simulates exactly like the original.
		run := func(pr *kernels.Program) *sim.Stats {
			mach, err := sim.New(p, sim.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s, err := mach.Run(pr)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		a, b := run(prog), run(back)
		if a.Cycles != b.Cycles || a.Energy != b.Energy {
			t.Errorf("%s: replay gives %d cycles %g pJ, original %d cycles %g pJ", m, b.Cycles, b.Energy.Total(), a.Cycles, a.Energy.Total())
		}
	}
}

// TestFunctionalProgramRoundTrip round-trips a transformer compiled for functional
// execution, whose descriptors carry groups, roles and gather indices.
func TestFunctionalProgramRoundTrip(t *testing.T) {
	p, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := kernels.Compile(models.Transformer(), p, kernels.Options{Method: numerics.RCT, Batch: 1, Functional: true})
	if err != nil {
		t.Fatal(err)
	}
	var first, second bytes.Buffer
	if err := Write(&first, prog); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.String(), ";scores;") || !strings.Contains(first.String(), "gather=true") {
		t.Fatal("the dump lacks the extended descriptors")
	}
	back, err := Read(bytes.NewReader(first.Bytes()), "step.prog")
	if err != nil {
		t.Fatal(err)
	}
	Write(&second, back)
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Fatal("the dump changes when read and written again")
	}
	for i := range prog.Len() {
		if a, b := prog.Instr(i).Fn, back.Instr(i).Fn; (a == nil) != (b == nil) || (a != nil && *a != *b) {
			t.Fatalf("instruction %d: descriptor %+v read back as %+v", i, a, b)
		}
	}
}

func TestReadProgramErrors(t *testing.T) {
	_, prog := compileLeNet(t, numerics.RCT)
	var good bytes.Buffer
	Write(&good, prog)
	lines := strings.Split(good.String(), "\n")
	firstInstr := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "0 ") {
			firstInstr = i
			break
		}
	}
	replace := func(line int, text string) string {
		c := append([]string(nil), lines...)
		c[line] = text
		return strings.Join(c, "\n")
	}
	gemm := 0
	for i, l := range lines {
		if strings.Contains(l, " gemm ") {
			gemm = i
			break
		}
	}
	cases := []struct {
		name, text string
		line       int
		field      string
	}{
		{"empty", "", 0, ""},
		{"magic", "rctsim-program 9\n", 1, ""},
		{"batch", replace(4, "batch zero"), 5, "batch"},
		{"method", replace(3, `method "sgd"`), 4, "method"},
		{"index", replace(firstInstr, strings.Replace(lines[firstInstr], "0 ", "7 ", 1)), firstInstr + 1, "index"},
		{"op", replace(firstInstr, strings.Replace(lines[firstInstr], " load ", " fetch ", 1)), firstInstr + 1, "op"},
		{"phase", replace(firstInstr, strings.Replace(lines[firstInstr], " forward ", " sideways ", 1)), firstInstr + 1, "phase"},
		{"rows", replace(firstInstr, strings.Replace(lines[firstInstr], " rows=", " rows=-", 1)), firstInstr + 1, "rows"},
		{"operand", replace(gemm, strings.Replace(lines[gemm], " a=", " a=x:", 1)), gemm + 1, "a"},
		{"deps", replace(gemm, lines[gemm]+",99999"), gemm + 1, "deps"},
		{"missing field", replace(gemm, strings.Replace(lines[gemm], " acc=false", "", 1)), gemm + 1, ""},
		{"conv", replace(gemm, strings.Replace(lines[gemm], " conv=", " conv=0:", 1)), gemm + 1, "conv"},
		{"conv macs", replace(gemm, strings.Replace(lines[gemm], " conv=", " conv=7", 1)), gemm + 1, "conv"},
		{"conv order", replace(gemm, strings.Replace(lines[gemm], " deps=", " conv=1:1:1:1:1:1:1:1:1 deps=", 1)), gemm + 1, ""},
	}
	if !strings.Contains(lines[gemm], " conv=") {
		t.Fatalf("a convolution's GEMM has no conv field: %s", lines[gemm])
	}
	for _, c := range cases {
		_, err := Read(strings.NewReader(c.text), "bad.prog")
		var pe *fileio.Error
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %v, want a *fileio.Error", c.name, err)
			continue
		}
		if pe.Line != c.line || (c.field != "" && pe.Key != c.field) || pe.File != "bad.prog" {
			t.Errorf("%s: %v (line %d field %q), want line %d field %q", c.name, err, pe.Line, pe.Key, c.line, c.field)
		}
	}
}

func FuzzReadProgram(f *testing.F) {
	_, prog := compileLeNet(f, numerics.QAT)
	var b bytes.Buffer
	Write(&b, prog)
	f.Add(b.String())
	f.Add(Magic + "\nmodel \"m\"\nprofile \"p\"\nmethod \"rct\"\nbatch 1\nbuffer \"g\" 64\n")
	for _, c := range overflowCases(f) {
		f.Add(c.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Read(strings.NewReader(text), "fuzz.prog")
		if err != nil {
			var pe *fileio.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *fileio.Error: %v", err, err)
			}
			return
		}
		// What reads is within the limits the simulator relies on.
		if m := p.MACs(); m < 0 || m > kernels.MaxMACs {
			t.Fatalf("program of %d MACs read", m)
		}
		for i, in := range p.All() {
			if b := in.Bytes(); b < 0 || b > kernels.MaxDMABytes {
				t.Fatalf("instruction %d moves %d bytes", i, b)
			}
		}
		// Whatever reads must write and read back to the same text.
		var once, twice bytes.Buffer
		if err := Write(&once, p); err != nil {
			t.Fatal(err)
		}
		q, err := Read(bytes.NewReader(once.Bytes()), "again.prog")
		if err != nil {
			t.Fatalf("a program that read does not read back: %v", err)
		}
		Write(&twice, q)
		if !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatal("round trip is not stable")
		}
	})
}

// overflowCase is a valid dump edited so that a product wraps or a size passes
// kernels' limits, with the line and key its error must name.
type overflowCase struct {
	name, text string
	line       int
	key, msg   string
}

func overflowCases(tb testing.TB) []overflowCase {
	_, prog := compileLeNet(tb, numerics.RCT)
	var good bytes.Buffer
	Write(&good, prog)
	lines := strings.Split(good.String(), "\n")
	find := func(words ...string) int {
	next:
		for i, l := range lines {
			for _, w := range words {
				if !strings.Contains(l, w) {
					continue next
				}
			}
			return i
		}
		tb.Fatalf("no line with %q", words)
		return 0
	}
	// set rewrites key=value fields of line i.
	set := func(i int, kv ...string) string {
		fields := strings.Fields(lines[i])
		for j := 0; j < len(kv); j += 2 {
			for f := range fields {
				if strings.HasPrefix(fields[f], kv[j]+"=") {
					fields[f] = kv[j] + "=" + kv[j+1]
				}
			}
		}
		c := append([]string(nil), lines...)
		c[i] = strings.Join(fields, " ")
		return strings.Join(c, "\n")
	}
	load, gemm := find(" load "), find(" gemm ")
	vector, intVector := find(" vector "), find(" vector ", "format=int")
	tensor := find("tensor ", `"input"`)
	withTensor := append([]string(nil), lines...)
	withTensor[tensor] = `tensor "input" activations -1 0x3ffffffffffff 4096 8`
	return []overflowCase{
		// 2^50 rows of 2^14 bytes is 2^64 bytes: a load of 0 bytes, which used to pass
		// validation and then list 2^50 rows of bursts.
		{"load size wraps to 0", set(load, "rows", "1125899906842624", "rowbytes", "16384", "a", "0:0:0:weights:8"), load + 1, "rows", "one transfer moves at most"},
		{"load size wraps within the row limit", set(load, "rows", "1048576", "rowbytes", "17592186044416", "a", "0:0:0:weights:8"), load + 1, "rowbytes", "at most 67108864 bytes"},
		// 16383 rows 2^50 apart wrap the end of the region to before its start.
		{"load span wraps", set(load, "rows", "16384", "rowbytes", "1", "stride", "1125899906842624", "a", "0:0:16384:weights:8"), load + 1, "rows", "runs past tensor"},
		{"MAC count wraps", set(gemm, "m", "1125899906842624", "n", "1125899906842624", "k", "1125899906842624"), gemm + 1, "m", "M=1125899906842624"},
		{"MACs of one GEMM", set(gemm, "m", "1048576", "n", "1048576", "k", "1048576"), gemm + 1, "m", "more than 2^50"},
		// 0-bit integer operands used to run in the chip's 2x2 mode.
		{"0-bit weights", set(gemm, "wbits", "0"), gemm + 1, "wbits", "0 bits"},
		{"0-bit activations", set(gemm, "abits", "0"), gemm + 1, "abits", "0 bits"},
		{"0-bit integer lanes", set(intVector, "bits", "0"), intVector + 1, "bits", "0 bits"},
		{"GEMM without an operand", set(gemm, "b", "-"), gemm + 1, "b", "operand B is empty"},
		{"vector of 2^50+ elements", set(vector, "elems", "1125899906842625"), vector + 1, "elems", ""},
		{"tensor past 2^50 bytes", strings.Join(withTensor, "\n"), tensor + 1, "bytes", "want an integer in 0..1,"},
	}
}

// TestReadProgramOverflow checks that each overflow case fails at its instruction's
// line, naming the field, instead of running with a wrapped (small) value or
// exhausting memory.
func TestReadProgramOverflow(t *testing.T) {
	for _, c := range overflowCases(t) {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(c.text), "bad.prog")
			var pe *fileio.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *fileio.Error", err)
			}
			if pe.File != "bad.prog" || pe.Line != c.line || pe.Key != c.key || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%v (line %d key %q), want line %d key %q saying %q", err, pe.Line, pe.Key, c.line, c.key, c.msg)
			}
		})
	}
}
