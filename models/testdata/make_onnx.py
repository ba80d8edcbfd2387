#!/usr/bin/python3
"""Writes the ONNX fixtures of models/onnx_test.go.

Run it from the repository root with Debian's Python, which has PyTorch, torchvision
and onnx (apt-get install python3-torch python3-torchvision python3-onnx):

    /usr/bin/python3 models/testdata/make_onnx.py

go test never runs it: the .onnx files it writes are committed. Each built-in network
of rctsim (models/*.go) is written here again as a PyTorch module of the same
architecture, and the torchvision networks are taken as torchvision defines them, then
exported with PyTorch's exporter as a user would:

    torch.onnx.export(model, example, "net.onnx", opset_version=13,
                      training=torch.onnx.TrainingMode.TRAINING,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})

TrainingMode.TRAINING keeps batch normalisation as its own node (an inference export
folds it into the convolution before it, which changes the parameters). The batch
dimension is symbolic. The fixtures use opsets 11 to 17 between them.

Only lenet5.onnx keeps its weights (train --init-from-model reads them). The other
files keep every parameter's name, dims and data type but not its values, so that
they stay small: rctsim counts parameters from dims.
"""

import math
import os

import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

OUT = os.path.dirname(os.path.abspath(__file__))


class LeNet5(nn.Module):
    """models.LeNet5: 1x32x32, conv5-relu-maxpool twice, 120-84-10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)  # a Reshape whose shape is computed from the batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class BasicBlockA(nn.Module):
    """A CIFAR ResNet block with the option-A shortcut of akamaster/pytorch_resnet_cifar10."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = (cout - cin) // 2
        self.stride = stride

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x
        if self.stride != 1 or self.pad:
            skip = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad), "constant", 0)
        return F.relu(out + skip)


class ResNet20(nn.Module):
    """models.ResNet20(1): MNIST padded to 32x32, option-A shortcuts."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for stage, width in enumerate([16, 32, 64]):
            for b in range(3):
                stride = 2 if stage > 0 and b == 0 else 1
                blocks.append(BasicBlockA(cin, width, stride))
                cin = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.blocks(x)
        x = F.avg_pool2d(x, int(x.size()[3]))
        x = torch.flatten(x, 1)
        return self.fc(x)


class VGG11(nn.Module):
    """models.VGG11(1): kuangliu/pytorch-cifar's VGG('VGG11') with one input channel."""

    def __init__(self):
        super().__init__()
        layers, cin = [], 1
        for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                cin = v
        layers.append(nn.AvgPool2d(kernel_size=1, stride=1))  # an identity, as in the reference
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(512, 10)

    def forward(self, x):
        out = self.features(x)
        out = out.view(out.size(0), -1)
        return self.classifier(out)


class CausalSelfAttention(nn.Module):
    """models.Attention: four DxD projections with biases, causal, scaled by 1/sqrt(dh)."""

    def __init__(self, dim, heads, context):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        mask = torch.triu(torch.full((context, context), float("-inf")), diagonal=1)
        self.register_buffer("mask", mask)

    def forward(self, x):
        b, t, d = x.shape
        h, dh = self.heads, d // self.heads
        q = self.q(x).view(b, t, h, dh).transpose(1, 2)
        k = self.k(x).view(b, t, h, dh).transpose(1, 2)
        v = self.v(x).view(b, t, h, dh).transpose(1, 2)
        s = q @ k.transpose(-2, -1) / math.sqrt(dh)
        p = torch.softmax(s + self.mask, dim=-1)
        o = (p @ v).transpose(1, 2).reshape(b, t, d)
        return self.o(o)


class Block(nn.Module):
    def __init__(self, dim, heads, hidden, context):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, context)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(F.relu(self.fc1(self.ln2(x))))


class Transformer(nn.Module):
    """models.Transformer: 96 tokens, 64 positions, width 128, 2 heads, 2 blocks, MLP 512."""

    def __init__(self, vocab=96, context=64, dim=128, heads=2, layers=2, hidden=512):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.zeros(context, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, hidden, context) for _ in range(layers)])
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, ids):
        x = self.embed(ids) + self.pos
        x = self.blocks(x)
        return self.head(self.ln(x))


def strip(path, params):
    """Drops the values of the initializers that are parameters (named in params),
    keeping their name, dims and data type, and those of the batch-normalisation
    statistics. Other buffers keep theirs: a causal mask must be read to be recognised."""
    model = onnx.load(path)
    stats = ("running_mean", "running_var", "num_batches_tracked")
    for t in model.graph.initializer:
        if t.name not in params and not t.name.endswith(stats):
            continue
        t.ClearField("raw_data")
        for field in ("float_data", "int32_data", "int64_data", "double_data"):
            t.ClearField(field)
    onnx.save(model, path)


def export(name, model, example, opset, keep_weights=False):
    path = os.path.join(OUT, name + ".onnx")
    model.eval()
    torch.onnx.export(model, example, path, opset_version=opset,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    onnx.checker.check_model(onnx.load(path))
    if not keep_weights:
        strip(path, {name for name, _ in model.named_parameters()})
    params = sum(p.numel() for p in model.parameters())
    print(f"{name}.onnx: opset {opset}, {params} parameters, {os.path.getsize(path)} bytes")


def probe_image():
    """The input of lenet5_logsoftmax.txt: pixel (h, w) is ((32h + w) mod 17) / 16."""
    x = torch.zeros(1, 1, 32, 32)
    for h in range(32):
        for w in range(32):
            x[0, 0, h, w] = ((32 * h + w) % 17) / 16
    return x


def main():
    torch.manual_seed(1)
    image = lambda c, s: torch.randn(2, c, s, s)
    lenet = LeNet5()
    export("lenet5", lenet, image(1, 32), 11, keep_weights=True)
    # What PyTorch computes from the exported weights, for rctsim's test that it reads
    # them in the right layout.
    with torch.no_grad():
        logp = F.log_softmax(lenet(probe_image()), dim=1)[0]
    with open(os.path.join(OUT, "lenet5_logsoftmax.txt"), "w") as f:
        f.write(" ".join(f"{v:.7g}" for v in logp.tolist()) + "\n")
    export("resnet20", ResNet20(), image(1, 32), 13)
    export("vgg11", VGG11(), image(1, 32), 16)
    export("transformer", Transformer(), torch.randint(0, 96, (2, 64)), 17)
    tv = torchvision.models
    export("mobilenet_v2", tv.mobilenet_v2(), image(3, 224), 12)
    export("resnet18", tv.resnet18(), image(3, 224), 14)
    export("squeezenet1_1", tv.squeezenet1_1(), image(3, 224), 15)


if __name__ == "__main__":
    main()
