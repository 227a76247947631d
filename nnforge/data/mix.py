"""Mixing augmentations: mixup (Zhang et al., 2018) and cutmix (Yun et al., 2019), on whole batches.

Each example is paired with another of the same batch (a random permutation) and mixed with it by
a ratio ``lam ~ Beta(alpha, alpha)`` drawn per example ("elem" mode in timm's terms, so one batch
holds many ratios): mixup blends the two inputs ``lam * x_i + (1 - lam) * x_j``; cutmix pastes a box
of ``x_j`` covering a ``1 - lam`` share of the image into ``x_i`` and, where the box is clipped at the
border, uses the share actually pasted. The targets become probability rows ``lam * onehot(y_i) +
(1 - lam) * onehot(y_j)`` that sum to 1, which every classification loss of both engines accepts
(PyTorch's ``cross_entropy`` with probabilities; label smoothing and class weights apply as usual).

Mixing runs after preprocessing on training batches only (mixing is linear, so it commutes with the
per-pixel standardisation), and stops for ``data.augment.clean_epochs`` like the other transforms.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


class MixBatch:
    """``(x, y) -> (x_mixed, soft_targets)`` for a batch; ``y`` holds class indices (N,).

    ``mixup`` and ``cutmix`` are the Beta parameters (0: that kind is off); with both on, each
    example picks one of them with even odds. ``prob`` is the chance that an example is mixed at all
    (an unmixed example keeps its one-hot target). The last draw's ratios are kept in ``last_lam``
    (the share of each example's own target), for inspection.
    """

    def __init__(self, num_classes: int, mixup: float = 0.0, cutmix: float = 0.0, prob: float = 1.0,
                 generator: torch.Generator | None = None, clean_epochs: int = 0):
        if not (mixup or cutmix):
            raise ValueError("MixBatch needs mixup or cutmix > 0")
        self.num_classes, self.mixup, self.cutmix, self.prob = num_classes, float(mixup), float(cutmix), float(prob)
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.clean_epochs = clean_epochs
        self.active = True
        self.last_lam: torch.Tensor | None = None

    def start_epoch(self, epoch: int, epochs: int) -> None:
        self.active = epoch < epochs - self.clean_epochs

    def _beta(self, alpha: float, n: int) -> torch.Tensor:
        # torch.distributions.Beta draws from torch's global generator; NumPy's Beta, seeded from ours,
        # keeps the draws in the run's augmentation generator (seeded runs repeat, checkpoints resume them)
        seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))
        return torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, n)).float()

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        target = F.one_hot(y.long(), self.num_classes).to(x.device, torch.float32)
        if not self.active:
            return x, target
        n, g = len(x), self.generator
        partner = torch.randperm(n, generator=g)
        use_cutmix = torch.zeros(n, dtype=torch.bool)
        if self.mixup and self.cutmix:
            use_cutmix = torch.rand(n, generator=g) < 0.5
        elif self.cutmix:
            use_cutmix = torch.ones(n, dtype=torch.bool)
        lam = torch.where(use_cutmix, self._beta(self.cutmix, n) if self.cutmix else 1.0,
                          self._beta(self.mixup, n) if self.mixup else 1.0)
        mixed = torch.rand(n, generator=g) < self.prob
        lam = torch.where(mixed, lam, torch.ones(n))
        lam = lam.to(x.device)
        partner, use_cutmix = partner.to(x.device), use_cutmix.to(x.device)
        other = x[partner]
        out = x * _expand(lam, x) + other * _expand(1 - lam, x)
        if use_cutmix.any():
            box, lam_box = self._boxes(x.shape, lam, g)
            pasted = torch.where(box, other, x)
            out = torch.where(_expand(use_cutmix, x), pasted, out)
            lam = torch.where(use_cutmix, lam_box, lam)
        self.last_lam = lam.cpu()
        return out, target * lam[:, None] + target[partner] * (1 - lam[:, None])

    def _boxes(self, shape, lam: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Per example a box of ``1 - lam`` of the area (its centre uniform, clipped at the border),
        as a mask broadcastable to the batch, and the kept share each box actually leaves."""
        n, h, w = shape[0], shape[-2], shape[-1]
        side = torch.sqrt(1 - lam.cpu())
        cut_h, cut_w = (side * h).round().long(), (side * w).round().long()
        cy, cx = torch.randint(0, h, (n,), generator=g), torch.randint(0, w, (n,), generator=g)
        y0, y1 = (cy - cut_h // 2).clamp(0, h), (cy + cut_h - cut_h // 2).clamp(0, h)
        x0, x1 = (cx - cut_w // 2).clamp(0, w), (cx + cut_w - cut_w // 2).clamp(0, w)
        rows, cols = torch.arange(h)[None], torch.arange(w)[None]
        in_y = (rows >= y0[:, None]) & (rows < y1[:, None])
        in_x = (cols >= x0[:, None]) & (cols < x1[:, None])
        box = (in_y[:, :, None] & in_x[:, None, :]).view(n, *([1] * (len(shape) - 3)), h, w)
        kept = 1 - ((y1 - y0) * (x1 - x0)).float() / (h * w)
        return box.to(lam.device), kept.to(lam.device)


def _expand(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-example vector shaped to broadcast over an example's other dimensions."""
    return v.view(-1, *([1] * (like.dim() - 1)))


def build_mix(cfg, num_classes: int, kind: str, generator: torch.Generator) -> MixBatch | None:
    """The mixer ``data.augment`` asks for (``None`` when mixup and cutmix are off).

    cutmix pastes boxes, so it needs images; mixup also blends table rows.
    """
    from nnforge.config import field_at, section
    from nnforge.errors import ConfigError

    cfg = section("data.augment", cfg)
    if not (cfg.mixup or cfg.cutmix):
        if cfg.mix_prob != field_at("data.augment.mix_prob").default:
            raise ConfigError("'data.augment.mix_prob' is the chance of mixing an example; set data.augment.mixup or cutmix too")
        return None
    if cfg.cutmix and kind != "image":
        raise ConfigError(f"'data.augment.cutmix' pastes image boxes, but this dataset is {kind}; use data.augment.mixup")
    return MixBatch(num_classes, cfg.mixup, cfg.cutmix, cfg.mix_prob, generator, cfg.clean_epochs)
