// Package plots draws rctsim's figures from result tables: energy breakdowns,
// training curves, per-layer bitwidth heat maps, memory footprints, step
// timelines, sweep heat maps and Pareto plots.
//
// The package draws and nothing else: it takes plain Go values (the table
// types defined here), never runs a simulation and depends on no other rctsim
// package. The command line reads run folders into these tables and calls it.
//
// Every figure constructor validates its table and returns an error for bad
// input (empty tables, ragged rows, negative stacked values, ...) instead of
// letting gonum/plot panic. Constructors return a *Chart: a gonum plot plus
// the parts gonum does not lay out for us — a title, a legend placed above the
// data area (so it never covers data) and an optional colour bar under it.
// Save writes any Figure to PNG, SVG and PDF atomically.
//
// Colours come from the Okabe-Ito colour-blind-safe palette, and a method keeps
// its colour in every figure (see MethodColors). Output is deterministic: the
// same table gives byte-identical SVG and PNG files (PDF files carry a creation
// date).
package plots
