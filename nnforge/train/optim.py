"""Optimizers and learning-rate schedules from a recipe's ``train.optimizer`` / ``train.scheduler``."""

from __future__ import annotations

import torch
from torch import nn


def build_optimizer(params, cfg: dict) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov), Adam, AdamW or RMSprop, as the seed describes them."""
    name, lr, wd = cfg["name"], cfg["lr"], cfg["weight_decay"]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg["momentum"], nesterov=cfg["nesterov"] and cfg["momentum"] > 0, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(cfg["betas"]), eps=cfg["eps"], weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=tuple(cfg["betas"]), eps=cfg["eps"], weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=cfg["alpha"], eps=cfg["eps"], momentum=cfg["momentum"], weight_decay=wd)
    raise ValueError(f"unknown optimizer {name}")  # the schema rejects this earlier


class Schedule:
    """A torch LR scheduler plus when to step it: after every batch or after every epoch."""

    def __init__(self, scheduler, per_batch: bool):
        self.scheduler, self.per_batch = scheduler, per_batch

    def batch_end(self):
        if self.scheduler is not None and self.per_batch:
            self.scheduler.step()

    def epoch_end(self, metrics: dict | None = None):
        if self.scheduler is not None and not self.per_batch:
            self.scheduler.step()

    def state_dict(self):
        return self.scheduler.state_dict() if self.scheduler is not None else {}

    def load_state_dict(self, state):
        if self.scheduler is not None and state:
            self.scheduler.load_state_dict(state)


def build_scheduler(optimizer, cfg: dict, epochs: int, steps_per_epoch: int, base_lr: float) -> Schedule:
    name = cfg["name"]
    if name == "none":
        return Schedule(None, False)
    if name == "step":
        return Schedule(torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg["step_size"], gamma=cfg["gamma"]), False)
    if name == "cosine":
        return Schedule(torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=cfg["min_lr"]), False)
    if name == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=cfg["max_lr"] or base_lr,
            total_steps=max(1, epochs * steps_per_epoch),
            pct_start=cfg["pct_start"],
        )
        return Schedule(sched, True)
    raise ValueError(f"unknown scheduler {name}")


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return optimizer.param_groups[0]["lr"]


def trainable(model: nn.Module):
    return [p for p in model.parameters() if p.requires_grad]
