package gemm

import "math"

// Int is an integer operand type of I32.
type Int interface{ ~int8 | ~int16 | ~int32 }

// I32 computes C = op(A) op(B) exactly (see the package documentation): every
// element is the exact sum of its k products, saturated to ±(2^31-1). maxA and maxB
// bound the magnitudes of A's and B's elements (the caller knows them: 127 for int8
// activations and errors, the layer's largest weight for weights); a wrong bound is a
// programmer error that may give wrong results. Shapes and strides are as for F32.
func I32[A, B Int](transA, transB bool, m, n, k int, a []A, lda int, maxA int64, b []B, ldb int, maxB int64, c []int32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 {
		for i := range m {
			clear(c[i*ldc : i*ldc+n])
		}
		return
	}
	checkLen(transA, m, k, len(a), lda)
	checkLen(transB, k, n, len(b), ldb)
	checkLen(false, m, n, len(c), ldc)
	if !Fits16(k, maxA, maxB) {
		run(m, n, k, func(i0, i1, j0, j1 int) { exact64(transA, transB, i0, i1, j0, j1, k, a, lda, b, ldb, c, ldc) })
		return
	}
	run(m, n, k, func(i0, i1, j0, j1 int) {
		buf := i16Bufs.Get().(*i16Buf)
		defer i16Bufs.Put(buf)
		for jc := j0; jc < j1; jc += ncBlock {
			ncb := min(ncBlock, j1-jc)
			for pc := 0; pc < k; pc += kcBlock {
				kcb := min(kcBlock, k-pc)
				kc2 := (kcb + 1) / 2
				load := pc > 0
				packI16B(transB, b, ldb, pc, kcb, jc, ncb, buf.b[:])
				for ic := i0; ic < i1; ic += mcBlock {
					mcb := min(mcBlock, i1-ic)
					packI16A(transA, a, lda, ic, mcb, pc, kcb, buf.a[:])
					for jr := 0; jr < ncb; jr += nr {
						bp := &buf.b[jr*2*kc2]
						w := min(nr, ncb-jr)
						for ir := 0; ir < mcb; ir += mr {
							ap := &buf.a[ir*2*kc2]
							h := min(mr, mcb-ir)
							off := (ic+ir)*ldc + jc + jr
							if w == nr && h == mr {
								i16Kernel(kc2, ap, bp, &c[off], ldc, load)
								continue
							}
							t := buf.tile[:]
							if load {
								for i := range h {
									copy(t[i*nr:i*nr+w], c[off+i*ldc:])
								}
							}
							i16Kernel(kc2, ap, bp, &t[0], nr, load)
							for i := range h {
								copy(c[off+i*ldc:off+i*ldc+w], t[i*nr:])
							}
						}
					}
				}
			}
		}
	})
}

// Fits16 reports whether I32's int16 kernels are exact for a reduction of k products
// of magnitudes at most maxA and maxB: both fit int16 (without -32768) and no partial
// sum can reach 2^31.
func Fits16(k int, maxA, maxB int64) bool {
	return maxA >= 0 && maxB >= 0 && maxA <= math.MaxInt16 && maxB <= math.MaxInt16 && int64(k)*maxA*maxB < 1<<31
}

// exact64 is I32 for rows i0..i1 and columns j0..j1 with int64 sums.
func exact64[A, B Int](transA, transB bool, i0, i1, j0, j1, k int, a []A, lda int, b []B, ldb int, c []int32, ldc int) {
	sa, sb := 1, ldb // strides of op(A)'s rows and op(B)'s columns along the reduction
	if transA {
		sa = lda
	}
	if transB {
		sb = 1
	}
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
			c[i*ldc+j] = int32(min(max(s, -math.MaxInt32), math.MaxInt32))
		}
	}
}

// packI16A packs rows ic..ic+mcb of op(A), reduction pc..pc+kcb, as int16 pairs in
// panels of mr rows: panel r holds element (i, p) at r*2*kc2 + (p/2)*2*mr + 2*i + p%2,
// kc2 = ceil(kcb/2), zero past the last row and the last reduction step.
func packI16A[A Int](trans bool, a []A, lda, ic, mcb, pc, kcb int, dst []int16) {
	kc2 := (kcb + 1) / 2
	for r := 0; r < mcb; r += mr {
		panel := dst[r*2*kc2 : r*2*kc2+2*mr*kc2]
		h := min(mr, mcb-r)
		if h < mr || kcb%2 != 0 {
			clear(panel)
		}
		if !trans {
			for i := range h {
				row := a[(ic+r+i)*lda+pc:][:kcb]
				for p, v := range row {
					panel[(p>>1)*2*mr+2*i+p&1] = int16(v)
				}
			}
		} else {
			for p := range kcb {
				row := a[(pc+p)*lda+ic+r:][:h]
				d := panel[(p>>1)*2*mr+p&1:]
				for i, v := range row {
					d[2*i] = int16(v)
				}
			}
		}
	}
}

// packI16B packs columns jc..jc+ncb of op(B), reduction pc..pc+kcb, as int16 pairs in
// panels of nr columns: panel q holds element (p, j) at q*2*kc2 + (p/2)*2*nr + 2*j +
// p%2, zero past the last column and the last reduction step.
func packI16B[B Int](trans bool, b []B, ldb, pc, kcb, jc, ncb int, dst []int16) {
	kc2 := (kcb + 1) / 2
	for q := 0; q < ncb; q += nr {
		panel := dst[q*2*kc2 : q*2*kc2+2*nr*kc2]
		w := min(nr, ncb-q)
		if w < nr || kcb%2 != 0 {
			clear(panel)
		}
		if !trans {
			for p := range kcb {
				row := b[(pc+p)*ldb+jc+q:][:w]
				d := panel[(p>>1)*2*nr+p&1:]
				for j, v := range row {
					d[2*j] = int16(v)
				}
			}
		} else {
			for j := range w {
				col := b[(jc+q+j)*ldb+pc:][:kcb]
				for p, v := range col {
					panel[(p>>1)*2*nr+2*j+p&1] = int16(v)
				}
			}
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
