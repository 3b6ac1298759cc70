#!/usr/bin/python3
"""Makes the image-dataset fixtures (Debian's python3-pil 9.4, python3-torchvision 0.14, python3-numpy).

Run once from the repository root:  /usr/bin/python3 tools/make_image_fixtures.py
It writes tests/fixtures/images/ (about 0.8 MB), from the Fashion-MNIST test set bundled with the sample
(samples/fashion-mnist, itself from Debian's dataset-fashion-mnist):

  small/CLASS/NNNN.png   18 images, 28x28 grayscale PNG (mode L), 6 of each of Bag, Sneaker, Trouser, in an
                         ImageFolder tree. PNG is lossless, so their pixels are the IDX file's bytes.
  small_raw.npy          uint8 [18, 28, 28]: those pixels in ImageFolder's order (an .npy job on the same images)
  small_labels.npy       int64 [18]: their Fashion-MNIST labels (Bag 8, Sneaker 7, Trouser 1)
  large/CLASS/NNNN.EXT   12 images, 4 of each class, upscaled with PIL's bicubic to 64x64, 80x64 or 64x72 (w x h)
                         and coloured so that the channels differ, stored as JPEG (quality 90, 4:2:0) RGB, PNG RGB,
                         PNG RGBA (alpha varies: ImageFolder's loader drops it) and JPEG grayscale, in turn.
  deep/Bag/*.png         20x16 PNGs PIL reads in other modes: 16-bit RGB and 16-bit gray+alpha (both keep the high
                         byte), 8-bit paletted (mode P)
  unsupported/gray16.png a 16-bit grayscale PNG: PIL opens it as mode I and ImageFolder's convert("RGB") clips its
                         values to 0-255, which SkiaSharp (high byte only) cannot reproduce, so the job refuses it
  manifest.csv           path,label,site for the small images, paths relative to the manifest, in ImageFolder's
                         order, label the class name, site A or B
  corrupt/truncated.jpg  the first 40% of a large JPEG
  corrupt/not_an_image.png  text
  corrupt/bomb.png       a 74-byte PNG whose header declares 100000 x 100000 RGB (30 GB decoded)
  reference/NAME.npy     float32 [N, C, H, W]: what torchvision's ImageFolder and a transforms.Compose give, for
                         each pipeline in reference/pipelines.json (its folder, its transforms in the job file's
                         syntax, and ImageFolder's files and targets in order)
"""
import io
import json
import os
import shutil
import struct
import zlib

import numpy as np
import torch
from PIL import Image
from torchvision import datasets, transforms as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "images")
FMNIST = os.path.join(ROOT, "samples", "fashion-mnist", "t10k-images-idx3-ubyte")
FMNIST_LABELS = os.path.join(ROOT, "samples", "fashion-mnist", "t10k-labels-idx1-ubyte")
CLASSES = {"Trouser": 1, "Sneaker": 7, "Bag": 8}
SMALL_PER_CLASS = 6
LARGE_PER_CLASS = 4
LARGE_SIZES = [(64, 64), (80, 64), (64, 72)]  # (width, height)

# Each pipeline: the folder, the transforms in the job file's syntax, and the same in torchvision.
PIPELINES = {
    "small_demo": ("small", [{"grayscale": {}}, {"toTensor": {}}, {"normalize": {"mean": [0.286], "std": [0.353]}}],
                   T.Compose([T.Grayscale(), T.ToTensor(), T.Normalize([0.286], [0.353])])),
    "small_up": ("small", [{"resize": 34}, {"centerCrop": 32}, {"toTensor": {}}],
                 T.Compose([T.Resize(34), T.CenterCrop(32), T.ToTensor()])),
    "large_crop": ("large", [{"resize": 32}, {"centerCrop": 28}, {"toTensor": {}},
                             {"normalize": {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}}],
                   T.Compose([T.Resize(32), T.CenterCrop(28), T.ToTensor(),
                              T.Normalize([0.5, 0.4, 0.3], [0.2, 0.25, 0.3])])),
    "large_gray_pad": ("large", [{"grayscale": {}}, {"resize": [20, 24]}, {"pad": {"padding": [2, 1], "fill": 128}},
                                 {"toTensor": {}}],
                       T.Compose([T.Grayscale(), T.Resize([20, 24]), T.Pad([2, 1], fill=128), T.ToTensor()])),
    "large_reflect": ("large", [{"resize": [24, 24]}, {"pad": {"padding": [1, 2, 3, 4], "mode": "reflect"}},
                                {"centerCrop": [26, 30]}, {"toTensor": {}}],
                      T.Compose([T.Resize([24, 24]), T.Pad([1, 2, 3, 4], padding_mode="reflect"),
                                 T.CenterCrop([26, 30]), T.ToTensor()])),
    "deep": ("deep", [{"toTensor": {}}], T.Compose([T.ToTensor()])),
    "large_bigcrop": ("large", [{"resize": 30}, {"centerCrop": 36}, {"toTensor": {}}],
                      T.Compose([T.Resize(30), T.CenterCrop(36), T.ToTensor()])),
}


def fashion_mnist():
    with open(FMNIST, "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051
        images = np.frombuffer(f.read(), dtype=np.uint8).reshape(count, rows, cols)
    with open(FMNIST_LABELS, "rb") as f:
        magic, count = struct.unpack(">II", f.read(8))
        assert magic == 2049
        labels = np.frombuffer(f.read(), dtype=np.uint8)
    return images, labels


def coloured(gray, size, k):
    """An RGB image from a grayscale one: upscaled, each channel a different function of it."""
    up = np.asarray(Image.fromarray(gray).resize(size, Image.BICUBIC)).astype(np.int32)
    h, w = up.shape
    ramp = (np.arange(w)[None, :] * 255 // max(1, w - 1)).repeat(h, 0)
    r = up
    g = (255 - up) * (k % 3 + 1) // 3 + ramp // 4
    b = (up // 2 + ramp // 2 + 17 * k) % 256
    return np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8)


def bomb_png(width, height):
    """A valid PNG signature and IHDR declaring width x height RGB, then a tiny IDAT and IEND."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png(width, height, depth, colour, rows):
    """A PNG written by hand (PIL writes no 16-bit RGB): rows of big-endian samples, filter 0."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def deep(images):
    """PNGs in the modes beyond 8-bit L/RGB/RGBA, from one Fashion-MNIST image cropped to 20x16."""
    folder = os.path.join(OUT, "deep", "Bag")
    os.makedirs(folder)
    base = images[0][4:20, 4:24].astype(np.uint32)  # 16 rows, 20 columns
    wide = (base * 257 + np.arange(20)[None, :] * 11).clip(0, 65535)
    gray16 = (base * 3 + np.arange(20)[None, :] * 9).astype(np.uint16)  # 0..~900: below and above 255
    os.makedirs(os.path.join(OUT, "unsupported"))
    Image.fromarray(gray16, mode="I;16").save(os.path.join(OUT, "unsupported", "gray16.png"))
    rgb16 = np.stack([wide, 65535 - wide, (wide // 3 + 4000)], -1).astype(">u2")
    with open(os.path.join(folder, "rgb16.png"), "wb") as f:
        f.write(png(20, 16, 16, 2, list(rgb16)))
    la16 = np.stack([wide, (np.arange(20)[None, :] * 3000 + 0 * wide)], -1).astype(">u2")
    with open(os.path.join(folder, "graya16.png"), "wb") as f:
        f.write(png(20, 16, 16, 4, list(la16)))
    Image.fromarray(images[0][4:20, 4:24], "L").convert("RGB").quantize(16).save(os.path.join(folder, "palette.png"))


def main():
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    images, labels = fashion_mnist()
    raw, raw_labels = [], []
    large_jpeg = None
    for name in sorted(CLASSES):
        indices = np.nonzero(labels == CLASSES[name])[0]
        os.makedirs(os.path.join(OUT, "small", name))
        os.makedirs(os.path.join(OUT, "large", name))
        for i in indices[:SMALL_PER_CLASS]:
            Image.fromarray(images[i], "L").save(os.path.join(OUT, "small", name, f"{i:04d}.png"), optimize=True)
            raw.append(images[i])
            raw_labels.append(CLASSES[name])
        for k, i in enumerate(indices[SMALL_PER_CLASS:SMALL_PER_CLASS + LARGE_PER_CLASS]):
            rgb = coloured(images[i], LARGE_SIZES[(k + CLASSES[name]) % len(LARGE_SIZES)], k)
            path = os.path.join(OUT, "large", name, f"{i:04d}")
            if k == 0:
                Image.fromarray(rgb, "RGB").save(path + ".jpg", quality=90)
                large_jpeg = path + ".jpg"
            elif k == 1:
                Image.fromarray(rgb, "RGB").save(path + ".png", optimize=True)
            elif k == 2:
                alpha = ((np.arange(rgb.shape[1])[None, :] * 7 + np.arange(rgb.shape[0])[:, None] * 3) % 256).astype(np.uint8)
                Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path + ".png", optimize=True)
            else:
                Image.fromarray(rgb, "RGB").convert("L").save(path + ".jpg", quality=90)
    np.save(os.path.join(OUT, "small_raw.npy"), np.stack(raw))
    np.save(os.path.join(OUT, "small_labels.npy"), np.array(raw_labels, dtype=np.int64))

    folder = datasets.ImageFolder(os.path.join(OUT, "small"))
    with open(os.path.join(OUT, "manifest.csv"), "w", newline="\n") as f:
        f.write("path,label,site\n")
        for n, (path, target) in enumerate(folder.samples):
            rel = os.path.relpath(path, OUT).replace(os.sep, "/")
            f.write(f"{rel},{folder.classes[target]},{'AB'[n % 2]}\n")

    deep(images[np.nonzero(labels == CLASSES["Bag"])[0][:1]])

    os.makedirs(os.path.join(OUT, "corrupt"))
    with open(large_jpeg, "rb") as f:
        jpeg = f.read()
    with open(os.path.join(OUT, "corrupt", "truncated.jpg"), "wb") as f:
        f.write(jpeg[: len(jpeg) * 2 // 5])
    with open(os.path.join(OUT, "corrupt", "not_an_image.png"), "w") as f:
        f.write("this is a text file, not a PNG\n")
    with open(os.path.join(OUT, "corrupt", "bomb.png"), "wb") as f:
        f.write(bomb_png(100000, 100000))

    os.makedirs(os.path.join(OUT, "reference"))
    described = {}
    for name, (sub, spec, pipeline) in PIPELINES.items():
        ds = datasets.ImageFolder(os.path.join(OUT, sub), transform=pipeline)
        tensors = torch.stack([ds[i][0] for i in range(len(ds))]).numpy().astype(np.float32)
        np.save(os.path.join(OUT, "reference", name + ".npy"), tensors)
        described[name] = {
            "folder": sub,
            "transforms": spec,
            "files": [os.path.relpath(p, os.path.join(OUT, sub)).replace(os.sep, "/") for p, _ in ds.samples],
            "targets": [t for _, t in ds.samples],
            "classes": ds.classes,
            "shape": list(tensors.shape),
        }
    with open(os.path.join(OUT, "reference", "pipelines.json"), "w") as f:
        json.dump(described, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(OUT) for n in names)
    print(f"wrote {OUT}: {total} bytes")


if __name__ == "__main__":
    main()
