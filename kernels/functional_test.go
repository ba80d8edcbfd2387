package kernels

import (
	"reflect"
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// TestFunctionalDescriptorsChangeNothingElse compiles every model with and without
// Options.Functional: the programs must be the same instruction for instruction (so
// timing and energy cannot differ), and the functional one must describe every GEMM,
// every vector instruction but the controller's decision, and every gather.
func TestFunctionalDescriptorsChangeNothingElse(t *testing.T) {
	p := defaultProfile(t)
	for _, model := range models.Names() {
		if model == "mobilenetv2" {
			continue // mobilenetv2_32 has its layers
		}
		net, _ := models.ByName(model)
		opt := Options{Method: numerics.RCT, Batch: 2, Plan: numerics.Plan{Control: true}}
		plain := compile(t, p, net, opt)
		opt.Functional = true
		fn := compile(t, p, net, opt)
		if plain.Len() != fn.Len() || !reflect.DeepEqual(plain.Tensors, fn.Tensors) || plain.Footprint != fn.Footprint {
			t.Fatalf("%s: %d instructions without descriptors, %d with, or different tensors", model, plain.Len(), fn.Len())
		}
		for i := range fn.Len() {
			a, b := plain.Instr(i), fn.Instr(i)
			d := b.Fn
			b.Fn = nil
			if a.Fn != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("%s: instruction %d differs with descriptors:\n%+v\n%+v", model, i, a, b)
			}
			described := b.Op == OpGEMM || (b.Op == OpVector && b.VOp != VControl) || b.Gather
			if described && d == nil {
				t.Errorf("%s: instruction %d (%s %s, layer %d, %s) has no descriptor", model, i, b.Op, b.VOp, b.Layer, b.Phase)
			}
		}
	}
}

// TestDescriptorOnlyWhenFunctional checks that a timing compile neither keeps nor
// allocates the functional descriptors its kernels describe (a descriptor moved to the
// heap on every call was 8 MB of a MobileNetV2 compile), and a functional one keeps a
// copy of each.
func TestDescriptorOnlyWhenFunctional(t *testing.T) {
	fn := FuncDesc{N: Tile{Lo: 1, Hi: 3}, Role: RoleBias}
	timing := &compiler{}
	if got := timing.descriptor(fn); got != nil {
		t.Errorf("a timing compile kept descriptor %+v", *got)
	}
	if n := testing.AllocsPerRun(100, func() { timing.fn = timing.descriptor(fn) }); n != 0 {
		t.Errorf("a timing compile allocated %v times a descriptor", n)
	}
	functional := &compiler{opt: Options{Functional: true}}
	got := functional.descriptor(fn)
	if got == nil || *got != fn {
		t.Fatalf("a functional compile kept %v, want %+v", got, fn)
	}
	fn.Role = RoleNone
	if got.Role != RoleBias {
		t.Error("the kept descriptor shares its fields with the one described")
	}
}
