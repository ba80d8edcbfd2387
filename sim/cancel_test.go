package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// cancelAt is a hook that cancels its context when the engine issues instruction
// number at (counting issues), and counts the issues.
type cancelAt struct {
	at, issued int
	cancel     context.CancelFunc
	when       time.Time
}

func (c *cancelAt) OnIssue(Event) {
	c.issued++
	if c.issued == c.at {
		c.when = time.Now()
		c.cancel()
	}
}
func (c *cancelAt) OnComplete(Event) {}

func compileStep(t testing.TB, model string, batch int) (*kernels.Program, *Machine, func(...Hook) *Machine) {
	t.Helper()
	p := loadProfile(t, "default.toml")
	net, err := models.ByName(model)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := kernels.Compile(net, p, kernels.Options{Method: numerics.RCT, Batch: batch, Plan: numerics.Plan{Bits: []int{8}}})
	if err != nil {
		t.Fatal(err)
	}
	machine := func(hooks ...Hook) *Machine {
		m, err := New(p, Options{Hooks: hooks})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	return prog, machine(), machine
}

// TestRunContextCancel checks that a cancel reaches a running simulation: it stops
// part way with the context's error, and the machine then runs the next program as a
// new one would.
func TestRunContextCancel(t *testing.T) {
	prog, plain, machine := compileStep(t, "lenet5", 8)
	want, err := plain.Run(prog)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hook := &cancelAt{at: 100, cancel: cancel}
	m := machine(hook)
	s, err := m.RunContext(ctx, prog)
	if !errors.Is(err, context.Canceled) || s != nil {
		t.Fatalf("cancelled run: %v, stats %v", err, s != nil)
	}
	// Each event completes an instruction or frees the DMA unit: the engine looks at
	// the context again within cancelCheck events, a few hundred issues.
	if hook.issued >= prog.Len() || hook.issued > hook.at+2*cancelCheck {
		t.Errorf("cancelled at issue %d, stopped after %d of %d", hook.at, hook.issued, prog.Len())
	}
	if _, err := m.RunContext(ctx, prog); !errors.Is(err, context.Canceled) {
		t.Errorf("a run with a done context: %v", err)
	}
	hook.at = -1
	got, err := m.RunContext(context.Background(), prog)
	if err != nil || got.Cycles != want.Cycles || got.Energy.Total() != want.Energy.Total() {
		t.Errorf("after a cancelled run: %v, %d cycles, want %d", err, got.Cycles, want.Cycles)
	}
}

// BenchmarkCancelLatency measures the time from a cancel to RunContext's return in
// the middle of a long step (MobileNetV2 at batch 8 takes seconds on one core).
func BenchmarkCancelLatency(b *testing.B) {
	prog, _, machine := compileStep(b, "mobilenetv2", 8)
	var total time.Duration
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		hook := &cancelAt{at: 5000, cancel: cancel}
		if _, err := machine(hook).RunContext(ctx, prog); !errors.Is(err, context.Canceled) {
			b.Fatal(err)
		}
		total += time.Since(hook.when)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/cancel")
}
