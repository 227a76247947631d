"""Shared fixtures: small real-format files and quick recipes."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


def quick_overrides(*extra: str) -> list[str]:
    """A recipe that trains in about a second on scikit-learn's digits."""
    return [
        "data.name=digits",
        "model.name=mlp",
        "model.hidden=[64]",
        "train.epochs=3",
        "train.optimizer.name=adam",
        "train.optimizer.lr=0.01",
        "train.progress=none",
        *extra,
    ]


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """One trained run directory shared by tests that only read it."""
    from nnforge.config import load_config
    from nnforge.train import fit

    out = tmp_path_factory.mktemp("runs") / "digits_mlp"
    return fit(load_config(None, quick_overrides()), out)
