// Faster equivalents of a few element-wise operations of train/numerics, for the
// integer path's hot loops: each returns exactly what the numerics function it stands
// for returns (tests compare them on random inputs and every shift), so RCT's
// numerics are still defined once, in train/numerics.

package train

import (
	"math"

	"github.com/rctsim/rctsim/train/numerics"
	"github.com/rctsim/rctsim/train/vec"
)

// addAligned is numerics.AddAligned, split across cores, with each operand's aligned
// value looked up in a table of its 256 possible int8 values.
func addAligned(a []int8, ea int, b []int8, eb int, acc []int32) (exp int) {
	exp = numerics.AddAligned(a[:0], ea, b[:0], eb, acc[:0])
	var ta, tb [256]int64
	for x := range 256 {
		ta[x] = numerics.RoundShift(int64(int8(x)), exp-ea)
		tb[x] = numerics.RoundShift(int64(int8(x)), exp-eb)
	}
	b, acc = b[:len(a)], acc[:len(a)]
	parallel(len(a), 1<<15, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			acc[i] = int32(ta[uint8(a[i])] + tb[uint8(b[i])])
		}
	})
	return exp
}

// addBias is numerics.AddBias row by row (the definition walks columns): each bias
// aligned once, then added to every row with saturation to ±(2^31-1), by
// vec.AddRows when every aligned bias is within that range.
func addBias(acc []int32, n int, bias []int32, shift int) {
	var buf [512]int64
	bj := buf[:0]
	if n > len(buf) {
		bj = make([]int64, 0, n)
	}
	fits := true // every aligned bias within ±(2^31-1), which vec.AddRows takes
	for _, b := range bias[:n] {
		v := numerics.RoundShift(int64(b), shift)
		bj = append(bj, v)
		fits = fits && v >= -math.MaxInt32 && v <= math.MaxInt32
	}
	if fits {
		var buf32 [512]int32
		b32 := buf32[:0]
		if n > len(buf32) {
			b32 = make([]int32, 0, n)
		}
		for _, v := range bj {
			b32 = append(b32, int32(v))
		}
		vec.AddRows(acc, b32)
		return
	}
	for r := 0; r+n <= len(acc); r += n {
		row := acc[r : r+n]
		for j, b := range bj {
			row[j] = int32(min(max(int64(row[j])+b, -math.MaxInt32), math.MaxInt32))
		}
	}
}
