"""Error analysis on the test split: per-class scores, the most confused pairs, the top losses."""

from __future__ import annotations

import numpy as np

from nnforge.train.evaluate import per_class_report


def confused_pairs(confusion: np.ndarray, classes: list[str], k: int = 10) -> list[dict]:
    """The ``k`` largest off-diagonal cells: (true class, predicted class, count, share of the true class)."""
    off = confusion.astype(float).copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None)[:k]
    pairs = []
    for flat in order:
        t, p = np.unravel_index(flat, off.shape)
        if off[t, p] <= 0:
            break
        pairs.append({"true": classes[t], "predicted": classes[p], "count": int(off[t, p]),
                      "share_of_true": round(float(off[t, p] / max(1, confusion[t].sum())), 4)})
    return pairs


def top_losses(probabilities: np.ndarray, targets: np.ndarray, k: int = 16) -> list[dict]:
    """The ``k`` test examples with the highest cross-entropy loss (the most confidently wrong first)."""
    picked = probabilities[np.arange(len(targets)), targets]
    losses = -np.log(np.clip(picked, 1e-12, None))
    order = np.argsort(-losses, kind="stable")[:k]
    return [{"index": int(i), "loss": round(float(losses[i]), 4), "true": int(targets[i]),
             "predicted": int(probabilities[i].argmax()), "probability": round(float(probabilities[i].max()), 4)}
            for i in order]


def error_analysis(probabilities: np.ndarray, targets: np.ndarray, classes: list[str], k: int = 16) -> dict:
    predictions = probabilities.argmax(1)
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(confusion, (targets, predictions), 1)
    return {
        "accuracy": float((predictions == targets).mean()),
        "per_class": per_class_report(confusion, classes),
        "confused_pairs": confused_pairs(confusion, classes),
        "top_losses": top_losses(probabilities, targets, k),
        "confusion": confusion.tolist(),
    }
