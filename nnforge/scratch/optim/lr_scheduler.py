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


class LambdaLR(LRScheduler):
    """lr = base * lr_lambda(epoch): any schedule written as a function of the epoch (a warm-up ramp,
    ``lambda e: min(1, (e + 1) / 5)``), or a list of such functions, one per parameter group.
    The functions are not part of ``state_dict()`` (code is not data), as in torch."""

    def __init__(self, optimizer: Optimizer, lr_lambda):
        groups = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
        lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * groups
        if isinstance(optimizer, Optimizer) and (len(lambdas) != groups or not all(callable(f) for f in lambdas)):
            raise ValueError(f"LambdaLR: lr_lambda must be a function of the epoch or a list of {groups} such "
                             f"functions (one per parameter group), got {lr_lambda!r:.80}")
        self.lr_lambdas = lambdas
        super().__init__(optimizer)

    def _apply(self) -> None:
        for group, base, f in zip(self.optimizer.param_groups, self.base_lrs, self.lr_lambdas):
            group["lr"] = base * f(self.last_epoch)


class ReduceLROnPlateau:
    """Multiply the lr by ``factor`` once the watched metric has not improved for more than ``patience``
    epochs, as torch: ``step(val_loss)`` once per epoch. "Improved" means beyond ``threshold``: below
    best * (1 - threshold) in mode 'min' ('rel'), or below best - threshold ('abs'); mirrored for 'max'.
    After a cut, ``cooldown`` epochs pass before bad epochs count again; no lr goes below ``min_lr``, and
    a cut smaller than ``eps`` is skipped. Unlike the other schedules it follows a measurement, not the
    epoch count, so it has no ``lr_at(epoch)`` and stands on its own."""

    _STATE = ("best", "num_bad_epochs", "cooldown_counter", "last_epoch")

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr=0.0,
                 eps: float = 1e-8):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: expected a scratch optimizer, got {type(optimizer).__name__}")
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max' and threshold_mode 'rel' or 'abs', "
                             f"got mode={mode!r}, threshold_mode={threshold_mode!r}")
        if not factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor should be < 1.0 (the lr is multiplied by it), got {factor!r}")
        groups = len(optimizer.param_groups)
        min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * groups
        if len(min_lrs) != groups:
            raise ValueError(f"ReduceLROnPlateau: expected {groups} min_lrs (one per parameter group), got {len(min_lrs)}")
        self.optimizer, self.min_lrs = optimizer, min_lrs
        self.mode, self.factor, self.patience, self.threshold = mode, factor, patience, threshold
        self.threshold_mode, self.cooldown, self.eps = threshold_mode, cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = self.last_epoch = 0

    def is_better(self, a: float, best: float) -> bool:
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return a < (best * (1 - self.threshold) if rel else best - self.threshold)
        return a > (best * (1 + self.threshold) if rel else best + self.threshold)

    def step(self, metrics) -> None:
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:  # just after a cut: bad epochs do not count yet
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(group["lr"] * self.factor, floor)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {k: getattr(self, k) for k in self._STATE}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output (the counters and the best value so far)."""
        if not isinstance(state, dict) or not all(isinstance(state.get(k), numbers.Real) for k in self._STATE):
            raise ValueError(f"ReduceLROnPlateau.load_state_dict: expected a dict with numbers {', '.join(self._STATE)} "
                             f"(from ReduceLROnPlateau.state_dict()), got {type(state).__name__}")
        for k in self._STATE:
            setattr(self, k, state[k])
