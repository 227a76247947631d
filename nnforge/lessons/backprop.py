"""Seed 2.2: backpropagation -- one network's gradients three ways, side by side.

The seed's SimpleNeuralNetwork (ReLU hidden layer, sigmoid output) has a hand-written backward
pass. Its ``dz2 = a2 - y`` is the gradient of binary cross-entropy through a sigmoid (the
sigmoid's derivative cancels), so that is the loss used here. The same gradients come out of
the chain rule by hand, out of autograd, and out of finite differences.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nnforge import scratch
from nnforge.scratch.nn import functional as F

from ._common import figure, heading, save, table


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


def run(out_dir: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 3))
    Y = (rng.random((8, 2)) > 0.5).astype(np.float64)
    params = [rng.standard_normal((3, 4)) * 0.5, rng.standard_normal(4) * 0.1,
              rng.standard_normal((4, 2)) * 0.5, rng.standard_normal(2) * 0.1]
    names = ["W1", "b1", "W2", "b2"]
    heading("A 3-4-2 network (ReLU, sigmoid), binary cross-entropy, batch of 8")

    hand = by_hand(X, Y, *params)
    leaves = [scratch.tensor(p, dtype=scratch.float64, requires_grad=True) for p in params]
    f = loss_fn(scratch.tensor(X, dtype=scratch.float64), Y)
    loss = f(*leaves)
    loss.backward()
    auto = {n: t.grad.data for n, t in zip(names, leaves)}
    num = dict(zip(names, numeric(f, [p.copy() for p in params])))
    print(f"loss = {loss.item():.6f}")
    rows = [(n, str(params[k].shape), float(np.abs(hand[n] - auto[n]).max()),
             float(np.abs(num[n] - auto[n]).max())) for k, n in enumerate(names)]
    table(["param", "shape", "|hand-auto|", "|numeric-auto|"], rows, fmt="{:>15}")
    print("dW2[0] by hand   :", np.round(hand["W2"][0], 6))
    print("dW2[0] autograd  :", np.round(auto["W2"][0], 6))
    print("dW2[0] numerical :", np.round(num["W2"][0], 6))
    print("All three agree: autograd is the chain rule, applied mechanically.")
    print("scratch.gradcheck runs the numerical comparison for any function:",
          scratch.gradcheck(f, [scratch.tensor(p, dtype=scratch.float64, requires_grad=True) for p in params]))

    fig, axes = figure(1, 1, size=(8, 4))
    ax = axes[0, 0]
    flat = {k: np.concatenate([d[n].ravel() for n in names]) for k, d in
            (("by hand", hand), ("autograd", auto), ("finite differences", num))}
    idx = np.arange(len(flat["by hand"]))
    for shift, (label, values) in zip((-0.25, 0, 0.25), flat.items()):
        ax.bar(idx + shift, values, width=0.25, label=label)
    ax.set_xlabel("parameter index (W1, b1, W2, b2 flattened)")
    ax.set_ylabel("d loss / d parameter")
    ax.set_title("Three ways to the same gradient")
    ax.legend()
    save(fig, out_dir, "backprop_gradients.png")
