package sweep

import (
	"errors"
	"fmt"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/traces/fileio"
	"github.com/rctsim/rctsim/train/numerics"
)

// TestFailureKind checks the failure_kind of the errors a point can end with, made by
// the packages that make them where that is cheap, wrapped as the sweep wraps them.
func TestFailureKind(t *testing.T) {
	load := func(name string, sets ...string) *hw.Profile {
		p, err := hw.LoadFS(configs.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ApplySets(sets); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, noFit := kernels.Compile(models.LeNet5(), load(configs.Default, "sram.global.capacity=16KiB"), kernels.Options{Method: numerics.QAT, Batch: 8})
	_, noMode := kernels.Compile(models.LeNet5(), load("edge_tpu.toml"), kernels.Options{Method: numerics.FP32, Batch: 8})
	_, noModel := models.ByName("lenet6")
	_, tooLarge := kernels.Compile(models.LeNet5(), load(configs.Default), kernels.Options{Method: numerics.RCT, Batch: 1 << 20, MaxInstrs: 1000})
	badSet := load(configs.Default).ApplySets([]string{"mac_array.rows=0", "sram.global.capacity=1000B"})
	_, badBase := parseString(t, "base = \"nope\"\n")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"ran", nil, ""},
		{"tiles do not fit", noFit, "no_fit"},
		{"a step of a schedule does not fit", fmt.Errorf("schedule rct1, step 40: %w", noFit), "no_fit"},
		{"too many instructions", tooLarge, "too_large"},
		{"no float mode", noMode, "unsupported_mode"},
		{"unknown model", noModel, "unknown_model"},
		{"unknown profile in a spec", badBase, "unknown_profile"},
		{"values hw rejects together", badSet, "invalid_input"},
		{"a bad schedule line", &fileio.Error{File: "schedule.csv", Line: 3, Col: 5, Key: "bits", Err: errors.New("bad")}, "invalid_input"},
		{"a panic", errors.New("panic: index out of range"), "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want != "" && tt.err == nil {
				t.Fatal("the case made no error")
			}
			if got := failureKind(tt.err); got != tt.want {
				t.Errorf("failureKind(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
