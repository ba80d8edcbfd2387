package plots_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/rctsim/rctsim/plots"
)

// Draw an energy breakdown normalised to QAT and save it in every format.
func ExampleEnergyBars() {
	b := plots.EnergyBreakdown{
		Title:   "Energy per training step",
		Methods: []string{"QAT", "RCT"},
		Parts:   []string{"MAC/GEMM", "SRAM", "DRAM weights", "DRAM master weights"},
		EnergyJ: [][]float64{
			{2.1e-3, 1.2e-3, 0.8e-3, 3.2e-3},
			{0.3e-3, 0.9e-3, 0.45e-3, 0},
		},
	}
	fig, err := plots.EnergyBars(b, "QAT")
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "figures")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	paths, err := plots.Save(fig, dir, "energy", []string{"png", "svg", "pdf"}, 6, 4, 150)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range paths {
		fmt.Println(filepath.Base(p))
	}
	// Output:
	// energy.png
	// energy.svg
	// energy.pdf
}

// Plot training curves of several methods; each method keeps its colour in
// every figure.
func ExampleLines() {
	acc := []plots.Series{
		{Name: "QAT", X: []float64{0, 1000, 2000}, Y: []float64{0.10, 0.82, 0.90}},
		{Name: "RCT", X: []float64{0, 1000, 2000}, Y: []float64{0.10, 0.78, 0.89}},
	}
	fig, err := plots.Lines("Test accuracy", "Training step", "Accuracy", acc)
	if err != nil {
		log.Fatal(err)
	}
	svg, err := plots.Render(fig, "svg", 432, 288, 0) // 6 x 4 in, in points
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(svg) > 0)
	// Output: true
}
