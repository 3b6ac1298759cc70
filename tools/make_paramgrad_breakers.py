#!/usr/bin/python3
"""Makes the models built to break the param-grads code reader (Debian's python3-torch 1.13).

Run once from the repository root:  /usr/bin/python3 tools/make_paramgrad_breakers.py [NAME ...]
It writes tests/fixtures/paramgrad_break/NAME.pt (every model, or only the NAMEs given). Each takes
[n, 1, 28, 28] like the demo model and gives 10 logits; each starts by flattening to 784 features and a
Linear(784, 8), so the files stay small. The zips hold the time they were written: name a new model
instead of rewriting the others.

  user_linear    a user class named `Linear` (its own parameters) whose forward doubles F.linear's output
  user_relu      a user class named `ReLU` whose forward is x * sigmoid(x), between two nn.Linear
  inplace        relu_, mul_ and += on layer outputs (the names keep aliasing), nn.ReLU(inplace=True) read twice
  unusual        valid but unusual code: tuple unpacking from a method, a loop over a ModuleList (unrolled with
                 getattr), nested parentheses, and a child whose ternary becomes an `if` (that child alone falls back)
  unparsable     a model whose code the reader cannot parse: a string constant holding quotes and brackets
                 in forward, and a root class whose name is longer than the reader looks for
  junk_code      `inplace` with one more code file that no class uses (torch.jit.load ignores it) holding a
                 statement cut short after a comma: the reader must not fail on it
"""
import os
import sys
import zipfile
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "paramgrad_break")


class Linear(nn.Module):
    """Not torch.nn.Linear: its output is twice the affine map."""

    def __init__(self, inputs: int, outputs: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(outputs, inputs) / inputs ** 0.5)
        self.bias = nn.Parameter(torch.randn(outputs) * 0.1)

    def forward(self, x):
        return 2 * F.linear(x, self.weight, self.bias)


class ReLU(nn.Module):
    """Not torch.nn.ReLU: SiLU."""

    def forward(self, x):
        return x * torch.sigmoid(x)


class TwoLayers(nn.Module):
    """flatten, fc1, act, fc2 (Linear(8, 10))."""

    def __init__(self, fc1: nn.Module, act: nn.Module):
        super().__init__()
        self.flat = nn.Flatten()
        self.fc1 = fc1
        self.act = act
        self.fc2 = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(self.flat(x))))


class InPlace(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 8)
        self.fc2 = nn.Linear(8, 8)
        self.skip = nn.Linear(784, 8)
        self.act = nn.ReLU(inplace=True)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        h = self.fc1(x)
        h.relu_()  # fc2 must see relu(h)
        g = self.fc2(h)
        g.mul_(0.5)
        g += self.skip(x)
        a = self.act(g)  # a and g are one tensor: the head sees 2 relu(g)
        return self.head(g + a)


class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.on = True

    def forward(self, h):
        return self.fc(h) if self.on else h


class Unusual(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(784, 8)
        self.blocks = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
        self.gate = Gate()
        self.head = nn.Linear(8, 10)

    def split(self, x) -> Tuple[torch.Tensor, torch.Tensor]:
        h = self.inp(torch.flatten(x, 1))
        return h, -h

    def forward(self, x):
        h, n = self.split(x)
        for block in self.blocks:
            h = torch.relu((block((h))))
        return self.head(((torch.add(self.gate(h), torch.mul(n, 0.0)))))


class Unparsable(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 8)
        self.fc2 = nn.Linear(8, 10)

    def forward(self, x):
        torch._assert(x.dim() == 4, "expects \"(n, c, h, w\" [not ((h, w)")
        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))


# The root class's qualified name is written first in data.pkl; this one is longer than the reader's look.
LONG = "Unparsable" + "_" * 600
globals()[LONG] = type(LONG, (Unparsable,), {"__qualname__": LONG})


def build(name):
    torch.manual_seed(sorted(MODELS).index(name))
    model = MODELS[name]().eval()
    scripted = torch.jit.script(model)
    x = torch.randn(3, 1, 28, 28)
    assert torch.allclose(scripted(x), model(x)), name
    path = os.path.join(OUT, name + ".pt")
    torch.jit.save(scripted, path)
    if name in JUNK:
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(f"{name}/code/__torch__/junk.py", JUNK[name])
        assert torch.allclose(torch.jit.load(path)(x), model(x)), name
    print(f"--- {name}\n{scripted.code}")


MODELS = {
    "user_linear": lambda: TwoLayers(Linear(784, 8), nn.ReLU()),
    "user_relu": lambda: TwoLayers(nn.Linear(784, 8), ReLU()),
    "inplace": InPlace,
    "unusual": Unusual,
    "unparsable": globals()[LONG],
    "junk_code": InPlace,
}

JUNK = {
    "junk_code": "class Junk(Module):\n  __parameters__ = []\n  def forward(self: __torch__.junk.Junk,\n    x: Tensor) -> Tensor:\n"
                 "    _0 = (self).split(x,\n    return _0\n",
}


def main(names):
    os.makedirs(OUT, exist_ok=True)
    for name in names or MODELS:
        build(name)


if __name__ == "__main__":
    main(sys.argv[1:])
