package dram

import (
	"fmt"
	"strings"
)

// field is one address field of the mapping notation.
type field uint8

const (
	fieldRow field = iota
	fieldChannel
	fieldRank
	fieldBankGroup
	fieldBank
	fieldColumn
	numFields
)

// fieldTokens are the DRAMsim3/Ramulator two-letter names, indexed by field.
var fieldTokens = [numFields]string{"ro", "ch", "ra", "bg", "ba", "co"}

// DefaultMapping is used when the spec leaves address_mapping empty. It is DRAMsim3's
// usual "rochrababgco": consecutive bursts fill a row, then move to the next bank group
// and bank, so a sequential stream opens every bank before it revisits one and the
// activates of neighbouring rows overlap.
const DefaultMapping = "rochrababgco"

// Mapping is a parsed address-mapping string: the order of the six address fields.
// The zero Mapping is not valid; get one from ParseMapping.
type Mapping struct {
	// msbFirst lists the fields from most to least significant, as written.
	msbFirst [numFields]field
}

// ParseMapping reads an address mapping in the DRAMsim3/Ramulator notation: six
// two-letter tokens, from the most to the least significant address bits, each exactly
// once: ro (row), ch (channel), ra (rank), bg (bank group), ba (bank), co (column).
//
// The row must be the first (most significant) token: a DRAMSpec gives no device
// capacity, so the row takes all address bits left above the other fields and nothing
// can sit above it.
func ParseMapping(s string) (Mapping, error) {
	var m Mapping
	if len(s) != 2*int(numFields) {
		return m, fmt.Errorf("address mapping %q: want %d two-letter tokens (%s), each once", s, numFields, strings.Join(fieldTokens[:], ","))
	}
	var seen [numFields]bool
	for i := range int(numFields) {
		tok := s[2*i : 2*i+2]
		f, ok := tokenField(tok)
		if !ok {
			return m, fmt.Errorf("address mapping %q: unknown field %q (want one of %s)", s, tok, strings.Join(fieldTokens[:], ","))
		}
		if seen[f] {
			return m, fmt.Errorf("address mapping %q: field %q appears twice", s, tok)
		}
		seen[f] = true
		m.msbFirst[i] = f
	}
	if m.msbFirst[0] != fieldRow {
		return m, fmt.Errorf("address mapping %q: the row (ro) must be the most significant field, since the DRAM size is not given", s)
	}
	return m, nil
}

func tokenField(tok string) (field, bool) {
	for f, t := range fieldTokens {
		if t == tok {
			return field(f), true
		}
	}
	return 0, false
}

// String returns the mapping in its notation, e.g. "rochrababgco".
func (m Mapping) String() string {
	var b strings.Builder
	for _, f := range m.msbFirst {
		b.WriteString(fieldTokens[f])
	}
	return b.String()
}

// Location is where an address lands in the device.
type Location struct {
	Channel   int
	Rank      int
	BankGroup int
	Bank      int // within its bank group
	Row       uint64
	Column    int // burst index within the row (the column in units of bursts)
}

// decoder holds the bit positions of each field, fixed at New.
type decoder struct {
	shift [numFields]uint
	mask  [numFields]uint64 // unused for the row, which takes all bits above its shift
}

// newDecoder lays the fields out from the least significant bit upward, above
// offsetBits bits of offset within a burst, with widths[f] bits per field (the row's
// width is ignored: it takes the rest).
func newDecoder(m Mapping, offsetBits uint, widths [numFields]uint) (decoder, error) {
	var d decoder
	pos := offsetBits
	for i := int(numFields) - 1; i >= 0; i-- {
		f := m.msbFirst[i]
		d.shift[f] = pos
		if f == fieldRow {
			break // ParseMapping put the row first, so it is the last one here
		}
		d.mask[f] = 1<<widths[f] - 1
		pos += widths[f]
	}
	if pos >= 64 {
		return d, fmt.Errorf("address fields below the row need %d bits, leaving none for the row", pos)
	}
	return d, nil
}

func (d *decoder) get(addr uint64, f field) uint64 {
	return addr >> (d.shift[f] & 63) & d.mask[f] // shifts are below 64: no check needed
}

func (d *decoder) decode(addr uint64) Location {
	return Location{
		Channel:   int(d.get(addr, fieldChannel)),
		Rank:      int(d.get(addr, fieldRank)),
		BankGroup: int(d.get(addr, fieldBankGroup)),
		Bank:      int(d.get(addr, fieldBank)),
		Row:       addr >> d.shift[fieldRow],
		Column:    int(d.get(addr, fieldColumn)),
	}
}

// place decodes addr as the scheduler indexes it: its channel, bank within the channel and row.
func (c *config) place(addr uint64) (ch, local int, row uint64) {
	d := &c.dec
	ch = int(d.get(addr, fieldChannel))
	local = int(d.get(addr, fieldRank)<<(c.rankLocalShift&63) | d.get(addr, fieldBankGroup)<<(c.bgLocalShift&63) | d.get(addr, fieldBank))
	return ch, local, addr >> (d.shift[fieldRow] & 63)
}
