"""Stochastic gradient descent with momentum and Nesterov momentum (seed section 2.3)."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer


class SGD(Optimizer):
    """w <- w - lr * d, with d the gradient (plus ``weight_decay * w``), or a velocity

    v <- momentum * v + (1 - dampening) * d; d <- v (or d + momentum * v for Nesterov),

    the same recurrence as ``torch.optim.SGD`` (the first step's velocity is the gradient itself).
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        d = grad + wd * p.data if wd else grad
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(d, copy=True)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * d
            d = d + momentum * buf if group["nesterov"] else buf
        p.data -= np.asarray(lr, dtype=p.dtype) * d
