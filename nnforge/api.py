"""The Python surface: what a practitioner types in a notebook, the same things the CLI does.

``nnforge.fit`` trains from a recipe given in any form a person has at hand, ``nnforge.load``
rebuilds a trained model from its run directory (see :class:`nnforge.predictor.Predictor` for
``predict``), ``nnforge.runs`` lists what is under a folder of runs. Mistakes raise the same one-line
:class:`~nnforge.errors.UserError` subclasses as the command line.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Sequence

from nnforge.config import Recipe, read_yaml, resolve, set_value
from nnforge.errors import ConfigError
from nnforge.rundir import Run, default_run_dir, recipe_path
from nnforge.runlist import RunInfo


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


def runs(root: str | Path = "runs", *, sort: str | None = None, filters: Sequence[str] = (), reverse: bool = False) -> list[RunInfo]:
    """Every run under ``root`` (a tune study's trials included), newest first, as
    :class:`~nnforge.runlist.RunInfo` (``.dir``, ``.status``, ``.metrics``, ``.recipe``, ``.score``, ...):
    what ``nnforge runs`` prints. ``sort``: a column, metric or dotted recipe key, best first for
    metrics; ``filters``: ``"key=value"`` strings (also ``!=``, ``>=``, ...), all of which must hold."""
    from nnforge.runlist import filter_runs, list_runs, sort_runs

    found = filter_runs(list_runs(root), filters)
    return sort_runs(found, sort, reverse) if sort else found


__all__ = ["fit", "runs", "RunInfo", "as_recipe", "default_run_dir"]
