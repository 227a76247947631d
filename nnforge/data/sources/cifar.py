"""CIFAR-10 from its python-version batches, without executing pickle code.

The official batches are pickles. A normal ``pickle.load`` runs whatever callable the file
names, so a doctored batch could run code on the user's machine. :class:`DataOnlyUnpickler`
resolves only the handful of globals that rebuild NumPy arrays; anything else — a module
import, ``os.system``, ``builtins.eval`` — is refused before it is called.
"""

from __future__ import annotations

import codecs
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch

from nnforge.data.dataset import Dataset
from nnforge.data.download import ensure_files
from nnforge.errors import DataError, UnsafeFileError

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class DataOnlyUnpickler(pickle.Unpickler):
    """Builds dicts, lists, strings, bytes, numbers and NumPy arrays; refuses every other global."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafeFileError(f"refused to load '{module}.{name}': a data file may only hold arrays, lists and dicts") from None


def load_data_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            data = DataOnlyUnpickler(io.BytesIO(fh.read()), encoding="bytes").load()
    except UnsafeFileError as exc:
        raise UnsafeFileError(f"{path}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise DataError(f"{path}: not a readable CIFAR batch ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: a CIFAR batch is a dict with 'data' and 'labels', got {type(data).__name__}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in data.items()}


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = load_data_pickle(path)
    if "data" not in batch or "labels" not in batch:
        raise DataError(f"{path}: CIFAR batch lacks 'data' or 'labels' (has {sorted(batch)})")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise DataError(f"{path}: expected uint8 data of shape (N, 3072) with N labels, got {data.dtype} {data.shape} and {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path}: labels outside 0-9")
    return data.reshape(-1, 3, 32, 32), labels


# What to do when the batches are not there, said the same way by every message below.
WHAT_TO_DO = ("add --set data.root=DIR with DIR holding cifar-10-batches-py (the python version, "
              "https://www.cs.toronto.edu/~kriz/cifar.html), or --set data.download=true where a network allows (163 MiB)")


def _batches_folder(root: Path, url: str | None, download: bool) -> Path:
    for candidate in (root / "cifar-10-batches-py", root):
        if (candidate / "data_batch_1").exists():
            return candidate
    archive = root / "cifar-10-python.tar.gz"
    if not archive.exists():
        if not download:
            raise DataError(f"cifar10: '{root}' holds neither cifar-10-batches-py nor cifar-10-python.tar.gz; {WHAT_TO_DO}")
        ensure_files("cifar10", root, url, download)
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return root / "cifar-10-batches-py"


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
    train_files = sorted(folder.glob("data_batch_*"))
    if not train_files or not (folder / "test_batch").exists():
        raise DataError(f"{folder}: expected data_batch_1..5 and test_batch")
    parts = [read_batch(p) for p in train_files]
    x_test, y_test = read_batch(folder / "test_batch")
    return Dataset(
        name="cifar10",
        kind="image",
        x_train=torch.from_numpy(np.concatenate([p[0] for p in parts])),
        y_train=torch.from_numpy(np.concatenate([p[1] for p in parts])),
        x_test=torch.from_numpy(np.ascontiguousarray(x_test)),
        y_test=torch.from_numpy(y_test),
        classes=CLASSES,
    )
