"""A convolutional network built from a description: the search space of architecture search.

``channels`` gives one stage per entry (its length is the depth, its values the widths); each
stage is a ``block`` — ``plain`` (conv -> norm -> activation) or ``residual`` (two such convs
whose sum with the input, projected by a 1x1 conv when the width changes, goes through the
activation, as in He et al. 2016) — followed by 2x2 max pooling while the image is larger than
2 pixels. ``kernel`` is every conv's size, ``norm`` none / batch / group (GroupNorm with
groups of 4 channels at most), ``activation`` one of the MLP's. Global average pooling and a
Linear layer give the classes, so the head's size does not depend on the depth.
"""

from __future__ import annotations

import torch
from torch import nn

from nnforge.models.mlp import ACTIVATIONS

NORMS = ("none", "batch", "group")
BLOCKS = ("plain", "residual")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(max(1, channels // 4), channels)
    return nn.Identity()


def _conv(in_ch: int, out_ch: int, kernel: int, norm: str) -> list[nn.Module]:
    return [nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, bias=norm == "none"), _norm(norm, out_ch)]


class Stage(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, block: str, norm: str, activation: str):
        super().__init__()
        self.residual = block == "residual"
        self.body = nn.Sequential(*_conv(in_ch, out_ch, kernel, norm),
                                  *([ACTIVATIONS[activation](), *_conv(out_ch, out_ch, kernel, norm)] if self.residual else []))
        self.skip = (nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1, bias=False)) if self.residual else None
        self.act = ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return self.act(y + self.skip(x) if self.residual else y)


class ConvNet(nn.Module):
    def __init__(self, input_shape, num_classes: int, channels=(16, 32), kernel: int = 3, block: str = "plain",
                 norm: str = "batch", activation: str = "relu"):
        super().__init__()
        from nnforge.errors import ConfigError, shown

        for name, value, options in (("block", block, BLOCKS), ("norm", norm, NORMS), ("activation", activation, tuple(ACTIVATIONS))):
            if value not in options:
                raise ConfigError(f"'model.{name}' is {shown(value)}; accepted: {', '.join(options)}")
        if not (isinstance(kernel, int) and kernel % 2 == 1 and kernel > 0):
            raise ConfigError(f"'model.kernel' is {shown(kernel)}; accepted: an odd positive integer (3, 5, 7)")
        if not channels or not all(isinstance(c, int) and c > 0 for c in channels):
            raise ConfigError(f"'model.channels' is {shown(channels)}; accepted: a non-empty list of positive integers")
        layers: list[nn.Module] = []
        in_ch, size = input_shape[0], min(input_shape[1:])
        for out_ch in channels:
            layers.append(Stage(in_ch, out_ch, kernel, block, norm, activation))
            if size > 2:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(in_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1))
