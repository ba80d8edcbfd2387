package sweep

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard is one part of a deterministic partition of a sweep's points: point k belongs
// to shard k mod Count. Interleaving (rather than cutting the sweep into ranges) gives
// every shard the same mix of cheap and expensive points, so that a job array's tasks
// finish together. The zero Shard is the whole sweep.
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

// Contains reports whether point k belongs to the shard.
func (sh Shard) Contains(k int) bool {
	sh = sh.norm()
	return k%sh.Count == sh.Index
}

// Len is the number of the points 0..total-1 that belong to the shard.
func (sh Shard) Len(total int) int {
	sh = sh.norm()
	if total <= sh.Index {
		return 0
	}
	return (total-1-sh.Index)/sh.Count + 1
}

// At is the point index of the shard's i-th point.
func (sh Shard) At(i int) int {
	sh = sh.norm()
	return sh.Index + i*sh.Count
}
