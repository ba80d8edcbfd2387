package vec

// Pool2x2 is the geometry of 2x2 max pooling over an input whose channels are last: C
// channels, Down values from a tap to the one below it, Step values from a window to
// the next of its output row, RowSkip more after a row's last window, WO windows a
// row.
type Pool2x2 struct{ C, Down, Step, RowSkip, WO int }

// MaxPool2x2 writes, for count output positions n (g.WO a row) of g.C channels ch,
// the largest of the window's taps x[o], x[o+C], x[o+Down], x[o+Down+C] (top left, top
// right, bottom left, bottom right), o = first + n*Step + (n/WO)*RowSkip + ch, to
// out[n*C+ch], and that tap's index in x to arg[n*C+ch]. A later tap wins only if
// greater, so ties keep the first in that order, a NaN tap never wins and a NaN first
// tap always does, as in a scan with >.
func MaxPool2x2[T int8 | float32 | float64](out []T, arg []int32, x []T, first int, g Pool2x2, count int) {
	if count <= 0 {
		return
	}
	out, arg = out[:count*g.C], arg[:count*g.C]
	at := func(n int) int { return first + n*g.Step + n/g.WO*g.RowSkip } // position n's first tap
	_ = x[at(count-1)+g.Down+2*g.C-1]                                    // the last position's last tap
	n := 0
	// The kernels write whole blocks of eight channels, into the next position's
	// outputs, and read as far into the input: they leave the last position, and
	// need as many values to write and read from position count-2 as it has.
	if blocks := (g.C + 7) / 8; useAVX2 && count > 1 && 8*blocks <= 2*g.C &&
		at(count-2)+g.Down+g.C+8*blocks <= len(x) {
		n = count - 1
		switch xs := any(x).(type) {
		case []float32:
			maxPool2x2F32AVX2(&any(out).([]float32)[0], &arg[0], &xs[first], first, g.C, g.Down, g.Step, g.RowSkip, g.WO, n)
		case []int8:
			maxPool2x2I8AVX2(&any(out).([]int8)[0], &arg[0], &xs[first], first, g.C, g.Down, g.Step, g.RowSkip, g.WO, n)
		default:
			n = 0
		}
	}
	for ; n < count; n++ {
		corner := at(n)
		x0 := x[corner : corner+g.C]
		x1 := x[corner+g.C:][:len(x0)]
		x2 := x[corner+g.Down:][:len(x0)]
		x3 := x[corner+g.Down+g.C:][:len(x0)]
		best, idx := out[n*g.C:][:len(x0)], arg[n*g.C:][:len(x0)]
		for ch, v := range x0 {
			a := corner + ch
			if v1 := x1[ch]; v1 > v {
				v, a = v1, corner+g.C+ch
			}
			if v2 := x2[ch]; v2 > v {
				v, a = v2, corner+g.Down+ch
			}
			if v3 := x3[ch]; v3 > v {
				v, a = v3, corner+g.Down+g.C+ch
			}
			best[ch], idx[ch] = v, int32(a)
		}
	}
}
