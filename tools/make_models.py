#!/usr/bin/python3
"""Makes the TorchScript fixtures and the bundled demo model (Debian's python3-torch, 1.13).

Run once from the repository root:  /usr/bin/python3 tools/make_models.py
It writes tests/fixtures/*.pt (tiny models with fixed weights, small enough to check by hand) and
samples/fashion-mnist/model.pt (a small CNN trained on the Fashion-MNIST training set). The outputs
are committed so that neither tests nor users need Python. tools/make_vit.py (called at the end) writes the
attention-rollout fixtures.
"""
import gzip
import os
import struct
import sys
from typing import List

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
SAMPLE = os.path.join(ROOT, "samples", "fashion-mnist")
FMNIST = "/usr/share/datasets/fashion-mnist"


def tiny_linear():
    """logits = W x + b, W = [[1,-2,3,-4],[0.5,0.5,-1,2],[-3,1,0,1]], b = [0.1,-0.2,0.3]."""
    m = nn.Sequential(nn.Linear(4, 3))
    with torch.no_grad():
        m[0].weight.copy_(torch.tensor([[1.0, -2.0, 3.0, -4.0], [0.5, 0.5, -1.0, 2.0], [-3.0, 1.0, 0.0, 1.0]]))
        m[0].bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    return m


def tiny_cnn_layers():
    """[1,3,3] input -> 1x1 conv (2 channels: w=[1,-1], b=[0,0.5]) -> ReLU -> flatten -> Linear(18, 2)."""
    conv = nn.Conv2d(1, 2, kernel_size=1)
    head = nn.Linear(18, 2)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
        conv.bias.copy_(torch.tensor([0.0, 0.5]))
        head.weight.copy_(torch.arange(36, dtype=torch.float32).view(2, 18) / 10.0 - 1.5)
        head.bias.copy_(torch.tensor([0.25, -0.25]))
    return conv, head


class TimmStyle(nn.Module):
    """The timm convention: forward = forward_head(forward_features(x))."""

    def __init__(self, conv, head):
        super().__init__()
        self.conv = conv
        self.head = head

    @torch.jit.export
    def forward_features(self, x):
        return torch.relu(self.conv(x))

    @torch.jit.export
    def forward_head(self, features):
        return self.head(torch.flatten(features, 1))

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


class TimmStaged(nn.Module):
    """The timm convention with stages(x) and pre_logits(features) exported (tiny_cnn_timm_staged.pt).

    stage 0 = relu(conv(x)) (the 1x1 conv of tiny_cnn_layers: channels relu(x), relu(0.5 - x));
    stage 1 = relu(mix(stage 0)), a 1x1 conv with weights [[1, 1], [1, -1]] and biases [0, -0.25];
    forward_features = stage 1; pre_logits = its mean over the 3x3 positions; forward_head = Linear(2, 2) of that,
    weights [[1, -1], [0.5, 2]], biases [0.1, -0.1].
    """

    def __init__(self, conv):
        super().__init__()
        self.conv = conv
        self.mix = nn.Conv2d(2, 2, kernel_size=1)
        self.head = nn.Linear(2, 2)
        with torch.no_grad():
            self.mix.weight.copy_(torch.tensor([[1.0, 1.0], [1.0, -1.0]]).view(2, 2, 1, 1))
            self.mix.bias.copy_(torch.tensor([0.0, -0.25]))
            self.head.weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))
            self.head.bias.copy_(torch.tensor([0.1, -0.1]))

    @torch.jit.export
    def stages(self, x) -> List[torch.Tensor]:
        first = torch.relu(self.conv(x))
        return [first, torch.relu(self.mix(first))]

    @torch.jit.export
    def forward_features(self, x):
        return self.stages(x)[-1]

    @torch.jit.export
    def pre_logits(self, features):
        return features.mean((2, 3))

    @torch.jit.export
    def forward_head(self, features):
        return self.head(self.pre_logits(features))

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


class NoConvention(nn.Module):
    def __init__(self, conv, head):
        super().__init__()
        self.conv = conv
        self.head = head

    def forward(self, x):
        return self.head(torch.flatten(torch.relu(self.conv(x)), 1))


def demo_cnn():
    # A global-average-pooled head, as in most image classifiers: Grad-CAM on layer "10" then weighs each
    # channel by its class weight and shows where the class evidence is. (A flatten+linear head makes the
    # channel weights α_k spatial means of mixed-sign weights, and most of the CAM is cut by the ReLU.)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),   # 0-3  -> 16x14x14
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 4-7  -> 32x7x7
        nn.Conv2d(32, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(),                 # 8-10 -> 128x7x7 (Grad-CAM "10")
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))                       # 11-13


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


EPOCHS = 6


def train_demo():
    torch.manual_seed(0)
    x = torch.from_numpy(read_idx(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")).copy()).float()
    y = torch.from_numpy(read_idx(os.path.join(FMNIST, "train-labels-idx1-ubyte.gz")).astype(np.int64))
    x = ((x / 255.0 - 0.286) / 0.353).unsqueeze(1)
    model = demo_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.4)
    for epoch in range(EPOCHS):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        schedule.step()
        print(f"epoch {epoch}: last batch loss {loss.item():.3f}", file=sys.stderr)
    model.eval()
    xt = torch.from_numpy(read_idx(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz")).copy()).float()
    yt = torch.from_numpy(read_idx(os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz")).astype(np.int64))
    with torch.no_grad():
        accuracy = (model(((xt / 255.0 - 0.286) / 0.353).unsqueeze(1)).argmax(1) == yt).float().mean().item()
    print(f"test accuracy {accuracy:.4f}", file=sys.stderr)
    return model


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    torch.jit.save(torch.jit.script(tiny_linear()), os.path.join(FIXTURES, "tiny_linear.pt"))
    conv, head = tiny_cnn_layers()
    torch.jit.save(torch.jit.script(nn.Sequential(conv, nn.ReLU(), nn.Flatten(), head)),
                   os.path.join(FIXTURES, "tiny_cnn_sequential.pt"))
    torch.jit.save(torch.jit.script(TimmStyle(conv, head)), os.path.join(FIXTURES, "tiny_cnn_timm.pt"))
    torch.jit.save(torch.jit.script(TimmStaged(conv)), os.path.join(FIXTURES, "tiny_cnn_timm_staged.pt"))
    torch.jit.save(torch.jit.script(NoConvention(conv, head)), os.path.join(FIXTURES, "tiny_cnn_plain.pt"))
    if "--fixtures-only" not in sys.argv:
        os.makedirs(SAMPLE, exist_ok=True)
        torch.jit.save(torch.jit.script(train_demo()), os.path.join(SAMPLE, "model.pt"))
    import make_vit  # the attention-rollout fixtures: tiny_attention.pt and the small ViT vit_fashion.pt
    make_vit.main("--fixtures-only" in sys.argv)


if __name__ == "__main__":
    main()
