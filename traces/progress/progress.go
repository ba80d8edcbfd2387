// Package progress reports the advance of a long job (a training run, a sweep) on a
// stream such as stderr. On a terminal it redraws one bar in place, at most ten times a
// second; anywhere else (a file, a pipe, a batch system's log) it writes a plain line
// every Interval and one at the end, because such logs keep every byte and must not
// fill with carriage returns.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Status is how far a job is.
type Status struct {
	// Done counts the items finished by this run, Skipped those a previous run had
	// finished (they cost nothing, so they do not count towards the rate), and Failed
	// those of Done that failed.
	Done, Skipped, Failed int
}

// Reporter reports one job at a time. A nil *Reporter reports nothing, so callers
// need not check. It is safe for concurrent use.
type Reporter struct {
	// Terminal redraws a bar in place instead of writing lines; New sets it when the
	// stream is a terminal.
	Terminal bool
	// Interval is the time between two plain lines (default 10 s).
	Interval time.Duration

	mu           sync.Mutex
	w            io.Writer
	label, unit  string
	total        int
	start, last  time.Time
	width        int // length of the last bar drawn, to blank it
	now          func() time.Time
	status       Status
	finishedOnce bool
}

// redraw is the shortest time between two terminal redraws.
const redraw = 100 * time.Millisecond

// New returns a reporter writing to w, drawing a bar when w is a terminal.
func New(w io.Writer) *Reporter {
	r := &Reporter{w: w, now: time.Now}
	if f, ok := w.(*os.File); ok {
		r.Terminal = term.IsTerminal(int(f.Fd()))
	}
	return r
}

// Start begins a job of total items called unit ("steps", "points"), named label.
func (r *Reporter) Start(label, unit string, total int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.now == nil {
		r.now = time.Now
	}
	r.label, r.unit, r.total = label, unit, total
	r.start = r.now()
	r.last = r.start
	r.status, r.width, r.finishedOnce = Status{}, 0, false
}

// Update reports s, unless the last report is too recent.
func (r *Reporter) Update(s Status) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = s
	now := r.now()
	every := r.Interval
	if every <= 0 {
		every = 10 * time.Second
	}
	if r.Terminal {
		every = redraw
	}
	if now.Sub(r.last) < every {
		return
	}
	r.report(now)
}

// Finish reports s as the job's end and ends a terminal's line.
func (r *Reporter) Finish(s Status) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finishedOnce {
		return
	}
	r.finishedOnce = true
	r.status = s
	r.report(r.now())
	if r.Terminal {
		fmt.Fprintln(r.w)
	}
}

func (r *Reporter) report(now time.Time) {
	r.last = now
	if !r.Terminal {
		fmt.Fprintln(r.w, r.line(now))
		return
	}
	bar := r.bar(now)
	pad := ""
	if n := r.width - len(bar); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	r.width = len(bar)
	fmt.Fprintf(r.w, "\r%s%s", bar, pad)
}

// rate is the items finished per second by this run.
func (r *Reporter) rate(now time.Time) float64 {
	el := now.Sub(r.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(r.status.Done) / el
}

// eta estimates the time left from the rate so far.
func (r *Reporter) eta(now time.Time) string {
	left := r.total - r.status.Skipped - r.status.Done
	rate := r.rate(now)
	switch {
	case left <= 0:
		return "0s"
	case rate == 0:
		return "?"
	}
	return (time.Duration(float64(left)/rate*float64(time.Second)) + time.Second/2).Truncate(time.Second).String()
}

func (r *Reporter) counts() string {
	s := r.status
	out := fmt.Sprintf("%d/%d %s", s.Skipped+s.Done, r.total, r.unit)
	if s.Skipped > 0 {
		out += fmt.Sprintf(" (%d already done)", s.Skipped)
	}
	if s.Failed > 0 {
		out += fmt.Sprintf(", %d failed", s.Failed)
	}
	return out
}

func (r *Reporter) fraction() float64 {
	if r.total <= 0 {
		return 1
	}
	return float64(r.status.Skipped+r.status.Done) / float64(r.total)
}

func (r *Reporter) line(now time.Time) string {
	return fmt.Sprintf("%s: %s, %.1f%%, %.1f %s/s, elapsed %s, ETA %s", r.label, r.counts(), 100*r.fraction(),
		r.rate(now), r.unit, now.Sub(r.start).Truncate(time.Second), r.eta(now))
}

func (r *Reporter) bar(now time.Time) string {
	const width = 30
	frac := min(max(r.fraction(), 0), 1)
	n := int(frac * width)
	return fmt.Sprintf("%s [%s%s] %s %.0f%% %.1f/s ETA %s", r.label, strings.Repeat("=", n), strings.Repeat(" ", width-n),
		r.counts(), 100*frac, r.rate(now), r.eta(now))
}
