"""Seed 7.1: vanishing gradients, measured layer by layer, and the three cures it names.

Backpropagation multiplies, layer by layer, by each activation's derivative and each weight
matrix. A sigmoid's derivative is at most 0.25, so through the 11 sigmoids between 12 weight layers the gradient that
reaches the first layer is a tiny fraction of the last one's: the early layers barely learn. The
seed's cures are ReLU (derivative 1 where active) with a fitting initialisation (He), BatchNorm
(keeps every layer's inputs at a healthy scale), and residual connections (the gradient also
flows around each layer, along the identity). The lesson builds the same network of 12 weight layers on
scikit-learn's digits five ways with scratch layers, prints the gradient norm of every layer at
the start, and trains each for a few hundred steps. One variant is ReLU with PyTorch's default
initialisation (uniform, scaled for sigmoid-like layers): its signal shrinks at every layer too,
so ReLU alone does not cure it; He initialisation, scaled for ReLU, does.
"""
from __future__ import annotations

import numpy as np

from nnforge import scratch
from nnforge.scratch import nn, optim
from nnforge.scratch.nn import functional as F


DEPTH, WIDTH = 12, 32


class Residual(nn.Module):
    """x + f(x): the identity path carries the gradient past ``f`` unchanged."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return x + self.inner(x)


def build(kind: str, seed: int = 0) -> nn.Sequential:
    """An MLP of DEPTH weight layers, 64 -> WIDTH -> ... -> WIDTH -> 10, in one of the five variants."""
    scratch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Linear(64, WIDTH)]
    for _ in range(DEPTH - 2):
        linear = nn.Linear(WIDTH, WIDTH)
        if kind == "sigmoid":
            nn.init.xavier_uniform_(linear.weight)
            layers += [nn.Sigmoid(), linear]
        elif kind == "relu (default init)":
            layers += [nn.ReLU(), linear]
        elif kind == "relu + He init":
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            layers += [nn.ReLU(), linear]
        elif kind == "relu + BatchNorm":
            layers += [nn.BatchNorm1d(WIDTH), nn.ReLU(), linear]
        else:  # residual
            layers += [Residual(nn.Sequential(nn.ReLU(), linear))]
    layers += [nn.ReLU(), nn.Linear(WIDTH, 10)]
    return nn.Sequential(*layers)


KINDS = ("sigmoid", "relu (default init)", "relu + He init", "relu + BatchNorm", "residual")


def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)


def layer_gradient_norms(model: nn.Sequential, x: np.ndarray, y: np.ndarray) -> list[float]:
    """The gradient norm of each Linear layer's weight for one batch, first layer first."""
    model.zero_grad()
    F.cross_entropy(model(scratch.tensor(x)), y).backward()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return [float(np.linalg.norm(m.weight.grad.data)) for m in linears]


def train(model: nn.Sequential, x: np.ndarray, y: np.ndarray, steps: int = 300, seed: int = 0) -> list[float]:
    """Plain SGD (lr 0.1, batch 64): the setting where vanishing gradients show most."""
    rng = np.random.default_rng(seed)
    opt = optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(steps):
        idx = rng.integers(len(x), size=64)
        opt.zero_grad()
        loss = F.cross_entropy(model(scratch.tensor(x[idx])), y[idx])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
