"""Affine maps and lookups: ``linear`` (y = x W^T + b) and ``embedding`` (rows of a table)."""
from __future__ import annotations

import numpy as np

from ..autograd import attach
from ..tensor import Tensor


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias, with ``weight`` stored (out_features, in_features) as in PyTorch.

    One fused node instead of three: the backward is two matmuls and a column sum, which is what
    keeps a scratch MLP as fast as a framework one.
    """
    if not isinstance(x, Tensor):  # a NumPy array's .data is a memoryview: it multiplied, then failed in autograd
        raise TypeError(f"linear(): argument 'input' must be Tensor, not {type(x).__name__}; wrap it: scratch.tensor(x)")
    w = weight.data
    try:
        out = x.data @ w.T
    except ValueError:
        raise RuntimeError(f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} features, "
                           f"the weight of shape {w.shape} expects {w.shape[-1]} "
                           f"(mat1 and mat2 shapes cannot be multiplied)") from None
    if bias is not None:
        try:
            out += bias.data
        except ValueError:
            raise RuntimeError(f"linear: the bias of shape {bias.shape} should have one entry per output "
                               f"feature ({w.shape[0]})") from None
    parents = (x, weight) if bias is None else (x, weight, bias)

    def backward(g):
        g2 = g.reshape(-1, g.shape[-1])
        gx = (g @ w) if x.requires_grad else None
        gw = (g2.T @ x.data.reshape(-1, w.shape[1])) if weight.requires_grad else None
        if bias is None:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if bias.requires_grad else None)
    return attach(Tensor._wrap(out), parents, backward)


def embedding(indices: Tensor | np.ndarray, weight: Tensor) -> Tensor:
    """Rows of ``weight`` picked by integer ``indices``; repeated rows accumulate gradient."""
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    table = weight.data

    def backward(g):
        out = np.zeros_like(table)
        np.add.at(out, idx.reshape(-1), g.reshape(-1, table.shape[1]))
        return (out,)
    try:
        if idx.size and idx.dtype.kind == "i" and idx.min() < 0:  # NumPy would count it from the end; torch refuses it
            raise IndexError
        rows = table[idx]
    except IndexError:
        if idx.dtype.kind not in "iu":
            raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}") from None
        raise IndexError(f"embedding: index out of range: the table has {table.shape[0]} rows "
                         f"(valid indices 0..{table.shape[0] - 1})") from None
    return attach(Tensor._wrap(rows), (weight,), backward)
