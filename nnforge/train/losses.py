"""Loss functions by name: cross-entropy (with label smoothing) for classes, MSE on one-hot targets."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def build_loss(cfg: dict, num_classes: int) -> LossFn:
    name = cfg["name"]
    if name == "cross_entropy":
        smoothing = cfg["label_smoothing"]
        return lambda logits, y: F.cross_entropy(logits, y, label_smoothing=smoothing)
    if name == "mse":
        # The seed's regression loss applied to classification: probabilities against one-hot targets.
        return lambda logits, y: F.mse_loss(torch.softmax(logits, 1), F.one_hot(y, num_classes).to(logits.dtype))
    raise ValueError(f"unknown loss {name}")
