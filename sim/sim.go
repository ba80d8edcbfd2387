// Package sim owns time and energy. It executes a kernels.Program on a machine built from
// a hardware profile: an event-driven engine with integer cycles, one in-order queue per
// unit (DMA, MAC array, vector unit), dependencies between instructions, the DRAM's bank
// and row state stepped burst by burst, SRAM bandwidth limits, and a ledger that charges
// every event's energy to one (component, tensor class, phase) cell.
//
// The engine's cost grows with instructions and DRAM bursts, never with cycles x PEs: a
// GEMM instruction's cycles come from the systolic fold rule of hw, a vector
// instruction's from its lane count, and a DMA instruction's from the DRAM model.
package sim

import (
	"context"
	"fmt"
	"math"
	"math/bits"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/sim/dram"
)

// Options configure a Machine.
type Options struct {
	// IdealDRAM makes DMA transfers take no time and pay only the per-bit DRAM energy:
	// cycles are then compute cycles only, as SCALE-Sim reports them.
	IdealDRAM bool
	// Hooks observe every instruction's issue and completion. With none registered the
	// engine does no extra work.
	Hooks []Hook
	// PerLayer breaks the statistics down by layer and phase (Stats.Layers).
	PerLayer bool
	// Fidelity is FidelityExact (the default: every DRAM burst scheduled) or
	// FidelityFast (repeated transfers answered from samples; see dram's fast mode).
	Fidelity Fidelity
}

// dramIdeal is Stats.DRAMModel under Options.IdealDRAM.
const dramIdeal = "ideal"

// dramModel names how the options have the DRAM simulated (Stats.DRAMModel), as New
// reads them: only FidelityFast turns fast fidelity on.
func (o Options) dramModel() string {
	switch {
	case o.IdealDRAM:
		return dramIdeal
	case o.Fidelity == FidelityFast:
		return string(FidelityFast)
	}
	return string(FidelityExact)
}

// Fidelity chooses how exactly DRAM transfers are simulated.
type Fidelity string

// The fidelities. FidelityFast answers a transfer whose shape and context came before
// from the first few of its kind, simulated burst by burst; its error against
// FidelityExact is measured by TestFastFidelity, the FidelityTable test and, on DRAMs
// no shipped profile has, the FidelityHeldOut test.
const (
	FidelityExact Fidelity = "exact"
	FidelityFast  Fidelity = "fast"
)

// ParseFidelity reads "exact" or "fast" ("" is exact).
func ParseFidelity(s string) (Fidelity, error) {
	switch Fidelity(s) {
	case "", FidelityExact:
		return FidelityExact, nil
	case FidelityFast:
		return FidelityFast, nil
	}
	return "", fmt.Errorf("unknown fidelity %q (want exact or fast)", s)
}

// Event is one instruction's execution.
type Event struct {
	Index int32
	// Instr is the instruction written out for this call (the program stores it
	// compactly): valid until the hook returns, so a hook copies what it keeps.
	Instr *kernels.Instr
	// Issue and Complete are accelerator cycles; Complete is set in OnComplete only.
	Issue, Complete uint64
}

// Hook observes the engine (traces, timelines, functional execution).
type Hook interface {
	OnIssue(e Event)
	OnComplete(e Event)
}

// Machine is a simulated accelerator. It is not safe for concurrent use; build one per
// goroutine (building is cheap).
type Machine struct {
	prof *hw.Profile
	opts Options
	dram *dram.Controller
	bufs []bufferModel // by sorted buffer name, the order kernels uses

	accHz, dramHz uint64
	silicon       hw.Silicon // area and static power, by component
	// rsMemo remembers the row stationary mapping of each tile shape (rowStationary).
	rsMemo map[rsKey]hw.RSCost
}

type bufferModel struct {
	name          string
	spec          *hw.SRAMSpec
	bytesPerCycle float64 // banks x bank width x ports
}

// New builds a machine for a validated profile.
func New(p *hw.Profile, opts Options) (*Machine, error) {
	d, err := dram.New(p.DRAM)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", p.Name, err)
	}
	if opts.Fidelity == FidelityFast {
		d.SetFast(true)
	}
	m := &Machine{prof: p, opts: opts, dram: d, accHz: uint64(p.Clock.Hz()), dramHz: uint64(d.Clock().Hz()), silicon: p.Silicon()}
	for _, name := range p.BufferNames() {
		s := p.SRAM[name]
		m.bufs = append(m.bufs, bufferModel{name: name, spec: s, bytesPerCycle: float64(s.Banks * s.BankWidthBytes * s.Ports)})
	}
	return m, nil
}

// Profile returns the machine's hardware profile.
func (m *Machine) Profile() *hw.Profile { return m.prof }

// toDRAM converts accelerator cycles to DRAM cycles, rounding up (a request cannot
// arrive before the DRAM clock edge that follows it).
func (m *Machine) toDRAM(t uint64) uint64 { return mulDivCeil(t, m.dramHz, m.accHz) }

// fromDRAM converts DRAM cycles to accelerator cycles, rounding up.
func (m *Machine) fromDRAM(t uint64) uint64 { return mulDivCeil(t, m.accHz, m.dramHz) }

// mulDivCeil is ceil(a*b/c) without overflow.
func mulDivCeil(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	q, r := bits.Div64(hi, lo, c)
	if r != 0 {
		q++
	}
	return q
}

// event is a point in time at which the engine has something to do: an instruction
// completes, or the DMA unit may issue again.
type event struct {
	at    uint64
	index int32
	done  bool // completion (false: the DMA unit frees)
}

// eventQueue is a binary min-heap of events by time, then index: a total order (an
// instruction's two events fall at different times), so the order they come out in
// does not depend on the heap's algorithm. It is typed rather than a container/heap,
// whose interface boxes every event pushed and popped: an allocation each.
type eventQueue []event

func (e event) before(o event) bool {
	return e.at < o.at || e.at == o.at && e.index < o.index
}

func (q *eventQueue) push(e event) {
	h := append(*q, e)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h[i].before(h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
	*q = h
}

// pop removes and returns the earliest event; the queue must not be empty.
func (q *eventQueue) pop() event {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		least := i
		if l := 2*i + 1; l < n && h[l].before(h[least]) {
			least = l
		}
		if r := 2*i + 2; r < n && h[r].before(h[least]) {
			least = r
		}
		if least == i {
			break
		}
		h[i], h[least] = h[least], h[i]
		i = least
	}
	*q = h
	return top
}

// run is the state of one execution.
type run struct {
	m     *Machine
	prog  *kernels.Program
	stats *Stats
	ctx   context.Context

	now      uint64
	err      error   // the first failure of a unit (a DRAM transfer), which ends the run
	pending  []int32 // unfinished dependencies per instruction
	users    []int32 // CSR of dependents
	userOff  []int32
	queue    [kernels.NumUnits][]int32
	pos      [kernels.NumUnits]int
	freeAt   [kernels.NumUnits]uint64
	issued   []uint64
	done     []bool
	oldest   int // lowest instruction index not yet complete
	dmaDone  uint64
	cur, fin kernels.Instr // the instruction issuing, and the one completing, written out
	inUse    []int         // running instructions per buffer
	shapes   []shapeInfo   // by instruction shape (Machine.check)
	demand   []int64       // scratch: bytes one instruction moves per buffer
	events   eventQueue
	layers   map[layerKey]*LayerStats // nil unless Options.PerLayer
	bursts   []dram.Request           // scratch: one transfer's DRAM requests
	// dramSeen is the controller's counters after the last transfer (zero after its
	// Reset): nothing but a transfer moves them, so they are the next one's before.
	dramSeen dram.Stats
	staticMW float64 // the chip's static power (leakage and the DRAM PHY's)
	dramMW   float64 // DRAM background and refresh
}

// Run executes a program and returns its statistics.
func (m *Machine) Run(prog *kernels.Program) (*Stats, error) {
	return m.RunContext(context.Background(), prog)
}

// RunContext is Run that stops when ctx is done, returning ctx's error: a sweep or a
// server cancels a long simulation (a large model's step takes seconds) without
// waiting for it to end. The engine looks at ctx every cancelCheck events, so a
// context that is never cancelled costs nothing measurable.
func (m *Machine) RunContext(ctx context.Context, prog *kernels.Program) (*Stats, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	shapes, err := m.check(prog)
	if err != nil {
		return nil, err
	}
	m.dram.Reset()
	n := prog.Len()
	r := &run{m: m, prog: prog, stats: newStats(m, prog), ctx: ctx,
		pending: make([]int32, n), issued: make([]uint64, n), done: make([]bool, n),
		inUse: make([]int, len(m.bufs)), demand: make([]int64, len(m.bufs)), shapes: shapes}
	r.buildGraph()
	if m.opts.PerLayer {
		r.layers = make(map[layerKey]*LayerStats)
	}
	r.staticMW = m.silicon.TotalLeakageMW
	em := m.dram.EnergyModel()
	r.dramMW = em.ActiveStandbyMW + em.RefreshMW
	if err := r.loop(); err != nil {
		return nil, err
	}
	r.finish()
	return r.stats, nil
}

// shapeInfo is what the engine needs of an instruction shape on every instruction of
// it, found once per shape: a GEMM's MAC mode, and the buffers its operands are in
// (one entry per operand with bytes, -1 past the last), which completing an
// instruction frees without writing it out.
type shapeInfo struct {
	mode     hw.MACMode
	occupies [3]int32
}

// check verifies the program against this machine: structure, GEMM modes the array
// has, and buffers that exist with the capacities the compiler assumed. It returns
// what the engine needs of each shape, by shape index.
func (m *Machine) check(prog *kernels.Program) (shapes []shapeInfo, err error) {
	if err := prog.Validate(); err != nil {
		return nil, err
	}
	if len(prog.Buffers) != len(m.bufs) {
		return nil, fmt.Errorf("program uses %d SRAM buffers, profile %s has %d", len(prog.Buffers), m.prof.Name, len(m.bufs))
	}
	// Instructions of one shape run in the same mode on the same buffers: look at
	// each shape once.
	shapes = make([]shapeInfo, prog.NumShapes())
	seen := make([]bool, prog.NumShapes())
	for i := range prog.Len() {
		s := prog.Shape(i)
		if seen[s] {
			continue
		}
		seen[s] = true
		in := prog.Instr(i)
		shapes[s].occupies = occupied(&in)
		if in.Op == kernels.OpGEMM {
			if shapes[s].mode, err = m.mode(&in); err != nil {
				return nil, fmt.Errorf("instruction %d (gemm): %w", i, err)
			}
		}
	}
	for i, b := range prog.Buffers {
		if b.Name != m.bufs[i].name || b.Capacity > int64(m.bufs[i].spec.Capacity) {
			return nil, fmt.Errorf("program buffer %s (%d bytes) does not match profile %s's %s (%d bytes)",
				b.Name, b.Capacity, m.prof.Name, m.bufs[i].name, int64(m.bufs[i].spec.Capacity))
		}
	}
	return shapes, nil
}

func (r *run) buildGraph() {
	p := r.prog
	n := p.Len()
	count := make([]int32, n+1)
	var perUnit [kernels.NumUnits]int
	for i := range n {
		deps := p.Deps(i)
		r.pending[i] = int32(len(deps))
		for _, d := range deps {
			count[d+1]++
		}
		perUnit[p.Op(i).Unit()]++
	}
	for u := range r.queue {
		r.queue[u] = make([]int32, 0, perUnit[u])
	}
	for i := range n {
		u := p.Op(i).Unit()
		r.queue[u] = append(r.queue[u], int32(i))
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	r.userOff = count
	r.users = make([]int32, count[len(count)-1])
	fill := make([]int32, n)
	for i := range n {
		for _, d := range p.Deps(i) {
			r.users[count[d]+fill[d]] = int32(i)
			fill[d]++
		}
	}
}

// occupied lists the buffers in's operands with bytes are in, -1 past the last.
func occupied(in *kernels.Instr) [3]int32 {
	bufs, n := [3]int32{-1, -1, -1}, 0
	for _, o := range [3]kernels.Operand{in.A, in.B, in.C} {
		if o.Bytes > 0 {
			bufs[n] = int32(o.Buffer)
			n++
		}
	}
	return bufs
}

// cancelCheck is how many events the engine handles between looks at its context: a
// few milliseconds of work at most, so a cancel stops it well within a second.
const cancelCheck = 256

func (r *run) loop() error {
	completed := 0
	done := r.ctx.Done() // nil for a context that cannot be cancelled
	for n := 0; ; n++ {
		if done != nil && n%cancelCheck == 0 {
			select {
			case <-done:
				return r.ctx.Err()
			default:
			}
		}
		for u := kernels.Unit(0); u < kernels.NumUnits; u++ {
			r.tryIssue(u)
		}
		if r.err != nil {
			return r.err
		}
		if len(r.events) == 0 {
			break
		}
		ev := r.events.pop()
		r.advance(ev.at)
		if ev.done {
			r.complete(ev.index)
			completed++
		}
		// Drain everything else due now before issuing, so issue order does not depend
		// on event order within a cycle.
		for len(r.events) > 0 && r.events[0].at == r.now {
			ev := r.events.pop()
			if ev.done {
				r.complete(ev.index)
				completed++
			}
		}
	}
	if completed != r.prog.Len() {
		return fmt.Errorf("program deadlocked at cycle %d with %d of %d instructions complete", r.now, completed, r.prog.Len())
	}
	return nil
}

// tryIssue starts the unit's next instruction if the unit is free and its
// dependencies are complete.
func (r *run) tryIssue(u kernels.Unit) {
	if r.pos[u] >= len(r.queue[u]) || r.freeAt[u] > r.now {
		return
	}
	i := r.queue[u][r.pos[u]]
	if r.pending[i] > 0 {
		return
	}
	r.pos[u]++
	r.prog.InstrInto(int(i), &r.cur)
	in, shape := &r.cur, &r.shapes[r.prog.Shape(int(i))]
	r.issued[i] = r.now
	for _, h := range r.m.opts.Hooks {
		h.OnIssue(Event{Index: i, Instr: in, Issue: r.now})
	}
	var free, complete uint64
	switch in.Op {
	case kernels.OpLoad, kernels.OpStore:
		free, complete = r.dma(i, in)
		// The DMA engine retires in order, so a later transfer never completes first.
		complete = max(complete, r.dmaDone)
		r.dmaDone = complete
	case kernels.OpGEMM:
		complete = r.now + r.gemm(in, shape.mode)
		free = complete
	default:
		complete = r.now + r.vector(in)
		free = complete
	}
	r.freeAt[u] = free
	r.stats.Busy[u] += complete - r.now
	if r.layers != nil {
		ls := r.layer(in)
		ls.Instructions++
		ls.First, ls.Last = min(ls.First, r.now), max(ls.Last, complete)
	}
	for _, b := range shape.occupies {
		if b < 0 {
			break
		}
		r.inUse[b]++
	}
	r.events.push(event{at: complete, index: i, done: true})
	if free < complete {
		r.events.push(event{at: free, index: i})
	}
}

func (r *run) complete(i int32) {
	r.done[i] = true
	for _, b := range r.shapes[r.prog.Shape(int(i))].occupies {
		if b < 0 {
			break
		}
		r.inUse[b]--
	}
	if hooks := r.m.opts.Hooks; len(hooks) > 0 {
		r.prog.InstrInto(int(i), &r.fin)
		for _, h := range hooks {
			h.OnComplete(Event{Index: i, Instr: &r.fin, Issue: r.issued[i], Complete: r.now})
		}
	}
	for _, u := range r.users[r.userOff[i]:r.userOff[i+1]] {
		r.pending[u]--
	}
	for r.oldest < len(r.done) && r.done[r.oldest] {
		r.oldest++
	}
}

// advance moves time forward, charging leakage and DRAM background power to the phase
// of the oldest unfinished instruction: the phase the machine is working through.
func (r *run) advance(to uint64) {
	if to <= r.now {
		return
	}
	o := min(r.oldest, r.prog.Len()-1)
	oldest := &kernels.Instr{Phase: r.prog.Phase(o), Layer: r.prog.Layer(o)} // what charge reads
	dt := float64(to - r.now)
	r.charge(oldest, Static, kernels.ClassNone, r.m.powerPJ(r.staticMW, dt))
	r.charge(oldest, DRAMBackground, kernels.ClassNone, r.m.powerPJ(r.dramMW, dt))
	r.now = to
}

// powerPJ is the energy of mw milliwatts over cycles accelerator cycles.
func (m *Machine) powerPJ(mw, cycles float64) float64 {
	return mw * 1e9 * cycles / float64(m.accHz)
}

// charge books energy caused by an instruction (or, for time-proportional energy, the
// oldest unfinished one) to the ledger and, when asked, to its layer.
func (r *run) charge(in *kernels.Instr, c Component, class kernels.TensorClass, pj float64) {
	r.stats.Energy.Add(c, class, in.Phase, pj)
	if r.layers != nil {
		r.layer(in).EnergyPJ[c] += pj
	}
}

// layer returns the per-layer statistics an instruction contributes to.
func (r *run) layer(in *kernels.Instr) *LayerStats {
	k := layerKey{in.Layer, in.Phase}
	ls := r.layers[k]
	if ls == nil {
		ls = &LayerStats{Layer: in.Layer, Phase: in.Phase, First: math.MaxUint64}
		r.layers[k] = ls
	}
	return ls
}

// sramCycles is the cycles buffer b needs to move bytes when the instruction shares
// it with the others currently using it: ports are split evenly.
func (r *run) sramCycles(b int, bytes int64) uint64 {
	if bytes <= 0 {
		return 0
	}
	bw := r.m.bufs[b].bytesPerCycle / float64(1+r.inUse[b])
	return uint64(float64(bytes)/bw + 0.999999)
}

// sramAccess charges bank-word accesses for bytes read or written in buffer b.
func (r *run) sramAccess(in *kernels.Instr, o kernels.Operand, bytes int64, write bool) {
	if bytes <= 0 {
		return
	}
	spec := r.m.bufs[o.Buffer].spec
	words := float64((bytes + int64(spec.BankWidthBytes) - 1) / int64(spec.BankWidthBytes))
	e := spec.ReadEnergyPJ
	bs := &r.stats.Buffers[o.Buffer]
	if write {
		e = spec.WriteEnergyPJ
		bs.WriteBytes += bytes
	} else {
		bs.ReadBytes += bytes
	}
	bs.PeakBytes = max(bs.PeakBytes, o.End())
	r.charge(in, SRAM, o.Class, words*e)
}
