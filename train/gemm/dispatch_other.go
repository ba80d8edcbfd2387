//go:build !amd64 || purego

package gemm

// asmKernels returns no kernel sets: this build has no assembly.
func asmKernels() []kernelSet { return nil }

// pairRowsAsm is nil: this build has no assembly.
var pairRowsAsm func(dst *uint32, stride int, even, odd *int16, panels int)

// transposeAsm is nil: this build has no assembly.
var transposeAsm func(dst *int16, rs int, src *int16, lda int, blocks int)

// transposeF32Asm is nil: this build has no assembly.
var transposeF32Asm func(dst *float32, rs int, src *float32, lda int, blocks int)

// pairColsAsm is nil: this build has no assembly.
var pairColsAsm func(dst *uint32, x *int16, origins *int, pairs int)

// copyRunsAsm is nil: this build has no assembly.
var copyRunsAsm func(dst *byte, stride int, x *byte, origins *int, rows int, runs *int, nruns int)

// pairRunsAsm is nil: this build has no assembly.
var pairRunsAsm func(dst *byte, stride int, x *byte, origins *int, rows int, runs *int, nruns int)

// transposeB32Asm is nil: this build has no assembly.
var transposeB32Asm func(dst *uint32, src *uint32, lds int, blocks int)

// panelRowsAsm is nil: this build has no assembly.
var panelRowsAsm func(dst, src *float32, lds int, rows int)
