package numerics

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sparse and partial updates (TinyTL: Cai et al., NeurIPS 2020; Lin et al., "On-Device
// Training Under 256KB Memory", NeurIPS 2022): a training step may update only some of
// a network's parameters. An Update says which, per weight layer; it applies to every
// method. A frozen layer keeps its parameters, needs no gradient, and needs its
// saved activations only where the error has to pass through it to an updated layer
// before it; the trainer and the compiler both follow from the same LayerUpdates.

// LayerUpdate is what one weight layer updates in a step.
type LayerUpdate struct {
	// Weights is the fraction of the layer's output channels (rows of its weight
	// matrix: a linear or convolution layer's filters) whose weights are updated, the
	// first UpdatedRows of them: 0 freezes the weights, 1 updates them all.
	Weights float64
	// Bias updates the layer's bias (a normalisation's shift).
	Bias bool
}

// Frozen reports whether the layer updates nothing.
func (l LayerUpdate) Frozen() bool { return l.Weights == 0 && !l.Bias }

// UpdatedRows is how many of rows weight rows the layer updates: ceil(Weights*rows),
// at least 1 when Weights > 0 (the first rows, in the canonical layout).
func (l LayerUpdate) UpdatedRows(rows int) int {
	if l.Weights <= 0 || rows <= 0 {
		return 0
	}
	if l.Weights >= 1 {
		return rows
	}
	return max(1, min(rows, int(math.Ceil(l.Weights*float64(rows)-1e-9))))
}

// Full is the LayerUpdate of a layer that updates everything.
var Full = LayerUpdate{Weights: 1, Bias: true}

// Update is an update mask, written as UPDATE below (ParseUpdate reads it; String
// writes it back):
//
//	all              every parameter (the default; also "")
//	bias-only        every layer's bias (TinyTL), no weights
//	last:N           every parameter of the last N weight layers, none before
//	layers:U,U,...   one U per weight layer in network order: 0 (frozen), b (bias
//	                 only), 1 (everything) or a fraction F in (0,1) (the bias and the
//	                 weights of the first F of the output channels, Lin et al.'s
//	                 channel-sparse update)
//
// The zero value is "all".
type Update struct {
	kind   string // "", "bias-only", "last", "layers"
	last   int
	layers []LayerUpdate
}

// ParseUpdate reads an update mask (see Update).
func ParseUpdate(s string) (Update, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || s == "all":
		return Update{}, nil
	case s == "bias-only":
		return Update{kind: "bias-only"}, nil
	case strings.HasPrefix(s, "last:"):
		n, err := strconv.Atoi(strings.TrimPrefix(s, "last:"))
		if err != nil || n < 1 {
			return Update{}, fmt.Errorf("update %q: last:N needs a number of layers N >= 1", s)
		}
		return Update{kind: "last", last: n}, nil
	case strings.HasPrefix(s, "layers:"):
		u := Update{kind: "layers"}
		for _, f := range strings.Split(strings.TrimPrefix(s, "layers:"), ",") {
			f = strings.TrimSpace(f)
			switch f {
			case "0":
				u.layers = append(u.layers, LayerUpdate{})
			case "b":
				u.layers = append(u.layers, LayerUpdate{Bias: true})
			case "1":
				u.layers = append(u.layers, Full)
			default:
				v, err := strconv.ParseFloat(f, 64)
				if err != nil || !(v > 0 && v < 1) {
					return Update{}, fmt.Errorf("update %q: %q is not 0, b, 1 or a fraction in (0,1)", s, f)
				}
				u.layers = append(u.layers, LayerUpdate{Weights: v, Bias: true})
			}
		}
		return u, nil
	}
	return Update{}, fmt.Errorf("unknown update %q (want all, bias-only, last:N or layers:U,U,...)", s)
}

// String writes the mask as ParseUpdate reads it ("all" for the zero value).
func (u Update) String() string {
	switch u.kind {
	case "bias-only":
		return "bias-only"
	case "last":
		return "last:" + strconv.Itoa(u.last)
	case "layers":
		parts := make([]string, len(u.layers))
		for i, l := range u.layers {
			switch {
			case l.Frozen():
				parts[i] = "0"
			case l.Weights == 0:
				parts[i] = "b"
			case l.Weights >= 1:
				parts[i] = "1"
			default:
				parts[i] = strconv.FormatFloat(l.Weights, 'g', -1, 64)
			}
		}
		return "layers:" + strings.Join(parts, ",")
	}
	return "all"
}

// All reports whether the mask updates every parameter of every network (the
// default); a mask that happens to cover every layer of one network is not All.
func (u Update) All() bool { return u.kind == "" }

// MarshalText and UnmarshalText make an Update a string in JSON and TOML.
func (u Update) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText reads the form String writes.
func (u *Update) UnmarshalText(b []byte) error {
	v, err := ParseUpdate(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// Layers resolves the mask for a network of n weight layers: one LayerUpdate each, in
// network order. A mask that names more layers than the network has, or updates none
// of them, is an error.
func (u Update) Layers(n int) ([]LayerUpdate, error) {
	out := make([]LayerUpdate, n)
	switch u.kind {
	case "":
		for j := range out {
			out[j] = Full
		}
	case "bias-only":
		for j := range out {
			out[j] = LayerUpdate{Bias: true}
		}
	case "last":
		if u.last > n {
			return nil, fmt.Errorf("update %s: the network has only %d weight layers", u, n)
		}
		for j := n - u.last; j < n; j++ {
			out[j] = Full
		}
	case "layers":
		if len(u.layers) != n {
			return nil, fmt.Errorf("update %s lists %d layers but the network has %d weight layers", u, len(u.layers), n)
		}
		copy(out, u.layers)
	}
	for _, l := range out {
		if !l.Frozen() {
			return out, nil
		}
	}
	return nil, fmt.Errorf("update %s updates no parameter", u)
}

// Variant is a method with an update mask: what one run of a comparison or one point
// of a sweep trains. It is written METHOD or METHOD@UPDATE ("rct", "rct@last:3",
// "qat@bias-only").
type Variant struct {
	Method Method
	Update Update
}

// ParseVariant reads METHOD or METHOD@UPDATE.
func ParseVariant(s string) (Variant, error) {
	name, upd, found := strings.Cut(strings.TrimSpace(s), "@")
	m, err := ParseMethod(name)
	if err != nil {
		return Variant{}, err
	}
	v := Variant{Method: m}
	if found {
		if strings.TrimSpace(upd) == "" {
			return Variant{}, fmt.Errorf("method %q: no update mask after @", s)
		}
		if v.Update, err = ParseUpdate(upd); err != nil {
			return Variant{}, err
		}
	}
	return v, nil
}

// String writes the variant as ParseVariant reads it: the method alone when it
// updates everything.
func (v Variant) String() string {
	if v.Update.All() {
		return string(v.Method)
	}
	return string(v.Method) + "@" + v.Update.String()
}

// Dir is the variant as a file name: String with ':' and ',' made '-' ("rct@last-3").
func (v Variant) Dir() string {
	return strings.NewReplacer(":", "-", ",", "-").Replace(v.String())
}

// UpdateTarget is what ResolveUpdate needs to know of a weight layer.
type UpdateTarget struct {
	Name, Kind string
	// Channels: the layer can update a fraction of its output channels (a linear or
	// dense convolution layer, whose rows are its filters).
	Channels bool
	// Bias: the layer has a bias.
	Bias bool
}

// ResolveUpdate resolves mask u for a network's weight layers, in network order: a
// fraction of the channels of a layer that cannot take one is an error, a bias-only
// update of a layer without a bias updates nothing, and a mask that updates nothing at
// all is an error. It returns each layer's update and the index (among the layers) of
// the first one that updates anything. The trainer and the compiler both resolve masks
// here, so that they agree.
func ResolveUpdate(u Update, layers []UpdateTarget, network string) ([]LayerUpdate, int, error) {
	ups, err := u.Layers(len(layers))
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", network, err)
	}
	first := -1
	for j, l := range layers {
		if ups[j].Weights > 0 && ups[j].Weights < 1 && !l.Channels {
			return nil, 0, fmt.Errorf("update %s: layer %s (%s) cannot update a fraction of its channels: only linear and dense convolution layers can", u, l.Name, l.Kind)
		}
		if ups[j].Weights == 0 && !l.Bias {
			ups[j].Bias = false
		}
		if first < 0 && !ups[j].Frozen() {
			first = j
		}
	}
	if first < 0 {
		return nil, 0, fmt.Errorf("update %s updates no parameter of %s (its layers have no bias)", u, network)
	}
	return ups, first, nil
}
