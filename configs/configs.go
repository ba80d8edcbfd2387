// Package configs embeds the hardware profiles shipped with rctsim, so that every
// command works without files on disk; each value in them cites its source. It also
// embeds the example sweep specs (sweeps/*.toml, read by sim/sweep).
package configs

import "embed"

// FS holds the embedded chip profiles (*.toml at the top level; read them with
// hw.LoadFS) and DRAM-only profiles (dram/*.toml; read them with hw.LoadDRAM).
// It also holds the example sweep specs (sweeps/*.toml; read them with sweep.LoadFS)
// and the technology cost table (costs/technology.toml; hw.Costs reads it).
//
//go:embed *.toml dram/*.toml sweeps/*.toml costs/*.toml
var FS embed.FS

// Default is the name in FS of the profile every command uses unless told otherwise.
const Default = "default.toml"
