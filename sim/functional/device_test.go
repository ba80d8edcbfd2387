package functional

import (
	"strings"
	"testing"

	"github.com/rctsim/rctsim/models"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		net   *models.Network
		layer string // "" when functional execution covers the network
	}{
		{models.MLP(), ""},
		{models.LeNet5(), ""},
		{models.ResNet20(1), "bn"},
		{models.Transformer(), "embed"},
		{models.CharLM(), "embed"},
		{models.MobileNetV2CIFAR(1), "bn"},
	} {
		err := Check(c.net)
		switch {
		case c.layer == "" && err != nil:
			t.Errorf("%s: %v", c.net.Name, err)
		case c.layer != "" && (err == nil || !strings.Contains(err.Error(), "(layer "+c.layer)):
			t.Errorf("%s: got %v, want an error naming a layer %s...", c.net.Name, err, c.layer)
		}
	}
}
