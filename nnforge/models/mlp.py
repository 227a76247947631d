"""The multilayer perceptron: the seed's MNISTNet (784-512-256-10) by default."""

from __future__ import annotations

import math

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "leaky_relu": nn.LeakyReLU}


class MLP(nn.Module):
    """Flatten, then Linear -> [BatchNorm] -> activation -> [Dropout] per hidden layer, then a Linear head.

    Parameter names (``layers.0.weight`` ...) are shared with ``nnforge.scratch``'s MLP so weights
    move between the two engines.
    """

    def __init__(self, input_shape, num_classes: int, hidden=(512, 256), activation: str = "relu",
                 dropout: float = 0.0, batch_norm: bool = False):
        super().__init__()
        in_features = math.prod(input_shape)
        layers: list[nn.Module] = []
        for width in hidden:
            layers.append(nn.Linear(in_features, width))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(ACTIVATIONS[activation]())
            if dropout:
                layers.append(nn.Dropout(dropout))
            in_features = width
        layers.append(nn.Linear(in_features, num_classes))
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.flatten(x))
