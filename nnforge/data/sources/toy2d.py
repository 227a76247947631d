"""The playground's 2-D datasets: scikit-learn's generators, a train/test split and input features.

Every point lies in the square [-6, 6]² that the page draws (TensorFlow Playground's plane), so
the features ``sin x1`` and ``x1²`` bend over a useful range. Labels are 0 (orange) and 1 (blue).
A dataset is fixed by its :class:`DataSpec` (kind, samples, noise, train share, seed): the page,
the exported Python code and the exported recipe (``data.name: "playground:xor?..."``) all call
:func:`make_dataset` with the same spec and get the same points.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence
from urllib.parse import parse_qsl, urlencode

import numpy as np

from nnforge.errors import DataError

DOMAIN = 6.0
KINDS = ("circle", "xor", "gauss", "spiral", "moons")
FEATURES = {  # name -> (label shown on the page, function of the two coordinates)
    "x1": ("x₁", lambda a, b: a),
    "x2": ("x₂", lambda a, b: b),
    "x1^2": ("x₁²", lambda a, b: a * a),
    "x2^2": ("x₂²", lambda a, b: b * b),
    "x1*x2": ("x₁·x₂", lambda a, b: a * b),
    "sin(x1)": ("sin x₁", lambda a, b: np.sin(a)),
    "sin(x2)": ("sin x₂", lambda a, b: np.sin(b)),
}


@dataclass(frozen=True)
class DataSpec:
    """What fixes a dataset. ``noise`` is 0-50 (%, the page's slider); ``train_ratio`` 10-90 (%)."""

    kind: str = "xor"
    samples: int = 500
    noise: float = 0.0
    train_ratio: int = 50
    seed: int = 0
    features: tuple[str, ...] = ("x1", "x2")

    def __post_init__(self):
        if self.kind not in KINDS:
            raise DataError(f"unknown playground dataset '{self.kind}'; accepted: {', '.join(KINDS)}")
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown or not self.features:
            raise DataError(f"playground features {unknown or '(none)'} not accepted; choose from: {', '.join(FEATURES)}")
        if not 10 <= self.samples <= 2000 or not 0 <= self.noise <= 50 or not 10 <= self.train_ratio <= 90:
            raise DataError("playground data: samples 10-2000, noise 0-50, train_ratio 10-90")

    def query(self) -> str:
        """The spec as the part after ``playground:`` in a recipe's ``data.name``."""
        fields = asdict(self)
        fields["features"] = ",".join(self.features)
        return f"{self.kind}?" + urlencode({k: v for k, v in fields.items() if k != "kind"}, safe=",*^()")

    @classmethod
    def parse(cls, text: str) -> "DataSpec":
        kind, _, query = text.partition("?")
        types = {"samples": int, "noise": float, "train_ratio": int, "seed": int, "features": lambda s: tuple(s.split(","))}
        values = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key not in types:
                raise DataError(f"playground dataset option '{key}' unknown; accepted: {', '.join(types)}")
            try:
                values[key] = types[key](value)
            except ValueError:
                raise DataError(f"playground dataset option {key}={value!r} is not a number") from None
        return cls(kind=kind, **values)


@dataclass(frozen=True)
class Points:
    """One dataset: raw coordinates, their feature columns, labels, split into train and test."""

    xy_train: np.ndarray  # (n, 2) float64, in [-6, 6]
    xy_test: np.ndarray
    x_train: np.ndarray  # (n, features) float64: what the network sees
    x_test: np.ndarray
    y_train: np.ndarray  # (n,) int64 in {0, 1}
    y_test: np.ndarray


def feature_columns(xy: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """The network's inputs for points ``xy`` (n, 2): one column per chosen feature."""
    a, b = xy[:, 0], xy[:, 1]
    return np.stack([FEATURES[name][1](a, b) for name in features], axis=1).astype(np.float64)


def generate(kind: str, samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` labelled points of one kind; ``noise`` in % scales each generator's own noise."""
    from sklearn import datasets as sk

    rng = np.random.RandomState(seed)
    s = noise / 100.0
    if kind == "circle":
        xy, y = sk.make_circles(samples, noise=s * 0.4, factor=0.4, random_state=rng)
        xy = xy * 5.0
    elif kind == "moons":
        xy, y = sk.make_moons(samples, noise=s * 0.6, random_state=rng)
        xy = (xy - [0.5, 0.25]) * 3.5
    elif kind == "gauss":
        xy, y = sk.make_blobs(samples, centers=[[2.0, 2.0], [-2.0, -2.0]], cluster_std=0.8 + 3.0 * s, random_state=rng)
    elif kind == "xor":
        # sklearn has no XOR generator: uniform points, class = sign(x1·x2), kept off the axes.
        xy = rng.uniform(-5.0, 5.0, size=(samples, 2))
        xy += np.where(xy > 0, 0.3, -0.3)
        y = (xy[:, 0] * xy[:, 1] < 0).astype(np.int64)
        xy = xy + rng.normal(scale=s * 3.0, size=xy.shape)
    else:  # spiral: two interleaved arms (make_swiss_roll is 3-D; this is its planar cousin)
        n0 = samples // 2
        parts = []
        for label, n in ((0, n0), (1, samples - n0)):
            t = np.linspace(0.0, 1.0, n)
            r = 5.0 * t
            angle = 1.75 * t * 2 * np.pi + label * np.pi
            pts = np.stack([r * np.sin(angle), r * np.cos(angle)], 1) + rng.uniform(-1, 1, size=(n, 2)) * s * 2.0
            parts.append((pts, np.full(n, label)))
        xy = np.concatenate([p for p, _ in parts])
        y = np.concatenate([lab for _, lab in parts])
    return np.clip(xy, -DOMAIN, DOMAIN).astype(np.float64), np.asarray(y, dtype=np.int64)


def make_dataset(spec: DataSpec) -> Points:
    """The points of ``spec``, shuffled by its seed and split at ``train_ratio`` %."""
    xy, y = generate(spec.kind, spec.samples, spec.noise, spec.seed)
    order = np.random.RandomState(spec.seed + 1).permutation(len(y))
    xy, y = xy[order], y[order]
    n_train = max(1, min(len(y) - 1, round(len(y) * spec.train_ratio / 100)))
    return Points(xy[:n_train], xy[n_train:], feature_columns(xy[:n_train], spec.features),
                  feature_columns(xy[n_train:], spec.features), y[:n_train], y[n_train:])


def load_recipe_dataset(text: str):
    """``data.name: playground:KIND?...`` in a recipe: the page's points as an nnforge tabular Dataset."""
    import torch

    from nnforge.data.dataset import Dataset

    spec = DataSpec.parse(text)
    pts = make_dataset(spec)
    return Dataset(name=f"playground:{text}", kind="tabular",
                   x_train=torch.from_numpy(pts.x_train.astype(np.float32)), y_train=torch.from_numpy(pts.y_train),
                   x_test=torch.from_numpy(pts.x_test.astype(np.float32)), y_test=torch.from_numpy(pts.y_test),
                   classes=["orange", "blue"], feature_names=list(spec.features))
