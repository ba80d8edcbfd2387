//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// asmKernels returns the assembly kernel sets the CPU runs, fastest first: AVX2 and
// FMA, with AVX512-VNNI for the integer kernel when the CPU (and the OS) has it.
func asmKernels() []kernelSet {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	avx2 := kernelSet{"avx2", f32KernelAVX2, f32KernelRowsAVX2, i16KernelAVX2}
	if cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX512VL {
		return []kernelSet{{"avx2+vnni", f32KernelAVX2, f32KernelRowsAVX2, i16KernelVNNI}, avx2}
	}
	return []kernelSet{avx2}
}

// pairRowsAsm interleaves int16 rows into pairs (see pairRows); it runs with the
// assembly kernel sets.
var pairRowsAsm = pairRowsAVX2

// transposeAsm packs int16 columns into A panels (see transposeA); it runs with the
// assembly kernel sets.
var transposeAsm = transpose6AVX2

// transposeF32Asm packs float32 columns into A panels (see transposeF32A); it runs
// with the assembly kernel sets.
var transposeF32Asm = transpose6F32AVX2

// pairColsAsm interleaves int16 rows of patches into pairs (see pairCols); it runs
// with the assembly kernel sets.
var pairColsAsm = pairColsAVX2

// copyRunsAsm copies the short runs of many patch rows (see blockRows); it runs with
// the assembly kernel sets.
var copyRunsAsm = copyRunsAVX2

// pairRunsAsm interleaves the short runs of many pairs of patch rows (see
// blockPairs); it runs with the assembly kernel sets.
var pairRunsAsm = pairRunsAVX2

// transposeB32Asm packs B panels from a transposed op(B) of 32-bit values (see
// transposeB); it runs with the assembly kernel sets.
var transposeB32Asm = transposeB32AVX2

// panelRowsAsm packs B panels from a row-major op(B) (see packF32B); it runs with the
// assembly kernel sets.
var panelRowsAsm = panelRowsAVX2
