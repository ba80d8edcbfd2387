// Package par runs the parts of a parallel loop on all cores, through workers that
// wait for work spinning for a while before they sleep.
//
// A training step cuts a few hundred loops into parts (element-wise passes of 20-130
// microseconds a call in a two-core ResNet-20 step, and the GEMMs); starting a
// goroutine per part made the other core wait for its thread to be woken, tens of
// microseconds on this project's VM each time: a third of the second core's time in
// the element-wise passes of a two-core ResNet-20 step went idle that way. A worker
// that has just finished a part keeps looking for the next for spinWait before it
// sleeps, and the caller runs a part itself, so a loop's parts start at once while the
// step runs.
//
// Who runs a part never changes what it computes: Do calls f once for every part,
// whichever goroutine takes it, and parts no worker is free to take (more parts than
// cores, or several goroutines running loops at once) run on the caller.
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// spinWait is how long a worker looks for its next part, and a caller for its parts'
// end, before sleeping. A training step's serial stretches between two loops are
// mostly shorter; a worker spinning in Gosched yields the core to any goroutine
// that wants it.
const spinWait = 200 * time.Microsecond

// Do calls f(part) for every part in [0, parts) and returns when all have returned.
// The calls run concurrently on up to GOMAXPROCS cores, part 0 on the caller.
func Do(parts int, f func(part int)) {
	if parts <= 1 {
		if parts == 1 {
			f(0)
		}
		return
	}
	g := &group{f: f, done: make(chan struct{})}
	g.pending.Store(int32(parts - 1))
	next := 1 // the first part no worker took
	for ; next < parts; next++ {
		w := take()
		if w == nil {
			break
		}
		w.post(g, next)
	}
	f(0)
	for p := next; p < parts; p++ {
		f(p)
		g.finish()
	}
	g.wait()
}

// group is one call of Do: its function and the parts handed to others not yet done.
type group struct {
	f       func(int)
	pending atomic.Int32
	done    chan struct{} // closed when pending reaches 0
}

func (g *group) finish() {
	if g.pending.Add(-1) == 0 {
		close(g.done)
	}
}

// wait returns when every part is done, spinning for spinWait before it sleeps.
func (g *group) wait() {
	if spin(func() bool { return g.pending.Load() == 0 }) {
		return
	}
	<-g.done
}

// spin calls Gosched until ready reports true or spinWait has passed, and returns the
// last report.
func spin(ready func() bool) bool {
	var start time.Time
	for i := 0; ; i++ {
		if ready() {
			return true
		}
		if i&63 == 0 {
			if i == 0 {
				start = time.Now()
			} else if time.Since(start) > spinWait {
				return ready()
			}
		}
		runtime.Gosched()
	}
}

// A worker's state: spinning (looking for a part), asleep, or given a part.
const (
	spinning int32 = iota
	asleep
	posted
)

type worker struct {
	state atomic.Int32
	wake  chan struct{} // a post to a sleeping worker; buffered 1
	group *group        // the part posted: written before state becomes posted
	part  int
}

// workers is the process's pool, as the runtime's threads are: idle holds the
// workers free to take a part, started holds how many exist.
var workers struct {
	sync.Mutex
	idle    []*worker
	started int
}

// take returns an idle worker, starting one while fewer than GOMAXPROCS-1 exist, or
// nil when none is free.
func take() *worker {
	workers.Lock()
	defer workers.Unlock()
	if n := len(workers.idle); n > 0 {
		w := workers.idle[n-1]
		workers.idle = workers.idle[:n-1]
		return w
	}
	if workers.started >= runtime.GOMAXPROCS(0)-1 {
		return nil
	}
	workers.started++
	w := &worker{wake: make(chan struct{}, 1)}
	go w.loop()
	return w
}

func (w *worker) post(g *group, part int) {
	w.group, w.part = g, part
	if w.state.Swap(posted) == asleep {
		w.wake <- struct{}{}
	}
}

func (w *worker) loop() {
	for {
		if !spin(func() bool { return w.state.Load() == posted }) && w.state.CompareAndSwap(spinning, asleep) {
			<-w.wake
		}
		g, part := w.group, w.part
		w.group = nil
		w.state.Store(spinning)
		g.f(part)
		// Idle again before the group can end: a caller that returns and calls Do
		// again finds this worker free.
		workers.Lock()
		workers.idle = append(workers.idle, w)
		workers.Unlock()
		g.finish()
	}
}
