"""Seed 7.2: overfitting, watched happen, and the seed's remedies side by side.

A network with far more weights than examples can memorise its training set: training loss
keeps falling while the loss on examples it has not seen turns back up. The lesson trains the
same wide MLP on only 150 of scikit-learn's digits, a fifth of them with a wrong label as real
data often has (the other 1,647, correctly labelled, are the validation set), four ways with
scratch layers: plainly, with dropout, with weight decay (AdamW's decoupled L2), and plainly
again but stopped early, at the epoch with the lowest validation loss.
"""
from __future__ import annotations

import numpy as np

from nnforge import scratch
from nnforge.scratch import nn, optim
from nnforge.scratch.nn import functional as F


TRAIN_SIZE = 150
NOISY = 0.2  # share of training labels replaced by random ones (the validation labels stay true)


def split(seed: int = 0):
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    train, val = order[:TRAIN_SIZE], order[TRAIN_SIZE:]
    y_train = y[train].copy()
    flip = np.random.default_rng(seed + 1).random(TRAIN_SIZE) < NOISY
    y_train[flip] = np.random.default_rng(seed + 2).integers(0, 10, int(flip.sum()))
    return x[train], y_train, x[val], y[val]


def fit(dropout: float = 0.0, weight_decay: float = 0.0, epochs: int = 150, seed: int = 0) -> dict:
    """Adam on the 150 examples (batches of 30); per-epoch train/validation loss and accuracy."""
    x, y, xv, yv = split()
    scratch.manual_seed(seed)
    layers = [nn.Linear(64, 256), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
    layers += [nn.Linear(256, 256), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else []) + [nn.Linear(256, 10)]
    model = nn.Sequential(*layers)
    opt = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    history = {"train_loss": [], "val_loss": [], "val_accuracy": [], "states": []}
    for _ in range(epochs):
        model.train()
        for idx in np.array_split(rng.permutation(len(x)), len(x) // 30):
            opt.zero_grad()
            F.cross_entropy(model(scratch.tensor(x[idx])), y[idx]).backward()
            opt.step()
        model.eval()
        with scratch.no_grad():
            history["train_loss"].append(F.cross_entropy(model(scratch.tensor(x)), y).item())
            logits = model(scratch.tensor(xv))
            history["val_loss"].append(F.cross_entropy(logits, yv).item())
            history["val_accuracy"].append(float((logits.data.argmax(1) == yv).mean()))
    return history
