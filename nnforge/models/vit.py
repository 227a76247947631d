"""A small Vision Transformer (Dosovitskiy et al., 2020): an image read as a sequence of patches.

The image is cut into ``patch`` x ``patch`` squares; each becomes a token (one linear map of its
pixels, done as a strided convolution), a learned class token is put in front, learned position
embeddings are added, and ``depth`` pre-norm encoder blocks (multi-head self-attention, then a
small MLP, each around a residual connection) mix the tokens. The class token's final state is
the classification. The attention is written out (softmax(QK^T / sqrt(d)) V, as in
``nnforge lesson attention``) so the model exports to ONNX like the rest of the zoo.

Transformers have no built-in notion of nearby pixels, so on small datasets they trail a CNN of
the same size; augmentation (``data.augment``) and more epochs close part of the gap.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nnforge.errors import ConfigError


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // self.heads), dim=-1)
        mixed = (self.drop(weights) @ v).transpose(1, 2).reshape(n, t, d)
        return self.proj(mixed)


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self, input_shape, num_classes: int, patch: int = 4, dim: int = 64, depth: int = 4, heads: int = 4,
                 mlp_ratio: int = 2, dropout: float = 0.0):
        super().__init__()
        channels, height, width = input_shape
        if patch < 1 or height % patch or width % patch:
            raise ConfigError(f"'model.patch' is {patch}; accepted: a size that divides the {height}x{width} images, "
                              f"e.g. {next(p for p in (4, 2, 1) if height % p == 0 and width % p == 0)}")
        if dim % heads:
            raise ConfigError(f"'model.dim' {dim} is not divisible by 'model.heads' {heads}; accepted: a multiple of heads")
        tokens = (height // patch) * (width // patch)
        self.patchify = nn.Conv2d(channels, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, dim).mul_(0.02))  # = 0.02 * randn; in place, no torch._dynamo import when built on the meta device
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, mlp_ratio, dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patchify(x).flatten(2).transpose(1, 2)  # (N, patches, dim)
        tokens = torch.cat([self.cls.expand(x.shape[0], -1, -1), tokens], 1) + self.pos  # x.shape[0]: a dynamic batch in ONNX
        return self.head(self.norm(self.blocks(tokens)[:, 0]))
