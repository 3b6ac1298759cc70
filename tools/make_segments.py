#!/usr/bin/python3
"""Makes the segmentation fixtures from scikit-image (Debian's python3-skimage, 0.19).

Run once from the repository root:  /usr/bin/python3 tools/make_segments.py
It writes tests/fixtures/segments/: a few Fashion-MNIST test images (28x28, grayscale) and a few of
skimage's sample photographs resized to 64x64 (RGB), as float32 .npy arrays in [0, 1] holding k/255
exactly (what the C# side gets from uint8 data), each with the labels skimage gives them as int32 .npy:
quickshift with lime's parameters, quickshift with a finer setting (kernel 2, max_dist 6, ratio 0.5:
many segments, and parents cut by max_dist, which lime's setting never does on images this small) and
SLIC with the job file's defaults. The outputs are committed so
that the tests need no Python; they compare the C# segmenters with these by adjusted Rand index.
"""
import os
import struct

import numpy as np
from skimage import data
from skimage.color import gray2rgb
from skimage.segmentation import quickshift, slic
from skimage.transform import resize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "segments")
FMNIST = os.path.join(ROOT, "samples", "fashion-mnist", "t10k-images-idx3-ubyte")
FMNIST_INDICES = [0, 1, 2, 7, 12]  # ankle boot, pullover, trouser, shirt, sneaker
RGB_SIZE = 64


def fashion_mnist():
    """[n, 28, 28] uint8 from the idx3 file bundled with the sample."""
    with open(FMNIST, "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051
        images = np.frombuffer(f.read(), dtype=np.uint8).reshape(count, rows, cols)
    return images[FMNIST_INDICES]


def photographs():
    """[n, 64, 64, 3] uint8: skimage's astronaut, chelsea and coffee, resized with anti-aliasing."""
    out = []
    for image in (data.astronaut(), data.chelsea(), data.coffee()):
        small = resize(image, (RGB_SIZE, RGB_SIZE), anti_aliasing=True)  # float64 in [0, 1]
        out.append(np.round(small * 255).astype(np.uint8))
    return np.stack(out)


def segment(rgb_uint8):
    """lime's quickshift call (float64 from uint8, as lime's images are), the finer one, SLIC(50, 10)."""
    image = rgb_uint8.astype(np.float64) / 255
    qs = quickshift(image, kernel_size=4, max_dist=200, ratio=0.2, random_seed=42)
    fine = quickshift(image, kernel_size=2, max_dist=6, ratio=0.5, random_seed=42)
    sl = slic(image, n_segments=50, compactness=10, start_label=0)
    return qs.astype(np.int32), fine.astype(np.int32), sl.astype(np.int32)


def adjusted_rand_index(a, b):
    """Hubert and Arabie's ARI, as the C# tests compute it."""
    _, a = np.unique(a.ravel(), return_inverse=True)
    _, b = np.unique(b.ravel(), return_inverse=True)
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1)
    pairs = lambda counts: (counts * (counts - 1) / 2).sum()
    index, rows, cols = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    expected = rows * cols / pairs(np.array([a.size]))
    maximum = (rows + cols) / 2
    return 1.0 if maximum == expected else (index - expected) / (maximum - expected)


def seed_spread(rgb_uint8, reference, **params):
    """The lowest ARI between skimage's labels and its own with random seeds 0-9: how much its tie-breaking
    noise alone moves the result, and so the least a faithful reimplementation can be asked for."""
    image = rgb_uint8.astype(np.float64) / 255
    return min(adjusted_rand_index(reference, quickshift(image, random_seed=seed, **params)) for seed in range(10))


def save(name, array):
    np.save(os.path.join(OUT, name), array)


def main():
    os.makedirs(OUT, exist_ok=True)
    gray = fashion_mnist()
    rgb = photographs()
    for name, images, as_rgb, to_chw in (
        ("fmnist", gray, gray2rgb, lambda a: a),
        ("photos", rgb, lambda a: a, lambda a: np.moveaxis(a, -1, 1)),
    ):
        labels = [segment(as_rgb(image)) for image in images]
        # Images as the engine holds them: [n, H, W] or [n, C, H, W], float32 k/255.
        save(f"{name}_images.npy", np.ascontiguousarray(to_chw(images).astype(np.float32) / np.float32(255)))
        save(f"{name}_quickshift.npy", np.stack([q for q, _, _ in labels]))
        save(f"{name}_quickshift_fine.npy", np.stack([f for _, f, _ in labels]))
        save(f"{name}_slic.npy", np.stack([s for _, _, s in labels]))
        for i, (q, f, s) in enumerate(labels):
            spread = seed_spread(as_rgb(images[i]), q, kernel_size=4, max_dist=200, ratio=0.2)
            fine_spread = seed_spread(as_rgb(images[i]), f, kernel_size=2, max_dist=6, ratio=0.5)
            print(f"{name}[{i}]: quickshift {q.max() + 1}, fine {f.max() + 1}, slic {s.max() + 1} segments;"
                  f" quickshift ARI over other seeds >= {spread:.4f}, fine >= {fine_spread:.4f}")


if __name__ == "__main__":
    main()
