package models

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// mobileNetV2Want derives MobileNetV2's parameters and forward MACs per example from
// Sandler et al.'s Table 2, independently of the builder: side is the input's height
// and width, stem the first convolution's stride, stage2 the stride of the 24-channel
// stage. Every convolution is bias-free and followed by batch normalisation (2 per
// channel); 3x3 convolutions have padding 1, so a stride s maps side to (side-1)/s+1.
func mobileNetV2Want(side, cin, classes, stem, stage2 int64) (params, macs int64) {
	side = (side-1)/stem + 1
	params = 9*cin*32 + 2*32
	macs = side * side * 32 * 9 * cin
	c := int64(32)
	table := [][4]int64{ // t, c, n, s
		{1, 16, 1, 1}, {6, 24, 2, stage2}, {6, 32, 3, 2}, {6, 64, 4, 2},
		{6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
	}
	for _, row := range table {
		t, out, n, s := row[0], row[1], row[2], row[3]
		for j := int64(0); j < n; j++ {
			stride := int64(1)
			if j == 0 {
				stride = s
			}
			hidden := c * t
			if t != 1 { // 1x1 expansion
				params += c*hidden + 2*hidden
				macs += side * side * c * hidden
			}
			side = (side-1)/stride + 1
			params += 9*hidden + 2*hidden // 3x3 depthwise
			macs += side * side * 9 * hidden
			params += hidden*out + 2*out // 1x1 projection
			macs += side * side * hidden * out
			c = out
		}
	}
	params += 320*1280 + 2*1280 + 1280*classes + classes
	macs += side*side*320*1280 + 1280*classes
	return params, macs
}

func TestMobileNetV2Counts(t *testing.T) {
	tests := []struct {
		net                *Network
		side, cin, classes int64
		stem, stage2       int64
		params, fwd        int64
		conv1              int64 // the first convolution's MACs, skipped by backward data
	}{
		// torchvision's mobilenet_v2: num_params 3,504,872 (the paper's Table 3: 3.4M);
		// 300,774,272 MACs (the paper: 300M multiply-adds; torchvision: 0.30 GFLOPS).
		{MobileNetV2(), 224, 3, 1000, 2, 2, 3_504_872, 300_774_272, 112 * 112 * 32 * 27},
		// The 32x32 variant: the ImageNet model less the 1000-way classifier
		// (1,281,000) plus a 10-way one (12,810), and with 1 channel less 2*9*32 = 576.
		{MobileNetV2CIFAR(3), 32, 3, 10, 1, 1, 2_236_682, 87_976_448, 32 * 32 * 32 * 27},
		{MobileNetV2CIFAR(1), 32, 1, 10, 1, 1, 2_236_106, 87_386_624, 32 * 32 * 32 * 9},
	}
	for _, tt := range tests {
		t.Run(tt.net.Name, func(t *testing.T) {
			params, fwd := mobileNetV2Want(tt.side, tt.cin, tt.classes, tt.stem, tt.stage2)
			if params != tt.params || fwd != tt.fwd {
				t.Fatalf("test table: published %d params, %d MACs; derived %d, %d", tt.params, tt.fwd, params, fwd)
			}
			n := tt.net
			if got := n.Params(); got != params {
				t.Errorf("Params() = %d, want %d", got, params)
			}
			if got := n.MACs(Forward, 1); got != fwd {
				t.Errorf("forward MACs = %d, want %d", got, fwd)
			}
			if got := n.MACs(BackwardData, 1); got != fwd-tt.conv1 {
				t.Errorf("backward-data MACs = %d, want %d", got, fwd-tt.conv1)
			}
			if got := n.MACs(BackwardWeight, 4); got != 4*fwd {
				t.Errorf("backward-weight MACs (batch 4) = %d, want %d", got, 4*fwd)
			}
			if n.Input != (Shape{int(tt.cin), int(tt.side), int(tt.side)}) || n.Classes != int(tt.classes) {
				t.Errorf("input %v, classes %d", n.Input, n.Classes)
			}
		})
	}
	// The published round figures.
	if got := float64(MobileNetV2().MACs(Forward, 1)); math.Abs(got/300e6-1) > 0.01 {
		t.Errorf("MobileNetV2 forward = %.0f MACs, published 300M", got)
	}
	if got := float64(MobileNetV2().Params()); math.Abs(got/3.5e6-1) > 0.01 {
		t.Errorf("MobileNetV2 = %.0f parameters, published about 3.5M", got)
	}
}

func TestMobileNetV2Structure(t *testing.T) {
	tests := []struct {
		net      *Network
		lastSide int // the feature map global pooling averages
	}{
		{MobileNetV2(), 7},
		{MobileNetV2CIFAR(1), 4},
	}
	for _, tt := range tests {
		t.Run(tt.net.Name, func(t *testing.T) {
			net := tt.net
			count := map[Kind]int{}
			depthwise := 0
			for i := range net.Layers {
				l := &net.Layers[i]
				count[l.Kind]++
				if l.Kind == Conv2D {
					if l.Bias || net.Layers[i+1].Kind != BatchNorm {
						t.Errorf("%s: a convolution with bias or without batch normalisation", l.Name)
					}
					if l.NumGroups() > 1 {
						depthwise++
						if l.Groups != l.In.C || l.In.C != l.Out.C || l.KernelH != 3 {
							t.Errorf("%s: groups %d, %v -> %v, want a 3x3 depthwise convolution", l.Name, l.Groups, l.In, l.Out)
						}
					}
				}
				// Linear bottleneck: no activation after the projection.
				if strings.HasSuffix(l.Name, ".project_bn") && net.Layers[i+1].Kind == ReLU {
					t.Errorf("%s: the projection is followed by an activation", l.Name)
				}
			}
			// conv1, 16 blocks of 3 convolutions and 1 (t = 1) of 2, conv2: 52
			// convolutions, 17 of them depthwise; residuals where stride 1 and the
			// channels repeat: 1 + 2 + 3 + 2 + 2 = 10.
			want := map[Kind]int{Conv2D: 52, BatchNorm: 52, Linear: 1, Add: 10, ReLU: 35, AvgPool: 1, Flatten: 1}
			for k, n := range want {
				if count[k] != n {
					t.Errorf("%d %s layers, want %d", count[k], k, n)
				}
			}
			if depthwise != 17 {
				t.Errorf("%d depthwise convolutions, want 17", depthwise)
			}
			pool := layerNamed(t, net, "pool")
			if pool.In != (Shape{1280, tt.lastSide, tt.lastSide}) || pool.KernelH != tt.lastSide {
				t.Errorf("pool: %+v, want global pooling of 1280x%dx%d", *pool, tt.lastSide, tt.lastSide)
			}
			// Block 3 (the second of the 24-channel stage) adds block 2's output.
			add := layerNamed(t, net, "b3.add")
			if got := net.Layers[add.From].Name; got != "b2.project_bn" {
				t.Errorf("b3.add adds %s, want b2.project_bn", got)
			}
			for _, b := range []int{1, 2, 4, 7, 11, 14, 17} { // first blocks of stages
				for i := range net.Layers {
					if net.Layers[i].Name == fmt.Sprintf("b%d.add", b) {
						t.Errorf("block %d changes shape but has a residual", b)
					}
				}
			}
		})
	}
}
