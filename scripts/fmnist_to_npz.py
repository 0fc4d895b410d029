#!/usr/bin/python3
"""Build a Fashion-MNIST evaluation .npz from Debian's dataset-fashion-mnist.

The full 10,000-image test set (31 MB as float32) is too big to commit, so tests
build it on demand with this script.  numpy only (no torch), so it runs wherever
the tests run.

Output keys: `input` float32 [N,1,28,28] = pixel/255 (the CNN fixture's input
name and preprocessing), `label` int64 [N].

usage: fmnist_to_npz.py OUT.npz [--split test|train] [--limit N]
                        [--dataset-dir /usr/share/datasets/fashion-mnist]
"""
import argparse
import gzip
import os
import sys

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
_PREFIX = {"train": "train", "test": "t10k"}


def _read_idx(path, expected_magic):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    if magic != expected_magic:
        raise ValueError(f"{path}: bad IDX magic {magic:#x}, expected {expected_magic:#x}")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {body.size} data bytes, header says {dims}")
    return body.reshape(dims)


def load_split(split, dataset_dir=DEFAULT_DIR):
    """Return (images uint8 [N,28,28], labels uint8 [N]) for 'train' or 'test'."""
    prefix = _PREFIX[split]
    images = _read_idx(os.path.join(dataset_dir, f"{prefix}-images-idx3-ubyte.gz"), 0x00000803)
    labels = _read_idx(os.path.join(dataset_dir, f"{prefix}-labels-idx1-ubyte.gz"), 0x00000801)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{dataset_dir}: {split} has {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels


def to_model_input(images_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28] in [0,1] (the CNN's preprocessing)."""
    return (images_u8.astype(np.float32) / np.float32(255.0))[:, None, :, :]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--split", choices=sorted(_PREFIX), default="test")
    ap.add_argument("--limit", type=int, default=0, help="keep only the first N images (0 = all)")
    ap.add_argument("--dataset-dir", default=DEFAULT_DIR)
    args = ap.parse_args(argv)
    images, labels = load_split(args.split, args.dataset_dir)
    if args.limit > 0:
        images, labels = images[:args.limit], labels[:args.limit]
    tmp = args.out + ".tmp.npz"  # np.savez appends .npz unless present
    np.savez(tmp, input=to_model_input(images), label=labels.astype(np.int64))
    os.replace(tmp, args.out)
    print(f"{args.out}: {images.shape[0]} {args.split} images")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
