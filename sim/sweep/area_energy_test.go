package sweep

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/plots"
)

// TestAreaEnergyFront runs the LeNet-5 RCT slice of the example sweep
// configs/sweeps/area_energy.toml: its energy against area front has distinct designs
// to choose from, not a single "biggest is best" point.
func TestAreaEnergyFront(t *testing.T) {
	data, err := configs.FS.ReadFile("sweeps/area_energy.toml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(data), `models      = ["lenet5", "resnet20"]`, `models      = ["lenet5"]`, 1)
	src = strings.Replace(src, `methods     = ["rct", "qat"]`, `methods     = ["rct"]`, 1)
	if src == string(data) {
		t.Fatal("the example spec no longer lists its models and methods as this test expects")
	}
	spec, err := Parse([]byte(src), "area_energy.toml", ".")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := Run(context.Background(), spec, Options{Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	// technology_node is swept and also a metric: it is one column, so that the
	// sweep's shards can be merged (merge refuses a header with a repeated column).
	if n := strings.Count(strings.SplitN(out.String(), "\n", 2)[0], "technology_node"); n != 1 {
		t.Errorf("the header has technology_node %d times", n)
	}
	var merged bytes.Buffer
	if rep, err := Merge(&merged, []MergeInput{{"area_energy.csv", bytes.NewReader(out.Bytes())}}, spec); err != nil || !rep.Complete() || !bytes.Equal(merged.Bytes(), out.Bytes()) {
		t.Errorf("merging the sweep's output: %v", err)
	}
	xys, err := LoadPoints(bytes.NewReader(out.Bytes()), "area_mm2.total", "energy_pj.total", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pts := make([]plots.Point, len(xys))
	for i, p := range xys {
		pts[i] = plots.Point{X: p.X, Y: p.Y, Label: p.Label}
	}
	front := plots.ParetoFront(pts, true, true)
	if len(front) < 4 {
		t.Errorf("the front has %d designs: %v", len(front), front)
	}
	for _, p := range front {
		if p.X > 30 {
			t.Errorf("%s above the 30 mm2 budget is on the front", p.Label)
		}
	}
}
