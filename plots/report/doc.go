// Package report writes report.html: one self-contained page that shows an experiment
// in a browser. It reads the result files of a comparison or training run folder
// (compare.json, run.json, metrics.csv, ...) or of a sweep (its CSV), draws their
// figures with package figures, and lays out beside them the numbers they come from.
//
// A page holds everything it shows: figures are inline SVG (rendered by plots.Render),
// the style sheet is inline, and the only script (which makes the sweep's table of
// points sortable) is inline and optional: with scripts off the page reads the same,
// in point order. Nothing is fetched, so the page works from file://, by mail and
// offline. Links point to the CSV and JSON files next to the page, relative to the
// folder the page is written into.
//
// A page of a comparison has the headline table (accuracy or bits per character,
// average bits, energy by component, parameter memory final and peak, DRAM footprint,
// simulated time), the RCT paper's figures with the ledger cells they sum, the device
// check, every figure of the run with a caption saying what it shows and the command
// that re-draws it, the settings (the chip's key figures, model, data, every method's
// options, seed, versions) and the files. A page of a training run has its outcome,
// its training figures and settings. A page of a sweep has its best points, heat maps
// and Pareto fronts chosen from the CSV's columns, a table of every point, the failed
// points with their errors and the constraint violations.
//
// Pages are built with html/template, so every value read from a file or given on the
// command line is escaped: a run named "<script>" is shown as that text.
package report
