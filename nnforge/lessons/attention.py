"""Next steps: self-attention and a tiny Transformer, reading handwritten digits row by row.

The seed's closing chapter points to the Transformer (2017) and the Vision Transformer (2020).
Their core is one formula, scaled dot-product attention:

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d)) V

every token (here: one 8-pixel row of an 8x8 digit) asks a question (Q), every token offers a key
(K) and a value (V), and each token's output is the values averaged with weights saying how well
its question matches each key. The lesson writes the formula out, checks it against PyTorch's
fused kernel, then trains a one-layer Transformer encoder (attention, a small MLP, residual
connections and LayerNorm, a class token, learned positions) on scikit-learn's real digits and
draws where the class token looked.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ._common import one_torch_thread



def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T / sqrt(d)) V and the weights; q, k, v: (..., tokens, d)."""
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v, weights


class SelfAttention(nn.Module):
    """Multi-head self-attention written out: project to Q, K, V, split into heads, attend, merge."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.weights: torch.Tensor | None = None  # the last attention weights, for drawing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        mixed, self.weights = attention(q, k, v)
        return self.out(mixed.transpose(1, 2).reshape(n, t, d))


class TinyTransformer(nn.Module):
    """Rows of an image as tokens -> [class token, rows] + positions -> one encoder block -> class."""

    def __init__(self, row_size: int, rows: int, classes: int, dim: int = 32, heads: int = 4):
        super().__init__()
        self.embed = nn.Linear(row_size, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(0.02 * torch.randn(1, rows + 1, dim))
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = torch.cat([self.cls.expand(len(x), -1, -1), self.embed(x)], 1) + self.pos
        tokens = tokens + self.attn(self.norm1(tokens))  # pre-norm residual blocks, as in ViT
        tokens = tokens + self.mlp(self.norm2(tokens))
        return self.head(self.norm3(tokens[:, 0]))


def digits_as_rows(seed: int = 0):
    """scikit-learn's 8x8 digits, scaled to 0-1, as (N, 8 rows, 8 pixels); 80/20 split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images / 16.0, dtype=torch.float32)
    y = torch.tensor(d.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    cut = int(0.8 * len(x))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def train(epochs: int = 30, seed: int = 0) -> tuple[TinyTransformer, list[float], float]:
    """Train on one torch thread (``_common.one_torch_thread``: tiny models run faster so); see ``_train``."""
    with one_torch_thread():
        return _train(epochs, seed)


def _train(epochs: int = 30, seed: int = 0) -> tuple[TinyTransformer, list[float], float]:
    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = digits_as_rows(seed)
    model = TinyTransformer(8, 8, 10)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    accuracies = []
    for epoch in range(epochs):
        model.train()
        for idx in torch.randperm(len(x_train)).split(64):
            loss = nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            accuracies.append(float((model(x_test).argmax(1) == y_test).float().mean()))
    return model, accuracies, accuracies[-1]
