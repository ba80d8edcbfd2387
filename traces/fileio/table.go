package fileio

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Table is a CSV file with a header row, read whole: rctsim's result tables (sweep
// outputs, metrics.csv, steps.csv, timeline.csv) are read this way for analysis and
// figures.
type Table struct {
	// Name is the file's name in errors.
	Name   string
	Header []string
	Rows   [][]string
	index  map[string]int // the first column of each name
}

// ReadTable reads a CSV with a header row from r; name is used in errors. Every row
// must have as many fields as the header.
func ReadTable(r io.Reader, name string) (*Table, error) {
	cr := csv.NewReader(r)
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty CSV", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", name, err)
	}
	t := &Table{Name: name, Header: head, index: make(map[string]int, len(head))}
	for i, c := range head {
		if _, dup := t.index[c]; !dup {
			t.index[c] = i
		}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		t.Rows = append(t.Rows, rec)
	}
}

// ReadTableFile reads the CSV file at path.
func ReadTableFile(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadTable(f, path)
}

// Col returns the index of the first column named name.
func (t *Table) Col(name string) (int, bool) {
	i, ok := t.index[name]
	return i, ok
}

// Get returns the cell of row in the column named col, or "" when there is no such
// column.
func (t *Table) Get(row int, col string) string {
	i, ok := t.index[col]
	if !ok {
		return ""
	}
	return t.Rows[row][i]
}

// HasValues reports whether the column named col exists and holds a non-empty cell.
func (t *Table) HasValues(col string) bool {
	for i := range t.Rows {
		if t.Get(i, col) != "" {
			return true
		}
	}
	return false
}

// Floats returns the rows where both columns x and y hold numbers, as two slices.
func (t *Table) Floats(x, y string) (xs, ys []float64) {
	for i := range t.Rows {
		xv, err1 := strconv.ParseFloat(t.Get(i, x), 64)
		yv, err2 := strconv.ParseFloat(t.Get(i, y), 64)
		if err1 == nil && err2 == nil {
			xs, ys = append(xs, xv), append(ys, yv)
		}
	}
	return xs, ys
}
