package functional_test

import (
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim/devcheck"
	"github.com/rctsim/rctsim/sim/functional"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
)

// hugeSRAM is the default chip with a TiB of SRAM, which the device used to allocate
// whole.
func hugeSRAM(t *testing.T) *hw.Profile {
	t.Helper()
	p, err := hw.LoadFS(configs.FS, configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ApplySets([]string{"sram.global.capacity=1099511627776"}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImagesHoldWhatTheProgramUses runs the device check on a chip with a TiB of
// SRAM: the images are as large as the program's tensors and operands, and the
// device still matches the host bit for bit.
func TestImagesHoldWhatTheProgramUses(t *testing.T) {
	net := models.LeNet5()
	data := train.Synthetic(7, 32, net.Input, 10)
	cfg := train.DefaultConfig(numerics.RCT)
	cfg.Batch = 8
	res, err := devcheck.Run(net, hugeSRAM(t), cfg, data, train.NewBatcher(data.Len(), cfg.Batch, 3, true).Epoch(0), 1)
	if err != nil {
		t.Fatal(err)
	}
	if !res.BitExact {
		t.Errorf("device differs from host: %s", res.Detail)
	}
}

// TestImagesBounded refuses a program whose images pass MaxImageBytes, before
// allocating them.
func TestImagesBounded(t *testing.T) {
	net := models.LeNet5()
	// 2^23 examples of 784 bytes: 6.6 GB of input alone.
	prog, err := kernels.Compile(net, hugeSRAM(t), kernels.Options{Method: numerics.RCT, Batch: 1 << 23, Functional: true})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := train.NewTrainer(net, train.DefaultConfig(numerics.RCT))
	if err != nil {
		t.Fatal(err)
	}
	st, err := tr.DeviceState()
	if err != nil {
		t.Fatal(err)
	}
	_, err = functional.New(net, prog, st)
	if err == nil || !strings.Contains(err.Error(), "more than the 4294967296") {
		t.Errorf("got %v, want the images refused", err)
	}
}
