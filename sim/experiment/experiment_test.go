package experiment

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/models"
)

func TestCheckBatchMemory(t *testing.T) {
	const machine = 24 << 30
	for _, c := range []struct {
		model  string
		batch  int
		mem    int64
		errHas string // "" for no error
	}{
		{"lenet5", 32, machine, ""},
		{"transformer", 512, machine, ""},
		{"transformer", 70000, machine, "--batch: 70000 is too large: training transformer needs at least"},
		{"transformer", 70000, 0, ""}, // memory unknown: no check
	} {
		net, err := models.ByName(c.model)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckBatchMemory(net, c.batch, c.mem)
		var usage *OptionError
		switch {
		case c.errHas == "" && err != nil:
			t.Errorf("%s batch %d: %v", c.model, c.batch, err)
		case c.errHas != "" && (err == nil || !strings.Contains(err.Error(), c.errHas) || !errors.As(err, &usage)):
			t.Errorf("%s batch %d: got %v, want an OptionError containing %q", c.model, c.batch, err, c.errHas)
		}
	}
	if runtime.GOOS == "linux" && MachineMemoryBytes() <= 0 {
		t.Error("machineMemoryBytes found no MemTotal in /proc/meminfo")
	}
}
