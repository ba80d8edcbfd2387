//go:build unix

package sweep

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestOutputFIFO checks that a FIFO output is written as it is, header first and every
// row, by each run (nothing is resumed from a pipe), and stays a FIFO.
func TestOutputFIFO(t *testing.T) {
	spec := mustParse(t, smallSpec)
	wantCSV, _ := reference(t, spec)
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	for run := range 2 {
		got := make(chan []byte)
		go func() {
			f, err := os.Open(fifo) // waits for the writer
			if err != nil {
				got <- []byte(err.Error())
				return
			}
			data, _ := io.ReadAll(f)
			f.Close()
			got <- data
		}()
		sum, err := Run(context.Background(), spec, Options{Workers: 2, CSV: fifo, Fresh: run == 1})
		if err != nil {
			t.Fatal(err)
		}
		if data := <-got; !bytes.Equal(data, wantCSV) || sum.Simulated != spec.Len() {
			t.Errorf("run %d: the reader got\n%s\nwant\n%s", run, data, wantCSV)
		}
		if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
			t.Fatalf("run %d: the FIFO was replaced: %v %v", run, st.Mode(), err)
		}
	}
}
