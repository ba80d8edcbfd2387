package models

import (
	"math"
	"strings"
	"testing"
)

// resnetCIFARWant derives the parameters and forward MACs of one example of ResNet-(6n+2)
// from He et al.'s description: conv3x3 to 16 channels at 32x32, three stages of n
// blocks of two 3x3 convolutions (16, 32, 64 channels at 32x32, 16x16, 8x8), batch
// normalisation (2 per channel) after every convolution, no convolution biases,
// parameter-free option-A shortcuts, global average pooling and a 64 -> 10 classifier.
func resnetCIFARWant(n, cin int64) (params, macs int64) {
	params = 9*cin*16 + 2*16
	macs = 32 * 32 * 16 * 9 * cin
	prev, side := int64(16), int64(32)
	for stage, w := range []int64{16, 32, 64} {
		if stage > 0 {
			side /= 2
		}
		for block := int64(0); block < n; block++ {
			in := w
			if block == 0 {
				in = prev
			}
			params += 9*in*w + 2*w + 9*w*w + 2*w
			macs += side*side*w*9*in + side*side*w*9*w
		}
		prev = w
	}
	return params + 64*10 + 10, macs + 64*10
}

func TestResNetCIFAR(t *testing.T) {
	tests := []struct {
		depth int
		cin   int
		// Exact counts, worked out by hand (and by resnetCIFARWant); ResNet-20 with 3
		// channels: conv1 432, stage 1 6*2,304, stage 2 4,608 + 5*9,216, stage 3
		// 18,432 + 5*36,864 (267,696 conv weights), 1,376 BN, 650 classifier.
		params, macs int64
		// With 3 channels every 3x3 convolution but the first and the two stride-2 ones
		// does 2,359,296 MACs (32*32*16*144 = 16*16*32*288 = 8*8*64*576), the two
		// stride-2 ones half that, conv1 442,368 and the classifier 640:
		// 443,008 + 2,359,296*(6n-1).
		//
		// The published figure in millions (akamaster/pytorch_resnet_cifar10's table,
		// He et al. Table 6), to its printed precision.
		published float64
	}{
		{20, 3, 269_722, 40_551_040, 0.27},
		{20, 1, 269_434, 40_256_128, 0.27},
		{32, 3, 464_154, 68_862_592, 0.46},
		{44, 3, 658_586, 97_174_144, 0.66},
		{56, 3, 853_018, 125_485_696, 0.85},
		{110, 3, 1_727_962, 252_887_680, 1.7},
	}
	for _, tt := range tests {
		net, err := ResNetCIFAR(tt.depth, tt.cin)
		if err != nil {
			t.Fatal(err)
		}
		params, macs := resnetCIFARWant(int64(tt.depth-2)/6, int64(tt.cin))
		if params != tt.params {
			t.Fatalf("test table: resnet%d/%d hand count %d, formula %d", tt.depth, tt.cin, tt.params, params)
		}
		if got := net.Params(); got != params {
			t.Errorf("%s: Params() = %d, want %d", net.Name, got, params)
		}
		if macs != tt.macs {
			t.Fatalf("test table: resnet%d/%d hand MACs %d, formula %d", tt.depth, tt.cin, tt.macs, macs)
		}
		if got := net.MACs(Forward, 1); got != macs {
			t.Errorf("%s: forward MACs = %d, want %d", net.Name, got, macs)
		}
		// Published figures are rounded to 2 significant digits.
		digits := math.Pow(10, math.Floor(math.Log10(tt.published))-1)
		if got := math.Round(float64(params)/1e6/digits) * digits; math.Abs(got-tt.published) > 1e-9 {
			t.Errorf("%s: %d parameters round to %.2gM, published %gM", net.Name, params, got, tt.published)
		}
		// Backward data skips conv1 (32x32x16 outputs of 9*cin inputs); every GEMM
		// layer is a linear or convolution layer, so backward weight equals forward.
		conv1 := int64(32 * 32 * 16 * 9 * tt.cin)
		if got := net.MACs(BackwardData, 1); got != macs-conv1 {
			t.Errorf("%s: backward-data MACs = %d, want %d", net.Name, got, macs-conv1)
		}
		if got := net.MACs(BackwardWeight, 1); got != macs {
			t.Errorf("%s: backward-weight MACs = %d, want %d", net.Name, got, macs)
		}
	}
}

func TestResNet20Structure(t *testing.T) {
	net, err := ByName("resnet20")
	if err != nil {
		t.Fatal(err)
	}
	if net.Input != (Shape{1, 32, 32}) || net.Classes != 10 || net.Name != "resnet20" {
		t.Errorf("input %v, classes %d, name %s", net.Input, net.Classes, net.Name)
	}
	if ResNet20(3).Name != "resnet20_3ch" || ResNet20(3).Input != (Shape{3, 32, 32}) {
		t.Errorf("ResNet20(3) = %s %v", ResNet20(3).Name, ResNet20(3).Input)
	}
	count := map[Kind]int{}
	for i := range net.Layers {
		l := &net.Layers[i]
		count[l.Kind]++
		switch l.Kind {
		case Conv2D:
			if l.Bias || l.KernelH != 3 || l.Padding != 1 || net.Layers[i+1].Kind != BatchNorm {
				t.Errorf("%s: %+v, want a 3x3 convolution without bias followed by batch normalisation", l.Name, l)
			}
		case Add:
			if net.Layers[l.From].Out != l.In || !strings.HasSuffix(net.Layers[l.From].Name, "relu1") && !strings.HasSuffix(net.Layers[l.From].Name, "relu2") {
				t.Errorf("%s adds %s", l.Name, net.Layers[l.From].Name)
			}
		}
	}
	// 20 weight layers with GEMMs (19 convolutions, 1 linear), 19 batch norms, 9 blocks:
	// 7 identity shortcuts and 2 option-A ones, 1 + 9*2 ReLUs.
	want := map[Kind]int{Conv2D: 19, Linear: 1, BatchNorm: 19, Add: 7, ShortcutAdd: 2, ReLU: 19, AvgPool: 1, Flatten: 1}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%d %s layers, want %d", count[k], k, n)
		}
	}
	// The two stride-2 blocks: 16 -> 32 channels (8 zeros on each side of the skip) at
	// 16x16, 32 -> 64 (16 on each side) at 8x8.
	shortcuts := []struct {
		name string
		from string
		pad  int
		out  Shape
	}{
		{"s2b1.shortcut", "s1b3.relu2", 8, Shape{32, 16, 16}},
		{"s3b1.shortcut", "s2b3.relu2", 16, Shape{64, 8, 8}},
	}
	for _, w := range shortcuts {
		l := layerNamed(t, net, w.name)
		if l.Kind != ShortcutAdd || net.Layers[l.From].Name != w.from || l.Stride != 2 || l.Padding != w.pad || l.Out != w.out {
			t.Errorf("%s: %+v (from %s), want a stride-2 shortcut from %s padded by %d to %v", w.name, *l, net.Layers[l.From].Name, w.from, w.pad, w.out)
		}
	}
	if pool := layerNamed(t, net, "pool"); pool.In != (Shape{64, 8, 8}) || pool.KernelH != 8 || pool.Out != (Shape{64, 1, 1}) {
		t.Errorf("pool: %+v, want global average pooling of 64x8x8", *pool)
	}
}

func TestResNetCIFARErrors(t *testing.T) {
	for _, c := range []struct{ depth, cin int }{{21, 3}, {2, 3}, {-4, 3}, {20, 0}} {
		if net, err := ResNetCIFAR(c.depth, c.cin); err == nil {
			t.Errorf("ResNetCIFAR(%d, %d) = %s, want an error", c.depth, c.cin, net.Name)
		}
	}
}

// layerNamed returns the layer of net called name.
func layerNamed(t *testing.T, net *Network, name string) *Layer {
	t.Helper()
	for i := range net.Layers {
		if net.Layers[i].Name == name {
			return &net.Layers[i]
		}
	}
	t.Fatalf("%s has no layer %q", net.Name, name)
	return nil
}
