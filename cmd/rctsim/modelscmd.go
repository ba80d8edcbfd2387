package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/rctsim/rctsim/models"
)

var cmdModels = &command{
	name:    "models",
	usage:   "[--input-shape CxHxW] [-o FILE] [MODEL|FILE.onnx ...]",
	summary: "list the built-in models, or describe models layer by layer (kind, shapes, parameters, forward MACs) with totals",
	run:     runModels,
}

func runModels(c *command, e *env, args []string) error {
	var shape, out string
	fs := newFlags(c, e)
	fs.StringVar(&shape, "input-shape", "", inputShapeHelp)
	fs.StringVar(&out, "o", "", "write to `file` instead of stdout")
	if err := fs.parse(args, 1<<20); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		if shape != "" {
			return usagef("--input-shape applies to ONNX files; name one")
		}
		return output(e, out, writeModelList)
	}
	var nets []*models.Network
	for _, arg := range fs.Args() {
		net, err := openModel(arg, shape, false)
		if err != nil {
			return err
		}
		nets = append(nets, net)
	}
	return output(e, out, func(w io.Writer) error {
		for k, net := range nets {
			if k > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "%s (%s)\n", net.Name, fs.Arg(k))
			if err := models.WriteSummary(w, net); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeModelList lists the built-in models with their input, parameters and forward
// MACs per example.
func writeModelList(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tinput\tclasses\tlayers\tparams\tforward MACs\t")
	for _, name := range models.AllNames() {
		net, err := models.ByName(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%v\t%d\t%d\t%d\t%d\t\n", name, net.Input, net.Classes, len(net.Layers), net.Params(), net.MACs(models.Forward, 1))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "Every command that takes --model also takes an ONNX file; rctsim models FILE.onnx describes one.")
	return err
}
