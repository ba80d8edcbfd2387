package gemm

import "unsafe"

// Elem is an element type of GEMM operands.
type Elem interface{ Int | float32 | float64 }

// Patches is a convolution's input seen as the matrix of its patches, im2col without
// the copy: one row per output position (example, output row, output column, in that
// order), one column per kernel tap and input channel in the order (kernel row, kernel
// column, channel); a tap that falls in the padding reads 0. X holds N examples of H x
// W positions of C channels, channels last (NHWC). As a GEMM operand (Mat.Patches) it is
// packed straight from X, so the unfolded matrix is never stored.
type Patches[T Elem] struct {
	X                          []T
	N, H, W, C                 int
	KH, KW, Stride, PadT, PadL int
	HO, WO                     int // output rows and columns
}

// Rows is the number of output positions, N*HO*WO.
func (p *Patches[T]) Rows() int { return p.N * p.HO * p.WO }

// Cols is the patch length, KH*KW*C.
func (p *Patches[T]) Cols() int { return p.KH * p.KW * p.C }

// tapRun is a run of patch columns within one kernel row: n columns from channel c
// of tap (ki, kj) on, through the following taps of that row (in the input, NHWC, they
// are contiguous when no tap is in the padding), written at offset off of the
// destination. src is the run's offset in the input from the patch's first tap,
// (ki*W+kj)*C+c, and last the kernel column of its last tap.
type tapRun struct{ ki, kj, c, n, off, src, last int }

// runs appends to dst the runs of columns k0..k0+n.
func (p *Patches[T]) runs(k0, n int, dst []tapRun) []tapRun {
	t, c := k0/p.C, k0%p.C
	for off := 0; off < n; {
		ki, kj := t/p.KW, t%p.KW
		m := min((p.KW-kj)*p.C-c, n-off) // to the end of kernel row ki
		dst = append(dst, tapRun{ki, kj, c, m, off, (ki*p.W+kj)*p.C + c, kj + (c+m-1)/p.C})
		off += m
		t, c = (ki+1)*p.KW, 0
	}
	return dst
}

// cursor is an output position: example b, output row oh, output column ow.
type cursor struct{ b, oh, ow int }

// at returns row r's position.
func (p *Patches[T]) at(r int) cursor {
	pos := p.HO * p.WO
	b, rem := r/pos, r%pos
	return cursor{b, rem / p.WO, rem % p.WO}
}

// next moves c to the next row's position.
func (p *Patches[T]) next(c *cursor) {
	if c.ow++; c.ow == p.WO {
		c.ow = 0
		if c.oh++; c.oh == p.HO {
			c.oh = 0
			c.b++
		}
	}
}

// inside reports whether the whole kernel at position at is inside the input (true
// at every position of a convolution without padding), and if so the offset in X of
// the patch's first tap.
func (p *Patches[T]) inside(at cursor) (origin int, ok bool) {
	ih0, iw0 := at.oh*p.Stride-p.PadT, at.ow*p.Stride-p.PadL
	if ih0 < 0 || ih0+p.KH > p.H || iw0 < 0 || iw0+p.KW > p.W {
		return 0, false
	}
	return ((at.b*p.H+ih0)*p.W + iw0) * p.C, true
}

// origins writes the offsets in X of the first taps of rows r.. (len(dst) of them), all
// inside the input.
func (p *Patches[T]) origins(r int, dst []int) {
	at := p.at(r)
	for i := range dst {
		dst[i], _ = p.inside(at)
		p.next(&at)
	}
}

// column is the offset of patch column j from the patch's first tap in X.
func (p *Patches[T]) column(j int) int {
	t, c := j/p.C, j%p.C
	return (t/p.KW*p.W+t%p.KW)*p.C + c
}

// rowsInPlace reports whether the kernel can read p as B where it lies, each panel's
// row nr values of X: no patch reads the padding, and every panel of nr columns lies
// within one kernel row, whose taps are contiguous in X.
func rowsInPlace[T Elem](p *Patches[T]) bool {
	return !padded(p) && p.KW*p.C%nr == 0
}

// fill writes the columns that runs describe of the patch row at position at into
// dst, converting.
func fill[T, D Elem](p *Patches[T], at cursor, runs []tapRun, dst []D) {
	if origin, inside := p.inside(at); inside {
		// Each run is one contiguous copy, at a fixed offset from the patch's first
		// tap.
		x := p.X[origin:]
		if same, ok := any(dst).([]T); ok {
			copyRuns(same, x, runs)
			return
		}
		for _, r := range runs {
			copyConv(dst[r.off:r.off+r.n], x[r.src:r.src+r.n])
		}
		return
	}
	ih0, iw0 := at.oh*p.Stride-p.PadT, at.ow*p.Stride-p.PadL
	img := p.X[at.b*p.H*p.W*p.C : (at.b+1)*p.H*p.W*p.C]
	for _, r := range runs {
		ih := ih0 + r.ki
		d := dst[r.off : r.off+r.n]
		if uint(ih) >= uint(p.H) {
			clear(d)
			continue
		}
		fillRun(d, img[ih*p.W*p.C:(ih+1)*p.W*p.C], (iw0+r.kj)*p.C+r.c)
	}
}

// fillRun writes a run of patch columns in input row row into d, converting: the
// values of row from first on (first may be negative), zero left and right of row.
func fillRun[T, D Elem](d []D, row []T, first int) {
	// The run's values from lo to hi are inside the input, one copy; those around
	// them (taps left or right of the input) are in the padding.
	lo := min(len(d), max(0, -first))
	hi := max(lo, min(len(d), len(row)-first))
	clear(d[:lo])
	if lo < hi {
		copyConv(d[lo:hi], row[first+lo:first+hi])
	}
	clear(d[hi:])
}

// copyConv copies src into dst (of the same length), converting. Runs are often a
// few values long (one input channel: a kernel row), too short for copy's call and
// for the type assertion that finds whether it applies; those take the loop.
func copyConv[T, D Elem](dst []D, src []T) {
	if len(src) >= 16 {
		if same, ok := any(dst).([]T); ok {
			copy(same, src)
			return
		}
	}
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = D(v)
	}
}

// copyRuns copies the runs of a patch row inside the input from x, the input at the
// patch's first tap, into dst. A run no longer than a block (one input channel: a
// kernel row) is copied as a whole block when dst and x have room, which writes past
// the run values that the following runs overwrite (the runs tile dst in order, and
// dst ends with the last run). The block goes through registers: an assignment of
// arrays between pointers, which may overlap, would call memmove, whose overhead is
// what the block avoids.
func copyRuns[T Elem](dst, x []T, runs []tapRun) {
	var zero T
	n := int(unsafe.Sizeof(block{}) / unsafe.Sizeof(zero)) // values per block
	for i := range runs {
		r := &runs[i]
		d, s := dst[r.off:], x[r.src:]
		switch {
		case r.n <= n && len(d) >= n && len(s) >= n:
			src := (*block)(unsafe.Pointer(&s[0]))
			b0, b1, b2, b3 := src[0], src[1], src[2], src[3]
			*(*block)(unsafe.Pointer(&d[0])) = block{b0, b1, b2, b3}
		case r.n < 16:
			s = s[:r.n]
			//lint:ignore S1001 a few values: copy would call memmove
			for j, v := range s {
				d[j] = v
			}
		default:
			copy(d[:r.n], s)
		}
	}
}

// block is copyRuns' unit of short runs.
type block [4]uint64

// fillRows fills h consecutive patch rows from row r on, the columns that runs
// describe (n of them), into dst: row i at i*stride. Rows inside the input go
// straight to copyRuns when dst has the input's type, found once for all the rows,
// and through blockRows, many rows a call, when they cut into few enough blocks.
func fillRows[T, D Elem](p *Patches[T], r, h int, runs []tapRun, dst []D, n, stride int) {
	at := p.at(r)
	same, ok := any(dst).([]T)
	var blocks runBlocks
	byBlocks := ok && blocks.set(runs, int(unsafe.Sizeof(same[0])))
	var origins [mcBlock]int
	for i := 0; i < h; {
		origin, inside := p.inside(at)
		switch {
		case !ok || !inside:
			fill(p, at, runs, dst[i*stride:i*stride+n])
		case !byBlocks:
			copyRuns(same[i*stride:i*stride+n], p.X[origin:], runs)
		default:
			// The rows inside the input from here on, a batch.
			j := 0
			for ; j < len(origins) && i+j < h; j++ {
				if origins[j], inside = p.inside(at); !inside {
					break
				}
				p.next(&at)
			}
			done := blockRows(same[i*stride:], stride, p.X, origins[:j], &blocks)
			for k := done; k < j; k++ {
				copyRuns(same[(i+k)*stride:(i+k)*stride+n], p.X[origins[k]:], runs)
			}
			i += j
			continue
		}
		p.next(&at)
		i++
	}
}

// runBlocks are the runs of a patch row cut into blocks of blockBytes for
// copyRunsAsm (or of two rows, for pairRunsAsm): each block's offsets in the input
// and in the destination, in bytes, and the largest of each.
type runBlocks struct {
	pairs          [2 * maxBlocks]int
	n              int
	maxSrc, maxOff int
	// kernel copies the blocks of many rows, each read from per patch rows of the
	// input (read bytes from each block's offset).
	kernel func(dst *byte, stride int, x *byte, origins *int, rows int, runs *int, nruns int)
	per    int
	read   int
}

// maxBlocks is the most blocks of a patch row blockRows copies: LeNet-5's second
// layer has 20 (five runs of 30 floats), a first layer's few channels one a kernel row.
const maxBlocks = 48

// blockBytes is the size of copyRunsAsm's and pairRunsAsm's blocks.
const blockBytes = 32

// set fills b with the blocks of runs of values size bytes each, to be written in a
// row, and reports whether blockRows can copy them: the assembly kernels run and
// there are at most maxBlocks.
func (b *runBlocks) set(runs []tapRun, size int) bool {
	*b = runBlocks{kernel: copyRunsAsm, per: 1, read: blockBytes}
	return b.cut(runs, size, size, 0)
}

// setPanels is set for float32 patch columns written straight into B panels of nr
// columns kcb rows long, a patch row being a row of each panel (nr values, the row
// stride): a block never crosses from one panel into the next.
func (b *runBlocks) setPanels(runs []tapRun, kcb int) bool {
	*b = runBlocks{kernel: copyRunsAsm, per: 1, read: blockBytes}
	return b.cut(runs, 4, 4, kcb)
}

// cut cuts runs of input values srcSize bytes each, written as columns dsize bytes
// each, into blocks of blockBytes of columns (a run's last may be shorter, and the
// block written past it is overwritten by the following blocks or rows). With
// panelRows > 0 the columns go into panels of nr columns, panelRows rows long, and
// blocks are cut where a panel ends too. It reports whether blockRows can copy them.
func (b *runBlocks) cut(runs []tapRun, srcSize, dsize, panelRows int) bool {
	if b.kernel == nil || current.name == "go" {
		return false
	}
	width := blockBytes / dsize // columns a block
	for _, r := range runs {
		for t := 0; t < r.n; {
			j := r.off + t
			w, off := min(width, r.n-t), j
			if panelRows > 0 {
				q := j / nr * nr
				w, off = min(w, q+nr-j), q*panelRows+j-q
			}
			if b.n == maxBlocks {
				return false
			}
			b.pairs[2*b.n], b.pairs[2*b.n+1] = (r.src+t)*srcSize, off*dsize
			b.n++
			b.maxSrc, b.maxOff = max(b.maxSrc, (r.src+t)*srcSize), max(b.maxOff, off*dsize)
			t += w
		}
	}
	return true
}

// blockRows copies the runs of patch rows inside the input, row i from the patches
// at x[origins[b.per*i+k]:] (k < b.per) into dst[i*stride:], each run as one block of
// blockBytes as copyRuns does, many rows in one call of b.kernel. It copies the first
// rows whose blocks stay within x and dst, turning their origins into bytes, and
// returns how many.
func blockRows[D Elem | uint32, T Elem](dst []D, stride int, x []T, origins []int, b *runBlocks) int {
	size, dsize := int(unsafe.Sizeof(x[0])), int(unsafe.Sizeof(dst[0]))
	xBytes, dstBytes := len(x)*size, len(dst)*dsize
	rows := len(origins) / b.per
	if rows == 0 {
		return 0
	}
	last := 0
	for _, o := range origins {
		last = max(last, o)
	}
	if last*size+b.maxSrc+b.read > xBytes || (rows-1)*stride*dsize+b.maxOff+blockBytes > dstBytes {
		// The rows up to the first that reaches too far.
		rows = 0
	rows:
		for i := range len(origins) / b.per {
			if i*stride*dsize+b.maxOff+blockBytes > dstBytes {
				break
			}
			for _, o := range origins[b.per*i : b.per*(i+1)] {
				if o*size+b.maxSrc+b.read > xBytes {
					break rows
				}
			}
			rows++
		}
		if rows == 0 {
			return 0
		}
	}
	for i := range b.per * rows {
		origins[i] *= size
	}
	b.kernel((*byte)(unsafe.Pointer(&dst[0])), stride*dsize, (*byte)(unsafe.Pointer(&x[0])), &origins[0], rows, &b.pairs[0], b.n)
	return rows
}

// patchRow writes columns k0..k0+len(dst) of patch row r into dst, converting.
func patchRow[T, D Elem](p *Patches[T], r, k0 int, dst []D) {
	fill(p, p.at(r), p.runs(k0, len(dst), nil), dst)
}

// Unfold writes the patch matrix of p into dst (Rows() x Cols(), row-major).
func Unfold[T Elem](p *Patches[T], dst []T) {
	k := p.Cols()
	for r := range p.Rows() {
		patchRow(p, r, 0, dst[r*k:(r+1)*k])
	}
}
