package models

import "fmt"

// VGG11 is VGG-11 (configuration "A" of Simonyan & Zisserman, "Very Deep Convolutional
// Networks for Large-Scale Image Recognition", ICLR 2015) in its common CIFAR form, as in
// github.com/kuangliu/pytorch-cifar (models/vgg.py): 32x32 inputs, eight 3x3
// convolutions (64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M, M a 2x2 max
// pooling), each with a bias and followed by batch normalisation and ReLU, then one
// 512 -> 10 linear classifier instead of the ImageNet model's three fully connected
// layers. (The reference ends its features with a 1x1 average pooling of stride 1, an
// identity, left out here.)
//
// With 3 input channels (CIFAR-10) it has 9,231,114 parameters, the reference
// implementation's count (9,217,728 convolution weights, 2,752 convolution biases,
// 5,504 batch-normalisation scales and shifts, 5,130 in the classifier), and 152,769,536
// forward MACs per example. The convolution biases are redundant before batch
// normalisation but are kept to match the reference. inChannels 1 (the registry's
// "vgg11", for MNIST padded to 32x32) removes 2*9*64 = 1,152 weights of the first
// convolution; other channel counts add "_<c>ch" to the name.
func VGG11(inChannels int) *Network {
	if inChannels < 1 {
		panic(fmt.Sprintf("vgg11: %d input channels", inChannels))
	}
	name := "vgg11"
	if inChannels != 1 {
		name += fmt.Sprintf("_%dch", inChannels)
	}
	b := newBuilder(name, Shape{inChannels, 32, 32})
	conv, pool := 0, 0
	for _, width := range []int{64, -1, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512, -1} {
		if width < 0 {
			pool++
			b.add(Layer{Name: fmt.Sprintf("pool%d", pool), Kind: MaxPool, Out: Shape{b.cur.C, b.cur.H / 2, b.cur.W / 2}, KernelH: 2, KernelW: 2, Stride: 2})
			continue
		}
		conv++
		b.conv(fmt.Sprintf("conv%d", conv), width, 3, 1, 1).
			batchNorm(fmt.Sprintf("bn%d", conv)).
			act(fmt.Sprintf("relu%d", conv))
	}
	return b.flatten().linear("fc", 10).build()
}
