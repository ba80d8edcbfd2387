package models

import "testing"

// vgg11Want derives the CIFAR VGG-11's parameters and forward MACs per example: 3x3
// convolutions with padding 1 and a bias, each followed by batch normalisation (2 per
// channel), 2x2 max pooling at each M, and one 512 -> 10 classifier.
func vgg11Want(cin int64) (params, macs int64) {
	side, c := int64(32), cin
	for _, w := range []int64{64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0} {
		if w == 0 {
			side /= 2
			continue
		}
		params += 9*c*w + w + 2*w
		macs += side * side * w * 9 * c
		c = w
	}
	return params + 512*10 + 10, macs + 512*10
}

func TestVGG11(t *testing.T) {
	tests := []struct {
		net          *Network
		cin          int64
		params, macs int64
	}{
		// kuangliu/pytorch-cifar's VGG('VGG11'): 9,217,728 convolution weights + 2,752
		// biases + 5,504 BN + 5,130 classifier = 9,231,114 (9.23M). MACs: 1,769,472 +
		// 18,874,368 + 18,874,368 + 37,748,736 + 18,874,368 + 37,748,736 + 2*9,437,184 +
		// 5,120.
		{VGG11(3), 3, 9_231_114, 152_769_536},
		// The registry's single-channel model: conv1 has 2*9*64 = 1,152 fewer weights
		// and 32*32*64*18 = 1,179,648 fewer MACs.
		{VGG11(1), 1, 9_229_962, 151_589_888},
	}
	for _, tt := range tests {
		t.Run(tt.net.Name, func(t *testing.T) {
			params, macs := vgg11Want(tt.cin)
			if params != tt.params || macs != tt.macs {
				t.Fatalf("test table: hand %d params %d MACs, derived %d, %d", tt.params, tt.macs, params, macs)
			}
			n := tt.net
			if got := n.Params(); got != params {
				t.Errorf("Params() = %d, want %d", got, params)
			}
			conv1 := 32 * 32 * 64 * 9 * tt.cin
			for _, c := range []struct {
				p    Phase
				want int64
			}{{Forward, macs}, {BackwardData, macs - conv1}, {BackwardWeight, macs}, {Update, 0}} {
				if got := n.MACs(c.p, 2); got != 2*c.want {
					t.Errorf("MACs(%v, 2) = %d, want %d", c.p, got, 2*c.want)
				}
			}
			count := map[Kind]int{}
			for i := range n.Layers {
				count[n.Layers[i].Kind]++
			}
			want := map[Kind]int{Conv2D: 8, BatchNorm: 8, ReLU: 8, MaxPool: 5, Flatten: 1, Linear: 1}
			for k, c := range want {
				if count[k] != c {
					t.Errorf("%d %s layers, want %d", count[k], k, c)
				}
			}
			if fc := layerNamed(t, n, "fc"); fc.In != (Shape{512, 1, 1}) || n.Classes != 10 {
				t.Errorf("classifier %v -> %v, %d classes", fc.In, fc.Out, n.Classes)
			}
		})
	}
	if got := VGG11(1).Name; got != "vgg11" {
		t.Errorf("VGG11(1).Name = %q", got)
	}
}
