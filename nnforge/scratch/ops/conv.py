"""2-D convolution and pooling without a Python loop over pixels.

``conv2d`` is im2col: ``sliding_window_view`` exposes every receptive field as a view, one copy
lays them out as rows of a matrix, and a single BLAS matmul with the flattened filters does all
the multiply-adds. The backward pass is one matmul for the weight gradient and, for the input
gradient, one small matmul per kernel offset added into its strided window (9 for a 3x3
kernel). Pooling works the same way: a loop over the kernel offsets, each iteration a
whole-tensor NumPy operation.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd import attach
from ..tensor import Tensor


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def conv_padding(padding, kernel: tuple[int, int], stride: tuple[int, int]) -> tuple[int, int]:
    """Padding per side as torch's conv2d takes it: a number, a pair, ``'valid'`` (none) or ``'same'``
    (the output as large as the input; stride 1, and here an odd kernel: an even one pads unevenly)."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        if padding != "same":
            raise ValueError(f"Invalid padding string {padding!r}, should be one of ('valid', 'same')")
        if stride != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        if kernel[0] % 2 == 0 or kernel[1] % 2 == 0:
            raise ValueError(f"padding='same' with the even kernel {kernel} pads one side more than the other, which scratch's "
                             "conv2d does not do; use an odd kernel or pad by a number")
        return (kernel[0] - 1) // 2, (kernel[1] - 1) // 2
    return _pair(padding)


def _pad_nhwc(x: np.ndarray, ph: int, pw: int, value: float = 0.0) -> np.ndarray:
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=value)


def _out_size(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def _check_input(name: str, x: Tensor, k: tuple[int, int], s: tuple[int, int], p: tuple[int, int],
                 max_pad: bool = False) -> None:
    """A handful of integer comparisons per call: the misuses NumPy would report obscurely."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(x).__name__}; wrap it: scratch.tensor(x)")
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D (N, C, H, W) input, got {x.ndim}-D input of shape {x.shape}")
    if s[0] <= 0 or s[1] <= 0:
        raise ValueError(f"{name}: stride should be greater than zero, got {s}")
    if p[0] < 0 or p[1] < 0:
        raise ValueError(f"{name}: padding should be non-negative, got {p}")
    if max_pad and (2 * p[0] > k[0] or 2 * p[1] > k[1]):
        raise ValueError(f"{name}: padding should be at most half of the kernel size, got padding={p} "
                         f"and kernel_size={k}")
    if x.shape[2] + 2 * p[0] < k[0] or x.shape[3] + 2 * p[1] < k[1]:
        raise ValueError(f"{name}: the padded input of {x.shape[2] + 2 * p[0]}x{x.shape[3] + 2 * p[1]} pixels "
                         f"is smaller than the {k[0]}x{k[1]} kernel")


def _nhwc(a: np.ndarray) -> np.ndarray:
    """View an (N, C, H, W) array as (N, H, W, C).

    Scratch keeps image activations channels-last in memory while their logical shape stays
    (N, C, H, W) as in PyTorch: im2col then reads contiguous channel vectors, the conv output
    of the matmul is already in that layout, and elementwise ops (ReLU) follow it for free.
    """
    return a.transpose(0, 2, 3, 1)


def _nchw(a: np.ndarray) -> np.ndarray:
    return a.transpose(0, 3, 1, 2)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None,
           stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | str = 0) -> Tensor:
    """Cross-correlate ``x`` (N, C, H, W) with ``weight`` (O, C, KH, KW), as ``torch.conv2d``."""
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected a 4-D (out, in, kH, kW) weight, got shape {weight.shape}")
    (sh, sw) = _pair(stride)
    (ph, pw) = conv_padding(padding, weight.shape[2:], (sh, sw))
    _check_input("conv2d", x, weight.shape[2:], (sh, sw), (ph, pw))
    n, c, h, w_ = x.shape
    o, c2, kh, kw = weight.shape
    if c != c2:
        raise ValueError(f"conv2d: input has {c} channels, weight expects {c2}")
    oh, ow = _out_size(h, kh, sh, ph), _out_size(w_, kw, sw, pw)
    xp = _pad_nhwc(_nhwc(x.data), ph, pw)
    # (N, OH, OW, C, KH, KW) windows as a view, reordered to (KH, KW, C) rows: one copy
    windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, kh * kw * c)
    w2 = weight.data.transpose(0, 2, 3, 1).reshape(o, kh * kw * c)
    out = cols @ w2.T
    if bias is not None:
        try:
            out += bias.data
        except ValueError:
            raise RuntimeError(f"conv2d: expected a bias of {o} elements (one per output channel), "
                               f"got shape {bias.shape}") from None
    parents = (x, weight) if bias is None else (x, weight, bias)

    def backward(g):
        g2 = _nhwc(g).reshape(-1, o)
        gw = None
        if weight.requires_grad:
            gw = _nchw((g2.T @ cols).reshape(o, kh, kw, c))
        gx = None
        if x.requires_grad:
            # col2im fused with the matmul: each kernel offset's (N*OH*OW, O) @ (O, C) product
            # is added into its strided window; no (N*OH*OW, KH*KW*C) matrix is materialised
            w4 = np.ascontiguousarray(weight.data.transpose(2, 3, 0, 1))  # (KH, KW, O, C)
            part = np.empty((n * oh * ow, c), dtype=g.dtype)
            gxp = np.zeros((n, xp.shape[1], xp.shape[2], c), dtype=g.dtype)
            for i in range(kh):
                for j in range(kw):
                    np.matmul(g2, w4[i, j], out=part)
                    gxp[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :] += part.reshape(n, oh, ow, c)
            gx = _nchw(gxp[:, ph:ph + h, pw:pw + w_, :])
        if bias is None:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if bias.requires_grad else None)
    return attach(Tensor._wrap(_nchw(out.reshape(n, oh, ow, o))), parents, backward)


def _pool_geometry(x: Tensor, kernel_size, stride, padding, name: str):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(stride if stride is not None else kernel_size)
    (ph, pw) = _pair(padding)
    _check_input(name, x, (kh, kw), (sh, sw), (ph, pw), max_pad=True)
    oh, ow = _out_size(x.shape[2], kh, sh, ph), _out_size(x.shape[3], kw, sw, pw)
    return kh, kw, sh, sw, ph, pw, oh, ow


def max_pool2d(x: Tensor, kernel_size: int | tuple[int, int], stride=None, padding=0) -> Tensor:
    """Largest value in each window; the gradient goes to the first arg-max, as in PyTorch."""
    kh, kw, sh, sw, ph, pw, oh, ow = _pool_geometry(x, kernel_size, stride, padding, "max_pool2d")
    xp = _pad_nhwc(_nhwc(x.data), ph, pw, -np.inf)

    def offset(a: np.ndarray, k: int) -> np.ndarray:
        i, j = divmod(k, kw)
        return a[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :]

    out = offset(xp, 0).copy()
    for k in range(1, kh * kw):
        np.maximum(out, offset(xp, k), out=out)

    def backward(g):
        g = _nhwc(g)
        gxp = np.zeros(xp.shape, dtype=g.dtype)
        free = np.ones(out.shape, dtype=bool)  # windows whose arg-max is not found yet
        # Windows that do not overlap (stride >= kernel, the usual 2x2/2) own their input pixels, so
        # each offset's share is written straight into its view, with no temporary and no add
        # (measured: max-pool forward + backward on a 64x16x28x28 batch, 4.2 -> 3.4 ms).
        disjoint = sh >= kh and sw >= kw
        for k in range(kh * kw):
            hit = offset(xp, k) == out
            hit &= free  # ties: only the first offset in the window receives the gradient
            if k < kh * kw - 1:
                free ^= hit
            if disjoint:
                np.multiply(g, hit, out=offset(gxp, k))
            else:
                offset(gxp, k)[...] += g * hit
        return (_nchw(gxp[:, ph:ph + x.shape[2], pw:pw + x.shape[3], :]),)
    return attach(Tensor._wrap(_nchw(out)), (x,), backward)


def avg_pool2d(x: Tensor, kernel_size: int | tuple[int, int], stride=None, padding=0) -> Tensor:
    """Mean of each window (zero padding counted, PyTorch's ``count_include_pad=True``)."""
    kh, kw, sh, sw, ph, pw, oh, ow = _pool_geometry(x, kernel_size, stride, padding, "avg_pool2d")
    xp = _pad_nhwc(_nhwc(x.data), ph, pw)
    scale = 1.0 / (kh * kw)
    out = np.zeros((x.shape[0], oh, ow, x.shape[1]), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out += xp[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :]
    out *= scale

    def backward(g):
        gxp = np.zeros(xp.shape, dtype=g.dtype)
        share = _nhwc(g) * scale
        for i in range(kh):
            for j in range(kw):
                gxp[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :] += share
        return (_nchw(gxp[:, ph:ph + x.shape[2], pw:pw + x.shape[3], :]),)
    return attach(Tensor._wrap(_nchw(out)), (x,), backward)


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    """Average-pool (N, C, H, W) or (C, H, W) to ``output_size`` (an int, or a pair whose ``None`` keeps
    that side), as torch's. Only sizes that divide the input evenly are taken (1 -- global average
    pooling -- always does): then every window is the same (H/oh, W/ow) block and this is plain
    ``avg_pool2d`` with that kernel. torch's uneven windows (overlapping, of varying size) are refused."""
    if x.ndim not in (3, 4):
        raise RuntimeError(f"adaptive_avg_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {x.shape}")
    if x.ndim == 3:
        return adaptive_avg_pool2d(x.unsqueeze(0), output_size).squeeze(0)
    h, w = x.shape[2:]
    pair = (output_size, output_size) if isinstance(output_size, (int, np.integer)) else tuple(output_size)
    oh, ow = (h if pair[0] is None else int(pair[0])), (w if pair[1] is None else int(pair[1]))
    if oh <= 0 or ow <= 0 or h % oh or w % ow:
        raise ValueError(f"adaptive_avg_pool2d: output size {(oh, ow)} for input {h}x{w}: only sizes that divide the "
                         f"input evenly are supported (1, or a divisor of each side), as avg_pool2d(x, (H // oh, W // ow))")
    return avg_pool2d(x, (h // oh, w // ow))
