#!/usr/bin/python3
"""Makes tests/fixtures/tiny_flat.pt for the lime and kernel-shap tests (Debian's python3-torch, 1.13).

Run once from the repository root:  /usr/bin/python3 tools/make_lime_fixture.py
Flatten + Linear(16, 2) on [1, 4, 4] images, W[c, p] = (16c + p)/8 - 2, b = [0.5, -0.5]: with segments
hidden by zeros, each logit is exactly linear in which segments are present.
"""
import os

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_flat():
    m = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        m[1].weight.copy_(torch.arange(32, dtype=torch.float32).view(2, 16) / 8.0 - 2.0)
        m[1].bias.copy_(torch.tensor([0.5, -0.5]))
    return m


if __name__ == "__main__":
    torch.jit.save(torch.jit.script(tiny_flat()), os.path.join(ROOT, "tests", "fixtures", "tiny_flat.pt"))
