package dram

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The equivalence test pins the model's results: it runs a battery of request
// streams through many DRAM specs, the way trace replay and the DMA drive the
// controller, and hashes every time Transfer returns, the Stats after every Transfer
// (the simulator charges their differences), every command the scheduler issues, and
// the final Report and Energy. The golden digests were made by the model before it was
// optimised; any change to the scheduler that is meant to be a pure speed-up must leave
// every one of them unchanged. Rewrite them (go test -run Equivalence -update) only for
// a deliberate change of the model, and say so.
const equivalenceGolden = "testdata/equivalence.golden"

// eqSpec is a DRAM spec of the battery.
type eqSpec struct {
	name string
	spec hw.DRAMSpec
}

func equivalenceSpecs(t testing.TB) []eqSpec {
	var specs []eqSpec
	add := func(name string, s hw.DRAMSpec) { specs = append(specs, eqSpec{name, s}) }
	add("lpddr4", lpddr4())
	add("lpddr4-refresh", withRefresh(lpddr4()))
	add("ddr4", ddr4())
	add("ddr4-refresh", withRefresh(ddr4()))
	closed := withRefresh(lpddr4())
	closed.PagePolicy = "closed"
	add("lpddr4-closed", closed)
	closed = withRefresh(ddr4())
	closed.PagePolicy = "closed"
	add("ddr4-closed", closed)
	small := withRefresh(ddr4())
	small.TransactionQueueDepth, small.WriteBufferDepth, small.BankQueueDepth = 8, 8, 2
	small.WriteHighWatermark, small.WriteLowWatermark = 6, 2
	add("ddr4-smallq", small)
	deep := withRefresh(lpddr4())
	deep.TransactionQueueDepth, deep.WriteBufferDepth, deep.BankQueueDepth = 64, 48, 16
	add("lpddr4-deepq", deep)
	for _, m := range []string{"rorabgbachco", "robabgracoch", "rocochrabgba"} {
		s := withRefresh(ddr4())
		s.AddressMapping = m
		add("ddr4-"+m, s)
	}
	fourRanks := withRefresh(ddr4())
	fourRanks.Channels, fourRanks.Ranks, fourRanks.Banks, fourRanks.BankGroups = 1, 4, 16, 2
	add("ddr4-4ranks", fourRanks)
	wide := withRefresh(ddr4())
	wide.Channels, wide.Ranks, wide.Banks, wide.BankGroups = 4, 1, 32, 8
	wide.TRTRS = hw.Timing{Cycles: 2}
	add("ddr4-32banks", wide)

	entries, err := configs.FS.ReadDir("dram")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		dp, err := hw.LoadDRAM(configs.FS, "dram/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		add("dram/"+e.Name(), dp.DRAM)
	}
	entries, err = configs.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".toml") {
			continue
		}
		p, err := hw.LoadFS(configs.FS, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		add(e.Name(), p.DRAM)
	}
	return specs
}

// eqStream is a request stream of the battery, made for a DRAM of burst bytes bb.
type eqStream struct {
	name string
	make func(bb uint64) []Request
}

func equivalenceStreams() []eqStream {
	const n = 2500
	rng := func(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 99)) }
	seed := uint64(0)
	gen := func(f func(r *rand.Rand, i int, bb uint64) Request) func(uint64) []Request {
		seed++
		s := seed // each stream its own seed
		return func(bb uint64) []Request {
			r := rng(s)
			reqs := make([]Request, n)
			for i := range reqs {
				reqs[i] = f(r, i, bb)
			}
			return reqs
		}
	}
	return []eqStream{
		{"seq-read", gen(func(_ *rand.Rand, i int, bb uint64) Request { return Request{Addr: uint64(i) * bb} })},
		{"seq-write", gen(func(_ *rand.Rand, i int, bb uint64) Request { return Request{Addr: uint64(i) * bb, Write: true} })},
		{"stride-4k", gen(func(_ *rand.Rand, i int, bb uint64) Request {
			return Request{Addr: uint64(i%64)*4096 + uint64(i/64)*bb}
		})},
		{"stride-8k-mix", gen(func(r *rand.Rand, i int, bb uint64) Request {
			return Request{Addr: uint64(i%32)*8192 + uint64(i/32)*bb + 1<<24, Write: r.IntN(4) == 0}
		})},
		{"random-read", gen(func(r *rand.Rand, _ int, _ uint64) Request { return Request{Addr: r.Uint64() % (256 << 20)} })},
		{"random-mix", gen(func(r *rand.Rand, _ int, _ uint64) Request {
			return Request{Addr: r.Uint64() % (64 << 20), Write: r.IntN(3) == 0}
		})},
		{"hot-mix", gen(func(r *rand.Rand, _ int, bb uint64) Request {
			// A small working set: forwarded reads and merged writes.
			return Request{Addr: uint64(r.IntN(96)) * bb * 3, Write: r.IntN(2) == 0}
		})},
		{"seq-random-issue", gen(func(r *rand.Rand, i int, bb uint64) Request {
			addr := uint64(i) * bb
			if r.IntN(2) == 0 {
				addr = r.Uint64() >> 34
			}
			return Request{Addr: addr, Write: r.IntN(3) == 0, Issue: uint64(i) * uint64(r.IntN(6)+1)}
		})},
		{"bursty", gen(func(r *rand.Rand, i int, bb uint64) Request {
			// Groups of 40 requests at once, 3000 cycles apart: idle gaps with refreshes.
			return Request{Addr: uint64(i)*bb*5 + uint64(r.IntN(4))<<20, Write: i%40 >= 30, Issue: uint64(i/40) * 3000}
		})},
		{"row-conflicts", gen(func(r *rand.Rand, i int, bb uint64) Request {
			// Two rows of one bank interleaved, and the odd hit.
			return Request{Addr: uint64(i%2)<<28 + uint64(r.IntN(8))*bb, Write: i%7 == 0}
		})},
		{"tiles", gen(func(_ *rand.Rand, i int, bb uint64) Request {
			// 2-D tiles: rows of 4 bursts, 4 KiB apart, tiles of 16 rows; loads then a store.
			tile, row, col := i/64, i%64/4, i%4
			return Request{Addr: uint64(tile)*(1<<16) + uint64(row)*4096 + uint64(col)*bb, Write: tile%3 == 2}
		})},
	}
}

// digest accumulates what the model returns.
type digest struct {
	h hash.Hash
}

func newDigest() *digest { return &digest{h: sha256.New()} }

func (d *digest) u64(vs ...uint64) {
	var b [8]byte
	for _, v := range vs {
		binary.LittleEndian.PutUint64(b[:], v)
		d.h.Write(b[:])
	}
}

func (d *digest) stats(s Stats) {
	if err := binary.Write(d.h, binary.LittleEndian, s); err != nil {
		panic(err)
	}
}

func (d *digest) energy(e Energy) {
	d.u64(math.Float64bits(e.ActivatePJ), math.Float64bits(e.ReadPJ), math.Float64bits(e.WritePJ),
		math.Float64bits(e.BackgroundPJ), math.Float64bits(e.RefreshPJ), math.Float64bits(e.TotalPJ()))
}

func (d *digest) report(r Report) {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	d.h.Write(b)
	d.h.Write([]byte(r.String()))
	d.u64(math.Float64bits(r.Seconds), math.Float64bits(r.BandwidthGBps), math.Float64bits(r.PJPerBit),
		math.Float64bits(r.AvgReadLatencyCycles), math.Float64bits(r.AvgReadLatencyFromIssueCycles))
}

func (d *digest) sum() string { return hex.EncodeToString(d.h.Sum(nil))[:24] }

// replayCase replays reqs as one Transfer with no window, as Replay does, and digests
// the commands, the returned times, the Stats and the Report.
func replayCase(t testing.TB, spec hw.DRAMSpec, reqs []Request) (string, Stats) {
	c := mustNew(t, spec)
	d := newDigest()
	cmds := newDigest()
	hook := func(kind uint8, t, addr uint64) { cmds.u64(uint64(kind), t, addr) }
	c.cur.onCmd, c.proj.onCmd = hook, hook
	a, e := mustTransfer(t, c, reqs, 0, 0)
	d.u64(a, e)
	s := c.Stats()
	d.stats(s)
	d.energy(c.Energy(s))
	d.report(c.report(len(reqs)))
	r, err := Replay(spec, reqs)
	if err != nil {
		t.Fatal(err)
	}
	d.report(r)
	d.h.Write([]byte(cmds.sum()))
	return d.sum(), s
}

// dmaCase submits reqs as the DMA does: in transfers of varying sizes with a window,
// each starting when the previous one's last request was accepted, with the odd gap
// (the projection is adopted), the odd start in the past, and a Reset half way.
func dmaCase(t testing.TB, spec hw.DRAMSpec, reqs []Request, window int, sizes []int, seed uint64) (string, Stats) {
	c := mustNew(t, spec)
	d := newDigest()
	r := rand.New(rand.NewPCG(seed, 5))
	var at uint64
	for k, i := 0, 0; i < len(reqs); k++ {
		n := min(sizes[k%len(sizes)], len(reqs)-i)
		chunk := slices.Clone(reqs[i : i+n])
		i += n
		a, e := mustTransfer(t, c, chunk, window, at)
		d.u64(a, e)
		d.stats(c.Stats())
		switch x := r.IntN(10); {
		case x == 0:
			at = e + uint64(r.IntN(20000)) // idle: the projection is adopted
		case x == 1:
			at = 0 // in the past: taken as the committed time
		case x == 2:
			at = e
		default:
			at = a + 1
		}
		if i >= len(reqs)/2 && i-n < len(reqs)/2 && seed%3 == 0 {
			s := c.Stats()
			d.stats(s)
			d.energy(c.Energy(s))
			c.Reset()
			at = 0
		}
	}
	// An empty transfer changes nothing.
	a, e := mustTransfer(t, c, nil, window, 12345)
	d.u64(a, e)
	s := c.Stats()
	d.stats(s)
	d.energy(c.Energy(s))
	d.report(c.report(len(reqs)))
	return d.sum(), s
}

// transferLog is the Transfer calls of a recorded simulation.
type transferLog struct {
	windows []int
	ats     []uint64
	reqs    [][]Request
}

// readTransferLog reads testdata/NAME (see the file's header).
func readTransferLog(t testing.TB, name string) *transferLog {
	f, err := os.Open(path.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tl := &transferLog{}
	sc := bufio.NewScanner(zr)
	num := func(s string, base int) uint64 {
		v, err := strconv.ParseUint(s, base, 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		switch {
		case len(fs) == 0 || strings.HasPrefix(fs[0], "#"):
		case fs[0] == "T" && len(fs) == 4:
			tl.windows = append(tl.windows, int(num(fs[2], 10)))
			tl.ats = append(tl.ats, num(fs[3], 10))
			tl.reqs = append(tl.reqs, make([]Request, 0, num(fs[1], 10)))
		case len(fs) == 4 && len(tl.reqs) > 0:
			addr, n, w, issue := num(fs[0], 16), num(fs[1], 10), fs[2] == "1", num(fs[3], 10)
			k := len(tl.reqs) - 1
			for j := range n {
				tl.reqs[k] = append(tl.reqs[k], Request{Addr: addr + j*64, Write: w, Issue: issue})
			}
		default:
			t.Fatalf("%s: bad line %q", name, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return tl
}

// run submits the log to c; window > 0 overrides the recorded windows.
func (tl *transferLog) run(t testing.TB, c *Controller, d *digest, window int) {
	for k, reqs := range tl.reqs {
		w := tl.windows[k]
		if window > 0 {
			w = window
		}
		a, e := mustTransfer(t, c, reqs, w, tl.ats[k])
		if d != nil {
			d.u64(a, e)
			d.stats(c.Stats())
		}
	}
}

func logCase(t testing.TB, spec hw.DRAMSpec, tl *transferLog, window int) (string, Stats) {
	c := mustNew(t, spec)
	d := newDigest()
	tl.run(t, c, d, window)
	s := c.Stats()
	d.energy(c.Energy(s))
	d.report(c.report(0))
	// Again after a Reset, as the simulator runs step after step on one Machine.
	c.Reset()
	tl.run(t, c, d, window)
	return d.sum(), s
}

// equivalenceCases runs the battery and returns one line per case.
func equivalenceCases(t *testing.T) []string {
	var lines []string
	add := func(name, sum string, s Stats) {
		lines = append(lines, fmt.Sprintf("%s %s reads=%d writes=%d act=%d ref=%d hits=%d end=%d",
			name, sum, s.Reads, s.Writes, s.Activates, s.Refreshes, s.RowHits, s.LastDataEnd))
	}
	specs := equivalenceSpecs(t)
	streams := equivalenceStreams()
	for si, sp := range specs {
		c := mustNew(t, sp.spec)
		bb := uint64(c.BurstBytes())
		for ki, st := range streams {
			reqs := st.make(bb)
			name := sp.name + "/" + st.name
			sum, s := replayCase(t, sp.spec, reqs)
			add(name+"/replay", sum, s)
			for wi, w := range []int{1, 4, 16} {
				sizes := [][]int{{64}, {1, 7, 300, 16, 2}, {33, 512}}[(si+ki+wi)%3]
				sum, s := dmaCase(t, sp.spec, reqs, w, sizes, uint64(si*100+ki*10+wi))
				add(fmt.Sprintf("%s/dma-w%d-%v", name, w, sizes), sum, s)
			}
		}
	}
	for _, log := range []string{"lenet5_qat_transfers.txt.gz", "lenet5_rct_transfers.txt.gz"} {
		tl := readTransferLog(t, log)
		for _, sp := range specs {
			if !strings.HasSuffix(sp.name, ".toml") && sp.name != "ddr4-smallq" && sp.name != "ddr4-closed" {
				continue
			}
			windows := []int{0}
			if sp.name == "default.toml" {
				windows = []int{0, 1, 4, 64}
			}
			for _, w := range windows {
				sum, s := logCase(t, sp.spec, tl, w)
				add(fmt.Sprintf("%s/%s/w%d", sp.name, strings.TrimSuffix(log, ".txt.gz"), w), sum, s)
			}
		}
	}
	// Odd corners: random geometries, timings, queue depths and policies, with random
	// streams and transfer splits.
	for i := range 120 {
		r := rand.New(rand.NewPCG(uint64(i), 2024))
		spec := randomSpec(r)
		c, err := New(spec)
		if err != nil {
			t.Fatalf("random spec %d: %v", i, err)
		}
		reqs := randomStream(r, 300+r.IntN(2500), uint64(c.BurstBytes()))
		name := fmt.Sprintf("random-%d", i)
		if i%4 == 0 {
			sum, s := replayCase(t, spec, reqs)
			add(name+"/replay", sum, s)
			continue
		}
		w := []int{0, 1, 2, 4, 8, 16, 64}[r.IntN(7)]
		sizes := []int{1 + r.IntN(8), 1 + r.IntN(100), 1 + r.IntN(1000)}
		sum, s := dmaCase(t, spec, reqs, w, sizes, uint64(i))
		add(fmt.Sprintf("%s/dma-w%d-%v", name, w, sizes), sum, s)
	}
	return lines
}

// randomSpec makes a valid spec with random geometry, timings (in cycles), queue
// depths, mapping, page policy and refresh (tREFI well above tRFC: a DRAM that
// spends nearly all its time refreshing may never serve a request).
func randomSpec(r *rand.Rand) hw.DRAMSpec {
	p2 := func(maxLog int) int { return 1 << r.IntN(maxLog+1) }
	cy := func(lo, hi int) hw.Timing { return hw.Timing{Cycles: int64(lo + r.IntN(hi-lo+1))} }
	s := lpddr4()
	s.Channels, s.Ranks, s.Banks = p2(2), p2(2), p2(4)
	s.BankGroups = min(p2(2), s.Banks)
	s.BusWidthBits = []int{16, 32, 64}[r.IntN(3)]
	s.BurstLength = []int{4, 8, 16}[r.IntN(3)]
	s.RowSize = hw.ByteSize(s.BusWidthBits / 8 * s.BurstLength << r.IntN(6))
	s.AddressMapping = []string{"rochrababgco", "rorabgbachco", "robabgracoch", "rocochrabgba", "rorababgcoch", "rocobabgrach"}[r.IntN(6)]
	if r.IntN(4) == 0 {
		s.PagePolicy = "closed"
	}
	s.TRCD, s.TRP, s.TCL, s.TRAS = cy(2, 30), cy(2, 30), cy(2, 30), cy(4, 70)
	s.TWR, s.TCWL, s.TRTP = hw.Timing{}, hw.Timing{}, hw.Timing{}
	if r.IntN(2) == 0 {
		s.TWR, s.TCWL, s.TRTP = cy(1, 30), cy(1, 20), cy(1, 12)
	}
	s.TCCDS, s.TCCDL = hw.Timing{}, hw.Timing{}
	if r.IntN(2) == 0 {
		s.TCCDS, s.TCCDL = cy(1, 8), cy(1, 12)
	}
	s.TRRDS, s.TRRDL, s.TFAW = cy(0, 16), cy(0, 20), cy(0, 80)
	s.TWTRS, s.TWTRL, s.TRTRS = cy(0, 16), cy(0, 20), cy(0, 3)
	if r.IntN(3) > 0 {
		rfc := 20 + r.IntN(500)
		s.TRFC, s.TREFI = hw.Timing{Cycles: int64(rfc)}, hw.Timing{Cycles: int64(3*rfc + 300 + r.IntN(8000))}
	}
	if r.IntN(2) == 0 {
		s.TransactionQueueDepth, s.WriteBufferDepth, s.BankQueueDepth = 1+r.IntN(64), 1+r.IntN(64), 1+r.IntN(16)
		if r.IntN(2) == 0 {
			s.WriteHighWatermark = 1 + r.IntN(s.WriteBufferDepth)
			s.WriteLowWatermark = r.IntN(s.WriteHighWatermark)
		}
	}
	return s
}

// randomStream makes n requests of one of several patterns, with random writes and
// issue cycles (bursts of simultaneous requests, steady trickles and long idle gaps).
func randomStream(r *rand.Rand, n int, bb uint64) []Request {
	reqs := make([]Request, n)
	kind, writes, hot := r.IntN(6), r.IntN(4), 1+r.IntN(200)
	var issue uint64
	for i := range reqs {
		var a uint64
		switch kind {
		case 0:
			a = uint64(i) * bb
		case 1:
			a = r.Uint64() % (1 << (16 + r.IntN(14)))
		case 2:
			a = uint64(r.IntN(hot)) * bb
		case 3:
			a = uint64(i%64)*4096 + uint64(i/64)*bb
		case 4:
			a = uint64(i)*bb + uint64(r.IntN(3))<<22
		case 5:
			a = uint64(i%2)<<26 + uint64(r.IntN(16))*bb
		}
		switch r.IntN(5) {
		case 0:
			issue += uint64(r.IntN(10))
		case 1:
			if r.IntN(50) == 0 {
				issue += uint64(r.IntN(20000))
			}
		}
		reqs[i] = Request{Addr: a, Write: r.IntN(4) < writes, Issue: issue}
	}
	return reqs
}

// TestEquivalence compares the battery's digests with the golden ones.
func TestEquivalence(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	got := equivalenceCases(t)
	if *update {
		data := "# name digest summary: see equivalence_test.go. Regenerate only for a deliberate model change.\n" +
			strings.Join(got, "\n") + "\n"
		if err := os.WriteFile(equivalenceGolden, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(equivalenceGolden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if !strings.HasPrefix(l, "#") {
			want = append(want, l)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d cases, golden file has %d", len(got), len(want))
	}
	bad := 0
	for i := range got {
		if got[i] != want[i] {
			bad++
			if bad <= 20 {
				t.Errorf("case differs:\n got  %s\n want %s", got[i], want[i])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d cases differ", bad, len(got))
	}
}
