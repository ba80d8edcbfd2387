package sweep

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// slowSpec has a slow point (MobileNetV2's step simulates for seconds) among three
// LeNet-5 points that take milliseconds; shard 0/2 holds two of those, 0 and 3.
const slowSpec = `
name = "slow"
[[points]]
model = "lenet5"
batch = 8
[[points]]
model = "mobilenetv2"
batch = 8
[[points]]
model = "lenet5"
batch = 16
[[points]]
model = "lenet5"
batch = 32
`

// TestCancelStopsSimulation cancels a sweep while its slow point simulates, and checks
// that the cancel reached that simulation (the point is abandoned, not finished), that
// the CSV holds only whole rows (the point before it), and that a rerun resumes from
// it. How fast Run returns is measured by sim's BenchmarkCancelLatency; here a
// generous bound only guards against a hang.
func TestCancelStopsSimulation(t *testing.T) {
	spec := mustParse(t, slowSpec)
	// Two fast points alone (shard 0/2), uninterrupted.
	if pts := slices.Collect((Shard{0, 2}).Points(spec.Len())); !slices.Equal(pts, []int{0, 3}) {
		t.Fatalf("shard 0/2 holds points %v, want 0 and 3", pts)
	}
	var want bytes.Buffer
	if _, err := Run(context.Background(), spec, Options{Shard: Shard{0, 2}, Stdout: &want}); err != nil {
		t.Fatal(err)
	}
	header, row0 := firstLines(want.Bytes())

	csvPath := filepath.Join(t.TempDir(), "out.csv")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelled := make(chan time.Time, 1)
	opts := Options{Workers: 2, CSV: csvPath, startPoint: func(k int) {
		if k == 1 {
			// Let the slow point get into its simulation (compiling it takes a
			// fraction of a second), then stop the sweep.
			time.AfterFunc(300*time.Millisecond, func() { cancelled <- time.Now(); cancel() })
		}
	}}
	type outcome struct {
		sum *Summary
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		sum, err := Run(ctx, spec, opts)
		done <- outcome{sum, err}
	}()
	var got outcome
	select {
	case got = <-done:
		t.Fatalf("Run returned before the cancel: %+v, %v", got.sum, got.err)
	case at := <-cancelled:
		select {
		case got = <-done:
			t.Logf("Run returned %v after the cancel", time.Since(at))
		case <-time.After(10 * time.Second):
			t.Fatal("Run has not returned 10 s after the cancel")
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the slow point never started")
	}
	if !errors.Is(got.err, context.Canceled) {
		t.Fatalf("error %v, want one wrapping context.Canceled", got.err)
	}
	if got.sum.Abandoned < 1 || got.sum.Simulated != 1 {
		t.Errorf("summary %+v: want point 0 written and the slow point abandoned", got.sum)
	}
	if data := readFile(t, csvPath); string(data) != header+row0 {
		t.Errorf("the cancelled sweep's CSV is not its header and first row:\n%s", data)
	}
	// Resuming skips the row written; the fast shard then completes as an
	// uninterrupted run would have written it.
	sum, err := Run(context.Background(), spec, Options{Shard: Shard{0, 2}, CSV: csvPath})
	if err != nil || sum.Skipped != 1 || sum.Simulated != 1 {
		t.Fatalf("resume: %+v, %v", sum, err)
	}
	if data := readFile(t, csvPath); !bytes.Equal(data, want.Bytes()) {
		t.Errorf("resumed CSV differs from an uninterrupted run:\n%s\nwant\n%s", data, want.Bytes())
	}
}

// firstLines returns the first two lines of data, each with its newline.
func firstLines(data []byte) (string, string) {
	i := bytes.IndexByte(data, '\n') + 1
	j := i + bytes.IndexByte(data[i:], '\n') + 1
	return string(data[:i]), string(data[i:j])
}

// TestCancelBeforeStart checks that a sweep whose context is already done writes its
// header (the outputs are opened) and no row, and returns the context's error.
func TestCancelBeforeStart(t *testing.T) {
	spec := mustParse(t, smallSpec)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	sum, err := Run(ctx, spec, Options{Workers: 2, Stdout: &out})
	if !errors.Is(err, context.Canceled) || sum.Simulated != 0 {
		t.Errorf("%+v, %v", sum, err)
	}
	if !bytes.Equal(out.Bytes(), csvLine(spec.columns)) {
		t.Errorf("wrote %q, want the header alone", out.String())
	}
}
