"""Residual networks: stacks of basic blocks whose skip connections keep gradients flowing.

``blocks`` gives the number of blocks per stage and ``width`` the channels of the first stage
(doubled at each later stage, with stride 2). ``blocks=[2, 2, 2, 2], width=64`` is the ResNet-18
layout (registered as ``resnet18``); the small default suits CPUs. The stem is a 3x3 convolution
without max-pooling, which fits small images like MNIST and CIFAR.

``inner`` (one number per block, in order) narrows each block's middle: the channels between its
two convolutions. The skip connection fixes every block's input and output width, but not that
middle, so channel pruning (``nnforge compress --method channels``) removes channels there.
"""

from __future__ import annotations

import torch
from torch import nn

from nnforge.errors import ConfigError


class BasicBlock(nn.Module):
    """Two 3x3 conv+BN layers plus the identity (or a 1x1 projection when the shape changes)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, batch_norm: bool = True, mid_ch: int | None = None):
        super().__init__()
        bn = nn.BatchNorm2d if batch_norm else (lambda ch: nn.Identity())
        mid_ch = mid_ch or out_ch
        self.conv1 = nn.Conv2d(in_ch, mid_ch, 3, stride=stride, padding=1, bias=not batch_norm)
        self.bn1 = bn(mid_ch)
        self.conv2 = nn.Conv2d(mid_ch, out_ch, 3, padding=1, bias=not batch_norm)
        self.bn2 = bn(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=not batch_norm), bn(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, input_shape, num_classes: int, blocks=(1, 1, 1), width: int = 16, dropout: float = 0.0,
                 batch_norm: bool = True, inner=None):
        super().__init__()
        if inner is not None and (len(inner) != sum(blocks) or not all(isinstance(c, int) and c >= 1 for c in inner)):
            raise ConfigError(f"'model.inner' is {list(inner)}; accepted: {sum(blocks)} positive integers, one per block")
        mids = iter(inner or [None] * sum(blocks))
        bn = nn.BatchNorm2d(width) if batch_norm else nn.Identity()
        self.stem = nn.Sequential(nn.Conv2d(input_shape[0], width, 3, padding=1, bias=not batch_norm), bn, nn.ReLU(inplace=True))
        stages, in_ch = [], width
        for i, n in enumerate(blocks):
            out_ch = width * 2**i
            stage = []
            for j in range(n):
                stage.append(BasicBlock(in_ch if j == 0 else out_ch, out_ch, stride=2 if i > 0 and j == 0 else 1,
                                        batch_norm=batch_norm, mid_ch=next(mids)))
            stages.append(nn.Sequential(*stage))
            in_ch = out_ch
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc = nn.Linear(in_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.stages(self.stem(x)))
        return self.fc(self.dropout(torch.flatten(x, 1)))
