"""The in-memory dataset every nnforge command works with.

Datasets are small enough to live in memory as tensors, which keeps batching free of
per-sample Python work. Images are kept as ``uint8`` (N, C, H, W) — four times smaller than
float32 — and converted a batch at a time by :class:`~nnforge.data.preprocess.Preprocessing`;
tabular rows are ``float32`` (N, F).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from nnforge.data.tabular_encoding import HoldsTextRows, TabularRows
from nnforge.errors import DataError


@dataclass
class Dataset(HoldsTextRows):
    """A train/test pair with the facts a model and a served model need about the inputs."""

    name: str
    kind: str  # "image" or "tabular"
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: list[str]
    feature_names: list[str] = field(default_factory=list)
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None
    encoding: dict | None = None  # csv: text columns and missing cells, as nnforge.data.tabular_encoding encoded them
    # csv with an encoding: the text rows of x_train and x_test as read; split_validation and fold learn
    # the encoding again from the rows left to train, and the parts they make carry none
    text_rows: TabularRows | None = field(default=None, repr=False, compare=False)
    # where each test example came from, for error analysis to point at it: a csv's "line N", a
    # folder's image file (relative to the folder); None for packaged datasets (the index is all)
    test_sources: list[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.kind not in ("image", "tabular"):
            raise ValueError(f"kind must be image or tabular, got {self.kind}")
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if len(x) != len(y):
                raise DataError(f"dataset '{self.name}': {len(x)} {split} inputs but {len(y)} labels")
        if len(self.x_train) == 0:
            raise DataError(f"dataset '{self.name}' has no training examples")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def split_validation(self, fraction: float, seed: int) -> "Dataset":
        """Carve a validation part from the training split by a seeded shuffle.

        The test split is never touched, so test accuracy stays comparable across recipes.
        """
        if fraction <= 0:
            return self._without_validation()
        n = len(self.x_train)
        n_val = max(1, int(round(n * fraction)))
        if n - n_val < 1:
            raise DataError(f"dataset '{self.name}' has {n} training examples: too few to hold out {fraction:.0%}")
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        return self._held_out(order[n_val:], order[:n_val])

    def fold(self, k: int, folds: int, seed: int) -> "Dataset":
        """Fold ``k`` (0-based) of ``folds`` stratified folds of the training split as the validation
        part, the other folds as training (scikit-learn's ``StratifiedKFold(folds, shuffle=True,
        random_state=seed)``, so the same rows as a by-hand split); the test split untouched."""
        from sklearn.model_selection import StratifiedKFold

        y = self.y_train.numpy()
        counts = np.bincount(y)
        if folds < 2 or counts[counts > 0].min() < folds:
            raise DataError(f"dataset '{self.name}': a class has fewer than {folds} training examples; use fewer folds")
        train, val = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))[k]
        return self._held_out(torch.from_numpy(train), torch.from_numpy(val))

    @staticmethod
    def _array(values: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(values)

    def describe(self) -> str:
        val = f", {len(self.x_val)} val" if self.x_val is not None else ""
        return (
            f"{self.name}: {len(self.x_train)} train{val}, {len(self.x_test)} test, "
            f"{self.kind} {self.input_shape}, {self.num_classes} classes"
        )


def split_80_20(x: np.ndarray, y: np.ndarray, seed: int):
    """The fixed 80/20 train/test split of a dataset that ships without one (``csv:``, ``folder:``):
    stratified where every class can be in both parts, else a plain shuffle (a few rows: with 6 rows
    of 3 classes the test part holds 2, and a stratified split of them is impossible)."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    n_test = int(np.ceil(0.2 * len(y)))
    classes = int((counts > 0).sum())
    stratify = y if counts[counts > 0].min() >= 2 and min(n_test, len(y) - n_test) >= classes else None
    return train_test_split(x, y, test_size=0.2, random_state=seed, stratify=stratify)
