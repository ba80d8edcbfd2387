package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress reports a long job on stderr: a redrawn bar with an ETA on a terminal,
// a plain line every tenth of the job otherwise (so CI logs do not fill with carriage
// returns).
type progress struct {
	w        io.Writer
	label    string
	terminal bool
	start    time.Time
	lastDraw time.Time
	lastTick int
}

func newProgress(w io.Writer, label string) *progress {
	p := &progress{w: w, label: label, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

// update reports done of total.
func (p *progress) update(done, total int) {
	if total <= 0 {
		return
	}
	now := time.Now()
	elapsed := now.Sub(p.start)
	eta := time.Duration(0)
	if done > 0 {
		eta = time.Duration(float64(elapsed) * float64(total-done) / float64(done)).Round(time.Second)
	}
	if p.terminal {
		if done < total && now.Sub(p.lastDraw) < 100*time.Millisecond {
			return
		}
		p.lastDraw = now
		const width = 30
		filled := width * done / total
		bar := make([]byte, width)
		for i := range bar {
			switch {
			case i < filled:
				bar[i] = '='
			case i == filled:
				bar[i] = '>'
			default:
				bar[i] = ' '
			}
		}
		fmt.Fprintf(p.w, "\r%s [%s] %d/%d  eta %v ", p.label, bar, done, total, eta)
		if done == total {
			fmt.Fprintln(p.w)
		}
		return
	}
	if tick := 10 * done / total; tick > p.lastTick || done == total {
		p.lastTick = tick
		fmt.Fprintf(p.w, "%s: %d/%d (%d%%), %v elapsed, eta %v\n", p.label, done, total, 100*done/total, elapsed.Round(time.Second), eta)
	}
}
