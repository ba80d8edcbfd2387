package sweep

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/rctsim/rctsim/configs"
)

// Open reads the spec a user names: a file if one exists at that path (a file wins),
// else an embedded spec by name ("lenet5_array_sram", with or without .toml, and with
// or without the "sweeps/" folder it has in configs.FS, as --check prints it).
func Open(name string) (*Spec, error) {
	if _, err := os.Stat(name); err == nil {
		return Load(name)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	file := "sweeps/" + strings.TrimSuffix(strings.TrimPrefix(name, "sweeps/"), ".toml") + ".toml"
	if _, err := fs.Stat(configs.FS, file); err == nil {
		return LoadFS(configs.FS, file, ".")
	}
	return nil, fmt.Errorf("%s: no such file, nor an embedded sweep (have %s)", name, strings.Join(Embedded(), ", "))
}

// Embedded lists the embedded specs by the names Open takes.
func Embedded() []string {
	files, _ := fs.Glob(configs.FS, "sweeps/*.toml")
	for i, f := range files {
		files[i] = strings.TrimSuffix(strings.TrimPrefix(f, "sweeps/"), ".toml")
	}
	return files
}
