package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSimMomentum: `sim --rct-momentum` prices RCT's integer momentum: 2 bytes of
// optimizer state per parameter, every other memory figure unchanged; a momentum RCT
// cannot represent, or another method, is a usage error naming the flag.
func TestSimMomentum(t *testing.T) {
	memory := func(args ...string) map[string]float64 {
		t.Helper()
		code, out, stderr := rctsim(append([]string{"sim", "--method", "rct", "--batch", "8", "--format", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var obj struct {
			Memory map[string]float64 `json:"memory_bytes"`
		}
		if err := json.Unmarshal([]byte(out), &obj); err != nil {
			t.Fatal(err)
		}
		return obj.Memory
	}
	plain, mom := memory(), memory("--rct-momentum", "0.875")
	if plain["params"] == 0 || plain["optimizer_state"] != 0 || mom["optimizer_state"] != 2*plain["params"] {
		t.Errorf("optimizer state %v bytes with momentum, %v without, for %v bytes of 8-bit parameters", mom["optimizer_state"], plain["optimizer_state"], plain["params"])
	}
	for k, v := range plain {
		if k != "optimizer_state" && mom[k] != v {
			t.Errorf("memory %s: %v bytes with momentum, %v without", k, mom[k], v)
		}
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--rct-momentum", "0.9"}, "--rct-momentum: rct's integer momentum is 1 - 2^-k"},
		{[]string{"--rct-momentum", "0.875", "--method", "qat"}, "--rct-momentum is RCT's integer momentum; it does not apply to --method qat"},
		{[]string{"--rct-momentum", "0", "--method", "niti"}, "does not apply to --method niti"},
	} {
		code, _, stderr := rctsim(append([]string{"sim"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.msg) {
			t.Errorf("rctsim sim %v: exit %d, %q; want exit 2 and %q", tc.args, code, stderr, tc.msg)
		}
	}
}
