#!/usr/bin/python3
"""Makes the bad-model fixtures of the bad-input tests (Debian's python3-torch, 1.13).

Run once from the repository root:  /usr/bin/python3 tools/make_bad_models.py [NAME ...]
It writes tests/fixtures/bad/*.pt (only NAME.pt, for each NAME given): models that take [n, 1, 28, 28] like
the demo model but misbehave, each without parameters so the files stay a few KB. The outputs are committed;
the zips hold the time they were written, so name the new fixture instead of rewriting the others.
"""
import os
import sys
import zipfile
from typing import Tuple

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BAD = os.path.join(ROOT, "tests", "fixtures", "bad")


def logits(x):
    """Ten logits per sample: the first ten pixels."""
    return torch.flatten(x, 1)[:, :10]


class TupleOutput(nn.Module):
    def forward(self, x) -> Tuple[torch.Tensor, torch.Tensor]:
        return logits(x), logits(x)


class ThreeDimOutput(nn.Module):
    def forward(self, x):
        return torch.flatten(x, 1)[:, :20].reshape(-1, 10, 2)


class NonFiniteLogits(nn.Module):
    """NaN logits for a sample whose first pixel is negative, +Inf for one whose first pixel is above 1000."""

    def forward(self, x):
        first = torch.flatten(x, 1)[:, :1]
        nan = torch.where(first < 0, torch.full_like(first, float("nan")), torch.zeros_like(first))
        inf = torch.where(first > 1000, torch.full_like(first, float("inf")), torch.zeros_like(first))
        return logits(x) + nan + inf


class RaisesInForward(nn.Module):
    def forward(self, x):
        if x.shape[0] > 0:
            raise ValueError("this model refuses every batch")
        return logits(x)


class SlowForward(nn.Module):
    """A forward that takes long but ends: a million additions per unit of the first sample's first pixel
    (0 in ordinary data: no delay), about 2.5 s per unit under TorchSharp's libtorch on one core."""

    def forward(self, x):
        rounds = int(float(torch.flatten(x, 1)[0, 0]) * 1000000.0)
        spent = torch.zeros(1)
        for _ in range(rounds):
            spent = spent + 1.0
        return logits(x) + spent * 0.0


def state_dict(path):
    """A valid zip (torch.save's format) that is a pickled state dict, not TorchScript: the usual mistake."""
    torch.save({"weight": torch.zeros(2, 2)}, path)


def plain_zip(path):
    """A valid zip that is nothing torch wrote."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "a zip file, not a model")


def scripted(model):
    return lambda path: torch.jit.save(torch.jit.script(model), path)


FIXTURES = {
    "tuple_output": scripted(TupleOutput()),
    "output_3d": scripted(ThreeDimOutput()),
    "nonfinite_logits": scripted(NonFiniteLogits()),
    "raises_in_forward": scripted(RaisesInForward()),
    "slow_forward": scripted(SlowForward()),
    "state_dict": state_dict,
    "plain_zip": plain_zip,
}


def main(names):
    os.makedirs(BAD, exist_ok=True)
    for name in names or FIXTURES:
        FIXTURES[name](os.path.join(BAD, name + ".pt"))


if __name__ == "__main__":
    main(sys.argv[1:])
