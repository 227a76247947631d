"""Batch normalisation (Ioffe & Szegedy 2015) with its fused backward pass."""
from __future__ import annotations

import numpy as np

from ..autograd import attach
from ..tensor import Tensor


def batch_norm(x: Tensor, running_mean: np.ndarray | Tensor | None, running_var: np.ndarray | Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) over the batch and spatial dims, then scale and shift.

    In training the batch statistics are used and the running estimates are updated in place
    (the variance unbiased, as PyTorch does); in evaluation the running estimates are used.
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an (N, C, ...) input of at least 2 dims, got shape {x.shape}")
    axes = (0,) + tuple(range(2, x.ndim))
    shape = [1] * x.ndim
    shape[1] = x.shape[1]
    rm = running_mean.data if isinstance(running_mean, Tensor) else running_mean
    rv = running_var.data if isinstance(running_var, Tensor) else running_var
    for name, t in (("running_mean", rm), ("running_var", rv), ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (x.shape[1],):
            raise RuntimeError(f"batch_norm: {name} should contain {x.shape[1]} elements (one per channel of the "
                               f"input of shape {x.shape}), not {t.shape[0] if t.ndim == 1 else t.shape}")
    v = x.data
    if training:
        count = v.size // v.shape[1]
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input of shape {x.shape}")
        mean = v.mean(axis=axes)
        var = v.var(axis=axes)
        if rm is not None:
            rm *= 1 - momentum
            rm += momentum * mean
            rv *= 1 - momentum
            rv += momentum * var * (count / max(count - 1, 1))
    else:
        mean, var = rm, rv
    inv_std = (1.0 / np.sqrt(var + eps)).astype(v.dtype)
    xhat = (v - mean.reshape(shape)) * inv_std.reshape(shape)
    gamma = weight.data.reshape(shape) if weight is not None else None
    out = xhat * gamma if gamma is not None else xhat.copy()
    if bias is not None:
        out += bias.data.reshape(shape)
    parents = tuple(t for t in (x, weight, bias) if t is not None)

    def backward(g):
        gxhat = g * gamma if gamma is not None else g
        if training:
            # d/dx of (x - mean) / std with mean and std depending on the batch
            gx = inv_std.reshape(shape) * (gxhat - gxhat.mean(axis=axes, keepdims=True)
                                           - xhat * (gxhat * xhat).mean(axis=axes, keepdims=True))
        else:
            gx = gxhat * inv_std.reshape(shape)
        grads = [gx if x.requires_grad else None]
        if weight is not None:
            grads.append((g * xhat).sum(axis=axes))
        if bias is not None:
            grads.append(g.sum(axis=axes))
        return tuple(grads)
    return attach(Tensor._wrap(out), parents, backward)
