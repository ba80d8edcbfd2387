// Grouped (and depthwise) convolutions, computed by direct loops over the NHWC
// input rather than through im2col: a depthwise 3x3 layer does 9 multiply-adds per
// output, and unfolding its input would copy it 9 times to feed GEMMs of a single row
// each. Every sum runs over integers in the integer path and is exact in float64 (the
// same per-group GEMMs as numerics.GEMMInt defines), and in a fixed order in the float
// path, so results do not depend on how the work is split across cores.
//
// The weights the loops read are the canonical [Cout][Cin/groups][kh][kw] weights
// transposed to [kh][kw][Cin/groups][Cout] (groupedWeights), so that the innermost
// loop runs over output channels, contiguous in both the weights and the NHWC output.

package train

// groupedWeights writes canonical grouped-convolution weights w ([cout][cinG][kh][kw])
// as dst[((ki*kw+kj)*cinG+c)*cout+o].
func groupedWeights[T int32 | float32 | float64, D elem](g *convGeom, w []T, dst []D) {
	taps := g.kh * g.kw
	for o := range g.cout {
		for c := range g.cinG {
			for t := range taps {
				dst[(t*g.cinG+c)*g.cout+o] = D(w[(o*g.cinG+c)*taps+t])
			}
		}
	}
}

// forTaps calls f for every kernel tap of output position (oh, ow) that falls inside
// the input, with the tap's index ki*kw+kj and the input position's row-major index.
func (g *convGeom) forTaps(oh, ow int, f func(tap, ipos int)) {
	for ki := range g.kh {
		ih := oh*g.stride + ki - g.padT
		if ih < 0 || ih >= g.h {
			continue
		}
		for kj := range g.kw {
			iw := ow*g.stride + kj - g.padL
			if iw < 0 || iw >= g.w {
				continue
			}
			f(ki*g.kw+kj, ih*g.w+iw)
		}
	}
}

// groupedForward computes a grouped convolution's output before its bias, y (n
// examples, NHWC), from the input x (NHWC) and the transposed weights wT.
func groupedForward(g *convGeom, x []float64, n int, wT []float64, y []float64) {
	parallel(n*g.ho, 1, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			b, oh := r/g.ho, r%g.ho
			img := x[b*g.inElems():]
			for ow := range g.wo {
				yrow := y[((b*g.ho+oh)*g.wo+ow)*g.cout:][:g.cout]
				clear(yrow)
				g.forTaps(oh, ow, func(tap, ipos int) {
					xrow := img[ipos*g.cin:][:g.cin]
					for c := range g.cinG {
						wrow := wT[(tap*g.cinG+c)*g.cout:][:g.cout]
						if g.cinG == 1 && g.coutG == 1 {
							for o, wv := range wrow {
								yrow[o] += xrow[o] * wv
							}
							continue
						}
						for gi := range g.groups {
							xv := xrow[gi*g.cinG+c]
							lo := gi * g.coutG
							for o := lo; o < lo+g.coutG; o++ {
								yrow[o] += xv * wrow[o]
							}
						}
					}
				})
			}
		}
	})
}

// groupedBackward computes a grouped convolution's weight gradient gw (canonical
// layout) and, when dx is not nil, its input's error dx (NHWC), from the output error
// dy (NHWC), the transposed weights wT and the saved input x; scratch holds at least
// len(gw) values.
func groupedBackward(g *convGeom, dy []float64, n int, wT, x, scratch, gw, dx []float64) {
	taps := g.kh * g.kw
	gT := scratch[:taps*g.cinG*g.cout]
	// Weight gradient: each part owns a range of output channels and sums over every
	// example and position in the same order.
	parallel(g.cout, 16, func(o0, o1 int) {
		for t := range taps {
			for c := range g.cinG {
				clear(gT[(t*g.cinG+c)*g.cout+o0 : (t*g.cinG+c)*g.cout+o1])
			}
		}
		for b := range n {
			img := x[b*g.inElems():]
			for oh := range g.ho {
				for ow := range g.wo {
					drow := dy[((b*g.ho+oh)*g.wo+ow)*g.cout:][:g.cout]
					g.forTaps(oh, ow, func(tap, ipos int) {
						xrow := img[ipos*g.cin:][:g.cin]
						for c := range g.cinG {
							grow := gT[(tap*g.cinG+c)*g.cout:][:g.cout]
							for o := o0; o < o1; o++ {
								grow[o] += drow[o] * xrow[o/g.coutG*g.cinG+c]
							}
						}
					})
				}
			}
		}
	})
	for o := range g.cout {
		for c := range g.cinG {
			for t := range taps {
				gw[(o*g.cinG+c)*taps+t] = gT[(t*g.cinG+c)*g.cout+o]
			}
		}
	}
	if dx == nil {
		return
	}
	// Input error: each example's positions receive the errors of the outputs whose
	// taps read them, in output order.
	parallel(n, 1, func(b0, b1 int) {
		for b := b0; b < b1; b++ {
			dimg := dx[b*g.inElems() : (b+1)*g.inElems()]
			clear(dimg)
			for oh := range g.ho {
				for ow := range g.wo {
					drow := dy[((b*g.ho+oh)*g.wo+ow)*g.cout:][:g.cout]
					g.forTaps(oh, ow, func(tap, ipos int) {
						xrow := dimg[ipos*g.cin:][:g.cin]
						for c := range g.cinG {
							wrow := wT[(tap*g.cinG+c)*g.cout:][:g.cout]
							if g.cinG == 1 && g.coutG == 1 {
								for o, wv := range wrow {
									xrow[o] += drow[o] * wv
								}
								continue
							}
							for gi := range g.groups {
								var s float64
								lo := gi * g.coutG
								for o := lo; o < lo+g.coutG; o++ {
									s += drow[o] * wrow[o]
								}
								xrow[gi*g.cinG+c] += s
							}
						}
					})
				}
			}
		}
	})
}

// groupedForwardE is groupedForward for any path: the float32 and integer paths copy
// their operands to float64 (exactly) and round the results once (integers: exact,
// saturated to int32).
func groupedForwardE[E elem, C colElem](g *convGeom, x []C, n int, wT []E, s *gemmScratch[E], y []E) {
	if x64, ok := any(x).([]float64); ok {
		groupedForward(g, x64, n, any(wT).([]float64), any(y).([]float64))
		return
	}
	x64, w64, y64 := s.f64Buf(0, len(x)), s.f64Buf(1, len(wT)), s.f64Buf(2, len(y))
	convert(x64, x)
	convert(w64, wT)
	groupedForward(g, x64, n, w64, y64)
	fromFloat64(y, y64)
}

// groupedBackwardE is groupedBackward for any path (see groupedForwardE).
func groupedBackwardE[E elem, C colElem](g *convGeom, dy []E, n int, wT []E, x []C, s *gemmScratch[E], gw, dx []E) {
	if dy64, ok := any(dy).([]float64); ok {
		var dx64 []float64
		if dx != nil {
			dx64 = any(dx).([]float64)
		}
		groupedBackward(g, dy64, n, any(wT).([]float64), any(x).([]float64), any(s.b).([]float64), any(gw).([]float64), dx64)
		return
	}
	x = x[:n*g.inElems()]
	dy64, w64, x64 := s.f64Buf(0, len(dy)), s.f64Buf(1, len(wT)), s.f64Buf(2, len(x))
	convert(dy64, dy)
	convert(w64, wT)
	convert(x64, x)
	gw64 := s.f64Buf(3, 2*len(gw))
	var dx64 []float64
	if dx != nil {
		dx64 = s.f64Buf(4, len(x))
	}
	groupedBackward(g, dy64, n, w64, x64, gw64[len(gw):], gw64[:len(gw)], dx64)
	fromFloat64(gw, gw64[:len(gw)])
	if dx != nil {
		fromFloat64(dx[:len(x)], dx64)
	}
}

// fromFloat64 converts float64 results to a path's type: rounded to float32, or, for
// exact integers, saturated to int32 (toInt32).
func fromFloat64[E elem](dst []E, src []float64) {
	if d, ok := any(dst).([]int32); ok {
		toInt32(d, src)
		return
	}
	convert(dst, src)
}
