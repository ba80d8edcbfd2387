package fileio

import (
	"errors"
	"io/fs"
	"slices"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	bad := errors.New("bad")
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "a.toml", Line: 3, Col: 7, Key: "x.y", Err: bad}, "a.toml:3:7: x.y: bad"},
		{Error{File: "a.toml", Line: 3, Err: bad}, "a.toml:3: bad"},
		{Error{File: "a.toml", Col: 5, Key: "x", Err: bad}, "a.toml: x: bad"},
		{Error{Line: 2, Col: 1, Key: "x", Err: bad}, "2:1: x: bad"},
		{Error{Err: bad}, "bad"},
		{Error{File: "configs/x.toml", Line: 12, Col: 3, Key: "mac_array.rows", Err: errors.New("must be positive (got -4)")},
			"configs/x.toml:12:3: mac_array.rows: must be positive (got -4)"},
		{Error{File: "x.toml", Key: "sram", Err: bad}, "x.toml: sram: bad"},
		{Error{Key: "name", Err: errors.New("must not be empty")}, "name: must not be empty"},
		{Error{File: "x.toml", Line: 4, Err: errors.New("boom")}, "x.toml:4: boom"},
		{Error{File: "schedule.csv", Line: 12, Col: 9, Key: "bits", Err: bad}, "schedule.csv:12:9: bits: bad"},
		{Error{File: "s.csv", Line: 3, Err: bad}, "s.csv:3: bad"},
		{Error{File: "a.csv", Line: 3, Col: 5, Key: "M", Err: bad}, "a.csv:3:5: M: bad"},
		{Error{File: "a.csv", Err: bad}, "a.csv: bad"},
		{Error{File: "--set mac_array.rows=0", Key: "mac_array.rows", Err: bad}, "--set mac_array.rows=0: mac_array.rows: bad"},
		{Error{File: "x.toml", Line: 4}, "x.toml:4: invalid"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v: Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestErrorUnwrap(t *testing.T) {
	err := error(&Error{File: "x.toml", Err: &fs.PathError{Op: "open", Path: "x.toml", Err: fs.ErrNotExist}})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Errorf("errors.As(%v, *fs.PathError) = false", err)
	}
}

func TestJoin(t *testing.T) {
	at := func(key string, line, col int) *Error {
		return &Error{File: "f", Line: line, Col: col, Key: key, Err: errors.New("bad")}
	}
	tests := []struct {
		name string
		errs []*Error
		want []string // keys in the order joined
	}{
		{"none", nil, nil},
		{"one", []*Error{at("a", 0, 0)}, []string{"a"}},
		{"by line then column", []*Error{at("c", 3, 1), at("b", 2, 9), at("a", 2, 1)}, []string{"a", "b", "c"}},
		{"no line last, in order", []*Error{at("x", 0, 0), at("a", 5, 1), at("y", 0, 0)}, []string{"a", "x", "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Join(tt.errs)
			var got []string
			switch e := err.(type) {
			case nil:
			case *Error:
				got = []string{e.Key}
			case interface{ Unwrap() []error }:
				for _, x := range e.Unwrap() {
					got = append(got, x.(*Error).Key)
				}
			default:
				t.Fatalf("Join returned %T", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("keys %q, want %q", got, tt.want)
			}
			var first *Error
			if len(tt.want) > 0 && (!errors.As(err, &first) || first.Key != tt.want[0]) {
				t.Errorf("errors.As finds %v, want the error of %q", first, tt.want[0])
			}
		})
	}
}
