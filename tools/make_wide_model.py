#!/usr/bin/python3
"""Makes tests/fixtures/wide_1000.pt: a 1000-class model on 3x64x64 inputs (Debian's python3-torch).

Run once from the repository root:  /usr/bin/python3 tools/make_wide_model.py
The model is small (about 20k parameters) but as wide as an ImageNet classifier, which is what makes a
job's per-class statistics large: the wide-model tests and benchmarks use it. Random weights, fixed seed;
nn.Sequential, so Grad-CAM splits it at a child ("3", the second ReLU, 16x16).
"""
import os

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wide_model():
    torch.manual_seed(1000)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),     # 0-1 -> 8x32x32
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),    # 2-3 -> 16x16x16
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),                  # 4-5 -> 16
        nn.Linear(16, 1000),                                    # 6
    ).eval()


if __name__ == "__main__":
    model = wide_model()
    path = os.path.join(ROOT, "tests", "fixtures", "wide_1000.pt")
    torch.jit.save(torch.jit.script(model), path)
    print(path, os.path.getsize(path), "bytes")
