"""Seed 2.2: the XOR network (2 inputs, 4 ReLU hidden units, 1 sigmoid output), trained.

XOR is the classic problem one neuron cannot solve (see ``nnforge lesson perceptron``); one
hidden layer bends the decision boundary enough. The seed trains by full-batch gradient descent
with the update ``dz2 = a2 - y`` -- the gradient of binary cross-entropy through a sigmoid -- and
prints MSE every 1000 epochs; so does this lesson, with scratch layers and autograd.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nnforge import scratch
from nnforge.scratch import nn
from nnforge.scratch.nn import functional as F

from ._common import figure, heading, save

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


def train(epochs: int = 3000, lr: float = 0.5, seed: int = 1) -> tuple[nn.Module, list[float]]:
    scratch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1), nn.Sigmoid())
    opt = scratch.optim.SGD(model.parameters(), lr=lr)
    x = scratch.tensor(X)
    history = []
    for epoch in range(epochs):
        opt.zero_grad()
        pred = model(x)
        F.binary_cross_entropy(pred, Y).backward()
        opt.step()
        history.append(float(np.mean((pred.data - Y) ** 2)))
    return model, history


def run(out_dir: Path) -> None:
    heading("Training the seed's 2-4-1 network on XOR")
    model, history = train()
    for epoch in range(0, len(history), 500):
        print(f"Epoch {epoch}, Loss (MSE): {history[epoch]:.6f}")
    with scratch.no_grad():
        pred = model(scratch.tensor(X)).data
    for x, p, y in zip(X, pred[:, 0], Y[:, 0]):
        print(f"  {x.astype(int).tolist()} -> {p:.3f}  (target {int(y)})")
    acc = float(((pred > 0.5) == Y).mean())
    print(f"accuracy: {acc:.0%}")

    grid = np.linspace(-0.5, 1.5, 200, dtype=np.float32)
    gx, gy = np.meshgrid(grid, grid)
    with scratch.no_grad():
        surface = model(scratch.tensor(np.stack([gx.ravel(), gy.ravel()], 1))).data.reshape(gx.shape)
    fig, axes = figure(1, 2, size=(11, 4.5))
    ax = axes[0, 0]
    ax.contourf(gx, gy, surface, levels=20, cmap="RdBu_r", alpha=0.7)
    ax.contour(gx, gy, surface, levels=[0.5], colors="k")
    ax.scatter(X[:, 0], X[:, 1], c=Y[:, 0], cmap="RdBu_r", edgecolors="k", s=150)
    ax.set_title("XOR decision boundary (output = 0.5)")
    axes[0, 1].plot(history)
    axes[0, 1].set_yscale("log")
    axes[0, 1].set_xlabel("epoch")
    axes[0, 1].set_ylabel("MSE")
    axes[0, 1].set_title("Training loss")
    save(fig, out_dir, "xor_decision_boundary.png")
    print("try it in the playground: `nnforge playground`, then XOR with one hidden layer of 4 tanh neurons: "
          "press Play and watch each neuron's picture and the boundary form")
