#!/usr/bin/python3
"""Makes the fixture of the per-sample parameter gradient tests (Debian's python3-torch 1.13).

Run from the repository root:  /usr/bin/python3 tools/make_paramgrad_models.py
It writes tests/fixtures/paramgrad_grouped.pt: a scripted model, input [n, 3, 12, 12], 5 classes, with
  conv1  Conv2d(3, 8, 3, padding=1)                                   vectorised
  conv2  Conv2d(8, 8, 3, stride=2, padding=2, dilation=2, groups=4)   vectorised (grouped, dilated, strided)
  act    PReLU(8)                                                     no vectorised rule: per-sample loop
  conv3  Conv2d(8, 8, 1, groups=8, bias=False)                        vectorised (depthwise, no bias)
  norm   GroupNorm(2, 8)                                              no vectorised rule: per-sample loop
  fc     Linear(8, 5)                                                 vectorised
Weights are random with a fixed seed; PReLU's and GroupNorm's parameters are moved off their defaults.

And two small models, input [n, 4, 6], 3 classes, for the other paths:
  paramgrad_tokens.pt   Linear(6, 8) on [n, 4, 6] (a Linear over extra dims), ReLU, flatten, Linear(32, 3): all vectorised
  paramgrad_shared.pt   the same, with one Linear(8, 8) applied twice in forward: the whole model is one unit (per-sample loop)
"""
import os

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


class GroupedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=2, dilation=2, groups=4)
        self.act = nn.PReLU(8)
        self.conv3 = nn.Conv2d(8, 8, 1, groups=8, bias=False)
        self.norm = nn.GroupNorm(2, 8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = self.conv3(self.act(self.conv2(x)))
        x = self.norm(x)
        return self.fc(torch.flatten(self.pool(x), 1))


class Tokens(nn.Module):
    def __init__(self, shared):
        super().__init__()
        self.shared = shared
        self.embed = nn.Linear(6, 8)
        self.mix = nn.Linear(8, 8)
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        h = torch.relu(self.embed(x))
        if self.shared:
            h = torch.relu(self.mix(torch.relu(self.mix(h))))
        else:
            h = torch.relu(self.mix(h))
        return self.head(torch.flatten(h, 1))


def main():
    torch.manual_seed(0)
    model = GroupedNet()
    with torch.no_grad():
        model.act.weight.uniform_(0.05, 0.5)
        model.norm.weight.uniform_(0.5, 1.5)
        model.norm.bias.uniform_(-0.5, 0.5)
    model.eval()
    torch.jit.save(torch.jit.script(model), os.path.join(FIXTURES, "paramgrad_grouped.pt"))
    for shared, name in ((False, "paramgrad_tokens.pt"), (True, "paramgrad_shared.pt")):
        torch.manual_seed(1)
        tokens = Tokens(shared).eval()
        # Traced, so that the flag's branch is fixed in the code (scripting keeps the `if` and its attribute).
        traced = torch.jit.trace(tokens, torch.randn(2, 4, 6))
        torch.jit.save(traced, os.path.join(FIXTURES, name))


if __name__ == "__main__":
    main()
