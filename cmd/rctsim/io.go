package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
)

// loadProfile reads the profile at path (the embedded default when path is empty) and
// applies --set overrides.
func loadProfile(path string, sets []string) (*hw.Profile, error) {
	var p *hw.Profile
	var err error
	if path == "" {
		p, err = hw.LoadFS(configs.FS, configs.Default)
	} else {
		p, err = hw.Load(path)
	}
	if err != nil {
		return nil, err
	}
	if err := p.ApplySets(sets); err != nil {
		return nil, err
	}
	return p, nil
}

// output writes a command's data: to stdout, or to a file that appears only once it is
// complete (written to a temporary file in the same directory, then renamed), so a
// failure never leaves a half-written result.
func output(e *env, path string, write func(w io.Writer) error) error {
	if path == "" || path == "-" {
		return write(e.stdout)
	}
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return err
	}
	return writeFileAtomic(path, buf.Bytes())
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	// CreateTemp makes the file private; a result file is an ordinary one.
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// modelHelp describes the --model flag.
func modelHelp() string {
	if exp := models.ExperimentalNames(); len(exp) > 0 {
		return fmt.Sprintf("built-in model: %v (defined, not yet supported everywhere: %v)", models.Names(), exp)
	}
	return fmt.Sprintf("built-in model: %v", models.Names())
}
