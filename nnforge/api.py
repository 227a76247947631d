"""The Python surface: what a practitioner types in a notebook, the same things the CLI does.

``nnforge.fit`` trains from a recipe given in any form a person has at hand, ``nnforge.load``
rebuilds a trained model from its run directory (see :class:`nnforge.predictor.Predictor` for
``predict``), ``nnforge.runs`` lists what is under a folder of runs. Mistakes raise the same one-line
:class:`~nnforge.errors.UserError` subclasses as the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Sequence

from nnforge.config import Recipe
from nnforge.rundir import Run, as_recipe, default_run_dir
from nnforge.runlist import RunInfo


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

    found = filter_runs(list_runs(root), [filters] if isinstance(filters, str) else filters)  # one "key=value", or a list of them
    return sort_runs(found, sort, reverse) if sort else found


__all__ = ["fit", "runs", "RunInfo", "as_recipe", "default_run_dir"]
