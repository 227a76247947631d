"""The zoo's MLP, SimpleCNN and Vision Transformer rebuilt from scratch layers, with identical state-dict keys.

``nnforge.models.mlp.MLP``, ``nnforge.models.cnn.SimpleCNN`` and ``nnforge.models.vit.VisionTransformer``
(PyTorch) and the classes here name every parameter the same way (``layers.0.weight``,
``features.0.bias``, ``blocks.0.attn.qkv.weight``, ...) with the same shapes, so weights move
between the engines with ``load_state_dict`` in either direction.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .autograd import no_grad
from .nn import init
from .nn import modules as M
from .nn.parameter import Parameter
from .ops.attention import attention_weights
from .tensor import Tensor, cat

ACTIVATIONS = {"relu": M.ReLU, "tanh": M.Tanh, "sigmoid": M.Sigmoid, "gelu": M.GELU, "leaky_relu": M.LeakyReLU}


class MLP(M.Module):
    """Flatten, then per hidden layer Linear -> [BatchNorm1d] -> activation -> [Dropout]; a Linear head."""

    def __init__(self, in_features: int, num_classes: int, hidden: Sequence[int] = (512, 256),
                 activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False):
        super().__init__()
        layers: list[M.Module] = []
        for width in hidden:
            layers.append(M.Linear(in_features, width))
            if batch_norm:
                layers.append(M.BatchNorm1d(width))
            layers.append(ACTIVATIONS[activation]())
            if dropout:
                layers.append(M.Dropout(dropout))
            in_features = width
        layers.append(M.Linear(in_features, num_classes))
        self.flatten = M.Flatten()
        self.layers = M.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(self.flatten(x))


class SimpleCNN(M.Module):
    """The seed's SimpleCNN: (Conv3x3 -> [BatchNorm2d] -> MaxPool2 -> ReLU) per entry of
    ``channels`` (ReLU after the pool, as the torch model: the same function on a quarter of the
    values, since max commutes with ReLU; the first ``norm_after_pool`` blocks pool before their
    BatchNorm too), then Flatten -> Linear(hidden) -> ReLU -> [Dropout] -> Linear."""

    def __init__(self, in_channels: int, num_classes: int, channels: Sequence[int] = (32, 64), hidden: int = 128,
                 batch_norm: bool = False, dropout: float = 0.0, image_size: tuple[int, int] = (28, 28),
                 norm_after_pool: int = 0):
        super().__init__()
        blocks: list[M.Module] = []
        c = in_channels
        for i, out_ch in enumerate(channels):
            norm = [M.BatchNorm2d(out_ch)] if batch_norm else []
            conv, pool = M.Conv2d(c, out_ch, 3, padding=1, bias=not batch_norm), M.MaxPool2d(2)
            blocks += [conv, pool, *norm, M.ReLU()] if i < norm_after_pool else [conv, *norm, pool, M.ReLU()]
            c = out_ch
        self.features = M.Sequential(*blocks)
        with no_grad():
            flat = self.features.eval()(Tensor._wrap(np.zeros((1, in_channels, *image_size), np.float32))).numel()
        self.features.train()
        head: list[M.Module] = [M.Flatten(), M.Linear(flat, hidden), M.ReLU()]
        if dropout:
            head.append(M.Dropout(dropout))
        head.append(M.Linear(hidden, num_classes))
        self.classifier = M.Sequential(*head)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class Attention(M.Module):
    """Multi-head self-attention as the zoo's ViT writes it: one ``qkv`` projection, heads, ``proj``."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.qkv = M.Linear(dim, 3 * dim)
        self.proj = M.Linear(dim, dim)
        self.drop = M.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        n, t, d = x.shape
        q, k, v = (self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)[i] for i in range(3))
        mixed = (self.drop(attention_weights(q, k)) @ v).transpose(1, 2).reshape(n, t, d)
        return self.proj(mixed)


class EncoderBlock(M.Module):
    """Pre-norm Transformer block: x + attention(norm(x)), then x + MLP(norm(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = M.LayerNorm(dim), M.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.mlp = M.Sequential(M.Linear(dim, mlp_ratio * dim), M.GELU(), M.Dropout(dropout), M.Linear(mlp_ratio * dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(M.Module):
    """Patches (a strided convolution) as tokens, a class token, learnt positions, encoder blocks."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, patch: int = 4, dim: int = 64, depth: int = 4,
                 heads: int = 4, mlp_ratio: int = 2, dropout: float = 0.0):
        super().__init__()
        channels, height, width = input_shape
        tokens = (height // patch) * (width // patch)
        self.patchify = M.Conv2d(channels, dim, patch, stride=patch)
        self.cls = Parameter(np.zeros((1, 1, dim), np.float32))
        self.pos = Parameter(np.empty((1, tokens + 1, dim), np.float32))
        init.normal_(self.pos, 0.0, 0.02)
        self.blocks = M.Sequential(*[EncoderBlock(dim, heads, mlp_ratio, dropout) for _ in range(depth)])
        self.norm = M.LayerNorm(dim)
        self.head = M.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.patchify(x).flatten(2).transpose(1, 2)
        tokens = cat([self.cls.expand(x.shape[0], -1, -1), tokens], 1) + self.pos
        return self.head(self.norm(self.blocks(tokens)[:, 0]))


def build_mlp(in_features: int | Sequence[int], num_classes: int, hidden: Sequence[int] = (512, 256),
              activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False) -> MLP:
    """The scratch twin of the zoo's ``mlp``; ``in_features`` may be an input shape like (1, 28, 28)."""
    n = in_features if isinstance(in_features, int) else math.prod(in_features)
    return MLP(n, num_classes, tuple(hidden), activation, dropout, batch_norm)


def build_cnn(in_channels: int | Sequence[int], num_classes: int, channels: Sequence[int] = (32, 64),
              hidden: int = 128, batch_norm: bool = False, dropout: float = 0.0,
              image_size: tuple[int, int] = (28, 28), norm_after_pool: int = 0) -> SimpleCNN:
    """The scratch twin of the zoo's ``cnn``; ``in_channels`` may be an input shape (C, H, W)."""
    if not isinstance(in_channels, int):
        in_channels, image_size = in_channels[0], (in_channels[1], in_channels[2])
    return SimpleCNN(in_channels, num_classes, tuple(channels), hidden, batch_norm, dropout, tuple(image_size), norm_after_pool)


def build_vit(input_shape: Sequence[int], num_classes: int, patch: int = 4, dim: int = 64, depth: int = 4, heads: int = 4,
              mlp_ratio: int = 2, dropout: float = 0.0) -> VisionTransformer:
    """The scratch twin of the zoo's ``vit`` (the zoo checks the settings when it builds its own)."""
    return VisionTransformer(tuple(input_shape), num_classes, patch, dim, depth, heads, mlp_ratio, dropout)


BUILDERS = {"mlp": build_mlp, "cnn": build_cnn, "vit": build_vit}


def build_from_config(model_cfg: dict, input_shape: Sequence[int], num_classes: int) -> M.Module:
    """Build the scratch model a recipe's resolved ``model`` section describes (``mlp``, ``cnn`` or ``vit``)."""
    cfg = dict(model_cfg)
    name = cfg.pop("name")
    if name not in BUILDERS:
        raise ValueError(f"engine 'scratch' trains the models {sorted(BUILDERS)}, not {name!r}")
    return BUILDERS[name](tuple(input_shape), num_classes, **cfg)
