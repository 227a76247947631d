"""Seed 1.3: the seed's plot of sigmoid, ReLU and tanh -- plus their derivatives, by autograd."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nnforge import scratch
from nnforge.scratch.nn import functional as F

from ._common import figure, heading, save, table

FUNCTIONS = {"Sigmoid": F.sigmoid, "ReLU": F.relu, "Tanh": F.tanh}


def value_and_derivative(fn, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f(x) and f'(x) elementwise: backward of sum(f(x)) gives each f'(x_i)."""
    t = scratch.tensor(x, dtype=scratch.float64, requires_grad=True)
    y = fn(t)
    y.sum().backward()
    return y.data, t.grad.data


def run(out_dir: Path) -> None:
    heading("Activation functions and their derivatives")
    x = np.linspace(-5, 5, 101)
    fig, axes = figure(1, 2, size=(11, 4))
    for name, fn in FUNCTIONS.items():
        y, dy = value_and_derivative(fn, x)
        axes[0, 0].plot(x, y, label=name)
        axes[0, 1].plot(x, dy, label=f"{name}'")
    axes[0, 0].set_title("Common activation functions (the seed's plot)")
    axes[0, 1].set_title("Their derivatives, computed by autograd")
    for ax in axes[0]:
        ax.legend()
        ax.grid(True)
    save(fig, out_dir, "activations.png")

    points = np.array([-4.0, -1.0, 0.5, 2.0, 4.0])
    rows = []
    for name, fn in FUNCTIONS.items():
        y, dy = value_and_derivative(fn, points)
        rows += [(name, float(p), float(a), float(b)) for p, a, b in zip(points, y, dy)]
    table(["function", "x", "f(x)", "f'(x)"], rows)
    print("sigmoid' = s(1-s) peaks at 0.25: stacked sigmoids shrink gradients (seed 7.1, vanishing gradients).")
    print("tanh' = 1-t^2 peaks at 1; ReLU' is exactly 1 for x > 0, which is why deep nets prefer ReLU.")
