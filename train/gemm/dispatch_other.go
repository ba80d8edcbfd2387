//go:build !amd64 || purego

package gemm

// selectKernels picks the pure-Go microkernels: this build has no assembly ones.
func selectKernels() { f32Kernel, i16Kernel, kernelName = f32KernelGo, i16KernelGo, "go" }
