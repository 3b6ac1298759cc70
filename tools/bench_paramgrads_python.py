"""The per-sample loop as a PyTorch user writes it (Python, torch 1.13 from Debian), for docs/benchmarks.md:
each sample alone through the model, cross-entropy, torch.autograd.grad to every parameter, the squared
norm of each parameter's gradient; one intra-op thread, as explain-bench paramgrads runs. Also the plain
batched forward + backward (batch 128) in the same process.

    /usr/bin/python3 tools/bench_paramgrads_python.py
"""
import os
import time

import numpy as np
import torch

torch.set_num_threads(1)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def images(n):
    with open(os.path.join(ROOT, "samples/fashion-mnist/t10k-images-idx3-ubyte"), "rb") as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16)[: n * 784].reshape(n, 1, 28, 28)
    with open(os.path.join(ROOT, "samples/fashion-mnist/t10k-labels-idx1-ubyte"), "rb") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    x = (torch.tensor(raw, dtype=torch.float32) / 255 - 0.286) / 0.353
    return x, torch.tensor(labels, dtype=torch.int64)


def loop(model, x, y):
    params = [p for p in model.parameters()]
    for p in params:
        p.requires_grad_(True)
    start = time.perf_counter()
    for i in range(x.shape[0]):
        loss = torch.nn.functional.cross_entropy(model(x[i : i + 1]), y[i : i + 1], reduction="sum")
        grads = torch.autograd.grad(loss, params)
        [g.square().sum() for g in grads]
    return x.shape[0] / (time.perf_counter() - start)


def plain(model, x, y, batch=128):
    start = time.perf_counter()
    for s in range(0, x.shape[0], batch):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x[s : s + batch]), y[s : s + batch], reduction="sum").backward()
    return x.shape[0] / (time.perf_counter() - start)


def main():
    demo = torch.jit.load(os.path.join(ROOT, "samples/fashion-mnist/model.pt")).eval()
    resnet = torch.jit.load(os.path.join(ROOT, "tests/fixtures/torchvision/resnet18_scripted.pt")).eval()
    dx, dy = images(512)
    g = torch.Generator().manual_seed(0)
    rx, ry = torch.randn(512, 3, 96, 96, generator=g), torch.randint(0, 10, (512,), generator=g)
    print("| model | Python per-sample loop (samples/s) | Python plain batched forward + backward (samples/s) |")
    print("|---|---|---|")
    for name, model, x, y in [("demo", demo, dx, dy), ("ResNet-18 fixture", resnet, rx, ry)]:
        loop(model, x[:16], y[:16])  # warm-up: TorchScript profiles its first runs
        plain(model, x[:256], y[:256])
        looped = max(loop(model, x[:64], y[:64]) for _ in range(3))
        batched = max(plain(model, x, y) for _ in range(3))
        print(f"| {name} | {looped:.1f} | {batched:.0f} |")


if __name__ == "__main__":
    main()
