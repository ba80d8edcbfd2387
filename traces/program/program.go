// Package program reads and writes program dumps: one compiled training step
// (kernels.Program) as text, one instruction per line, that `rctsim sim --program`
// replays. The format is documented in package traces, "Program dump".
package program

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/train/numerics"
)

// Magic is the first line of a program dump.
const Magic = "rctsim-program 1"

// Write writes p in the program dump format (see the package documentation).
func Write(w io.Writer, p *kernels.Program) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, Magic)
	fmt.Fprintf(bw, "model %s\n", strconv.Quote(p.Model))
	fmt.Fprintf(bw, "profile %s\n", strconv.Quote(p.Profile))
	fmt.Fprintf(bw, "method %s\n", strconv.Quote(string(p.Method)))
	fmt.Fprintf(bw, "batch %d\n", p.Batch)
	for _, b := range p.Buffers {
		fmt.Fprintf(bw, "buffer %s %d\n", strconv.Quote(b.Name), b.Capacity)
	}
	for _, t := range p.Tensors {
		fmt.Fprintf(bw, "tensor %s %s %d %#x %d %d\n", strconv.Quote(t.Name), t.Class, t.Layer, t.Addr, t.Bytes, t.Bits)
	}
	for i, in := range p.All() {
		fmt.Fprintf(bw, "%d %s %s %d", i, in.Op, in.Phase, in.Layer)
		switch in.Op {
		case kernels.OpLoad, kernels.OpStore:
			fmt.Fprintf(bw, " tensor=%d addr=%#x rows=%d rowbytes=%d stride=%d gather=%t a=%s",
				in.Tensor, in.Addr, in.Rows, in.RowBytes, in.Stride, in.Gather, operand(in.A))
		case kernels.OpGEMM:
			fmt.Fprintf(bw, " m=%d n=%d k=%d format=%s wbits=%d abits=%d acc=%t a=%s b=%s c=%s",
				in.M, in.N, in.K, in.Format, in.WeightBits, in.ActBits, in.Accumulate, operand(in.A), operand(in.B), operand(in.C))
			if c := in.Conv; c != (hw.Conv{}) {
				fmt.Fprintf(bw, " conv=%d:%d:%d:%d:%d:%d:%d:%d:%d", c.N, c.M, c.C, c.R, c.S, c.E, c.F, c.U, c.D)
			}
		case kernels.OpVector:
			fmt.Fprintf(bw, " op=%s elems=%d format=%s bits=%d a=%s b=%s c=%s",
				in.VOp, in.Elems, in.Format, in.Bits, operand(in.A), operand(in.B), operand(in.C))
		}
		if in.Fn != nil {
			f := in.Fn
			fmt.Fprintf(bw, " fn=%s;%s;%s;%s;%s;%s", f.M, f.N, f.K, f.A, f.B, f.C)
			if f.Extended() {
				fmt.Fprintf(bw, ";%d;%s;%d:%d:%d", f.Group, f.Role, f.Index.Buffer, f.Index.Offset, f.Index.Bytes)
			}
		}
		bw.WriteString(" deps=")
		for j, d := range in.Deps {
			if j > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString(strconv.Itoa(int(d)))
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// operand formats buffer:offset:bytes:class:bits, or "-" for no operand.
func operand(o kernels.Operand) string {
	if o == (kernels.Operand{}) {
		return "-"
	}
	return fmt.Sprintf("%d:%d:%d:%s:%d", o.Buffer, o.Offset, o.Bytes, o.Class, o.Bits)
}

// Read reads a program dump. The result is checked with Program.Validate, so a
// program that reads is one the simulator can run (given a profile with its buffers):
// sizes within kernels' limits, products that do not wrap, integer operands at least a
// bit wide. source names the input in errors, which are *fileio.Error whose Key is the
// field at fault, e.g. "step.prog:12:5: rows: must be a positive integer"; a rule of
// Validate broken by an instruction is reported at that instruction's line.
func Read(r io.Reader, source string) (*kernels.Program, error) {
	pr := &programReader{file: source, sc: bufio.NewScanner(r), p: &kernels.Program{}}
	pr.sc.Buffer(make([]byte, 64*1024), 1<<20)
	if err := pr.read(); err != nil {
		return nil, err
	}
	p := pr.p
	if err := p.Validate(); err != nil {
		var ie *kernels.InstrError
		if errors.As(err, &ie) && ie.Index < len(pr.lines) {
			return nil, &fileio.Error{File: source, Line: pr.lines[ie.Index], Key: ie.Field, Err: err}
		}
		return nil, &fileio.Error{File: source, Err: err}
	}
	p.Footprint = p.ComputeFootprint()
	return p, nil
}

type programReader struct {
	file  string
	sc    *bufio.Scanner
	p     *kernels.Program
	line  int
	text  string
	deps  []int32 // backing store of every instruction's Deps
	lines []int   // the line of each instruction, for Validate's errors
}

func (pr *programReader) errAt(col int, field string, format string, args ...any) error {
	return &fileio.Error{File: pr.file, Line: pr.line, Col: col, Key: field, Err: fmt.Errorf(format, args...)}
}

// fields splits a line at spaces, remembering each field's column (1-based).
func (pr *programReader) fields() (fs []string, cols []int) {
	s := pr.text
	for i := 0; i < len(s); {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			break
		}
		j := i
		if s[i] == '"' {
			// A quoted name may hold spaces: find its closing quote.
			j++
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			j++
			if j > len(s) {
				j = len(s)
			}
		}
		for j < len(s) && s[j] != ' ' {
			j++
		}
		fs, cols = append(fs, s[i:j]), append(cols, i+1)
		i = j
	}
	return fs, cols
}

func (pr *programReader) next() bool {
	for pr.sc.Scan() {
		pr.line++
		pr.text = pr.sc.Text()
		if t := strings.TrimSpace(pr.text); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		return true
	}
	return false
}

func (pr *programReader) read() error {
	if !pr.next() {
		if err := pr.sc.Err(); err != nil {
			return &fileio.Error{File: pr.file, Err: err}
		}
		return &fileio.Error{File: pr.file, Err: errors.New("empty program")}
	}
	if strings.TrimSpace(pr.text) != Magic {
		return pr.errAt(1, "", "not a program dump: first line must be %q", Magic)
	}
	header := map[string]bool{}
	for pr.next() {
		fs, cols := pr.fields()
		if len(fs) == 0 {
			continue
		}
		var err error
		switch fs[0] {
		case "model", "profile", "method", "batch":
			if header[fs[0]] {
				return pr.errAt(cols[0], fs[0], "given twice")
			}
			header[fs[0]] = true
			err = pr.header(fs, cols)
		case "buffer":
			err = pr.buffer(fs, cols)
		case "tensor":
			err = pr.tensor(fs, cols)
		default:
			err = pr.instr(fs, cols)
		}
		if err != nil {
			return err
		}
	}
	if err := pr.sc.Err(); err != nil {
		return &fileio.Error{File: pr.file, Line: pr.line + 1, Err: err}
	}
	for _, h := range []string{"model", "profile", "method", "batch"} {
		if !header[h] {
			return &fileio.Error{File: pr.file, Key: h, Err: errors.New("missing header line")}
		}
	}
	return nil
}

func (pr *programReader) want(fs []string, cols []int, n int) error {
	if len(fs) != n {
		col := 1
		if len(cols) > 0 {
			col = cols[len(cols)-1]
		}
		return pr.errAt(col, fs[0], "want %d fields, got %d", n, len(fs))
	}
	return nil
}

func (pr *programReader) str(s string, col int, field string) (string, error) {
	v, err := strconv.Unquote(s)
	if err != nil {
		return "", pr.errAt(col, field, "want a quoted string, got %s", s)
	}
	return v, nil
}

func (pr *programReader) int(s string, col int, field string, lo, hi int64) (int64, error) {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil || v < lo || v > hi {
		return 0, pr.errAt(col, field, "want an integer in %d..%d, got %q", lo, hi, s)
	}
	return v, nil
}

func (pr *programReader) header(fs []string, cols []int) error {
	if err := pr.want(fs, cols, 2); err != nil {
		return err
	}
	if fs[0] == "batch" {
		b, err := pr.int(fs[1], cols[1], "batch", 1, 1<<30)
		pr.p.Batch = int(b)
		return err
	}
	v, err := pr.str(fs[1], cols[1], fs[0])
	if err != nil {
		return err
	}
	switch fs[0] {
	case "model":
		pr.p.Model = v
	case "profile":
		pr.p.Profile = v
	default:
		m, err := numerics.ParseMethod(v)
		if err != nil {
			return pr.errAt(cols[1], "method", "%v", err)
		}
		pr.p.Method = m
	}
	return nil
}

func (pr *programReader) buffer(fs []string, cols []int) error {
	if err := pr.want(fs, cols, 3); err != nil {
		return err
	}
	name, err := pr.str(fs[1], cols[1], "buffer")
	if err != nil {
		return err
	}
	capacity, err := pr.int(fs[2], cols[2], "capacity", 1, 1<<50)
	if err != nil {
		return err
	}
	pr.p.Buffers = append(pr.p.Buffers, kernels.Buffer{Name: name, Capacity: capacity})
	return nil
}

func (pr *programReader) tensor(fs []string, cols []int) error {
	if err := pr.want(fs, cols, 7); err != nil {
		return err
	}
	name, err := pr.str(fs[1], cols[1], "tensor")
	if err != nil {
		return err
	}
	class, err := kernels.ParseTensorClass(fs[2])
	if err != nil || class == kernels.ClassNone {
		return pr.errAt(cols[2], "class", "unknown tensor class %q", fs[2])
	}
	t := kernels.Tensor{Name: name, Class: class}
	var layer, addr int64
	if layer, err = pr.int(fs[3], cols[3], "layer", -1, 1<<31-1); err != nil {
		return err
	}
	if addr, err = pr.int(fs[4], cols[4], "addr", 0, 1<<50); err != nil {
		return err
	}
	if t.Bytes, err = pr.int(fs[5], cols[5], "bytes", 0, 1<<50-addr); err != nil {
		return err // a tensor ends within the 2^50 bytes a program may span
	}
	bits, err := pr.int(fs[6], cols[6], "bits", 1, 64)
	if err != nil {
		return err
	}
	t.Layer, t.Addr, t.Bits = int32(layer), uint64(addr), int(bits)
	pr.p.Tensors = append(pr.p.Tensors, t)
	return nil
}

// instrKeys lists each op's key=value fields, in the order they are written.
var instrKeys = map[kernels.Op][]string{
	kernels.OpLoad:   {"tensor", "addr", "rows", "rowbytes", "stride", "gather", "a"},
	kernels.OpStore:  {"tensor", "addr", "rows", "rowbytes", "stride", "gather", "a"},
	kernels.OpGEMM:   {"m", "n", "k", "format", "wbits", "abits", "acc", "a", "b", "c"},
	kernels.OpVector: {"op", "elems", "format", "bits", "a", "b", "c"},
}

func (pr *programReader) instr(fs []string, cols []int) error {
	index := pr.p.Len()
	if n, err := strconv.Atoi(fs[0]); err != nil || n != index {
		return pr.errAt(cols[0], "index", "want instruction %d (or a header, buffer or tensor line), got %q", index, fs[0])
	}
	if len(fs) < 4 {
		return pr.errAt(cols[len(cols)-1], "", "an instruction needs an op, a phase and a layer")
	}
	var in kernels.Instr
	op := kernels.Op(255)
	for o := kernels.Op(0); o < kernels.NumOps; o++ {
		if o.String() == fs[1] {
			op = o
		}
	}
	if op == 255 {
		return pr.errAt(cols[1], "op", "unknown operation %q (want load, store, gemm or vector)", fs[1])
	}
	in.Op = op
	phase := models.NumPhases
	for p := models.Phase(0); p < models.NumPhases; p++ {
		if p.String() == fs[2] {
			phase = p
		}
	}
	if phase == models.NumPhases {
		return pr.errAt(cols[2], "phase", "unknown phase %q", fs[2])
	}
	in.Phase = phase
	layer, err := pr.int(fs[3], cols[3], "layer", -1, 1<<31-1)
	if err != nil {
		return err
	}
	in.Layer = int32(layer)
	// The required keys, then the optional ones present (in their order), then deps.
	keys := append([]string(nil), instrKeys[op]...)
	var optional []string
	switch op {
	case kernels.OpGEMM:
		optional = []string{"conv", "fn"}
	default: // vector ops, and loads and stores that gather by indices
		optional = []string{"fn"}
	}
	if extra := len(fs) - 4 - len(keys) - 1; extra > 0 {
		next := 4 + len(keys)
		for _, o := range optional {
			if extra > 0 && strings.HasPrefix(fs[next], o+"=") {
				keys = append(keys, o)
				next++
				extra--
			}
		}
	}
	keys = append(keys, "deps")
	if len(fs)-4 != len(keys) {
		all := append(append(append([]string(nil), instrKeys[op]...), bracket(optional)...), "deps")
		return pr.errAt(cols[len(cols)-1], "", "a %s instruction has fields %s", op, strings.Join(all, " "))
	}
	for j, key := range keys {
		f, col := fs[4+j], cols[4+j]
		k, v, ok := strings.Cut(f, "=")
		if !ok || k != key {
			return pr.errAt(col, key, "want %s=..., got %q", key, f)
		}
		if err := pr.field(&in, key, v, col+len(key)+1); err != nil {
			return err
		}
	}
	pr.p.Append(in)
	pr.lines = append(pr.lines, pr.line)
	return nil
}

func (pr *programReader) field(in *kernels.Instr, key, v string, col int) error {
	num := func(lo, hi int64) (int64, error) { return pr.int(v, col, key, lo, hi) }
	flag := func() (bool, error) {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, pr.errAt(col, key, "want true or false, got %q", v)
		}
		return b, nil
	}
	const big = 1 << 50
	var err error
	var n int64
	switch key {
	case "tensor":
		n, err = num(0, 1<<31-1)
		in.Tensor = int32(n)
	case "addr":
		n, err = num(0, big)
		in.Addr = uint64(n)
	case "rows":
		in.Rows, err = num(1, big)
	case "rowbytes":
		in.RowBytes, err = num(1, big)
	case "stride":
		in.Stride, err = num(0, big)
	case "gather":
		in.Gather, err = flag()
	case "acc":
		in.Accumulate, err = flag()
	case "m":
		in.M, err = num(1, big)
	case "n":
		in.N, err = num(1, big)
	case "k":
		in.K, err = num(1, big)
	case "elems":
		in.Elems, err = num(1, big)
	case "wbits":
		n, err = num(0, 64)
		in.WeightBits = int(n)
	case "abits":
		n, err = num(0, 64)
		in.ActBits = int(n)
	case "bits":
		n, err = num(0, 64)
		in.Bits = int(n)
	case "format":
		in.Format, err = kernels.ParseFormat(v)
		if err != nil {
			err = pr.errAt(col, key, "%v", err)
		}
	case "op":
		in.VOp, err = kernels.ParseVectorOp(v)
		if err != nil {
			err = pr.errAt(col, key, "%v", err)
		}
	case "a", "b", "c":
		var o kernels.Operand
		if o, err = pr.operand(v, col, key); err == nil {
			switch key {
			case "a":
				in.A = o
			case "b":
				in.B = o
			default:
				in.C = o
			}
		}
	case "deps":
		err = pr.depList(in, v, col)
	case "fn":
		in.Fn, err = pr.funcDesc(v, col)
	case "conv":
		in.Conv, err = pr.conv(v, col)
	}
	return err
}

// bracket marks optional keys for messages: "[conv]".
func bracket(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = "[" + k + "]"
	}
	return out
}

// conv reads N:M:C:R:S:E:F:U:D, nine positive integers.
func (pr *programReader) conv(v string, col int) (hw.Conv, error) {
	fs := strings.Split(v, ":")
	if len(fs) != 9 {
		return hw.Conv{}, pr.errAt(col, "conv", "want N:M:C:R:S:E:F:U:D, got %q", v)
	}
	var x [9]int64
	for i, f := range fs {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n < 1 || n > 1<<32 {
			return hw.Conv{}, pr.errAt(col, "conv", "bad dimension %q in %q (want 1..2^32)", f, v)
		}
		x[i] = n
	}
	return hw.Conv{N: x[0], M: x[1], C: x[2], R: x[3], S: x[4], E: x[5], F: x[6], U: x[7], D: x[8]}, nil
}

// funcDesc reads M;N;K;A;B;C: three tiles of 8 integers and three boxes of 6, each
// colon-separated; then, optionally, ;group;role;buffer:offset:bytes.
func (pr *programReader) funcDesc(v string, col int) (*kernels.FuncDesc, error) {
	parts := strings.Split(v, ";")
	if len(parts) != 6 && len(parts) != 9 {
		return nil, pr.errAt(col, "fn", "want M;N;K;A;B;C or M;N;K;A;B;C;group;role;index, got %q", v)
	}
	ints := func(s string, n int) ([]int64, error) {
		fs := strings.Split(s, ":")
		if len(fs) != n {
			return nil, pr.errAt(col, "fn", "want %d numbers in %q", n, s)
		}
		out := make([]int64, n)
		for i, f := range fs {
			x, err := strconv.ParseInt(f, 10, 64)
			if err != nil || x < 0 || x > 1<<50 {
				return nil, pr.errAt(col, "fn", "bad number %q in %q", f, s)
			}
			out[i] = x
		}
		return out, nil
	}
	f := &kernels.FuncDesc{}
	for i, t := range []*kernels.Tile{&f.M, &f.N, &f.K} {
		x, err := ints(parts[i], 8)
		if err != nil {
			return nil, err
		}
		*t = kernels.Tile{Lo: x[0], Hi: x[1], N0: x[2], N1: x[3], H0: x[4], H1: x[5], C0: x[6], C1: x[7]}
	}
	for i, b := range []*kernels.Box{&f.A, &f.B, &f.C} {
		x, err := ints(parts[3+i], 6)
		if err != nil {
			return nil, err
		}
		*b = kernels.Box{N0: x[0], N1: x[1], C0: x[2], C1: x[3], H0: x[4], H1: x[5]}
	}
	if len(parts) == 9 {
		g, err := ints(parts[6], 1)
		if err != nil {
			return nil, err
		}
		f.Group = g[0]
		if f.Role, err = kernels.ParseRole(parts[7]); err != nil {
			return nil, pr.errAt(col, "fn", "%v", err)
		}
		x, err := ints(parts[8], 3)
		if err != nil {
			return nil, err
		}
		if x[0] > 1<<20 {
			return nil, pr.errAt(col, "fn", "buffer %d in %q", x[0], parts[8])
		}
		f.Index = kernels.SRAMRef{Buffer: int(x[0]), Offset: x[1], Bytes: x[2]}
		if !f.Extended() {
			return nil, pr.errAt(col, "fn", "the group, role and index of %q are all zero: write M;N;K;A;B;C", v)
		}
	}
	return f, nil
}

func (pr *programReader) operand(v string, col int, key string) (kernels.Operand, error) {
	if v == "-" {
		return kernels.Operand{}, nil
	}
	parts := strings.Split(v, ":")
	if len(parts) != 5 {
		return kernels.Operand{}, pr.errAt(col, key, "want buffer:offset:bytes:class:bits or -, got %q", v)
	}
	var o kernels.Operand
	nums := [4]int64{}
	for j, idx := range []int{0, 1, 2, 4} {
		n, err := strconv.ParseInt(parts[idx], 10, 64)
		if err != nil || n < 0 || n > 1<<50 {
			return o, pr.errAt(col, key, "bad number %q in operand %q", parts[idx], v)
		}
		nums[j] = n
	}
	class, err := kernels.ParseTensorClass(parts[3])
	if err != nil {
		return o, pr.errAt(col, key, "%v", err)
	}
	if nums[3] > 64 || nums[0] > 1<<20 {
		return o, pr.errAt(col, key, "operand %q out of range", v)
	}
	o.Buffer, o.Offset, o.Bytes, o.Class, o.Bits = int(nums[0]), nums[1], nums[2], class, int(nums[3])
	return o, nil
}

func (pr *programReader) depList(in *kernels.Instr, v string, col int) error {
	if v == "" {
		return nil
	}
	start := len(pr.deps)
	for _, f := range strings.Split(v, ",") {
		d, err := strconv.ParseInt(f, 10, 32)
		if err != nil || d < 0 || int(d) >= pr.p.Len() {
			return pr.errAt(col, "deps", "dependency %q must be an earlier instruction", f)
		}
		pr.deps = append(pr.deps, int32(d))
	}
	in.Deps = pr.deps[start:len(pr.deps):len(pr.deps)]
	return nil
}
