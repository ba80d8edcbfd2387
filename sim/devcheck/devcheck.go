// Package devcheck runs integer training steps both on the host trainer and
// functionally on the simulated device, and compares the two bit for bit: the check
// that the simulator executes the training step it times, and that its instruction
// semantics are the trainer's.
package devcheck

import (
	"fmt"
	"slices"

	"github.com/rctsim/rctsim/hw"
	"github.com/rctsim/rctsim/kernels"
	"github.com/rctsim/rctsim/models"
	"github.com/rctsim/rctsim/sim"
	"github.com/rctsim/rctsim/sim/functional"
	"github.com/rctsim/rctsim/train"
	"github.com/rctsim/rctsim/train/numerics"
)

// Result is the outcome of a check.
type Result struct {
	// Steps is how many steps ran on both sides and were compared.
	Steps    int
	BitExact bool
	// Compared counts the tensors compared; Detail names the first difference.
	Compared int
	Detail   string
	// BitChanges counts the weight layers' width changes the device executed (the
	// conversions of RCT's controller or another precision policy).
	BitChanges int
}

// Run trains net with cfg (an integer method, RCT or NITI, with its update mask) on the
// host for steps+1 steps on the
// batches given, and runs steps 1..steps on the simulated chip prof as well. The
// device starts from the host's state after step 0 (the step that calibrates the
// delayed scales, which a device cannot do without two passes) and then carries its
// own state: weights, exponents, scales and running statistics never come back from
// the host. After each step it compares weights, biases, their exponents and widths,
// every delayed scale (those inside attention layers too), batch normalisation's
// running statistics, every stored activation and error, every gradient, the
// controller's statistic and the loss.
//
// Which instructions the device executes is derived from each step's compiled
// program: an instruction without functional semantics, or one the device cannot run
// (a value that does not fit the field the program gives it), fails the check with a
// Detail naming it. Errors are for checks that cannot start (a configuration the
// trainer or the compiler refuses).
func Run(net *models.Network, prof *hw.Profile, cfg train.Config, data train.Dataset, batches [][]int, steps int) (*Result, error) {
	return run(net, prof, cfg, data, batches, steps, hooks{})
}

// hooks let tests alter the device's starting state or its execution, to show that
// the check fails when one value differs.
type hooks struct {
	state  func(*numerics.IntState)
	device func(*functional.Device)
}

func run(net *models.Network, prof *hw.Profile, cfg train.Config, data train.Dataset, batches [][]int, steps int, h hooks) (*Result, error) {
	if len(batches) < steps+1 {
		return nil, fmt.Errorf("need %d batches, have %d", steps+1, len(batches))
	}
	t, err := train.NewTrainer(net, cfg)
	if err != nil {
		return nil, err
	}
	t.RecordGradients()
	update, err := numerics.ParseUpdate(cfg.Update)
	if err != nil {
		return nil, err
	}
	shape := data.InputShape()
	fill := func(idx []int) ([]float32, []int32) {
		x := make([]float32, len(idx)*int(shape.Elems()))
		labels := make([]int32, len(idx)*data.LabelsPerExample())
		data.Fill(idx, x, labels)
		return x, labels
	}
	x, labels := fill(batches[0])
	t.Step(x, labels)
	dev, err := t.DeviceState()
	if err != nil {
		return nil, err
	}
	if h.state != nil {
		h.state(dev)
	}
	res := &Result{BitExact: true}
	fail := func(k int, err error) *Result {
		res.BitExact = false
		res.Detail = fmt.Sprintf("step %d on the device: %v", k, err)
		return res
	}
	for k := 1; k <= steps; k++ {
		idx := batches[k]
		x, labels := fill(idx)
		x8, xExp, err := t.DeviceBatch(x)
		if err != nil {
			return nil, err
		}
		bits := t.Bits()
		hostStep := t.Step(x, labels)
		host, err := t.StepTensors(len(idx))
		if err != nil {
			return nil, err
		}
		hostNext, _ := t.DeviceState()
		plan := numerics.Plan{Bits: bits, NextBits: t.Bits(), Control: hostStep.Stats != nil}
		prog, err := kernels.Compile(net, prof, kernels.Options{Method: cfg.Method, Batch: len(idx), Plan: plan, Update: update, MomentumShift: dev.MomentumShift, Functional: true})
		if err != nil {
			return nil, err
		}
		d, err := functional.New(net, prog, dev)
		if err != nil {
			return fail(k, err), nil
		}
		if h.device != nil {
			h.device(d)
		}
		if err := d.LoadBatch(x8, xExp, labels); err != nil {
			return nil, err
		}
		m, err := sim.New(prof, sim.Options{Hooks: []sim.Hook{d}})
		if err != nil {
			return nil, err
		}
		if _, err := m.Run(prog); err != nil {
			return nil, err
		}
		next, err := d.Finish()
		if err != nil {
			return fail(k, err), nil
		}
		res.Steps = k
		for j := range next.Layers {
			if next.Layers[j].Bits != dev.Layers[j].Bits {
				res.BitChanges++
			}
		}
		c := &comparer{step: k, net: net, res: res}
		c.state(next, hostNext)
		c.tensors(d, host, len(idx))
		if hostStep.Stats != nil {
			gavg := d.Gavg()
			for j, s := range hostStep.Stats {
				c.equal(fmt.Sprintf("Gavg of weight layer %d", j), gavg[j] == s.Gavg)
			}
		}
		loss, correct := d.Loss()
		c.equal("loss", loss/float64(len(labels)) == hostStep.Loss && correct == hostStep.Correct)
		if !res.BitExact {
			return res, nil
		}
		dev = next
	}
	return res, nil
}

// comparer records the first difference.
type comparer struct {
	step int
	net  *models.Network
	res  *Result
}

func (c *comparer) equal(what string, ok bool) {
	c.res.Compared++

	if !ok && c.res.BitExact {
		c.res.BitExact = false
		c.res.Detail = fmt.Sprintf("step %d: %s differs", c.step, what)
	}
}

func (c *comparer) state(dev, host *numerics.IntState) {
	for j := range host.Layers {
		d, h := dev.Layers[j], host.Layers[j]
		c.equal(fmt.Sprintf("width and exponents of weight layer %d", j), d.Bits == h.Bits && d.WExp == h.WExp && d.BExp == h.BExp)
		c.equal(fmt.Sprintf("weights of weight layer %d", j), slices.Equal(d.W, h.W))
		c.equal(fmt.Sprintf("bias of weight layer %d", j), slices.Equal(d.B, h.B))
		// The update buffers and their registers: NITI's normalisation, RCT's momentum
		// (none for RCT without momentum).
		c.equal(fmt.Sprintf("update buffers of weight layer %d", j), slices.Equal(d.AccW, h.AccW) && slices.Equal(d.AccB, h.AccB))
		c.equal(fmt.Sprintf("buffer registers of weight layer %d", j), slices.Equal(d.GradW, h.GradW) && slices.Equal(d.GradB, h.GradB))
	}
	for i := range host.Fwd {
		name := c.net.Layers[i].Name
		c.equal("forward scale of "+name, dev.Fwd[i] == host.Fwd[i])
		c.equal("backward scale of "+name, dev.Bwd[i] == host.Bwd[i])
		c.equal("residual error scale of "+name, dev.Res[i] == host.Res[i])
		if i < len(host.Inner) && host.Inner[i] != nil {
			c.equal("scales inside "+name, slices.Equal(dev.Inner[i], host.Inner[i]))
		}
		if i < len(host.Running) && host.Running[i].Mean != nil {
			d, h := dev.Running[i], host.Running[i]
			c.equal("running statistics of "+name, d.Set == h.Set && d.Exp == h.Exp && slices.Equal(d.Mean, h.Mean) && slices.Equal(d.Var, h.Var))
		}
	}
}

func (c *comparer) tensors(d *functional.Device, host *train.StepTensors, n int) {
	for i, l := range c.net.Layers {
		if v, exp, ok := d.Activation(i); ok {
			c.equal("output of "+l.Name, exp == host.ActExp[i] && slices.Equal(v, host.Act[i]))
		}
		if v, exp, ok := d.OutputError(i); ok {
			c.equal("error of "+l.Name+"'s output", exp == host.ErrExp[i] && slices.Equal(v, host.Err[i]))
		}
	}
	for j, g := range host.Grad {
		// Under an update mask the host records what it updates: a prefix of the rows,
		// none for frozen weights; the device computes the same and nothing else.
		dg, dexp := d.Gradient(j)
		if g == nil {
			c.equal(fmt.Sprintf("gradient of weight layer %d (frozen)", j), dg == nil)
			continue
		}
		ok := len(dg) >= len(g) && dexp == host.GradExp[j] && slices.Equal(dg[:len(g)], g)
		for _, v := range dg[min(len(g), len(dg)):] {
			ok = ok && v == 0
		}
		c.equal(fmt.Sprintf("gradient of weight layer %d", j), ok)
	}
}
