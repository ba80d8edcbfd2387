// Training from the initial values a model file gives (train --init-from-model).

package train

import (
	"fmt"
	"math"

	"github.com/rctsim/rctsim/train/numerics"
)

// modelValues returns the network's own initial values (models.Network.Initial, from
// an ONNX file's initializers) as the initial weights and biases of every weight layer,
// in the canonical layout initWeights draws. A layer whose values the file does not
// hold (stripped, or a built-in model) is an error naming it.
func modelValues(p *plan) (w, b [][]float64, err error) {
	w, b = make([][]float64, len(p.weights)), make([][]float64, len(p.weights))
	for j, i := range p.weights {
		l := p.layers[i].l
		var v []float32
		var bias []float32
		if i < len(p.net.Initial) && p.net.Initial[i] != nil {
			v, bias = p.net.Initial[i].W, p.net.Initial[i].B
		}
		if int64(len(v)) != l.WeightParams() || int64(len(bias)) != l.BiasParams() {
			return nil, nil, fmt.Errorf("layer %s: the model holds %d weights and %d biases to start from, the layer has %d and %d (a built-in model, or a file whose values were left out, has none)",
				l.Name, len(v), len(bias), l.WeightParams(), l.BiasParams())
		}
		w[j] = make([]float64, len(v))
		for k, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, nil, fmt.Errorf("layer %s: weight %d is %v", l.Name, k, x)
			}
			w[j][k] = float64(x)
		}
		if len(bias) > 0 {
			b[j] = make([]float64, len(bias))
			for k, x := range bias {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return nil, nil, fmt.Errorf("layer %s: bias %d is %v", l.Name, k, x)
				}
				b[j][k] = float64(x)
			}
		}
	}
	return w, b, nil
}

// setRCTBiases quantises initial biases onto each layer's grid: b-bit integers with an
// exponent of their own chosen from their largest value as the weights' is (with the
// same headroom), or the weights' exponent when all are zero.
func setRCTBiases(st *rctState, biases [][]float64, headroom int) {
	for j, b := range biases {
		L := &st.Layers[j]
		if len(b) == 0 || len(L.B) != len(b) {
			continue
		}
		var m float64
		for _, v := range b {
			m = max(m, math.Abs(v))
		}
		if m > 0 {
			L.BExp = numerics.QuantExp(m, L.Bits) + headroom
		}
		for k, v := range b {
			L.B[k] = int32(numerics.Saturate(int64(math.Round(math.Ldexp(v, -L.BExp))), L.Bits))
		}
	}
}

// setFloatBiases copies initial biases into a float network.
func setFloatBiases[F floatT](fn *floatNet[F], p *plan, biases [][]float64) {
	for j, i := range p.weights {
		if b := biases[j]; len(b) > 0 && len(fn.par[i].b) == len(b) {
			convert(fn.par[i].b, b)
		}
	}
	fn.stale = true
}
