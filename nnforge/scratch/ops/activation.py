"""Activation functions and (log-)softmax, each with its closed-form derivative.

Writing the derivative by hand (``sigmoid' = s (1 - s)``, ``tanh' = 1 - t^2``) both teaches the
formula and saves the graph nodes a composition of primitive ops would create.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd import attach
from ..tensor import Tensor, _dim, _floating

_erf = np.frompyfunc(math.erf, 1, 1)  # NumPy has no vectorised erf; exact GELU needs one


def relu(x: Tensor) -> Tensor:
    """max(0, x); the gradient passes where the input was positive."""
    out = np.maximum(x.data, 0)
    return attach(Tensor._wrap(out), (x,), lambda g: (g * (x.data > 0),))


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, else ``negative_slope * x``: negative inputs keep a small gradient."""
    positive = x.data > 0
    slope = np.where(positive, 1, negative_slope).astype(x.dtype)
    return attach(Tensor._wrap(x.data * slope), (x,), lambda g: (g * slope,))


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^-x), computed without overflow for large |x|."""
    v = _floating(x)  # an integer tensor gives float32, as torch (it was cast back to integers: all 0 or 1)
    z = np.exp(-np.abs(v))
    s = np.where(v >= 0, 1 / (1 + z), z / (1 + z)).astype(v.dtype, copy=False)
    return attach(Tensor._wrap(s), (x,), lambda g: (g * s * (1 - s),))


def tanh(x: Tensor) -> Tensor:
    t = np.tanh(_floating(x))
    return attach(Tensor._wrap(t), (x,), lambda g: (g * (1 - t * t),))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF; ``approximate='tanh'`` is the fast variant."""
    v = _floating(x)
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        inner = k * (v + 0.044715 * v ** 3)
        t = np.tanh(inner)
        out = 0.5 * v * (1 + t)
        grad = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v)
    else:
        cdf = (0.5 * (1 + _erf(v / math.sqrt(2)).astype(v.dtype)))
        pdf = np.exp(-0.5 * v * v) / math.sqrt(2 * math.pi)
        out = v * cdf
        grad = cdf + v * pdf
    out, grad = out.astype(v.dtype, copy=False), grad.astype(v.dtype, copy=False)
    return attach(Tensor._wrap(out), (x,), lambda g: (g * grad,))


def _implicit_dim(dim: int | None, ndim: int, name: str) -> int:
    """torch's choice where ``dim`` is left out, with torch's warning: 0 for 0-, 1- and 3-D input, else 1
    (a batch of rows, or of images' channels). It was always -1 here, so a 3-D (batch, seq, class) input
    was normalised over classes where the torch code being ported normalises over the batch."""
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                  "Change the call to include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(x: Tensor, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)), shifted by the max so exp never overflows."""
    dim = _dim(_implicit_dim(dim, x.ndim, "softmax"), x.ndim)
    e = np.exp(x.data - x.data.max(axis=dim, keepdims=True))
    s = e / e.sum(axis=dim, keepdims=True)
    return attach(Tensor._wrap(s), (x,),
                  lambda g: (s * (g - (g * s).sum(axis=dim, keepdims=True)),))


def log_softmax(x: Tensor, dim: int | None = None) -> Tensor:
    """x - logsumexp(x): the stable way to get log-probabilities."""
    dim = _dim(_implicit_dim(dim, x.ndim, "log_softmax"), x.ndim)
    shifted = x.data - x.data.max(axis=dim, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return attach(Tensor._wrap(out), (x,),
                  lambda g: (g - np.exp(out) * g.sum(axis=dim, keepdims=True),))
