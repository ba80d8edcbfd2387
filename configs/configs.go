// Package configs embeds the hardware profiles shipped with rctsim, so that every
// command works without files on disk; each value in them cites its source.
package configs

import "embed"

// FS holds the embedded profiles (*.toml at the top level); read them with hw.LoadFS.
// Sweep specs will live in a sweeps/ folder, added to the embed pattern when it exists.
//
//go:embed *.toml
var FS embed.FS

// Default is the name in FS of the profile every command uses unless told otherwise.
const Default = "default.toml"
