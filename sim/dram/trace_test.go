package dram

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/traces/fileio"
)

func TestReadTrace(t *testing.T) {
	in := "# a DRAMsim3 trace\n" +
		"0x12345680 READ 121\n" +
		"\n" +
		"  0X40\tWRITE\t122  \n" +
		"ff read 0\n" +
		"0x0 P_MEM_WR 281474976710656\n" +
		"0xffffffffffffffff P_MEM_RD 7\n"
	want := []Request{
		{Addr: 0x12345680, Issue: 121},
		{Addr: 0x40, Write: true, Issue: 122},
		{Addr: 0xff, Issue: 0},
		{Addr: 0, Write: true, Issue: MaxCycle},
		{Addr: 1<<64 - 1, Issue: 7},
	}
	for _, zip := range []bool{false, true} {
		data := []byte(in)
		if zip {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write(data)
			w.Close()
			data = b.Bytes()
		}
		got, err := ReadTrace(bytes.NewReader(data), "t.trace")
		if err != nil {
			t.Fatalf("gzip %v: %v", zip, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("gzip %v:\n got %v\nwant %v", zip, got, want)
		}
	}
}

// TestReadTraceEmpty: a trace without requests is an error naming the file.
func TestReadTraceEmpty(t *testing.T) {
	for _, in := range []string{"", "\n\n", "# only a comment\n", "  \t\n# two\n"} {
		_, err := ReadTrace(strings.NewReader(in), "empty.trace")
		var te *fileio.Error
		if !errors.As(err, &te) || !errors.Is(err, ErrEmptyTrace) || te.Line != 0 || !strings.HasPrefix(err.Error(), "empty.trace: no requests") {
			t.Errorf("ReadTrace(%q): %v, want an ErrEmptyTrace naming empty.trace", in, err)
		}
	}
}

func TestReadTraceErrors(t *testing.T) {
	var corrupt bytes.Buffer
	w := gzip.NewWriter(&corrupt)
	w.Write([]byte("0x0 READ 0\n0x40 READ 1\n"))
	w.Close()
	broken := corrupt.Bytes()[:corrupt.Len()-12] // truncated: the checksum is lost

	tests := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"two fields", "0x0 READ 0\n0x40 READ\n", 2, "3 fields"},
		{"four fields", "0x0 READ 0 extra\n", 1, "3 fields"},
		{"bad address", "# c\nzz READ 0\n", 2, "hexadecimal"},
		{"empty hex", "0x READ 0\n", 1, "hexadecimal"},
		{"signed address", "+40 READ 0\n", 1, "hexadecimal"},
		{"address overflow", "0x1ffffffffffffffff READ 0\n", 1, "64-bit"},
		{"bad operation", "0x0 READ 0\n0x0 FETCH 1\n", 2, "READ or WRITE"},
		{"negative cycle", "0x0 READ -1\n", 1, "non-negative"},
		{"hex cycle", "0x0 READ 0x10\n", 1, "decimal"},
		{"cycle overflow", "0x0 READ 18446744073709551616\n", 1, "64-bit"},
		{"cycle near 2^64", "0x0 READ 0\n0x40 READ 18446744073709551615\n", 2, "beyond the last cycle"},
		{"cycle just past the last", "0x0 READ 281474976710657\n", 1, "beyond the last cycle"},
		{"long line", "0x0 READ 0\n" + strings.Repeat("0", maxTraceLine+10) + " READ 0\n", 2, "longer"},
		{"gzip header", "\x1f\x8b\x00\x00", 1, "gzip"},
		{"truncated gzip", string(broken), 3, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadTrace(strings.NewReader(tt.in), "x.trace")
			var te *fileio.Error
			if !errors.As(err, &te) {
				t.Fatalf("error %v is not a *fileio.Error", err)
			}
			if te.Line != tt.line || te.File != "x.trace" || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q (line %d), want line %d mentioning %q", err, te.Line, tt.line, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("x.trace:%d: ", tt.line)) {
				t.Errorf("error %q does not start with file:line", err)
			}
		})
	}
}

// TestReadTraceUnnamed checks that the errors of a trace without a name still say
// which line is wrong.
func TestReadTraceUnnamed(t *testing.T) {
	_, err := ReadTrace(strings.NewReader("0x0 READ 0\nzz READ 1\n"), "")
	if want := `line 2: address "zz" is not a 64-bit hexadecimal number`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func FuzzReadTrace(f *testing.F) {
	for _, s := range []string{
		"0x12345680 READ 121\n0x40 WRITE 122\n",
		"# comment\n\nff read 0",
		"0x0 READ\n",
		"zz READ 1\n",
		"\x1f\x8b\x08\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		reqs, err := ReadTrace(bytes.NewReader(data), "fuzz")
		if err != nil {
			var te *fileio.Error
			if !errors.As(err, &te) || te.Line < 1 && !errors.Is(err, ErrEmptyTrace) {
				t.Fatalf("error %v is not a *fileio.Error with a line", err)
			}
			return
		}
		for i, r := range reqs {
			if r.Issue > MaxCycle {
				t.Fatalf("request %d issued at %d, beyond MaxCycle", i, r.Issue)
			}
		}
		// What was read writes back to a trace that reads the same.
		var b strings.Builder
		for _, r := range reqs {
			op := "READ"
			if r.Write {
				op = "WRITE"
			}
			fmt.Fprintf(&b, "%#x %s %d\n", r.Addr, op, r.Issue)
		}
		again, err := ReadTrace(strings.NewReader(b.String()), "again")
		if err != nil || fmt.Sprint(again) != fmt.Sprint(reqs) {
			t.Fatalf("round trip: %v, %v != %v", err, again, reqs)
		}
	})
}
