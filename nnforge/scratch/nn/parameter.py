"""``Parameter``: a tensor a Module owns and an optimizer updates."""
from __future__ import annotations

from typing import Any

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires a gradient; assigning one to a Module registers it."""

    def __init__(self, data: Any, requires_grad: bool = True):
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad,
                         dtype=(data.dtype if isinstance(data, Tensor) else None))

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
