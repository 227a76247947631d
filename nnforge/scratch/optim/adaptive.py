"""Optimizers with per-weight step sizes: Adagrad, RMSprop, Adam and AdamW.

Adam (Kingma & Ba 2015, Algorithm 1) keeps running means of the gradient (m) and of its square
(v), corrects their start-up bias and steps by m / (sqrt(v) + eps): large steps where gradients
are consistent, small ones where they are noisy. AdamW (Loshchilov & Hutter 2019) decays the
weights directly instead of adding the decay to the gradient, which then would be rescaled.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """Divide the step by the root of all squared gradients so far (Duchi et al. 2011), as torch:

    sum <- sum + g^2;  w <- w - lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps).

    A weight with large past gradients takes ever smaller steps; as the sum only grows, so does the
    damping everywhere (what RMSprop's running average was invented to undo)."""

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p.data
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        state["step"] += 1
        state["sum"] += grad * grad
        lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        p.data -= lr * grad / (np.sqrt(state["sum"]) + group["eps"])


class RMSprop(Optimizer):
    """Divide the step by a running RMS of recent gradients (Hinton's lecture 6e), as torch."""

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        alpha, wd = group["alpha"], group["weight_decay"]
        if wd:
            grad = grad + wd * p.data
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
            if group["momentum"]:
                state["momentum_buffer"] = np.zeros_like(p.data)
        state["step"] += 1
        sq = state["square_avg"]
        sq *= alpha
        sq += (1 - alpha) * grad * grad
        if group["centered"]:
            ga = state["grad_avg"]
            ga *= alpha
            ga += (1 - alpha) * grad
            avg = np.sqrt(sq - ga * ga) + group["eps"]
        else:
            avg = np.sqrt(sq) + group["eps"]
        if group["momentum"]:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += grad / avg
            p.data -= group["lr"] * buf
        else:
            p.data -= group["lr"] * grad / avg


class Adam(Optimizer):
    """Adam with PyTorch's update order; ``weight_decay`` is L2 added to the gradient."""

    _decoupled = False

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if wd and self._decoupled:
            p.data *= 1 - lr * wd
        elif wd:
            grad = grad + wd * p.data
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        m, v, tmp = state["exp_avg"], state["exp_avg_sq"], self._work_buffer(p)
        dt = p.data.dtype.type
        # m <- b1 m + (1 - b1) g ; v <- b2 v + (1 - b2) g^2, all in place
        np.multiply(grad, dt(1 - b1), out=tmp)
        m *= dt(b1)
        m += tmp
        np.multiply(grad, grad, out=tmp)
        tmp *= dt(1 - b2)
        v *= dt(b2)
        v += tmp
        bias1, bias2 = 1 - b1 ** t, 1 - b2 ** t
        # p <- p - lr/bias1 * m / (sqrt(v)/sqrt(bias2) + eps), with sqrt(bias2) folded into the
        # constants: lr sqrt(bias2)/bias1 * m / (sqrt(v) + eps sqrt(bias2)) saves a full pass
        np.sqrt(v, out=tmp)
        tmp += dt(eps * math.sqrt(bias2))
        np.divide(m, tmp, out=tmp)
        tmp *= dt(lr * math.sqrt(bias2) / bias1)
        p.data -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay: w <- w (1 - lr * wd) before the Adam step."""

    _decoupled = True

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)
