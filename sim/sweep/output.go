package sweep

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rctsim/rctsim/traces/fileio"
)

// output is one result file that grows by whole rows. Every row is one line written with
// a single write to a file opened with O_APPEND, so a process killed at any moment
// leaves complete rows and at most one partial last line, which reopening cuts away.
//
// An output is opened in two steps so that a sweep with several outputs touches none
// of them until all are known good: prepare checks the path and reads what a regular
// file already holds without changing anything; commit then creates, cuts or starts
// it over and writes the header.
type output struct {
	path string // as the user named it, for messages
	w    io.Writer
	f    *os.File // nil when writing to a stream
	// done holds the hashes of the rows the file had when it was opened, as numbers:
	// 8 bytes a point rather than a string.
	done map[uint64]struct{}
	// dropped is the length of a partial last line cut away on opening.
	dropped int

	// Set by prepare, carried out by commit.
	target  string // the file path resolves to (symbolic links followed)
	create  bool   // target does not exist yet: create it
	created bool   // commit created it (so a failed start removes it)
	cut     int64  // cut the file to this length (-1: leave it)
	size    int64  // its length after the cut
	header  []byte // written by commit when the file is empty
}

// hashOf extracts the point hash of one complete line of an output file.
type hashOf func(line []byte) (string, error)

// openStream writes to w, which holds nothing yet (no resuming); commit writes the
// header.
func openStream(name string, w io.Writer, header []byte) *output {
	return &output{path: name, w: w, done: map[uint64]struct{}{}, cut: -1, header: header}
}

// prepareFile checks an output file and reads the rows it already has, changing
// nothing; commit then makes it ready for appending. What it does depends on what path
// names (after following symbolic links, which stay links):
//
//   - nothing yet: commit creates the file (and its missing parent folders);
//   - a regular file: its rows are read (their hashes become done), its header
//     checked and a partial last line found; commit cuts that line. With fresh the
//     rows are not read and commit empties the file;
//   - a device (/dev/null), a FIFO or a socket: written as it is, never read, cut or
//     replaced, so nothing is resumed from it (every point's row is written to it)
//     and fresh changes nothing. Opening a FIFO waits for its reader;
//   - a folder: an error.
func prepareFile(path string, header []byte, parse hashOf, fresh bool) (*output, error) {
	o := &output{path: path, done: map[uint64]struct{}{}, cut: -1, header: header}
	target, info, err := fileio.Resolve(path)
	if err != nil {
		if perr := checkParent(path, filepath.Dir(path)); perr != nil {
			return nil, perr // a clearer message (a path under a file)
		}
		return nil, err
	}
	o.target = target
	switch {
	case info == nil:
		if err := checkParent(path, filepath.Dir(target)); err != nil {
			return nil, err
		}
		o.create = true
		return o, nil
	case info.IsDir():
		return nil, fmt.Errorf("%s: is a folder, not a file", path)
	case !info.Mode().IsRegular():
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, err
		}
		o.f, o.w = f, f
		return o, nil
	}
	f, err := os.OpenFile(target, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	o.f, o.w = f, f
	if fresh {
		o.cut = 0
		return o, nil
	}
	if err := o.load(header, parse); err != nil {
		f.Close()
		return nil, err
	}
	return o, nil
}

// checkParent checks that the folder a new output goes in exists or can be made: the
// nearest existing ancestor is a folder.
func checkParent(path, dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		switch {
		case err == nil && info.IsDir():
			return nil
		case err == nil:
			return fmt.Errorf("%s: cannot create it: %s is not a folder", path, d)
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%s: %w", path, err)
		}
		if up := filepath.Dir(d); up == d {
			return nil // the root: let commit report what goes wrong
		}
	}
}

// commit makes a prepared output ready for appending: it creates the file, or cuts it
// (a torn last row, or everything with fresh), and writes the header to an empty one.
func (o *output) commit() error {
	if o.create {
		if err := os.MkdirAll(filepath.Dir(o.target), 0o755); err != nil {
			return err
		}
		// O_EXCL: a file that appeared since prepare is not ours to take over.
		f, err := os.OpenFile(o.target, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		o.f, o.w, o.created = f, f, true
	}
	if o.cut >= 0 {
		if err := o.f.Truncate(o.cut); err != nil {
			return fmt.Errorf("%s: %w", o.path, err)
		}
		o.size = o.cut
	}
	if o.size == 0 && o.header != nil {
		return o.write(o.header)
	}
	return nil
}

// abandon closes an output that a failed start leaves, removing the file if commit
// created it (it holds at most a header).
func (o *output) abandon() {
	o.close()
	if o.created {
		os.Remove(o.target)
	}
}

// load reads the existing rows of a regular file, changing nothing: the partial last
// line it finds is cut by commit.
func (o *output) load(header []byte, parse hashOf) error {
	br := bufio.NewReaderSize(o.f, 1<<16)
	var good int64 // bytes of complete lines
	for n := 1; ; n++ {
		line, err := readLine(br)
		if errors.Is(err, io.EOF) {
			if n == 1 && len(line) > 0 && !tornStart(line, header) {
				// A file of one line without a newline is a torn first line only if it
				// starts as ours does; anything else is not a sweep's, and not ours to cut.
				return fmt.Errorf("%s:1: not an output of this sweep (use --fresh to start it over, or write to another file)", o.path)
			}
			o.dropped = len(line)
			break
		}
		if errors.Is(err, errLongLine) {
			return fmt.Errorf("%s:%d: %w: not an output of a sweep (use --fresh to start it over, or write to another file)", o.path, n, err)
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
	o.size = good
	if o.dropped > 0 {
		// A row torn by a kill: cut it so that the rerun appends whole rows after whole rows.
		o.cut = good
	}
	return nil
}

// jsonlStart is how every JSON Lines row starts (jsonRow's first field).
var jsonlStart = []byte(`{"point":`)

// tornStart reports whether line can be the start of an output's first line, as a
// kill while writing it leaves it: a prefix of the CSV header, or of a JSON row.
func tornStart(line, header []byte) bool {
	if header != nil {
		return bytes.HasPrefix(header, line)
	}
	return bytes.HasPrefix(line, jsonlStart) || bytes.HasPrefix(jsonlStart, line)
}

// maxLineBytes bounds one line of a sweep output: a row is a few KiB at most (its
// JSON report, its error). A longer line is not a row, and reading a file that has no
// line breaks as one line would take its whole size in memory.
const maxLineBytes = 1 << 22

var errLongLine = fmt.Errorf("a line longer than %d bytes", maxLineBytes)

// readLine reads one line with its newline, at most maxLineBytes long. At the end of
// the input it returns the partial last line (possibly empty) with io.EOF.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > maxLineBytes {
			return nil, errLongLine
		}
		line = append(line, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
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
	// A few names say what is wrong; the whole header of another file says nothing more.
	const most = 6
	if len(q) > most {
		return fmt.Sprintf("columns %s and %d more", strings.Join(q[:most], ", "), len(q)-most)
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
