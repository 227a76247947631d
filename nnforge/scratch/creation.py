"""Factories for tensors and the one random generator that scratch code draws from.

A single ``numpy.random.Generator`` (reset by :func:`manual_seed`) feeds initialisation, dropout
and shuffling, so one seed makes a whole scratch run repeatable.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Tensor, _to_array, result_type

_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Reset the generator behind every random draw in :mod:`nnforge.scratch`."""
    global _rng
    _rng = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The current generator (read it each time: ``manual_seed`` replaces it)."""
    return _rng


def _shape(size: tuple) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _make(arr: np.ndarray, dtype: Any, requires_grad: bool) -> Tensor:
    return Tensor(_to_array(arr, dtype), requires_grad=requires_grad)


def zeros(*size: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_shape(size), dtype=dtype), dtype, requires_grad)


def ones(*size: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_shape(size), dtype=dtype), dtype, requires_grad)


def full(size: tuple, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Without ``dtype``, the fill value's, as torch: float32 for a float, int64 for an int, bool for a bool."""
    dtype = result_type(fill_value) if dtype is None else dtype
    return _make(np.full(size, fill_value, dtype=dtype), dtype, requires_grad)


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(t.data), requires_grad=requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(t.data), requires_grad=requires_grad)


def eye(n: int, dtype: Any = np.float32) -> Tensor:
    return Tensor(np.eye(n, dtype=dtype))


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    return Tensor(np.arange(start, end, step) if end is not None else np.arange(start), dtype=dtype)


def linspace(start: float, end: float, steps: int, dtype: Any = np.float32) -> Tensor:
    return Tensor(np.linspace(start, end, steps), dtype=dtype)


def randn(*size: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """Standard normal draws from the scratch generator."""
    return _make(_rng.standard_normal(_shape(size)), dtype, requires_grad)


def rand(*size: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) draws from the scratch generator."""
    return _make(_rng.random(_shape(size)), dtype, requires_grad)


def randint(low: int, high: int, size: tuple) -> Tensor:
    return Tensor(_rng.integers(low, high, size=size))


def randperm(n: int) -> Tensor:
    return Tensor(_rng.permutation(n))
