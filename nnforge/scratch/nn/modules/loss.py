"""Loss layers: configuration held in the module, the maths in :mod:`...ops.loss`."""
from __future__ import annotations

from typing import Any

from ...ops import loss as L
from ...tensor import Tensor
from .module import Module


class MSELoss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(Module):
    def __init__(self, weight: Any = None, reduction: str = "mean", label_smoothing: float = 0.0,
                 ignore_index: int = -100):
        super().__init__()
        self.weight, self.reduction, self.label_smoothing = weight, reduction, label_smoothing
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.cross_entropy(input, target, self.weight, self.reduction, self.label_smoothing, self.ignore_index)


class BCELoss(Module):
    def __init__(self, weight: Any = None, reduction: str = "mean"):
        super().__init__()
        self.weight, self.reduction = weight, reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(BCELoss):
    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction)


class FocalLoss(Module):
    def __init__(self, gamma: float = 2.0, alpha: Any = None, reduction: str = "mean"):
        super().__init__()
        self.gamma, self.alpha, self.reduction = gamma, alpha, reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.focal_loss(input, target, self.gamma, self.alpha, self.reduction)
