package fileio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile writes what write produces to path so that a failure never leaves a
// half-written result and never destroys what path names. The content is produced in
// memory first: if write fails, path is not touched. Then
//
//   - a new file, or an existing regular file, is written to a temporary file in the
//     same directory and renamed over path once complete, so a reader never sees part
//     of it (an existing file keeps its permission bits; a new one is 0644);
//   - a symbolic link is followed and its target written the same way, so the link
//     stays a link;
//   - anything else (a device such as /dev/null, a FIFO, a terminal) is opened and
//     written as it is: renaming over it would replace the device node itself.
//
// Missing parent directories are created.
func WriteFile(path string, write func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return err
	}
	return WriteBytes(path, buf.Bytes())
}

// WriteBytes is WriteFile for content already in memory.
func WriteBytes(path string, data []byte) error {
	target, info, err := resolve(path)
	if err != nil {
		return err
	}
	switch {
	case info == nil || info.Mode().IsRegular():
		return replace(target, info, data)
	case info.IsDir():
		return fmt.Errorf("write %s: is a directory", path)
	}
	// A device, FIFO or socket: write into it. O_TRUNC is harmless on a device
	// and ignored by a FIFO.
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// resolve follows symbolic links to the file a write should land in, returning its
// path and its FileInfo (nil when it does not exist yet).
func resolve(path string) (string, fs.FileInfo, error) {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	if info.Mode()&fs.ModeSymlink == 0 {
		return path, info, nil
	}
	target, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		// A dangling link: create the file it points to.
		dest, err := os.Readlink(path)
		if err != nil {
			return "", nil, err
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		return resolve(dest)
	}
	if err != nil {
		return "", nil, err
	}
	info, err = os.Stat(target)
	if err != nil {
		return "", nil, err
	}
	return target, info, nil
}

// replace writes data to a temporary file beside path and renames it over path.
func replace(path string, old fs.FileInfo, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	// CreateTemp makes the file private; a result file is an ordinary one.
	mode := fs.FileMode(0o644)
	if old != nil {
		mode = old.Mode().Perm()
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// SameFile reports whether two paths name the same file, or would once created (an
// output that does not exist yet is compared by absolute path).
func SameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	pa, _ := filepath.Abs(a)
	pb, _ := filepath.Abs(b)
	return pa == pb
}
