"""``Parameter``: a tensor a Module owns and an optimizer updates."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires a gradient; assigning one to a Module registers it.

    A tensor or a NumPy array keeps its floating dtype (so float64 layers stay float64); other
    data (lists, numbers) becomes float32 like any new tensor.
    """

    def __init__(self, data: Any, requires_grad: bool = True):
        raw = data.data if isinstance(data, Tensor) else data
        dtype = raw.dtype if isinstance(raw, np.ndarray) and raw.dtype.kind == "f" else None
        super().__init__(raw, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
