//go:build !amd64 || purego

package gemm

// asmKernels returns no kernel sets: this build has no assembly.
func asmKernels() []kernelSet { return nil }
