package sweep_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"

	"github.com/rctsim/rctsim/sim/sweep"
)

func ExampleParse() {
	spec, err := sweep.Parse([]byte(`
methods = ["rct", "qat"]
batch = 8
[axes]
"mac_array.rows,mac_array.cols" = [[8, 8], [16, 16]]
"sram.global.capacity" = ["64KiB", "256KiB"]
`), "example.toml", ".")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(spec.Len(), "points")
	for k := range 3 {
		fmt.Println(spec.Describe(spec.Point(k)))
	}
	// Output:
	// 8 points
	// mac_array.rows=8 mac_array.cols=8 sram.global.capacity=64KiB model=lenet5 method=rct plan=8 batch=8
	// mac_array.rows=8 mac_array.cols=8 sram.global.capacity=64KiB model=lenet5 method=qat plan=8 batch=8
	// mac_array.rows=8 mac_array.cols=8 sram.global.capacity=256KiB model=lenet5 method=rct plan=8 batch=8
}

func ExampleParse_error() {
	_, err := sweep.Parse([]byte(`
[axes]
"sram.global.capacity" = ["64KiB", "1000B"]
`), "bad.toml", ".")
	fmt.Println(err)
	// Output:
	// bad.toml:3:36: axes."sram.global.capacity"[1]: must be a multiple of banks x bank_width_bytes = 128 bytes (got 1000 bytes)
}

func ExampleRun() {
	spec, err := sweep.Parse([]byte(`
methods = ["rct", "qat"]
batch = 8
[axes]
"sram.global.capacity" = ["16KiB", "128KiB"]
`), "example.toml", ".")
	if err != nil {
		fmt.Println(err)
		return
	}
	var out bytes.Buffer
	sum, err := sweep.Run(context.Background(), spec, sweep.Options{Workers: 2, Stdout: &out})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d points, %d failed\n", sum.Simulated, sum.Failed)
	rows, _ := csv.NewReader(&out).ReadAll()
	for _, r := range rows[1:] {
		status := "ok"
		if e := r[len(r)-1]; e != "" {
			status = "error: " + e[:strings.Index(e, ":")]
		}
		fmt.Println(r[0], r[2], r[4], status)
	}
	// Output:
	// 4 points, 1 failed
	// 0 16KiB rct ok
	// 1 16KiB qat error: compile lenet5 for default
	// 2 128KiB rct ok
	// 3 128KiB qat ok
}

func ExampleLoadGrid() {
	const results = `point,hash,mac_array.rows,sram.global.capacity,model,method,plan,batch,steps,energy_pj.total,error
0,57a3b7c2d1e0f9a8,16,1MiB,lenet5,rct,8,8,1,10,
1,67a3b7c2d1e0f9a8,16,64KiB,lenet5,rct,8,8,1,30,
2,77a3b7c2d1e0f9a8,8,1MiB,lenet5,rct,8,8,1,20,
3,87a3b7c2d1e0f9a8,8,64KiB,lenet5,rct,8,8,1,,tile does not fit
`
	g, err := sweep.LoadGrid(strings.NewReader(results), "mac_array.rows", "sram.global.capacity", "energy_pj.total", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("x:", g.XValues, "y:", g.YValues)
	for y := len(g.YValues) - 1; y >= 0; y-- {
		fmt.Println(g.YValues[y], g.Values[y])
	}
	// Output:
	// x: [8 16] y: [64KiB 1MiB]
	// 1MiB [20 10]
	// 64KiB [NaN 30]
}
