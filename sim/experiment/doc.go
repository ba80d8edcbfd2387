// Package experiment runs rctsim's experiments from Go: training a model into a run
// folder (Train), and comparing training methods on a chip (Compare): train each
// method on real data, compile and simulate every training step's precision plan,
// check the first RCT steps on the simulated device bit for bit, and compute the RCT
// paper's savings. The command line (rctsim train, compare, demo) only parses flags and
// calls this package, so a researcher can drive the same experiment from a program:
//
//	o := &experiment.CompareOptions{TrainOptions: ..., Profile: prof, Methods: methods, DeviceSteps: 2}
//	if err := o.Check(net); err != nil { ... }
//	data, dataset, err := experiment.LoadData(net, &o.TrainOptions)
//	res, err := experiment.Compare(ctx, net, data, dataset, o, experiment.Observer{Log: os.Stderr})
//
// The result's JSON form (Result) is compare.json; ReadFolder reads a folder back for
// figures and reports.
package experiment
