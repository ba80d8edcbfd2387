package sweep

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/traces/fileio"
)

// TestRCTMomentumSpec: rct_momentum gives the rct points of a sweep integer momentum
// (2 bytes of optimizer state per parameter) and a hash of their own, leaves the other
// methods' points and every point of a spec without it as they were, and is refused
// with its key for a momentum RCT cannot represent or a spec without rct.
func TestRCTMomentumSpec(t *testing.T) {
	for _, tc := range []struct {
		src, msg string
	}{
		{"rct_momentum = 0.9\n", "1 - 2^-k"},
		{"rct_momentum = \"high\"\n", "want a number"},
		{"methods = [\"qat\"]\nrct_momentum = 0.5\n", "no method is rct"},
	} {
		_, err := parseString(t, tc.src)
		var se *fileio.Error
		if !errors.As(err, &se) || se.Key != "rct_momentum" || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: %v; want an error at rct_momentum containing %q", tc.src, err, tc.msg)
		}
	}
	const base = "methods = [\"rct\", \"qat\"]\nbatch = 8\n"
	plain, zero, mom := mustParse(t, base), mustParse(t, base+"rct_momentum = 0\n"), mustParse(t, base+"rct_momentum = 0.875\n")
	hashes := func(s *Spec) []string {
		var out []string
		for k := range 2 {
			h, _ := s.Identify(s.Point(k))
			out = append(out, h)
		}
		return out
	}
	hp, hz, hm := hashes(plain), hashes(zero), hashes(mom)
	if hp[0] != hz[0] || hp[1] != hz[1] || hp[0] == hm[0] || hp[1] != hm[1] {
		t.Errorf("hashes of rct, qat: %v without momentum, %v at 0, %v at 0.875", hp, hz, hm)
	}
	memory := func(s *Spec) (optimizer, params []int64) {
		dir := t.TempDir()
		if _, err := runTo(t, s, dir, Options{Workers: 1}); err != nil {
			t.Fatal(err)
		}
		header, rows := readRows(t, readFile(t, filepath.Join(dir, "out.csv")))
		col := map[string]int{}
		for i, c := range header {
			col[c] = i
		}
		for _, row := range rows {
			o, err1 := strconv.ParseInt(row[col["memory_bytes.optimizer_state"]], 10, 64)
			p, err2 := strconv.ParseInt(row[col["memory_bytes.params"]], 10, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("row %v", row)
			}
			optimizer, params = append(optimizer, o), append(params, p)
		}
		return optimizer, params
	}
	po, pp := memory(plain)
	mo, mp := memory(mom)
	n := models.LeNet5().Params()
	if pp[0] != n || mp[0] != n || po[0] != 0 || mo[0] != 2*n || mo[1] != po[1] {
		t.Errorf("optimizer state of rct, qat: %v without momentum, %v with; params %v, %v (%d parameters)", po, mo, pp, mp, n)
	}
}
