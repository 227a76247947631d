"""Multi-head self-attention and layer normalisation: the Transformer's two new layers.

Names, constructors and parameter layouts are PyTorch's (``in_proj_weight`` holds the query, key
and value projections stacked; ``out_proj`` mixes the heads back), so ``load_state_dict`` takes a
``torch.nn.MultiheadAttention``'s weights and both compute the same outputs and gradients.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ...ops.attention import attention_weights, layer_norm
from ...ops.linear import linear
from ...tensor import Tensor
from .. import init
from ..parameter import Parameter
from .linear import Linear
from .module import Module


class MultiheadAttention(Module):
    """Attention with ``num_heads`` heads of ``embed_dim // num_heads`` dimensions each.

    ``forward(query, key, value)`` returns ``(output, weights)``: the output has the query's shape,
    the weights (batch, query length, key length) are averaged over heads, as torch returns them.
    Inputs are (length, batch, embed) unless ``batch_first``.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True, batch_first: bool = False, dtype=np.float32):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be positive integers, "
                             f"got embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim, self.num_heads, self.batch_first = embed_dim, num_heads, batch_first
        self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dtype=dtype))
        init.xavier_uniform_(self.in_proj_weight)
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if bias:
            init.zeros_(self.out_proj.bias)

    def _heads(self, x: Tensor, part: int) -> Tensor:
        """Project (batch, length, embed) with the ``part``-th slice of in_proj, split into heads."""
        e = self.embed_dim
        bias = self.in_proj_bias[part * e : (part + 1) * e] if self.in_proj_bias is not None else None
        y = linear(x, self.in_proj_weight[part * e : (part + 1) * e], bias)
        n, length = x.shape[0], x.shape[1]
        return y.reshape(n, length, self.num_heads, e // self.num_heads).permute(0, 2, 1, 3)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, need_weights: bool = True):
        layout = "(batch, seq, embed)" if self.batch_first else "(seq, batch, embed)"
        for name, t in (("query", query), ("key", key), ("value", value)):
            if t.ndim != 3 or t.shape[2] != self.embed_dim:
                raise ValueError(f"MultiheadAttention: expected a 3-D {layout} {name} with embed_dim "
                                 f"{self.embed_dim}, got shape {t.shape}")
        if key.shape != value.shape:
            raise ValueError(f"MultiheadAttention: key of shape {key.shape} and value of shape {value.shape} "
                             f"must have the same shape")
        b = 0 if self.batch_first else 1
        if query.shape[b] != key.shape[b]:
            raise ValueError(f"MultiheadAttention: query of shape {query.shape} and key of shape {key.shape} "
                             f"must have the same batch size")
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        q, k, v = self._heads(query, 0), self._heads(key, 1), self._heads(value, 2)
        weights = attention_weights(q, k)  # (batch, heads, L, S)
        n, length = query.shape[0], query.shape[1]
        out = self.out_proj((weights @ v).permute(0, 2, 1, 3).reshape(n, length, self.embed_dim))
        if not self.batch_first:
            out = out.transpose(0, 1)
        return out, (weights.mean(1) if need_weights else None)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


class LayerNorm(Module):
    """Normalises each example over its last dims; learnable scale (ones) and shift (zeros)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 dtype=np.float32):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
            self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"
