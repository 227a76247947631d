"""Seed 2.3: optimisation algorithms -- SGD, momentum and Adam racing on the same problem.

All three start from identical weights and see identical mini-batches of a two-spirals
classification problem; only the update rule differs, so the loss curves compare the rules.
"""
from __future__ import annotations

import numpy as np

from nnforge import scratch
from nnforge.scratch import nn, optim
from nnforge.scratch.nn import functional as F

RULES = {
    "SGD (lr 0.05)": lambda p: optim.SGD(p, lr=0.05),
    "SGD + momentum 0.9 (lr 0.05)": lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
    "Adam (lr 0.01)": lambda p: optim.Adam(p, lr=0.01),
}


def spirals(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.random(n)) * 3 * np.pi
    arm = rng.integers(0, 2, n)
    r = t / (3 * np.pi)
    sign = np.where(arm == 0, 1, -1)
    x = np.stack([sign * r * np.cos(t), sign * r * np.sin(t)], 1) + rng.normal(0, 0.02, (n, 2))
    return x.astype(np.float32), arm.astype(np.int64)


def race(steps: int = 400, batch: int = 32) -> dict[str, list[float]]:
    X, y = spirals()
    scratch.manual_seed(0)
    start = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2)).state_dict()
    curves = {}
    for name, make in RULES.items():
        model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2))
        model.load_state_dict(start)
        opt = make(model.parameters())
        rng = np.random.default_rng(1)  # same batches for every rule
        losses = []
        for _ in range(steps):
            b = rng.integers(0, len(X), batch)
            opt.zero_grad()
            loss = F.cross_entropy(model(scratch.tensor(X[b])), y[b])
            loss.backward()
            opt.step()
            with scratch.no_grad():
                losses.append(F.cross_entropy(model(scratch.tensor(X)), y).item())
        curves[name] = losses
    return curves
