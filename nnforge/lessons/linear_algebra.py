"""Maths 1 (second seed): vectors, matrices, eigenvalues -- and a layer as a matrix product."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nnforge import scratch
from nnforge.scratch import nn

from ._common import figure, heading, save


def run(out_dir: Path) -> None:
    heading("The seed's example")
    vector = np.array([1, 2])
    matrix = np.array([[1, 2], [3, 4]])
    print("Vector:", vector)
    print("Matrix:", matrix.tolist())
    print("Dot Product:", np.dot(vector, matrix), " (= 1*[1,2] + 2*[3,4])")
    eigenvalues, eigenvectors = np.linalg.eig(matrix)
    print("Eigenvalues:", np.round(eigenvalues, 4))
    print("Eigenvectors (columns):", np.round(eigenvectors, 4).tolist())
    for lam, v in zip(eigenvalues, eigenvectors.T):
        print(f"  check A v = lambda v for lambda={lam:.4f}: {np.allclose(matrix @ v, lam * v)}")

    heading("A Linear layer is y = W x + b")
    scratch.manual_seed(0)
    layer = nn.Linear(2, 2)
    x = scratch.tensor([[1.0, 2.0]])
    by_hand = x.data @ layer.weight.data.T + layer.bias.data
    print("W =", np.round(layer.weight.data.astype(float), 4).tolist(), " b =", np.round(layer.bias.data.astype(float), 4).tolist())
    print("layer(x) =", np.round(layer(x).data.astype(float), 4).tolist(), " x W^T + b =", np.round(by_hand.astype(float), 4).tolist())
    print("A batch is a matrix too: 64 inputs of 784 pixels times W^T (784 x 512) is one matmul.")

    heading("What a matrix does to the plane")
    theta = np.linspace(0, 2 * np.pi, 200)
    circle = np.stack([np.cos(theta), np.sin(theta)])
    image = matrix @ circle
    fig, axes = figure(size=(5.5, 5.5))
    ax = axes[0, 0]
    ax.plot(*circle, label="unit circle")
    ax.plot(*image, label="A @ circle")
    for lam, v in zip(eigenvalues, eigenvectors.T):
        ax.arrow(0, 0, *(lam * v), width=0.05, length_includes_head=True, color="k")
        ax.annotate(f"lambda={lam:.2f}", lam * v)
    ax.set_aspect("equal")
    ax.grid(True)
    ax.legend()
    ax.set_title("A = [[1,2],[3,4]]: eigenvectors only stretch")
    save(fig, out_dir, "linear_map.png")
