"""2-D convolution and pooling without a Python loop over pixels.

``conv2d`` is im2col: ``sliding_window_view`` exposes every receptive field as a view, one copy
lays them out as rows of a matrix, and a single BLAS matmul with the flattened filters does all
the multiply-adds. The backward pass is two more matmuls plus a col2im that loops over the
kernel offsets (9 iterations for a 3x3 kernel), never over the image. Pooling works the same
way: a loop over the kernel offsets, each iteration a whole-tensor NumPy operation.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd import attach
from ..tensor import Tensor


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def _pad(x: np.ndarray, ph: int, pw: int, value: float = 0.0) -> np.ndarray:
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _out_size(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None,
           stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0) -> Tensor:
    """Cross-correlate ``x`` (N, C, H, W) with ``weight`` (O, C, KH, KW), as ``torch.conv2d``."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    n, c, h, w_ = x.shape
    o, c2, kh, kw = weight.shape
    if c != c2:
        raise ValueError(f"conv2d: input has {c} channels, weight expects {c2}")
    oh, ow = _out_size(h, kh, sh, ph), _out_size(w_, kw, sw, pw)
    xp = _pad(x.data, ph, pw)
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
    w2 = weight.data.reshape(o, -1)
    out = cols @ w2.T
    if bias is not None:
        out += bias.data
    out = out.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)
    parents = (x, weight) if bias is None else (x, weight, bias)

    def backward(g):
        g2 = g.transpose(0, 2, 3, 1).reshape(-1, o)
        gw = (g2.T @ cols).reshape(weight.shape) if weight.requires_grad else None
        gx = None
        if x.requires_grad:
            # columns ordered (KH, KW, C) so each kernel offset is a contiguous channel slice
            dcols = (g2 @ weight.data.transpose(0, 2, 3, 1).reshape(o, -1)).reshape(n, oh, ow, kh, kw, c)
            gxp = np.zeros((n, xp.shape[2], xp.shape[3], c), dtype=g.dtype)
            for i in range(kh):
                for j in range(kw):
                    gxp[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :] += dcols[:, :, :, i, j, :]
            gx = gxp[:, ph:ph + h, pw:pw + w_, :].transpose(0, 3, 1, 2)
        if bias is None:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if bias.requires_grad else None)
    return attach(Tensor._wrap(out), parents, backward)


def _pool_geometry(x: Tensor, kernel_size, stride, padding):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(stride if stride is not None else kernel_size)
    (ph, pw) = _pair(padding)
    oh, ow = _out_size(x.shape[2], kh, sh, ph), _out_size(x.shape[3], kw, sw, pw)
    return kh, kw, sh, sw, ph, pw, oh, ow


def max_pool2d(x: Tensor, kernel_size: int | tuple[int, int], stride=None, padding=0) -> Tensor:
    """Largest value in each window; the gradient goes to the (first) arg-max, as in PyTorch."""
    kh, kw, sh, sw, ph, pw, oh, ow = _pool_geometry(x, kernel_size, stride, padding)
    xp = _pad(x.data, ph, pw, -np.inf)

    def offset(a: np.ndarray, i: int, j: int) -> np.ndarray:
        return a[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]

    out = offset(xp, 0, 0).copy()
    winner = np.zeros(out.shape, dtype=np.int8 if kh * kw < 128 else np.int32)
    for k in range(1, kh * kw):
        candidate = offset(xp, k // kw, k % kw)
        better = candidate > out  # strict: ties keep the earlier offset
        np.copyto(out, candidate, where=better)
        winner[better] = k

    def backward(g):
        gxp = np.zeros(xp.shape, dtype=g.dtype)
        for k in range(kh * kw):
            offset(gxp, k // kw, k % kw)[...] += np.where(winner == k, g, 0)
        return (gxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]],)
    return attach(Tensor._wrap(out), (x,), backward)


def avg_pool2d(x: Tensor, kernel_size: int | tuple[int, int], stride=None, padding=0) -> Tensor:
    """Mean of each window (zero padding counted, PyTorch's ``count_include_pad=True``)."""
    kh, kw, sh, sw, ph, pw, oh, ow = _pool_geometry(x, kernel_size, stride, padding)
    xp = _pad(x.data, ph, pw)
    scale = 1.0 / (kh * kw)
    out = np.zeros((x.shape[0], x.shape[1], oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out += xp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
    out *= scale

    def backward(g):
        gxp = np.zeros(xp.shape, dtype=g.dtype)
        share = g * scale
        for i in range(kh):
            for j in range(kw):
                gxp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += share
        return (gxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]],)
    return attach(Tensor._wrap(out), (x,), backward)
