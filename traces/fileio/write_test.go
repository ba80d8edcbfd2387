package fileio

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

func TestWriteFileRegular(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "out.csv")
	if err := WriteFile(path, writeString("a\n")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, writeString("b\n")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if data, _ := os.ReadFile(path); err != nil || string(data) != "b\n" || st.Mode().Perm() != 0o600 {
		t.Errorf("replaced file %q, mode %v, %v; want b and 0600 kept", data, st.Mode(), err)
	}
	// A failing writer touches nothing and leaves no temporary file.
	if err := WriteFile(path, func(io.Writer) error { return errors.New("boom") }); err == nil {
		t.Error("the writer's error was lost")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if data, _ := os.ReadFile(path); string(data) != "b\n" || len(entries) != 1 {
		t.Errorf("after a failed write: %q, %d entries", data, len(entries))
	}
	if err := WriteFile(dir, writeString("x")); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("writing over a directory: %v", err)
	}
}

// TestWriteFileSymlink: the link stays a link and its target gets the content, also
// when the target does not exist yet.
func TestWriteFileSymlink(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target.json"), filepath.Join(dir, "link.json")
	if err := os.Symlink("target.json", link); err != nil {
		t.Skip(err)
	}
	for _, content := range []string{"new", "replaced"} {
		if err := WriteFile(link, writeString(content)); err != nil {
			t.Fatal(err)
		}
		st, err := os.Lstat(link)
		if data, _ := os.ReadFile(target); err != nil || st.Mode()&os.ModeSymlink == 0 || string(data) != content {
			t.Errorf("link mode %v, target %q (%v); want a link and %q", st.Mode(), data, err, content)
		}
	}
}

// TestWriteFileFIFO: a FIFO is written into, not replaced by a regular file.
func TestWriteFileFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip(err)
	}
	got := make(chan string)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			got <- err.Error()
			return
		}
		data, _ := io.ReadAll(f)
		f.Close()
		got <- string(data)
	}()
	if err := WriteFile(path, writeString("through the pipe")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "through the pipe" {
		t.Errorf("reader got %q", s)
	}
	if st, err := os.Lstat(path); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v %v", st.Mode(), err)
	}
}

// TestWriteFileDevice: /dev/null stays a device node (as root, a rename would replace
// it and break the machine).
func TestWriteFileDevice(t *testing.T) {
	before, err := os.Lstat(os.DevNull)
	if err != nil || before.Mode()&os.ModeDevice == 0 {
		t.Skipf("no device at %s", os.DevNull)
	}
	if err := WriteFile(os.DevNull, writeString("discarded")); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Lstat(os.DevNull); err != nil || after.Mode() != before.Mode() {
		t.Errorf("%s changed: %v -> %v (%v)", os.DevNull, before.Mode(), after.Mode(), err)
	}
}

func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	os.WriteFile(a, nil, 0o644)
	if !SameFile(a, filepath.Join(dir, ".", "a.csv")) || SameFile(a, filepath.Join(dir, "b.csv")) {
		t.Error("SameFile")
	}
	if !SameFile(filepath.Join(dir, "new.csv"), filepath.Join(dir, "x", "..", "new.csv")) {
		t.Error("SameFile of a file not created yet")
	}
}

func TestReadTable(t *testing.T) {
	tb, err := ReadTable(strings.NewReader("step,loss,acc\n0,2.5,\n1,x,0.5\n2,1.5,0.7\n"), "m.csv")
	if err != nil {
		t.Fatal(err)
	}
	xs, ys := tb.Floats("step", "loss")
	if len(xs) != 2 || ys[1] != 1.5 || !tb.HasValues("acc") || tb.HasValues("nope") || tb.Get(0, "nope") != "" {
		t.Errorf("table %+v: %v %v", tb, xs, ys)
	}
	for _, bad := range []string{"", "a,b\n1\n"} {
		if _, err := ReadTable(strings.NewReader(bad), "bad.csv"); err == nil || !strings.HasPrefix(err.Error(), "bad.csv:") {
			t.Errorf("%q: %v, want an error naming bad.csv", bad, err)
		}
	}
}

func TestResolve(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir()) // the targets are real paths
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, link := range []struct{ name, dest string }{{"link", "file"}, {"dangling", "sub/new"}} {
		if err := os.Symlink(link.dest, filepath.Join(dir, link.name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		path, target string
		exists       bool
	}{
		{file, file, true},
		{filepath.Join(dir, "link"), file, true},
		{filepath.Join(dir, "dangling"), filepath.Join(dir, "sub", "new"), false},
		{filepath.Join(dir, "none"), filepath.Join(dir, "none"), false},
	}
	for _, tt := range tests {
		target, info, err := Resolve(tt.path)
		if err != nil || target != tt.target || (info != nil) != tt.exists {
			t.Errorf("Resolve(%s) = %s, %v, %v; want %s, exists %v", tt.path, target, info, err, tt.target, tt.exists)
		}
	}
}
