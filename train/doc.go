// Package train owns numerics: RCT/QAT/FP32/NITI/FP8 training on real data, with
// sparse updates of any of them, the precision controller's inputs, datasets and
// metrics.
//
// A Trainer trains one network (models.Network) with one method (numerics.Method) step
// by step; Run drives a whole run over a Split and writes metrics.csv and the
// precision schedule (traces' format) that the simulator replays. Everything random
// comes from Config.Seed: the initial weights (drawn identically for every method),
// the batch order and RCT's stochastic rounding. Results do not depend on GOMAXPROCS:
// the same inputs give byte-identical metrics and schedules.
//
// # FP32 and QAT
//
// The float path stores activations, errors, weights and SGD momentum as float32.
// Linear, convolution and attention layers run their GEMMs in float32 with package
// gemm: each output is the chain of fused multiply-adds over its reduction in order,
// rounded to float32 at every step, so results do not depend on the number of cores
// or on the CPU's vector unit. Normalisation, softmax and grouped convolutions compute
// in float64 and round once when a result is stored.
// SGD is PyTorch's: v = mu*v + g + wd*w, w -= lr*v, without weight decay on biases.
// QAT adds fake quantisation (qat.go): fp32 master weights quantised to b bits with a
// per-tensor symmetric scale max|w|/(2^(b-1)-1) (not a power of two) for every GEMM,
// and the input of every linear and convolution layer quantised to 8 bits on an
// affine grid from moving averages of its range; gradients pass straight through
// (clipped where the activation grid clipped).
//
// # RCT: integer training
//
// RCT keeps only integers between steps (rctState: weights, exponents, delayed scales;
// no float anywhere, which a test checks by reflection). Every integer operation is
// defined once in train/numerics, which the simulator's functional mode
// reproduces; this package calls those functions, except for GEMMs, which linear,
// convolution and attention layers compute with package gemm's exact integer kernels
// (int16 pairs into int32 when no partial sum can leave int32, exact int64 sums
// otherwise) and grouped convolutions in float64 where that is provably exact (every
// partial sum below 2^53; checked when a trainer is built), all tested against
// numerics.GEMMInt. Requantisation, bias and aligned adds run through equivalents of
// numerics.Requant, Requant64, AddBias and AddAligned written for speed (intfast.go),
// tested equal to them.
//
// Tensors. A tensor is int8 values v with a power-of-two scale: v stands for v*2^e.
// Weights of layer l are b_l-bit integers (|w| <= 2^(b_l-1)-1) with step
// Δ_l = 2^WExp. Biases share the layer's width b_l and its changes, with their own
// exponent BExp, which starts equal to WExp (biases start at zero on the weight grid).
//
// Initialisation. Float weights (He-uniform, as for the float methods) are quantised
// to the start width: WExp is the smallest exponent at which max|w| fits b_l bits
// (numerics.QuantExp), plus Config.Headroom bits so that weights can grow before they
// saturate; values round to nearest.
//
// Input. Images are quantised per batch to int8 with the scale of the batch's own max
// (numerics.QuantExp, numerics.Quantize): the batch is in memory before the step starts.
// Token ids feed an embedding directly.
//
// Forward. A linear or convolution layer computes int32 accumulators exactly
// (numerics.GEMMInt) with scale 2^(x_exp+WExp), adds the bias aligned to that scale
// (numerics.AddBias: RoundShift(bias, acc_exp-BExp)), and requantises to int8
// (numerics.Requant: ReLU when the next layer is a ReLU, RoundShift, saturation to
// ±127). A ReLU right after a weight layer is folded into that requantisation (as
// kernels/ compiles it) unless a residual Add reads the weight layer's pre-ReLU
// output; other ReLUs act on int8 directly. Max pooling selects int8 values (ties go
// to the first position in row-major window order, which the backward pass routes
// to); average pooling sums a power-of-two window into int32 with the scale divided by
// the window, then requantises. A residual Add aligns its two int8 operands
// (numerics.AddAligned) and requantises. An embedding gathers table rows (b-bit
// integers with scale 2^WExp) and requantises them.
//
// Delayed scaling. Every requantisation shifts by s.Exp - acc_exp, where s.Exp is the
// output exponent chosen from the same tensor's max |acc| at the previous step:
// acc_exp + numerics.ShiftFor(max, 8). A tile-by-tile device cannot know a tensor's max
// before producing all of it without spilling int32 partials to DRAM, so the scale
// lags one step; the first time a tensor is seen (step 0) its own max is used, a
// calibration pass. The lag can clip a tensor whose range grows quickly: clipped values
// are counted (Saturations). The exponent, not the shift, is remembered, so a change of
// the input's scale or of the weights' width between steps is accounted for.
// Evaluation uses a copy of the scales, so it never changes training.
//
// Loss. numerics.SoftmaxXentRound dequantises the int8 logits, computes the softmax in
// float64 and the error e = (softmax - onehot)/(batch*positions) (the error of the
// mean loss), and quantises e to int8 with its own power-of-two scale from e's current
// maximum (the loss is one vector pass over a small tensor), rounding to nearest
// (default) or, with Config.LossRounding "stochastic", unbiasedly with random bits from
// stream numerics.LossStream(step).
//
// Backward. Backward-data GEMMs (before the layer's update, with its old weights)
// produce int32 accumulators with scale 2^(e_exp+WExp), requantised to int8 errors with
// delayed scales; ReLU backward masks errors where the saved int8 output is not
// positive; pooling routes errors unchanged (without overlapping windows no rounding is
// needed; overlapping windows sum into int32 and requantise); a residual Add's error
// reaches both inputs and is summed where the skipped-over path rejoins
// (numerics.AddAligned, then a delayed-scale requantisation). Backward-weight GEMMs
// give int32 gradient accumulators G with scale 2^(x_exp+e_exp) (for an embedding,
// sums of error rows, scale 2^e_exp); bias gradients are int32 sums of errors.
//
// Update. w += round(-lr*g/Δ) as integer arithmetic (numerics.UpdateInt): the rate is
// a 16-bit mantissa and an exponent (numerics.FixedLR, relative error below 2^-16),
// d = -Mant*G in int64, then a right shift by UpdateShift = lrShift + WExp - g_exp
// with stochastic rounding (default; StochasticShift with random bits
// numerics.RandAt(numerics.RandKey(seed, stream), index)) or nearest rounding, and
// saturation to b_l bits. seed is derived from Config.Seed (rctSeed); stream is
// numerics.RandStream(step, layer, tensor) = step<<24 | layer<<1 | tensor (network
// layer index, tensor 0 for weights and 1 for the bias); index is the element's
// position in the canonical [Cout][Cin][kh][kw] layout (a linear layer's input in the
// C,H,W order of its unflattened input; an embedding's table row-major). The learning
// rate of a schedule is re-encoded as a FixedLR every step. Weights are updated layer
// by layer during the backward sweep, each after its own backward-data GEMM.
// RCT has no weight decay and, by default, no momentum: its only state is the integer
// grid. Config.Momentum = 1 - 2^-k adds an integer momentum (momentum.go,
// numerics.MomentumAccumulate): an int16 buffer per parameter, with the same random
// streams and indices, and Gavg read from the buffer.
//
// Controller statistic. When the policy asks (Policy.NeedsStats), each weight layer's
// Gavg = mean(|lr*g|)/Δ is computed from the exact sum of |G| (numerics.GradAbsSum,
// numerics.Gavg), over weights only.
//
// Bit changes. After step s the policy gives the widths of step s+1 (see policy.go);
// adding a bit shifts weights and biases left and halves both steps, dropping one
// rounds away the LSB (RoundShift by 1, saturating) and doubles them
// (numerics.ConvertInt). Adding a bit and dropping it again restores the weights.
//
// # Normalisation
//
// Batch and layer normalisation are weight layers like any other for every method:
// their scale gamma is the layer's weights and their shift beta its bias. Under RCT
// they are b_l-bit integers with steps 2^WExp and 2^BExp, updated by numerics.UpdateInt
// and given a bitwidth by the precision policy from their own Gavg, exactly as a
// convolution's weights; under QAT they have fp32 masters and b-bit copies. Batch
// normalisation's running mean and variance (for evaluation) are int32 integers in
// units of 2^(x_exp-numerics.RunningFracBits) (squared for the variance), moved 2^-3
// of the way to each training batch's value by a shift (numerics.RunningUpdate);
// they are state, not parameters: no policy sets their width. Before each evaluation
// they are re-estimated for the current weights (Trainer.ReestimateBN,
// Config.BNReestimate): training-mode forward passes over the latest training
// batches, each folded in with equal weight (numerics.RunningAverage), in the same
// int32 values, so no state is added. Without it they lag RCT's weights, which keep
// moving at the constant rate, and ResNet-20 evaluates 8 points below its batch
// accuracy.
//
// Per element the work is integer; per group (a channel for batch normalisation, a
// position for layer normalisation) one float64 step, a vector-unit scalar op, turns
// exact statistics into coefficients. Forward: exact int64 sums Σx and Σx² of the
// int8 input, numerics.NormInvStd for 1/sqrt(var+ε), numerics.NormForwardCoefs for
// y = a*x + c, numerics.FixCoefs to integers of numerics.CoefBits bits with a common
// exponent, numerics.ChannelAffine in int64 and a delayed-scale numerics.Requant64.
// Layer normalisation first forms x_hat = A*x + C per position as integers and then
// applies gamma and beta (numerics.ScaleShift). Backward: exact sums Σdy and Σdy*x,
// numerics.NormBackwardCoefs for dx = a*dy + b*x + c per group (for layer
// normalisation u = gamma*dy, exact, takes dy's place), the same fixing and
// requantisation; beta's gradient is Σdy (exact), gamma's is Σdy*x_hat, exact for
// layer normalisation (numerics.Narrow32) and, for batch normalisation, the float64
// per-channel value quantised by numerics.FixGrads. A group may hold at most
// numerics.NormMaxGroup values, so that the sums stay exact; a trainer refuses
// larger batches for such a layer.
//
// # Attention
//
// An attention layer's four projections (Wq, Wk, Wv, Wo and their biases) form one
// weight layer with one bitwidth, in four segments with a gradient scale each (their
// gradients come from errors of different scales); the update and the random bits are
// those of one tensor. Q, K, V, the context O and the errors dO, dS and [dQ dK dV]
// are int8 tensors with delayed power-of-two scales (scales.Inner). Scores are exact
// integer products; 1/sqrt(d_head) is applied exactly as an exponent, so the integer
// path requires d_head to be a power of four (the built-in transformer's is 64). The
// softmax runs in float64 on the exact scores and yields int8 probabilities with step
// 2^numerics.ProbExp (numerics.SoftmaxProbs; a causal mask leaves later keys at zero);
// its backward pass is integer (numerics.SoftmaxGradInt). QAT quantises the inputs of
// the four projections like any GEMM input and keeps the products of activations with
// activations float.
//
// # Other layers
//
// Grouped and depthwise convolutions use the same integer semantics as any
// convolution (per-group GEMMs, numerics.GEMMInt), computed by direct loops
// (grouped.go). An option-A shortcut (models.ShortcutAdd) gathers its subsampled,
// channel-padded skip operand and adds it like a residual. A position embedding adds
// its b_l-bit table to its input (numerics.AddTable) and is updated like an embedding.
//
// # NITI, FP8 and sparse updates
//
// NITI (niti.go) is the integer path with int8 weights and its own update:
// numerics.UpdateNITI through an int16 buffer per parameter, whose normalising shift
// is a delayed register like every scale above. FP8 (fp8.go) is the float path with
// every stored activation in E4M3, every stored error in E5M2 and E4M3 copies of the
// fp32 masters, with delayed per-tensor power-of-two scales. An update mask
// (Config.Update, sparse.go) freezes parameters of any method: the backward pass stops
// at the first layer that learns, frozen parameters get no update, momentum or width
// change, and a partial layer updates the first fraction of its filters.
package train
