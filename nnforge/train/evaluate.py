"""Evaluating a classifier on a split: loss, accuracy, predictions and per-class scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Evaluation:
    loss: float
    accuracy: float
    probabilities: np.ndarray  # (N, classes)
    targets: np.ndarray  # (N,)

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(1)

    def confusion(self, num_classes: int) -> np.ndarray:
        m = np.zeros((num_classes, num_classes), dtype=np.int64)
        np.add.at(m, (self.targets, self.predictions), 1)
        return m


@torch.inference_mode()
def evaluate(model: torch.nn.Module, batches, device: torch.device | str = "cpu") -> Evaluation:
    """The model (in eval mode) on every batch of a loader: loss and accuracy from its class probabilities."""
    was_training = model.training
    model.eval()
    probs, targets = [], []
    for xb, yb in batches:
        logits = model(xb.to(device))
        probs.append(torch.softmax(logits.float(), 1).cpu())
        targets.append(yb)
    model.train(was_training)
    return evaluation_from_probabilities(torch.cat(probs).numpy(), torch.cat(targets).numpy())


def evaluation_from_probabilities(probs: np.ndarray, targets: np.ndarray) -> Evaluation:
    picked = probs[np.arange(len(targets)), targets]
    loss = float(-np.log(np.clip(picked, 1e-12, None)).mean()) if len(targets) else float("nan")
    acc = float((probs.argmax(1) == targets).mean()) if len(targets) else float("nan")
    return Evaluation(loss=loss, accuracy=acc, probabilities=probs, targets=targets)


def per_class_report(confusion: np.ndarray, classes: list[str]) -> list[dict]:
    """Precision, recall, F1 and support per class, from a confusion matrix (rows: true class)."""
    tp = np.diag(confusion).astype(float)
    predicted = confusion.sum(0).astype(float)
    actual = confusion.sum(1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0)
    return [
        {"class": c, "precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4), "support": int(s)}
        for c, p, r, f, s in zip(classes, precision, recall, f1, actual)
    ]


def format_per_class(rows: list[dict]) -> str:
    """The per-class precision/recall/F1 table as aligned text (what ``nnforge train`` prints)."""
    width = max([len("class")] + [len(str(r["class"])) for r in rows])
    lines = [f"{'class':<{width}}  precision  recall     f1  support"]
    for r in rows:
        lines.append(f"{str(r['class']):<{width}}  {r['precision']:>9.3f}  {r['recall']:>6.3f}  {r['f1']:>5.3f}  {r['support']:>7d}")
    return "\n".join(lines)
