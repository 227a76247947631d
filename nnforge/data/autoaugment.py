"""Automatic augmentation policies as batched tensor operations: RandAugment and TrivialAugment.

RandAugment (Cubuk et al., 2020) applies ``num_ops`` ops drawn uniformly from a fixed list to each
image, all at one ``magnitude``; TrivialAugment (Müller & Hutter, 2021) applies one op per image at
a magnitude drawn uniformly per image, over wider ranges ("TrivialAugmentWide"). The op list and the
magnitude ranges follow torchvision's ``RandAugment`` / ``TrivialAugmentWide`` (31 magnitude bins,
0-30), which cannot be imported beside nnforge's torch; here each op works on a whole group of
images at once — geometric ops as one ``affine_grid``/``grid_sample`` warp, colour ops as tensor
arithmetic, equalisation as one batched histogram — with per-image magnitudes and signs.

Images are float (N, C, H, W) in [0, 255], as in :mod:`nnforge.data.augment`; one channel or three.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

BINS = 31  # magnitudes 0..30, as torchvision

Op = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (images, per-image signed strength) -> images


def _warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _affine(a, b, c, d, tx, ty) -> torch.Tensor:
    return torch.stack([torch.stack([a, b, tx], 1), torch.stack([c, d, ty], 1)], 1)


def shear_x(x, m):
    one, zero = torch.ones_like(m), torch.zeros_like(m)
    return _warp(x, _affine(one, m, zero, one, zero, zero))


def shear_y(x, m):
    one, zero = torch.ones_like(m), torch.zeros_like(m)
    return _warp(x, _affine(one, zero, m, one, zero, zero))


def translate_x(x, m):  # m: a fraction of the width; the grid spans 2
    one, zero = torch.ones_like(m), torch.zeros_like(m)
    return _warp(x, _affine(one, zero, zero, one, -2 * m, zero))


def translate_y(x, m):
    one, zero = torch.ones_like(m), torch.zeros_like(m)
    return _warp(x, _affine(one, zero, zero, one, zero, -2 * m))


def rotate(x, m):  # m in degrees
    r = torch.deg2rad(m)
    cos, sin, zero = torch.cos(r), torch.sin(r), torch.zeros_like(m)
    return _warp(x, _affine(cos, -sin, sin, cos, zero, zero))


def _blend(x, other, factor):
    """PIL's ImageEnhance: ``other + factor * (x - other)``, clamped to the pixel range."""
    return (other + factor.view(-1, 1, 1, 1) * (x - other)).clamp(0, 255)


def _gray(x):
    if x.shape[1] == 1:
        return x
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def brightness(x, m):
    return _blend(x, torch.zeros_like(x), 1 + m)


def color(x, m):  # saturation: towards the grey image (no-op on one channel)
    return _blend(x, _gray(x).expand_as(x), 1 + m)


def contrast(x, m):  # towards the grey image's mean
    return _blend(x, _gray(x).mean((1, 2, 3), keepdim=True).expand_as(x), 1 + m)


def sharpness(x, m):  # towards PIL's smoothed image (kernel 1 1 1 / 1 5 1 / 1 1 1, / 13), border pixels kept
    c = x.shape[1]
    kernel = torch.tensor([[1.0, 1, 1], [1, 5, 1], [1, 1, 1]], dtype=x.dtype) / 13
    smooth = F.conv2d(x, kernel.expand(c, 1, 3, 3).to(x.device), groups=c)
    blurred = x.clone()
    blurred[..., 1:-1, 1:-1] = smooth
    return _blend(x, blurred, 1 + m)


def posterize(x, m):  # m: bits kept (1..8)
    step = (2.0 ** (8 - m.round())).view(-1, 1, 1, 1)
    return torch.floor(x.clamp(0, 255) / step) * step


def solarize(x, m):  # m: threshold in 0..255; pixels at or above it are inverted
    return torch.where(x >= m.view(-1, 1, 1, 1), 255 - x, x)


def autocontrast(x, m):
    lo, hi = x.amin((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)
    scale = torch.where(hi > lo, 255 / (hi - lo).clamp_min(1e-6), torch.ones_like(hi))
    return torch.where(hi > lo, (x - lo) * scale, x).clamp(0, 255)


def equalize(x, m):
    """Histogram equalisation per image and channel (PIL's ImageOps.equalize), one batched histogram."""
    n, c, h, w = x.shape
    levels = x.clamp(0, 255).round().long().view(n * c, h * w)
    hist = torch.zeros(n * c, 256, dtype=torch.long, device=x.device).scatter_add_(1, levels, torch.ones_like(levels))
    last = hist.gather(1, (255 - (hist.flip(1) > 0).long().argmax(1, keepdim=True)))  # count of the highest level used
    step = (h * w - last) // 255
    cdf = hist.cumsum(1) - hist  # pixels below each level
    lut = ((cdf + step // 2) // step.clamp_min(1)).clamp(0, 255)
    out = lut.gather(1, levels).to(x.dtype)
    keep = (step == 0).expand(-1, h * w)  # a flat image stays as it is
    return torch.where(keep, levels.to(x.dtype), out).view(n, c, h, w)


def identity(x, m):
    return x


#: name -> (op, strength at magnitude 30 for RandAugment, for TrivialAugmentWide, signed)
OPS: dict[str, tuple[Op, float, float, bool]] = {
    "identity": (identity, 0.0, 0.0, False),
    "shear_x": (shear_x, 0.3, 0.99, True),
    "shear_y": (shear_y, 0.3, 0.99, True),
    "translate_x": (translate_x, 150 / 331, 32 / 224, True),
    "translate_y": (translate_y, 150 / 331, 32 / 224, True),
    "rotate": (rotate, 30.0, 135.0, True),
    "brightness": (brightness, 0.9, 0.99, True),
    "color": (color, 0.9, 0.99, True),
    "contrast": (contrast, 0.9, 0.99, True),
    "sharpness": (sharpness, 0.9, 0.99, True),
    "posterize": (posterize, 4.0, 6.0, False),  # bits removed
    "solarize": (solarize, 255.0, 255.0, False),  # threshold lowered from 255
    "autocontrast": (autocontrast, 0.0, 0.0, False),
    "equalize": (equalize, 0.0, 0.0, False),
}


def _strength(name: str, level: torch.Tensor, wide: bool) -> torch.Tensor:
    """The op's argument for magnitude bins ``level`` (0..30), as torchvision maps them."""
    _, top_ra, top_wide, _ = OPS[name]
    frac = level / (BINS - 1)
    if name == "posterize":
        return 8 - (frac * (top_wide if wide else top_ra)).round()
    if name == "solarize":
        return 255 * (1 - frac)
    return frac * (top_wide if wide else top_ra)


class _Policy:
    wide = False

    def _apply_one(self, x: torch.Tensor, level: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Each image gets one op drawn uniformly; the images of each op are transformed together."""
        names = list(OPS)
        pick = torch.randint(0, len(names), (len(x),), generator=generator)
        sign = torch.where(torch.rand(len(x), generator=generator) < 0.5, -1.0, 1.0)
        out = x.clone()
        for k, name in enumerate(names):
            rows = torch.nonzero(pick == k).flatten()
            if len(rows) == 0 or name == "identity":
                continue
            strength = _strength(name, level[rows], self.wide)
            if OPS[name][3]:
                strength = strength * sign[rows]
            out[rows.to(x.device)] = OPS[name][0](x[rows.to(x.device)], strength.to(x.device, x.dtype))
        return out


class RandAugment(_Policy):
    """``num_ops`` ops per image (drawn uniformly, with replacement), each at ``magnitude`` (0-30)."""

    def __init__(self, num_ops: int = 2, magnitude: int = 9):
        self.num_ops, self.magnitude = int(num_ops), int(magnitude)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        level = torch.full((len(x),), float(self.magnitude))
        for _ in range(self.num_ops):
            x = self._apply_one(x, level, generator)
        return x


class TrivialAugment(_Policy):
    """One op per image at a magnitude drawn uniformly from 0..``max_magnitude`` per image (wide ranges)."""

    wide = True

    def __init__(self, max_magnitude: int = BINS - 1):
        self.max_magnitude = int(max_magnitude)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        level = torch.randint(0, self.max_magnitude + 1, (len(x),), generator=generator).float()
        return self._apply_one(x, level, generator)


def build_policy(cfg):
    """The policy ``data.augment.policy`` names (``None`` for none), checking its companion keys."""
    from nnforge.errors import ConfigError

    if cfg.policy == "none":
        for key in ("magnitude", "num_ops"):
            if getattr(cfg, key) is not None:
                raise ConfigError(f"'data.augment.{key}' sets the strength of a policy; set data.augment.policy too")
        return None
    if cfg.policy == "trivialaugment":
        if cfg.num_ops is not None:
            raise ConfigError("'data.augment.num_ops' is RandAugment's; trivialaugment applies one op per image")
        return TrivialAugment() if cfg.magnitude is None else TrivialAugment(cfg.magnitude)
    return RandAugment(**{k: getattr(cfg, k) for k in ("num_ops", "magnitude") if getattr(cfg, k) is not None})


__all__ = ["OPS", "RandAugment", "TrivialAugment", "build_policy"]
