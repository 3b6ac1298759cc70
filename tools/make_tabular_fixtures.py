#!/usr/bin/python3
"""Makes the tabular fixtures (issue 19) with Debian's python3-torch 1.13, python3-sklearn and r-base-core.

Run once from the repository root:  /usr/bin/python3 tools/make_tabular_fixtures.py
It writes under tests/fixtures/tabular/:
- credit_data.csv: r-cran-modeldata's credit_data, exported by tools/make_tabular_fixtures.R (missing values empty);
- credit_features.json: the job file's data.features for it, so the model receives exactly its training vector:
  numerics standardized with the training rows' mean and (population) std, a missing numeric replaced by the
  column's median before standardizing; categoricals one-hot over R's factor levels, a missing one replaced by
  the column's most frequent level;
- credit_expected.json: a few rows' vectors and logits as Python computed them;
- credit_mlp.pt: an MLP (30 -> 16 -> 2, ReLU) trained on that vector to predict Status (classes bad, good), TorchScript;
- breast_cancer.csv: scikit-learn's bundled breast-cancer table (569 rows, 30 numeric features, target 0/1);
- tabular_linear.pt and tabular_linear.csv: a linear model with known weights on [a, b, one-hot(c over x, y, z)]
  and a 6-row table, for tests computed by hand;
- tabular_steps.pt: a model linear in discretised features, for tabular lime (`... make_tabular_fixtures.py steps` makes
  only this one);
- credit_embedding.pt, credit_embedding_features.json and credit_onehot.pt (`... make_tabular_fixtures.py embedding` makes
  only these, from credit_data.csv and credit_features.json): a model whose categoricals come as `index` encodings into
  nn.Embedding layers (numerics standardized as above), trained on credit_data, and the one-hot MLP equal to it (its
  first layer's columns for a categorical's levels are that categorical's embedding rows).
"""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tabular")

NUMERIC = ["Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"]
LEVELS = {  # R's factor levels of credit_data, in R's order
    "Home": ["ignore", "other", "owner", "parents", "priv", "rent"],
    "Marital": ["divorced", "married", "separated", "single", "widow"],
    "Records": ["no", "yes"],
    "Job": ["fixed", "freelance", "others", "partime"],
}
COLUMNS = ["Seniority", "Home", "Time", "Age", "Marital", "Records", "Job", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"]


def describe(rows, columns):
    """data.features for the columns: numerics standardized with the rows' mean and (population) std, a missing
    numeric replaced by the column's median; categoricals one-hot over R's levels, a missing one by the mode."""
    features = []
    for name in columns:
        values = [r[name] for r in rows if r[name] != ""]
        if name in LEVELS:
            assert set(values) <= set(LEVELS[name]), name
            mode = max(LEVELS[name], key=values.count)
            features.append({"name": name, "type": "categorical", "encode": {"oneHot": LEVELS[name]}, "missing": mode})
        else:
            x = np.array([float(v) for v in values])
            features.append({"name": name, "type": "numeric",
                             "encode": {"standardize": {"mean": float(x.mean()), "std": float(x.std())}},
                             "missing": float(np.median(x))})
    return features


def encode(row, features):
    """The vector the engine's table encoder gives the row (in float64, then float32 as the engine does)."""
    out = []
    for feat in features:
        v = row[feat["name"]]
        if feat["type"] == "numeric":
            x = float(v) if v != "" else feat["missing"]
            s = feat["encode"]["standardize"]
            out.append((x - s["mean"]) / s["std"])
        else:
            level = v if v != "" else feat["missing"]
            out.extend(1.0 if level == l else 0.0 for l in feat["encode"]["oneHot"])
    return out


def tensors(rows, features):
    """The rows' vectors and Status (bad 0, good 1)."""
    x = torch.tensor(np.array([encode(r, features) for r in rows], dtype=np.float64).astype(np.float32))
    return x, torch.tensor([["bad", "good"].index(r["Status"]) for r in rows])


def mlp(x, y, epochs, weight_decay=0.0):
    """An MLP (inputs -> 16 -> 2, ReLU) trained full batch with Adam from seed 19; in eval mode, with its last loss."""
    torch.manual_seed(19)
    model = nn.Sequential(nn.Linear(x.shape[1], 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=weight_decay)
    for _ in range(epochs):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return model.eval(), loss


def credit():
    subprocess.run(["Rscript", os.path.join(ROOT, "tools", "make_tabular_fixtures.R")], cwd=ROOT, check=True)
    with open(os.path.join(OUT, "credit_data.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    features = describe(rows, COLUMNS)
    with open(os.path.join(OUT, "credit_features.json"), "w") as f:
        json.dump(features, f, indent=1)
        f.write("\n")

    x, y = tensors(rows, features)
    model, loss = mlp(x, y, epochs=300)  # a small model for tests, not a credit policy
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    print(f"credit MLP: {x.shape[1]} inputs, training loss {loss.item():.4f}, accuracy {accuracy:.4f}")
    torch.jit.script(model).save(os.path.join(OUT, "credit_mlp.pt"))
    # A few rows (the first ones, and the first with each kind of missing value) as the model receives them, and
    # its logits: the engine's table reader must produce these vectors exactly.
    picked = [0, 1, 2]
    for c in ("Income", "Home", "Job", "Marital", "Assets", "Debt"):
        picked.append(next(i for i, r in enumerate(rows) if r[c] == "" and i not in picked))
    with open(os.path.join(OUT, "credit_expected.json"), "w") as f:
        with torch.no_grad():
            json.dump({"rows": picked, "vectors": [x[i].tolist() for i in picked],
                       "logits": [model(x[i:i + 1])[0].tolist() for i in picked]}, f)


def breast_cancer():
    from sklearn.datasets import load_breast_cancer
    data = load_breast_cancer()
    names = [n.replace(" ", "_") for n in data.feature_names]
    with open(os.path.join(OUT, "breast_cancer.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names + ["target"])
        for xs, t in zip(data.data, data.target):
            w.writerow([repr(float(v)) for v in xs] + [int(t)])


def linear():
    """logits = W [a, b, c=x, c=y, c=z] + bias; W = [[1, -2, 0.5, -1, 3], [-1, 0.25, 2, 0, -0.5]], bias = [0.1, -0.1]."""
    m = nn.Sequential(nn.Linear(5, 2))
    with torch.no_grad():
        m[0].weight.copy_(torch.tensor([[1.0, -2.0, 0.5, -1.0, 3.0], [-1.0, 0.25, 2.0, 0.0, -0.5]]))
        m[0].bias.copy_(torch.tensor([0.1, -0.1]))
    torch.jit.script(m.eval()).save(os.path.join(OUT, "tabular_linear.pt"))
    with open(os.path.join(OUT, "tabular_linear.csv"), "w") as f:
        f.write("id,a,b,c,label,region\n"
                "r0,1.5,2,x,0,north\n"
                "r1,-0.5,4,y,1,south\n"
                "r2,3,,z,0,north\n"
                "r3,0,-2,y,1,east\n"
                "r4,2.5,1,\"z\",1,\"south, coast\"\n"
                "r5,1,0.5,x,0,west\n")


class Steps(nn.Module):
    """logits = [0, 2·[x0 > 74.25] − [x1 > 74.25] + 0.5·[x2 > 74.25] − 3·(c = z)] over [x0, x1, x2, c=x, c=y, c=z]:
    linear in the indicators of the top quartile of numbers spread evenly over 0..99 (numpy's 75th percentile of
    0..99 is 74.25) and of one level."""

    def forward(self, x):
        top = (x[:, :3] > 74.25).float()
        w = torch.tensor([2.0, -1.0, 0.5])
        logit = top @ w - 3.0 * x[:, 5]
        return torch.stack([torch.zeros_like(logit), logit], 1)


def steps():
    torch.jit.script(Steps().eval()).save(os.path.join(OUT, "tabular_steps.pt"))


class CreditEmbedding(nn.Module):
    """credit_data's 13 columns in order, each categorical a level's index: hidden = Linear(numerics) + Σ embedding(index),
    ReLU, then Linear(16, 2). Every embedding has the hidden layer's width, so it is exactly a one-hot MLP's first layer."""

    def __init__(self, numeric, categorical, levels, hidden=16):
        super().__init__()
        self.numeric = numeric
        self.categorical = categorical
        self.first = nn.Linear(len(numeric), hidden)
        self.embeddings = nn.ModuleList([nn.Embedding(n, hidden) for n in levels])
        self.out = nn.Linear(hidden, 2)

    def forward(self, x):
        h = self.first(x[:, self.numeric])
        for i, embedding in enumerate(self.embeddings):
            h = h + embedding(x[:, self.categorical[i]].long())
        return self.out(torch.relu(h))


def embedding():
    """The embedding model, trained full batch with Adam from seed 19 as the MLP is, and the one-hot MLP it equals."""
    with open(os.path.join(OUT, "credit_data.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(OUT, "credit_features.json")) as f:
        onehot = json.load(f)
    indexed = [dict(feat, encode={"index": feat["encode"]["oneHot"]}) if feat["type"] == "categorical" else feat for feat in onehot]
    with open(os.path.join(OUT, "credit_embedding_features.json"), "w") as f:
        json.dump(indexed, f, indent=1)
        f.write("\n")

    x1, y = tensors(rows, onehot)
    # The index vector: each numeric as standardized above, each categorical its level's index (the one-hot group's argmax).
    columns, at = [], 0
    for feat in onehot:
        width = len(feat["encode"]["oneHot"]) if feat["type"] == "categorical" else 1
        columns.append(x1[:, at:at + width].argmax(1).float() if width > 1 else x1[:, at])
        at += width
    x = torch.stack(columns, 1)
    numeric = [i for i, feat in enumerate(onehot) if feat["type"] == "numeric"]
    categorical = [i for i, feat in enumerate(onehot) if feat["type"] == "categorical"]
    torch.manual_seed(19)
    model = CreditEmbedding(numeric, categorical, [len(onehot[i]["encode"]["oneHot"]) for i in categorical])
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(300):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    model.eval()

    # The one-hot MLP: its first layer's column for a numeric is the embedding model's, for a categorical's level the row of its embedding.
    mlp = nn.Sequential(nn.Linear(x1.shape[1], 16), nn.ReLU(), nn.Linear(16, 2))
    with torch.no_grad():
        parts, at = [], 0
        for i, feat in enumerate(onehot):
            if feat["type"] == "numeric":
                parts.append(model.first.weight[:, numeric.index(i)].unsqueeze(1))
            else:
                parts.append(model.embeddings[categorical.index(i)].weight.t())
        mlp[0].weight.copy_(torch.cat(parts, 1))
        mlp[0].bias.copy_(model.first.bias)
        mlp[2].weight.copy_(model.out.weight)
        mlp[2].bias.copy_(model.out.bias)
        mlp.eval()
        accuracy = (model(x).argmax(1) == y).float().mean().item()
        gap = (model(x) - mlp(x1)).abs().max().item()
    print(f"credit embedding model: training loss {loss.item():.4f}, accuracy {accuracy:.4f}, largest |logit - one-hot MLP's| {gap:.2e}")
    assert gap < 1e-5, gap
    torch.jit.script(model).save(os.path.join(OUT, "credit_embedding.pt"))
    torch.jit.script(mlp).save(os.path.join(OUT, "credit_onehot.pt"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    if sys.argv[1:] in (["steps"], ["embedding"]):
        {"steps": steps, "embedding": embedding}[sys.argv[1]]()
        sys.exit(0)
    steps()
    credit()
    breast_cancer()
    linear()
    embedding()
