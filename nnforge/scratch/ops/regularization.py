"""Dropout (Srivastava et al. 2014), inverted so evaluation needs no rescaling."""
from __future__ import annotations

import numpy as np

from ..autograd import attach
from ..tensor import Tensor


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale survivors by 1/(1-p) while training."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return x
    if p >= 1:
        return x * 0.0
    from ..creation import generator
    mask = (generator().random(x.shape) >= p).astype(x.dtype) * np.asarray(1.0 / (1.0 - p), dtype=x.dtype)
    return attach(Tensor._wrap(x.data * mask), (x,), lambda g: (g * mask,))
