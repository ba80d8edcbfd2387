package sweep

import (
	"testing"

	"github.com/rctsim/rctsim/train/numerics"
)

// TestShardBalance checks that the shards of the embedded example sweeps get the same
// mix of methods and models (to within one point each) for every shard count that
// leaves each shard at least 7 points, and estimated costs within 20% of each other
// while shards are large enough for that: the README's Slurm example runs
// lenet5_array_sram in 4 shards. (A shard of a few points cannot be balanced better
// than its costliest point: area_energy's ResNet-20 QAT points cost about 40 LeNet-5
// RCT points each.) Interleaving point k to shard k mod N gave an even N's shards all
// the RCT points or all the QAT points of lenet5_array_sram, one shard about 3.5
// times the work of the other.
func TestShardBalance(t *testing.T) {
	for _, tt := range []struct {
		name string
		// balanced is the largest shard count whose shards' costs must be within 20%.
		balanced int
	}{{"lenet5_array_sram", 10}, {"area_energy", 16}} {
		name := tt.name
		spec, err := Open(name)
		if err != nil {
			t.Fatal(err)
		}
		for n := 2; spec.Len()/n >= 7; n++ {
			ests, err := spec.EstimateShards(n)
			if err != nil {
				t.Fatal(err)
			}
			lo, hi := ests[0].Seconds, ests[0].Seconds
			for _, se := range ests {
				lo, hi = min(lo, se.Seconds), max(hi, se.Seconds)
				for _, m := range spec.Methods {
					if want := float64(se.Points) / float64(len(spec.Methods)); float64(se.Methods[m.String()]) < want-1 || float64(se.Methods[m.String()]) > want+1 {
						t.Errorf("%s shard %v: %d %s points of %d", name, se.Shard, se.Methods[m.String()], m, se.Points)
					}
				}
				for _, m := range spec.Models {
					if want := float64(se.Points) / float64(len(spec.Models)); float64(se.Models[m]) < want-1 || float64(se.Models[m]) > want+1 {
						t.Errorf("%s shard %v: %d %s points of %d", name, se.Shard, se.Models[m], m, se.Points)
					}
				}
			}
			if n <= tt.balanced && hi > 1.2*lo {
				t.Errorf("%s in %d shards: estimated costs from %.3g s to %.3g s, more than 20%% apart", name, n, lo, hi)
			}
			if name == "lenet5_array_sram" && n == 4 {
				t.Logf("%s in %d shards: estimated %.3g s to %.3g s (%.1f%% apart)", name, n, lo, hi, 100*(hi/lo-1))
			}
		}
	}
}

// TestEstimate checks the cost model's order: QAT and FP32 cost more than RCT, a
// bigger batch and a bigger model more than a smaller one.
func TestEstimate(t *testing.T) {
	spec := mustParse(t, `models = ["lenet5", "resnet20"]
methods = ["rct", "qat", "fp32"]
batch = [8, 32]
`)
	cost := map[[3]string]float64{}
	for k := range spec.Len() {
		pt := spec.Point(k)
		cost[[3]string{pt.Model, pt.Method.String(), map[int]string{8: "8", 32: "32"}[pt.Batch]}] = spec.Estimate(k)
	}
	for _, model := range spec.Models {
		for _, m := range []numerics.Method{numerics.QAT, numerics.FP32} {
			if cost[[3]string{model, string(m), "8"}] <= 2*cost[[3]string{model, "rct", "8"}] {
				t.Errorf("%s: %s is not well above rct: %v", model, m, cost)
			}
		}
		if cost[[3]string{model, "rct", "32"}] <= cost[[3]string{model, "rct", "8"}] {
			t.Errorf("%s: batch 32 not above batch 8: %v", model, cost)
		}
	}
	if cost[[3]string{"resnet20", "rct", "8"}] <= 10*cost[[3]string{"lenet5", "rct", "8"}] {
		t.Errorf("resnet20 not well above lenet5: %v", cost)
	}
	if _, err := spec.EstimateShards(0); err == nil {
		t.Error("EstimateShards(0): no error")
	}
}

// FuzzParseShard: a shard ParseShard accepts is one of its count, and prints as text
// that ParseShard reads back to the same shard.
func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"0/8", " 3 / 4 ", "1/1", "4/4", "-1/2", "0/0", "/", "1", "0/9999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := ParseShard(s)
		if err != nil {
			return
		}
		if sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count {
			t.Fatalf("ParseShard(%q) = %+v", s, sh)
		}
		if back, err := ParseShard(sh.String()); err != nil || back != sh {
			t.Fatalf("ParseShard(%q) = %+v prints %q, reads back %+v, %v", s, sh, sh.String(), back, err)
		}
	})
}
