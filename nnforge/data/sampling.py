"""Class balance of the training split: ``data.imbalance`` removes examples, ``data.sampling`` re-samples.

* ``data.imbalance: {class: fraction}`` keeps only a seeded fraction of some classes (to study
  imbalance on a balanced dataset);
* ``data.sampling: oversample | undersample`` draws each epoch's order so that every class
  appears equally often (with replacement up to the largest class, or without, down to the smallest).
"""

from __future__ import annotations

from typing import Callable

import torch

from nnforge.errors import ConfigError


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


def make_imbalanced(x: torch.Tensor, y: torch.Tensor, keep: dict, seed: int,
                    num_classes: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep only a fraction of some classes' examples (``{class_index: fraction}``), seeded; a class
    index outside ``range(num_classes)`` is an error (it cut nothing, silently)."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.ones(len(y), dtype=torch.bool)
    for cls, fraction in keep.items():
        try:
            c, f = int(cls), float(fraction)
        except (TypeError, ValueError):
            raise ConfigError(f"'data.imbalance' entry {cls}: {fraction!r}; accepted: class index -> fraction in [0, 1]") from None
        if num_classes is not None and not 0 <= c < num_classes:
            raise ConfigError(f"'data.imbalance' names class {c}, but the dataset's classes are 0-{num_classes - 1}; "
                              "accepted: class index -> fraction in [0, 1]")
        if not 0 <= f <= 1:
            raise ConfigError(f"'data.imbalance' fraction for class {c} is {f}; accepted: a number in [0, 1]")
        idx = torch.nonzero(y == c).flatten()
        drop = idx[torch.randperm(len(idx), generator=gen)[int(round(len(idx) * f)):]]
        mask[drop] = False
    return x[mask], y[mask]
