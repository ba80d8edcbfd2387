//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// selectKernels picks the assembly microkernels when the CPU has AVX2 and FMA.
func selectKernels() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		f32Kernel, i16Kernel, kernelName = f32KernelAVX2, i16KernelAVX2, "avx2"
		return
	}
	f32Kernel, i16Kernel, kernelName = f32KernelGo, i16KernelGo, "go"
}
