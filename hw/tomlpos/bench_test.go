package tomlpos

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// hostile builds documents of about size bytes of each shape that used to cost time or
// memory quadratic in their size: deep nesting of each kind, and many keys under one
// long table name; "profile" is an ordinary document, for comparison.
func hostile(size int) map[string]string {
	deep := func(head, open, close string) string {
		n := (size - len(head)) / (len(open) + len(close))
		return head + strings.Repeat(open, n) + strings.Repeat(close, n) + "\n"
	}
	var long, profile strings.Builder
	long.WriteString("[" + strings.Repeat("k", size/4) + "]\n")
	for i := 0; long.Len() < size; i++ {
		long.WriteString("x" + strconv.Itoa(i) + " = 1\n")
	}
	for i := 0; profile.Len() < size; i++ {
		fmt.Fprintf(&profile, "[[mac_array.modes]]\nweight_bits = %d\nact_bits = 8\nmacs_per_pe = 1\n\n[sram.b%d]\ncapacity = \"64 KiB\"\nholds = [\"weights\", \"inputs\"]\n", i%16+1, i)
	}
	return map[string]string{
		"inline":  deep("a = ", "{b = ", "}"),
		"arrays":  deep("a = ", "[", "]"),
		"dotted":  strings.Repeat("a.", size/2-1) + "b = 1\n",
		"header":  "[" + strings.Repeat("a.", size/2-2) + "b]\n",
		"longkey": long.String(),
		"profile": profile.String(),
	}
}

// BenchmarkScan shows that scanning is linear in the document's size whatever its
// shape: ns/op and B/op grow at most tenfold from one size to the next (the hostile
// shapes much less: the scan stops at the limit). Before the limits and the tree of
// nodes, arrays/100000 took 16 s and 3.9 GB, and inline/10000 16 s and 1.7 GB.
func BenchmarkScan(b *testing.B) {
	for _, shape := range []string{"profile", "inline", "arrays", "dotted", "header", "longkey"} {
		for _, size := range []int{1_000, 10_000, 100_000} {
			src := hostile(size)[shape]
			b.Run(fmt.Sprintf("%s/%d", shape, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(src)))
				for b.Loop() {
					Scan(src)
				}
			})
		}
	}
}
