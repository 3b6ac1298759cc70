#!/usr/bin/python3
"""Makes the attention-rollout fixtures (Debian's python3-torch, 1.13); tools/make_models.py calls it.

Run from the repository root:  /usr/bin/python3 tools/make_vit.py [--fixtures-only]
It writes tests/fixtures/tiny_attention.pt (fixed attention matrices, checked by hand in
AttentionRolloutTests) and, unless --fixtures-only, tests/fixtures/vit_fashion.pt: a small vision transformer
(7×7 patches → a 4×4 grid and a class token, 2 blocks of 4 heads, width 48) trained on Fashion-MNIST (see
training_data: without the training set it trains on bundled test images 2000.. and holds out 0..1999; that run
reached 0.8385 on the held-out 2000 in about 3 CPU-minutes). Both export attention_maps(x) -> List[Tensor],
each [n, heads, tokens, tokens], the attention softmax of one block, first block first.
"""
import os
import struct
import sys
from typing import List, Tuple

import numpy as np
import torch
from torch import Tensor, nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_models import FIXTURES, FMNIST, SAMPLE, read_idx  # noqa: E402

# Tiny fixture: 2 layers × 2 heads × 5 tokens (class token + a 2×2 grid). Row r of each matrix is
# RAW[layer][head][r] / its sum; tests/ExplainCluster.Tests/Engine/AttentionRolloutTests.cs writes the same numbers.
RAW = [
    [[[4, 1, 2, 1, 2], [1, 3, 1, 1, 2], [2, 2, 2, 1, 1], [1, 1, 1, 4, 1], [3, 1, 2, 1, 1]],
     [[1, 2, 3, 4, 2], [2, 2, 2, 2, 2], [1, 1, 5, 2, 1], [4, 1, 1, 1, 1], [1, 3, 1, 1, 2]]],
    [[[2, 3, 1, 1, 1], [1, 1, 1, 1, 4], [3, 1, 1, 2, 1], [1, 2, 2, 2, 1], [2, 1, 1, 1, 3]],
     [[1, 1, 1, 5, 2], [3, 1, 2, 1, 1], [1, 4, 1, 1, 1], [2, 2, 1, 1, 2], [1, 1, 2, 3, 1]]],
]


class TinyAttention(nn.Module):
    """forward: Flatten + Linear(4, 2) on [n, 1, 2, 2]; attention_maps: the fixed row-stochastic RAW matrices for every sample."""

    def __init__(self):
        super().__init__()
        raw = torch.tensor(RAW, dtype=torch.float32)
        self.register_buffer("attention", raw / raw.sum(-1, keepdim=True))
        self.head = nn.Linear(4, 2)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([[1.0, -1.0, 0.5, 0.0], [0.0, 1.0, -0.5, 1.0]]))
            self.head.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        return self.head(torch.flatten(x, 1))

    @torch.jit.export
    def attention_maps(self, x: Tensor) -> List[Tensor]:
        n = x.shape[0]
        return [self.attention[i].unsqueeze(0).expand(n, -1, -1, -1).contiguous() for i in range(self.attention.shape[0])]


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        n, t, d = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(-1)
        out = (attn @ v).transpose(1, 2).reshape(n, t, d)
        return self.proj(out), attn


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        y, attn = self.attn(self.norm1(x))
        x = x + y
        return x + self.mlp(self.norm2(x)), attn


class TinyViT(nn.Module):
    def __init__(self, dim: int = 48, depth: int = 2, heads: int = 4, patch: int = 7, classes: int = 10):
        super().__init__()
        grid = 28 // patch
        self.patch_embed = nn.Conv2d(1, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, grid * grid + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def tokens(self, x: Tensor) -> Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        return torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed

    def forward(self, x: Tensor) -> Tensor:
        x = self.tokens(x)
        for block in self.blocks:
            x, _ = block(x)
        return self.head(self.norm(x)[:, 0])

    @torch.jit.export
    def attention_maps(self, x: Tensor) -> List[Tensor]:
        x = self.tokens(x)
        maps: List[Tensor] = []
        for block in self.blocks:
            x, attn = block(x)
            maps.append(attn)
        return maps


SAMPLE_IMAGES = SAMPLE
HELD_OUT = 2000


def read_raw_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def training_data():
    """(x, y, x_test, y_test), normalised as samples/fashion-mnist/job.json preprocesses. The Fashion-MNIST training set
    when FMNIST has it; otherwise the bundled test set, split: images 2000.. train, images 0..1999 (the ones the tests
    and the demo explain first) are held out for the accuracy."""
    def norm(images):
        return ((torch.from_numpy(images.copy()).float() / 255.0 - 0.286) / 0.353).unsqueeze(1)

    def labels(values):
        return torch.from_numpy(values.astype(np.int64))

    if os.path.exists(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")):
        return (norm(read_idx(os.path.join(FMNIST, "train-images-idx3-ubyte.gz"))),
                labels(read_idx(os.path.join(FMNIST, "train-labels-idx1-ubyte.gz"))),
                norm(read_idx(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz"))),
                labels(read_idx(os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz"))))
    print(f"no training set in {FMNIST}: training on bundled test images {HELD_OUT}.., holding out 0..{HELD_OUT - 1}", file=sys.stderr)
    x = norm(read_raw_idx(os.path.join(SAMPLE_IMAGES, "t10k-images-idx3-ubyte")))
    y = labels(read_raw_idx(os.path.join(SAMPLE_IMAGES, "t10k-labels-idx1-ubyte")))
    return x[HELD_OUT:], y[HELD_OUT:], x[:HELD_OUT], y[:HELD_OUT]


def train_vit():
    torch.manual_seed(0)
    x, y, xt, yt = training_data()
    epochs = max(2, min(30, 240_000 // len(x)))
    model = TinyViT()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    steps = epochs * ((len(x) + 127) // 128)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            schedule.step()
        print(f"vit epoch {epoch}: last batch loss {loss.item():.3f}", file=sys.stderr)
    model.eval()
    with torch.no_grad():
        accuracy = (model(xt).argmax(1) == yt).float().mean().item()
    print(f"vit held-out accuracy {accuracy:.4f} on {len(xt)} images", file=sys.stderr)
    return model


def main(fixtures_only: bool):
    os.makedirs(FIXTURES, exist_ok=True)
    torch.jit.save(torch.jit.script(TinyAttention()), os.path.join(FIXTURES, "tiny_attention.pt"))
    if not fixtures_only:
        torch.jit.save(torch.jit.script(train_vit()), os.path.join(FIXTURES, "vit_fashion.pt"))


if __name__ == "__main__":
    main("--fixtures-only" in sys.argv)
