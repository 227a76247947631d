"""Seeding for repeatable runs, and the switch for bit-identical ones."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from nnforge.errors import ConfigError


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch. ``deterministic`` also forbids non-deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    elif torch.are_deterministic_algorithms_enabled():
        # only when switching back: the call imports torch's inductor (~2 s) even to say False
        torch.use_deterministic_algorithms(False)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("'device' is cuda but no CUDA GPU is available; accepted here: auto, cpu")
    return torch.device(name)
