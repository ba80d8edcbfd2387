package main

import (
	"fmt"
	"io"

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
		return output(e, out, models.WriteList)
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
