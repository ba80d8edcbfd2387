package kernels

import (
	"reflect"
	"testing"

	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// TestShapeHoldsInstr checks that instrShape has every field of Instr but the four a
// Program stores per instruction, with the same types: a field added to Instr and not
// to instrShape would be dropped by Append without a word.
func TestShapeHoldsInstr(t *testing.T) {
	own := map[string]bool{"Layer": true, "Addr": true, "Deps": true, "Fn": true}
	in, sh := reflect.TypeFor[Instr](), reflect.TypeFor[instrShape]()
	shared := 0
	for f := range in.Fields() {
		if own[f.Name] {
			continue
		}
		shared++
		g, ok := sh.FieldByName(f.Name)
		if !ok || g.Type != f.Type {
			t.Errorf("Instr.%s (%s) is not in instrShape with its type", f.Name, f.Type)
		}
	}
	if sh.NumField() != shared {
		t.Errorf("instrShape has %d fields, Instr %d besides Layer, Addr, Deps and Fn", sh.NumField(), shared)
	}
}

// TestStoreRoundTrip appends every instruction of compiled programs, written out, to a
// new Program and reads them back: equal instructions, equal dependencies, the same
// shapes, and instructions of one shape equal but for their own fields.
func TestStoreRoundTrip(t *testing.T) {
	p := defaultProfile(t)
	for _, name := range []string{"lenet5", "resnet20"} {
		net, _ := models.ByName(name)
		prog := compile(t, p, net, Options{Method: numerics.RCT, Batch: 2, Functional: true})
		var back Program
		first := make([]Instr, prog.NumShapes())
		seen := make([]bool, prog.NumShapes())
		for i, in := range prog.All() {
			if got := back.Append(in); got != i {
				t.Fatalf("%s: Append returned %d for instruction %d", name, got, i)
			}
			s := prog.Shape(i)
			in.Layer, in.Addr, in.Deps, in.Fn = 0, 0, nil, nil
			if !seen[s] {
				first[s], seen[s] = in, true
			} else if !reflect.DeepEqual(first[s], in) {
				t.Fatalf("%s: instruction %d differs from the first of its shape %d beyond Layer, Addr, Deps and Fn", name, i, s)
			}
		}
		if back.Len() != prog.Len() || back.NumShapes() != prog.NumShapes() {
			t.Fatalf("%s: %d instructions in %d shapes read back as %d in %d", name, prog.Len(), prog.NumShapes(), back.Len(), back.NumShapes())
		}
		var reused Instr // InstrInto's output, holding the instruction before
		for i := range prog.Len() {
			a, b := prog.Instr(i), back.Instr(i)
			if !reflect.DeepEqual(a, b) || back.Shape(i) != prog.Shape(i) || back.Op(i) != a.Op || back.Phase(i) != a.Phase || back.Layer(i) != a.Layer {
				t.Fatalf("%s: instruction %d read back as %+v, want %+v", name, i, b, a)
			}
			if back.InstrInto(i, &reused); !reflect.DeepEqual(reused, a) {
				t.Fatalf("%s: instruction %d written into the one before as %+v, want %+v", name, i, reused, a)
			}
		}
	}
}

// TestAppendCopiesDeps checks that a Program keeps its own copy of an instruction's
// dependencies: the compiler reuses one scratch slice for them.
func TestAppendCopiesDeps(t *testing.T) {
	var p Program
	p.Append(Instr{Op: OpLoad})
	p.Append(Instr{Op: OpVector})
	deps := []int32{0, 1}
	p.Append(Instr{Op: OpGEMM, Deps: deps})
	deps[0], deps[1] = 7, 7
	p.Append(Instr{Op: OpGEMM, Deps: deps[:1]})
	if got := p.Deps(2); !reflect.DeepEqual(got, []int32{0, 1}) {
		t.Errorf("instruction 2 depends on %v, want [0 1]", got)
	}
	if got := p.Instr(3).Deps; !reflect.DeepEqual(got, []int32{7}) {
		t.Errorf("instruction 3 depends on %v, want [7]", got)
	}
	if got := p.Deps(0); len(got) != 0 {
		t.Errorf("instruction 0 depends on %v, want none", got)
	}
}

// TestAppendShapesBehindQuickHash appends, in turn, instructions that differ only in
// fields the recent-shapes cache does not hash (so they share its slot) and many that
// it does (so slots are overwritten): every distinct instruction must get a shape of
// its own, numbered in order of first appearance, and read back as appended.
func TestAppendShapesBehindQuickHash(t *testing.T) {
	var variants []Instr
	for _, phase := range []models.Phase{models.Forward, models.BackwardData} {
		for _, bits := range []int{4, 8} {
			for _, buffer := range []int{0, 1} {
				in := Instr{Op: OpGEMM, Phase: phase, WeightBits: bits, M: 6, N: 16, K: 32}
				in.A.Buffer = buffer
				variants = append(variants, in)
			}
		}
	}
	for m := range int64(600) { // more distinct quick hashes than the cache has slots
		variants = append(variants, Instr{Op: OpGEMM, M: m + 1, N: 16, K: 32})
	}
	var p Program
	var appended []Instr
	for round := range 3 {
		for i, in := range variants {
			in.Layer, in.Addr = int32(round), uint64(i)
			p.Append(in)
			appended = append(appended, in)
		}
	}
	if p.NumShapes() != len(variants) {
		t.Fatalf("%d distinct instructions in %d shapes", len(variants), p.NumShapes())
	}
	for i, want := range appended {
		if got := p.Instr(i); !reflect.DeepEqual(got, want) || p.Shape(i) != i%len(variants) {
			t.Fatalf("instruction %d (shape %d) read back as %+v, want %+v (shape %d)", i, p.Shape(i), got, want, i%len(variants))
		}
	}
}

// TestAppendShapesOnCollidingHashes plants collisions: the keys of shapeIndex that new
// shapes hash to, and the keys after them, held by another shape. Every distinct
// instruction must still get a shape of its own, found again when it comes back once
// the recent-shapes cache is emptied.
func TestAppendShapesOnCollidingHashes(t *testing.T) {
	var p Program
	first := Instr{Op: OpLoad, Rows: 1, RowBytes: 64}
	p.Append(first)
	var variants []Instr
	for m := range int64(4) {
		variants = append(variants, Instr{Op: OpGEMM, M: m + 1, N: 16, K: 32})
	}
	for _, in := range variants {
		s := shapeOf(&in)
		h := s.hash()
		p.shapeIndex[h], p.shapeIndex[h+1] = 0, 0 // the first instruction's shape
	}
	for round := range 2 {
		*p.recent = [recentShapes]uint32{}
		for i, in := range variants {
			if got := p.Shape(p.Append(in)); got != i+1 {
				t.Fatalf("round %d: variant %d got shape %d, want %d", round, i, got, i+1)
			}
		}
		if got := p.Shape(p.Append(first)); got != 0 {
			t.Fatalf("round %d: the first instruction got shape %d, want 0", round, got)
		}
	}
	if p.NumShapes() != len(variants)+1 {
		t.Fatalf("%d distinct instructions in %d shapes", len(variants)+1, p.NumShapes())
	}
	for i := range p.Len() {
		want := first
		if s := p.Shape(i); s > 0 {
			want = variants[s-1]
		}
		if got := p.Instr(i); !reflect.DeepEqual(got, want) {
			t.Fatalf("instruction %d read back as %+v, want %+v", i, got, want)
		}
	}
}

// TestShapeHashSeesEveryField sets each field of a shape, nested ones too, and checks
// that the hash changes: shapes that differ only in a field the hash leaves out would
// collide, and be found one after another (see shapeKey).
func TestShapeHashSeesEveryField(t *testing.T) {
	var base instrShape
	h0 := base.hash()
	var visit func(v reflect.Value, path string)
	visit = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				visit(v.Field(i), path+"."+v.Type().Field(i).Name)
			}
			return
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			v.SetInt(1)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			v.SetUint(1)
		default:
			t.Fatalf("instrShape%s: a %s the test does not set", path, v.Kind())
		}
		if base.hash() == h0 {
			t.Errorf("instrShape%s set, the hash is the same", path)
		}
		v.SetZero()
	}
	visit(reflect.ValueOf(&base).Elem(), "")
}
