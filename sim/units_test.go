package sim

import (
	"math/rand/v2"
	"testing"
)

// TestStridedBursts checks the count of bursts over a cycle of row offsets against
// covering every row one by one.
func TestStridedBursts(t *testing.T) {
	rowByRow := func(addr uint64, rows, rowBytes, stride int64, bb uint64) int64 {
		var n int64
		for row := range rows {
			lo := addr + uint64(row*stride)
			n += int64((lo + uint64(rowBytes) - lo&^(bb-1) + bb - 1) / bb)
		}
		return n
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		bb := uint64(1) << rng.IntN(8)
		addr := rng.Uint64N(1 << 20)
		rows := rng.Int64N(300)
		rowBytes := rng.Int64N(600)
		stride := rng.Int64N(2000) - 1000
		if rng.IntN(4) == 0 {
			stride = int64(bb) * rng.Int64N(8) // a whole number of bursts: one offset
		}
		if got, want := stridedBursts(addr, rows, rowBytes, stride, bb), rowByRow(addr, rows, rowBytes, stride, bb); got != want {
			t.Fatalf("stridedBursts(%d, %d rows, %d bytes, stride %d, burst %d) = %d; row by row %d", addr, rows, rowBytes, stride, bb, got, want)
		}
	}
}
