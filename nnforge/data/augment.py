"""Batched data augmentation: one random transform per image, one tensor operation per batch.

Each transform takes a float batch (N, C, H, W) with pixel values in [0, 255] and a
``torch.Generator`` (so seeded runs repeat), and returns a batch of the same shape.
Augmentation is applied to training batches only; evaluation never sees it.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _uniform(n: int, bound: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, generator=generator) * 2 - 1) * bound


class RandomAffine:
    """Rotation, shift, zoom, shear and horizontal flip, composed into one affine warp.

    All parameters are maxima: ``rotate`` and ``shear`` in degrees, ``shift`` and ``scale`` as
    fractions of the image size. The warp is a single ``grid_sample`` call for the whole batch.
    """

    def __init__(self, rotate=0.0, shift=0.0, scale=0.0, shear=0.0, hflip=False):
        self.rotate, self.shift, self.scale, self.shear, self.hflip = rotate, shift, scale, shear, hflip

    def matrices(self, n: int, generator: torch.Generator) -> torch.Tensor:
        angle = _uniform(n, math.radians(self.rotate), generator)
        shear = _uniform(n, math.radians(self.shear), generator)
        zoom = 1 + _uniform(n, self.scale, generator)
        tx, ty = _uniform(n, 2 * self.shift, generator), _uniform(n, 2 * self.shift, generator)
        flip = torch.ones(n)
        if self.hflip:
            flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
        cos, sin = torch.cos(angle), torch.sin(angle)
        # output->input sampling grid: rotation @ shear, divided by zoom, flip on x.
        a = cos / zoom * flip
        b = (-sin + cos * torch.tan(shear)) / zoom
        c = sin / zoom * flip
        d = (cos + sin * torch.tan(shear)) / zoom
        theta = torch.stack([torch.stack([a, b, tx], 1), torch.stack([c, d, ty], 1)], 1)
        return theta

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        theta = self.matrices(len(x), generator).to(device=x.device, dtype=x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class RandomCrop:
    """Pad by ``padding`` pixels (zeros), then crop a random window of the original size.

    One ``gather`` per batch: each image gets its own offset in ``[0, 2 * padding]``.
    """

    def __init__(self, padding: int):
        self.padding = int(padding)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        p = self.padding
        n, c, h, w = x.shape
        padded = F.pad(x, (p, p, p, p))
        dy = torch.randint(0, 2 * p + 1, (n,), generator=generator).to(x.device)
        dx = torch.randint(0, 2 * p + 1, (n,), generator=generator).to(x.device)
        rows = (dy[:, None] + torch.arange(h, device=x.device)[None])  # (n, h)
        cols = (dx[:, None] + torch.arange(w, device=x.device)[None])  # (n, w)
        idx_r = rows[:, None, :, None].expand(n, c, h, w + 2 * p)
        out = padded.gather(2, idx_r)
        idx_c = cols[:, None, None, :].expand(n, c, h, w)
        return out.gather(3, idx_c)


class GaussianNoise:
    """Add zero-mean Gaussian noise with std ``std`` (a fraction of the 0-255 range), clamped to it."""

    def __init__(self, std: float):
        self.std = float(std)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        noise = torch.randn(x.shape, generator=generator).to(x.device, x.dtype) * (255.0 * self.std)
        return (x + noise).clamp_(0, 255)


class Cutout:
    """Erase one random square per image (DeVries & Taylor, 2017); ``size`` is a fraction of the side.

    The square's centre may lie anywhere, so it is sometimes partly outside the image.
    """

    def __init__(self, size: float):
        self.size = float(size)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n, _, h, w = x.shape
        sh, sw = max(1, round(h * self.size)), max(1, round(w * self.size))
        cy = torch.randint(0, h, (n,), generator=generator).to(x.device)
        cx = torch.randint(0, w, (n,), generator=generator).to(x.device)
        ys = torch.arange(h, device=x.device)[None, :]
        xs = torch.arange(w, device=x.device)[None, :]
        in_y = ((ys - cy[:, None]).abs() <= sh // 2)  # (n, h)
        in_x = ((xs - cx[:, None]).abs() <= sw // 2)  # (n, w)
        mask = (in_y[:, :, None] & in_x[:, None, :])[:, None]  # (n, 1, h, w)
        return x.masked_fill(mask, 0.0)


class Compose:
    """Apply transforms in order; an empty list is the identity."""

    def __init__(self, transforms: Sequence[Transform]):
        self.transforms = list(transforms)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for t in self.transforms:
            x = t(x, generator)
        return x

    def __bool__(self) -> bool:
        return bool(self.transforms)


class AugmentThenPreprocess:
    """The training transform: augment the stored batch, then preprocess it like any other.

    The last ``clean_epochs`` epochs see the images as evaluation will (``data.augment.clean_epochs``):
    the interpolation in a warp blurs strokes slightly, and BatchNorm statistics gathered on
    warped images drift from clean ones. Both training loops call :meth:`start_epoch`.
    """

    def __init__(self, augment: Compose, preprocess, generator: torch.Generator, clean_epochs: int = 0):
        self.augment, self.preprocess, self.generator = augment, preprocess, generator
        self.clean_epochs = clean_epochs
        self.active = True

    def start_epoch(self, epoch: int, epochs: int) -> None:
        self.active = epoch < epochs - self.clean_epochs

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return self.preprocess(x)
        return self.preprocess(self.augment(x.float(), self.generator))


def build_augmentation(cfg) -> Compose:
    """The augmentation pipeline described by a recipe's ``data.augment`` section (typed, or a mapping).

    Order: affine warp (rotate, shift, zoom, shear, flip), crop with padding, the automatic policy
    (RandAugment, TrivialAugment: :mod:`nnforge.data.autoaugment`), cutout, noise.
    """
    from nnforge.config import section
    from nnforge.data.autoaugment import build_policy

    cfg = section("data.augment", cfg)
    transforms: list[Transform] = []
    affine_keys = ("rotate", "shift", "scale", "shear", "hflip")
    if any(getattr(cfg, k) for k in affine_keys):
        transforms.append(RandomAffine(**{k: getattr(cfg, k) for k in affine_keys}))
    if cfg.crop_padding:
        transforms.append(RandomCrop(cfg.crop_padding))
    policy = build_policy(cfg)
    if policy is not None:
        transforms.append(policy)
    if cfg.cutout:
        transforms.append(Cutout(cfg.cutout))
    if cfg.noise:
        transforms.append(GaussianNoise(cfg.noise))
    return Compose(transforms)
