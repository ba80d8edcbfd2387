// Package fileio holds how rctsim reads and writes its files; Error is a problem at a
// position of an input file.
//
// It is a leaf: it imports only the standard library, so that every package that reads
// a file (hw, models, traces, sim/dram, sim/sweep) can share it.
package fileio
