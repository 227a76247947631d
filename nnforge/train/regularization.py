"""Explicit regularisation penalties that are not part of an optimizer.

L2 is the optimizer's ``weight_decay``; L1 lives here. Its (sub)gradient ``l1 * sign(w)`` is
added to the weights' gradients after backward — the same update as adding
``l1 * sum(|w|)`` to the loss, without a second pass over the parameters in the forward.
Only weight matrices and kernels are penalised (parameters with 2+ dimensions): biases and
normalisation scales are left alone, as is usual.
"""

from __future__ import annotations

import torch
from torch import nn

from nnforge.train.callbacks import Callback


def penalised(model: nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.dim() > 1]


def l1_norm(model: nn.Module) -> float:
    """Sum of absolute weights (the quantity the L1 penalty pushes down)."""
    with torch.no_grad():
        return float(sum(p.abs().sum() for p in penalised(model)))


class L1Penalty(Callback):
    def __init__(self, strength: float):
        self.strength = strength

    def on_after_backward(self, trainer):
        trainer.engine.add_l1_grad(self.strength)
