package kernels

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/train/numerics"
)

// Options control one compilation.
type Options struct {
	Method numerics.Method
	Batch  int
	Plan   numerics.Plan
	// NoMomentum drops the fp32 momentum buffer that FP32 and QAT carry by default (SGD
	// with momentum, as the trainer runs them).
	NoMomentum bool
	// MomentumShift gives RCT's update an integer momentum of 1 - 2^-MomentumShift
	// (numerics.MomentumAccumulate, MomentumApply; 0, the default, none): every updated
	// weight and bias tensor keeps an int16 buffer in DRAM, loaded and stored with it
	// each step, as NITI's. It is an option of RCT only, so that pricing a momentum
	// step is a choice made where the step is compiled.
	MomentumShift int
	// ForwardOnly compiles inference: the forward pass without loss or backward.
	ForwardOnly bool
	// PipelineDepth is the number of tiles a GEMM is cut into, at least, when its size
	// allows, so that DMA overlaps compute (default 4). 1 keeps every layer in as few
	// tiles as the SRAM allows: with ideal memory there is nothing to overlap, and whole
	// layers reproduce SCALE-Sim's compute cycles.
	PipelineDepth int
	// Functional attaches to every GEMM and vector instruction the description of its
	// operands that functional execution needs (FuncDesc). Timing ignores it.
	Functional bool
	// MaxInstrs bounds the instructions of the program (0: DefaultMaxInstrs). A layer
	// whose tiles or chunks would exceed it fails with ErrTooLarge before they are
	// built.
	MaxInstrs int
	// Update is the update mask (the zero value updates every parameter): frozen
	// parameters keep no optimizer state and get no backward-weight pass, the backward
	// pass ends at the first layer that updates anything, and only the layers after
	// such a layer propagate errors (see sparse.go).
	Update numerics.Update
}

// DefaultMaxInstrs is the default of Options.MaxInstrs: about a GiB of instructions in
// the compiler, and as much again in the simulator that runs them. A training step of
// a built-in model at the batches edge training uses holds far fewer (LeNet-5 at batch
// 32768: 83,000); without a bound, a batch of 10^9 or a 10^6-cubed GEMM of a topology
// file would tile for hours and exhaust memory.
const DefaultMaxInstrs = 1 << 22

// MaxDRAMBytes bounds the DRAM a program's tensors span (2^50 bytes, as program dumps
// do), so that no size or address computed from them can overflow.
const MaxDRAMBytes = 1 << 50

// ErrTooLarge is wrapped by the error of a network that would compile into more
// instructions than Options.MaxInstrs or more DRAM than MaxDRAMBytes: the message
// names the layer, its size and the batch. Like ErrNoFit it is a property of the
// design point, for callers that classify failures with errors.Is.
var ErrTooLarge = errors.New("program too large")

// CompileError is a network that cannot be compiled for a profile: it names the layer
// and phase (a tile that cannot fit, a mode the chip lacks).
type CompileError struct {
	Model, Profile string
	Layer          string // "" when the error is not about one layer
	Phase          models.Phase
	Err            error
}

func (e *CompileError) Error() string {
	if e.Layer == "" {
		return fmt.Sprintf("compile %s for %s: %v", e.Model, e.Profile, e.Err)
	}
	return fmt.Sprintf("compile %s for %s: layer %s (%s): %v", e.Model, e.Profile, e.Layer, e.Phase, e.Err)
}

func (e *CompileError) Unwrap() error { return e.Err }

// ErrNoFit is wrapped by the error of a layer whose smallest tiles, chunks or slots do
// not fit the profile's SRAM. It is a property of the design point, not a mistake in
// the input, so a caller that explores designs (a sweep classifying its failed points)
// tells it from other errors with errors.Is rather than by reading the text.
var ErrNoFit = errors.New("does not fit the SRAM")

// stepNumerics is how a method stores and computes each kind of tensor.
type stepNumerics struct {
	float    Format // GEMM and update format; FormatInt for integer training
	wBits    []int  // per network layer: bits of the weight copy the GEMMs read (0: no weights)
	capBits  []int  // per network layer: bits the weight tensor is allocated for
	nextBits []int  // per network layer: bits after this step's precision control
	master   bool   // fp32 master copy (QAT, FP8)
	momentum bool
	acc      bool // an int16 update buffer per parameter (NITI, RCT with momentum)
	// upd is each network layer's update (numerics.Full for layers without weights);
	// firstUpd the first weight layer that updates anything.
	upd      []numerics.LayerUpdate
	firstUpd int
	actBits  int // activations as stored in DRAM
	errBits  int // errors as stored in DRAM
	accBits  int // GEMM accumulators
}

func resolveNumerics(net *models.Network, prof *hw.Profile, opt Options) (stepNumerics, error) {
	wl := net.WeightLayers()
	perLayer := func(bits []int, def int, what string) ([]int, error) {
		out := make([]int, len(net.Layers))
		switch {
		case len(bits) == 0:
			bits = []int{def}
			fallthrough
		case len(bits) == 1:
			for _, i := range wl {
				out[i] = bits[0]
			}
		case len(bits) == len(wl):
			for j, i := range wl {
				out[i] = bits[j]
			}
		default:
			return nil, fmt.Errorf("%s lists %d bitwidths but %s has %d weight layers", what, len(bits), net.Name, len(wl))
		}
		for _, i := range wl {
			if out[i] < 2 || out[i] > 32 {
				return nil, fmt.Errorf("%s: bitwidth %d of layer %s is outside 2..32", what, out[i], net.Layers[i].Name)
			}
		}
		return out, nil
	}
	n := stepNumerics{momentum: !opt.NoMomentum, accBits: prof.MACArray.AccumulatorBits}
	var err error
	if n.upd, n.firstUpd, err = resolveUpdate(net, opt.Update); err != nil {
		return n, err
	}
	if k := opt.MomentumShift; k != 0 {
		if opt.Method != numerics.RCT {
			return n, fmt.Errorf("integer momentum is an option of method rct, not %s", opt.Method)
		}
		if k < 1 || k > numerics.MaxMomentumShift {
			return n, fmt.Errorf("momentum shift %d is outside 1..%d", k, numerics.MaxMomentumShift)
		}
		n.acc = true
	}
	switch opt.Method {
	case numerics.RCT, numerics.NITI:
		n.float = FormatInt
		n.actBits, n.errBits = 8, 8
		n.momentum = false // the integer update lands directly on the integer grid
		if n.wBits, err = perLayer(opt.Plan.Bits, 8, "plan"); err != nil {
			return n, err
		}
		if opt.Method == numerics.NITI {
			n.acc = true
			for _, i := range wl {
				if n.wBits[i] != numerics.NITIBits {
					return n, fmt.Errorf("method niti trains int8 weights: the plan gives layer %s %d bits", net.Layers[i].Name, n.wBits[i])
				}
			}
		}
	case numerics.FP8:
		// E4M3 weight copies, activations and E5M2 errors in 8 bits; fp32 masters,
		// momentum and accumulation.
		n.float = FormatFP8
		n.actBits, n.errBits, n.accBits = 8, 8, 32
		n.master = true
		if n.wBits, err = perLayer(nil, 8, "plan"); err != nil {
			return n, err
		}
	case numerics.QAT, numerics.FP32:
		train := prof.MACArray.TrainFloat
		if opt.Method == numerics.FP32 {
			train = "fp32"
		}
		if train == "" {
			// The chip has no float mode at all: say so in the chip's terms.
			_, err := prof.FloatMode("fp32")
			return n, fmt.Errorf("method %s trains in floating point: %w", opt.Method, err)
		}
		if n.float, err = ParseFormat(train); err != nil {
			return n, err
		}
		n.actBits, n.errBits, n.accBits = n.float.Bits(), n.float.Bits(), 32
		if opt.Method == numerics.QAT {
			n.master = true
			if n.wBits, err = perLayer(opt.Plan.Bits, numerics.DefaultQATBits, "plan"); err != nil {
				return n, err
			}
		} else if n.wBits, err = perLayer(nil, 32, "plan"); err != nil {
			return n, err
		}
	default:
		return n, fmt.Errorf("unknown method %q", opt.Method)
	}
	n.nextBits = n.wBits
	if len(opt.Plan.NextBits) > 0 && opt.Method == numerics.RCT {
		if n.nextBits, err = perLayer(opt.Plan.NextBits, 8, "next-step plan"); err != nil {
			return n, err
		}
	}
	n.capBits = make([]int, len(n.wBits))
	for i := range n.wBits {
		n.capBits[i] = max(n.wBits[i], n.nextBits[i])
	}
	return n, nil
}

// resolveUpdate is the update of every network layer under mask u and the first
// weight layer that updates anything.
func resolveUpdate(net *models.Network, u numerics.Update) ([]numerics.LayerUpdate, int, error) {
	wl := net.WeightLayers()
	out := make([]numerics.LayerUpdate, len(net.Layers))
	for i := range out {
		out[i] = numerics.Full
	}
	if len(wl) == 0 {
		return out, len(net.Layers), nil
	}
	ups, first, err := numerics.ResolveUpdate(u, updateTargets(net), net.Name)
	if err != nil {
		return nil, 0, err
	}
	for j, i := range wl {
		out[i] = ups[j]
	}
	return out, wl[first], nil
}

// updateTargets describes net's weight layers for numerics.ResolveUpdate.
func updateTargets(net *models.Network) []numerics.UpdateTarget {
	var out []numerics.UpdateTarget
	for _, i := range net.WeightLayers() {
		l := &net.Layers[i]
		out = append(out, numerics.UpdateTarget{Name: l.Name, Kind: string(l.Kind),
			Channels: (l.Kind == models.Linear || l.Kind == models.Conv2D) && l.NumGroups() == 1, Bias: l.BiasParams() > 0})
	}
	return out
}

// Compile lowers one training step (or, with ForwardOnly, one inference pass) of net
// into a Program for prof.
func Compile(net *models.Network, prof *hw.Profile, opt Options) (*Program, error) {
	wrap := func(err error) error {
		var ce *CompileError
		if errors.As(err, &ce) {
			return err
		}
		return &CompileError{Model: net.Name, Profile: prof.Name, Err: err}
	}
	if opt.Batch <= 0 {
		return nil, wrap(fmt.Errorf("batch must be positive (got %d)", opt.Batch))
	}
	if err := net.Validate(); err != nil {
		return nil, wrap(err)
	}
	num, err := resolveNumerics(net, prof, opt)
	if err != nil {
		return nil, wrap(err)
	}
	c := &compiler{net: net, prof: prof, opt: opt, num: num, batch: int64(opt.Batch), maxInstrs: DefaultMaxInstrs}
	if opt.MaxInstrs > 0 {
		c.maxInstrs = int64(opt.MaxInstrs)
	}
	c.prog = &Program{Model: net.Name, Profile: prof.Name, Method: opt.Method, Batch: opt.Batch}
	if err := c.setupBuffers(); err != nil {
		return nil, wrap(err)
	}
	if err := c.checkModes(); err != nil {
		return nil, wrap(err)
	}
	c.allocateTensors()
	if c.err != nil {
		return nil, wrap(c.err)
	}
	if err := c.step(); err != nil {
		return nil, wrap(err)
	}
	if c.err != nil {
		return nil, wrap(c.err)
	}
	c.prog.Footprint = c.prog.ComputeFootprint()
	return c.prog, nil
}

// Buffer roles as indices.
const (
	roleInputs = iota
	roleWeights
	roleOutputs
	numRoles
)

type compiler struct {
	net   *models.Network
	prof  *hw.Profile
	opt   Options
	num   stepNumerics
	batch int64
	prog  *Program
	// maxInstrs is Options.MaxInstrs or its default. err is the first bound exceeded
	// where no error can be returned (an instruction past maxInstrs, a tensor past
	// MaxDRAMBytes): emission stops adding instructions, the loops that emit them stop,
	// and the layer's kernel reports it.
	maxInstrs int64
	err       error

	roleBuf [numRoles]int // Program.Buffers index of each role
	depsBuf []int32
	tileRs  []region // scratch of tileRegions
	dram    uint64   // next free DRAM address

	// Per kernel (one layer in one phase).
	phase models.Phase
	layer int32
	alloc []int64 // next free offset per buffer
	fence []int32 // last instruction of each unit when the kernel began
	// fn, when set, is attached to the next GEMM or vector instruction (if functional
	// descriptors are wanted) and cleared.
	fn *FuncDesc
	// role is the Role of the kernel's instructions whose descriptor names none (reset
	// by beginKernel).
	role Role

	// Tensors.
	input  act4   // the batch
	labels act4   // one label per example
	out    []act4 // output of every layer (aliases for fused or shape-only layers)
	errs   [2]act4
	state  [][]paramState // per layer: the weight tensors the update touches
	bstate [][]paramState // per layer: the bias tensors the update touches
	gemmW  []mat2         // per layer: the weight copy the GEMMs read
	biasW  []mat2         // per layer: the bias as the forward pass reads it
	side   []sideTensors  // per layer: what else its forward pass saves
	// attnErrs are the errors inside an attention layer's backward pass, shared by all
	// attention layers (sized for the largest).
	attnErrs attentionErrors
	// skips holds, by the layer a residual Add or ShortcutAdd reads (its From) or a
	// branch reads (its Source), the parts of that layer's error the residual or branch
	// computed, as the merge into the layer's error reads them, kept for when the
	// backward pass reaches that layer.
	skips map[int][]streamIn
	// rsMemo remembers the row stationary mapper's cycles per tile (rsRanker).
	rsMemo map[rsKey]int64
}

// sideTensors are the DRAM tensors of a layer besides its output and parameters.
type sideTensors struct {
	// stats is a normalisation's saved statistics: batch normalisation's per-channel
	// records (normFields 32-bit values per channel), layer normalisation's mean and
	// inverse standard deviation per position (a row per example). running is batch
	// normalisation's running mean and variance, which inference normalises with.
	stats, running mat2
	// Attention: the projections (Q, K and V as one tensor of 3D channels), the
	// context (the heads' outputs before the output projection) and the probabilities
	// (rows of T per example, head and query).
	qkv, context act4
	probs        mat2
	// grad is an embedding's gradient table, when the batch's tokens take several
	// chunks (see backwardEmbeddingTable).
	grad mat2
}

// paramState is one tensor of a layer's parameters as the update sees it.
type paramState struct {
	m           mat2
	class       TensorClass
	load, store bool
}

func (c *compiler) setupBuffers() error {
	names := make([]string, 0, len(c.prof.SRAM))
	for name := range c.prof.SRAM {
		names = append(names, name)
	}
	sort.Strings(names)
	roles := map[string]int{hw.RoleInputs: roleInputs, hw.RoleWeights: roleWeights, hw.RoleOutputs: roleOutputs}
	seen := [numRoles]bool{}
	for i, name := range names {
		spec := c.prof.SRAM[name]
		c.prog.Buffers = append(c.prog.Buffers, Buffer{Name: name, Capacity: int64(spec.Capacity)})
		for _, h := range spec.Holds {
			if r, ok := roles[h]; ok {
				c.roleBuf[r], seen[r] = i, true
			}
		}
	}
	for r, ok := range seen {
		if !ok {
			return fmt.Errorf("profile %s has no SRAM buffer holding role %d", c.prof.Name, r)
		}
	}
	c.alloc = make([]int64, len(c.prog.Buffers))
	return nil
}

// checkModes fails early, naming the layer, when the chip lacks an operand mode.
func (c *compiler) checkModes() error {
	for i := range c.net.Layers {
		if !c.net.Layers[i].HasGEMM() {
			continue
		}
		var err error
		if c.num.float != FormatInt {
			_, err = c.prof.FloatMode(c.num.float.String())
		} else if _, err = c.prof.IntMode(c.num.wBits[i], c.num.actBits); err == nil && !c.opt.ForwardOnly {
			_, err = c.prof.IntMode(c.num.errBits, c.num.actBits)
		}
		if err == nil && c.num.float == FormatInt && c.net.Layers[i].Kind == models.Attention {
			// The scores and context products multiply activations by activations.
			_, err = c.prof.IntMode(c.num.actBits, c.num.actBits)
		}
		if err != nil {
			return &CompileError{Model: c.net.Name, Profile: c.prof.Name, Layer: c.net.Layers[i].Name, Phase: models.Forward, Err: err}
		}
	}
	return nil
}

const dramAlign = 4096

// newTensor places a tensor of bytes (saturated at math.MaxInt64 by the caller when
// its size overflows) after the last one. A tensor that would end past MaxDRAMBytes
// records ErrTooLarge and is given no room: the compilation fails once the tensors are
// laid out, before any instruction is emitted.
func (c *compiler) newTensor(name string, class TensorClass, layer int, bytes int64, bits int) (int32, uint64) {
	addr := c.dram
	if bytes < 0 || bytes > MaxDRAMBytes-int64(addr) {
		if c.err == nil {
			err := fmt.Errorf("%w: tensor %s needs %s bytes at batch %d, beyond the 2^50 bytes of DRAM a program may span",
				ErrTooLarge, name, bytesText(bytes), c.batch)
			if layer >= 0 {
				err = &CompileError{Model: c.net.Name, Profile: c.prof.Name, Layer: c.net.Layers[layer].Name, Phase: models.Forward, Err: err}
			}
			c.err = err
		}
		bytes = 0
	}
	c.prog.Tensors = append(c.prog.Tensors, Tensor{Name: name, Class: class, Layer: int32(layer), Addr: addr, Bytes: bytes, Bits: bits})
	c.dram += uint64(ceilDiv(bytes, dramAlign) * dramAlign)
	return int32(len(c.prog.Tensors) - 1), addr
}

// bytesText prints a byte count, or "more than 2^63" for one that saturated.
func bytesText(n int64) string {
	if n == math.MaxInt64 {
		return "more than 2^63"
	}
	return strconv.FormatInt(n, 10)
}

func (c *compiler) newAct(name string, class TensorClass, layer int, s models.Shape, bits int) act4 {
	a := act4{c: int64(s.C), h: int64(s.H), w: int64(s.W), elemBytes: int64(bits / 8)}
	a.tensor, a.base = c.newTensor(name, class, layer, hw.MulSat(c.batch, a.c, a.h, a.w, a.elemBytes), bits)
	return a
}

func (c *compiler) newMat(name string, class TensorClass, layer int, rows, cols int64, bits, capBits int) mat2 {
	m := mat2{rows: rows, cols: cols, bits: capBits}
	bytes := int64(math.MaxInt64)
	if hw.MulSat(cols, int64(capBits)) < math.MaxInt64-7 {
		bytes = hw.MulSat(rows, m.pitch())
	}
	m.tensor, m.base = c.newTensor(name, class, layer, bytes, bits)
	m.bits = bits
	return m
}

// fusedReLU reports whether layer i is a ReLU folded into the preceding layer's
// requantisation (of a weight layer's GEMMs, or of a normalisation's output).
func (c *compiler) fusedReLU(i int) bool {
	if i == 0 || c.net.Layers[i].Kind != models.ReLU || c.net.InputOf(i) != i-1 {
		return false
	}
	switch c.net.Layers[i-1].Kind {
	case models.Linear, models.Conv2D, models.Embedding, models.BatchNorm, models.LayerNorm:
		return true
	}
	return false
}

func (c *compiler) allocateTensors() {
	n := c.num
	layers := c.net.Layers
	c.input = c.newAct("input", ClassActivations, -1, c.net.Input, n.actBits)
	c.out = make([]act4, len(layers))
	c.state = make([][]paramState, len(layers))
	c.bstate = make([][]paramState, len(layers))
	c.gemmW = make([]mat2, len(layers))
	c.biasW = make([]mat2, len(layers))
	c.side = make([]sideTensors, len(layers))
	c.skips = make(map[int][]streamIn)
	maxErr := int64(0)
	for i := range layers {
		l := &layers[i]
		switch {
		case l.Kind == models.Flatten || c.fusedReLU(i):
			c.out[i] = c.inputOf(i)
		default:
			c.out[i] = c.newAct(l.Name+".out", ClassActivations, i, l.Out, n.actBits)
		}
		// The last layer's output is not needed after the loss, but it is stored anyway:
		// the loss pass reads it.
		c.out[i].c, c.out[i].h, c.out[i].w = int64(l.Out.C), int64(l.Out.H), int64(l.Out.W)
		// The error buffers hold the errors of the layers the backward pass visits:
		// their outputs', and their inputs' where they propagate.
		if i >= n.firstUpd {
			maxErr = max(maxErr, l.Out.Elems())
		}
		if c.needsDX(i) {
			maxErr = max(maxErr, l.In.Elems())
		}
		if l.HasWeights() {
			c.allocateParams(i)
		}
		switch l.Kind {
		case models.BatchNorm, models.LayerNorm:
			c.allocateNorm(i)
		case models.Attention:
			c.allocateAttention(i)
		}
	}
	if !c.opt.ForwardOnly {
		// One label per output position: one per example for a classifier, one per
		// character for a sequence model.
		last := layers[len(layers)-1].Out
		c.labels = c.newAct("labels", ClassOther, -1, models.Shape{C: 1, H: 1, W: last.H * last.W}, 8*labelBytes(c.net.Classes))
		for j := range c.errs {
			e := act4{c: maxErr, h: 1, w: 1, elemBytes: int64(n.errBits / 8)}
			e.tensor, e.base = c.newTensor(fmt.Sprintf("errors%d", j), ClassErrors, -1, hw.MulSat(c.batch, e.c, e.elemBytes), n.errBits)
			c.errs[j] = e
		}
		c.allocateAttentionErrors()
	}
}

func labelBytes(classes int) int {
	if classes <= 256 {
		return 1
	}
	return 4
}

// paramShape is the matrix a weight layer's weights are stored as, rows by columns:
//   - Linear and Conv2D: a row of (In.C/groups)*kh*kw (a linear layer: In.Elems())
//     weights per output channel, the canonical [Cout][Cin/groups][kh][kw] order;
//   - Embedding: a table of Vocab rows of E values (rows are what a lookup fetches);
//   - BatchNorm and LayerNorm: one row of the C per-channel scales;
//   - Attention: Wq, Wk, Wv and Wo stacked, 4*D rows (output features) of D;
//   - PosEmbedding: the table in the layout of one example, a row of H*W per channel.
//
// The bias, when the layer has one, is one row of BiasParams values (for Attention the
// four projections' biases in the same order).
func paramShape(l *models.Layer) (rows, cols int64) {
	switch l.Kind {
	case models.Embedding:
		return int64(l.Vocab), int64(l.Out.C)
	case models.BatchNorm, models.LayerNorm:
		return 1, int64(l.In.C)
	case models.Attention:
		return 4 * int64(l.In.C), int64(l.In.C)
	case models.PosEmbedding:
		return int64(l.In.C), int64(l.In.H) * int64(l.In.W)
	}
	_, n, k := l.GEMMDims()
	return n * int64(l.NumGroups()), k
}

// allocateParams lays out a weight layer's parameters: the weights as the GEMMs (or the
// vector unit) read them, and what the update reads and writes. Every kind's weights
// and bias are treated alike: b-bit integers updated in place for RCT (with an int16
// momentum buffer under integer momentum), int8 integers and an int16 update buffer
// for NITI, an fp32 master copy (and momentum) behind a b-bit copy for QAT and an
// E4M3 copy for FP8, fp32 (and momentum) for FP32. Under an update mask only what is
// updated has state: a frozen tensor is its copy alone, and a layer updating a
// fraction of its channels keeps masters, momentum and buffers for those rows only.
func (c *compiler) allocateParams(i int) {
	l := &c.net.Layers[i]
	cout, k := paramShape(l)
	n := c.num
	name := l.Name
	w := c.newMat(name+".w", ClassWeights, i, cout, k, n.wBits[i], n.capBits[i])
	c.gemmW[i] = w
	var b mat2
	nb := l.BiasParams()
	if nb > 0 {
		b = c.newMat(name+".b", ClassWeights, i, 1, nb, n.wBits[i], n.capBits[i])
		c.biasW[i] = b
	}
	if c.opt.ForwardOnly {
		return
	}
	add := func(list *[]paramState, m mat2, class TensorClass, load, store bool) {
		*list = append(*list, paramState{m: m, class: class, load: load, store: store})
	}
	u := n.upd[i]
	for _, bias := range []bool{false, true} {
		if bias && (nb == 0 || !u.Bias) || !bias && u.Weights == 0 {
			continue
		}
		list, rows, cols, quant, suffix := &c.state[i], int64(u.UpdatedRows(int(cout))), k, w, ""
		if bias {
			list, rows, cols, quant, suffix = &c.bstate[i], 1, nb, b, "b"
		}
		switch c.opt.Method {
		case numerics.RCT, numerics.NITI:
			add(list, quant, ClassWeights, true, true)
			if !n.acc {
				break
			}
			add(list, c.newMat(name+".acc_"+suffix+"w", ClassOptimizerState, i, rows, cols, numerics.NITIAccBits, numerics.NITIAccBits), ClassOptimizerState, true, true)
		case numerics.QAT, numerics.FP8:
			add(list, c.newMat(name+".master_"+suffix+"w", ClassMasterWeights, i, rows, cols, 32, 32), ClassMasterWeights, true, true)
			if n.momentum {
				add(list, c.newMat(name+".momentum_"+suffix+"w", ClassOptimizerState, i, rows, cols, 32, 32), ClassOptimizerState, true, true)
			}
			add(list, quant, ClassWeights, false, true)
		case numerics.FP32:
			add(list, quant, ClassWeights, true, true)
			if n.momentum {
				add(list, c.newMat(name+".momentum_"+suffix+"w", ClassOptimizerState, i, rows, cols, 32, 32), ClassOptimizerState, true, true)
			}
		}
	}
}
