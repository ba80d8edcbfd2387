package hw

import (
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// BufferFor returns the buffer that holds role (RoleWeights, RoleInputs or RoleOutputs),
// or ("", nil) when none does; a validated profile always has one.
func (p *Profile) BufferFor(role string) (name string, spec *SRAMSpec) {
	for _, n := range p.BufferNames() {
		for _, r := range p.SRAM[n].holdsOrNil() {
			if r == role {
				return n, p.SRAM[n]
			}
		}
	}
	return "", nil
}

func (s *SRAMSpec) holdsOrNil() []string {
	if s == nil {
		return nil
	}
	return s.Holds
}

// BufferNames returns the names of the SRAM buffers, sorted, so that every walk over
// them is deterministic.
func (p *Profile) BufferNames() []string {
	names := make([]string, 0, len(p.SRAM))
	for n := range p.SRAM {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SRAMBytes is the total capacity of all SRAM buffers.
func (p *Profile) SRAMBytes() ByteSize {
	var total ByteSize
	for _, s := range p.SRAM {
		if s != nil {
			total += s.Capacity
		}
	}
	return total
}

// BurstBytes is the data one burst moves on one channel: bus_width_bits/8 x burst_length.
func (d *DRAMSpec) BurstBytes() int { return d.BusWidthBits / 8 * d.BurstLength }

// Clock is the DRAM command clock, half the data rate (two transfers per clock); the
// DRAM timings given in cycles count this clock.
func (d *DRAMSpec) Clock() Frequency { return Frequency(int64(d.DataRate) / 2) }

// PeakBytesPerSecond is the bandwidth of all channels transferring back to back; ranks
// share their channel's bus and add none.
func (d *DRAMSpec) PeakBytesPerSecond() float64 {
	return float64(d.Channels) * float64(d.BusWidthBits) / 8 * float64(d.DataRate)
}

// OpEnergy returns the energy in pJ of one vector-lane operation on one element.
//
// For float != "" ("fp32", "fp16", "bf16", "fp8") it is that format's energy; fp8 costs
// fp16's (its element-wise work runs in fp16 lanes); a format left at
// 0 widens as the MAC array does (bf16 to fp16 to fp32, fp16 to fp32), and an unknown
// format costs fp32, the widest. Otherwise bits is an integer width rounded up to a
// listed one: <= 8 is int8, <= 16 is int16 (int32 if int16 is 0), <= 32 is int32, and a
// wider element (a 48-bit accumulator, say) costs one int32 operation per 32 bits.
func (v *VectorSpec) OpEnergy(bits int, float string) float64 {
	e := v.OpEnergyPJ
	firstPositive := func(xs ...float64) float64 {
		for _, x := range xs {
			if x > 0 {
				return x
			}
		}
		return 0
	}
	switch float {
	case "":
	case "bf16":
		return firstPositive(e.BF16, e.FP16, e.FP32)
	case "fp16", "fp8":
		// fp8 element-wise work runs in the vector unit's fp16 lanes.
		return firstPositive(e.FP16, e.FP32)
	default:
		return e.FP32
	}
	switch {
	case bits <= 8:
		return firstPositive(e.Int8, e.Int16, e.Int32)
	case bits <= 16:
		return firstPositive(e.Int16, e.Int32)
	case bits <= 32:
		return e.Int32
	}
	return e.Int32 * float64((bits+31)/32)
}

// ProfileSummary holds the key figures of a profile for listings (rctsim profiles) and
// for the records of a run (compare.json), where its JSON names are used.
type ProfileSummary struct {
	Name     string    `json:"name"`
	Rows     int       `json:"rows"`
	Cols     int       `json:"cols"`
	Dataflow Dataflow  `json:"dataflow"`
	Clock    Frequency `json:"clock"`
	Modes    []string  `json:"modes"` // as MACMode.String, in profile order
	// PeakMode is the mode PeakGOPS is quoted for: 8x8 when the chip has it, else its
	// narrowest integer mode, else its fastest float mode.
	PeakMode string `json:"peak_mode"`
	// PeakGOPS is 2 x rows x cols x MACs/PE/cycle x clock / 1e9 (a MAC is two ops).
	PeakGOPS     float64  `json:"peak_gops"`
	SRAMBytes    ByteSize `json:"sram_bytes"`
	SRAMBuffers  int      `json:"sram_buffers"`
	DRAMKind     string   `json:"dram_kind"`
	DRAMPeakGBps float64  `json:"dram_peak_gbps"` // 1e9 bytes per second
	HasFloat     bool     `json:"has_float"`
	TrainFloat   string   `json:"train_float,omitempty"`
	// Node, AreaMM2 (the whole chip with its DRAM interface) and LeakageMW (its static
	// power) are Silicon's.
	Node      string  `json:"technology_node"`
	AreaMM2   float64 `json:"area_mm2"`
	LeakageMW float64 `json:"leakage_mw"`
}

// Summary returns the key figures of p.
func (p *Profile) Summary() ProfileSummary {
	s := ProfileSummary{
		Name:         p.Name,
		Rows:         p.MACArray.Rows,
		Cols:         p.MACArray.Cols,
		Dataflow:     p.MACArray.Dataflow,
		Clock:        p.Clock,
		SRAMBytes:    p.SRAMBytes(),
		SRAMBuffers:  len(p.SRAM),
		DRAMKind:     p.DRAM.Kind,
		DRAMPeakGBps: p.DRAM.PeakBytesPerSecond() / 1e9,
		HasFloat:     p.HasFloat(),
		TrainFloat:   p.MACArray.TrainFloat,
	}
	si := p.Silicon()
	s.Node, s.AreaMM2, s.LeakageMW = si.Node, si.TotalAreaMM2, si.TotalLeakageMW
	for _, m := range p.MACArray.Modes {
		s.Modes = append(s.Modes, m.String())
	}
	if m, ok := p.peakMode(); ok {
		s.PeakMode = m.String()
		s.PeakGOPS = 2 * p.MACArray.PeakMACsPerCycle(m) * float64(p.Clock) / 1e9
	}
	return s
}

func (p *Profile) peakMode() (MACMode, bool) {
	best, bestFloat := -1, -1
	for i, m := range p.MACArray.Modes {
		if m.IsFloat() {
			if bestFloat < 0 || m.MACsPerPEPerCycle > p.MACArray.Modes[bestFloat].MACsPerPEPerCycle {
				bestFloat = i
			}
			continue
		}
		if m.WeightBits == 8 && m.ActBits == 8 {
			return m, true
		}
		if best < 0 || m.WeightBits*m.ActBits < p.MACArray.Modes[best].WeightBits*p.MACArray.Modes[best].ActBits {
			best = i
		}
	}
	switch {
	case best >= 0:
		return p.MACArray.Modes[best], true
	case bestFloat >= 0:
		return p.MACArray.Modes[bestFloat], true
	}
	return MACMode{}, false
}

// String prints the summary on one line.
func (s ProfileSummary) String() string {
	float := "no float"
	if s.HasFloat {
		float = "trains in " + s.TrainFloat
	}
	return fmt.Sprintf("%s: %dx%d %s @ %s, modes %s, peak %.1f GOPS (%s), SRAM %s in %d buffer(s), %s %.1f GB/s, %s; %s, %.2f mm2, %.1f mW leakage",
		s.Name, s.Rows, s.Cols, s.Dataflow, s.Clock, strings.Join(s.Modes, ","), s.PeakGOPS, s.PeakMode,
		s.SRAMBytes, s.SRAMBuffers, s.DRAMKind, s.DRAMPeakGBps, float, s.Node, s.AreaMM2, s.LeakageMW)
}

// WriteSummaries validates the profiles named in fsys and prints one table line each
// (file, name, node, area, leakage, array, clock, modes, peak throughput, SRAM, DRAM
// and its bandwidth, training float), "INVALID" for a profile that does not load. It returns the load
// errors, one per invalid profile, naming each file as dir/name (dir "" for an
// embedded file system).
func WriteSummaries(w io.Writer, fsys fs.FS, dir string, names []string) ([]error, error) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tNAME\tNODE\tAREA mm2\tLEAKAGE mW\tARRAY\tCLOCK\tMODES\tPEAK GOPS\tSRAM\tDRAM\tGB/s\tTRAIN FLOAT")
	var bad []error
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		var p *Profile
		if err == nil {
			p, err = decodeBytes(data, filepath.Join(dir, n))
		}
		if err != nil {
			bad = append(bad, err)
			fmt.Fprintf(tw, "%s\tINVALID\t\t\t\t\t\t\t\t\t\t\t\n", n)
			continue
		}
		s := p.Summary()
		float := s.TrainFloat
		if float == "" {
			float = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.1f\t%dx%d %s\t%s\t%s\t%.0f (%s)\t%s in %d\t%s\t%.1f\t%s\n", n, s.Name, s.Node, s.AreaMM2, s.LeakageMW, s.Rows, s.Cols, s.Dataflow, s.Clock,
			strings.Join(s.Modes, ","), s.PeakGOPS, s.PeakMode, s.SRAMBytes, s.SRAMBuffers, s.DRAMKind, s.DRAMPeakGBps, float)
	}
	return bad, tw.Flush()
}
