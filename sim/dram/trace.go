package dram

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/traces/fileio"
)

// ErrEmptyTrace is the cause of the error for a trace without requests.
var ErrEmptyTrace = errors.New("no requests (a trace needs at least one line of address, READ or WRITE, issue cycle)")

// maxTraceLine bounds a trace line; a longer one is an error rather than a huge buffer.
const maxTraceLine = 4096

// ReadTrace reads a memory request trace in DRAMsim3's format, plain or
// gzip-compressed (recognised by its magic bytes): one request per line, three fields
// separated by spaces or tabs,
//
//	0x7f3a1c40 READ 1024
//
// a hexadecimal byte address (0x optional), READ or WRITE (in any case; DRAMsim3's
// aliases P_MEM_RD and P_MEM_WR too) and the decimal DRAM cycle at which the request
// is issued. Blank lines and lines starting with # are skipped. Each request moves one
// burst of the DRAM it is replayed on (the offset within the burst is ignored);
// requests are issued in file order, so a cycle smaller than the previous line's
// means "as soon as possible after it"; a cycle must not exceed MaxCycle. A trace
// without requests is an error (ErrEmptyTrace): replaying nothing is almost certainly
// the wrong file. source names the trace in errors.
//
// Errors are *fileio.Error naming the line (for a damaged gzip stream, the line being
// read when it broke): "source:line: message"; the empty trace's names no line.
func ReadTrace(r io.Reader, source string) ([]Request, error) {
	br := bufio.NewReader(r)
	line := 0
	var in io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, traceError(source, 1, fmt.Errorf("gzip: %w", err))
		}
		defer zr.Close()
		in = zr
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 256), maxTraceLine)
	var reqs []Request
	for sc.Scan() {
		line++
		req, ok, err := parseTraceLine(sc.Bytes())
		if err != nil {
			return nil, traceError(source, line, err)
		}
		if ok {
			reqs = append(reqs, req)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes", maxTraceLine)
		}
		return nil, traceError(source, line+1, err)
	}
	if len(reqs) == 0 {
		name := source
		if name == "" {
			name = "trace"
		}
		return nil, &fileio.Error{File: name, Err: ErrEmptyTrace}
	}
	return reqs, nil
}

// traceError is the error at a line of the trace source. An unnamed trace has no file
// to put before the line, so its errors read "line 12: message": File holds "line 12"
// and Line is 0.
func traceError(source string, line int, err error) *fileio.Error {
	if source == "" {
		return &fileio.Error{File: "line " + strconv.Itoa(line), Err: err}
	}
	return &fileio.Error{File: source, Line: line, Err: err}
}

// parseTraceLine reads one line; ok is false for a blank or comment line.
func parseTraceLine(b []byte) (req Request, ok bool, err error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == '#' {
		return req, false, nil
	}
	fields := bytes.Fields(b)
	if len(fields) != 3 {
		return req, false, fmt.Errorf("want 3 fields (hex address, READ or WRITE, issue cycle), got %d in %q", len(fields), clip(b))
	}
	a := string(fields[0])
	hex := strings.TrimPrefix(strings.TrimPrefix(a, "0x"), "0X")
	if hex == "" || hex[0] == '+' || hex[0] == '-' {
		return req, false, fmt.Errorf("address %q is not a hexadecimal number", clip(fields[0]))
	}
	if req.Addr, err = strconv.ParseUint(hex, 16, 64); err != nil {
		return req, false, fmt.Errorf("address %q is not a 64-bit hexadecimal number", clip(fields[0]))
	}
	switch strings.ToUpper(string(fields[1])) {
	case "READ", "P_MEM_RD":
	case "WRITE", "P_MEM_WR":
		req.Write = true
	default:
		return req, false, fmt.Errorf("operation %q: want READ or WRITE", clip(fields[1]))
	}
	c := string(fields[2])
	if c == "" || c[0] == '+' || c[0] == '-' {
		return req, false, fmt.Errorf("cycle %q is not a non-negative decimal number", clip(fields[2]))
	}
	if req.Issue, err = strconv.ParseUint(c, 10, 64); err != nil {
		return req, false, fmt.Errorf("cycle %q is not a non-negative 64-bit decimal number", clip(fields[2]))
	}
	if req.Issue > MaxCycle {
		return req, false, fmt.Errorf("cycle %d is beyond the last cycle the model simulates, %d", req.Issue, uint64(MaxCycle))
	}
	return req, true, nil
}

// clip shortens text quoted in an error.
func clip(b []byte) string {
	const n = 40
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
