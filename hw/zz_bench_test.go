package hw

import (
	"bytes"
	"io/fs"
	"testing"
	"time"

	"github.com/rctsim/rctsim/configs"
)

func TestTmpTiming(t *testing.T) {
	b, _ := fs.ReadFile(configs.FS, "bitfusion.toml")
	start := time.Now()
	p, err := Decode(bytes.NewReader(b), "x")
	t.Log("decode", time.Since(start), err)
	start = time.Now()
	for _, k := range KeyPaths(p) {
		v, _ := p.Get(k)
		_ = p.Set(k, v)
	}
	t.Log("setget", time.Since(start))
}
