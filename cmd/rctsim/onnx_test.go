package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const lenetONNX = "../../models/testdata/lenet5.onnx"

// TestONNXModelFlag checks that --model takes an ONNX file wherever it takes a name:
// the exported LeNet-5 simulates to the built-in's figures, byte for byte.
func TestONNXModelFlag(t *testing.T) {
	for _, method := range []string{"rct", "qat"} {
		_, want, _ := rctsim("sim", "--model", "lenet5", "--method", method, "--batch", "8", "--format", "json")
		code, got, stderr := rctsim("sim", "--model", lenetONNX, "--method", method, "--batch", "8", "--format", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if got != want {
			t.Errorf("%s: the ONNX LeNet-5 simulates differently from the built-in", method)
		}
	}
	code, out, stderr := rctsim("sim", "--topology", lenetONNX, "--forward")
	if code != 0 || !strings.Contains(out, "fc3") {
		t.Errorf("sim --topology FILE.onnx: exit %d, %s%s", code, out, stderr)
	}
}

func TestModelsCommand(t *testing.T) {
	code, out, stderr := rctsim("models")
	if code != 0 || !strings.Contains(out, "resnet20") || !strings.Contains(out, "ONNX") {
		t.Errorf("models: exit %d, %s%s", code, out, stderr)
	}
	for _, args := range [][]string{{"models", lenetONNX}, {"sim", "--model", lenetONNX, "--summary"}} {
		code, out, stderr := rctsim(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		for _, want := range []string{"conv2d", "16x5x5", "48120", "total", "61706", "416520"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: the summary does not say %q:\n%s", args, want, out)
			}
		}
	}
}

func TestONNXUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.onnx")
	if err := os.WriteFile(bad, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sim", "--model", "lenet5", "--input-shape", "1x32x32"}, 2, "applies to ONNX files"},
		{[]string{"sim", "--model", lenetONNX, "--input-shape", "32x32"}, 2, "want CxHxW"},
		{[]string{"sim", "--model", bad}, 1, "bad.onnx: not an ONNX model"},
		{[]string{"models", bad}, 1, "bad.onnx"},
		{[]string{"sim", "--model", lenetONNX, "--summary", "--batch", "4"}, 2, "-batch does not apply"},
		{[]string{"train", "-o", filepath.Join(dir, "run"), "--model", "../../models/testdata/resnet18.onnx", "--steps", "1"}, 2, "3x224x224"},
		{[]string{"train", "-o", filepath.Join(dir, "run"), "--model", "../../models/testdata/vgg11.onnx", "--init-from-model", "--steps", "1"}, 1, "values were left out"},
	} {
		code, _, stderr := rctsim(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit %d saying %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
