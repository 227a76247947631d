"""Optimizers and learning-rate schedules from a recipe's ``train.optimizer`` / ``train.scheduler``."""

from __future__ import annotations

import torch

from nnforge.config import section
from nnforge.train.eager_optim import eager
from nnforge.train.monitor import monitor_mode, monitored_value
from nnforge.train.transfer import param_groups


def build_optimizer(model, train, lib=torch.optim):
    """SGD (momentum, Nesterov), Adam, AdamW or RMSprop, as the seed describes them, over the
    model's parameters (grouped by ``train.optimizer.lr_mult``; frozen ones kept for unfreezing).
    ``lib`` is ``torch.optim`` or :mod:`nnforge.scratch.optim` (same classes, same arguments)."""
    cfg = train.optimizer
    if cfg.lr_mult or train.freeze:
        params = param_groups(model, cfg.lr, dict(cfg.lr_mult))
    else:
        params = [p for p in model.parameters() if p.requires_grad]
    name, lr, wd = cfg.name, cfg.lr, cfg.weight_decay
    fast = {"fused": True} if lib is torch.optim and _fusable(model) else {}  # torch's one-kernel step
    make = eager if lib is torch.optim else lambda cls: cls  # torch's classes, minus a 1 s import (eager_optim.py)
    if name == "sgd":
        return make(lib.SGD)(params, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0, weight_decay=wd, **fast)
    if name in ("adam", "adamw"):
        return make(lib.Adam if name == "adam" else lib.AdamW)(params, lr=lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=wd, **fast)
    return make(lib.RMSprop)(params, lr=lr, alpha=cfg.alpha, eps=cfg.eps, momentum=cfg.momentum, weight_decay=wd)


def _fusable(model) -> bool:
    """Whether torch's fused step (one kernel for all parameters) runs here: every parameter a
    float on a device that has it. On a CPU it is about twice as fast as the per-tensor step that
    torch picks by default there (Adam, seed MLP: 0.9 against 2.0 ms); on a GPU it beats foreach."""
    from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

    devices = _get_fused_kernels_supported_devices()
    return all(p.is_floating_point() and p.device.type in devices for p in model.parameters())


class Schedule:
    """An LR scheduler plus when to step it: after every batch, or after every epoch — with the
    epoch's value of ``monitor`` for reduce-on-plateau (the recipe's ``train.monitor``, falling back
    to the training metric of the same name when there is no validation split)."""

    def __init__(self, scheduler=None, per_batch: bool = False, monitor: str | None = None):
        self.scheduler, self.per_batch, self.monitor = scheduler, per_batch, monitor

    def batch_end(self):
        if self.scheduler is not None and self.per_batch:
            self.scheduler.step()

    def epoch_end(self, metrics: dict | None = None):
        if self.scheduler is None or self.per_batch:
            return
        if self.monitor is None:
            self.scheduler.step()
        elif (value := monitored_value(metrics or {}, self.monitor)) is not None:
            self.scheduler.step(value)

    def state_dict(self):
        return self.scheduler.state_dict() if self.scheduler is not None else {}

    def load_state_dict(self, state):
        if self.scheduler is not None and state:
            self.scheduler.load_state_dict(state)


class WarmupSchedule(Schedule):
    """Linear warm-up over the first ``warmup_steps`` batches, then the wrapped schedule.

    The lr of every parameter group rises from ``base/warmup_steps`` to its base value; the
    wrapped schedule is not stepped until warm-up ends, so its own timeline starts afterwards.
    """

    def __init__(self, optimizer, inner: Schedule, warmup_steps: int):
        super().__init__(inner.scheduler, inner.per_batch)
        self.optimizer, self.inner, self.warmup_steps = optimizer, inner, max(1, warmup_steps)
        self.base = [g["lr"] for g in optimizer.param_groups]
        self.step_count = 0
        self.closed = False  # has the epoch in which warm-up ended been closed?
        self._set(1)

    def _set(self, k: int) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base):
            group["lr"] = base * k / self.warmup_steps

    @property
    def warming(self) -> bool:
        return self.step_count < self.warmup_steps

    def batch_end(self):
        if self.warming:
            self.step_count += 1
            self._set(min(self.step_count + 1, self.warmup_steps))
        else:
            self.inner.batch_end()

    def epoch_end(self, metrics: dict | None = None):
        if self.warming:
            return
        if not self.closed:  # the epoch that finished warm-up does not count for the wrapped schedule
            self.closed = True
            return
        self.inner.epoch_end(metrics)

    def state_dict(self):
        return {"step_count": self.step_count, "base": self.base, "closed": self.closed, "inner": self.inner.state_dict()}

    def load_state_dict(self, state):
        if state:
            self.step_count, self.base = state["step_count"], state["base"]
            self.closed = state["closed"]
            self.inner.load_state_dict(state["inner"])


def build_scheduler(optimizer, cfg, epochs: int, steps_per_epoch: int, base_lr: float, monitor: str = "val_loss",
                    lib=torch.optim) -> Schedule:
    """The schedule ``train.scheduler`` names (typed, or a mapping), wrapped in a linear warm-up when
    ``warmup_epochs`` > 0. ``lib``: ``torch.optim`` or :mod:`nnforge.scratch.optim`, which has step, cosine and plateau."""
    cfg = section("train.scheduler", cfg)
    inner = _build_inner(optimizer, cfg, epochs, steps_per_epoch, base_lr, monitor, lib.lr_scheduler)
    if cfg.warmup_epochs > 0:
        return WarmupSchedule(optimizer, inner, int(round(cfg.warmup_epochs * steps_per_epoch)))
    return inner


def _build_inner(optimizer, cfg, epochs: int, steps_per_epoch: int, base_lr: float, monitor: str, schedulers) -> Schedule:
    name = cfg.name
    if name == "none":
        return Schedule()
    if name == "step":
        return Schedule(schedulers.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma))
    if name == "cosine":
        return Schedule(schedulers.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=cfg.min_lr))
    if name == "plateau":
        return Schedule(schedulers.ReduceLROnPlateau(optimizer, mode=monitor_mode(monitor), factor=cfg.gamma,
                                                     patience=cfg.patience, min_lr=cfg.min_lr), monitor=monitor)
    if name == "onecycle":
        peak = cfg.max_lr or base_lr
        # Discriminative LRs keep their ratios at the peak: each group's max_lr is scaled by its multiplier.
        max_lr = [peak * g.get("lr_mult", 1.0) for g in optimizer.param_groups]
        sched = schedulers.OneCycleLR(optimizer, max_lr=max_lr if len(max_lr) > 1 else peak,
                                      total_steps=max(1, epochs * steps_per_epoch), pct_start=cfg.pct_start)
        return Schedule(sched, per_batch=True)
    raise ValueError(f"unknown scheduler {name}")
