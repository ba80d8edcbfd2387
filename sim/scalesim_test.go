package sim

import (
	"os"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/models"
)

// TestScaleSimReportGolden: on SCALE-Sim's own AlexNet topology and its regression
// configuration (scale.cfg switched to ws, 32x32), the report's first line is the one
// of SCALE-Sim's test/golden_trace/COMPUTE_REPORT.csv (its alexnet_part.csv is this
// file's Conv1).
func TestScaleSimReportGolden(t *testing.T) {
	f, err := os.Open("testdata/scalesim/alexnet.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	layers, err := models.ReadTopology(f, "alexnet.csv", false)
	if err != nil {
		t.Fatal(err)
	}
	p := loadProfile(t, configs.Default, "mac_array.rows=32", "mac_array.cols=32", "mac_array.dataflow=ws")
	rows, cmp, err := ScaleSimReport(p, layers, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteScaleSimComputeReport(&b, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if len(lines) != 7 || lines[1] != "0, 112283, 0, 91.68309650614964, 94.53125, 90.78000992063492," {
		t.Errorf("report:\n%s", b.String())
	}
	if len(cmp) != 5 || cmp[0].ScaleSimOfmap != [2]int{55, 55} || cmp[0].RctsimOfmap != [2]int{54, 54} {
		t.Errorf("comparison %+v", cmp)
	}
}
