package dram

// EnergyModel is the energy of each DRAM event and the standby powers, resolved at New
// from whichever energy form the spec gives (see the package documentation).
type EnergyModel struct {
	// ActivatePJ is one activate, including its precharge.
	ActivatePJ float64
	// ReadPJ and WritePJ are one burst on the bus.
	ReadPJ, WritePJ float64
	// ReadPJPerBit and WritePJPerBit are ReadPJ and WritePJ per bit of the burst.
	ReadPJPerBit, WritePJPerBit float64
	// RefreshPJ is one all-bank refresh of one rank.
	RefreshPJ float64
	// ActiveStandbyMW and PrechargeStandbyMW are the background power of the whole
	// memory (all channels and ranks) with a row open in every rank, and with every
	// bank precharged; equal in the pJ form, which gives one background power.
	ActiveStandbyMW, PrechargeStandbyMW float64
	// RefreshMW is refresh energy averaged over time: every rank refreshes once per
	// tREFI.
	RefreshMW float64
}

// newEnergyModel resolves the spec's energy form. In the current form each term is
// DRAMsim3's (V * mA * cycles, per device) times the devices of a rank and tCK in ns,
// which makes it pJ.
func newEnergyModel(c *config) EnergyModel {
	sp := &c.spec
	tckNS := 1e9 / float64(c.clock.Hz())
	ranks := float64(c.channels * c.ranks)
	var e EnergyModel
	if sp.UsesCurrents() {
		devices := float64(sp.BusWidthBits / sp.DeviceWidthBits)
		v := sp.VDDV * devices * tckNS // pJ per mA*cycle
		e.ActivatePJ = v * (sp.IDD0MA*float64(c.rc) - (sp.IDD3NMA*float64(c.ras) + sp.IDD2NMA*float64(c.rp)))
		e.ReadPJ = v * (sp.IDD4RMA - sp.IDD3NMA) * float64(c.burst)
		e.WritePJ = v * (sp.IDD4WMA - sp.IDD3NMA) * float64(c.burst)
		e.RefreshPJ = v * (sp.IDD5MA - sp.IDD3NMA) * float64(c.rfc)
		e.ActiveStandbyMW = sp.VDDV * sp.IDD3NMA * devices * ranks
		e.PrechargeStandbyMW = sp.VDDV * sp.IDD2NMA * devices * ranks
		if c.refi > 0 {
			// pJ per ns is mW.
			e.RefreshMW = e.RefreshPJ * ranks / (float64(c.refi) * tckNS)
		}
	} else {
		bits := float64(8 * c.burstBytes)
		e.ActivatePJ = sp.ActivateEnergyPJ
		e.ReadPJ = sp.ReadEnergyPJPerBit * bits
		e.WritePJ = sp.WriteEnergyPJPerBit * bits
		e.ActiveStandbyMW = sp.BackgroundPowerMW
		e.PrechargeStandbyMW = sp.BackgroundPowerMW
		e.RefreshMW = sp.RefreshPowerMW
		if c.refi > 0 {
			e.RefreshPJ = sp.RefreshPowerMW * float64(c.refi) * tckNS / ranks
		}
	}
	if bits := float64(8 * c.burstBytes); bits > 0 {
		e.ReadPJPerBit, e.WritePJPerBit = e.ReadPJ/bits, e.WritePJ/bits
	}
	return e
}

// EnergyModel returns the energy of each event and the standby powers.
func (c *Controller) EnergyModel() EnergyModel { return c.cfg.energy }

// Energy is the DRAM energy of a run, in pJ, split by cause.
type Energy struct {
	ActivatePJ   float64 // activates, each including its precharge
	ReadPJ       float64 // read bursts
	WritePJ      float64 // write bursts
	BackgroundPJ float64 // standby power up to the last data burst
	RefreshPJ    float64 // refresh commands
}

// TotalPJ returns the sum of the parts.
func (e Energy) TotalPJ() float64 {
	return e.ActivatePJ + e.ReadPJ + e.WritePJ + e.BackgroundPJ + e.RefreshPJ
}

// Energy returns the energy of the events counted in s, with background power from
// cycle 0 to s.LastDataEnd: precharge standby for the rank-cycles with every bank
// closed, active standby for the rest.
func (c *Controller) Energy(s Stats) Energy {
	e := &c.cfg.energy
	tckNS := 1e9 / float64(c.cfg.clock.Hz())
	ranks := uint64(c.cfg.channels * c.cfg.ranks)
	total := s.LastDataEnd * ranks
	closed := min(s.ClosedRankCycles, total)
	// Standby powers are for the whole memory: per rank-cycle they are divided by the
	// ranks. mW * ns = pJ.
	perRankNS := tckNS / float64(ranks)
	return Energy{
		ActivatePJ: float64(s.Activates) * e.ActivatePJ,
		ReadPJ:     float64(s.ReadBursts) * e.ReadPJ,
		WritePJ:    float64(s.WriteBursts) * e.WritePJ,
		BackgroundPJ: perRankNS * (e.ActiveStandbyMW*float64(total-closed) +
			e.PrechargeStandbyMW*float64(closed)),
		RefreshPJ: float64(s.Refreshes) * e.RefreshPJ,
	}
}
