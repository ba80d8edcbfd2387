package sweep

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/sim"
)

// TestOptionBounds checks that the options sizing what Run allocates are bounded,
// with an error naming the value, before any output is touched.
func TestOptionBounds(t *testing.T) {
	spec := mustParse(t, smallSpec)
	tests := []struct {
		opts Options
		msg  string
	}{
		{Options{Workers: -1}, "-1 workers: want 1..1024"},
		{Options{Workers: MaxWorkers + 1}, "1025 workers"},
		{Options{Workers: math.MaxInt}, "workers: want 1..1024"},
		{Options{Window: MaxWindow + 1}, "a window of 65537 points"},
		{Options{Window: math.MaxInt}, "want at most 65536"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		tt.opts.Stdout = &out
		_, err := Run(context.Background(), spec, tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.msg) || out.Len() != 0 {
			t.Errorf("%+v: error %v, wrote %d bytes; want an error mentioning %q", tt.opts, err, out.Len(), tt.msg)
		}
	}
	// More workers than points is not an error: the extra ones have nothing to do.
	var out bytes.Buffer
	if sum, err := Run(context.Background(), spec, Options{Workers: MaxWorkers, Stdout: &out}); err != nil || sum.Simulated != spec.Len() {
		t.Errorf("%d workers: %+v, %v", MaxWorkers, sum, err)
	}
}

// TestAccumulateOverflow checks that a schedule's whole-run totals are an error when
// they would wrap (a run of 2^31 steps of a long step), not a wrong number.
func TestAccumulateOverflow(t *testing.T) {
	step := &sim.Stats{Cycles: 1 << 40, MACs: 1 << 20, Instructions: 100}
	tests := []struct {
		k    int64
		want string
	}{
		{1, ""},
		{1 << 23, ""},
		{1 << 24, "cycles overflows"},
		{math.MaxInt32, "cycles overflows"},
	}
	for _, tt := range tests {
		total := emptyLike(step)
		err := accumulate(total, step, tt.k)
		switch {
		case tt.want == "" && (err != nil || total.Cycles != uint64(tt.k)<<40 || total.MACs != tt.k<<20):
			t.Errorf("k=%d: %v, cycles %d", tt.k, err, total.Cycles)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("k=%d: error %v, want one mentioning %q", tt.k, err, tt.want)
		}
	}
	// A second run that carries a total over the edge is caught too.
	total := emptyLike(step)
	if err := accumulate(total, step, 1<<23); err != nil {
		t.Fatal(err)
	}
	total.Cycles = math.MaxUint64 - 10
	if err := accumulate(total, step, 1); err == nil {
		t.Error("a sum past 2^64 cycles was accepted")
	}
}
