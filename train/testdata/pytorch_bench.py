#!/usr/bin/env python3
"""Times the training step of rctsim's benchmark networks in PyTorch, for comparison
with `go test ./train -bench Step` (train/bench_test.go). Not a test.

The networks are those of rctsim's models package, layer for layer: LeNet-5 (1x32x32),
ResNet-20 in the CIFAR layout with option-A shortcuts on a single input channel
(MNIST padded to 32x32), and the character transformer (vocabulary 96, context 64,
width 128, 2 heads, 2 pre-norm blocks, MLP 512, learned position embedding, causal
attention). One step is what a Trainer.Step does for fp32: forward, mean
cross-entropy, backward, SGD with momentum 0.9, on one batch of 32 random examples
kept in memory (no data loading on either side).

Usage (Debian's python3-torch: apt-get install python3-torch libopenblas0-openmp):

    /usr/bin/python3 train/testdata/pytorch_bench.py [--threads 2] [--rounds 5] [--only resnet20]
    /usr/bin/python3 train/testdata/pytorch_bench.py --mnist-epoch DIR [--threads 2]

The second form trains LeNet-5 for one epoch on MNIST read from DIR (the four idx
files, gzipped, as the GoMNIST module's data folder holds them), as `rctsim train
--model lenet5 --method fp32 --epochs 1` does: pixels scaled to [0, 1] and padded to
32x32, batches of 32 in a shuffled order, SGD with momentum 0.9, then one pass over the
10,000 test images. It prints the whole run's wall and CPU time, data loading
included, and the test accuracy.

Debian's torch runs convolutions with oneDNN but linear layers and attention through
the system BLAS: without an optimised one (libopenblas0-openmp) it is the reference
BLAS, and the transformer's step is about 15 times slower. PyTorch's OpenMP threads
spin while they wait for each other: on a machine whose cores are shared with other
jobs, 2 threads can be many times slower than 1, so measure both (--threads 1).

It prints one line per network in the Go benchmark format, the medians of the rounds'
wall time and process CPU time (all threads) per step:

    BenchmarkPyTorch/resnet20  <steps>  <ns/op> ns/op  <cpu-ns/op> cpu-ns/op
"""

import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class Block(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus the input (option A where the shape changes),
    then ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = (cout - cin) // 2
        self.stride = stride

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x
        if self.stride != 1 or self.pad:
            s = F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(y + s)


class ResNet20(nn.Module):
    def __init__(self, cin=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, c = [], 16
        for stage, width in enumerate([16, 32, 64]):
            for b in range(3):
                blocks.append(Block(c, width, 2 if stage > 0 and b == 0 else 1))
                c = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.blocks(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class TBlock(nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.fc2(F.relu(self.fc1(self.ln2(x))))


class Transformer(nn.Module):
    def __init__(self, vocab=96, context=64, d=128, heads=2, layers=2, hidden=512):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(context, d))
        self.blocks = nn.ModuleList([TBlock(d, heads, hidden) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)
        self.register_buffer("mask", torch.triu(torch.full((context, context), float("-inf")), 1))

    def forward(self, ids):
        x = self.embed(ids) + self.pos
        for b in self.blocks:
            x = b(x, self.mask)
        return self.head(self.ln(x))


def batch(name, n):
    g = torch.Generator().manual_seed(1)
    if name == "transformer":
        x = torch.randint(0, 96, (n, 64), generator=g)
        return x, torch.randint(0, 96, (n, 64), generator=g)
    return torch.rand(n, 1, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


NETS = {"lenet5": LeNet5, "resnet20": ResNet20, "transformer": Transformer}
# Steps per timed round, about a second of work each on two cores.
STEPS = {"lenet5": 100, "resnet20": 10, "transformer": 10}


def read_idx(path):
    """An idx file's array (gzipped or not), as a uint8 tensor."""
    import gzip

    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return torch.frombuffer(bytearray(data[4 + 4 * dims :]), dtype=torch.uint8).reshape(shape)


def mnist_epoch(directory, batch):
    """Trains LeNet-5 for one MNIST epoch and tests it; returns wall and CPU seconds and
    the test accuracy."""
    import os

    t0, c0 = time.perf_counter(), time.process_time()

    def images(name):
        x = read_idx(os.path.join(directory, name)).float() / 255
        return F.pad(x, (2, 2, 2, 2)).unsqueeze(1)

    xtr, ytr = images("train-images-idx3-ubyte.gz"), read_idx(os.path.join(directory, "train-labels-idx1-ubyte.gz")).long()
    xte, yte = images("t10k-images-idx3-ubyte.gz"), read_idx(os.path.join(directory, "t10k-labels-idx1-ubyte.gz")).long()
    model = LeNet5()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9)
    order = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(1))
    for i in range(0, len(order) - batch + 1, batch):
        idx = order[i : i + batch]
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
        opt.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(xte), 1000):
            correct += (model(xte[i : i + 1000]).argmax(1) == yte[i : i + 1000]).sum().item()
    return time.perf_counter() - t0, time.process_time() - c0, correct / len(xte)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--only", default="", help="comma-separated networks (default: all)")
    ap.add_argument("--steps", type=int, default=0, help="steps per round (default: per network)")
    ap.add_argument("--mnist-epoch", default="", metavar="DIR", help="time one LeNet-5 epoch on the MNIST files in DIR instead")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}")
    if args.mnist_epoch:
        wall, cpu, acc = mnist_epoch(args.mnist_epoch, args.batch)
        print(f"PyTorch LeNet-5 MNIST epoch: {wall:.2f} s wall, {cpu:.2f} s CPU, test accuracy {100 * acc:.1f}%", flush=True)
        return
    for name, cls in NETS.items():
        if args.only and name not in args.only.split(","):
            continue
        model = cls()
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9)
        x, y = batch(name, args.batch)

        def step():
            opt.zero_grad(set_to_none=True)
            out = model(x)
            loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
            loss.backward()
            opt.step()

        for _ in range(3):
            step()
        steps = args.steps or STEPS[name]
        times, cpus = [], []
        for _ in range(args.rounds):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(steps):
                step()
            times.append((time.perf_counter() - t0) / steps)
            cpus.append((time.process_time() - c0) / steps)
        ns, cpu = statistics.median(times) * 1e9, statistics.median(cpus) * 1e9
        print(f"BenchmarkPyTorch/{name}\t{steps * args.rounds}\t{ns:.0f} ns/op\t{cpu:.0f} cpu-ns/op", flush=True)


if __name__ == "__main__":
    main()
