package models

import "fmt"

// ResNetCIFAR is the residual network for 32x32 images of He et al., "Deep Residual
// Learning for Image Recognition" (CVPR 2016), section 4.2, with depth = 6n+2 weight
// layers: a 3x3 convolution to 16 channels, three stages of n basic blocks at 32x32,
// 16x16 and 8x8 with 16, 32 and 64 channels, global average pooling and a 10-way
// linear classifier. A basic block is conv3x3-BN-ReLU-conv3x3-BN, plus the block's input,
// then ReLU; the first block of stages 2 and 3 halves the resolution with a stride-2
// first convolution. Every convolution is followed by batch normalisation and has no
// bias.
//
// Where a block changes shape, the shortcut is the paper's option A: the input
// subsampled by 2 with the new channels zero (a ShortcutAdd), which has no parameters.
// That is the variant whose parameter counts the paper and the reference
// implementation (github.com/akamaster/pytorch_resnet_cifar10) quote: 0.27M for
// ResNet-20, 0.46M for ResNet-32, 0.85M for ResNet-56. Option B (a 1x1 stride-2
// convolution with BN on the two changing shortcuts) would add 16*32+2*32 +
// 32*64+2*64 = 2,752 parameters to every depth; it needs a branch that this sequential
// definition cannot express, and option A is what the counts refer to.
//
// inChannels is the number of input channels: 3 for CIFAR-10, 1 for MNIST padded to
// 32x32 (what the trainer has here). It changes only the first convolution, by
// 9*16 weights per channel. The network is named "resnet<depth>", with "_<c>ch" added
// when inChannels is not 1.
func ResNetCIFAR(depth, inChannels int) (*Network, error) {
	if depth < 8 || (depth-2)%6 != 0 {
		return nil, fmt.Errorf("a CIFAR ResNet has 6n+2 layers (20, 32, 44, 56, 110, ...), not %d", depth)
	}
	if inChannels < 1 {
		return nil, fmt.Errorf("resnet%d: %d input channels", depth, inChannels)
	}
	n := (depth - 2) / 6
	name := fmt.Sprintf("resnet%d", depth)
	if inChannels != 1 {
		name += fmt.Sprintf("_%dch", inChannels)
	}
	b := newBuilder(name, Shape{inChannels, 32, 32}).
		convBN("conv1", "bn1", 16, 3, 1, 1, 1).act("relu1")
	for stage, width := range []int{16, 32, 64} {
		for block := range n {
			p := fmt.Sprintf("s%db%d.", stage+1, block+1)
			stride := 1
			if stage > 0 && block == 0 {
				stride = 2
			}
			in := b.last()
			b.convBN(p+"conv1", p+"bn1", width, 3, stride, 1, 1).act(p+"relu1").
				convBN(p+"conv2", p+"bn2", width, 3, 1, 1, 1)
			if b.net.Layers[in].Out != b.cur {
				b.shortcut(p+"shortcut", in, stride)
			} else {
				b.residual(p+"add", in)
			}
			b.act(p + "relu2")
		}
	}
	return b.globalAvgPool("pool").flatten().linear("fc", 10).build(), nil
}

// ResNet20 is ResNetCIFAR(20, inChannels): 269,722 parameters and 40,551,040 forward
// MACs per example with 3 input channels (CIFAR-10); 269,434 and 40,256,128 with the
// single channel of MNIST padded to 32x32, the registry's "resnet20".
func ResNet20(inChannels int) *Network {
	net, err := ResNetCIFAR(20, inChannels)
	if err != nil {
		panic(err) // a bad channel count is a programmer error
	}
	return net
}
