package fileio

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Error is a problem at a position of an input file: a hardware profile, a sweep spec,
// a topology, a program dump, a schedule or a DRAM trace. Every reader of rctsim
// returns this one type, as encoding/csv returns *csv.ParseError for every problem of
// a record, so that a caller finds the position with one errors.As whatever the format,
// and every message reads the same way:
//
//	configs/x.toml:12:3: mac_array.rows: must be positive (got -4)
//	layers.csv:3:16: Filter Height: must be a positive integer (got "x")
//
// Like go/scanner.Error it keeps the position in fields, not only in the text, so that
// a caller can sort several errors, or move them to where a value really came from (a
// --set override rather than a file).
type Error struct {
	// File names the input: its path, or what stands for one ("--set path=value" for
	// an override); "" when unknown.
	File string
	// Line and Col locate the problem, from 1; Col counts bytes, as encoding/csv and
	// BurntSushi/toml do. 0 when unknown.
	Line, Col int
	// Key is what is wrong at the position: the dotted path of a TOML key
	// ("mac_array.modes[2].float"), the name of a CSV column ("bits") or of a field of
	// a line; "" when the problem is about a whole line or file.
	Key string
	// Err is the cause.
	Err error
}

// Error prints "file:line:col: key: message", leaving out the parts that are unknown:
// an empty File or Key, a zero Line or Col (and Col without a Line). It is the form
// of compilers and go/scanner, which editors and terminals turn into links to the
// position.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Col))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	if e.Err == nil {
		// A hand-built Error without a cause still says something after its position.
		b.WriteString("invalid")
	} else {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause, so that errors.Is and errors.As see through the position
// (to a csv.ErrQuote, an fs.ErrNotExist, a sentinel of the reading package).
func (e *Error) Unwrap() error { return e.Err }

// Join sorts errs in file order, by line, then column, the errors with no line last in
// the order given, and returns nil, the one error, or all of them joined with
// errors.Join (errors.As finds the first). Readers that check a whole file before
// giving up (a profile, a sweep spec) report every problem at once, as a compiler
// does, and in the order the user will fix them.
func Join(errs []*Error) error {
	slices.SortStableFunc(errs, func(a, b *Error) int {
		if (a.Line == 0) != (b.Line == 0) {
			return cmp.Compare(b.Line, a.Line) // the one with no line goes last
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}
