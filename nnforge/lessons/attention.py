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
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ._common import figure, heading, save


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T / sqrt(d)) V and the weights; q, k, v: (..., tokens, d)."""
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v, weights


def _scratch_vs_torch() -> float:
    """Largest output difference between scratch's and torch's multi-head attention, same weights."""
    from nnforge import scratch

    torch.manual_seed(0)
    torch_layer = nn.MultiheadAttention(8, 2, batch_first=True).double()
    scratch_layer = scratch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    scratch_layer.load_state_dict(torch_layer.state_dict())
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    with torch.no_grad():
        expected = torch_layer(x, x, x)[0].numpy()
    sx = scratch.tensor(x.numpy(), dtype=scratch.float64)
    return float(np.abs(scratch_layer(sx, sx, sx)[0].data - expected).max())


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


def run(out_dir: Path) -> None:
    heading("Scaled dot-product attention, written out")
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 4, 8).unbind(0)
    mine, weights = attention(q, k, v)
    fused = nn.functional.scaled_dot_product_attention(q, k, v)
    print("weights (each row sums to 1):")
    for row in weights[0]:
        print("   " + "  ".join(f"{w:.3f}" for w in row.tolist()) + f"   sum {float(row.sum()):.3f}")
    print(f"largest difference from torch's fused kernel: {float((mine - fused).abs().max()):.2e}")
    print(f"the same layer from first principles, NumPy only (nnforge.scratch.nn.MultiheadAttention), "
          f"differs from torch.nn.MultiheadAttention by {_scratch_vs_torch():.1e}")

    heading("A one-layer Transformer reads 8x8 digits row by row")
    model, accuracies, final = train()
    for epoch in range(4, len(accuracies), 5):
        print(f"epoch {epoch + 1:3d}: test accuracy {accuracies[epoch]:.1%}")
    params = sum(p.numel() for p in model.parameters())
    print(f"{params} parameters, test accuracy {final:.1%} (each row is one token; the class token reads them all)")

    _, _, x_test, y_test = digits_as_rows()
    with torch.no_grad():
        predicted = model(x_test[:6]).argmax(1)
    weights = model.attn.weights[:, :, 0, 1:].mean(1)  # class token -> rows, averaged over heads
    fig, axes = figure(2, 6, size=(13, 4.6))
    for i in range(6):
        axes[0, i].imshow(x_test[i].numpy(), cmap="gray_r")
        axes[0, i].set_title(f"true {int(y_test[i])}, pred {int(predicted[i])}", fontsize=9)
        axes[1, i].barh(np.arange(8), weights[i].numpy(), color="#c0392b")
        axes[1, i].invert_yaxis()
        axes[1, i].set_xlabel("attention", fontsize=8)
        for ax in (axes[0, i], axes[1, i]):
            ax.set_yticks([])
        axes[0, i].set_xticks([])
    axes[1, 0].set_ylabel("row 0 (top) ... row 7")
    fig.suptitle("Where the class token looked: attention over the 8 rows of each digit")
    save(fig, out_dir, "attention.png")
