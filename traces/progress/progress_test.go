package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by step at every reading.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time { t = t.Add(step); return t }
}

func TestPlainLines(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf)
	r.now = fakeClock(4 * time.Second)
	r.Start("sweep", "points", 10)
	for i := 1; i <= 10; i++ {
		r.Update(Status{Done: i, Skipped: 0, Failed: i / 5})
	}
	r.Finish(Status{Done: 10, Failed: 2})
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// One line per 10 s of a 4 s-per-point clock, and the final line.
	if strings.Contains(out, "\r") || len(lines) < 3 || len(lines) > 6 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "sweep: 10/10 points, 2 failed, 100.0%") || !strings.Contains(last, "ETA 0s") {
		t.Errorf("final line %q", last)
	}
}

func TestBar(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf)
	r.Terminal = true
	r.now = fakeClock(time.Second)
	r.Start("train lenet5 rct", "steps", 4)
	r.Update(Status{Done: 2})
	r.Finish(Status{Done: 4})
	r.Finish(Status{Done: 4}) // a second Finish prints nothing
	out := buf.String()
	if !strings.Contains(out, "\rtrain lenet5 rct [===============               ] 2/4 steps 50%") ||
		strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Errorf("bar output %q", out)
	}
}

func TestNilReporter(t *testing.T) {
	var r *Reporter
	r.Start("x", "steps", 1)
	r.Update(Status{Done: 1})
	r.Finish(Status{Done: 1})
}
