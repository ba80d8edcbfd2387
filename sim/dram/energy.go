package dram

// Energy is the DRAM energy of a run, in pJ, split by cause.
type Energy struct {
	ActivatePJ   float64 // activates, each including its precharge
	ReadPJ       float64 // bits read
	WritePJ      float64 // bits written
	BackgroundPJ float64 // background power over the elapsed time
	RefreshPJ    float64 // refresh power over the elapsed time
}

// TotalPJ returns the sum of the parts.
func (e Energy) TotalPJ() float64 {
	return e.ActivatePJ + e.ReadPJ + e.WritePJ + e.BackgroundPJ + e.RefreshPJ
}

// EnergyFor returns the energy of the events in s over elapsedCycles DRAM cycles (the
// caller decides the span: usually s.LastDataEnd, or the whole run converted to DRAM
// cycles so that idle time pays background power too). Background and refresh power
// are taken as the whole device's (all channels).
func (c *Controller) EnergyFor(s Stats, elapsedCycles uint64) Energy {
	// mW * s = 1e-3 J = 1e9 pJ; elapsed seconds = cycles / clock.
	pJPerMW := 1e9 * float64(elapsedCycles) / float64(c.clock.Hz())
	return Energy{
		ActivatePJ:   float64(s.Activates) * c.spec.ActivateEnergyPJ,
		ReadPJ:       float64(s.ReadBytes) * 8 * c.spec.ReadEnergyPJPerBit,
		WritePJ:      float64(s.WriteBytes) * 8 * c.spec.WriteEnergyPJPerBit,
		BackgroundPJ: c.spec.BackgroundPowerMW * pJPerMW,
		RefreshPJ:    c.spec.RefreshPowerMW * pJPerMW,
	}
}
