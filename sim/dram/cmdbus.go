package dram

import "math/bits"

// cmdWindowWords sets how far back the command bus remembers booked slots:
// 64*cmdWindowWords cycles behind the latest booking. It must cover the distance
// between a request's activate and its column command when the data bus is backed up;
// 1024 cycles is many row cycles at any LPDDR/DDR speed.
const cmdWindowWords = 16

const cmdWindow = 64 * cmdWindowWords

// cmdBus books the one-command-per-cycle command bus of a channel. Commands of later
// requests may take free slots earlier than those of earlier requests (a controller
// opens the next row while the previous request still waits for the data bus), so the
// bus is a set of booked cycles rather than a single next-free cycle. It keeps a sliding
// bitmap: a request for a slot older than the window is moved up to the window start,
// which is pessimistic but never double-books a cycle.
type cmdBus struct {
	base uint64                 // first remembered cycle, a multiple of 64
	used [cmdWindowWords]uint64 // ring: bit t%64 of word (t/64)%cmdWindowWords is cycle t
}

// book takes the first free command slot at or after cycle t and returns it.
func (b *cmdBus) book(t uint64) uint64 {
	if t < b.base {
		t = b.base
	}
	for {
		if t >= b.base+cmdWindow {
			b.slide(t)
		}
		w := &b.used[(t/64)%cmdWindowWords]
		if free := ^*w >> (t % 64); free != 0 {
			t += uint64(bits.TrailingZeros64(free))
			*w |= 1 << (t % 64)
			return t
		}
		t = (t/64 + 1) * 64
	}
}

// slide moves the window forward so that it ends just after cycle t, forgetting the
// slots that fall out of it.
func (b *cmdBus) slide(t uint64) {
	newBase := (t/64 + 1 - cmdWindowWords) * 64
	if newBase-b.base >= cmdWindow {
		b.used = [cmdWindowWords]uint64{}
	} else {
		for x := b.base; x < newBase; x += 64 {
			b.used[(x/64)%cmdWindowWords] = 0
		}
	}
	b.base = newBase
}
