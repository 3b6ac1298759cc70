#!/usr/bin/python3
"""Makes the tabular demo's sample (`explain demo --tabular`) with Debian's python3-torch 1.13, once.

Run from the repository root, after tools/make_tabular_fixtures.py has exported the credit data:
    /usr/bin/python3 tools/make_credit_demo.py
It writes under samples/credit/:
- credit.csv: r-cran-modeldata's credit_data (4,454 applicants) with three columns added for the audit, none of
  which the model sees: `Split` (the seeded 70/30 split the model was trained on: "train" or "test"), `AgeBand`
  (Age in four bands) and `ApplicantId`;
- job.json's data.features (the rest of job.json is written by hand), so the model receives exactly its training vector: the 12 columns
  other than Marital (a protected characteristic in many credit rules, kept out of the model and audited as a cohort),
  numerics standardized with the training rows' mean and std, categoricals one-hot;
- model.pt: an MLP (21 -> 16 -> 2, ReLU) trained on the training split to predict Status (bad, good), TorchScript.
"""
import csv
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tabular_fixtures import COLUMNS, OUT, ROOT, describe, mlp, tensors  # noqa: E402

DEMO = os.path.join(ROOT, "samples", "credit")
MODEL_COLUMNS = [c for c in COLUMNS if c != "Marital"]


def band(age):
    if age == "":
        return ""
    a = float(age)
    return "18-24" if a < 25 else "25-34" if a < 35 else "35-49" if a < 50 else "50+"


def write_features(features):
    """Replaces data.features in job.json, one feature a line, leaving the rest of the file as it is."""
    path = os.path.join(DEMO, "job.json")
    with open(path) as f:
        text = f.read()
    lines = ",\n".join("      " + json.dumps(x) for x in features)
    start = text.index('"features": [') + len('"features": [')
    end = text.index("\n    ]", start)
    with open(path, "w") as f:
        f.write(text[:start] + "\n" + lines + text[end:])


def main():
    os.makedirs(DEMO, exist_ok=True)
    with open(os.path.join(OUT, "credit_data.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    rng = np.random.RandomState(19)
    test = set(rng.permutation(len(rows))[: int(round(0.3 * len(rows)))].tolist())
    for i, r in enumerate(rows):
        r["ApplicantId"] = f"A{i + 1:05d}"
        r["Split"] = "test" if i in test else "train"
        r["AgeBand"] = band(r["Age"])
    train = [r for r in rows if r["Split"] == "train"]
    features = describe(train, MODEL_COLUMNS)
    write_features(features)
    header = ["ApplicantId", "Status"] + COLUMNS + ["Split", "AgeBand"]
    with open(os.path.join(DEMO, "credit.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, header, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in header})

    x, y = tensors(train, features)
    xt, yt = tensors([r for r in rows if r["Split"] == "test"], features)
    model, _ = mlp(x, y, epochs=400, weight_decay=1e-4)
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
        acc_t = (model(xt).argmax(1) == yt).float().mean().item()
    print(f"demo credit MLP: {x.shape[1]} inputs, train accuracy {acc:.4f} ({len(x)} rows), test accuracy {acc_t:.4f} ({len(xt)} rows)")
    torch.jit.script(model).save(os.path.join(DEMO, "model.pt"))


if __name__ == "__main__":
    main()
