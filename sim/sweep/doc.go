// Package sweep runs design-space sweeps: the simulated cost of training steps (or whole
// recorded training runs) over a product of hardware settings, models, methods,
// precision plans and batch sizes, written one row per configuration.
//
// A sweep is described by a TOML spec (Parse, Load, LoadFS), validated completely before
// any point runs, and executed by Run on a pool of workers, each point a timing-only
// simulation (kernels.Compile then sim.Machine.Run). Rows are appended to CSV (and
// optionally JSON Lines) files in point order as points finish, so an interrupted sweep
// keeps its work and a rerun of the same command resumes it; a Shard runs a
// deterministic part of the points on each node of a cluster, and Merge joins the parts.
// LoadGrid and LoadPoints read the results back as a heat-map grid and Pareto points.
//
// # Spec format
//
// Every key is optional. A minimal spec sweeps one key of the default profile:
//
//	[axes]
//	"mac_array.rows" = [8, 16, 32, 64]
//
// A full one:
//
//	name        = "lenet5_array_sram"   # labels progress lines
//	description = "..."                 # free text
//	base        = "default"             # the base profile (default "default"), or a list of them
//	models      = ["lenet5"]            # built-in models or .onnx files, relative to the spec (default ["lenet5"])
//	methods     = ["rct", "qat"]        # rct, qat, fp32, niti, fp8, any as METHOD@MASK (rct@last:3) (default ["rct"])
//	batch       = [8, 32]               # batch sizes (default [32])
//	dram        = "model"               # "model" (banks and rows, default) or "ideal"
//	fidelity    = "exact"               # "exact" (default) or "fast" (sim.FidelityFast)
//	pipeline_depth = 0                  # kernels.Options.PipelineDepth (0: default)
//	rct_momentum = 0.875                # rct points: integer momentum 1 - 2^-k, as train --rct-momentum (default 0: none)
//
//	[set]                               # fixed overrides of every point, like --set
//	"dram.data_rate" = "2400MT/s"
//
//	[axes]                              # swept profile keys, the first varying slowest
//	"mac_array.rows,mac_array.cols" = [[8, 8], [16, 16], [32, 32]]
//	"sram.global.capacity" = ["64KiB", "256KiB", "1MiB"]
//
//	[[plans]]                           # precision plans (default: bits = 8)
//	bits = 8                            #   one width for every weight layer
//	[[plans]]
//	name = "mixed"                      #   a name for the plan column (default: the widths)
//	bits = [8, 6, 8, 8, 8]              #   one width per weight layer, in network order
//	[[plans]]
//	name = "rct-run"                    #   default: the run folder's name
//	schedule = "runs/lenet5-rct"        #   a `rctsim train` run folder, or its schedule.csv
//
//	[[points]]                          # optional explicit points (see below)
//	"sram.global.capacity" = "2MiB"
//	method = "rct"
//
// base names an embedded profile ("default", "edge_tpu", ...) when it has no "/" and no
// ".toml" suffix, else a profile file; relative paths (profiles, schedules) are relative
// to the spec's folder. A list of bases (base = ["default", "lnpu", "edge_tpu"]) runs
// the whole sweep on each, the base varying slowest, with a base column naming it; such
// a spec has no [axes] or [[points]] (a key path need not mean the same on different
// chips). A method with an update mask (numerics.ParseUpdate) trains only what the mask
// says: "rct@last:3", "qat@bias-only"; niti, fp8 and fp32 ignore the plan's widths.
//
// models, methods and batch take one value or an array. Lists must not repeat a value.
//
// Axes and [set] use the key paths of `rctsim sim --set` and hw.Profile.Set: every leaf
// of hw.KeyPaths, e.g. "mac_array.rows", "sram.global.capacity", "dram.data_rate",
// "mac_array.modes[3].energy_per_mac_pj". A path may be quoted ("sram.global.capacity")
// or written as bare dotted keys (sram.global.capacity); one with an index must be
// quoted. Values are written as in a profile file, units included ("256KiB",
// "3200MT/s", "800MHz", "18ns"). A linked axis names several paths separated by
// commas, and each of its values is an array with one value per path: the paths move
// together (square arrays above) instead of being crossed. Every axis value is applied
// to a copy of the base profile (with [set]) and validated there before anything runs,
// so a bad unit, an out-of-range value or a capacity that is not a multiple of the
// buffer's banks is an error at the value's line. A value that is valid on its own but
// not in combination with another axis's is a failed point (see Rows). Values that
// resolve to the same setting ("1MiB" and "1024KiB") are a repeat, and an error. The
// description cannot be swept (it changes no result, so its points would share a hash),
// and no value or plan name may hold a line break or another control character (a row
// is one line).
//
// A plan is a fixed width (2..32, one for all weight layers or one per weight layer;
// ignored by fp32, used as the fake-quantisation width by qat) or a recorded precision
// schedule (see package traces). A sweep never retrains: a schedule's point simulates
// each distinct plan of the schedule once (traces.Schedule.Runs: widths, next widths,
// controller activity) and reports the whole run's totals, each run of identical steps
// counted as many times as it has steps; the steps column says how many. A per-layer
// list must have one width per weight layer of every model it is combined with, and a
// schedule must list the weight layers of its model: pair them with [[points]] when a
// spec has several models.
//
// Points: without [[points]] the sweep is the full cartesian product of the axes (in
// file order, first slowest), models, batch sizes, methods and plans (plans fastest).
// Each [[points]] table instead fixes some of them: profile key paths (as in [axes])
// and the reserved keys model, method, plan (a plan's name) and batch; what a table does
// not fix is swept over the spec's axes and lists as usual, so a table with only
// "sram.global.capacity" = "64KiB" runs that capacity across every axis value, model,
// method, plan and batch. A table fixing one key of a linked axis must fix all of them.
// The tables run in order. Points are numbered from 0 in this order; the number is the
// point column and the unit of sharding.
//
// Constraints: a [constraints] table bounds metric columns of every point, each key a
// metric column (or its prefix, meaning its total: area_mm2 is area_mm2.total) and
// each value an operator and a number:
//
//	[constraints]
//	area_mm2 = "<= 4"          # mm2 of silicon, the chip's core and DRAM interface
//	power_mw = "<= 500"        # average power over the step
//
// Points outside them are still simulated and written, flagged in a violates column
// (the constraints they break, "; "-separated), and left out of Pareto fronts
// (LoadPoints, `rctsim plot --kind pareto`).
//
// # Rows
//
// Each point gives one row. The CSV columns are: point, hash, base (a spec with several
// bases only), one column per swept
// profile key (axes, then keys set by [[points]]; the resolved value as hw's Get prints
// it, e.g. "256KiB"), model, method, plan (its name), batch, steps (1 for a fixed plan,
// the run's length for a schedule), the metrics of `rctsim sim --format json`
// flattened as sim.Report.Columns names them (profile, cycles, seconds, energy_pj.total,
// energy_pj.dram, ..., memory_bytes.params, utilization.mac_array; whole-run totals
// for a schedule, with memory at its peak; a metric that is also a swept profile key,
// such as technology_node, is left to its profile column), violates (only with
// [constraints]), failure_kind and error. A point that fails (a tile that does not
// fit, a mode the chip lacks, a combination of values hw rejects)
// has empty metrics, its error on one line, and in failure_kind why it failed, found
// from the error's sentinels and type (errors.Is, errors.As), not its text:
//
//	no_fit            a layer does not fit the SRAM (kernels.ErrNoFit)
//	too_large         the step exceeds the compiler's bounds (kernels.ErrTooLarge)
//	unsupported_mode  the chip has no MAC mode for an operand format (hw.ErrUnsupportedMode)
//	unknown_model     no such model (models.ErrUnknownModel)
//	unknown_profile   no such profile (hw.ErrUnknownProfile)
//	invalid_input     a value of an input file or override is invalid (a *fileio.Error),
//	                  e.g. a combination of axis values that hw rejects
//	other             anything else: a simulator error, a panic
//
// The first two are findings about the design point, the others mistakes in what the
// sweep was given. A failed point does not stop the sweep; a point that ran has both
// columns empty. The JSON Lines output has one object per point with the same fields
// (failure_kind and error left out when empty) and the full sim.Report under "report".
//
// The hash is the first 16 hex digits of a SHA-256 over a canonical encoding of the
// point's full resolved configuration: every settable key of its profile (except the
// description) with its value, the model, method, plan content (the widths, or the
// schedule's layers and runs), batch, and the dram and pipeline_depth settings (and
// rct_momentum for an rct point with momentum, fidelity for a fast point). It
// does not depend on how the spec spells values or names plans, or on file paths.
//
// # Resuming and sharding
//
// Run appends each row with a single write of one complete line to a file opened for
// appending, in point order (a reorder window holds points that finish early), so the
// bytes written are the same whatever the number of workers, and a killed run leaves
// whole rows plus at most one torn last line. Rerunning cuts the torn line and skips
// every point whose hash the file already has; the result is byte-identical to an
// uninterrupted run. Options.Fresh starts over. Every output is checked, and an
// existing one read, before any is created, cut or started over: a bad one (a folder,
// another sweep's file, a path under a file) fails the run and leaves the others as
// they were, Fresh or not. A device or FIFO (-o /dev/null, a named pipe) is written as
// it is, never read back, cut or replaced: nothing is resumed from it, and every point
// the other outputs lack gets a row there. Cancelling Run's context (the command
// does on SIGINT and SIGTERM) stops the simulations in flight at their next
// instruction: their points get no row, the rows written stay whole, and a rerun
// resumes. A file whose header is not the spec's
// is refused, not mixed, and so is one written by an rctsim with other columns (one
// from before failure_kind, say): its rows cannot be completed without rerunning them,
// and rows of two layouts in one CSV would read wrongly. The error names the file and
// the columns it lacks or has in excess; start it over, or write to another file.
// Merge likewise refuses inputs whose headers differ. LoadGrid and LoadPoints find
// columns by name, so they read such older files as they are.
//
// Shard{i, N} runs a deterministic share of the points, the same spec and N on every
// node giving an exact partition (ShardOf is the assignment). The shards are balanced:
// the points are dealt in a stride order coprime with their number, so that each
// shard holds every combination of the innermost lists (plans, methods, batch sizes,
// models) as often as the others, to within one point, and a spread of the axes;
// shard sizes differ by at most one point. A shard writes its rows in point order.
// Estimate and EstimateShards give each point's and shard's expected simulation time
// from the models' sizes and the methods, without simulating, to see an imbalance
// before submission (`rctsim sweep --check --shard i/N`). Merge joins the shards' files by hash, in point order (the
// bytes of a single run), reporting duplicated points and, given the spec, naming the
// missing ones (the first MaxMissing of them; without the spec it reports the gaps in
// the point numbers). Every input must be a sweep output, header first: an empty file
// or another CSV is an error naming it.
//
// Memory stays flat with the number of points: rows are streamed, points are computed
// from their number on demand, the reorder window and the caches are bounded; only
// the hashes of rows already on disk are kept (8 bytes each). What a user's number
// sizes is bounded: workers (MaxWorkers), the window (MaxWindow), point numbers
// (MaxPoints), the lines of an output or merge input (4 MiB), the missing points a
// merge lists, and whole-run totals of a schedule are checked for overflow.
package sweep
