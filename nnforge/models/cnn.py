"""Convolutional networks from the seeds: SimpleCNN (MNIST) and CIFAR10Net (the CIFAR-10 project)."""

from __future__ import annotations

import torch
from torch import nn


def _flat_size(channels, input_shape) -> int:
    """Size of the features after the conv blocks: a padded 3x3 conv keeps height and width, each
    2x2 max-pool halves them (rounding down). Counted, not found by a forward pass: on the meta
    device (the shape check of a loaded model, nnforge/predictor.py) such a pass runs torch's Python
    decompositions, which import torch._dynamo (about 1 s of every predict, eval and serve)."""
    height, width = input_shape[1] >> len(channels), input_shape[2] >> len(channels)
    if not (height and width):
        from nnforge.errors import ConfigError

        raise ConfigError(f"'model.channels' has {len(channels)} blocks, each halving the input; a {input_shape[1]}x{input_shape[2]} "
                          f"input allows at most {min(input_shape[1:]).bit_length() - 1}")
    return channels[-1] * height * width


def check_norm_after_pool(blocks_after: int, batch_norm: bool, blocks: int) -> None:
    """``model.norm_after_pool`` names blocks that exist and a BatchNorm that is on."""
    from nnforge.errors import ConfigError

    if blocks_after and not batch_norm:
        raise ConfigError("'model.norm_after_pool' moves BatchNorm, which is off; set model.batch_norm=true with it, or leave it 0")
    if blocks_after > blocks:
        raise ConfigError(f"'model.norm_after_pool' is {blocks_after}, but the network has {blocks} conv blocks "
                          f"(model.channels); accepted: 0 to {blocks}")


class SimpleCNN(nn.Module):
    """Conv blocks (Conv3x3 -> [BatchNorm] -> MaxPool2 -> ReLU) then Linear -> ReLU -> [Dropout] -> Linear.

    The defaults are the seed's SimpleCNN (32 and 64 channels, a 128-unit hidden layer); with
    ``batch_norm=True`` and fewer channels it is the fast quickstart network.

    The seed writes each block Conv -> BN -> ReLU -> MaxPool. Max-pooling commutes with ReLU (both
    keep order), so pooling first is the same function with the same gradients, and the ReLU and its
    backward touch a quarter of the values.

    ``norm_after_pool=N`` moves BatchNorm after the pool in the first N blocks (Conv -> MaxPool ->
    BN -> ReLU): a different network, whose statistics are of the pooled values. The first block, at
    full resolution, is the costly one: on a 2-core CPU the quickstart's step (channels 16 and 32,
    batch 64) took a median of 8.2 ms with ``norm_after_pool=1`` against 13.0 ms without, alternated in
    one process; over seeds 0-5 the quickstart recipe reached the same test accuracy either way.
    """

    def __init__(self, input_shape, num_classes: int, channels=(32, 64), hidden: int = 128,
                 batch_norm: bool = False, dropout: float = 0.0, norm_after_pool: int = 0):
        super().__init__()
        check_norm_after_pool(norm_after_pool, batch_norm, len(channels))
        in_ch = input_shape[0]
        blocks: list[nn.Module] = []
        for i, out_ch in enumerate(channels):
            norm = [nn.BatchNorm2d(out_ch)] if batch_norm else []
            conv, pool = nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=not batch_norm), nn.MaxPool2d(2)
            blocks += [conv, pool, *norm, nn.ReLU()] if i < norm_after_pool else [conv, *norm, pool, nn.ReLU()]
            in_ch = out_ch
        self.features = nn.Sequential(*blocks)
        head: list[nn.Module] = [nn.Flatten(), nn.Linear(_flat_size(channels, input_shape), hidden), nn.ReLU()]
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(hidden, num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class CIFAR10Net(nn.Module):
    """The seed's CIFAR-10 network: four 3x3 convs with BatchNorm, three poolings, dropout, two Linears."""

    def __init__(self, input_shape, num_classes: int, dropout: float = 0.3, hidden: int = 256, batch_norm: bool = True):
        super().__init__()
        c = input_shape[0]
        bn = nn.BatchNorm2d if batch_norm else (lambda ch: nn.Identity())  # batch_norm=False: the no-BN ablation
        self.conv1, self.bn1 = nn.Conv2d(c, 32, 3, padding=1), bn(32)
        self.conv2, self.bn2 = nn.Conv2d(32, 64, 3, padding=1), bn(64)
        self.conv3, self.bn3 = nn.Conv2d(64, 128, 3, padding=1), bn(128)
        self.conv4, self.bn4 = nn.Conv2d(128, 128, 3, padding=1), bn(128)
        self.pool = nn.MaxPool2d(2, 2)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.relu = nn.ReLU()
        flat = 128 * (input_shape[1] // 8) * (input_shape[2] // 8)
        self.fc1 = nn.Linear(flat, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        x = self.pool(self.relu(self.bn2(self.conv2(x))))
        x = self.dropout(x)
        x = self.relu(self.bn3(self.conv3(x)))
        x = self.pool(self.relu(self.bn4(self.conv4(x))))
        x = self.dropout(x)
        return self.fc2(self.relu(self.fc1(torch.flatten(x, 1))))
