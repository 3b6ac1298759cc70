#!/usr/bin/python3
"""Makes the TCAV fixture (Debian's python3-torch 1.13 and numpy; nothing else).

Run once from the repository root:  /usr/bin/python3 tools/make_tcav_fixture.py
It writes tests/fixtures/tcav/ (committed, so tests need no Python):

  model.pt      a Sequential built so that one concept direction drives one class:
                  "0" Flatten ([1, 4, 4] -> 16), "1" Linear(16, 6) (the concept layer: h), "2" ReLU, "3" Linear(6, 3).
                h[0] is a stripe detector (weights +1/4 on rows 0 and 2 of the image, -1/4 on rows 1 and 3); h[1..5] have
                seeded N(0, 0.5^2) weights; the biases of "1" are 0. The head reads class 0 from relu(h[0]) alone (weights
                [2, 0, 0, 0, 0, 0], bias -2), class 1 from h[1], h[2] and class 2 from h[3..5] (weights 1, biases 0): so
                d logit_0 / d h = [2 * 1(h[0] > 0), 0, 0, 0, 0, 0], and a CAV along h[0] has a positive derivative for
                every sample of class 0 (TCAV score 1).
  w1.npy, b1.npy, w2.npy, b2.npy   the weights above (float32), for the tests' hand computation.
  inputs.npy    [90, 1, 4, 4] float32: 30 striped images (a * stripes + N(0, 0.3^2), a ~ U(1, 2)), then 60 of N(0, 1) noise.
  striped.npy   [30, 1, 4, 4] float32: the concept "striped", drawn as the striped inputs are.
  noise.npy     [200, 1, 4, 4] float32: a concept that is no concept (N(0, 1) noise like the random set): its TCAV
                scores should not differ from random CAVs'. Larger than the draws of a run (30), so that each run's CAV sees
                other examples, as each random-vs-random CAV does.
  random.npy    [400, 1, 4, 4] float32: the random examples (N(0, 1) noise).
  striped/, random/   the striped examples and the first 60 random ones as 8-bit grey PNG files (value = clip(round(64 x + 128))),
                for the image-folder path of concept sets.
"""
import os

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tcav")

STRIPES = np.array([1.0, -1.0, 1.0, -1.0], dtype=np.float32)[:, None] * np.ones((1, 4), dtype=np.float32)


def model():
    rng = np.random.default_rng(7)
    w1 = np.zeros((6, 16), dtype=np.float32)
    w1[0] = STRIPES.flatten() / 4.0
    w1[1:] = rng.normal(0.0, 0.5, size=(5, 16)).astype(np.float32)
    b1 = np.zeros(6, dtype=np.float32)
    w2 = np.array([[2, 0, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], dtype=np.float32)
    b2 = np.array([-2, 0, 0], dtype=np.float32)
    m = nn.Sequential(nn.Flatten(), nn.Linear(16, 6), nn.ReLU(), nn.Linear(6, 3)).eval()
    with torch.no_grad():
        m[1].weight.copy_(torch.from_numpy(w1))
        m[1].bias.copy_(torch.from_numpy(b1))
        m[3].weight.copy_(torch.from_numpy(w2))
        m[3].bias.copy_(torch.from_numpy(b2))
    return m, (w1, b1, w2, b2)


def striped(rng, n):
    a = rng.uniform(1.0, 2.0, size=(n, 1, 1, 1)).astype(np.float32)
    return (a * STRIPES[None, None] + rng.normal(0.0, 0.3, size=(n, 1, 4, 4))).astype(np.float32)


def noise(rng, n):
    return rng.normal(0.0, 1.0, size=(n, 1, 4, 4)).astype(np.float32)


def write_png(path, image):
    """An 8-bit greyscale PNG with Python's zlib only (no PIL needed for a 4x4 image)."""
    import struct
    import zlib

    pixels = np.clip(np.round(image[0] * 64 + 128), 0, 255).astype(np.uint8)
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", pixels.shape[1], pixels.shape[0], 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    os.makedirs(OUT, exist_ok=True)
    m, weights = model()
    torch.jit.save(torch.jit.script(m), os.path.join(OUT, "model.pt"))
    for name, w in zip(["w1", "b1", "w2", "b2"], weights):
        np.save(os.path.join(OUT, name + ".npy"), w)
    rng = np.random.default_rng(2018)
    inputs = np.concatenate([striped(rng, 30), noise(rng, 60)])
    sets = {"striped": striped(rng, 30), "noise": noise(rng, 200), "random": noise(rng, 400)}
    np.save(os.path.join(OUT, "inputs.npy"), inputs)
    for name, values in sets.items():
        np.save(os.path.join(OUT, name + ".npy"), values)
    for name in ["striped", "random"]:
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        for i, image in enumerate(sets[name][:60]):
            write_png(os.path.join(folder, f"{i:03d}.png"), image)
    with torch.no_grad():
        predicted = m(torch.from_numpy(inputs)).argmax(1).numpy()
    print("predicted classes of the inputs:", np.bincount(predicted, minlength=3), "(class 0 among the striped:", int((predicted[:30] == 0).sum()), "of 30)")


if __name__ == "__main__":
    main()
