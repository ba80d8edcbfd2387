package sweep

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress reports a sweep's advance on stderr: a bar redrawn in place with \r on a
// terminal, or a plain line every interval otherwise (batch-system logs keep every
// line, so they must not fill with carriage returns).
type progress struct {
	w        io.Writer
	tty      bool
	interval time.Duration
	label    string

	total, skipped, done, failed int
	start, last                  time.Time
	width                        int // length of the last terminal line, to blank it
}

// ttyRedraw is how often the terminal bar is redrawn at most.
const ttyRedraw = 100 * time.Millisecond

// update reports unless it reported less than the interval ago (force: always).
func (p *progress) update(now time.Time, force bool) {
	if p == nil || p.w == nil {
		return
	}
	every := p.interval
	if p.tty {
		every = ttyRedraw
	}
	if !force && now.Sub(p.last) < every {
		return
	}
	p.last = now
	if p.tty {
		line := p.bar(now)
		pad := ""
		if n := p.width - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		p.width = len(line)
		fmt.Fprintf(p.w, "\r%s%s", line, pad)
		return
	}
	fmt.Fprintln(p.w, p.line(now))
}

// finish writes the final report and ends the terminal line.
func (p *progress) finish(now time.Time) {
	if p == nil || p.w == nil {
		return
	}
	if p.tty {
		p.update(now, true)
		fmt.Fprintln(p.w)
		return
	}
	fmt.Fprintln(p.w, p.line(now))
}

// rate is the points simulated per second so far (skipped points cost nothing).
func (p *progress) rate(now time.Time) float64 {
	el := now.Sub(p.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(p.done) / el
}

// eta estimates the time left from the rate so far.
func (p *progress) eta(now time.Time) string {
	left := p.total - p.skipped - p.done
	r := p.rate(now)
	switch {
	case left == 0:
		return "0s"
	case r == 0:
		return "?"
	}
	return (time.Duration(float64(left)/r*float64(time.Second)) + time.Second/2).Truncate(time.Second).String()
}

func (p *progress) counts() string {
	s := fmt.Sprintf("%d/%d points", p.skipped+p.done, p.total)
	if p.skipped > 0 {
		s += fmt.Sprintf(" (%d already done)", p.skipped)
	}
	if p.failed > 0 {
		s += fmt.Sprintf(", %d failed", p.failed)
	}
	return s
}

func (p *progress) line(now time.Time) string {
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(p.skipped+p.done) / float64(p.total)
	}
	return fmt.Sprintf("%s: %s, %.1f%%, %.1f points/s, elapsed %s, ETA %s", p.label, p.counts(), pct,
		p.rate(now), now.Sub(p.start).Truncate(time.Second), p.eta(now))
}

func (p *progress) bar(now time.Time) string {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.skipped+p.done) / float64(p.total)
	}
	n := int(frac * width)
	return fmt.Sprintf("%s [%s%s] %s %.0f%% %.1f/s ETA %s", p.label, strings.Repeat("=", n), strings.Repeat(" ", width-n),
		p.counts(), 100*frac, p.rate(now), p.eta(now))
}
