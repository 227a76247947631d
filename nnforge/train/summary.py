"""``nnforge summary RECIPE|RUN`` and a run's ``summary.json``: the model's table of layers and its
measured CPU latency, for the torch model and for its scratch twin where one exists.

A recipe's model is built the way training builds it (the task prepares the data, which gives the
input shape and class count, then builds the zoo model, frozen layers marked), so the summary is
the model a run of that recipe would train. The table comes from
:func:`nnforge.models.summary.layer_summary` (MACs from the forward pass itself); latencies are per
input at batch 1 and 64, on the CPU, by the clock (:mod:`nnforge.train.model_summary`). The text and
HTML forms of a summary are :mod:`nnforge.report.summary`'s.
"""

from __future__ import annotations

from pathlib import Path

import torch

from nnforge.config import load_config, resolve
from nnforge.rundir import CONFIG, read_model_meta, read_recipe, read_summary, recipe_path
from nnforge.train.model_summary import model_summary
from nnforge.train.run import prepare
from nnforge.train.tasks import TASKS
from nnforge.train.transfer import freeze


def summarize_recipe(recipe, budget_s: float = 0.3, encoding: dict | None = None) -> dict:
    """The summary of the model a recipe would train, built without training it (``encoding``: a run's
    csv encoding, whose width is the model's input, whatever part or fold the run held out)."""
    recipe = resolve(recipe)
    task = TASKS[recipe.task]()
    task.encoding = encoding
    data = prepare(recipe, task, torch.device("cpu"))
    model = task.build_model(recipe, data)
    if recipe.train.freeze:
        freeze(model, recipe.train.freeze)
    return model_summary(model, recipe.model, data.input_shape, data.num_outputs, recipe.data.batch_size, budget_s)


def summarize(path: str | Path, overrides=(), budget_s: float = 0.3) -> dict:
    """``nnforge summary``: a run directory's ``summary.json`` (computed from its recipe when an older run
    has none), or the summary of a recipe file (``overrides``: ``--set key=value``)."""
    path = Path(path)
    if path.is_dir():
        saved = read_summary(path)
        if saved is not None and not overrides:
            return saved
        recipe = read_recipe(path)  # a one-line error for a folder that is not a run
        encoding = read_model_meta(path)["preprocessing"].get("encoding") if (path / "model.json").is_file() else None
        return summarize_recipe(load_config(path / CONFIG, list(overrides)) if overrides else recipe, budget_s, encoding)
    return summarize_recipe(load_config(recipe_path(str(path)), list(overrides)), budget_s)

