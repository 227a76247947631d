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
    return (query @ key.transpose(-2, -1) * (1.0 / math.sqrt(query.shape[-1]))).softmax(-1)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor) -> Tensor:
    """Each query's output is the values averaged with its attention weights (as torch's, without masks)."""
    return attention_weights(query, key) @ value


def layer_norm(x: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise each example over its last ``len(normalized_shape)`` dims (biased variance, as torch)."""
    dims = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    centred = x - x.mean(dims, keepdim=True)
    variance = (centred * centred).mean(dims, keepdim=True)
    out = centred / (variance + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out
