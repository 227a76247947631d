"""Learning-rate schedules, stepped once per epoch like ``torch.optim.lr_scheduler``."""
from __future__ import annotations

import math
import numbers

from .optimizer import Optimizer


class LRScheduler:
    """Sets ``group['lr']`` from the epoch counter; ``step()`` advances one epoch."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected a scratch optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lrs = [g.setdefault("initial_lr", g["lr"]) for g in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def lr_at(self, base_lr: float, epoch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _apply(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base, self.last_epoch)

    def step(self) -> None:
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output; a state that is not one changes nothing."""
        name, groups = type(self).__name__, len(self.optimizer.param_groups)
        epoch, base_lrs = (state.get("last_epoch"), state.get("base_lrs")) if isinstance(state, dict) else (None, None)
        if not (isinstance(epoch, numbers.Integral) and not isinstance(epoch, bool) and epoch >= 0) \
                or not isinstance(base_lrs, (list, tuple)) or len(base_lrs) != groups \
                or not all(isinstance(lr, numbers.Real) and not isinstance(lr, bool) for lr in base_lrs):
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'last_epoch' (an epoch count >= 0) and 'base_lrs' "
                             f"({groups} number{'s' * (groups != 1)}, one per parameter group), from LRScheduler.state_dict(); "
                             f"got {type(state).__name__}" + (f" with {_described(state)}" if isinstance(state, dict) else ""))
        self.last_epoch, self.base_lrs = int(epoch), [float(lr) for lr in base_lrs]
        self._apply()


def _described(state: dict) -> str:
    if not state:
        return "no keys"
    return ", ".join(f"{k}={state[k]!r}" if k in ("last_epoch", "base_lrs") else repr(k) for k in sorted(state, key=str))[:200]


class StepLR(LRScheduler):
    """lr = base * gamma ** (epoch // step_size): drop by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        if not isinstance(step_size, numbers.Integral) or isinstance(step_size, bool) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer (epochs between drops), got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base - eta_min) (1 + cos(pi * epoch / T_max)) / 2 (Loshchilov & Hutter 2017)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        if not isinstance(T_max, numbers.Real) or isinstance(T_max, bool) or T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive number of epochs, got {T_max!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
