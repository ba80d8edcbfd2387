package par

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDoRunsEveryPartOnce runs loops of every size from 0 to more parts than cores,
// one after another (workers reused) and after pauses long enough for the workers to
// sleep, checking that each part ran once and all had ended when Do returned.
func TestDoRunsEveryPartOnce(t *testing.T) {
	for _, pause := range []time.Duration{0, 3 * spinWait} {
		for parts := range 2*runtime.GOMAXPROCS(0) + 3 {
			counts := make([]atomic.Int32, parts)
			Do(parts, func(p int) {
				time.Sleep(time.Duration(p%3) * 100 * time.Microsecond)
				counts[p].Add(1)
			})
			for p := range counts {
				if n := counts[p].Load(); n != 1 {
					t.Fatalf("pause %v, %d parts: part %d ran %d times", pause, parts, p, n)
				}
			}
			time.Sleep(pause)
		}
	}
}

// TestDoConcurrentAndNested runs loops from several goroutines at once, each part
// running a loop of its own: parts no worker is free to take run on their callers,
// and nothing waits for a worker that waits in turn.
func TestDoConcurrentAndNested(t *testing.T) {
	const callers, outer, inner = 4, 5, 3
	var total atomic.Int64
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for range 50 {
				var sum atomic.Int64
				Do(outer, func(p int) {
					Do(inner, func(q int) { sum.Add(int64(c*100 + p*10 + q)) })
				})
				want := int64(0)
				for p := range outer {
					for q := range inner {
						want += int64(c*100 + p*10 + q)
					}
				}
				if got := sum.Load(); got != want {
					panic(fmt.Sprintf("caller %d: parts summed to %d, want %d", c, got, want))
				}
				total.Add(1)
			}
		})
	}
	wg.Wait()
	if total.Load() != callers*50 {
		t.Fatalf("%d loops ended, want %d", total.Load(), callers*50)
	}
}

// TestDoUsesOtherCores checks that a loop's parts run at the same time when cores
// allow: each part waits until every part has started (or a second has passed).
func TestDoUsesOtherCores(t *testing.T) {
	parts := runtime.GOMAXPROCS(0)
	if parts < 2 {
		t.Skip("one core")
	}
	var started atomic.Int32
	overlapped := true
	var mu sync.Mutex
	Do(parts, func(int) {
		started.Add(1)
		deadline := time.Now().Add(time.Second)
		for started.Load() < int32(parts) {
			if time.Now().After(deadline) {
				mu.Lock()
				overlapped = false
				mu.Unlock()
				return
			}
			runtime.Gosched()
		}
	})
	if !overlapped {
		t.Fatalf("the %d parts did not all run at once", parts)
	}
}

// BenchmarkDo is the cost of a loop of empty parts, one per core.
func BenchmarkDo(b *testing.B) {
	parts := runtime.GOMAXPROCS(0)
	for b.Loop() {
		Do(parts, func(int) {})
	}
}
