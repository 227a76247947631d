"""Ensembles: several runs judged together on one test split (``nnforge eval RUN RUN ...``),
optionally with test-time augmentation — the seeds' "combine several models" technique."""

from __future__ import annotations

import numpy as np


def evaluate_runs(runs, data: str | None = None, root: str | None = None, combine: str = "mean", tta: bool = False) -> dict:
    """Accuracy and loss of one run, or of several runs combined, on a test split.

    Several runs form an ensemble: ``mean`` averages their probabilities (soft voting),
    ``vote`` takes the majority of their predicted classes.

    The loss is the criterion the runs trained with (their ``train.loss``, without class weights), as
    training reported ``test_loss`` and ``val_loss``; members that trained with different criteria, or a
    model folder without ``config.yaml``, are scored with cross-entropy. ``loss_name`` says which.
    """
    from nnforge.compress.tta import predict_tta
    from nnforge.config import criterion_name
    from nnforge.data.sources.tabular_csv import same_classes
    from nnforge.errors import DataError
    from nnforge.predictor import load
    from nnforge.rundir import load_run_test_split
    from nnforge.train.evaluate import evaluation_from_probabilities

    predictors = [load(r) for r in runs]
    first = predictors[0]
    if any(p.regression for p in predictors):
        if tta or combine == "vote":
            raise DataError("--tta and --vote are for classifiers; a regression ensemble averages its members' values")
        return evaluate_regression_runs(runs, predictors, data, root)
    for p in predictors[1:]:  # a csv member's own encoding may make its rows wider: its rows are checked below
        if not same_classes(p.classes, first.classes) or (p.input_shape != first.input_shape and p.preprocessing.encoding is None):
            raise DataError(f"runs '{runs[0]}' and '{p.run_dir}' have different classes or input shapes; an ensemble needs both equal")
    if tta and first.kind != "image":
        raise DataError(f"--tta needs image runs; '{runs[0]}' was trained on a table, whose rows have no "
                        f"label-preserving views to average over (drop --tta)")
    dataset = load_run_test_split(runs[0], data, root, first.preprocessing.encoding)
    first.check_dataset(dataset, "" if data else f"; {runs[0]}/config.yaml names another dataset than the one it was trained on")
    y = dataset.y_test.numpy()

    def rows_for(p):  # a csv's test rows as each member trained: encoded with its own encoding (a run's, a fold's)
        if p.preprocessing.encoding == first.preprocessing.encoding:
            return dataset.x_test
        own = load_run_test_split(runs[0], data, root, p.preprocessing.encoding)
        p.check_dataset(own, f"; '{p.run_dir}' was trained on other data than '{runs[0]}'")
        return own.x_test

    if tta:  # test-time augmentation: each member averages over a few shifted (and mirrored) views
        member_probs = [predict_tta(p, dataset.x_test) for p in predictors]
    else:
        member_probs = [p.predict_stored(rows_for(p)) for p in predictors]
    if combine == "vote":
        votes = np.stack([m.argmax(1) for m in member_probs])
        probs = np.stack([(votes == c).mean(0) for c in range(len(first.classes))], 1)
    else:
        probs = np.mean(member_probs, axis=0)
    criterion = shared_criterion(runs)
    ev = evaluation_from_probabilities(probs, y, criterion)
    # a vote's class shares are no probabilities: their cross-entropy charged -log(1e-12) = 27.6 for every
    # unanimous mistake (two copies of one run with loss 0.60 "scored" 3.68), so a vote reports no loss
    result = {"dataset": dataset.name, "examples": int(len(y)), "accuracy": ev.accuracy, "loss": None if combine == "vote" else ev.loss,
              "loss_name": None if combine == "vote" else criterion_name(criterion)}
    if len(predictors) > 1:
        result["members"] = [
            {"run": str(r), "accuracy": evaluation_from_probabilities(m, y).accuracy} for r, m in zip(runs, member_probs)
        ]
    return result


def shared_criterion(runs):
    """The ``train.loss`` section every run of ``runs`` trained with, when they all share one
    criterion (:func:`~nnforge.config.criterion_name`); None (cross-entropy) otherwise, or when a run is
    a model folder without ``config.yaml``."""
    from pathlib import Path

    from nnforge.config import criterion_name
    from nnforge.errors import UserError
    from nnforge.rundir import CONFIG, read_recipe

    def section(run):
        try:
            return read_recipe(run).train.loss if (Path(run) / CONFIG).is_file() else None
        except UserError:  # an unreadable config.yaml: the model still evaluates, with cross-entropy
            return None

    sections = [section(r) for r in runs]
    return sections[0] if len({criterion_name(s) for s in sections}) == 1 else None


def evaluate_regression_runs(runs, predictors, data: str | None = None, root: str | None = None) -> dict:
    """MAE, RMSE and R² in the target's units of one regression run, or of several averaged."""
    import torch

    from nnforge.data.registry import load_table
    from nnforge.errors import DataError
    from nnforge.rundir import recipe_for_test_data
    from nnforge.train.tasks.regress import scores

    first = predictors[0]
    for p in predictors[1:]:  # a csv member's own encoding may make its rows wider: its rows are checked below
        if not p.regression or p.classes != first.classes or (p.input_shape != first.input_shape and p.preprocessing.encoding is None):
            raise DataError(f"runs '{runs[0]}' and '{p.run_dir}' predict different targets or take different rows")
    recipe = recipe_for_test_data(first.run_dir, data, root)
    loaded = load_table(recipe.data, recipe.seed)

    def rows_for(p) -> np.ndarray:  # a csv's test rows as each member trained: encoded with its own encoding
        table = loaded.encoded_with(p.preprocessing.encoding)
        if table.x_test.shape[1:] != p.input_shape or table.y_test.shape[1] != len(p.classes):
            raise DataError(f"table '{table.name}' ({table.x_test.shape[1]} features, {table.y_test.shape[1]} targets) does not fit "
                            f"the model ({p.input_shape[0]} features, {len(p.classes)} targets)")
        if table.encoding != p.preprocessing.encoding:  # same width, other categories or medians
            raise DataError(f"table '{table.name}' encodes its text columns or missing cells differently from the model's training "
                            "data; predict its rows instead (nnforge predict RUN FILE.csv)")
        return table.x_test

    members = [p.predict_stored(torch.from_numpy(rows_for(p))) for p in predictors]
    result = {"dataset": loaded.name, "examples": int(len(loaded.y_test)), "task": "regress", "targets": first.classes,
              **scores(np.mean(members, axis=0), loaded.y_test)}
    if len(predictors) > 1:
        result["members"] = [{"run": str(r), **scores(m, loaded.y_test)} for r, m in zip(runs, members)]
    return result
