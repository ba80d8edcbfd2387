//go:build race

package sim

// raceDetector is true when the tests run under -race, whose instrumentation slows the
// DRAM model's inner loops about thirtyfold; the long table-driven tests then keep the
// cases that exercise concurrency and leave the rest to the ordinary run.
const raceDetector = true
