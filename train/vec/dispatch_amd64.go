//go:build amd64 && !purego

package vec

import "golang.org/x/sys/cpu"

// hasAVX2 reports whether the CPU runs the assembly kernels.
var hasAVX2 = cpu.X86.HasAVX2
