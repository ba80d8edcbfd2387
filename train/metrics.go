// The metrics log of a training run: one CSV row per step.

package train

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

// MetricsHeader is the header of metrics.csv. Columns:
//   - step: the training step, from 0 (as in the precision schedule);
//   - epoch: the epoch the step belongs to, from 0;
//   - loss: the step's mean training cross-entropy per labelled position (nats);
//   - train_acc: the fraction of the step's labelled positions predicted right;
//   - avg_bits: the weights' mean width during the step, weighted by parameter count
//     (32 for fp32);
//   - test_loss, test_acc: the evaluation after the step (mean cross-entropy per
//     labelled position and accuracy on the test set), empty at steps without one;
//   - test_bpc: the evaluation's loss in bits per character for sequence models,
//     empty otherwise.
//
// Numbers are written in Go's shortest exact form (strconv 'g', -1), so identical runs
// give identical bytes.
const MetricsHeader = "step,epoch,loss,train_acc,avg_bits,test_loss,test_acc,test_bpc"

// MetricsRow is one step of the metrics log.
type MetricsRow struct {
	Step, Epoch int
	Loss        float64
	TrainAcc    float64
	AvgBits     float64
	// Eval is the evaluation after the step, nil when there was none.
	Eval *EvalResult
	// Sequence marks a sequence model, whose evaluation has a bits-per-character figure.
	Sequence bool
}

// MetricsWriter writes metrics.csv. Output is buffered: call Flush at the end.
type MetricsWriter struct {
	w      *csv.Writer
	header bool
	rec    []string
}

// NewMetricsWriter returns a writer of metrics rows to w; the header is written with
// the first row.
func NewMetricsWriter(w io.Writer) *MetricsWriter {
	return &MetricsWriter{w: csv.NewWriter(w), rec: make([]string, 8)}
}

// Write writes one row.
func (m *MetricsWriter) Write(r MetricsRow) error {
	if !m.header {
		m.header = true
		if err := m.w.Write(strings.Split(MetricsHeader, ",")); err != nil {
			return err
		}
	}
	rec := m.rec
	rec[0], rec[1] = strconv.Itoa(r.Step), strconv.Itoa(r.Epoch)
	rec[2], rec[3], rec[4] = formatFloat(r.Loss), formatFloat(r.TrainAcc), formatFloat(r.AvgBits)
	rec[5], rec[6], rec[7] = "", "", ""
	if r.Eval != nil {
		rec[5], rec[6] = formatFloat(r.Eval.Loss), formatFloat(r.Eval.Accuracy)
		if r.Sequence {
			rec[7] = formatFloat(r.Eval.BitsPerChar)
		}
	}
	return m.w.Write(rec)
}

// Flush writes buffered rows and reports any error of this or an earlier write.
func (m *MetricsWriter) Flush() error {
	m.w.Flush()
	return m.w.Error()
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
