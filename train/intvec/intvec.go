// Package intvec holds the element-wise kernels of the host trainer's integer path that
// sweep whole tensors: requantising int32 and int64 accumulators to int8. Each returns
// exactly what the train/numerics function it stands for returns, so RCT's numerics
// are still defined once, in train/numerics.
//
// On amd64 with AVX2 (detected with golang.org/x/sys/cpu at start-up) the loops run
// eight values at a time in Go assembly generated with avo (see _asm/; go generate);
// elsewhere, with the build tag purego, or after SetPureGo(true), branch-free pure Go
// runs. Both give identical results, which the tests check against numerics.
package intvec

//go:generate sh -c "cd _asm && go run . -out ../requant_amd64.s -stubs ../requant_amd64.go -pkg intvec"

import (
	"math"

	"github.com/rctsim/rctsim/train/numerics"
)

// block is the values the assembly kernels take at a time.
const block = 8

// useAVX2 selects the assembly kernels; it is set at start-up from the CPU and by
// SetPureGo.
var useAVX2 = hasAVX2

// SetPureGo selects the pure-Go loops (true) or the fastest the CPU has (false), and
// returns the previous setting. It is for tests and benchmarks: the results are
// identical either way. It must not be called while a kernel runs.
func SetPureGo(pure bool) (was bool) {
	was = !useAVX2
	useAVX2 = hasAVX2 && !pure
	return was
}

// Requant is numerics.Requant: out[i] is acc[i] (clipped at 0 when relu) shifted right
// by shift with rounding half away from zero, saturated to ±127; it returns the largest
// magnitude (after the ReLU, at most 2^31-1) and how many outputs saturated.
func Requant(acc []int32, shift int, relu bool, out []int8) (maxAbs int32, saturated int) {
	if shift <= 0 || shift >= 62 {
		return numerics.Requant(acc, shift, relu, out)
	}
	out = out[:len(acc)]
	var m int64
	if n := len(acc) / block * block; useAVX2 && shift < 32 && n > 0 {
		var lanes [2 * block]uint32
		requant32AVX2(&acc[0], &out[0], n/block, uint64(shift), 1<<(shift-1), relu, &lanes)
		for i := range block {
			m = max(m, int64(lanes[i]))
			saturated += int(lanes[block+i])
		}
		acc, out = acc[n:], out[n:]
	}
	pm, ps := requantGo(acc, shift, relu, out)
	return int32(min(max(m, pm), math.MaxInt32)), saturated + ps
}

// requantGo is Requant for shifts 1..61, branch-free, with a loop of its own for a
// ReLU's outputs (never negative). Its maximum is not yet capped at 2^31-1.
func requantGo(acc []int32, shift int, relu bool, out []int8) (maxAbs int64, saturated int) {
	out = out[:len(acc)]
	half := int64(1) << (shift - 1)
	var m int64
	if relu {
		for i, a := range acc {
			v := max(int64(a), 0)
			m = max(m, v)
			r := (v + half) >> shift
			saturated += int(uint64(127-r) >> 63) // r > 127
			out[i] = int8(min(r, 127))
		}
		return m, saturated
	}
	for i, a := range acc {
		v := int64(a)
		neg := v >> 63 // 0 or -1
		av := (v ^ neg) - neg
		m = max(m, av)
		r := (av + half) >> shift
		saturated += int(uint64(127-r) >> 63) // r > 127
		r = min(r, 127)
		out[i] = int8((r ^ neg) - neg)
	}
	return m, saturated
}

// Requant64 is numerics.Requant64, Requant for int64 accumulators.
func Requant64(acc []int64, shift int, relu bool, out []int8) (maxAbs int64, saturated int) {
	if shift <= 0 || shift >= 62 {
		return numerics.Requant64(acc, shift, relu, out)
	}
	out = out[:len(acc)]
	if n := len(acc) / block * block; useAVX2 && n > 0 {
		var lanes [block]uint64
		if !requant64AVX2(&acc[0], &out[0], n/block, uint64(shift), 1<<(shift-1), relu, &lanes) {
			for i := range block / 2 {
				maxAbs = max(maxAbs, int64(lanes[i]))
				saturated += int(lanes[block/2+i])
			}
			acc, out = acc[n:], out[n:]
		}
	}
	m, s := requant64Go(acc, shift, relu, out)
	return max(maxAbs, m), saturated + s
}

// requant64Go is Requant64 for shifts 1..61: branch-free for |v| < 2^62, the
// definition itself for anything else.
func requant64Go(acc []int64, shift int, relu bool, out []int8) (maxAbs int64, saturated int) {
	out = out[:len(acc)]
	half := int64(1) << (shift - 1)
	for i, v := range acc {
		if relu {
			v = max(v, 0)
		}
		neg := v >> 63
		av := (v ^ neg) - neg
		if av >= 1<<62 || av < 0 {
			m, s := numerics.Requant64(acc[i:i+1], shift, relu, out[i:i+1])
			maxAbs, saturated = max(maxAbs, m), saturated+s
			continue
		}
		maxAbs = max(maxAbs, av)
		r := (av + half) >> shift
		saturated += int(uint64(127-r) >> 63)
		r = min(r, 127)
		out[i] = int8((r ^ neg) - neg)
	}
	return maxAbs, saturated
}
