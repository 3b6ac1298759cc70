#!/usr/bin/python3
"""Makes tests/fixtures/tiny_pruning.pt for the channel-pruning tests (Debian's python3-torch, 1.13).

Run once from the repository root:  /usr/bin/python3 tools/make_pruning_model.py
nn.Sequential on [1, 4, 4] images: "0" Conv2d(1, 4, 1) with weights s = [0.5, 1, 1, 2], no bias
-> "1" ReLU (the pruned layer: channel c is s_c·max(0, x)) -> "2" global average pool -> "3" Flatten ->
"4" Linear(4, 2) with W = [[-1, 0, -3/2, -1/8], [1, 0, 3/2, 1/8]], b = [1/2, -1/2].
With r = mean_p max(0, x_p), channel c pools to s_c·r and adds e_c·r to the logit margin (class 1 - class 0),
e = s·(W[1] - W[0]) = [1, 0, 3, 0.5]; the margin is 4.5·r - 1. So the channels' importance is known by
construction: channel 1 none (zero weight in both classes), then 3, 0, and channel 2 decisive; zeroing a set S
of channels leaves the margin (4.5 - Σ_S e_c)·r - 1.
"""
import os

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_pruning():
    m = nn.Sequential(nn.Conv2d(1, 4, kernel_size=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        m[0].weight.copy_(torch.tensor([0.5, 1.0, 1.0, 2.0]).view(4, 1, 1, 1))
        m[0].bias.zero_()
        m[4].weight.copy_(torch.tensor([[-1.0, 0.0, -1.5, -0.125], [1.0, 0.0, 1.5, 0.125]]))
        m[4].bias.copy_(torch.tensor([0.5, -0.5]))
    return m


if __name__ == "__main__":
    torch.jit.save(torch.jit.script(tiny_pruning()), os.path.join(ROOT, "tests", "fixtures", "tiny_pruning.pt"))
