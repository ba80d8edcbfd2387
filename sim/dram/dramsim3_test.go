package dram

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/hw"
)

// The DRAMsim3 comparison: the request patterns below were replayed through DRAMsim3
// (umd-memsys/DRAMsim3, its stock trace CPU and three stock configurations) by
// testdata/dramsim3_reference.sh, which stored the figures in
// testdata/dramsim3_reference.csv. TestDRAMsim3Reference replays the same patterns
// through this model on profiles that mirror those configurations value for value
// (testdata/dramsim3/*.toml) and checks that it stays within the tolerances.
//
// To regenerate the traces for DRAMsim3:
//
//	go test ./sim/dram -run DRAMsim3Reference -dramsim3-traces DIR

var dramsim3Traces = flag.String("dramsim3-traces", "", "write the DRAMsim3 comparison's request traces under `dir` and stop")

// dramsim3Configs pairs DRAMsim3's stock configuration files with their mirrors.
var dramsim3Configs = []struct{ ini, profile string }{
	{"DDR4_8Gb_x16_3200.ini", "testdata/dramsim3/ddr4_8gb_x16_3200.toml"},
	{"LPDDR4_8Gb_x16_2400.ini", "testdata/dramsim3/lpddr4_8gb_x16_2400.toml"},
	{"LPDDR3_8Gb_x32_1600.ini", "testdata/dramsim3/lpddr3_8gb_x32_1600.toml"},
}

// dramsim3Requests is the length of every pattern.
const dramsim3Requests = 2000

// dramsim3Pattern makes a pattern's addresses and kinds (not its issue cycles) for the
// DRAM of controller c.
type dramsim3Pattern struct {
	name string
	make func(c *Controller, r *rand.Rand, i int) (addr uint64, write bool)
}

func dramsim3Patterns() []dramsim3Pattern {
	bank0 := func(c *Controller, row uint64, col int) uint64 {
		return encode(c, Location{Row: row, Column: col})
	}
	cols := func(c *Controller) int { return int(c.cfg.spec.RowSize) / c.BurstBytes() }
	return []dramsim3Pattern{
		{"seq-read", func(c *Controller, _ *rand.Rand, i int) (uint64, bool) {
			return uint64(i) * uint64(c.BurstBytes()), false
		}},
		{"seq-write", func(c *Controller, _ *rand.Rand, i int) (uint64, bool) {
			return uint64(i) * uint64(c.BurstBytes()), true
		}},
		// 64-byte requests: on a DRAM with 128-byte bursts two of them share a burst.
		{"seq-write-64B", func(c *Controller, _ *rand.Rand, i int) (uint64, bool) {
			return uint64(i) * 64, true
		}},
		// 64 streams one row apart, interleaved: rows of every bank in turn.
		{"stride", func(c *Controller, _ *rand.Rand, i int) (uint64, bool) {
			return uint64(i%64)*uint64(c.cfg.spec.RowSize) + uint64(i/64)*uint64(c.BurstBytes()), false
		}},
		// One bank, four rows, random columns: conflicts and the odd hit.
		{"same-bank", func(c *Controller, r *rand.Rand, _ int) (uint64, bool) {
			return bank0(c, uint64(r.IntN(4)), r.IntN(cols(c))), false
		}},
		// The same with a third writes, to odd columns and the reads to even ones: a read
		// queued before a write to its address can livelock DRAMsim3 (its write drain
		// stops at such a write and restarts every cycle while the buffer is full).
		{"same-bank-mix", func(c *Controller, r *rand.Rand, _ int) (uint64, bool) {
			w := r.IntN(3) == 0
			col := r.IntN(cols(c)/2) * 2
			if w {
				col++
			}
			return bank0(c, uint64(r.IntN(4)), col), w
		}},
		{"random", func(c *Controller, r *rand.Rand, _ int) (uint64, bool) {
			return r.Uint64N(1<<30) &^ uint64(c.BurstBytes()-1), false
		}},
		// Reads and writes over a few rows of every bank: hits, conflicts, drains.
		{"mixed", func(c *Controller, r *rand.Rand, _ int) (uint64, bool) {
			return r.Uint64N(4<<20) &^ uint64(c.BurstBytes()-1), r.IntN(3) == 0
		}},
	}
}

// dramsim3Rates are the issue rates: a request per burst time (the bus peak) and one
// per two.
var dramsim3Rates = []struct {
	name  string
	every uint64 // bursts between requests
}{{"full", 1}, {"half", 2}}

// dramsim3Trace makes pattern p at rate every for controller c.
func dramsim3Trace(c *Controller, p dramsim3Pattern, seed uint64, every uint64) []Request {
	r := rand.New(rand.NewPCG(seed, 3))
	reqs := make([]Request, dramsim3Requests)
	for i := range reqs {
		addr, w := p.make(c, r, i)
		reqs[i] = Request{Addr: addr, Write: w, Issue: uint64(i) * every * c.cfg.burst}
	}
	return reqs
}

// writeDRAMsim3Trace writes reqs as DRAMsim3's trace CPU reads them, followed by a
// sentinel that it never issues. The trace CPU drops the last line of a file that does
// not end in a newline unless that request is accepted the cycle it is read, and reads a
// request more after a final newline (a read of address 0: the failed extraction
// stores 0); the sentinel, without a newline and due at the last cycle there is, takes
// the lost place.
func writeDRAMsim3Trace(path string, reqs []Request) error {
	var b strings.Builder
	for _, r := range reqs {
		op := "READ"
		if r.Write {
			op = "WRITE"
		}
		fmt.Fprintf(&b, "%#x %s %d\n", r.Addr, op, r.Issue)
	}
	fmt.Fprintf(&b, "0x0 READ %d", uint64(math.MaxUint64))
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// dramsim3Exceptions are the comparisons that miss a tolerance after the rule
// decisions (see the package documentation), each with the figure (0 cycles, 1 read
// latency, 2 activates, 3 row hits), the bound it is held to instead, and why.
var dramsim3Exceptions = map[string]struct {
	figure int
	limit  float64
	why    string
}{
	"DDR4_8Gb_x16_3200/mixed/half": {3, 0.10, "row hits are incidental in this random pattern (142 of 2000 " +
		"requests in DRAMsim3): a few requests served in another order move them by several percent. The order " +
		"differs where the rules do: the model admits writes whenever the controller is idle, DRAMsim3 only " +
		"once more than 8 are buffered (and never serves fewer)"},
}

// dramsim3Row is one row of the reference CSV.
type dramsim3Row struct {
	cycles, activates, rowHits float64
	readLatency                float64 // NaN when the pattern has no reads
}

func readDRAMsim3Reference(t *testing.T) (map[string]dramsim3Row, string) {
	f, err := os.Open("testdata/dramsim3_reference.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string]dramsim3Row{}
	var commit string
	sc := bufio.NewScanner(f)
	header := true
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.HasPrefix(text, "#") {
			if c, ok := strings.CutPrefix(text, "# dramsim3_commit "); ok {
				commit = strings.TrimSpace(c)
			}
			continue
		}
		if header {
			header = false
			continue
		}
		fs := strings.Split(text, ",")
		if len(fs) != 10 {
			t.Fatalf("dramsim3_reference.csv:%d: %d fields, want 10", line, len(fs))
		}
		num := func(s string) float64 {
			if s == "" {
				return math.NaN()
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("dramsim3_reference.csv:%d: %v", line, err)
			}
			return v
		}
		rows[fs[0]+"/"+fs[1]+"/"+fs[2]] = dramsim3Row{cycles: num(fs[3]), readLatency: num(fs[4]), activates: num(fs[5]), rowHits: num(fs[6])}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows, commit
}

// TestDRAMsim3Reference compares the model with DRAMsim3's figures: cycles to the end of
// the last data burst and average read latency within 10%, activates and row hits
// within 5%.
func TestDRAMsim3Reference(t *testing.T) {
	var ref map[string]dramsim3Row
	if *dramsim3Traces == "" {
		var commit string
		ref, commit = readDRAMsim3Reference(t)
		if len(commit) != 40 {
			t.Errorf("reference CSV names no DRAMsim3 commit (got %q)", commit)
		}
	}
	for ci, cf := range dramsim3Configs {
		dp, err := hw.LoadDRAM(os.DirFS("."), cf.profile)
		if err != nil {
			t.Fatal(err)
		}
		c := mustNew(t, dp.DRAM)
		for pi, p := range dramsim3Patterns() {
			for _, rate := range dramsim3Rates {
				reqs := dramsim3Trace(c, p, uint64(100*ci+pi), rate.every)
				key := strings.TrimSuffix(cf.ini, ".ini") + "/" + p.name + "/" + rate.name
				if *dramsim3Traces != "" {
					dir := filepath.Join(*dramsim3Traces, strings.TrimSuffix(cf.ini, ".ini"))
					if err := os.MkdirAll(dir, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := writeDRAMsim3Trace(filepath.Join(dir, p.name+"-"+rate.name+".trace"), reqs); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, ok := ref[key]
				if !ok {
					t.Errorf("%s: not in the reference CSV", key)
					continue
				}
				rep, err := Replay(dp.DRAM, reqs)
				if err != nil {
					t.Fatal(err)
				}
				got := dramsim3Row{cycles: float64(rep.Cycles), activates: float64(rep.Activates), rowHits: float64(rep.RowHits), readLatency: math.NaN()}
				if rep.Reads > 0 {
					got.readLatency = rep.AvgReadLatencyCycles
				}
				dev := func(g, w float64) float64 {
					if math.IsNaN(w) && math.IsNaN(g) {
						return 0
					}
					return (g - w) / max(w, 1)
				}
				devs := []float64{dev(got.cycles, want.cycles), dev(got.readLatency, want.readLatency), dev(got.activates, want.activates), dev(got.rowHits, want.rowHits)}
				limits := []float64{0.10, 0.10, 0.05, 0.05}
				ex, excepted := dramsim3Exceptions[key]
				if excepted {
					limits[ex.figure] = ex.limit
				}
				bad := false
				for k := range devs {
					bad = bad || !(math.Abs(devs[k]) <= limits[k])
				}
				line := fmt.Sprintf("%-40s cycles %7.0f/%7.0f %+6.1f%%  lat %6.1f/%6.1f %+6.1f%%  act %5.0f/%5.0f %+6.1f%%  hits %5.0f/%5.0f %+6.1f%%",
					key, got.cycles, want.cycles, 100*devs[0], got.readLatency, want.readLatency, 100*devs[1],
					got.activates, want.activates, 100*devs[2], got.rowHits, want.rowHits, 100*devs[3])
				switch {
				case bad:
					t.Error(line)
				case excepted:
					t.Logf("%s\n\texception, within %.0f%%: %s", line, 100*ex.limit, ex.why)
				case testing.Verbose():
					t.Log(line)
				}
			}
		}
	}
}
