package fileio

import "io/fs"

// Resolve returns the file a write to path lands in, following symbolic links as
// WriteFile does (a dangling link resolves to the file it points to), and that file's
// FileInfo, nil when it does not exist yet. A writer that appends to path rather than
// replacing it (a resumable sweep output) uses it to tell a new file from a regular one
// it may read back and cut, and from a device or FIFO it may only write to.
func Resolve(path string) (target string, info fs.FileInfo, err error) {
	return resolve(path)
}
