package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/rctsim/rctsim/configs"
	"github.com/rctsim/rctsim/hw"
)

var cmdProfiles = &command{
	name:    "profiles",
	usage:   "[dir]",
	summary: "list hardware profiles (the embedded ones, or the *.toml files in dir) and validate each",
	run:     runProfiles,
}

func runProfiles(c *command, e *env, args []string) error {
	flags := newFlags(c, e)
	if err := parse(flags, args, 1); err != nil {
		return err
	}
	var fsys fs.FS = configs.FS
	where := "embedded configs"
	if flags.NArg() == 1 {
		where = flags.Arg(0)
		fsys = os.DirFS(where)
	}
	names, err := fs.Glob(fsys, "*.toml")
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("no *.toml profiles in %s", where)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tNAME\tARRAY\tCLOCK\tMODES\tPEAK GOPS\tSRAM\tDRAM\tGB/s\tTRAIN FLOAT")
	var bad []string
	for _, n := range names {
		p, err := hw.LoadFS(fsys, n)
		if err != nil {
			if flags.NArg() == 1 {
				err = fmt.Errorf("%s", strings.Replace(err.Error(), n, filepath.Join(where, n), 1))
			}
			bad = append(bad, err.Error())
			fmt.Fprintf(tw, "%s\tINVALID\t\t\t\t\t\t\t\t\n", n)
			continue
		}
		s := p.Summary()
		float := s.TrainFloat
		if float == "" {
			float = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%dx%d %s\t%s\t%s\t%.0f (%s)\t%s in %d\t%s\t%.1f\t%s\n", n, s.Name, s.Rows, s.Cols, s.Dataflow, s.Clock,
			strings.Join(s.Modes, ","), s.PeakGOPS, s.PeakMode, s.SRAMBytes, s.SRAMBuffers, s.DRAMKind, s.DRAMPeakGBps, float)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d invalid profile(s):\n%s", len(bad), strings.Join(bad, "\n"))
	}
	return nil
}
