"""Seed 2.2: the XOR network (2 inputs, 4 ReLU hidden units, 1 sigmoid output), trained.

XOR is the classic problem one neuron cannot solve (see ``nnforge lesson perceptron``); one
hidden layer bends the decision boundary enough. The seed trains by full-batch gradient descent
with the update ``dz2 = a2 - y`` -- the gradient of binary cross-entropy through a sigmoid -- and
prints MSE every 1000 epochs; so does this lesson, with scratch layers and autograd.
"""
from __future__ import annotations

import numpy as np

from nnforge import scratch
from nnforge.scratch import nn
from nnforge.scratch.nn import functional as F

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
