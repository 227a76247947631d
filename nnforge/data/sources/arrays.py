"""In-memory arrays as a dataset (``arrays:NAME``): how :mod:`nnforge.sklearn` trains on ``fit(X, y)``.

A recipe is text, so arrays cannot be written into it; :func:`register_arrays` keeps them in this
process under a fresh name that a recipe's ``data.name`` then names, and the one training loop
reads them like any other dataset. Every row trains (no held-out test rows: the estimator's caller
holds out what it wants, as scikit-learn's cross-validation does), so the run's "test" scores are
scores on the training rows, and say so in the dataset's description.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np
import torch

from nnforge.errors import DataError, excerpt

_ARRAYS: dict[str, dict] = {}
_LOCK = threading.Lock()
_COUNTER = itertools.count()


def register_arrays(x: np.ndarray, y: np.ndarray, classes: list | None = None, feature_names: list[str] | None = None,
                    target_names: list[str] | None = None) -> str:
    """Keep ``x`` (N, F) and ``y`` in this process; return the ``data.name`` that reads them.

    ``classes``: for classification, ``y`` holds indices into it. Call :func:`release_arrays` when done."""
    x = np.array(x, dtype=np.float32, order="C")  # a copy: the caller's array may be read-only or change later
    if x.ndim != 2:
        raise DataError(f"arrays: X must be 2-D (rows, features), got shape {x.shape}")
    name = f"arrays:{next(_COUNTER)}"
    with _LOCK:
        _ARRAYS[name] = {"x": x, "y": np.asarray(y), "classes": classes, "features": feature_names or [f"x{i}" for i in range(x.shape[1])],
                         "targets": target_names}
    return name


def release_arrays(name: str) -> None:
    with _LOCK:
        _ARRAYS.pop(name, None)


def _get(name: str) -> dict:
    with _LOCK:
        found = _ARRAYS.get(name)
    if found is None:
        raise DataError(f"'{excerpt(name)}' names in-memory arrays that this process does not hold; "
                        "arrays: datasets come from nnforge.sklearn's fit(X, y), not from a recipe file")
    return found


def load_arrays_dataset(name: str):
    """Classification rows (``y`` class indices) as a :class:`~nnforge.data.Dataset`; test = the training rows."""
    from nnforge.data.dataset import Dataset

    a = _get(name)
    if a["classes"] is None:
        raise DataError(f"'{name}' holds a numeric target; train it with task=regress")
    x, y = torch.from_numpy(a["x"]), torch.from_numpy(a["y"].astype(np.int64))
    return Dataset(name=f"{name} (in memory; test = training rows)", kind="tabular", x_train=x, y_train=y, x_test=x, y_test=y,
                   classes=[str(c) for c in a["classes"]], feature_names=list(a["features"]))


def load_arrays_table(name: str):
    """Regression rows as a :class:`~nnforge.data.sources.regression.Table`; test = the training rows."""
    from nnforge.data.sources.regression import Table

    a = _get(name)
    if a["classes"] is not None:
        raise DataError(f"'{name}' holds class labels; train it with task=classify")
    x, y = a["x"], np.asarray(a["y"], dtype=np.float32).reshape(len(a["x"]), -1)
    targets = a["targets"] or (["y"] if y.shape[1] == 1 else [f"y{i}" for i in range(y.shape[1])])
    return Table(f"{name} (in memory; test = training rows)", x, y, x, y, list(a["features"]), list(targets))
