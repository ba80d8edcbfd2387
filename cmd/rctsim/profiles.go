package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
)

var cmdProfiles = &command{
	name:    "profiles",
	usage:   "[DIR]",
	summary: "list hardware profiles (the embedded ones, or the *.toml files in DIR) and validate each",
	run:     runProfiles,
}

func runProfiles(c *command, e *env, args []string) error {
	flags := newFlags(c, e)
	if err := flags.parse(args, 1); err != nil {
		return err
	}
	var fsys fs.FS = configs.FS
	where, dir := "embedded configs", ""
	if flags.NArg() == 1 {
		dir = flags.Arg(0)
		where, fsys = dir, os.DirFS(dir)
	}
	names, err := fs.Glob(fsys, "*.toml")
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("no *.toml profiles in %s", where)
	}
	sort.Strings(names)
	bad, err := hw.WriteSummaries(e.stdout, fsys, dir, names)
	if err != nil || len(bad) == 0 {
		return err
	}
	return fmt.Errorf("%d invalid profile(s):\n%w", len(bad), errors.Join(bad...))
}

// loadProfile reads the profile --hw names (the embedded default when empty; see
// hw.Open) and applies the --set overrides.
func loadProfile(name string, sets []string) (*hw.Profile, error) {
	if name == "" {
		name = configs.Default
	}
	return hw.Open(name, configs.FS, sets)
}
