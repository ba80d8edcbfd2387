//go:build unix

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowSweep has a slow point (MobileNetV2's step simulates for seconds) after a fast
// LeNet-5 point; shard 0/2 holds points 0 and 3, both fast.
const slowSweep = `name = "slow"
[[points]]
model = "lenet5"
batch = 8
[[points]]
model = "mobilenetv2"
batch = 8
[[points]]
model = "lenet5"
batch = 16
[[points]]
model = "lenet5"
batch = 32
`

// TestSweepSignalChild is the sweep that TestSweepSIGTERM runs in a child process
// (a signal to this process would stop the tests).
func TestSweepSignalChild(t *testing.T) {
	args := os.Getenv("RCTSIM_SWEEP_CHILD")
	if args == "" {
		t.Skip("run by TestSweepSIGTERM")
	}
	os.Exit(run(strings.Split(args, "\n"), &env{stdout: os.Stdout, stderr: os.Stderr}))
}

// TestSweepSIGTERM sends SIGTERM to a sweep while its slow point runs and checks that
// it exits (within a generous bound that only guards against a hang; the time a
// cancel takes is sim's BenchmarkCancelLatency), saying it was interrupted, with exit
// status 143 (128 + SIGTERM) and only whole rows in its CSV, which a rerun resumes.
func TestSweepSIGTERM(t *testing.T) {
	dir, spec := writeSpec(t, slowSweep)
	out := filepath.Join(dir, "out.csv")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSweepSignalChild$")
	cmd.Env = append(os.Environ(), "RCTSIM_SWEEP_CHILD="+strings.Join([]string{"sweep", "--quiet", "--workers", "1", "-o", out, spec}, "\n"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Wait for the first row: the slow point is then being compiled or simulated.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if data, _ := os.ReadFile(out); bytes.Count(data, []byte("\n")) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no row after 2 minutes: %s", stderr.String())
		}
	}
	time.Sleep(300 * time.Millisecond)
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-exited:
		t.Logf("exited %v after SIGTERM", time.Since(sent))
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 10 s after SIGTERM")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM) || !strings.Contains(stderr.String(), "sweep interrupted after 1 of 4 points") {
		t.Errorf("exit %v, stderr %q; want exit 143 saying it was interrupted", err, stderr.String())
	}
	data, _ := os.ReadFile(out)
	if !bytes.HasSuffix(data, []byte("\n")) || bytes.Count(data, []byte("\n")) != 2 {
		t.Errorf("the CSV is not a header and one whole row:\n%s", data)
	}
	// The rerun resumes: the fast shard completes after the row written.
	code, _, errText := rctsim("sweep", "--quiet", "--shard", "0/2", "-o", out, spec)
	if code != 0 {
		t.Fatalf("resume: %s", errText)
	}
	if again, _ := os.ReadFile(out); !bytes.HasPrefix(again, data) || bytes.Count(again, []byte("\n")) != 3 {
		t.Errorf("resumed CSV:\n%s", again)
	}
}
