"""Seed 2.2: backpropagation -- the pieces the lesson (``scripts/backprop.py``) and its tests share.

The seed's SimpleNeuralNetwork (ReLU hidden layer, sigmoid output) has a hand-written backward
pass. Its ``dz2 = a2 - y`` is the gradient of binary cross-entropy through a sigmoid (the
sigmoid's derivative cancels), so that is the loss used here. The same gradients come out of
the chain rule by hand, out of autograd, and out of finite differences.
"""
from __future__ import annotations

import numpy as np

from nnforge import scratch
from nnforge.scratch.nn import functional as F


def by_hand(X, Y, W1, b1, W2, b2) -> dict[str, np.ndarray]:
    """The seed's formulas (mean over the batch)."""
    m = X.shape[0]
    z1 = X @ W1 + b1
    a1 = np.maximum(0, z1)
    a2 = 1 / (1 + np.exp(-(a1 @ W2 + b2)))
    dz2 = (a2 - Y) / m                      # d loss / d z2
    dz1 = (dz2 @ W2.T) * (z1 > 0)           # back through W2, then ReLU'
    return {"W1": X.T @ dz1, "b1": dz1.sum(0), "W2": a1.T @ dz2, "b2": dz2.sum(0)}


def loss_fn(X, Y):
    def f(W1, b1, W2, b2):
        a1 = F.relu(X @ W1 + b1)
        p = F.sigmoid(a1 @ W2 + b2)
        return F.binary_cross_entropy(p, Y, reduction="sum") * (1.0 / X.shape[0])
    return f


def numeric(f, params: list[np.ndarray], eps: float = 1e-6) -> list[np.ndarray]:
    grads = []
    for k, p in enumerate(params):
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            up = f(*[scratch.tensor(q, dtype=scratch.float64) for q in params]).item()
            p[i] = old - eps
            down = f(*[scratch.tensor(q, dtype=scratch.float64) for q in params]).item()
            p[i] = old
            g[i] = (up - down) / (2 * eps)
        grads.append(g)
    return grads
