package models

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteSummary writes one line per layer of net (its name, kind, input and output
// shapes per example, parameters and forward MACs per example, and the layer it
// reads or adds when that is not the previous one) and the totals.
func WriteSummary(w io.Writer, net *Network) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "#\tlayer\tkind\tinput\toutput\tparams\tforward MACs\treads\t\n")
	for i := range net.Layers {
		l := &net.Layers[i]
		var reads string
		if net.InputOf(i) != i-1 {
			reads = "input"
			if s := net.InputOf(i); s >= 0 {
				reads = net.Layers[s].Name
			}
		}
		if l.IsResidual() || l.Kind == Concat {
			if reads != "" {
				reads += " + "
			}
			reads += "+" + net.Layers[l.From].Name
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%v\t%d\t%d\t%s\t\n", i, l.Name, l.Kind, l.In, l.Out, l.Params(), l.MACs(Forward), reads)
	}
	fmt.Fprintf(tw, "\ttotal\t%d layers\t%v\t%d classes\t%d\t%d\t\t\n", len(net.Layers), net.Input, net.Classes, net.Params(), net.MACs(Forward, 1))
	return tw.Flush()
}

// WriteList lists the built-in models with their input, classes, layers, parameters
// and forward MACs per example.
func WriteList(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tinput\tclasses\tlayers\tparams\tforward MACs\t")
	for _, name := range AllNames() {
		net, err := ByName(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%v\t%d\t%d\t%d\t%d\t\n", name, net.Input, net.Classes, len(net.Layers), net.Params(), net.MACs(Forward, 1))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "Every command that takes --model also takes an ONNX file; rctsim models FILE.onnx describes one.")
	return err
}
