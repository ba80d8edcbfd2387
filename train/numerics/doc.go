// Package numerics defines, once, the numbers of a training step: the training methods
// (RCT, QAT, FP32, NITI, FP8) and their update masks (sparse updates), a step's
// precision plan (each weight layer's bitwidth), the integer arithmetic of integer
// training (NITI's update included), bit for bit, and the FP8 formats.
//
// Three rooms compute with it and must agree: the host trainer (train), which runs the
// method on real data; the compiler (kernels), which takes methods and plans as input;
// and the simulated chip's functional mode (sim/functional), which executes the compiled
// instructions on real bytes with these functions so that the device check can compare
// it with the trainer bit for bit. The package is a leaf: it imports only the standard
// library, so none of the three depends on another to reach it.
//
// See ARCHITECTURE.md, "The method being simulated", for the number formats and the
// choices the RCT paper leaves open.
package numerics
