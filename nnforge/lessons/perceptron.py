"""Seed 1.2: the perceptron, y = f(sum_i w_i x_i + b), and the limit of a single neuron."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nnforge import scratch
from nnforge.scratch import nn

from ._common import figure, heading, save

GATES = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "XOR": [0, 1, 1, 0]}
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)


def _train_gate(targets: list[int], steps: int = 2000) -> nn.Perceptron:
    scratch.manual_seed(0)
    neuron = nn.Perceptron(2)
    opt = scratch.optim.SGD(neuron.parameters(), lr=1.0)
    y = np.array(targets, dtype=np.float32)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.binary_cross_entropy(neuron(scratch.tensor(X)), y).backward()
        opt.step()
    return neuron


def run(out_dir: Path) -> None:
    heading("The seed's example neuron")
    neuron = nn.Perceptron(3)
    neuron.load_state_dict({"weight": np.array([0.2, 0.4, -0.1]), "bias": np.array(0.1)})
    inputs = scratch.tensor([0.5, 0.3, 0.8])
    z = neuron.weighted_sum(inputs)
    print("inputs  = [0.5, 0.3, 0.8], weights = [0.2, 0.4, -0.1], bias = 0.1")
    print(f"weighted sum = 0.5*0.2 + 0.3*0.4 + 0.8*(-0.1) + 0.1 = {z.item():.4f}")
    print(f"sigmoid({z.item():.4f}) = output: {neuron(inputs).item():.4f}   (the seed prints 0.5597)")

    heading("Learning logic gates with one neuron (gradient descent on cross-entropy)")
    fig, axes = figure(1, 3, size=(12, 4))
    grid = np.linspace(-0.5, 1.5, 200, dtype=np.float32)
    gx, gy = np.meshgrid(grid, grid)
    points = np.stack([gx.ravel(), gy.ravel()], 1)
    for ax, (gate, targets) in zip(axes[0], GATES.items()):
        p = _train_gate(targets)
        with scratch.no_grad():
            pred = (p(scratch.tensor(X)).data > 0.5).astype(int)
            surface = p(scratch.tensor(points)).data.reshape(gx.shape)
        ok = np.array_equal(pred, targets)
        w, b = p.weight.data, p.bias.item()
        print(f"{gate:>3}: w = [{w[0]:+.2f}, {w[1]:+.2f}], b = {b:+.2f} -> predicts {pred.tolist()}"
              f" (target {targets}) {'learned' if ok else 'NOT learnable by one neuron'}")
        ax.contourf(gx, gy, surface, levels=20, cmap="RdBu_r", alpha=0.6)
        ax.contour(gx, gy, surface, levels=[0.5], colors="k")
        ax.scatter(X[:, 0], X[:, 1], c=targets, cmap="RdBu_r", edgecolors="k", s=120)
        ax.set_title(f"{gate}: {'learned' if ok else 'one line cannot separate it'}")
    print("XOR needs a hidden layer: see `nnforge lesson xor`.")
    save(fig, out_dir, "perceptron_gates.png")
