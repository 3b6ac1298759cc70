#!/usr/bin/python3
"""Writes tests/fixtures/images/tar/: the 18 images of tests/fixtures/images/small as WebDataset shards.

Each sample is KEY.png beside KEY.cls (its class index as text, classes sorted by name as torchvision's ImageFolder
numbers them), in ImageFolder's order, split over two tar files (10 samples, then 8), as `tarfile` (ustar) writes them.
Deterministic: fixed mtimes and owners, so running it again gives the same bytes. Run from the repository root with
Debian's /usr/bin/python3 (standard library only).
"""
import io
import os
import tarfile

SMALL = "tests/fixtures/images/small"
OUT = "tests/fixtures/images/tar"

classes = sorted(d for d in os.listdir(SMALL) if os.path.isdir(os.path.join(SMALL, d)))
samples = [(c, f) for c in classes for f in sorted(os.listdir(os.path.join(SMALL, c)))]
os.makedirs(OUT, exist_ok=True)


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


for shard, part in enumerate([samples[:10], samples[10:]]):
    with tarfile.open(os.path.join(OUT, f"shard-{shard:05d}.tar"), "w", format=tarfile.USTAR_FORMAT) as tar:
        for c, f in part:
            key = f"{c}_{os.path.splitext(f)[0]}"
            with open(os.path.join(SMALL, c, f), "rb") as image:
                add(tar, key + ".png", image.read())
            add(tar, key + ".cls", str(classes.index(c)).encode())
