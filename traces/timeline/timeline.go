// Package timeline records when each instruction of a simulated step ran (Recorder,
// a sim.Hook) and writes it as CSV for the timeline figure or as Chrome trace-event
// JSON for Perfetto. The formats are documented in package traces, "Timeline".
package timeline

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/sim"
)

// Interval is one instruction's execution on its unit, in accelerator cycles.
type Interval struct {
	Index      int32
	Unit       kernels.Unit
	Op         string // load, store, gemm, or the vector operation
	Phase      string
	Layer      int32
	Start, End uint64
}

// Recorder is a sim.Hook that records every instruction's execution, for the timeline
// figure and for Chrome trace-event export.
type Recorder struct {
	Intervals []Interval
}

// OnIssue implements sim.Hook; the interval is recorded when it completes.
func (t *Recorder) OnIssue(sim.Event) {}

// OnComplete implements sim.Hook.
func (t *Recorder) OnComplete(e sim.Event) {
	in := e.Instr
	op := in.Op.String()
	if in.Op == kernels.OpVector {
		op = in.VOp.String()
	}
	t.Intervals = append(t.Intervals, Interval{Index: e.Index, Unit: in.Unit(), Op: op, Phase: in.Phase.String(),
		Layer: in.Layer, Start: e.Issue, End: e.Complete})
}

// WriteCSV writes the intervals as CSV with the header
// index,unit,op,phase,layer,start_cycle,end_cycle, in completion order.
func (t *Recorder) WriteCSV(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("index,unit,op,phase,layer,start_cycle,end_cycle\n")
	for _, iv := range t.Intervals {
		fmt.Fprintf(bw, "%d,%s,%s,%s,%d,%d,%d\n", iv.Index, iv.Unit, iv.Op, iv.Phase, iv.Layer, iv.Start, iv.End)
	}
	return bw.Flush()
}

// traceEvent is one Chrome trace-event ("X": a complete event with a duration; "M":
// metadata naming a thread).
type traceEvent struct {
	Name string            `json:"name"`
	Cat  string            `json:"cat,omitempty"`
	Ph   string            `json:"ph"`
	TS   float64           `json:"ts"`
	Dur  *float64          `json:"dur,omitempty"`
	PID  int               `json:"pid"`
	TID  int               `json:"tid"`
	Args map[string]string `json:"args,omitempty"`
}

// WriteChromeTrace writes the intervals in the Chrome trace-event JSON format, which
// Perfetto (ui.perfetto.dev) and chrome://tracing open: one track per unit, events
// named by instruction and layer, categorised by phase, times in microseconds at the
// accelerator clock. Transfers the DMA keeps in flight together overlap, and overlapping
// complete events on one track must nest, so DMA events spread over as many tracks
// ("dma 0", "dma 1", ...) as it has transfers in flight at once.
func (t *Recorder) WriteChromeTrace(w io.Writer, clockHz int64, layerNames []string) error {
	us := func(cycles uint64) float64 { return float64(cycles) * 1e6 / float64(clockHz) }
	// Lanes per unit: the end of the last event placed on each.
	lanes := [kernels.NumUnits][]uint64{}
	tid := func(u kernels.Unit, lane int) int { return int(u)*100 + lane }
	events := make([]traceEvent, 0, len(t.Intervals)+8)
	sorted := make([]Interval, len(t.Intervals))
	copy(sorted, t.Intervals)
	sortIntervals(sorted)
	for _, iv := range sorted {
		lane := -1
		for l, end := range lanes[iv.Unit] {
			if end <= iv.Start {
				lane = l
				break
			}
		}
		if lane < 0 {
			lane = len(lanes[iv.Unit])
			lanes[iv.Unit] = append(lanes[iv.Unit], 0)
		}
		lanes[iv.Unit][lane] = iv.End
		name := iv.Op
		args := map[string]string{"instruction": strconv.Itoa(int(iv.Index)), "phase": iv.Phase}
		if iv.Layer >= 0 && int(iv.Layer) < len(layerNames) {
			name += " " + layerNames[iv.Layer]
			args["layer"] = layerNames[iv.Layer]
		}
		dur := us(iv.End) - us(iv.Start)
		events = append(events, traceEvent{Name: name, Cat: iv.Phase, Ph: "X", TS: us(iv.Start), Dur: &dur, PID: 1, TID: tid(iv.Unit, lane), Args: args})
	}
	for u := kernels.Unit(0); u < kernels.NumUnits; u++ {
		for l := range lanes[u] {
			name := u.String()
			if u == kernels.UnitDMA {
				name = fmt.Sprintf("dma %d", l)
			}
			events = append(events, traceEvent{Name: "thread_name", Ph: "M", PID: 1, TID: tid(u, l), Args: map[string]string{"name": name}})
		}
	}
	events = append(events, traceEvent{Name: "process_name", Ph: "M", PID: 1, Args: map[string]string{"name": "rctsim"}})
	enc := json.NewEncoder(w)
	return enc.Encode(struct {
		TraceEvents     []traceEvent `json:"traceEvents"`
		DisplayTimeUnit string       `json:"displayTimeUnit"`
	}{events, "ns"})
}

// sortIntervals orders by start, then unit, then index: a deterministic order.
func sortIntervals(iv []Interval) {
	slices.SortFunc(iv, func(a, b Interval) int {
		if c := cmp.Compare(a.Start, b.Start); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Unit, b.Unit); c != 0 {
			return c
		}
		return cmp.Compare(a.Index, b.Index)
	})
}
