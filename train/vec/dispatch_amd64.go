//go:build amd64 && !purego

package vec

import "golang.org/x/sys/cpu"

// hasAVX2 reports whether the CPU runs the assembly kernels.
var hasAVX2 = cpu.X86.HasAVX2

// hasFMA reports whether math.Exp takes its FMA path (math/exp_amd64.go's useFMA),
// the one expAVX2 follows.
var hasFMA = cpu.X86.HasAVX && cpu.X86.HasFMA
