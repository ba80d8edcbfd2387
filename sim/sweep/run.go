package sweep

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/traces/progress"
)

// Options control Run.
type Options struct {
	// Workers is the number of points simulated at once (0: GOMAXPROCS, every core;
	// at most MaxWorkers).
	Workers int
	// Shard selects the part of the sweep to run (the zero Shard: all of it).
	Shard Shard
	// CSV is the CSV file the rows are appended to; rerunning skips the points it
	// already has. Empty: CSV goes to Stdout, and nothing is resumed. A device or FIFO
	// (/dev/null, a named pipe) is written as it is and never read back: nothing is
	// resumed from it.
	CSV string
	// JSONL, when set, is a JSON Lines file that gets the same rows, resumed the same way.
	JSONL string
	// Stdout receives the CSV when CSV is empty (nil: no CSV at all).
	Stdout io.Writer
	// JSONLStream receives the JSON Lines when JSONL is empty (nil: no JSON Lines).
	JSONLStream io.Writer
	// Fresh starts the output files over instead of resuming them.
	Fresh bool
	// Progress reports the points done (nil: no report).
	Progress *progress.Reporter
	// Window bounds the points in flight or waiting to be written in order (default
	// 8 per worker, at most MaxWindow): the memory of a sweep does not grow with its
	// points.
	Window int
	// CacheSize bounds the simulated steps kept for reuse (default 256: enough for
	// the distinct plans of a few schedules; each is a few KiB).
	CacheSize int

	// afterRow, for tests, is called after each row written, with the count so far.
	afterRow func(n int)
	// startPoint, for tests, is called by a worker as it starts simulating point k.
	startPoint func(k int)
}

// Bounds of Options: each worker holds a machine and a compiled program (tens to
// hundreds of MiB for a large model), and the window holds finished rows.
const (
	MaxWorkers = 1024
	MaxWindow  = 1 << 16
)

// Summary counts what Run did.
type Summary struct {
	// Points is the number of points in the shard.
	Points int
	// Skipped were already in the outputs; Simulated were run now, Failed of them
	// with an error recorded in their row.
	Skipped, Simulated, Failed int
	// Duplicates are points whose hash an earlier point of this run already had (two
	// [[points]] tables naming the same configuration); they are written once.
	Duplicates int
	// Abandoned are the points whose simulation a cancellation stopped part way: they
	// have no row, and rerunning simulates them.
	Abandoned int
	// Dropped is the bytes of partial last rows cut from the outputs on resuming.
	Dropped int
	Elapsed time.Duration
}

// Run simulates the points of spec in opts.Shard that the outputs do not have yet, on
// opts.Workers goroutines, and appends one row per point to the outputs in point order
// (so the bytes written do not depend on the number of workers). It returns when every
// point is written, on an output error, or soon after ctx is cancelled: cancellation
// reaches the simulations in flight, which stop at their next instruction (a point
// still being compiled finishes compiling first); their points get no row, the rows
// written stay whole, and rerunning resumes. A point that fails is a row with its
// error, not a failure of Run.
//
// Every output is checked, and an existing file read, before any is changed: a bad
// output (a folder, a file of another sweep, a path that cannot be created) is an
// error that leaves the others as they were, even with Fresh.
func Run(ctx context.Context, spec *Spec, opts Options) (sum *Summary, err error) {
	start := time.Now()
	shard := opts.Shard.norm()
	n := shard.Len(spec.Len())
	sum = &Summary{Points: n}
	defer func() { sum.Elapsed = time.Since(start) }()
	workers := opts.Workers
	switch {
	case workers < 0 || workers > MaxWorkers:
		return sum, fmt.Errorf("sweep: %d workers: want 1..%d (0: every core)", workers, MaxWorkers)
	case workers == 0:
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, n)) // more would have nothing to do
	window := opts.Window
	switch {
	case window > MaxWindow:
		return sum, fmt.Errorf("sweep: a window of %d points: want at most %d", window, MaxWindow)
	case window <= 0:
		window = max(16, 8*workers)
	}
	cacheSize := opts.CacheSize
	if cacheSize <= 0 {
		cacheSize = 256
	}

	csvOut, jsonOut, err := openOutputs(spec, opts)
	if err != nil {
		return sum, err
	}
	for _, o := range []*output{csvOut, jsonOut} {
		if o != nil {
			sum.Dropped += o.dropped
			defer func() {
				if cerr := o.close(); err == nil && cerr != nil {
					err = fmt.Errorf("%s: %w", o.path, cerr)
				}
			}()
		}
	}
	// The outputs' done sets are only read once the workers start.
	needCSV := func(h string) bool { return csvOut != nil && !csvOut.has(h) }
	needJSON := func(h string) bool { return jsonOut != nil && !jsonOut.has(h) }

	label := spec.Name
	if label == "" {
		label = spec.File
	}
	if shard.Count > 1 {
		label += " shard " + shard.String()
	}
	prog := opts.Progress
	prog.Start(label, "points", n)
	var st progress.Status

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type job struct{ seq, k int }
	jobs := make(chan job)
	results := make(chan result, window)
	// A token is taken for each point dispatched and returned when it is written: at
	// most window points are between the dispatcher and the file.
	tokens := make(chan struct{}, window)
	cache := newStatsCache(cacheSize)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		seq := 0
		for k := range shard.Points(spec.Len()) {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{seq, k}:
			case <-ctx.Done():
				return
			}
			seq++
		}
	}()
	var mu sync.Mutex
	abandoned := 0 // read after wg.Wait
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{ctx: ctx, spec: spec, cache: cache, startPoint: opts.startPoint}
			for j := range jobs {
				if ctx.Err() != nil {
					return // a job taken as the sweep stopped: not started
				}
				r := w.do(j.seq, j.k, needCSV, needJSON)
				if r.abandoned {
					mu.Lock()
					abandoned++
					mu.Unlock()
					return
				}
				select {
				case results <- r:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	// The workers stop soon after a cancel (their simulations check ctx), so waiting
	// for them costs little and leaves no goroutine behind.
	defer func() {
		cancel()
		wg.Wait()
		sum.Abandoned = abandoned
	}()

	pending := make(map[int]result, window)
	// Only [[points]] tables can name one configuration twice (the axes, plans and
	// lists of a spec are checked for repeats), so only then are hashes remembered.
	var written map[uint64]struct{}
	if len(spec.Fixes) > 1 {
		written = map[uint64]struct{}{}
	}
	next := 0
	// flush writes the points that are next in order.
	flush := func() error {
		for {
			r, ok := pending[next]
			if !ok {
				return nil
			}
			delete(pending, next)
			if err := writeResult(r, csvOut, jsonOut, written, sum, &st); err != nil {
				return err
			}
			next++
			<-tokens
			if opts.afterRow != nil && !r.skip {
				opts.afterRow(sum.Simulated)
			}
		}
	}
	// Tick so that a slow point still moves the ETA and the elapsed time.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for next < n {
		select {
		case r := <-results:
			pending[r.seq] = r
			if err := flush(); err != nil {
				return sum, err
			}
			prog.Update(st)
		case <-tick.C:
			prog.Update(st)
		case <-ctx.Done():
			// Keep the rows already finished that are next in order; the points
			// still in flight are abandoned.
			for drained := false; !drained; {
				select {
				case r := <-results:
					pending[r.seq] = r
				default:
					drained = true
				}
			}
			if err := flush(); err != nil {
				return sum, err
			}
			prog.Finish(st)
			if next == n {
				return sum, nil
			}
			return sum, fmt.Errorf("sweep interrupted after %d of %d points (the rows written are kept; rerun to resume): %w",
				sum.Skipped+sum.Simulated+sum.Duplicates, n, context.Cause(ctx))
		}
	}
	prog.Finish(st)
	return sum, nil
}

// openOutputs opens the outputs opts names: each is checked (and an existing file
// read) first, and only when every one is good are they created, cut or started over
// and given their header, so that a bad output leaves the others untouched.
func openOutputs(spec *Spec, opts Options) (csvOut, jsonOut *output, err error) {
	if opts.CSV == "" && opts.Stdout == nil && opts.JSONL == "" && opts.JSONLStream == nil {
		return nil, nil, errors.New("sweep: no output (set Options.CSV, JSONL, Stdout or JSONLStream)")
	}
	if opts.CSV != "" && opts.JSONL != "" && sameRegular(opts.CSV, opts.JSONL) {
		return nil, nil, fmt.Errorf("sweep: the CSV and JSON Lines outputs are the same file %s", opts.CSV)
	}
	if opts.CSV == "" && opts.JSONL == "" && opts.Stdout != nil && opts.Stdout == opts.JSONLStream {
		return nil, nil, errors.New("sweep: the CSV and the JSON Lines go to the same stream")
	}
	var outs []*output
	fail := func(err error) (*output, *output, error) {
		for _, o := range outs {
			o.abandon()
		}
		return nil, nil, err
	}
	header := csvLine(spec.columns)
	switch {
	case opts.CSV != "":
		csvOut, err = prepareFile(opts.CSV, header, csvHash(len(spec.columns)), opts.Fresh)
	case opts.Stdout != nil:
		csvOut = openStream("stdout", opts.Stdout, header)
	}
	if err != nil {
		return fail(err)
	}
	if csvOut != nil {
		outs = append(outs, csvOut)
	}
	switch {
	case opts.JSONL != "":
		jsonOut, err = prepareFile(opts.JSONL, nil, jsonlHash, opts.Fresh)
	case opts.JSONLStream != nil:
		jsonOut = openStream("JSON Lines stream", opts.JSONLStream, nil)
	}
	if err != nil {
		return fail(err)
	}
	if jsonOut != nil {
		outs = append(outs, jsonOut)
	}
	// New files first: creating one is what can still fail (permissions), and a file
	// created here can be removed again, while a cut cannot be undone.
	slices.SortStableFunc(outs, func(a, b *output) int {
		return cmp.Compare(boolInt(!a.create), boolInt(!b.create))
	})
	for _, o := range outs {
		if err := o.commit(); err != nil {
			return fail(err)
		}
	}
	return csvOut, jsonOut, nil
}

// sameRegular reports whether two output paths are one regular or new file (two
// writers to one device, such as /dev/null, are harmless).
func sameRegular(a, b string) bool {
	if !fileio.SameFile(a, b) {
		return false
	}
	_, info, err := fileio.Resolve(a)
	return err != nil || info == nil || info.Mode().IsRegular()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writeResult writes one point's rows to the outputs that lack them.
func writeResult(r result, csvOut, jsonOut *output, written map[uint64]struct{}, sum *Summary, st *progress.Status) error {
	if r.skip {
		sum.Skipped++
		st.Skipped++
		return nil
	}
	if written != nil {
		if _, dup := written[hashKey(r.hash)]; dup {
			sum.Duplicates++
			st.Skipped++
			return nil
		}
		written[hashKey(r.hash)] = struct{}{}
	}
	if r.csv != nil {
		if err := csvOut.write(r.csv); err != nil {
			return err
		}
	}
	if r.jsonl != nil {
		if err := jsonOut.write(r.jsonl); err != nil {
			return err
		}
	}
	sum.Simulated++
	st.Done++
	if r.fail {
		sum.Failed++
		st.Failed++
	}
	return nil
}
