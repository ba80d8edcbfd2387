package sweep

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// output is one result file that grows by whole rows. Every row is one line written with
// a single write to a file opened with O_APPEND, so a process killed at any moment
// leaves complete rows and at most one partial last line, which reopening cuts away.
type output struct {
	path string
	w    io.Writer
	f    *os.File // nil when writing to a stream
	// done holds the hashes of the rows the file had when it was opened, as numbers:
	// 8 bytes a point rather than a string.
	done map[uint64]struct{}
	// dropped is the length of a partial last line cut away on opening.
	dropped int
}

// hashOf extracts the point hash of one complete line of an output file.
type hashOf func(line []byte) (string, error)

// openStream writes to w, which holds nothing yet (no resuming).
func openStream(w io.Writer, header []byte) (*output, error) {
	o := &output{path: "stdout", w: w, done: map[uint64]struct{}{}}
	if header != nil {
		if _, err := w.Write(header); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// openFile opens an output file for appending. With fresh it starts the file over;
// otherwise it reads the rows already there (their hashes become done), checks the
// header, and cuts a partial last line.
func openFile(path string, header []byte, parse hashOf, fresh bool) (*output, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	flags := os.O_RDWR | os.O_CREATE | os.O_APPEND
	if fresh {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, err
	}
	o := &output{path: path, w: f, f: f, done: map[uint64]struct{}{}}
	if err := o.load(header, parse); err != nil {
		f.Close()
		return nil, err
	}
	return o, nil
}

// load reads the existing rows and leaves the file ready for appending.
func (o *output) load(header []byte, parse hashOf) error {
	br := bufio.NewReaderSize(o.f, 1<<16)
	var good int64 // bytes of complete lines
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			o.dropped = len(line)
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", o.path, err)
		}
		if n == 1 && header != nil {
			if !bytes.Equal(line, header) {
				return fmt.Errorf("%s: its columns are not this sweep's (%s): it was written by another spec or rctsim version; use --fresh to start it over or write to another file",
					o.path, headerDiff(line, header))
			}
		} else {
			h, err := parse(line)
			if err != nil {
				return fmt.Errorf("%s:%d: not a row of this sweep: %v (use --fresh to start over)", o.path, n, err)
			}
			o.done[hashKey(h)] = struct{}{}
		}
		good += int64(len(line))
	}
	if o.dropped > 0 {
		// A row torn by a kill: cut it so that the rerun appends whole rows after whole rows.
		if err := o.f.Truncate(good); err != nil {
			return fmt.Errorf("%s: cutting a partial last row: %w", o.path, err)
		}
	}
	if good == 0 && header != nil {
		if _, err := o.f.Write(header); err != nil {
			return err
		}
	}
	return nil
}

// headerDiff says how the header line got differs from want: the columns it lacks or
// has in excess (as when a file was written by an rctsim with other columns), else the
// first column where the two differ.
func headerDiff(got, want []byte) string {
	g, _ := csv.NewReader(bytes.NewReader(got)).Read()
	w, _ := csv.NewReader(bytes.NewReader(want)).Read()
	if missing := notIn(w, g); len(missing) > 0 {
		return "it lacks " + columnList(missing)
	}
	if extra := notIn(g, w); len(extra) > 0 {
		return "it has the extra " + columnList(extra)
	}
	for i := 0; i < len(g) || i < len(w); i++ {
		switch {
		case i >= len(g):
			return fmt.Sprintf("it lacks column %q", w[i])
		case i >= len(w):
			return fmt.Sprintf("it has an extra column %q", g[i])
		case g[i] != w[i]:
			return fmt.Sprintf("column %d is %q, want %q", i+1, g[i], w[i])
		}
	}
	return "line endings differ"
}

// notIn returns the columns of a that b lacks, in a's order.
func notIn(a, b []string) []string {
	var out []string
	for _, c := range a {
		if !slices.Contains(b, c) {
			out = append(out, c)
		}
	}
	return out
}

// columnList renders column names for a message: `column "a"`, `columns "a", "b"`.
func columnList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = strconv.Quote(c)
	}
	if len(q) == 1 {
		return "column " + q[0]
	}
	return "columns " + strings.Join(q, ", ")
}

// write appends one complete line with a single write.
func (o *output) write(line []byte) error {
	if _, err := o.w.Write(line); err != nil {
		return fmt.Errorf("%s: %w", o.path, err)
	}
	return nil
}

func (o *output) close() error {
	if o.f == nil {
		return nil
	}
	return o.f.Close()
}

// csvHash reads the hash column of a CSV row with the given number of columns.
func csvHash(columns int) hashOf {
	return func(line []byte) (string, error) {
		rec, err := csv.NewReader(bytes.NewReader(line)).Read()
		if err != nil {
			return "", err
		}
		if len(rec) != columns {
			return "", fmt.Errorf("%d fields, want %d", len(rec), columns)
		}
		if !isHash(rec[1]) {
			return "", fmt.Errorf("bad hash %q", rec[1])
		}
		return rec[1], nil
	}
}

// jsonlHash reads the hash of a JSON Lines row.
func jsonlHash(line []byte) (string, error) {
	var row struct {
		Hash string `json:"hash"`
	}
	if err := json.Unmarshal(line, &row); err != nil {
		return "", err
	}
	if !isHash(row.Hash) {
		return "", fmt.Errorf("bad hash %q", row.Hash)
	}
	return row.Hash, nil
}

// isHash reports whether s is a point hash: 16 lower-case hex digits.
func isHash(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// hashKey is a point hash as a number (it is 16 hex digits: 64 bits).
func hashKey(h string) uint64 {
	var v uint64
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		}
		v = v<<4 | uint64(c)
	}
	return v
}

// has reports whether the output had the point with hash h when it was opened.
func (o *output) has(h string) bool {
	_, ok := o.done[hashKey(h)]
	return ok
}
