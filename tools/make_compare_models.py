#!/usr/bin/python3
"""Makes the fixtures of `explain compare` (Debian's python3-torch, 1.13): two retrainings of the demo model.

Run once from the repository root:  /usr/bin/python3 tools/make_compare_models.py
- tests/fixtures/compare/seed1.pt: the demo architecture trained again with another seed (1 epoch on the first 20,000
  training images): a model that a retraining could give, whose predictions and maps differ from the demo's.
- tests/fixtures/compare/shirt_permuted.pt: the demo model with the weights of one logit row (class 6, Shirt) permuted, so
  only that class's evidence is scrambled: a comparison with the demo model must name Shirt first.
The outputs are committed; tests need no Python.
"""
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_models  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "compare")
SHIRT = 6


def seed1():
    torch.manual_seed(1)
    x = torch.from_numpy(make_models.read_idx(os.path.join(make_models.FMNIST, "train-images-idx3-ubyte.gz"))[:20000].copy()).float()
    y = torch.from_numpy(make_models.read_idx(os.path.join(make_models.FMNIST, "train-labels-idx1-ubyte.gz"))[:20000].astype(np.int64))
    x = ((x / 255.0 - 0.286) / 0.353).unsqueeze(1)
    model = make_models.demo_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    perm = torch.randperm(len(x))
    for i in range(0, len(x), 128):
        idx = perm[i:i + 128]
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return model.eval()


def shirt_permuted():
    model = torch.jit.load(os.path.join(make_models.SAMPLE, "model.pt"))
    head = dict(model.named_parameters())
    weight = head["13.weight"]
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        weight[SHIRT] = weight[SHIRT][torch.randperm(weight.shape[1], generator=g)]
    return model


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.jit.save(torch.jit.script(seed1()), os.path.join(OUT, "seed1.pt"))
    torch.jit.save(shirt_permuted(), os.path.join(OUT, "shirt_permuted.pt"))


if __name__ == "__main__":
    main()
