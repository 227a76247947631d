"""Loss functions by name: cross-entropy (with label smoothing) for classes, MSE on one-hot targets."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def build_loss(cfg: dict, num_classes: int, targets: torch.Tensor | None = None) -> LossFn:
    """The loss ``train.loss`` names; ``targets`` (the training labels) resolve ``class_weight: balanced``."""
    from nnforge.train.imbalance import class_weights, focal_loss

    name = cfg["name"]
    spec = cfg.get("class_weight")
    if spec is not None and targets is None:
        raise ValueError("class_weight needs the training targets")
    weight = class_weights(spec, targets, num_classes) if spec is not None else None
    if name == "cross_entropy":
        smoothing = cfg["label_smoothing"]
        if weight is not None:
            return lambda logits, y: F.cross_entropy(logits, y, weight=weight.to(logits.device, logits.dtype), label_smoothing=smoothing)
        return lambda logits, y: F.cross_entropy(logits, y, label_smoothing=smoothing)
    if name == "focal":
        gamma = cfg.get("focal_gamma", 2.0)
        return lambda logits, y: focal_loss(logits, y, gamma, weight)
    if name == "mse":
        # The seed's regression loss applied to classification: probabilities against one-hot targets.
        return lambda logits, y: F.mse_loss(torch.softmax(logits, 1), F.one_hot(y, num_classes).to(logits.dtype))
    raise ValueError(f"unknown loss {name}")
