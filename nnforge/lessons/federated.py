"""8.1 trends: federated learning — FedAvg's clients against centralised training, on real digits.

The lesson trains the same small MLP on scikit-learn's digits three ways through ``nnforge.train.run``
(the one training loop; see :mod:`nnforge.train.federated`): centralised (every example on the
server), FedAvg over 5 clients holding IID parts, and FedAvg over 5 clients whose parts follow a
Dirichlet(0.1) label skew (each sees mostly two or three digits). It compares accuracy per round
and the bytes that had to travel.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np

from ._common import one_torch_thread

CLIENTS, ROUNDS, LOCAL_EPOCHS, ALPHA = 5, 15, 2, 0.1
RECIPE = {"data": {"name": "digits", "batch_size": 32}, "model": {"name": "mlp", "hidden": [64]},
          "train": {"epochs": ROUNDS, "optimizer": {"name": "adam", "lr": 0.005}, "scheduler": {"name": "cosine"},
                    "progress": "none", "checkpoint": {"enabled": False}}}
SETUPS = {
    "centralised": {},
    "FedAvg, IID": {"clients": CLIENTS, "local_epochs": LOCAL_EPOCHS},
    f"FedAvg, non-IID (Dirichlet {ALPHA})": {"clients": CLIENTS, "local_epochs": LOCAL_EPOCHS, "split": "dirichlet", "alpha": ALPHA},
}


def recipe(federated: dict) -> dict:
    out = {k: dict(v) for k, v in RECIPE.items()}
    if federated:
        out["federated"] = dict(federated)
    return out


def train(name: str):
    """One of :data:`SETUPS` trained (its run folder is temporary): the :class:`~nnforge.train.Run`, history per round."""
    from nnforge.train import run

    with tempfile.TemporaryDirectory(prefix="nnforge-federated-") as tmp, one_torch_thread(), \
            contextlib.redirect_stdout(io.StringIO()):
        return run(recipe(SETUPS[name]), Path(tmp) / "run")


def training_split():
    """The training rows and labels exactly as the runs split them (seeded)."""
    from nnforge.train.run import prepare

    data = prepare(recipe({}))
    return data.train.x, data.train.y


def client_classes(labels: np.ndarray, split: str, alpha: float = ALPHA) -> np.ndarray:
    """(clients, classes) counts: how many examples of each digit each client holds."""
    from nnforge.train.federated import split_clients

    return np.stack([np.bincount(labels[rows], minlength=10) for rows in split_clients(labels, CLIENTS, split, alpha, seed=0)])
