#!/usr/bin/python3
"""Makes tests/fixtures/wide_{10,100,1000}.pt: 10-, 100- and 1000-class models on 3x64x64 inputs (Debian's python3-torch).

Run once from the repository root:  /usr/bin/python3 tools/make_wide_model.py
The models are small (about 20k parameters at 1000 classes) but as wide as an ImageNet classifier, which
is what makes a job's per-class statistics large: the wide-model test uses the 1000-class one, the
benchmark all three. Random weights, seeded by the class count; nn.Sequential, so Grad-CAM splits them at
a child ("3", the second ReLU, 16x16).
"""
import os

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wide_model(classes):
    torch.manual_seed(classes)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),     # 0-1 -> 8x32x32
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),    # 2-3 -> 16x16x16
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),                  # 4-5 -> 16
        nn.Linear(16, classes),                                  # 6
    ).eval()


if __name__ == "__main__":
    for classes in (10, 100, 1000):
        path = os.path.join(ROOT, "tests", "fixtures", f"wide_{classes}.pt")
        torch.jit.save(torch.jit.script(wide_model(classes)), path)
        print(path, os.path.getsize(path), "bytes")
