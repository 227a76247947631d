"""CIFAR-10 from its python-version batches, without executing pickle code.

The official batches are pickles, and a pickle can name any callable to run while loading.
They are read by :mod:`nnforge.data.sources.batch_pickle`, which interprets only the opcodes a
batch uses and builds NumPy integer arrays itself: a doctored batch can neither run code nor
choose how an array is constructed. This module then checks what a batch must hold: ``data``,
uint8 of shape (N, 3072), and ``labels``, N integers in 0-9. The folder must hold the archive's
whole set, ``data_batch_1`` to ``data_batch_5`` and ``test_batch`` (:data:`BATCHES`): a partial
download is named, not trained on, and no other file is read as a batch.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path

import numpy as np
import torch

from nnforge.data.dataset import Dataset
from nnforge.data.download import ensure_files
from nnforge.data.sources.batch_pickle import load_batch_pickle
from nnforge.errors import DataError, excerpt

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PIXELS = 3 * 32 * 32


def load_data_pickle(path: Path) -> dict:
    """The batch's dict with its keys as text; bytes keys must be UTF-8."""
    data = load_batch_pickle(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: a CIFAR batch is a dict with 'data' and 'labels', got {type(data).__name__}")
    out = {}
    for key, value in data.items():
        if isinstance(key, bytes):
            try:
                key = key.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(f"{path}: a key of the batch is not UTF-8 text") from None
        out[key] = value
    return out


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 of one batch, or a one-line DataError."""
    batch = load_data_pickle(path)
    if "data" not in batch or "labels" not in batch:
        raise DataError(f"{path}: CIFAR batch lacks 'data' or 'labels'")
    data, labels = batch["data"], _labels(path, batch["labels"])
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        got = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else f"a {type(data).__name__}"
        raise DataError(f"{path}: expected 'data' as a uint8 array of shape (N, {PIXELS}), got {got}")
    if len(data) != len(labels):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32), labels


# What to do when the batches are not there, said the same way by every message below.
WHAT_TO_DO = ("add --set data.root=DIR with DIR holding cifar-10-batches-py (the python version, "
              "https://www.cs.toronto.edu/~kriz/cifar.html), or --set data.download=true where a network allows (163 MiB)")


def _labels(path: Path, labels) -> np.ndarray:
    """A list of ints (as the official batches hold) or a 1-D integer array, each in 0-9."""
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1 or labels.dtype.kind not in "ui":
            raise DataError(f"{path}: 'labels' is a {labels.dtype} array of shape {labels.shape}; expected N integers")
        out = labels.astype(np.int64)
    elif isinstance(labels, list):
        if not all(type(v) is int for v in labels):
            raise DataError(f"{path}: 'labels' holds something other than integers; expected N integers in 0-9")
        if not all(0 <= v < len(CLASSES) for v in labels):
            raise DataError(f"{path}: labels outside 0-9")
        out = np.array(labels, dtype=np.int64)
    else:
        raise DataError(f"{path}: 'labels' is a {type(labels).__name__}; expected a list of N integers in 0-9")
    if out.size and (out.min() < 0 or out.max() >= len(CLASSES)):
        raise DataError(f"{path}: labels outside 0-9")
    return out


BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]  # what the python archive's folder holds
COMPLETE = "a complete cifar-10-batches-py holds data_batch_1 to data_batch_5 and test_batch"


def _missing(folder: Path) -> list[str]:
    return [name for name in BATCHES if not (folder / name).is_file()]


def _batches_folder(root: Path, url: str | None, download: bool) -> Path:
    for candidate in (root / "cifar-10-batches-py", root):
        if len(_missing(candidate)) < len(BATCHES):  # any batch: a partial folder is named as such, not passed over
            return candidate
    archive = root / "cifar-10-python.tar.gz"
    if not archive.exists():
        if not download:
            raise DataError(f"cifar10: '{root}' holds neither cifar-10-batches-py nor cifar-10-python.tar.gz; {WHAT_TO_DO}")
        ensure_files("cifar10", root, url, download)
    return _extract(archive, root)


MAX_EXTRACTED_BYTES = 400 * 2**20  # CIFAR-10's python archive holds 178 MB in 8 files
MAX_EXTRACTED_MEMBERS = 100


def _within_budget(archive: Path):
    """tarfile's ``data`` filter, plus a budget: an archive that would write more than the real
    one's size several times over, or more files, is refused before it fills the disk (a few MB of
    gzip can hold gigabytes of zeros)."""
    written = {"bytes": 0, "members": 0}

    def check(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
        member = tarfile.data_filter(member, path)
        written["bytes"] += member.size
        written["members"] += 1
        if written["bytes"] > MAX_EXTRACTED_BYTES or written["members"] > MAX_EXTRACTED_MEMBERS:
            raise DataError(f"{archive}: would extract more than {MAX_EXTRACTED_BYTES >> 20} MB or {MAX_EXTRACTED_MEMBERS} files; "
                            f"CIFAR-10's python archive holds 178 MB in 8 files (delete it and download it again)")
        return member

    return check


def _extract(archive: Path, root: Path) -> Path:
    """``cifar-10-batches-py`` from the archive, extracted beside it and renamed into place whole:
    a damaged or doctored archive (a member outside the folder, a link out of it) is one line and
    leaves no half-extracted folder that a later run would take for the batches."""
    from nnforge import io

    target = root / "cifar-10-batches-py"
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".cifar-10-extract-", dir=root))
    except OSError as exc:
        raise io.storage_error(target, exc) from None
    try:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter=_within_budget(archive))
        except OSError as exc:
            if exc.errno is None:  # gzip.BadGzipFile: damage, not the disk
                raise DataError(f"{archive}: not a readable cifar-10-python.tar.gz ({excerpt(exc, 100)}); "
                                f"delete it and download it again") from None
            raise io.storage_error(target, exc) from None
        except (tarfile.TarError, EOFError, zlib.error) as exc:  # TarError: also the data filter's refusals
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DataError(f"{archive}: not a readable cifar-10-python.tar.gz ({excerpt(detail, 100)}); "
                            f"delete it and download it again") from None
        missing = _missing(tmp / "cifar-10-batches-py")
        if missing:  # a partial archive trained on what it held, silently
            raise DataError(f"{archive}: holds no cifar-10-batches-py/{', '.join(missing)}; expected the python version of "
                            f"CIFAR-10 ({COMPLETE}): delete it and download it again")
        if target.exists():
            raise DataError(f"{target}: exists but holds none of {', '.join(BATCHES)}; remove it so the archive can be extracted")
        os.replace(tmp / "cifar-10-batches-py", target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_cifar10(root: str | Path | None, url: str | None = None, download: bool = False) -> Dataset:
    if root is None:
        raise DataError(f"dataset 'cifar10' reads the python-version batches from a folder: {WHAT_TO_DO}")
    root = Path(root).expanduser()
    if not root.is_dir():
        if not download:
            raise DataError(f"cifar10: data.root '{root}' is not a folder; {WHAT_TO_DO}")
    created = [p for p in (root, *root.parents) if not p.exists()]
    root.mkdir(parents=True, exist_ok=True)
    try:
        folder = _batches_folder(root, url, download)
    except BaseException:
        for path in created:  # deepest first: a failed download leaves no empty folder behind
            try:
                path.rmdir()
            except OSError:
                break
        raise
    missing = _missing(folder)
    if missing:  # before: whatever data_batch_* were there, so a partial download trained on less, silently
        raise DataError(f"cifar10: '{folder}' lacks {', '.join(missing)} ({COMPLETE}); put them there from "
                        "cifar-10-python.tar.gz (the python version, https://www.cs.toronto.edu/~kriz/cifar.html)")
    parts = [read_batch(folder / name) for name in BATCHES[:-1]]
    x_test, y_test = read_batch(folder / "test_batch")
    return Dataset(
        name="cifar10",
        kind="image",
        x_train=torch.from_numpy(np.concatenate([p[0] for p in parts])),
        y_train=torch.from_numpy(np.concatenate([p[1] for p in parts])),
        x_test=torch.from_numpy(x_test),
        y_test=torch.from_numpy(y_test),
        classes=CLASSES,
    )
