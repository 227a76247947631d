"""Seed 2.1: loss functions -- the seed's MSE and cross-entropy numbers, then the robust versions."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nnforge import scratch
from nnforge.scratch.nn import functional as F

from ._common import figure, heading, save


def run(out_dir: Path) -> None:
    heading("The seed's example")
    y_true = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float64)
    y_pred = scratch.tensor([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1]], dtype=scratch.float64)
    mse = F.mse_loss(y_pred, y_true)
    ce = -(scratch.tensor(y_true, dtype=scratch.float64) * y_pred.log()).sum(1).mean()
    print(f"MSE: {mse.item():.4f}   (seed: 0.0333)")
    print(f"cross-entropy: {ce.item():.4f}   (seed: 0.2899) = -(log 0.8 + log 0.7) / 2")

    heading("Cross-entropy from logits, stably")
    logits = scratch.tensor([[1000.0, 0.0, -1000.0]], dtype=scratch.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        naive = float(-np.log(np.exp(logits.data[0, 1]) / np.exp(logits.data).sum()))
    print(f"softmax then log for logits (1000, 0, -1000), class 1: {naive}  (exp overflows)")
    print(f"F.cross_entropy (log-sum-exp trick): {F.cross_entropy(logits, np.array([1])).item():.1f}")

    heading("Label smoothing and class weights")
    logits = scratch.tensor([[2.0, 0.5, -1.0], [0.1, 1.5, 0.3]], dtype=scratch.float64)
    target = np.array([0, 1])
    for eps in (0.0, 0.1, 0.3):
        print(f"label_smoothing={eps}: loss {F.cross_entropy(logits, target, label_smoothing=eps).item():.4f}")
    w = np.array([1.0, 3.0, 1.0])
    print(f"class weights {w.tolist()}: loss {F.cross_entropy(logits, target, weight=w).item():.4f} "
          "(a weighted mean: rare classes count more, seed 7.3)")

    heading("Focal loss: -(1 - p_t)^gamma log p_t")
    p = np.linspace(0.01, 1.0, 200)
    fig, axes = figure(size=(6, 4))
    ax = axes[0, 0]
    for gamma in (0, 0.5, 1, 2, 5):
        # logits (log p, log(1 - p)) make softmax give exactly p for class 0
        lg = scratch.tensor(np.stack([np.log(p), np.log1p(-p + 1e-12)], 1), dtype=scratch.float64)
        loss = F.focal_loss(lg, np.zeros(len(p), dtype=np.int64), gamma=gamma, reduction="none").data
        ax.plot(p, loss, label=f"gamma={gamma}")
        print(f"gamma={gamma}: loss at p_t=0.9 is {loss[np.argmin(abs(p - 0.9))]:.4f}")
    ax.set_xlabel("probability of the true class p_t")
    ax.set_ylabel("loss")
    ax.set_title("Focal loss down-weights easy examples")
    ax.legend()
    ax.grid(True)
    save(fig, out_dir, "focal_loss.png")
