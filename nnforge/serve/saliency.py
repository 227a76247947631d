"""Where the network looked, with plain torch autograd (the server needs no Captum).

Images: the saliency of a pixel is how much the winning class's score changes when that pixel
changes, |d score / d pixel|, averaged over a few noisy copies of the input (SmoothGrad, Smilkov
et al. 2017) so that the map shows strokes rather than speckle. The result is drawn as a heat
overlay on the input the network actually saw (after the training pipeline's preprocessing).

Tabular rows: integrated gradients (Sundararajan et al. 2017) of the winning class's
*probability*, from the training mean (zero after standardising) to the row. Each feature gets a
share, and the shares add up to how far the row moves that probability from the average row's,
so "alcohol +0.31" reads as "alcohol raised P(c0) by 31 points".
"""

from __future__ import annotations

import base64
import io

import numpy as np
import torch


def gradient_saliency(model: torch.nn.Module, x: torch.Tensor, target: int,
                      samples: int = 16, noise: float = 0.15, seed: int = 0) -> np.ndarray:
    """(H, W) saliency in [0, 1] of class ``target`` for one preprocessed input ``x`` (C, H, W)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        sigma = noise * float(x.max() - x.min())
        batch = x[None] + sigma * torch.randn((samples, *x.shape), generator=generator)
        batch[0] = x
    batch.requires_grad_(True)
    with torch.enable_grad():
        model(batch)[:, target].sum().backward()
    heat = batch.grad.abs().mean(0).amax(0).numpy()
    peak = float(heat.max())
    return (heat / peak if peak > 0 else heat).astype(np.float32)


def integrated_gradients(model: torch.nn.Module, x: torch.Tensor, target: int, steps: int = 64,
                         probabilities: bool = True) -> tuple[np.ndarray, float]:
    """(attribution per feature, the class's probability at the baseline) of class ``target`` for
    one preprocessed row ``x`` (F,), from the all-zero baseline (the training mean).
    ``probabilities=False``: of the raw output ``target`` (a regression model's standardised value)."""
    out = (lambda inp: torch.softmax(model(inp).float(), 1)) if probabilities else (lambda inp: model(inp).float())  # noqa: E731
    baseline = torch.zeros_like(x)
    with torch.no_grad():
        at_baseline = float(out(baseline[None])[0, target])
    alphas = (torch.arange(steps, dtype=x.dtype) + 0.5) / steps  # midpoints along the straight path
    path = (baseline + alphas[:, None] * (x - baseline)).requires_grad_(True)
    with torch.enable_grad():
        out(path)[:, target].sum().backward()
    return ((x - baseline) * path.grad.mean(0)).numpy(), at_baseline


def _heat_colours(v: np.ndarray) -> np.ndarray:
    """A black-red-yellow-white ramp (like 'inferno'), values in [0, 1] -> uint8 RGB."""
    stops = np.array([[0, 0, 4], [120, 28, 109], [237, 105, 37], [252, 255, 164]], dtype=np.float32)
    pos = np.clip(v, 0, 1) * (len(stops) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(stops) - 2)
    frac = (pos - lo)[..., None]
    return (stops[lo] * (1 - frac) + stops[lo + 1] * frac).astype(np.uint8)


def png_data_url(rgb: np.ndarray, size: int = 224) -> str:
    from PIL import Image

    image = Image.fromarray(rgb).resize((size, size), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def overlay(stored: np.ndarray, heat: np.ndarray, alpha: float = 0.85) -> np.ndarray:
    """The stored input (uint8 C,H,W), dimmed grey, with the heat map blended over it, as uint8 RGB."""
    base = stored.mean(0) if stored.shape[0] > 1 else stored[0]
    grey = 0.35 * np.repeat(base[..., None], 3, axis=2).astype(np.float32)
    weight = alpha * np.sqrt(heat)[..., None]
    return (grey * (1 - weight) + _heat_colours(heat).astype(np.float32) * weight).clip(0, 255).astype(np.uint8)


def stored_rgb(stored: np.ndarray) -> np.ndarray:
    return np.repeat(stored, 3, axis=0).transpose(1, 2, 0) if stored.shape[0] == 1 else stored.transpose(1, 2, 0)
