package experiment

import (
	"runtime"
	"runtime/debug"
)

// Versions says which build of rctsim wrote a result: the Go toolchain, the module's
// version and, when the binary was built from a version-control checkout, the commit.
type Versions struct {
	Go     string `json:"go"`
	Module string `json:"module"`
	// Version is the main module's version as the Go command stamped it: a tag, a
	// pseudo-version, or "(devel)".
	Version string `json:"version,omitempty"`
	// Revision, Time and Modified are the version-control commit, its time and
	// whether the work tree had changes (vcs.revision, vcs.time and vcs.modified of
	// runtime/debug.BuildInfo); empty when the build recorded none (go run, go test).
	Revision string `json:"vcs_revision,omitempty"`
	Time     string `json:"vcs_time,omitempty"`
	Modified bool   `json:"vcs_modified,omitempty"`
}

// BuildVersions reads the running binary's versions from its build information.
func BuildVersions() Versions {
	v := Versions{Go: runtime.Version(), Module: "github.com/rctsim/rctsim"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	if bi.Main.Path != "" {
		v.Module, v.Version = bi.Main.Path, bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the versions on one line: "github.com/rctsim/rctsim v0.0.0-... (commit
// 1a2b3c4d5e6f, modified), go1.26.8".
func (v Versions) String() string {
	s := v.Module
	if v.Version != "" {
		s += " " + v.Version
	}
	if v.Revision != "" {
		rev := v.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " (commit " + rev
		if v.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s + ", " + v.Go
}
