package gemm

import (
	"math"
	"unsafe"
)

// Int is an integer operand type of I32.
type Int interface{ ~int8 | ~int16 | ~int32 }

// I32 computes C = op(A) op(B) exactly (see the package documentation): every
// element is the exact sum of its k products, saturated to ±(2^31-1). maxA and maxB
// bound the magnitudes of A's and B's elements (the caller knows them: 127 for int8
// activations and errors, the layer's largest weight for weights); a wrong bound is a
// programmer error that may give wrong results. Shapes and strides are as for F32.
func I32[A, B Int](transA, transB bool, m, n, k int, a []A, lda int, maxA int64, b []B, ldb int, maxB int64, c []int32, ldc int) {
	I32M(m, n, k, Dense(a, lda, transA), maxA, Dense(b, ldb, transB), maxB, c, ldc)
}

// I32M is I32 for any operands: C (m x n) = A (m x k) B (k x n).
func I32M[A, B Int](m, n, k int, a Mat[A], maxA int64, b Mat[B], maxB int64, c []int32, ldc int) {
	if !prepare(m, n, k, &a, &b, c, ldc) {
		return
	}
	if !Fits16(k, maxA, maxB) {
		run(m, n, k, func(i0, i1, j0, j1 int) { exact64(&a, &b, i0, i1, j0, j1, k, c, ldc) })
		return
	}
	run(m, n, k, func(i0, i1, j0, j1 int) {
		buf := i16Bufs.Get().(*i16Buffers)
		defer func() {
			if a.Patches != nil {
				buf.rows.release()
			}
			i16Bufs.Put(buf)
		}()
		packA := func(ic, mcb, pc, kcb int) { packI16A(&a, ic, mcb, pc, kcb, buf.a[:], &buf.rows) }
		packB := func(pc, kcb, jc, ncb int) {
			packI16B(&b, pc, kcb, jc, ncb, buf.b[:], buf.row[:], buf.runs[:0], buf.origins[:])
		}
		tile := func(kcb, ir, jr int, c *int32, ldc int, load bool) {
			// The panels hold the reduction in pairs; a run of patch columns read in
			// place starts at an even column and is even.
			kc2, rows := (kcb+1)/2, &buf.rows
			bp := buf.b[jr*2*kc2:]
			if len(rows.runs) == 1 { // packed rows: the short way, for small products
				i16Kernel(kc2, (*[mr]*int16)(rows.ptr[ir:]), &bp[0], c, ldc, load)
				return
			}
			for q := range rows.runs {
				r := &rows.runs[q]
				i16Kernel(r.n/2, (*[mr]*int16)(rows.ptr[q*mcBlock+ir:]), &bp[r.off*nr], c, ldc, load)
				load = true
			}
		}
		drive(i0, i1, j0, j1, k, &buf.buffers, packA, packB, tile, c, ldc)
	})
}

// Fits16 reports whether I32's int16 kernels are exact for a reduction of k products
// of magnitudes at most maxA and maxB: both fit int16 (without -32768) and no partial
// sum can reach 2^31.
func Fits16(k int, maxA, maxB int64) bool {
	return maxA >= 0 && maxB >= 0 && maxA <= math.MaxInt16 && maxB <= math.MaxInt16 && int64(k)*maxA*maxB < 1<<31
}

// exact64 is I32 for rows i0..i1 and columns j0..j1 with int64 sums.
func exact64[A, B Int](a *Mat[A], b *Mat[B], i0, i1, j0, j1, k int, c []int32, ldc int) {
	ra, rb := make([]int64, k), make([]int64, (j1-j0)*k)
	for j := j0; j < j1; j++ {
		reduction(b, j, false, rb[(j-j0)*k:(j-j0+1)*k])
	}
	for i := i0; i < i1; i++ {
		reduction(a, i, true, ra)
		for j := j0; j < j1; j++ {
			col := rb[(j-j0)*k : (j-j0+1)*k]
			var s int64
			for p, x := range ra {
				s += x * col[p]
			}
			c[i*ldc+j] = int32(min(max(s, -math.MaxInt32), math.MaxInt32))
		}
	}
}

// reduction writes into dst, as int64, row i of the operand (asRow) or its column i:
// the values that meet the other operand along the reduction.
func reduction[T Int](x *Mat[T], i int, asRow bool, dst []int64) {
	if p := x.Patches; p != nil {
		if asRow {
			row := make([]int32, len(dst))
			patchRow(p, i, 0, row)
			for q, v := range row {
				dst[q] = int64(v)
			}
			return
		}
		var one [1]int32
		for q := range dst {
			patchRow(p, q, i, one[:])
			dst[q] = int64(one[0])
		}
		return
	}
	// Element (r, col) of op(X) is Data[r*Ld+col], or Data[col*Ld+r] transposed.
	step, at := 1, i*x.Ld // along a row of op(X)
	if asRow == x.Trans {
		step, at = x.Ld, i
	}
	for q := range dst {
		dst[q] = int64(x.Data[at+q*step])
	}
}

// packI16A prepares rows ic..ic+mcb of op(A), reduction pc..pc+kcb, for the kernel as
// int16 pairs (see rowsA), as packF32A: int16 patches whose runs are long enough are
// read in place when their channels are even (then every run starts at an even
// column and is even: whole pairs). Otherwise rows are packed, row i at dst[i*2*kc2:]
// (pairs (2q, 2q+1) side by side), kc2 = ceil(kcb/2), zero past the last reduction
// step. Rows from mcb to the end of the last panel of mr rows read zeros.
func packI16A[A Int](x *Mat[A], ic, mcb, pc, kcb int, dst []int16, d *rowsA[int16]) {
	a, lda := x.Data, x.Ld
	rs := 2 * ((kcb + 1) / 2) // a packed row
	var runs []tapRun
	if x.Patches != nil {
		runs = x.Patches.runs(pc, kcb, d.runBuf[1:1])
		if p, ok := any(x.Patches).(*Patches[int16]); ok && p.C%2 == 0 && kcb >= minDirectRun*len(runs) {
			d.inPlace(runs, mcb)
			patchesInPlace(p, ic, mcb, rs, runs, dst, d.ptr[:])
			return
		}
	}
	d.packed(mcb, kcb, dst, rs)
	if x.Patches != nil {
		// The rows one after another, rs apart, as the panels hold them.
		fillRows(x.Patches, ic, mcb, runs, dst, kcb, rs)
		if kcb%2 != 0 {
			for i := range mcb {
				dst[i*rs+kcb] = 0
			}
		}
		return
	}
	for r := 0; r < mcb; r += mr {
		panel := dst[r*rs : r*rs+mr*rs]
		h := min(mr, mcb-r)
		switch {
		case !x.Trans:
			for i := range h {
				d := panel[i*rs : i*rs+kcb]
				src := a[(ic+r+i)*lda+pc:][:kcb]
				if s16, ok := any(src).([]int16); ok {
					copy(d, s16)
					continue
				}
				for p, v := range src {
					d[p] = int16(v)
				}
			}
		default:
			p0 := transposeA(a, lda, pc, ic+r, h, kcb, panel, rs)
			for p := p0; p < kcb; p++ {
				for i, v := range a[(pc+p)*lda+ic+r:][:h] {
					panel[i*rs+p] = int16(v)
				}
			}
		}
		if kcb%2 != 0 {
			for i := range h {
				panel[i*rs+kcb] = 0
			}
		}
	}
}

// transposeA packs the first reduction steps of h rows of op(A) = A transposed into
// panel (rows rs apart) as transposePanel does, when A holds int16 values and h is mr;
// it returns how many steps it packed (0 otherwise).
func transposeA[A Int](a []A, lda, pc, col, h, kcb int, panel []int16, rs int) int {
	a16, ok := any(a).([]int16)
	if !ok || h != mr {
		return 0
	}
	return transposePanel(a16, lda, pc, col, kcb, panel, rs, transposeAsm)
}

// pairRows writes the pairs (even[j], odd[j]) of panels panels of nr columns, panel q
// from dst[q*stride] on.
func pairRows(dst []uint32, stride int, even, odd []int16, panels int) {
	if panels == 0 {
		return
	}
	dst, even, odd = dst[:(panels-1)*stride+nr], even[:panels*nr], odd[:panels*nr]
	if pairRowsAsm != nil && current.name != "go" {
		pairRowsAsm(&dst[0], stride, &even[0], &odd[0], panels)
		return
	}
	for q := range panels {
		d := dst[q*stride : q*stride+nr]
		for j, v := range even[q*nr : (q+1)*nr] {
			d[j] = pair(v, odd[q*nr+j])
		}
	}
}

// pair is the int16 pair (lo, hi) as the 32-bit word the kernels read.
func pair[T Int](lo, hi T) uint32 { return uint32(uint16(int16(lo))) | uint32(uint16(int16(hi)))<<16 }

// packI16B packs columns jc..jc+ncb of op(B), reduction pc..pc+kcb, as int16 pairs in
// panels of nr columns: panel q holds element (p, j) at q*2*kc2 + (p/2)*2*nr + 2*j +
// p%2, zero past the last column and the last reduction step. row is scratch of
// 2*ncb+1 values, origins of kcb.
func packI16B[B Int](x *Mat[B], pc, kcb, jc, ncb int, dst, row []int16, runs []tapRun, origins []int) {
	b, ldb := x.Data, x.Ld
	kc2 := (kcb + 1) / 2
	if p16, ok := any(x.Patches).(*Patches[int16]); ok && p16 != nil {
		patchesI16B(p16, pc, kcb, jc, ncb, dst, row, runs, origins)
		return
	}
	if x.Patches != nil {
		panels := (ncb + nr - 1) / nr
		if ncb%nr != 0 || kcb%2 != 0 {
			clear(dst[:panels*2*nr*kc2])
		}
		// Rows 2q and 2q+1 of the reduction become the pairs of step q.
		even := row[ncb+1 : 2*ncb+1]
		dp := unsafe.Slice((*uint32)(unsafe.Pointer(&dst[0])), panels*nr*kc2)
		put := func(p int, odd []int16) { putPairs(dp[(p>>1)*nr:], kc2, even, odd) }
		packPatchesB(x.Patches, pc, kcb, jc, ncb, row[:ncb+1], runs, func(p int, r []int16) {
			switch {
			case p&1 == 0 && p == kcb-1:
				copy(even, r)
				clear(r)
				put(p, r)
			case p&1 == 0:
				copy(even, r)
			default:
				put(p, r)
			}
		})
		return
	}
	for q := 0; q < ncb; q += nr {
		panel := dst[q*2*kc2 : q*2*kc2+2*nr*kc2]
		w := min(nr, ncb-q)
		if w < nr || kcb%2 != 0 {
			clear(panel)
		}
		switch {
		case !x.Trans:
			dp := unsafe.Slice((*uint32)(unsafe.Pointer(&panel[0])), nr*kc2)
			for q2 := range kcb / 2 {
				r0, r1 := b[(pc+2*q2)*ldb+jc+q:][:w], b[(pc+2*q2+1)*ldb+jc+q:][:w]
				d := dp[q2*nr : q2*nr+w]
				if b16, ok := any(r0).([]int16); ok && w == nr {
					pairRows(d, 0, b16, any(r1).([]int16), 1)
					continue
				}
				for j, v := range r0 {
					d[j] = pair(v, r1[j])
				}
			}
			if kcb%2 != 0 {
				d := dp[(kc2-1)*nr : (kc2-1)*nr+w]
				for j, v := range b[(pc+kcb-1)*ldb+jc+q:][:w] {
					d[j] = pair(v, 0)
				}
			}
		default:
			dp := unsafe.Slice((*uint32)(unsafe.Pointer(&panel[0])), nr*kc2)
			// An int16 row's pairs (2q2, 2q2+1) are its uint32 values when the rows
			// and pc are even: transposeB packs those.
			j0, q0 := 0, 0
			if _, ok := any(b).([]int16); ok && ldb%2 == 0 && pc%2 == 0 {
				_ = b[(jc+q+w-1)*ldb+pc+kcb-1] // the last value transposeB may read
				j0, q0 = transposeB(dp, unsafe.Pointer(&b[(jc+q)*ldb+pc]), ldb/2, w, kcb/2)
			}
			for j := range w {
				col := b[(jc+q+j)*ldb+pc:][:kcb]
				from := 0
				if j < j0 {
					from = q0
				}
				for q2 := from; q2 < kcb/2; q2++ {
					dp[q2*nr+j] = pair(col[2*q2], col[2*q2+1])
				}
				if kcb%2 != 0 {
					dp[(kc2-1)*nr+j] = pair(col[kcb-1], 0)
				}
			}
		}
	}
}

// putPairs writes the pairs (even[j], odd[j]) of one reduction pair into B panels
// of nr columns kc2 pairs long, the first at dst.
func putPairs(dst []uint32, kc2 int, even, odd []int16) {
	full := len(even) / nr * nr
	pairRows(dst, nr*kc2, even, odd, full/nr)
	if full < len(even) {
		d := dst[full*kc2:]
		for j, v := range even[full:] {
			d[j] = pair(v, odd[full+j])
		}
	}
}

// patchesI16B packs int16 patches as op(B) into dst as packI16B does, panel by panel
// where it can, for the reason patchesB gives: the pairs of reduction steps whose two
// patch rows are inside the input are interleaved straight from X, nr columns of a
// panel at a time (their offsets in X held in origins); the others are filled into
// row and spread over the panels.
func patchesI16B(x *Patches[int16], pc, kcb, jc, ncb int, dst, row []int16, runs []tapRun, origins []int) {
	kc2 := (kcb + 1) / 2
	panels := (ncb + nr - 1) / nr
	dp := unsafe.Slice((*uint32)(unsafe.Pointer(&dst[0])), panels*nr*kc2)
	if ncb%nr != 0 {
		clear(dp[(panels-1)*nr*kc2:]) // the last panel's columns past ncb
	}
	rs := x.runs(jc, ncb, runs)
	even, odd := row[:ncb], row[ncb:2*ncb]
	origins = origins[:2*kc2]
	direct := false
	at := x.at(pc)
	for q := range kc2 {
		at0 := at
		o0, in0 := x.inside(at0)
		x.next(&at)
		at1 := at
		if 2*q+1 < kcb {
			x.next(&at)
			if o1, in1 := x.inside(at1); in0 && in1 {
				origins[2*q], origins[2*q+1] = o0, o1
				direct = true
				continue
			}
		}
		origins[2*q] = -1
		fill(x, at0, rs, even)
		if 2*q+1 < kcb {
			fill(x, at1, rs, odd)
		} else {
			clear(odd)
		}
		putPairs(dp[q*nr:], kc2, even, odd)
	}
	if !direct {
		return
	}
	// Runs that fall on panels go panel by panel below (pairCols), for the reason
	// patchesB gives; the others as blocks (see patchRowsB).
	var pieces runBlocks
	if ncb <= maxRowPanels*nr && misaligned(rs, ncb) && pieces.setPairs(rs, kc2) {
		blockPairs(x, kc2, ncb, dp, even, odd, rs, origins, &pieces)
		return
	}
	for i := range rs {
		r := &rs[i]
		// The run's columns in each panel: w of them from column j.
		for t := 0; t < r.n; {
			j := r.off + t
			p0 := j / nr * nr
			w := min(nr-(j-p0), r.n-t)
			panel, src := dp[p0*kc2+j-p0:], x.X[r.src+t:]
			// Stretches of consecutive pairs inside the input, q..e.
			forStretches(origins, func(q, e int) {
				if w == nr {
					pairCols(panel[q*nr:], src, origins[2*q:2*e])
					return
				}
				for ; q < e; q++ {
					s0, s1, d := src[origins[2*q]:][:w], src[origins[2*q+1]:][:w], panel[q*nr:][:w]
					for k, v := range s0 {
						d[k] = pair(v, s1[k])
					}
				}
			})
			t += w
		}
	}
}

// forStretches calls f on each stretch q..e of pairs of patch rows inside the input:
// origins holds each pair's two offsets in X, the first negative for a pair that is
// not.
func forStretches(origins []int, f func(q, e int)) {
	pairs := len(origins) / 2
	for q := 0; q < pairs; {
		if origins[2*q] < 0 {
			q++
			continue
		}
		e := q + 1
		for e < pairs && origins[2*e] >= 0 {
			e++
		}
		f(q, e)
		q = e
	}
}

// setPairs is set for int16 patch columns interleaved into pairs of two patch rows
// straight in the integer B panels (nr pairs a panel row, kc2 rows), as setPanels for
// float32 panels: a block is eight pairs, read as eight values of each row.
func (b *runBlocks) setPairs(runs []tapRun, kc2 int) bool {
	*b = runBlocks{kernel: pairRunsAsm, per: 2, read: 16}
	return b.cut(runs, 2, 4, kc2)
}

// blockPairs is patchesI16B's pass over the pairs of patch rows inside the input
// (origins[2q] not negative) when their runs go by blocks (pieces, setPairs): many
// pair rows a call of blockRows, the columns of the last panel past ncb zeroed again
// after. A block written past a run's end lands on the same panel row or on the
// panel's next row, which the next pair writes, unless that row was written before
// (patchesI16B wrote the pairs with a row outside the input) or is in the next panel;
// so the last pair row of each stretch of pairs inside goes through even and odd as
// the rows blockRows leaves do.
func blockPairs(x *Patches[int16], kc2, ncb int, dp []uint32, even, odd []int16, rs []tapRun, origins []int, pieces *runBlocks) {
	last := dp[(ncb+nr-1)/nr*nr*kc2-nr*kc2:]
	forStretches(origins, func(q, e int) {
		done := 0
		if h := e - 1 - q; h > 0 {
			done = blockRows(dp[q*nr:], nr, x.X, origins[2*q:2*(q+h)], pieces)
		}
		clearPastColumns(last, ncb%nr, q, q+done)
		for i := q + done; i < e; i++ {
			copyRuns(even, x.X[origins[2*i]:], rs)
			copyRuns(odd, x.X[origins[2*i+1]:], rs)
			putPairs(dp[i*nr:], kc2, even, odd)
		}
	})
}

// pairCols writes the pairs (x[origins[2q]+j], x[origins[2q+1]+j]) of nr columns j at
// dst[q*nr:], for each pair q of origins: a B panel's pairs of reduction steps read
// from the input of patches. Every origin is at least nr values from x's end.
func pairCols(dst []uint32, x []int16, origins []int) {
	pairs := len(origins) / 2
	if pairs == 0 {
		return
	}
	dst = dst[:pairs*nr]
	if pairColsAsm != nil && current.name != "go" {
		pairColsAsm(&dst[0], &x[0], &origins[0], pairs)
		return
	}
	for q := range pairs {
		e, o, d := x[origins[2*q]:][:nr], x[origins[2*q+1]:][:nr], dst[q*nr:][:nr]
		for j, v := range e {
			d[j] = pair(v, o[j])
		}
	}
}

// I64 computes C = op(A) op(B) exactly into int64, without saturation (every sum
// must fit int64). It is the slow path for the rare reductions whose sums may leave
// int32 before they are combined further.
func I64[A, B Int](transA, transB bool, m, n, k int, a []A, lda int, b []B, ldb int, c []int64, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	checkLen(transA, m, k, len(a), lda)
	checkLen(transB, k, n, len(b), ldb)
	checkLen(false, m, n, len(c), ldc)
	sa, sb := 1, ldb
	if transA {
		sa = lda
	}
	if transB {
		sb = 1
	}
	run(m, n, max(k, 1), func(i0, i1, j0, j1 int) {
		for i := i0; i < i1; i++ {
			ai := i * lda
			if transA {
				ai = i
			}
			for j := j0; j < j1; j++ {
				bj := j
				if transB {
					bj = j * ldb
				}
				var s int64
				for p := range k {
					s += int64(a[ai+p*sa]) * int64(b[bj+p*sb])
				}
				c[i*ldc+j] = s
			}
		}
	})
}
