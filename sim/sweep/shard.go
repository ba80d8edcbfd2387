package sweep

import (
	"fmt"
	"iter"
	"math/bits"
	"strconv"
	"strings"
)

// Shard is one part of a deterministic partition of a sweep's points, balanced so
// that every shard gets the same mix of models, methods, plans, batch sizes and
// hardware and a job array's tasks finish together. The zero Shard is the whole sweep.
//
// The points are dealt in a stride order: position j holds point j*s mod total, with
// s the integer nearest total/φ (φ the golden ratio) that is coprime with total, and
// shard i of N takes the positions from ⌊i·total/N⌋ up to ⌊(i+1)·total/N⌋. Because s
// is coprime with total, and so with the product of any innermost lists (the plans,
// the methods, the batch sizes, the models, then the last axes) that divides it,
// consecutive positions run through every combination of those lists before
// repeating one: each shard holds each combination as often as any other shard, to
// within one, and the golden-ratio step spreads its points over the outer axes. Plain
// interleaving (point k to shard k mod N) would instead give an even N's shards
// only one method of two. ShardOf is this assignment, and the only one: Run, Contains,
// Len, Points and Merge's report of missing points all use it.
type Shard struct {
	Index, Count int
}

// ParseShard reads "i/N", 0 <= i < N: the form of --shard, e.g.
// --shard $SLURM_ARRAY_TASK_ID/8 with #SBATCH --array=0-7.
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	switch {
	case !ok || err1 != nil || err2 != nil:
		return Shard{}, fmt.Errorf("shard %q: want i/N, e.g. 0/8", s)
	case n < 1:
		return Shard{}, fmt.Errorf("shard %q: N must be at least 1", s)
	case i < 0 || i >= n:
		return Shard{}, fmt.Errorf("shard %q: i must be in 0..%d (shards count from 0: Slurm --array=0-%d, Kubernetes JOB_COMPLETION_INDEX)", s, n-1, n-1)
	}
	return Shard{Index: i, Count: n}, nil
}

func (sh Shard) norm() Shard {
	if sh.Count < 1 {
		return Shard{Index: 0, Count: 1}
	}
	return sh
}

// String prints the shard as ParseShard reads it.
func (sh Shard) String() string {
	sh = sh.norm()
	return fmt.Sprintf("%d/%d", sh.Index, sh.Count)
}

// ShardOf returns the index of the shard, of count, that point k of a sweep of total
// points belongs to (see Shard). 0 <= k < total <= MaxPoints, count >= 1.
func ShardOf(k, total, count int) int {
	return newDealing(total).shardOf(k, count)
}

// Contains reports whether point k of a sweep of total points belongs to the shard.
func (sh Shard) Contains(k, total int) bool {
	sh = sh.norm()
	return ShardOf(k, total, sh.Count) == sh.Index
}

// Len is the number of the points 0..total-1 that belong to the shard.
func (sh Shard) Len(total int) int {
	sh = sh.norm()
	return posBound(sh.Index+1, total, sh.Count) - posBound(sh.Index, total, sh.Count)
}

// Points yields the shard's points of a sweep of total points, in increasing order.
// It looks at every point of the sweep once, a multiplication each.
func (sh Shard) Points(total int) iter.Seq[int] {
	sh = sh.norm()
	return func(yield func(int) bool) {
		d := newDealing(total)
		lo, hi := uint64(posBound(sh.Index, total, sh.Count)), uint64(posBound(sh.Index+1, total, sh.Count))
		if lo == hi {
			return
		}
		for k := range total {
			if p := d.pos(k); p >= lo && p < hi && !yield(k) {
				return
			}
		}
	}
}

// dealing is the stride order of a sweep's points: position j holds point j*stride
// mod total, so point k is at position k*inverse mod total.
type dealing struct {
	total, inverse uint64
}

// invPhi is 1/φ, the golden ratio's inverse: the stride's share of the points.
const invPhi = 0.6180339887498949

func newDealing(total int) dealing {
	t := uint64(max(total, 1))
	if t <= 2 {
		return dealing{total: t, inverse: 1}
	}
	s0 := uint64(float64(t)*invPhi + 0.5)
	// A coprime is never far: search outwards from the golden-ratio step.
	for d := uint64(0); ; d++ {
		for _, s := range []uint64{s0 + d, s0 - d} {
			if s >= 1 && s < t && gcd(s, t) == 1 {
				return dealing{total: t, inverse: modInverse(s, t)}
			}
		}
	}
}

// pos is the position of point k.
func (d dealing) pos(k int) uint64 {
	hi, lo := bits.Mul64(uint64(k), d.inverse)
	_, rem := bits.Div64(hi%d.total, lo, d.total)
	return rem
}

// shardOf is the shard of count whose positions hold point k.
func (d dealing) shardOf(k, count int) int {
	n := uint64(max(count, 1))
	// The shard i with ⌊i·t/n⌋ <= pos < ⌊(i+1)·t/n⌋ is ⌊((pos+1)·n - 1)/t⌋.
	hi, lo := bits.Mul64(d.pos(k)+1, n)
	lo, borrow := bits.Sub64(lo, 1, 0)
	hi -= borrow
	q, _ := bits.Div64(hi, lo, d.total)
	return int(q)
}

// posBound is ⌊i·total/count⌋: the first position of shard i (of shard count, the
// end of the last).
func posBound(i, total, count int) int {
	if total <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(i), uint64(total))
	q, _ := bits.Div64(hi, lo, uint64(count))
	return int(q)
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// modInverse is the inverse of s modulo t, gcd(s, t) = 1.
func modInverse(s, t uint64) uint64 {
	// Extended Euclid on signed values: t < 2^31, so they fit.
	a, b := int64(s), int64(t)
	x0, x1 := int64(1), int64(0)
	for b != 0 {
		q := a / b
		a, b = b, a-q*b
		x0, x1 = x1, x0-q*x1
	}
	x0 %= int64(t)
	if x0 < 0 {
		x0 += int64(t)
	}
	return uint64(x0)
}
