package functional

import (
	"errors"
	"fmt"

	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// lookup returns the semantics of an instruction: the handler that executes it, or why
// the device has none. It looks only at the program (the instruction, its descriptor
// and its layer), so that Covers and New decide coverage before anything runs.
func (d *Device) lookup(in *kernels.Instr) (handler, error) {
	switch in.Op {
	case kernels.OpLoad, kernels.OpStore:
		if in.Gather && (in.Fn == nil || in.Fn.Index.Bytes == 0) {
			return nil, errors.New("a gather without the SRAM region of its indices: compile with Options.Functional")
		}
		return (*Device).dma, nil
	case kernels.OpGEMM, kernels.OpVector:
	default:
		return nil, fmt.Errorf("unknown op %d", in.Op)
	}
	if in.Layer < 0 || int(in.Layer) >= len(d.net.Layers) {
		return nil, fmt.Errorf("layer %d is not a layer of %s", in.Layer, d.net.Name)
	}
	l := &d.net.Layers[in.Layer]
	if in.Fn == nil && !(in.Op == kernels.OpVector && in.VOp == kernels.VControl) {
		return nil, errors.New("no functional descriptor: compile with Options.Functional")
	}
	if in.Format != kernels.FormatInt {
		return nil, fmt.Errorf("%s arithmetic is not executed functionally", in.Format)
	}
	role := kernels.RoleNone
	if in.Fn != nil {
		role = in.Fn.Role
	}
	attn := l.Kind == models.Attention
	wrongRole := fmt.Errorf("role %s on a %s layer", role, l.Kind)
	if in.Op == kernels.OpGEMM {
		switch {
		case l.Kind == models.Linear || l.Kind == models.Conv2D:
			if role != kernels.RoleNone {
				return nil, wrongRole
			}
		case attn:
			if role < kernels.RoleQKV || role > kernels.RoleDK {
				return nil, wrongRole
			}
		default:
			return nil, fmt.Errorf("a GEMM of a %s layer", l.Kind)
		}
		return (*Device).gemm, nil
	}
	ok := false
	var h handler
	kind, phase := l.Kind, in.Phase
	switch in.VOp {
	case kernels.VRequant:
		ok, h = kind == models.Linear || kind == models.Conv2D || attn, (*Device).requant
		if attn && !(role == kernels.RoleQKV || role == kernels.RoleOut || role == kernels.RoleContext || role >= kernels.RoleDV && role <= kernels.RoleDK) {
			return nil, wrongRole
		}
	case kernels.VReLU:
		ok, h = kind == models.ReLU, (*Device).relu
	case kernels.VReLUBackward:
		ok, h = kind == models.ReLU, (*Device).reluBackward
	case kernels.VMaxPool:
		ok, h = kind == models.MaxPool, (*Device).maxPool
	case kernels.VMaxPoolBackward:
		if kind == models.MaxPool && (l.Stride < l.KernelH || l.Stride < l.KernelW) {
			return nil, errors.New("overlapping max-pooling windows")
		}
		ok, h = kind == models.MaxPool, (*Device).maxPoolBackward
	case kernels.VAvgPool:
		ok, h = kind == models.AvgPool, (*Device).avgPool
	case kernels.VAvgPoolBackward:
		ok, h = kind == models.AvgPool, (*Device).avgPoolBackward
	case kernels.VSoftmaxXent:
		if int(in.Layer) != len(d.net.Layers)-1 {
			return nil, errors.New("the loss of a layer that is not the last")
		}
		ok, h = true, (*Device).loss
	case kernels.VUpdate, kernels.VGradStat:
		ok = d.weights[in.Layer] >= 0
		h = (*Device).update
		switch {
		case in.VOp == kernels.VGradStat && d.prog.Method == numerics.NITI:
			h = (*Device).nitiStat
		case in.VOp == kernels.VGradStat && in.A.Class == kernels.ClassOptimizerState:
			ok = ok && d.prog.Method == numerics.RCT && in.Fn.Index.Bytes == 0
			h = (*Device).momentumStat
		case in.VOp == kernels.VGradStat:
			h = (*Device).gradStat
		case d.prog.Method == numerics.NITI:
			return nil, errors.New("an RCT update in a NITI program")
		}
	case kernels.VNITIAccumulate, kernels.VNITICarry, kernels.VNITIRemainder:
		ok = d.weights[in.Layer] >= 0 && d.prog.Method == numerics.NITI && in.Fn.Index.Bytes == 0
		h = map[kernels.VectorOp]handler{kernels.VNITIAccumulate: (*Device).nitiAccumulate,
			kernels.VNITICarry: (*Device).nitiCarry, kernels.VNITIRemainder: (*Device).nitiRemainder}[in.VOp]
	case kernels.VMomentumAccumulate, kernels.VMomentumApply:
		ok = d.weights[in.Layer] >= 0 && d.prog.Method == numerics.RCT && in.Fn.Index.Bytes == 0
		h = (*Device).momentumAccumulate
		if in.VOp == kernels.VMomentumApply {
			h = (*Device).momentumApply
		}
	case kernels.VBiasGrad:
		ok, h = kind == models.Linear || kind == models.Conv2D || attn || kind == models.PosEmbedding, (*Device).biasGrad
		if kind == models.Embedding && in.Fn.Index.Bytes > 0 {
			ok, h = true, (*Device).tokenSums
		}
	case kernels.VControl:
		ok, h = d.weights[in.Layer] >= 0, (*Device).control
	case kernels.VConvert:
		switch {
		case phase == models.PrecisionControl:
			ok, h = d.weights[in.Layer] >= 0, (*Device).convert
		case kind == models.Embedding && phase == models.Forward:
			ok, h = true, (*Device).embed
		}
	case kernels.VAdd:
		switch {
		case phase == models.Forward:
			ok, h = kind == models.Add || kind == models.ShortcutAdd || kind == models.PosEmbedding, (*Device).add
		case phase == models.BackwardData:
			ok, h = d.residual[in.Layer] >= 0, (*Device).merge
		}
	case kernels.VCopy:
		ok, h = phase == models.BackwardData && (kind == models.Add || kind == models.ShortcutAdd), (*Device).copySkip
		if kind == models.Embedding && in.A.Bytes == 0 {
			ok, h = true, (*Device).clearGrad
		}
	case kernels.VNormStats:
		ok, h = kind == models.BatchNorm || kind == models.LayerNorm, (*Device).normStats
	case kernels.VNormScale:
		switch {
		case kind == models.BatchNorm && (role == kernels.RoleNormCoefs || role == kernels.RoleNormRunning || role == kernels.RoleNormGrads ||
			role == kernels.RoleNormBackCoefs || role == kernels.RoleNormMax):
			ok, h = true, (*Device).batchNormScale
		case kind == models.LayerNorm && (role == kernels.RoleNormCoefs || role == kernels.RoleNormParams || role == kernels.RoleNormMax):
			ok, h = true, (*Device).layerNormScale
		case kind == models.LayerNorm && role == kernels.RoleNormGrads:
			ok, h = true, (*Device).layerNormNarrow
		case kind == models.BatchNorm || kind == models.LayerNorm:
			return nil, wrongRole
		}
		if ok && phase == models.Forward && kind == models.BatchNorm && in.A.Class == kernels.ClassOther {
			return nil, errors.New("normalisation with the running statistics (inference)")
		}
	case kernels.VNormApply:
		ok, h = kind == models.BatchNorm, (*Device).batchNormApply
	case kernels.VNormGradStats:
		ok, h = kind == models.BatchNorm, (*Device).batchNormGradStats
	case kernels.VNormBackward:
		ok, h = kind == models.BatchNorm, (*Device).batchNormBackward
	case kernels.VLayerNormApply:
		ok, h = kind == models.LayerNorm, (*Device).layerNormApply
	case kernels.VLayerNormWGrad:
		ok, h = kind == models.LayerNorm, (*Device).layerNormWGrad
	case kernels.VLayerNormDGradStats:
		ok, h = kind == models.LayerNorm, (*Device).layerNormDGradStats
	case kernels.VLayerNormBackward:
		ok, h = kind == models.LayerNorm, (*Device).layerNormBackward
	case kernels.VSoftmax, kernels.VSoftmaxCausal:
		ok, h = attn && role == kernels.RoleScores && (in.VOp == kernels.VSoftmaxCausal) == l.Causal, (*Device).softmax
	case kernels.VSoftmaxBackward:
		ok, h = attn && role == kernels.RoleDP, (*Device).softmaxBackward
	}
	if !ok {
		return nil, fmt.Errorf("%s on a %s layer in %s", in.VOp, kind, phase)
	}
	return h, nil
}
