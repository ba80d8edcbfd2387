package hw

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// open reads the profile a user names: a TOML file if one exists at that path (a file
// wins), else the profile of that name in embedded ("edge_tpu" or "edge_tpu.toml",
// "dram/ddr4_3200" for a DRAM-only profile). It returns the profile's bytes and the
// name to read them under.
func open(name string, embedded fs.FS) (data []byte, source string, err error) {
	data, err = os.ReadFile(name)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return data, name, err
	}
	file := strings.TrimSuffix(name, ".toml") + ".toml"
	if data, err := fs.ReadFile(embedded, file); err == nil {
		return data, file, nil
	}
	return nil, name, fmt.Errorf("%s: no such file, nor an embedded profile (have %s): %w", name, strings.Join(profileNames(embedded), ", "), ErrUnknownProfile)
}

// profileNames lists the profiles in embedded by the names Open takes.
func profileNames(embedded fs.FS) []string {
	chips, _ := fs.Glob(embedded, "*.toml")
	drams, _ := fs.Glob(embedded, "dram/*.toml")
	names := append(chips, drams...)
	for i, n := range names {
		names[i] = strings.TrimSuffix(n, ".toml")
	}
	sort.Strings(names)
	return names
}

// Open reads the chip profile a user names (see open for the lookup) and applies sets,
// "key.path=value" overrides.
//
// A file named *.cfg is a SCALE-Sim v2 configuration (ParseScaleSimConfig), read as a
// profile on the embedded default (ScaleSimConfig.Profile).
func Open(name string, embedded fs.FS, sets []string) (*Profile, error) {
	data, source, err := open(name, embedded)
	if err != nil {
		return nil, err
	}
	var p *Profile
	if strings.HasSuffix(source, ".cfg") {
		p, err = openScaleSim(data, source, embedded)
	} else {
		p, err = decodeBytes(data, source)
	}
	if err != nil {
		return nil, err
	}
	if err := p.ApplySets(sets); err != nil {
		return nil, err
	}
	return p, nil
}

// OpenDRAM reads the DRAM of the profile a user names: a chip profile (with sets
// applied) or a DRAM-only profile (a file without a [mac_array] table; sets do not
// apply to it).
func OpenDRAM(name string, embedded fs.FS, sets []string) (DRAMSpec, error) {
	data, source, err := open(name, embedded)
	if err != nil {
		return DRAMSpec{}, err
	}
	if bytes.Contains(data, []byte("[mac_array")) {
		p, err := decodeBytes(data, source)
		if err != nil {
			return DRAMSpec{}, err
		}
		if err := p.ApplySets(sets); err != nil {
			return DRAMSpec{}, err
		}
		return p.DRAM, nil
	}
	if len(sets) > 0 {
		return DRAMSpec{}, fmt.Errorf("%s is a DRAM-only profile: --set applies to chip profiles; edit the file instead", source)
	}
	p, err := decodeDRAMBytes(data, source)
	if err != nil {
		return DRAMSpec{}, err
	}
	return p.DRAM, nil
}
