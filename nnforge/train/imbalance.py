"""Class imbalance: class weights, focal loss and re-sampling of the training split.

Three independent remedies, each one config key:

* ``train.loss.class_weight: balanced`` (or a list) weights each class's loss by
  ``n_samples / (n_classes * n_class)``, scikit-learn's "balanced" rule;
* ``train.loss.name: focal`` is the focal loss of Lin et al. (2017), eq. 5:
  ``-(1 - p_t)^gamma * log(p_t)``, which lowers the loss of examples already classified well;
* ``data.sampling: oversample | undersample`` draws each epoch's order so that every class
  appears equally often (with replacement up to the largest class, or without, down to the smallest).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from nnforge.errors import ConfigError


def class_weights(spec, targets: torch.Tensor, num_classes: int) -> torch.Tensor | None:
    """The weight vector a ``class_weight`` setting means for these training targets."""
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec != "balanced":
            raise ConfigError(f"'train.loss.class_weight' is {spec!r}; accepted: balanced, a list of {num_classes} numbers, or null")
        counts = torch.bincount(targets.cpu(), minlength=num_classes).float()
        return torch.where(counts > 0, len(targets) / (num_classes * counts.clamp_min(1)), torch.zeros_like(counts))
    if len(spec) != num_classes or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in spec):
        raise ConfigError(f"'train.loss.class_weight' has {len(spec)} entries; accepted: {num_classes} non-negative numbers (one per class)")
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


def balanced_sampler(targets: torch.Tensor, mode: str) -> Callable[[torch.Generator], torch.Tensor]:
    """A :class:`~nnforge.data.TensorLoader` sampler that balances classes each epoch.

    ``oversample`` draws every class up to the size of the largest (repeats allowed);
    ``undersample`` draws every class down to the size of the smallest. The order is shuffled.
    """
    targets = targets.cpu()
    groups = [torch.nonzero(targets == c).flatten() for c in torch.unique(targets)]
    size = max(len(g) for g in groups) if mode == "oversample" else min(len(g) for g in groups)

    def sample(generator: torch.Generator) -> torch.Tensor:
        picks = []
        for g in groups:
            if mode == "oversample":
                extra = g[torch.randint(len(g), (size - len(g),), generator=generator)]
                picks.append(torch.cat([g, extra]))
            else:
                picks.append(g[torch.randperm(len(g), generator=generator)[:size]])
        order = torch.cat(picks)
        return order[torch.randperm(len(order), generator=generator)]

    return sample


def make_imbalanced(x: torch.Tensor, y: torch.Tensor, keep: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep only a fraction of some classes' examples (``{class_index: fraction}``), seeded."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.ones(len(y), dtype=torch.bool)
    for cls, fraction in keep.items():
        try:
            c, f = int(cls), float(fraction)
        except (TypeError, ValueError):
            raise ConfigError(f"'data.imbalance' entry {cls}: {fraction!r}; accepted: class index -> fraction in [0, 1]") from None
        if not 0 <= f <= 1:
            raise ConfigError(f"'data.imbalance' fraction for class {c} is {f}; accepted: a number in [0, 1]")
        idx = torch.nonzero(y == c).flatten()
        drop = idx[torch.randperm(len(idx), generator=gen)[int(round(len(idx) * f)):]]
        mask[drop] = False
    return x[mask], y[mask]
