"""Loss functions: how far predictions are from targets, as one differentiable number.

``cross_entropy`` is fused: log-softmax and the negative log-likelihood in one node whose
gradient is the famous ``softmax(x) - target`` (generalised here to label smoothing and class
weights), which is both stable and about three times cheaper than composing the pieces.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..autograd import attach
from ..tensor import Tensor
from .activation import log_softmax

_REDUCTIONS = ("mean", "sum", "none")


def _raw(x: Any, dtype=None) -> np.ndarray:
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    return arr if dtype is None else arr.astype(dtype, copy=False)


def _check_classes(name: str, x: Tensor | np.ndarray, t: np.ndarray, w: np.ndarray | None,
                   ignore_index: int | None = None) -> None:
    """(N, C) scores, N class indices (``ignore_index`` allowed) or (N, C) probabilities, C class
    weights: a few integer comparisons."""
    if x.ndim != 2:
        raise ValueError(f"{name}: expected input of shape (N, C) (a batch of class scores), got shape {x.shape}")
    n, c = x.shape
    if t.ndim == 1:
        if t.shape[0] != n:
            raise ValueError(f"{name}: expected input batch_size ({n}) to match target batch_size ({t.shape[0]})")
        if t.dtype.kind not in "iu":
            raise TypeError(f"{name}: class-index targets must be integers, got dtype {t.dtype} "
                            f"(for class probabilities pass an (N, C) target)")
        if n and t.min() < 0:  # NumPy would count it from the last class; torch refuses it (one pass over N targets)
            kept = t if ignore_index is None else t[t != ignore_index]
            if kept.size and kept.min() < 0:
                raise _target_error(kept, c)
    elif t.shape != x.shape:
        raise ValueError(f"{name}: expected target of shape ({n},) (class indices) or {x.shape} "
                         f"(class probabilities), got shape {t.shape}")
    if w is not None and w.shape != (c,):
        raise RuntimeError(f"{name}: weight should have one entry per class ({c}), got shape {w.shape}")


def _target_error(t: np.ndarray, c: int) -> IndexError:
    """Name the first target outside 0..C-1."""
    bad = t[(t < 0) | (t >= c)]
    return IndexError(f"Target {bad[0] if bad.size else t.max()} is out of bounds: "
                      f"class indices must lie in 0..{c - 1}")


def _check_same_shape(name: str, p: np.ndarray, y: np.ndarray) -> None:
    if p.shape != y.shape:
        raise ValueError(f"{name}: target of shape {y.shape} must have the same shape as the input {p.shape}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _difference(input: Tensor, target: Any, name: str) -> Tensor:
    """``input - target``; as torch, a warning when their shapes differ: predictions (N, 1) against
    targets (N,) broadcast to an (N, N) table of every pair, a loss that trains to the mean."""
    target = target if isinstance(target, Tensor) else Tensor._wrap(_raw(target, input.dtype))
    if target.shape != input.shape:
        warnings.warn(f"{name}: using a target size {target.shape} that is different to the input size {input.shape}. "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
                      UserWarning, stacklevel=3)
    return input - target


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error, the regression loss of the seed's section 2.1."""
    diff = _difference(input, target, "mse_loss")
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    return _reduce(_difference(input, target, "l1_loss").abs(), reduction)


def cross_entropy(input: Tensor, target: Any, weight: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0, ignore_index: int = -100) -> Tensor:
    """Softmax cross-entropy of logits ``input`` (N, C) against class indices (N,) or
    probabilities (N, C), with optional per-class ``weight`` and ``label_smoothing``.

    Matches ``torch.nn.functional.cross_entropy``, including how a weighted mean is normalised
    (by the summed weights of the target classes) and ``ignore_index`` (-100, as torch: a row whose
    target is -100, padding, adds nothing and is not counted in the mean; it was an IndexError).
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    x = input.data
    t = _raw(target)
    w = None if weight is None else _raw(weight, x.dtype)
    _check_classes("cross_entropy", x, t, w, ignore_index)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    n, c = x.shape
    shifted = x - x.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sumexp = exp.sum(axis=1, keepdims=True)
    logp = shifted - np.log(sumexp)
    eps = label_smoothing
    if t.dtype.kind in "iu":  # class indices: q = (1-eps) w[y] onehot(y) + eps/C w
        rows = np.arange(n)
        keep = t != ignore_index
        t = t if keep.all() else np.where(keep, t, 0)  # an ignored row points at class 0, then weighs nothing
        q = np.zeros_like(x)
        try:
            q[rows, t] = (1 - eps) * (w[t] if w is not None else 1)
        except IndexError:
            raise _target_error(t, c) from None
        if eps:
            q += (eps / c) * (w if w is not None else 1)
        q[~keep] = 0
        denom = float(w[t][keep].sum()) if (w is not None and reduction == "mean") else float(keep.sum())
    else:  # probabilities: q = w * ((1-eps) p + eps/C)
        q = t.astype(x.dtype) * (1 - eps) + eps / c
        if w is not None:
            q = q * w
        denom = float(n)
    per_sample = -(q * logp).sum(axis=1)
    if reduction == "mean":  # every row ignored: NaN, as torch
        scale = 1.0 / denom if denom else float("nan")
        out = per_sample.sum() * scale
    elif reduction == "sum":
        out, scale = per_sample.sum(), 1.0
    else:
        out, scale = per_sample, None
    softmax = exp / sumexp

    def backward(g):
        # d/dx of -sum_c q_c log softmax(x)_c  =  softmax(x) * sum_c q_c - q
        grad = softmax * q.sum(axis=1, keepdims=True) - q
        if scale is None:
            return (grad * g[:, None],)
        return (grad * (g * scale),)
    return attach(Tensor._wrap(np.asarray(out, dtype=x.dtype)), (input,), backward)


def nll_loss(input: Tensor, target: Any, weight: Any = None, reduction: str = "mean",
             ignore_index: int = -100) -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C) at class indices ``target``;
    rows whose target is ``ignore_index`` add nothing and are not counted, as torch."""
    t = _raw(target)
    w = None if weight is None else _raw(weight, input.dtype)
    _check_classes("nll_loss", input, t, w, ignore_index)
    keep = t != ignore_index
    t = t if keep.all() else np.where(keep, t, 0)
    try:
        picked = input[np.arange(len(t)), t]
    except IndexError:
        raise _target_error(t, input.shape[1]) from None
    if weight is None and keep.all():
        return _reduce(-picked, reduction)
    wt = (w[t] if w is not None else np.ones(len(t), dtype=input.dtype)) * keep
    loss = -picked * Tensor._wrap(wt)
    if reduction == "mean":
        return loss.sum() * (1.0 / float(wt.sum()) if wt.sum() else float("nan"))
    return _reduce(loss, reduction)


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None, reduction: str = "mean") -> Tensor:
    """-[y log p + (1-y) log(1-p)] for probabilities ``input``; logs are clamped at -100 like
    PyTorch so a saturated sigmoid gives a large finite loss instead of ``inf``."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    p = input.data
    y = _raw(target, p.dtype)
    _check_same_shape("binary_cross_entropy", p, y)
    w = None if weight is None else _raw(weight, p.dtype)
    with np.errstate(divide="ignore"):
        loss = -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log1p(-p), -100))
    if w is not None:
        loss = loss * w
    count = p.size

    def backward(g):
        grad = (p - y) / np.maximum((1 - p) * p, 1e-12)
        if w is not None:
            grad = grad * w
        if reduction == "mean":
            return (grad * (g / count),)
        return (grad * g,)
    value = loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss
    return attach(Tensor._wrap(np.asarray(value, dtype=p.dtype)), (input,), backward)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,
                                     reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on logits, computed as max(x,0) - x y + log(1 + e^-|x|) (stable)."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    x = input.data
    y = _raw(target, x.dtype)
    _check_same_shape("binary_cross_entropy_with_logits", x, y)
    w = None if weight is None else _raw(weight, x.dtype)
    loss = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    sig = np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))
    if w is not None:
        loss = loss * w

    def backward(g):
        grad = sig - y
        if w is not None:
            grad = grad * w
        return (grad * (g / x.size if reduction == "mean" else g),)
    value = loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss
    return attach(Tensor._wrap(np.asarray(value, dtype=x.dtype)), (input,), backward)


def focal_loss(input: Tensor, target: Any, gamma: float = 2.0, alpha: Any = None,
               reduction: str = "mean") -> Tensor:
    """Multi-class focal loss (Lin et al. 2017, eq. 5): -alpha_t (1 - p_t)^gamma log p_t.

    Easy examples (p_t near 1) are down-weighted by (1 - p_t)^gamma, so training concentrates on
    the hard ones; ``gamma=0`` and no ``alpha`` is plain cross-entropy. ``alpha`` is a float for
    all classes or a per-class weight vector. ``target`` is class indices (N,) or probabilities
    (N, C): then the per-class terms ``-alpha_c q_c (1 - p_c)^gamma log p_c`` are summed per example.
    """
    a = None if alpha is None else np.asarray(_raw(alpha), dtype=input.dtype)
    _check_classes("focal_loss", input, _raw(target), a if a is not None and a.ndim else None)
    if _raw(target).ndim == 2:
        q = _raw(target, input.dtype)
        if alpha is not None:
            q = q * np.asarray(_raw(alpha), dtype=input.dtype)
        logp = log_softmax(input, dim=1)
        terms = ((1 - logp.exp()) ** gamma) * logp * Tensor._wrap(-q)
        return _reduce(terms.sum(dim=1), reduction)
    t = _raw(target)
    try:
        logp_t = log_softmax(input, dim=1)[np.arange(len(t)), t]
    except IndexError:
        raise _target_error(t, input.shape[1]) from None
    p_t = logp_t.exp()
    loss = -((1 - p_t) ** gamma) * logp_t
    if alpha is not None:
        a = np.asarray(_raw(alpha), dtype=input.dtype)
        loss = loss * Tensor._wrap(a[t] if a.ndim else np.full(len(t), a, dtype=input.dtype))
    return _reduce(loss, reduction)
