"""Scaled dot-product attention and layer normalisation, composed from differentiable tensor ops.

Both are written with the autograd engine's primitives (matmul, softmax, mean, ...), so their
backward passes come for free and read as the formulas do:

    attention(Q, K, V) = softmax(Q K^T / sqrt(d)) V          (Vaswani et al., 2017)
    layer_norm(x)      = (x - mean) / sqrt(var + eps) * w + b  over the last dims (Ba et al., 2016)
"""
from __future__ import annotations

import math
from typing import Sequence

from ..tensor import Tensor


def attention_weights(query: Tensor, key: Tensor) -> Tensor:
    """softmax(Q K^T / sqrt(d)) for (..., L, d) queries and (..., S, d) keys: (..., L, S), rows sum to 1."""
    if query.shape[-1:] != key.shape[-1:]:
        raise RuntimeError(f"attention: query of shape {query.shape} and key of shape {key.shape} "
                           f"must have the same last (feature) dimension")
    return (query @ key.transpose(-2, -1) * (1.0 / math.sqrt(query.shape[-1]))).softmax(-1)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor) -> Tensor:
    """Each query's output is the values averaged with its attention weights (as torch's, without masks)."""
    if key.shape[-2:-1] != value.shape[-2:-1]:
        raise RuntimeError(f"attention: key of shape {key.shape} and value of shape {value.shape} "
                           f"must have the same length (dimension -2)")
    return attention_weights(query, key) @ value


def layer_norm(x: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise each example over its last ``len(normalized_shape)`` dims (biased variance, as torch)."""
    shape = tuple(normalized_shape)
    if x.shape[x.ndim - len(shape):] != shape or x.ndim < len(shape):
        raise RuntimeError(f"layer_norm: normalized_shape={list(shape)} expects an input of shape "
                           f"[*, {', '.join(map(str, shape))}], got an input of shape {list(x.shape)}")
    dims = tuple(range(x.ndim - len(shape), x.ndim))
    centred = x - x.mean(dims, keepdim=True)
    variance = (centred * centred).mean(dims, keepdim=True)
    out = centred / (variance + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out
