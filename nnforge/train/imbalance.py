"""Class imbalance in the loss: class weights and focal loss (re-sampling the training split,
``data.sampling``, is the data's job: :mod:`nnforge.data.sampling`).

* ``train.loss.class_weight: balanced`` (or a list) weights each class's loss by
  ``n_samples / (n_classes * n_class)``, scikit-learn's "balanced" rule;
* ``train.loss.name: focal`` is the focal loss of Lin et al. (2017), eq. 5:
  ``-(1 - p_t)^gamma * log(p_t)``, which lowers the loss of examples already classified well.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from nnforge.errors import ConfigError
from nnforge.io import is_number


def class_weights(spec, targets: torch.Tensor, num_classes: int) -> torch.Tensor | None:
    """The weight vector a ``class_weight`` setting means for these training targets."""
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec != "balanced":
            raise ConfigError(f"'train.loss.class_weight' is {spec!r}; accepted: balanced, a list of {num_classes} numbers, or null")
        counts = torch.bincount(targets.cpu(), minlength=num_classes).float()
        return torch.where(counts > 0, len(targets) / (num_classes * counts.clamp_min(1)), torch.zeros_like(counts))
    if len(spec) != num_classes:
        raise ConfigError(f"'train.loss.class_weight' has {len(spec)} entries; accepted: {num_classes} non-negative numbers (one per class)")
    for i, w in enumerate(spec):  # NaN and Inf too: either turns the first loss non-finite, after the run folder exists
        if not is_number(w) or not 0 <= w < math.inf:
            raise ConfigError(f"'train.loss.class_weight' entry {i} is {w!r}; accepted: {num_classes} finite non-negative numbers (one per class)")
    return torch.tensor([float(w) for w in spec])


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0,
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean focal loss; ``gamma=0`` is (weighted) cross-entropy.

    ``targets`` are class indices (N,) or probabilities (N, C) (mixup, cutmix): then each class's
    term ``-q_c (1 - p_c)^gamma log p_c`` is summed and, like PyTorch's cross-entropy on
    probabilities, weighted per class and averaged over the N examples.
    """
    if targets.dim() == 2:
        log_all = F.log_softmax(logits.float(), 1)
        terms = -targets.to(log_all.dtype) * (1 - log_all.exp()) ** gamma * log_all
        if weight is not None:
            terms = terms * weight.to(logits.device, log_all.dtype)
        return terms.sum(1).mean()
    log_p = F.log_softmax(logits.float(), 1).gather(1, targets[:, None]).squeeze(1)
    loss = -((1 - log_p.exp()) ** gamma) * log_p
    if weight is not None:
        w = weight.to(logits.device)[targets]
        return (loss * w).sum() / w.sum().clamp_min(1e-12)
    return loss.mean()
