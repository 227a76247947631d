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


def build_augmentation(cfg: dict) -> Compose:
    """The augmentation pipeline described by a recipe's ``data.augment`` section."""
    transforms: list[Transform] = []
    affine_keys = ("rotate", "shift", "scale", "shear", "hflip")
    if any(cfg.get(k) for k in affine_keys):
        transforms.append(RandomAffine(**{k: cfg.get(k, 0) for k in affine_keys}))
    return Compose(transforms)
