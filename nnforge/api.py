"""The Python surface: what a practitioner types in a notebook, the same things the CLI does.

``nnforge.fit`` trains from a recipe given in any form a person has at hand, ``nnforge.load``
rebuilds a trained model from its run directory (see :class:`nnforge.predictor.Predictor` for
``predict``), ``nnforge.runs`` lists what is under a folder of runs. Mistakes raise the same one-line
:class:`~nnforge.errors.UserError` subclasses as the command line.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from nnforge.config import Recipe, read_yaml, resolve, set_value
from nnforge.errors import ConfigError, RunError
from nnforge.rundir import Run, default_run_dir, read_history, read_metrics, recipe_path, state


def as_recipe(recipe: "str | Path | Mapping | Recipe | None", overrides: Mapping[str, Any] | None = None) -> tuple[Recipe, str]:
    """A resolved recipe and a name for its run folder, from a path, a packaged recipe's name, a
    mapping (resolved here) or a resolved recipe; ``overrides`` are dotted keys (``{"train.epochs": 3}``)."""
    overrides = dict(overrides or {})
    if not all(isinstance(k, str) and k for k in overrides):
        raise ConfigError(f"overrides map dotted keys to values, like {{'train.epochs': 3}}; got keys {list(overrides)!r}")
    if isinstance(recipe, Recipe):
        return (recipe.with_overrides(overrides) if overrides else recipe), "run"
    if recipe is None or isinstance(recipe, Mapping):
        raw = dict(recipe or {})
        name = "run"
    elif isinstance(recipe, (str, Path)):
        path = recipe_path(recipe)
        raw, name = read_yaml(path), path.stem
    else:
        raise ConfigError(f"a recipe is a YAML path, a packaged recipe's name, a dict or a resolved recipe; got {type(recipe).__name__}")
    raw = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        set_value(raw, dotted.split("."), copy.deepcopy(value), f"override {dotted}")
    return resolve(raw), name


def fit(recipe: "str | Path | Mapping | Recipe | None" = None, out: str | Path | None = None, *,
        overrides: Mapping[str, Any] | None = None, resume: bool = False, callbacks: Sequence = ()) -> Run:
    """Train a recipe and return the finished :class:`~nnforge.rundir.Run` (``.dir``, ``.metrics``,
    ``.history``, ``.model``, ``.config``).

    ``recipe``: ``"mnist_cnn"`` (a packaged recipe), ``"my.yaml"``, a dict such as
    ``{"data": {"name": "digits"}, "model": {"name": "mlp"}}`` (defaults filled in), or a resolved
    recipe. ``out``: the run directory (default ``runs/NAME-TIMESTAMP``). ``resume``: as ``--resume``.
    """
    from nnforge.train import run

    resolved, name = as_recipe(recipe, overrides)
    return run(resolved, out, resume=resume, callbacks=callbacks, name=name)


@dataclass(frozen=True)
class RunInfo:
    """One run directory as :func:`runs` lists it."""

    dir: Path
    state: str  # complete, partial
    task: str | None
    metrics: dict
    epochs: int

    @property
    def score(self) -> str:
        m = self.metrics
        if "test_accuracy" in m:
            return f"test accuracy {m['test_accuracy']:.2%}"
        if "test_mae" in m:
            return f"test MAE {m['test_mae']:.3g}"
        return "unfinished"


def runs(root: str | Path = "runs") -> list[RunInfo]:
    """Every run directory directly under ``root``, newest first (complete and partial ones)."""
    root = Path(root)
    if not root.is_dir():
        raise RunError(f"'{root}' is not a folder of runs; `nnforge train` writes them under runs/ by default")
    found = []
    for folder in sorted((p for p in root.iterdir() if p.is_dir() and not p.is_symlink()), key=lambda p: p.stat().st_mtime, reverse=True):
        kind = state(folder)
        if kind not in ("complete", "partial"):
            continue
        metrics = read_metrics(folder) if kind == "complete" else {}
        found.append(RunInfo(folder, kind, metrics.get("task"), metrics, len(read_history(folder))))
    return found


__all__ = ["fit", "runs", "RunInfo", "as_recipe", "default_run_dir"]
