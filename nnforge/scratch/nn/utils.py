"""Gradient clipping: keep one bad batch from throwing the weights far away (seed 7.1)."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..tensor import Tensor


def _with_grads(parameters: Iterable[Tensor] | Tensor) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0) -> Tensor:
    """Rescale all gradients together so their joint norm is at most ``max_norm``.

    Returns the norm before clipping, as ``torch.nn.utils.clip_grad_norm_`` does.
    """
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be a non-negative number, got {max_norm}")
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive (2.0, 1.0 or inf), got {norm_type}")
    params = _with_grads(parameters)
    if not params:
        return Tensor(0.0)
    if norm_type == float("inf"):
        total = max(float(np.abs(p.grad.data).max()) for p in params)
    else:
        total = float(sum(float((np.abs(p.grad.data.astype(np.float64)) ** norm_type).sum())
                          for p in params) ** (1.0 / norm_type))
    coef = min(max_norm / (total + 1e-6), 1.0)
    if coef < 1.0:
        for p in params:
            p.grad.data *= np.asarray(coef, dtype=p.grad.dtype)
    return Tensor(total, dtype=params[0].grad.dtype)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value]."""
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be a non-negative number, got {clip_value}")
    for p in _with_grads(parameters):
        np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)
