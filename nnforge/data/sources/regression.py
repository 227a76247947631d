"""Tables with a numeric target, for ``task: regress``.

``diabetes``: scikit-learn's 442 patients, 10 baseline measurements, the disease progression one
year later (one target). ``linnerud``: 20 men, 3 exercises, 3 physiological measurements (a
multi-output target). ``csv:PATH`` with ``data.target=COLUMN``: any table whose target column is
numeric. A fixed 80/20 split (``random_state=0``) holds out the test rows, as for ``digits``.

Rows stay raw (the target in its own units); the task standardises with training-split statistics.
A csv's text columns and missing cells are encoded with the statistics of the rows that train
(learned again once ``split_validation`` or ``fold`` holds out the validation rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnforge.data.tabular_encoding import HoldsTextRows, TabularRows
from nnforge.errors import DataError, did_you_mean, excerpt


@dataclass
class Table(HoldsTextRows):
    """Train/test rows of float32 features and an (N, targets) float32 target in its own units."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    target_names: list[str]
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    notes: dict = field(default_factory=dict)
    encoding: dict | None = None  # csv: text columns and missing cells, as nnforge.data.tabular_encoding encoded them
    # csv with an encoding: the text rows of x_train and x_test as read; split_validation and fold learn
    # the encoding again from the rows left to train, and the parts they make carry none
    text_rows: TabularRows | None = field(default=None, repr=False, compare=False)
    test_sources: list[str] | None = field(default=None, repr=False, compare=False)  # a csv's: "line N" of each test row

    def __post_init__(self):
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if len(x) != len(y):
                raise DataError(f"table '{self.name}': {len(x)} {split} rows but {len(y)} targets")
        if len(self.x_train) < 2:
            raise DataError(f"table '{self.name}' has {len(self.x_train)} training rows; regression needs at least two")

    def split_validation(self, fraction: float, seed: int) -> "Table":
        """A seeded part of the training rows held out for validation (the test rows untouched)."""
        if fraction <= 0:
            return self._without_validation()
        n = len(self.x_train)
        n_val = max(1, int(round(n * fraction)))
        if n - n_val < 2:
            raise DataError(f"table '{self.name}' has {n} training rows: too few to hold out {fraction:.0%}")
        order = np.random.RandomState(seed).permutation(n)
        return self._held_out(order[n_val:], order[:n_val])

    def fold(self, k: int, folds: int, seed: int) -> "Table":
        """Fold ``k`` of ``folds`` of the training rows as validation (scikit-learn's ``KFold(folds,
        shuffle=True, random_state=seed)``); the test rows untouched."""
        from sklearn.model_selection import KFold

        if folds < 2 or len(self.x_train) < 2 * folds:
            raise DataError(f"table '{self.name}': {len(self.x_train)} training rows cannot make {folds} folds")
        train, val = list(KFold(folds, shuffle=True, random_state=seed).split(self.x_train))[k]
        return self._held_out(train, val)

    def describe(self) -> str:
        val = f", {len(self.x_val)} val" if self.x_val is not None else ""
        return (f"{self.name}: {len(self.x_train)} train{val}, {len(self.x_test)} test, "
                f"{self.x_train.shape[1]} features -> {', '.join(self.target_names)}")


def split(name: str, x: np.ndarray, y: np.ndarray, features: list[str], targets: list[str], seed: int = 0) -> Table:
    from sklearn.model_selection import train_test_split

    y = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
    x_tr, x_te, y_tr, y_te = train_test_split(np.asarray(x, dtype=np.float32), y, test_size=0.2, random_state=seed)
    return Table(name, x_tr, y_tr, x_te, y_te, list(features), list(targets))


def load_diabetes() -> Table:
    from sklearn.datasets import load_diabetes as sk

    bunch = sk(scaled=False)  # the measurements in their own units (age in years, BMI, ...)
    return split("diabetes", bunch.data, bunch.target, bunch.feature_names, ["progression"])


def load_linnerud() -> Table:
    from sklearn.datasets import load_linnerud as sk

    bunch = sk()
    return split("linnerud", bunch.data, bunch.target, bunch.feature_names, bunch.target_names)


TABLES = {
    "diabetes": ("scikit-learn's 442 diabetes patients: 10 measurements -> disease progression (task=regress)", load_diabetes),
    "linnerud": ("scikit-learn's 20 Linnerud athletes: 3 exercises -> 3 body measurements (task=regress, multi-output)", load_linnerud),
}


def load_csv_table(path: str, target: str | None, seed: int = 0) -> Table:
    """A CSV whose ``target`` column is numeric; the other columns are its features (text columns and
    missing cells encoded with training statistics, :mod:`nnforge.data.tabular_encoding`)."""
    from pathlib import Path

    from nnforge.data.sources.tabular_csv import (
        _columns,
        _read_rows,
        check_header,
        parse_features,
    )
    from nnforge.data.tabular_encoding import needs_encoding

    given, file = path, Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"csv file '{file}' not found; expected csv:PATH to a CSV with a header row")
    header, rows, lines = _read_rows(file)
    check_header(header, given)
    if target is None:
        raise DataError(f"{file}: say which column to predict with --set data.target=COLUMN ({_columns(given, header)})")
    if target not in header:
        raise DataError(f"{file}: no column '{excerpt(target)}' in the header row ({_columns(given, header)})")
    t = header.index(target)
    features = [h for j, h in enumerate(header) if j != t]
    if not features:
        raise DataError(f"{file}: no feature columns besides the target '{excerpt(target)}'")
    cells = [[c for j, c in enumerate(r) if j != t] for r in rows]
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(np.arange(len(rows)), test_size=0.2, random_state=seed)  # the rows split() would pick
    sources = [f"line {lines[i]}" for i in test]
    if not needs_encoding(cells):
        table = parse_features(header, rows, given, lines)
        y = table[:, t]
        if np.unique(y).size < 2:
            raise DataError(f"{file}: target '{excerpt(target)}' has a single value; nothing to regress")
        x = np.delete(table, t, axis=1)
        return Table(f"csv:{file}", x[train], y[train].reshape(-1, 1), x[test], y[test].reshape(-1, 1), features, [target],
                     test_sources=sources)
    y = parse_features([target], [[r[t]] for r in rows], given, lines)[:, 0]  # the target keeps its rules: numeric, never missing
    if np.unique(y).size < 2:
        raise DataError(f"{file}: target '{excerpt(target)}' has a single value; nothing to regress")
    text = TabularRows.of(features, cells, train, test, given, lines)
    encoding, x_tr, x_te = text.encoded()
    return Table(f"csv:{file}", x_tr, y[train].reshape(-1, 1), x_te, y[test].reshape(-1, 1), encoding.feature_names(), [target],
                 encoding=encoding.to_dict(), text_rows=text, test_sources=sources)


def load_named_table(cfg, seed: int = 0) -> Table:
    """A packaged table or ``csv:PATH`` (the registry's :func:`~nnforge.data.registry.load_table` also reads ``arrays:``)."""
    name = cfg.name
    if name.startswith("csv:"):
        return load_csv_table(name[4:], cfg.target)
    if cfg.target is not None:
        raise DataError(f"'data.target' names the target column of a csv: table; dataset '{excerpt(name)}' has its own "
                        "target (remove data.target)")
    if name not in TABLES:
        raise DataError(f"task=regress needs a table with a numeric target; '{excerpt(name)}' is not one{did_you_mean(name, TABLES)}; "
                        f"accepted: {', '.join(TABLES)}, csv:PATH with data.target")
    return TABLES[name][1]()
