package numerics

import (
	"math/rand/v2"
	"testing"
)

func TestPackBitsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bits := range []int{2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17, 24, 31, 32} {
		lim := int64(1)<<(bits-1) - 1
		vals := make([]int32, 37)
		for i := range vals {
			vals[i] = int32(rng.Int64N(2*lim+1) - lim)
		}
		vals[0], vals[1] = int32(lim), int32(-lim)
		for _, off := range []int{0, 3, 8} {
			buf := make([]byte, (off+len(vals)*bits+7)/8+1)
			for i := range buf {
				buf[i] = 0xA5 // bits outside the fields must survive
			}
			PackBitsAt(vals, bits, buf, off)
			got := make([]int32, len(vals))
			UnpackBits(buf, bits, off, got)
			for i := range vals {
				if got[i] != vals[i] {
					t.Fatalf("%d bits at offset %d: value %d is %d after a round trip", bits, off, vals[i], got[i])
				}
			}
			if off == 3 && buf[0]&7 != 0xA5&7 {
				t.Errorf("%d bits: bits before the offset changed", bits)
			}
		}
	}
	// 8-bit fields are plain two's-complement bytes.
	buf := make([]byte, 2)
	PackBits([]int32{-1, 5}, 8, buf)
	if buf[0] != 0xFF || buf[1] != 5 {
		t.Errorf("8-bit packing gives %x", buf)
	}
}

func TestRandStream(t *testing.T) {
	if got := RandStream(3, 7, 1); got != 3<<24|7<<1|1 {
		t.Errorf("RandStream = %#x", got)
	}
}
