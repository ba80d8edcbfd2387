package models

import "fmt"

// mobileNetV2Stages is Table 2 of Sandler et al. 2018: each stage repeats n inverted
// residual blocks of expansion t with c output channels, the first of stride s.
var mobileNetV2Stages = []struct{ t, c, n, s int }{
	{1, 16, 1, 1},
	{6, 24, 2, 2},
	{6, 32, 3, 2},
	{6, 64, 4, 2},
	{6, 96, 3, 1},
	{6, 160, 3, 2},
	{6, 320, 1, 1},
}

// MobileNetV2 is MobileNetV2 at width 1.0 and 224x224x3 inputs with 1000 classes
// (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018),
// laid out as torchvision's mobilenet_v2: a stride-2 3x3 convolution to 32 channels,
// the 17 inverted residual blocks of Table 2, a 1x1 convolution to 1280 channels, global
// average pooling and a 1280 -> 1000 linear classifier with bias (the dropout before it
// does no arithmetic). An inverted residual block is a 1x1 expansion to t times its
// input channels (left out when t = 1), a 3x3 depthwise convolution (Groups = channels)
// carrying the block's stride, and a 1x1 linear projection (no activation after it: the
// linear bottleneck); it adds its input when the stride is 1 and the channels do not
// change. Every convolution is followed by batch normalisation and has no bias.
//
// It has 3,504,872 parameters, torchvision's published count (the paper's Table 3 says
// 3.4M) and 300,774,272 forward MACs per example (the paper: 300M multiply-adds;
// torchvision: 0.30 GFLOPS).
//
// The paper's activation is ReLU6; this definition uses ReLU. The two have the same
// shapes, parameters and MACs and cost the same on the device (one clamp, fused into the
// requantisation of the preceding GEMM), so the simulated figures do not change; ReLU6
// exists to keep float activations in a range that survives low-precision inference,
// while the integer training simulated here (NITI-style int8 with a per-tensor
// power-of-two scale taken from the tensor's maximum) bounds the range already and
// uses ReLU, which kernels/ and train/ implement.
func MobileNetV2() *Network {
	return mobileNetV2("mobilenetv2", Shape{3, 224, 224}, 1000, 2, 2)
}

// MobileNetV2CIFAR is MobileNetV2 (width 1.0, ReLU for ReLU6 as in MobileNetV2) for
// 32x32 inputs and 10 classes, with the usual CIFAR changes of
// github.com/kuangliu/pytorch-cifar: the first convolution and the first block of the
// second stage (24 channels) have stride 1 instead of 2, so the feature maps are 32x32
// through the 24-channel stage and 4x4 at the end, where global average pooling takes
// the whole map. Unlike that repository, the blocks are the paper's (no 1x1 expansion
// when t = 1, no projection shortcut where channels change), so the parameters are those
// of MobileNetV2 with the classifier resized: 2,236,682 with 3 input channels, 2,236,106
// with 1 (the registry's "mobilenetv2_32", for MNIST padded to 32x32); 87,976,448 and
// 87,386,624 forward MACs per example. Channel counts other than 1 add "_<c>ch" to the
// name.
func MobileNetV2CIFAR(inChannels int) *Network {
	if inChannels < 1 {
		panic(fmt.Sprintf("mobilenetv2_32: %d input channels", inChannels))
	}
	name := "mobilenetv2_32"
	if inChannels != 1 {
		name += fmt.Sprintf("_%dch", inChannels)
	}
	return mobileNetV2(name, Shape{inChannels, 32, 32}, 10, 1, 1)
}

// mobileNetV2 builds MobileNetV2 with the first convolution's stride and the stride of
// the second stage's first block given.
func mobileNetV2(name string, input Shape, classes, stemStride, stage2Stride int) *Network {
	b := newBuilder(name, input).
		convBN("conv1", "bn1", 32, 3, stemStride, 1, 1).act("relu1")
	block := 0
	for i, st := range mobileNetV2Stages {
		for j := range st.n {
			block++
			p := fmt.Sprintf("b%d.", block)
			stride := 1
			if j == 0 {
				stride = st.s
				if i == 1 {
					stride = stage2Stride
				}
			}
			in := b.last()
			hidden := b.cur.C * st.t
			if st.t != 1 {
				b.convBN(p+"expand", p+"expand_bn", hidden, 1, 1, 0, 1).act(p + "expand_relu")
			}
			b.convBN(p+"dw", p+"dw_bn", hidden, 3, stride, 1, hidden).act(p+"dw_relu").
				convBN(p+"project", p+"project_bn", st.c, 1, 1, 0, 1)
			if stride == 1 && b.net.Layers[in].Out == b.cur {
				b.residual(p+"add", in)
			}
		}
	}
	return b.convBN("conv2", "bn2", 1280, 1, 1, 0, 1).act("relu2").
		globalAvgPool("pool").flatten().linear("fc", classes).build()
}
