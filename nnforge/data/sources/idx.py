"""MNIST and Fashion-MNIST from their standard IDX files (gzipped or not).

IDX: a 4-byte magic (two zero bytes, a type code, the number of dimensions), then one
big-endian 32-bit size per dimension, then the data. Only unsigned bytes (type 0x08) occur in
these datasets, so only those are accepted.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from nnforge.data.dataset import Dataset
from nnforge.data.download import ensure_files
from nnforge.errors import DataError, excerpt

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes with ``ndim`` dimensions; reject anything else clearly."""
    path = Path(path)
    try:
        raw = _read_gzip(path, ndim) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: cannot read as IDX ({excerpt(exc, 100)})") from None
    if len(raw) < 4:
        raise DataError(f"{path}: truncated IDX file ({len(raw)} bytes); expected a 4-byte magic number and a header")
    zero, dtype, dims = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08 or dims != ndim:
        raise DataError(
            f"{path}: wrong IDX magic number 0x{raw[:4].hex()}; expected 0x000008{ndim:02x} "
            f"(unsigned bytes, {ndim} dimensions)"
        )
    header = 4 + 4 * dims
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{dims}I", raw[4:header])
    expected = math.prod(shape)  # Python ints: three 32-bit sizes overflow int64 (2**31 * 2**31 * 4 wraps to 0)
    if len(raw) - header != expected:
        held = f"more than {expected}" if len(raw) - header > expected else len(raw) - header  # a .gz is read no further
        raise DataError(f"{path}: IDX header says {shape} ({expected} bytes of data) but the file holds {held}; truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_gzip(path: Path, ndim: int) -> bytes:
    """The decompressed file, read a chunk at a time and no further than its header's size + 1 byte:
    a small .gz that inflates to gigabytes (a bomb, or a header that lies) is never held whole."""
    out = bytearray()
    with gzip.open(path, "rb") as fh:
        limit = None
        while chunk := fh.read(1 << 20):
            out += chunk
            if limit is None and len(out) >= 4 + 4 * ndim:
                dims = out[3]
                header = 4 + 4 * dims
                if len(out) >= header:
                    limit = header + int(np.prod(struct.unpack(f">{dims}I", bytes(out[4:header])), dtype=object))
            if limit is not None and len(out) > limit:
                break  # more data than the header declares: refused below by its size, without reading on
    return bytes(out)


def _find(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (root / name).exists():
            return root / name
    raise DataError(f"'{stem}' (or '{stem}.gz') not found in {root}")


def load_idx_dataset(name: str, root: str | Path | None, url: str | None = None, download: bool = False) -> Dataset:
    if root is None:
        raise DataError(f"dataset '{name}' reads its standard IDX files from a folder: add --set data.root=DIR")
    root = Path(root).expanduser()
    if not root.is_dir():
        if not download:
            raise DataError(f"data.root '{root}' is not a folder; expected one holding the {name} IDX files")
        root.mkdir(parents=True, exist_ok=True)
    ensure_files(name, root, url, download)
    xs = {split: read_idx(_find(root, f"{prefix}-images-idx3-ubyte"), 3) for split, prefix in (("train", "train"), ("test", "t10k"))}
    ys = {split: read_idx(_find(root, f"{prefix}-labels-idx1-ubyte"), 1) for split, prefix in (("train", "train"), ("test", "t10k"))}
    for split in ("train", "test"):
        if len(xs[split]) != len(ys[split]):
            raise DataError(f"{name}: {len(xs[split])} {split} images but {len(ys[split])} labels in {root}")
        if ys[split].size and ys[split].max() > 9:
            raise DataError(f"{name}: {split} labels go up to {ys[split].max()}; expected 0-9")
    classes = FASHION_CLASSES if name == "fashion-mnist" else [str(i) for i in range(10)]
    return Dataset(
        name=name,
        kind="image",
        x_train=torch.from_numpy(xs["train"].copy()).unsqueeze(1),
        y_train=torch.from_numpy(ys["train"].astype(np.int64)),
        x_test=torch.from_numpy(xs["test"].copy()).unsqueeze(1),
        y_test=torch.from_numpy(ys["test"].astype(np.int64)),
        classes=classes,
    )
