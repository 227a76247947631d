"""Trackers as callbacks of the one loop: ``train.loggers: [tensorboard, mlflow, csv]``.

``metrics.jsonl`` is always written (:class:`~nnforge.train.callbacks.JSONLLogger`); each name in
``train.loggers`` adds one more callback, so every engine, task, ``--nproc`` run (rank 0 only)
and ``tune`` trial logs the same way. ``csv`` is the same :class:`~nnforge.train.callbacks.CSVLogger`
that the older ``train.log_csv: true`` asks for. TensorBoard and MLflow come with the ``track``
extra; asking for one that is not installed is refused before the run folder exists. Here: which
loggers a recipe asks for, whether their packages are installed, and their callbacks.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from nnforge.errors import ConfigError
from nnforge.train.callbacks import Callback, CSVLogger

#: logger name -> the module it needs (None: nnforge's own)
PACKAGES = {"tensorboard": "tensorboard", "mlflow": "mlflow", "csv": None}


def wanted_loggers(recipe) -> list[str]:
    """The loggers a recipe asks for, in its order; ``train.log_csv: true`` is ``csv``."""
    names = list(dict.fromkeys(recipe.train.loggers))
    if recipe.train.log_csv and "csv" not in names:
        names.append("csv")
    return names


def check_loggers(recipe) -> None:
    """One-line :class:`ConfigError` naming the extra to install when a logger's package is missing."""
    for name in wanted_loggers(recipe):
        package = PACKAGES[name]
        if package is not None and importlib.util.find_spec(package) is None:
            raise ConfigError(f"'train.loggers' asks for {name}, but the '{package}' package is not installed; "
                              "pip install 'nnforge[track]'")


def logger_callbacks(recipe, out: Path, writer: bool = True) -> list[Callback]:
    """The callbacks of the recipe's loggers; none on the ranks of a ``--nproc`` run that do not write."""
    if not writer:
        return []
    cbs: list[Callback] = []
    for name in wanted_loggers(recipe):
        if name == "csv":
            cbs.append(CSVLogger(out / "metrics.csv"))
        elif name == "tensorboard":
            from nnforge.train.tracking.tensorboard_logger import TensorBoardLogger

            cbs.append(TensorBoardLogger(out / "tensorboard", recipe))
        elif name == "mlflow":
            from nnforge.train.tracking.mlflow_logger import MLflowLogger

            cbs.append(MLflowLogger(out, recipe))
    return cbs
