package kernels

import "fmt"

// Functional descriptors. A GEMM or vector instruction's operands are tiles of tensors
// held in SRAM slots; timing needs only their sizes, but executing the instruction on
// real data (the simulator's functional mode) needs to know which elements a slot
// holds and in which order: the descriptor's boxes and tiles. The compiler attaches
// one to every GEMM and vector instruction, and to every gather or scatter, when
// Options.Functional is set.

// Box is the part of a DRAM tensor an SRAM slot holds. For an activation or error
// tensor ([images][channels][rows][width]) it is images [N0,N1), channels [C0,C1) and
// rows [H0,H1) at full width, stored densely in that order. For a packed weight matrix
// ([rows][columns] of b-bit integers, each row padded to a byte) it is rows [N0,N1)
// and columns [C0,C1): each row's bytes from the byte holding column C0 through the
// byte holding column C1-1, rows one after another (H0 and H1 unused).
type Box struct {
	N0, N1, C0, C1, H0, H1 int64
}

func (b Box) String() string {
	return fmt.Sprintf("%d:%d:%d:%d:%d:%d", b.N0, b.N1, b.C0, b.C1, b.H0, b.H1)
}

// Empty reports whether the box holds nothing.
func (b Box) Empty() bool { return b.N1 <= b.N0 || b.C1 <= b.C0 }

// Tile is a range of one GEMM dimension, flattened [Lo,Hi), with its coordinates:
// images [N0,N1) and rows [H0,H1) of an output-position dimension, or channels
// (groups) [C0,C1) of a channel dimension.
type Tile struct {
	Lo, Hi, N0, N1, H0, H1, C0, C1 int64
}

func (t Tile) String() string {
	return fmt.Sprintf("%d:%d:%d:%d:%d:%d:%d:%d", t.Lo, t.Hi, t.N0, t.N1, t.H0, t.H1, t.C0, t.C1)
}

func exportTile(t tile) Tile { return Tile{t.lo, t.hi, t.n0, t.n1, t.h0, t.h1, t.c0, t.c1} }

// Role says what an instruction computes where its op, its layer's kind and its phase
// leave it open: which of an attention layer's products (and their epilogues), which
// of a normalisation's per-channel steps, and whether an update is of a bias.
type Role uint8

// Roles.
const (
	RoleNone Role = iota
	// RoleBias marks the update of a layer's bias (or a normalisation's shift): the
	// second tensor of the layer's parameters.
	RoleBias

	// Attention's products (kernels/attention.go), and the vector instructions of
	// their epilogues, bias gradients and updates.
	RoleQKV     // [Q K V] = x [Wq Wk Wv]^T (the projections of rows [0, 3D))
	RoleScores  // S = Q_h K_h^T, then the softmax
	RoleContext // O_h = P_h V_h
	RoleOut     // y = O Wo^T (the projection of rows [3D, 4D))
	RoleDP      // dP = dO_h V_h^T, then the softmax's backward pass
	RoleDV      // dV_h = P_h^T dO_h
	RoleDQ      // dQ_h = dS_h K_h
	RoleDK      // dK_h = dS_h^T Q_h

	// The per-channel (or per-position) steps of a normalisation (VNormScale).
	RoleNormCoefs     // statistics and parameters to the forward pass's coefficients
	RoleNormRunning   // batch normalisation's running statistics move towards the batch's
	RoleNormGrads     // sums of the backward pass to the gradients of scale and shift
	RoleNormBackCoefs // sums and parameters to the coefficients of the input's error
	RoleNormParams    // layer normalisation's backward: its parameters into records
	// RoleNormMax marks the first pass over a normalisation that takes several chunks:
	// it finds the largest coefficient, which sets the exponent the second pass fixes
	// every coefficient at.
	RoleNormMax
	NumRoles
)

var roleNames = [...]string{"none", "bias", "qkv", "scores", "context", "out", "dp", "dv", "dq", "dk",
	"norm_coefs", "norm_running", "norm_grads", "norm_back_coefs", "norm_params", "norm_max"}

func (r Role) String() string {
	if r < NumRoles {
		return roleNames[r]
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole is the inverse of Role.String.
func ParseRole(s string) (Role, error) {
	for i, n := range roleNames {
		if n == s {
			return Role(i), nil
		}
	}
	return 0, fmt.Errorf("unknown role %q", s)
}

// FuncDesc says what a GEMM or vector instruction's operands hold.
//
// A GEMM of layer l in phase p computes its M x N tile (M, N) over reduction tile K;
// its operands A and B hold boxes of the tensors the phase reads (forward: the input
// activations and the weights; backward-data: the output error and the weights;
// backward-weight: the input activations and the output error), and the array forms
// the im2col rows on the fly from the layer's geometry. Its accumulators are an M x N
// row-major tile of int32 (or float32). The tiles of a grouped kernel are within its
// product Group; the boxes are in the tensors' own coordinates.
//
// A vector instruction's boxes describe its operands in the same way; an operand that
// is an accumulator tile has an empty box and the M and N tiles give its shape.
//
// A gather or scatter (Instr.Gather), and a vector instruction over gathered table
// rows, names in Index the SRAM bytes that hold the row indices, one byte each in row
// order.
type FuncDesc struct {
	M, N, K Tile
	A, B, C Box
	// Group is the product of a grouped kernel (a grouped convolution's group, an
	// attention layer's example*heads+head) the instruction belongs to.
	Group int64
	Role  Role
	Index SRAMRef
}

// Extended reports whether the descriptor uses the fields beyond the tiles and boxes.
func (f *FuncDesc) Extended() bool {
	return f.Group != 0 || f.Role != RoleNone || f.Index != (SRAMRef{})
}
