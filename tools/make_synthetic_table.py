#!/usr/bin/python3
"""The 1,000,000-row table benchmark's model (bench/cluster.sh table), made once with Debian's python3-torch 1.13.

Run from the repository root:  /usr/bin/python3 tools/make_synthetic_table.py
Rows are 30 features f00..f29, each N(0, 1), and a label drawn as
    z = sum_j w_j x_j + 0.5 x0 x1 - 0.5 |x2|,  w_j = (-1)^j / (1 + j/3),  label = 1 if z + logistic noise > 0 else 0.
`explain-bench synthetic-table` writes the benchmark's table by the same rule (bench/Bench/SyntheticTable.cs); this
script draws 200,000 rows of its own to train an MLP (30 -> 32 -> 32 -> 2, ReLU) and writes it to
bench/jobs/synthetic30.pt (TorchScript).
"""
import os

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
D = 30


def draw(n, rng):
    x = rng.standard_normal((n, D))
    w = np.array([(-1) ** j / (1 + j / 3) for j in range(D)])
    z = x @ w + 0.5 * x[:, 0] * x[:, 1] - 0.5 * np.abs(x[:, 2])
    u = rng.uniform(1e-12, 1 - 1e-12, n)
    return x.astype(np.float32), (z + np.log(u / (1 - u)) > 0).astype(np.int64)


def main():
    rng = np.random.RandomState(24)
    x, y = draw(200_000, rng)
    xt, yt = draw(20_000, rng)
    x, y, xt, yt = map(torch.tensor, (x, y, xt, yt))
    torch.manual_seed(24)
    model = nn.Sequential(nn.Linear(D, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.003)
    for epoch in range(5):
        for i in torch.randperm(len(x)).split(512):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[i]), y[i]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(xt).argmax(1) == yt).float().mean().item()
    print(f"synthetic MLP: held-out accuracy {acc:.4f}")
    torch.jit.script(model).save(os.path.join(ROOT, "bench", "jobs", "synthetic30.pt"))


if __name__ == "__main__":
    main()
