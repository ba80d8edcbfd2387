package train

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// mustPolicy builds a policy or fails the test.
func mustPolicy(t testing.TB, cfg PolicyConfig) Policy {
	t.Helper()
	p, err := NewPolicy(cfg)
	if err != nil {
		t.Fatalf("NewPolicy(%v): %v", cfg, err)
	}
	return p
}

// policyTrace drives a policy through `steps` steps the way the trainer does and
// returns the widths of every step (trace[s][layer]) and all decisions. gavg gives a
// layer's statistic at a step from its current width; it is consulted only when the
// policy asks for statistics, and otherwise the trainer passes nil.
func policyTrace(t testing.TB, p Policy, layers, steps int, gavg func(step, layer, bits int) float64) ([][]int, []Decision) {
	t.Helper()
	bits := p.Start(layers)
	trace := [][]int{bits}
	var all []Decision
	for s := 0; s < steps-1; s++ {
		var stats []LayerStats
		if p.NeedsStats(s) {
			stats = make([]LayerStats, layers)
			for l := range stats {
				stats[l].Gavg = gavg(s, l, bits[l])
			}
		}
		before := slices.Clone(bits)
		next, ds := p.Next(s, bits, stats)
		if !slices.Equal(bits, before) {
			t.Fatalf("step %d: Next modified its input bits: %v -> %v", s, before, bits)
		}
		for _, d := range ds {
			if d.Step != s || d.From != bits[d.Layer] || d.To != next[d.Layer] {
				t.Fatalf("step %d: decision %+v disagrees with bits %v -> %v", s, d, bits, next)
			}
		}
		all = append(all, ds...)
		bits = next
		trace = append(trace, bits)
	}
	return trace, all
}

// policyColumn extracts one layer's widths over the steps of a trace.
func policyColumn(trace [][]int, layer int) []int {
	out := make([]int, len(trace))
	for s, b := range trace {
		out[s] = b[layer]
	}
	return out
}

func testRCTConfig() PolicyConfig {
	c := DefaultPolicyConfig(PolicyRCT)
	c.Interval, c.TMin, c.TMax, c.MinBits, c.MaxBits, c.StartBits = 10, 0.05, 1, 4, 16, 8
	return c
}

func TestRctPolicyRule(t *testing.T) {
	tests := []struct {
		name   string
		from   int
		gavg   float64
		to     int
		reason string
	}{
		{"underflow adds a bit", 8, 0.003, 9, "underflow: gavg 0.003 < t_min 0.05"},
		{"large updates drop a bit", 8, 2.5, 7, "large updates: gavg 2.5 > t_max 1"},
		{"in band keeps", 8, 0.3, 8, "keep"},
		{"t_min itself keeps", 8, 0.05, 8, "keep"},
		{"t_max itself keeps", 8, 1, 8, "keep"},
		{"zero gavg is underflow", 8, 0, 9, "underflow: gavg 0 < t_min 0.05"},
		{"underflow at max_bits stays", 16, 0.001, 16, "underflow: gavg 0.001 < t_min 0.05; at max_bits 16"},
		{"large updates at min_bits stays", 4, 7, 4, "large updates: gavg 7 > t_max 1; at min_bits 4"},
		{"above range is clamped", 20, 0.3, 16, "keep; at max_bits 16"},
		{"below range is clamped", 2, 0.3, 4, "keep; at min_bits 4"},
		{"NaN keeps and says so", 8, math.NaN(), 8, "keep: gavg is NaN"},
		{"+Inf drops", 8, math.Inf(1), 7, "large updates: gavg +Inf > t_max 1"},
	}
	p := mustPolicy(t, testRCTConfig())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const step = 29 // a controller step for interval 10
			bits := []int{8, tc.from}
			next, ds := p.Next(step, bits, []LayerStats{{Gavg: 0.3}, {Gavg: tc.gavg}})
			if next[1] != tc.to {
				t.Errorf("bits %d -> %d, want %d", tc.from, next[1], tc.to)
			}
			if len(ds) != 2 {
				t.Fatalf("%d decisions, want one per layer (2): %+v", len(ds), ds)
			}
			d := ds[1]
			if d.Reason != tc.reason || d.Step != step || d.Layer != 1 || d.From != tc.from || d.To != tc.to {
				t.Errorf("decision %+v, want step %d layer 1 %d->%d reason %q", d, step, tc.from, tc.to, tc.reason)
			}
			if !(d.Gavg == tc.gavg || math.IsNaN(d.Gavg) && math.IsNaN(tc.gavg)) {
				t.Errorf("decision gavg %v, want %v", d.Gavg, tc.gavg)
			}
			if ds[0].Reason != "keep" || ds[0].From != 8 || ds[0].To != 8 {
				t.Errorf("in-band layer: decision %+v, want keep 8->8", ds[0])
			}
		})
	}
}

func TestRctNeedsStats(t *testing.T) {
	tests := []struct {
		interval int
		want     []int // the steps in 0..120 where the controller runs
	}{
		{50, []int{49, 99}},
		{10, []int{9, 19, 29, 39, 49, 59, 69, 79, 89, 99, 109, 119}},
		{120, []int{119}},
		{200, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.interval), func(t *testing.T) {
			c := testRCTConfig()
			c.Interval = tc.interval
			p := mustPolicy(t, c)
			var got []int
			for s := -1; s <= 120; s++ {
				if p.NeedsStats(s) {
					got = append(got, s)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("controller steps %v, want %v", got, tc.want)
			}
		})
	}
	c := testRCTConfig()
	c.Interval = 1
	p := mustPolicy(t, c)
	for s := range 5 {
		if !p.NeedsStats(s) {
			t.Errorf("interval 1: NeedsStats(%d) = false", s)
		}
	}
}

func TestRctActsOnlyOnIntervalSteps(t *testing.T) {
	p := mustPolicy(t, testRCTConfig())
	// Statistics that would add a bit are offered at every step; only the steps after
	// which the controller runs may act on them.
	bits := []int{8, 8}
	under := []LayerStats{{Gavg: 0.001}, {Gavg: 0.001}}
	for s := range 40 {
		next, ds := p.Next(s, bits, under)
		if p.NeedsStats(s) {
			if len(ds) != 2 || !slices.Equal(next, []int{bits[0] + 1, bits[1] + 1}) {
				t.Fatalf("controller step %d: bits %v -> %v, decisions %+v", s, bits, next, ds)
			}
		} else if len(ds) != 0 || !slices.Equal(next, bits) {
			t.Fatalf("step %d is not a controller step but bits %v -> %v, decisions %+v", s, bits, next, ds)
		}
		bits = next
	}
	if !slices.Equal(bits, []int{12, 12}) {
		t.Errorf("after 40 steps at interval 10: %v, want 4 bits added", bits)
	}
}

func TestRctWidthsChangeAtIntervalMultiples(t *testing.T) {
	c := testRCTConfig()
	p := mustPolicy(t, c)
	trace, ds := policyTrace(t, p, 3, 200, func(_, layer, bits int) float64 {
		return []float64{0.001, 0.3, 50}[layer] // layer 0 underflows, 1 in band, 2 too coarse
	})
	if len(ds) != 3*(200/c.Interval-1) {
		t.Errorf("%d decisions, want 3 per controller step (%d)", len(ds), 3*(200/c.Interval-1))
	}
	for s := 1; s < len(trace); s++ {
		if !slices.Equal(trace[s], trace[s-1]) && s%c.Interval != 0 {
			t.Errorf("widths changed at step %d (%v -> %v), not a multiple of interval %d", s, trace[s-1], trace[s], c.Interval)
		}
	}
	last := trace[len(trace)-1]
	if !slices.Equal(last, []int{16, 8, 4}) {
		t.Errorf("final widths %v, want [16 8 4] (saturated at max, kept, saturated at min)", last)
	}
	if got := trace[10]; !slices.Equal(got, []int{9, 8, 7}) {
		t.Errorf("widths at step 10 %v, want [9 8 7]", got)
	}
}

// With Gavg doubling per added bit, as it does when Δ halves, the default thresholds
// settle each layer into the band and then hold it: no oscillation.
func TestRctSettlesWithoutOscillation(t *testing.T) {
	p := mustPolicy(t, DefaultPolicyConfig(PolicyRCT))
	// Gavg at 8 bits for each layer: widely different layers.
	at8 := []float64{1e-4, 0.004, 0.2, 3, 90}
	trace, _ := policyTrace(t, p, len(at8), 2000, func(_, layer, bits int) float64 {
		return at8[layer] * math.Exp2(float64(bits-8))
	})
	end := trace[len(trace)-1]
	for l := range at8 {
		col := policyColumn(trace, l)
		g := at8[l] * math.Exp2(float64(end[l]-8))
		inBand := g >= DefaultRCTTMin && g <= DefaultRCTTMax
		atBound := end[l] == DefaultRCTMaxBits && g < DefaultRCTTMin || end[l] == DefaultRCTMinBits && g > DefaultRCTTMax
		if !inBand && !atBound {
			t.Errorf("layer %d ends at %d bits with gavg %g: neither in band nor at a bound", l, end[l], g)
		}
		// Monotone: a layer that starts below the band only grows, above only shrinks.
		up, down := false, false
		for s := 1; s < len(col); s++ {
			up = up || col[s] > col[s-1]
			down = down || col[s] < col[s-1]
		}
		if up && down {
			t.Errorf("layer %d oscillates: %v", l, slices.Compact(col))
		}
	}
	// 0.004 * 2^3 = 0.032 is the first width in the band above t_min = 0.02.
	if want := []int{16, 11, 8, 6, 4}; !slices.Equal(end, want) {
		t.Errorf("settled widths %v, want %v", end, want)
	}
}

func TestFixedPolicyNeverChanges(t *testing.T) {
	for _, bits := range []int{2, 8, 16, 32} {
		c := DefaultPolicyConfig(PolicyFixed)
		c.Bits = bits
		p := mustPolicy(t, c)
		trace, ds := policyTrace(t, p, 4, 300, func(int, int, int) float64 { return 0 })
		for s, b := range trace {
			if !slices.Equal(b, []int{bits, bits, bits, bits}) {
				t.Fatalf("fixed %d: step %d widths %v", bits, s, b)
			}
			if p.NeedsStats(s) {
				t.Fatalf("fixed policy asks for statistics at step %d", s)
			}
		}
		if len(ds) != 0 {
			t.Errorf("fixed %d: decisions %+v, want none", bits, ds)
		}
	}
}

func TestCyclicPolicy(t *testing.T) {
	tests := []struct {
		lo, hi, period int
		firstCycle     []int // nil: not checked
	}{
		// b(k) = rint(4 + 2*(1-cos(πk/8))): 4, 4.15, 4.59, 5.23, 6, 6.77, 7.41, 7.85
		{4, 8, 8, []int{4, 4, 5, 5, 6, 7, 7, 8}},
		// k=2 lands on the tie 2.5, which rint rounds to even, as in the CPT code.
		{2, 3, 4, []int{2, 2, 2, 3}},
		{6, 6, 5, []int{6, 6, 6, 6, 6}},
		// Reference values of the CPT code's expression evaluated in Python.
		{3, 8, 10, []int{3, 3, 3, 4, 5, 6, 6, 7, 8, 8}},
		{4, 7, 6, []int{4, 4, 5, 6, 6, 7}},
		{DefaultCyclicMinBits, DefaultCyclicMaxBits, DefaultCyclicPeriod, nil},
		{4, 16, 100, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d..%d_period%d", tc.lo, tc.hi, tc.period), func(t *testing.T) {
			c := PolicyConfig{Kind: PolicyCyclic, MinBits: tc.lo, MaxBits: tc.hi, Period: tc.period}
			p := mustPolicy(t, c)
			steps := 3*tc.period + 1
			trace, ds := policyTrace(t, p, 2, steps, func(int, int, int) float64 { return 0 })
			col := policyColumn(trace, 0)
			if !slices.Equal(col, policyColumn(trace, 1)) {
				t.Fatalf("layers differ: %v vs %v", col, policyColumn(trace, 1))
			}
			if tc.firstCycle != nil && !slices.Equal(col[:tc.period], tc.firstCycle) {
				t.Errorf("first cycle %v, want %v", col[:tc.period], tc.firstCycle)
			}
			if slices.Min(col) != tc.lo || slices.Max(col) != tc.hi {
				t.Errorf("range %d..%d, want %d..%d", slices.Min(col), slices.Max(col), tc.lo, tc.hi)
			}
			for s := range col {
				if s+tc.period < len(col) && col[s] != col[s+tc.period] {
					t.Fatalf("not periodic: b(%d)=%d, b(%d)=%d", s, col[s], s+tc.period, col[s+tc.period])
				}
				if s%tc.period != 0 && col[s] < col[s-1] {
					t.Fatalf("width falls inside a cycle at step %d: %d -> %d", s, col[s-1], col[s])
				}
				if s%tc.period == 0 && col[s] != tc.lo {
					t.Fatalf("cycle starting at step %d starts at %d bits, want min %d", s, col[s], tc.lo)
				}
				if p.NeedsStats(s) {
					t.Fatalf("cyclic policy asks for statistics at step %d", s)
				}
			}
			changes := 0
			for s := 1; s < len(col); s++ {
				if col[s] != col[s-1] {
					changes++
				}
			}
			if len(ds) != 2*changes {
				t.Errorf("%d decisions for %d width changes of 2 layers", len(ds), changes)
			}
			for _, d := range ds {
				if d.Reason != "schedule" {
					t.Errorf("decision %+v: reason %q, want schedule", d, d.Reason)
				}
			}
		})
	}
}

// The whole first cycle of longer periods, against sums of (t+1)*b(t) computed with the
// CPT code's expression in Python, so a change of formula or rounding shows.
func TestCyclicMatchesCPTReference(t *testing.T) {
	tests := []struct{ lo, hi, period, sum int }{
		{4, 8, 1000, 3422888},
		{4, 16, 100, 62520},
	}
	for _, tc := range tests {
		sum := 0
		for s := range tc.period {
			sum += (s + 1) * cptBits(tc.lo, tc.hi, tc.period, s)
		}
		if sum != tc.sum {
			t.Errorf("%d..%d period %d: weighted sum %d, want %d", tc.lo, tc.hi, tc.period, sum, tc.sum)
		}
	}
}

func TestProgressivePolicy(t *testing.T) {
	tests := []struct {
		lo, hi, total int
		want          []int // nil: not checked
	}{
		{4, 8, 10, []int{4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 8, 8}},
		{4, 8, 5, []int{4, 5, 6, 7, 8, 8}},
		{4, 6, 7, []int{4, 4, 4, 5, 5, 6, 6, 6}}, // 7 steps in 3 stages: 2 or 3 each
		{8, 8, 3, []int{8, 8, 8, 8}},
		{DefaultProgMinBits, DefaultProgMaxBits, DefaultProgSteps, nil},
		{2, 32, 1000, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d..%d_over%d", tc.lo, tc.hi, tc.total), func(t *testing.T) {
			p := mustPolicy(t, PolicyConfig{Kind: PolicyProgressive, MinBits: tc.lo, MaxBits: tc.hi, TotalSteps: tc.total})
			steps := tc.total + 2
			if tc.want != nil {
				steps = len(tc.want)
			}
			trace, ds := policyTrace(t, p, 3, steps, func(int, int, int) float64 { return 0 })
			col := policyColumn(trace, 0)
			if tc.want != nil && !slices.Equal(col, tc.want) {
				t.Errorf("widths %v, want %v", col, tc.want)
			}
			if col[0] != tc.lo || col[len(col)-1] != tc.hi {
				t.Errorf("starts at %d, ends at %d; want %d..%d", col[0], col[len(col)-1], tc.lo, tc.hi)
			}
			if !slices.IsSorted(col) {
				t.Errorf("widths decrease: %v", slices.Compact(col))
			}
			if got := slices.Compact(slices.Clone(col)); len(got) != tc.hi-tc.lo+1 {
				t.Errorf("widths used %v, want every width in %d..%d", got, tc.lo, tc.hi)
			}
			// Equal stages: every width but the last is held for total/stages steps,
			// give or take the one step the integer division moves.
			stages := tc.hi - tc.lo + 1
			for b := tc.lo; b < tc.hi; b++ {
				n := 0
				for _, v := range col {
					if v == b {
						n++
					}
				}
				if n < tc.total/stages || n > tc.total/stages+1 {
					t.Errorf("width %d held %d steps, want %d or %d", b, n, tc.total/stages, tc.total/stages+1)
				}
			}
			if len(ds) != 3*(tc.hi-tc.lo) {
				t.Errorf("%d decisions, want one per layer per width change (%d)", len(ds), 3*(tc.hi-tc.lo))
			}
		})
	}
}

func TestNewPolicyValidation(t *testing.T) {
	rct := DefaultPolicyConfig(PolicyRCT)
	cyc := DefaultPolicyConfig(PolicyCyclic)
	prog := DefaultPolicyConfig(PolicyProgressive)
	tests := []struct {
		name string
		cfg  PolicyConfig
		want []string // substrings of the error, one per problem
	}{
		{"unknown kind", PolicyConfig{Kind: "rtc"}, []string{`unknown policy kind "rtc" (want rct, fixed, cyclic, progressive)`}},
		{"empty kind", PolicyConfig{}, []string{`unknown policy kind ""`}},
		{"t_min above t_max", policyWith(rct, func(c *PolicyConfig) { c.TMin, c.TMax = 0.5, 0.1 }),
			[]string{"policy rct: t_min 0.5 must be below t_max 0.1"}},
		{"t_min equals t_max", policyWith(rct, func(c *PolicyConfig) { c.TMin, c.TMax = 0.5, 0.5 }),
			[]string{"policy rct: t_min 0.5 must be below t_max 0.5"}},
		{"negative t_min", policyWith(rct, func(c *PolicyConfig) { c.TMin = -1 }), []string{"policy rct: t_min -1 must be a finite number >= 0"}},
		{"NaN t_min", policyWith(rct, func(c *PolicyConfig) { c.TMin = math.NaN() }), []string{"policy rct: t_min NaN must be a finite"}},
		{"NaN t_max", policyWith(rct, func(c *PolicyConfig) { c.TMax = math.NaN() }), []string{"policy rct: t_max NaN must be a number"}},
		{"zero interval", policyWith(rct, func(c *PolicyConfig) { c.Interval = 0 }), []string{"policy rct: interval 0 must be at least 1"}},
		{"min above max", policyWith(rct, func(c *PolicyConfig) { c.MinBits, c.MaxBits = 12, 10 }),
			[]string{"policy rct: min_bits 12 must not exceed max_bits 10"}},
		{"start outside range", policyWith(rct, func(c *PolicyConfig) { c.StartBits = 20 }),
			[]string{"policy rct: start_bits 20 must be in min_bits..max_bits (4..16)"}},
		{"max_bits too wide", policyWith(rct, func(c *PolicyConfig) { c.MaxBits = 33 }), []string{"policy rct: max_bits 33 must be in 2..32"}},
		{"min_bits 1", policyWith(rct, func(c *PolicyConfig) { c.MinBits = 1 }), []string{"policy rct: min_bits 1 must be in 2..32"}},
		{"several problems at once", policyWith(rct, func(c *PolicyConfig) { c.Interval, c.TMin = -5, -1 }),
			[]string{"interval -5", "t_min -1"}},
		{"fixed bits 0", PolicyConfig{Kind: PolicyFixed}, []string{"policy fixed: bits 0 must be in 2..32"}},
		{"fixed bits 64", PolicyConfig{Kind: PolicyFixed, Bits: 64}, []string{"policy fixed: bits 64 must be in 2..32"}},
		{"cyclic period 1", policyWith(cyc, func(c *PolicyConfig) { c.Period = 1 }), []string{"policy cyclic: period 1 must be at least 2 steps"}},
		{"cyclic period too short", policyWith(cyc, func(c *PolicyConfig) { c.MinBits, c.MaxBits, c.Period = 2, 32, 4 }),
			[]string{"policy cyclic: period 4 is too short: the cycle peaks at 28 bits and never reaches max_bits 32"}},
		{"cyclic inverted range", policyWith(cyc, func(c *PolicyConfig) { c.MinBits, c.MaxBits = 8, 4 }),
			[]string{"policy cyclic: min_bits 8 must not exceed max_bits 4"}},
		{"progressive no steps", policyWith(prog, func(c *PolicyConfig) { c.TotalSteps = 0 }),
			[]string{"policy progressive: total_steps 0 must be at least 1"}},
		{"progressive fewer steps than stages", policyWith(prog, func(c *PolicyConfig) { c.TotalSteps = 4 }),
			[]string{"policy progressive: total_steps 4 must be at least the number of stages, 5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPolicy(tc.cfg)
			if err == nil {
				t.Fatalf("NewPolicy(%v) = %v, want an error", tc.cfg, p.Name())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if got := strings.Count(err.Error(), "\n") + 1; got != len(tc.want) {
				t.Errorf("error has %d lines, want %d: %q", got, len(tc.want), err)
			}
		})
	}
}

// policyWith returns a copy of c changed by f.
func policyWith(c PolicyConfig, f func(*PolicyConfig)) PolicyConfig {
	f(&c)
	return c
}

func TestDefaultPolicyConfigs(t *testing.T) {
	want := map[string]string{
		PolicyRCT:         "rct(interval=50,t_min=0.02,t_max=1,bits=4..16,start=8)",
		PolicyFixed:       "fixed(bits=8)",
		PolicyCyclic:      "cyclic(bits=4..8,period=1000)",
		PolicyProgressive: "progressive(bits=4..8,total_steps=5000)",
	}
	for _, kind := range PolicyKinds {
		c := DefaultPolicyConfig(kind)
		if c.String() != want[kind] {
			t.Errorf("DefaultPolicyConfig(%q) = %s, want %s", kind, c, want[kind])
		}
		p := mustPolicy(t, c)
		if p.Name() != kind {
			t.Errorf("Name() = %q, want %q", p.Name(), kind)
		}
		if got := p.Start(3); len(got) != 3 {
			t.Errorf("%s: Start(3) = %v", kind, got)
		}
		if got := p.Start(0); len(got) != 0 {
			t.Errorf("%s: Start(0) = %v", kind, got)
		}
	}
	if got := mustPolicy(t, DefaultPolicyConfig(PolicyRCT)).Start(2); !slices.Equal(got, []int{8, 8}) {
		t.Errorf("rct starts at %v, want 8 bits", got)
	}
	if c := DefaultPolicyConfig("nope"); c.Kind != "nope" || c.String() != `"nope"` {
		t.Errorf("DefaultPolicyConfig(unknown) = %+v", c)
	}
	inf := DefaultPolicyConfig(PolicyRCT)
	inf.TMax = math.Inf(1)
	if _, err := NewPolicy(inf); err != nil {
		t.Errorf("t_max +Inf (never drop) rejected: %v", err)
	}
}

func TestPolicyNextPanicsOnProgrammerErrors(t *testing.T) {
	rct := mustPolicy(t, testRCTConfig())
	cyc := mustPolicy(t, DefaultPolicyConfig(PolicyCyclic))
	tests := []struct {
		name string
		f    func()
	}{
		{"rct stats of the wrong length", func() { rct.Next(3, []int{8, 8}, []LayerStats{{}}) }},
		{"rct no stats at a controller step", func() { rct.Next(9, []int{8, 8}, nil) }},
		{"schedule stats of the wrong length", func() { cyc.Next(3, []int{8, 8}, []LayerStats{{}}) }},
		{"negative layer count", func() { rct.Start(-1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.f()
		})
	}
}

// Policies hold no state between calls: the same inputs give the same outputs, in any
// order, so one policy can serve several runs.
func TestPolicyDeterministic(t *testing.T) {
	for _, kind := range PolicyKinds {
		p := mustPolicy(t, DefaultPolicyConfig(kind))
		g := func(s, l, b int) float64 { return float64((s*7+l*3)%11) / 10 * math.Exp2(float64(b-8)) }
		a, da := policyTrace(t, p, 4, 500, g)
		b, db := policyTrace(t, p, 4, 500, g)
		if !slices.EqualFunc(a, b, slices.Equal) || !slices.Equal(da, db) {
			t.Errorf("%s: two runs differ", kind)
		}
	}
}

func ExampleNewPolicy() {
	cfg := DefaultPolicyConfig("rct")
	cfg.Interval = 2
	p, err := NewPolicy(cfg)
	if err != nil {
		panic(err)
	}
	bits := p.Start(2) // widths of step 0
	for step := range 4 {
		var stats []LayerStats
		if p.NeedsStats(step) { // after steps 1 and 3
			// The trainer measures mean(|lr*g|)/Δ per layer here.
			stats = []LayerStats{{Gavg: 0.01}, {Gavg: 0.4}}
		}
		var ds []Decision
		bits, ds = p.Next(step, bits, stats)
		for _, d := range ds {
			fmt.Printf("after step %d, layer %d: %d -> %d (%s)\n", d.Step, d.Layer, d.From, d.To, d.Reason)
		}
	}
	fmt.Println("widths for step 4:", bits)
	// Output:
	// after step 1, layer 0: 8 -> 9 (underflow: gavg 0.01 < t_min 0.02)
	// after step 1, layer 1: 8 -> 8 (keep)
	// after step 3, layer 0: 9 -> 10 (underflow: gavg 0.01 < t_min 0.02)
	// after step 3, layer 1: 8 -> 8 (keep)
	// widths for step 4: [10 8]
}
