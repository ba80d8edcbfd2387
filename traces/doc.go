// Package traces owns rctsim's file formats. This package reads and writes precision
// schedules (schedule.go); its sub-packages hold the formats that need the compiler or
// the engine, so that the trainer, which writes schedules, depends on neither:
// traces/program (program dumps that can be replayed) and traces/timeline (timeline
// export, Chrome trace-event JSON). Every format is documented here, in one place,
// with a section of its own; each format that is read back has a strict reader whose
// errors name file:line:column and the field (a fileio.Error), a deterministic writer,
// and a fuzz target.
//
// Three leaf packages serve every room that reads or writes text: traces/fileio
// (positioned errors, outputs that never leave half a file, CSV tables),
// traces/units (quantities printed for people) and traces/progress (progress lines).
//
// # Precision schedule
//
// A precision schedule is the per-step bitwidth plan of a training run: what the
// precision policy (train.Policy) chose for every weight layer at every step. The
// trainer writes it; the simulator reads it to replay the run, compiling and
// simulating each distinct plan once (Schedule.Runs); sweeps read it to drive or
// compare runs. It is CSV (RFC 4180, as encoding/csv reads and writes it) with the
// header
//
//	step,layer,bits,gavg
//
// followed by one row per weight layer per step:
//
//   - step: the training step (iteration) the row describes, counted from 0; an integer
//     in 0..2147483646. Rows of one step are consecutive and steps strictly increase
//     from one group of rows to the next.
//   - layer: the weight layer's name as the model defines it (models.Layer.Name, e.g.
//     conv1, fc3), non-empty, UTF-8, without control characters. The first step lists
//     every weight layer once, in network order; every later step lists exactly the same
//     layers in the same order, so a row is never missing and the layer order is the
//     order of the bit lists (Plan) the simulator hands to the compiler.
//   - bits: the layer's weight bitwidth during that step, an integer in 1..32 (units:
//     bits; RCT's integer weight width, QAT's fake-quantisation width).
//   - gavg: the precision controller's statistic for that layer at that step,
//     Gavg = mean(|lr*g|)/Δ: the average weight update in units of the layer's weight
//     grid step Δ (dimensionless; "grid steps"). It is empty when the controller did
//     not measure it at that step, and a step's rows either all carry gavg or all leave
//     it empty. A present gavg therefore also marks the steps where the controller ran
//     (for RCT every `interval` steps, after the interval's last step): the simulator
//     charges the controller's statistics work exactly at those steps, so writers must
//     leave gavg empty wherever the controller did not run. Values are decimal floats,
//     >= 0; NaN and +Inf are allowed (a diverged run is still a result).
//
// Widths apply to the step on their row: the policy's decision taken after step s
// appears as a change of bits at step s+1, and the step before a change is the step
// whose training also converts the layer's weights to the new width.
//
// Steps need not be consecutive: a step that is not listed keeps the widths of the
// last listed step before it, and is one where the controller did not run. This lets a
// hand-written schedule for a sweep list only the steps where widths change, plus its
// last step; the schedule covers the steps from its first listed step to its last.
// Writers of training runs list every step.
//
// Numbers are written canonically and deterministically: integers in decimal without
// sign or leading zeros, floats in Go's shortest exact form (strconv 'g', -1), so that
// reading a float gives back the very value written and the same run gives the same
// bytes. Readers accept any form strconv parses. A leading UTF-8 byte-order mark (as
// spreadsheets save) is ignored; blank lines are skipped; CRLF line ends are accepted.
//
// Example (a 3-layer network, RCT with interval 2, controller after steps 1 and 3):
//
//	step,layer,bits,gavg
//	0,conv1,8,
//	0,conv2,8,
//	0,fc1,8,
//	1,conv1,8,0.012
//	1,conv2,8,0.31
//	1,fc1,8,2.5
//	2,conv1,9,
//	2,conv2,8,
//	2,fc1,7,
//	...
//
// # Program dump
//
// A program dump is one compiled step (kernels.Program) as text, one instruction per
// line, so that a program can be read, diffed, edited and replayed with
// `rctsim sim --program FILE` on any profile with the same SRAM buffers. It starts with
// the line "rctsim-program 1" and a header:
//
//	model "lenet5"            the network (a Go-quoted string)
//	profile "default"         the profile it was compiled for
//	method "rct"              rct, qat or fp32
//	batch 32                  examples per step
//	buffer "global" 524288    one line per SRAM buffer: name and capacity in bytes, in
//	                          index order (operands refer to buffers by index)
//	tensor "conv1.w" weights 0 0x2d000 150 8
//	                          one line per DRAM tensor, in index order: name, class,
//	                          layer (-1 for none), address, bytes, bits per element
//
// then one line per instruction, numbered from 0 in program order, with the op, the
// phase, the layer index and the op's fields as key=value in a fixed order:
//
//	0 load forward 0 tensor=0 addr=0x0 rows=1 rowbytes=3136 stride=0 gather=false a=0:0:3136:activations:8 deps=
//	5 gemm forward 0 m=784 n=6 k=25 format=int wbits=8 abits=8 acc=false a=0:0:3136:activations:8 b=... c=... deps=1,2
//	7 vector forward 0 op=requant elems=4704 format=int bits=32 a=... b=- c=... deps=5
//
// Loads and stores move rows rows of rowbytes bytes, stride bytes apart, from address
// addr of tensor (a gather picks rows of the table by indices in the data). A GEMM
// multiplies an m x k tile by a k x n tile in format (int with wbits x abits operands,
// or fp32/fp16/bf16), adding to its accumulators when acc is true; a GEMM that computes
// a convolution (a weight layer's tile in any pass) also carries
// conv=N:M:C:R:S:E:F:U:D, the convolution in Eyeriss's terms (ifmaps, filters,
// channels, filter rows and columns, ofmap rows and columns, stride, dilation; see
// kernels.Instr.Conv), which a row stationary array maps. A vector op applies
// op to elems elements at bits-wide integer lanes or in format. Operands are
// buffer:offset:bytes:class:bits, or "-"; deps lists the earlier instructions on other
// units the instruction waits for (instructions on one unit run in program order).
// A program compiled for functional execution (kernels.Options.Functional) also
// carries, after the op's fields, fn=M;N;K;A;B;C on every GEMM and vector instruction
// and on every gather or scatter: the kernels.FuncDesc, three tiles of eight integers
// (lo:hi:n0:n1:h0:h1:c0:c1) and three boxes of six (n0:n1:c0:c1:h0:h1), followed by
// ;group;role;buffer:offset:bytes when any of those is set (the product of a grouped
// kernel, the kernels.Role by name, the SRAM bytes holding a gather's row indices).
// Blank lines and lines starting with # are ignored. Reading checks every field and then
// the program's structure (dependencies point backwards, operands inside their
// buffers, transfers inside their tensors) and sizes (kernels.Program.Validate, with
// checked arithmetic: a transfer of at most 2^20 rows and 2^26 bytes, GEMM dimensions
// up to 2^32, at most 2^50 MACs and 2^50 vector elements in all, tensors within 2^50
// bytes, integer operands at least one bit wide); an instruction that breaks a rule is
// reported at its line, with the field at fault.
//
// # Timeline
//
// A timeline records when each instruction of a simulated step ran. As CSV it has the
// header index,unit,op,phase,layer,start_cycle,end_cycle (accelerator cycles, one row per
// instruction in completion order); the timeline figure reads it. As Chrome trace-event
// JSON ({"traceEvents": [...]}, written by `rctsim sim --trace FILE`) every instruction
// is a complete event ("ph": "X") with "ts" and "dur" in microseconds, named by its op
// and layer and categorised by its phase, on one track per unit; DMA transfers in flight
// together are spread over tracks "dma 0", "dma 1", ... so that events on a track never
// overlap. Perfetto (ui.perfetto.dev) and chrome://tracing open it.
package traces
