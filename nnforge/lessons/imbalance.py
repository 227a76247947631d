"""Seed 7.3: class imbalance, and the seed's remedies measured on the class that suffers.

When one class is rare, a network can score well overall while rarely predicting it: its loss
is an average over examples, and the rare class contributes little. The lesson keeps only 8 of
the ~145 training examples of the digit 9 in scikit-learn's digits, trains the same scratch MLP
four ways, and reports the recall of 9 on a balanced test split (how many real 9s it finds):

* plain cross-entropy;
* class weights, each class weighted by n_samples / (n_classes * its count) ("balanced", as the
  seed computes with scikit-learn's ``compute_class_weight``);
* oversampling: the rare examples drawn as often as the others;
* focal loss (Lin et al., 2017), which down-weights the examples already classified well; on
  its own it targets hard examples rather than rare classes, and helps little here; with the
  class weights as its alpha it does both.
"""
from __future__ import annotations

import numpy as np

from nnforge import scratch
from nnforge.scratch import nn, optim
from nnforge.scratch.nn import functional as F


RARE, KEPT = 9, 8


def split(seed: int = 0):
    """Train (the digit 9 cut down to KEPT examples) and a balanced test split, 70/30."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.7 * len(x))
    train, test = order[:cut], order[cut:]
    rare = train[y[train] == RARE]
    train = np.concatenate([train[y[train] != RARE], rare[:KEPT]])
    return x[train], y[train], x[test], y[test]


def fit(method: str, epochs: int = 30, seed: int = 0) -> tuple[float, float]:
    """(recall of the rare digit, overall accuracy) on the test split after training with ``method``."""
    x, y, xt, yt = split()
    scratch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = optim.Adam(model.parameters(), lr=3e-3)
    counts = np.bincount(y, minlength=10)
    weights = (len(y) / (10 * counts)).astype(np.float32)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        if method == "oversampling":  # every example drawn with probability inverse to its class's size
            p = 1.0 / counts[y]
            order = rng.choice(len(y), size=len(y), p=p / p.sum())
        else:
            order = rng.permutation(len(y))
        for idx in np.array_split(order, len(y) // 32):
            logits = model(scratch.tensor(x[idx]))
            if method == "class weights":
                loss = F.cross_entropy(logits, y[idx], weight=weights)
            elif method == "focal loss":
                loss = F.focal_loss(logits, y[idx], gamma=2.0)
            elif method == "focal + weights":
                loss = F.focal_loss(logits, y[idx], gamma=2.0, alpha=weights)
            else:
                loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with scratch.no_grad():
        predicted = model(scratch.tensor(xt)).data.argmax(1)
    return float((predicted[yt == RARE] == RARE).mean()), float((predicted == yt).mean())


METHODS = ("plain", "class weights", "oversampling", "focal loss", "focal + weights")
