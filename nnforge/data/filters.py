"""Denoising filters for image batches: median and Gaussian, one tensor operation per batch.

Unlike augmentation, denoising is preprocessing: it is applied to every input — training,
evaluation and prediction — through :class:`~nnforge.data.Preprocessing` (``data.denoise``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

FILTERS = ("none", "median", "gaussian")


def median_filter(x: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Median of each ``size`` x ``size`` neighbourhood (edges reflected); removes salt-and-pepper noise."""
    n, c, h, w = x.shape
    r = size // 2
    padded = F.pad(x.float(), (r, r, r, r), mode="reflect" if min(h, w) > r else "replicate")
    patches = F.unfold(padded.reshape(n * c, 1, h + 2 * r, w + 2 * r), size)  # (n*c, k*k, h*w)
    return patches.median(dim=1).values.reshape(n, c, h, w)


def gaussian_kernel(size: int) -> torch.Tensor:
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8  # OpenCV's default sigma for a kernel size
    t = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    k = torch.exp(-(t**2) / (2 * sigma**2))
    return k / k.sum()


def gaussian_filter(x: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Separable Gaussian blur (edges reflected); smooths fine-grained noise."""
    n, c, h, w = x.shape
    r = size // 2
    k = gaussian_kernel(size).to(x.device)
    flat = F.pad(x.float().reshape(n * c, 1, h, w), (r, r, r, r), mode="reflect" if min(h, w) > r else "replicate")
    flat = F.conv2d(flat, k.view(1, 1, 1, size))
    flat = F.conv2d(flat, k.view(1, 1, size, 1))
    return flat.reshape(n, c, h, w)


def denoise(x: torch.Tensor, method: str, size: int = 3) -> torch.Tensor:
    """Apply the named filter to a (N, C, H, W) batch; ``none`` returns it unchanged."""
    if method == "none":
        return x
    size = size if size % 2 else size + 1
    if method == "median":
        return median_filter(x, size)
    if method == "gaussian":
        return gaussian_filter(x, size)
    raise ValueError(f"unknown filter {method}; accepted: {', '.join(FILTERS)}")
