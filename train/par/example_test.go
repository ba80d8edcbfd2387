package par_test

import (
	"fmt"

	"github.com/rctsim/rctsim/train/par"
)

// Each part writes its own slots; the result is the same whoever runs which part.
func ExampleDo() {
	x := make([]int, 10)
	const parts = 3
	par.Do(parts, func(p int) {
		for i := p * len(x) / parts; i < (p+1)*len(x)/parts; i++ {
			x[i] = i * i
		}
	})
	fmt.Println(x)
	// Output: [0 1 4 9 16 25 36 49 64 81]
}
