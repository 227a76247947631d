"""Ensembles: several runs judged together on one test split (``nnforge eval RUN RUN ...``),
optionally with test-time augmentation — the seeds' "combine several models" technique."""

from __future__ import annotations

import numpy as np


def evaluate_runs(runs, data: str | None = None, root: str | None = None, combine: str = "mean", tta: bool = False) -> dict:
    """Accuracy and loss of one run, or of several runs combined, on a test split.

    Several runs form an ensemble: ``mean`` averages their probabilities (soft voting),
    ``vote`` takes the majority of their predicted classes.
    """
    from nnforge.compress.tta import predict_tta
    from nnforge.errors import DataError
    from nnforge.predictor import load
    from nnforge.rundir import load_run_test_split
    from nnforge.train.evaluate import evaluation_from_probabilities

    predictors = [load(r) for r in runs]
    first = predictors[0]
    for p in predictors[1:]:
        if p.classes != first.classes or p.input_shape != first.input_shape:
            raise DataError(f"runs '{runs[0]}' and '{p.run_dir}' have different classes or input shapes; an ensemble needs both equal")
    dataset = load_run_test_split(runs[0], data, root)
    if dataset.classes != first.classes or tuple(dataset.input_shape) != first.input_shape:
        raise DataError(f"dataset '{dataset.name}' ({dataset.num_classes} classes, {dataset.input_shape}) does not match the model "
                        f"({len(first.classes)} classes, {first.input_shape})")
    y = dataset.y_test.numpy()
    if tta:  # test-time augmentation: each member averages over a few shifted (and mirrored) views
        member_probs = [predict_tta(p, dataset.x_test) for p in predictors]
    else:
        member_probs = [p.predict_stored(dataset.x_test) for p in predictors]
    if combine == "vote":
        votes = np.stack([m.argmax(1) for m in member_probs])
        probs = np.stack([(votes == c).mean(0) for c in range(len(first.classes))], 1)
    else:
        probs = np.mean(member_probs, axis=0)
    ev = evaluation_from_probabilities(probs, y)
    result = {"dataset": dataset.name, "examples": int(len(y)), "accuracy": ev.accuracy, "loss": ev.loss}
    if len(predictors) > 1:
        result["members"] = [
            {"run": str(r), "accuracy": evaluation_from_probabilities(m, y).accuracy} for r, m in zip(runs, member_probs)
        ]
    return result
