package gemm

import (
	"math"
	"unsafe"
)

// fma32 returns a*b+c rounded once to float32 (IEEE 754 fusedMultiplyAdd in binary32),
// what the FMA instructions compute. The product of two float32 values is exact in
// float64, and the float64 sum rounded to float32 is right except when that sum is
// exactly halfway between two float32 values while the float64 addition was inexact:
// then the exact error of the addition (TwoSum) says which way the true value lies.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	s := p + float64(c)
	r := float32(s)
	if float64(r) == s || math.IsInf(s, 0) || s != s {
		return r
	}
	// The other float32 neighbour of s.
	r2 := math.Nextafter32(r, float32(math.Copysign(math.Inf(1), s-float64(r))))
	if (float64(r)+float64(r2))/2 != s {
		return r // s is not a midpoint: rounding it once more is exact rounding
	}
	bv := s - p
	e := (p - (s - bv)) + (float64(c) - bv) // s + e == p + c exactly
	switch {
	case e == 0:
		return r // a true tie, which the conversion broke to even
	case (e > 0) == (float64(r2) > float64(r)):
		return r2
	}
	return r
}

// f32KernelGo is the pure-Go float32 microkernel.
func f32KernelGo(kc int, a *[mr]*float32, b, c *float32, ldc int, load bool) {
	bp := unsafe.Slice(b, kc*nr)
	f32TileGo(kc, a, func(p int) []float32 { return bp[p*nr : p*nr+nr] }, c, ldc, load)
}

// f32KernelRowsGo is the pure-Go float32 microkernel reading B's rows in place.
func f32KernelRowsGo(kc int, a *[mr]*float32, b *float32, offs *int, c *float32, ldc int, load bool) {
	os := unsafe.Slice(offs, kc)
	f32TileGo(kc, a, func(p int) []float32 { return unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(b), 4*os[p])), nr) }, c, ldc, load)
}

// f32TileGo computes the float32 kernels' tile with B's row p given by bRow.
func f32TileGo(kc int, a *[mr]*float32, bRow func(p int) []float32, c *float32, ldc int, load bool) {
	var ap [mr][]float32
	for i, row := range a {
		ap[i] = unsafe.Slice(row, kc)
	}
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	var acc [mr][nr]float32
	if load {
		loadTile(&acc, cs, ldc)
	}
	for p := range kc {
		bv := bRow(p)
		for i := range mr {
			x, row := ap[i][p], &acc[i]
			for j, y := range bv {
				row[j] = fma32(x, y, row[j])
			}
		}
	}
	storeTile(&acc, cs, ldc)
}

// i16KernelGo is the pure-Go integer microkernel.
func i16KernelGo(kc2 int, a *[mr]*int16, b *int16, c *int32, ldc int, load bool) {
	var ap [mr][]int16
	for i, row := range a {
		ap[i] = unsafe.Slice(row, 2*kc2)
	}
	bp := unsafe.Slice(b, kc2*2*nr)
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	var acc [mr][nr]int32
	if load {
		loadTile(&acc, cs, ldc)
	}
	for q := range kc2 {
		bv := bp[q*2*nr : (q+1)*2*nr]
		for i := range mr {
			x0, x1 := int32(ap[i][2*q]), int32(ap[i][2*q+1])
			row := &acc[i]
			for j := range nr {
				row[j] += x0*int32(bv[2*j]) + x1*int32(bv[2*j+1])
			}
		}
	}
	storeTile(&acc, cs, ldc)
}

// loadTile copies C's mr x nr tile cs (row stride ldc) into the microkernels'
// accumulators; storeTile copies them back.
func loadTile[T float32 | int32](acc *[mr][nr]T, cs []T, ldc int) {
	for i := range mr {
		copy(acc[i][:], cs[i*ldc:])
	}
}

func storeTile[T float32 | int32](acc *[mr][nr]T, cs []T, ldc int) {
	for i := range mr {
		copy(cs[i*ldc:i*ldc+nr], acc[i][:])
	}
}
