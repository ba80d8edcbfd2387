// Package figures draws the figures of rctsim's result files: the energy, accuracy,
// bitwidth, memory, per-step energy and timeline figures of a comparison or training
// run folder (Folder), and heat maps and Pareto fronts of a sweep's CSV (Sweep). It
// reads the files and hands their numbers to package plots; it computes nothing that
// the files do not hold.
package figures
