"""Evaluating a classifier on a split: loss, accuracy, predictions and per-class scores.

The loss of a split is the criterion the run trained with (``train.loss``: cross-entropy with its
label smoothing, focal loss with its gamma, or MSE on the probabilities), so that ``val_loss``, which
early stopping and the best model watch, and ``test_loss`` measure what training minimised (as
Keras and Lightning report them). Class weights are left out: they re-weight the *training* split
against its imbalance (``balanced`` is counted on it, like ``data.sampling`` and ``data.imbalance``,
which touch the training split only), while the validation and test splits measure the model on
the data as it comes; Keras too applies ``class_weight`` to training batches only. A run with class
weights therefore logs a weighted ``train_loss`` and an unweighted ``val_loss``, and ``val_loss``
stays comparable between runs that weigh the classes differently. (Likewise training-only: mixup's
and cutmix's soft targets, and distillation's teacher term.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from nnforge.config import loss_name
from nnforge.train.imbalance import focal_loss


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
def evaluate(model: torch.nn.Module, batches, device: torch.device | str = "cpu", loss=None) -> Evaluation:
    """The model (in eval mode) on every batch of a loader: loss and accuracy from its class probabilities.

    ``loss``: the recipe's ``train.loss`` section, whose criterion the loss is (None: cross-entropy)."""
    was_training = model.training
    model.eval()
    probs, targets = [], []
    for xb, yb in batches:
        logits = model(xb.to(device))
        probs.append(torch.softmax(logits.float(), 1).cpu())
        targets.append(yb)
    model.train(was_training)
    return evaluation_from_probabilities(torch.cat(probs).numpy(), torch.cat(targets).numpy(), loss)


def evaluation_from_probabilities(probs: np.ndarray, targets: np.ndarray, loss=None) -> Evaluation:
    """Loss (the criterion of ``loss``, the ``train.loss`` section; None: cross-entropy) and accuracy of class probabilities."""
    acc = float((probs.argmax(1) == targets).mean()) if len(targets) else float("nan")
    return Evaluation(loss=classification_loss(probs, targets, loss), accuracy=acc, probabilities=probs, targets=targets)


def classification_loss(probs: np.ndarray, targets: np.ndarray, loss=None) -> float:
    """The mean training criterion of ``loss`` (the recipe's ``train.loss`` section; None: cross-entropy)
    over class probabilities and class indices, without class weights (see the module's docstring).

    Computed from probabilities, not logits, so that an ensemble's averaged probabilities are scored
    the same way as one run's: ``log p`` (of ``p`` clipped at 1e-12, as plain cross-entropy always
    was here) stands for the logits, whose softmax is ``p`` again, and the criterion is the very
    function training called (PyTorch's, or :func:`~nnforge.train.imbalance.focal_loss`)."""
    if not len(targets):
        return float("nan")
    name, log_p = loss_name(loss), np.log(np.clip(probs, 1e-12, None))
    picked = log_p[np.arange(len(targets)), targets]
    smoothing = float(getattr(loss, "label_smoothing", 0.0) or 0.0)
    if name == "cross_entropy" and not smoothing:
        return float(-picked.mean())  # a plain cross-entropy run's numbers, exactly as before
    logits, y = torch.from_numpy(log_p).double(), torch.from_numpy(np.asarray(targets, dtype=np.int64))
    if name == "mse":  # F.mse_loss(softmax(logits), one_hot(y)), as the torch engine trains it
        return float(F.mse_loss(torch.from_numpy(probs).double(), F.one_hot(y, probs.shape[1]).double()))
    if name == "focal":
        return float(focal_loss(logits, y, float(loss.focal_gamma)))
    return float(F.cross_entropy(logits, y, label_smoothing=smoothing))


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
