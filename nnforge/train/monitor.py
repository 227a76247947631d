"""What "better" means: the one place a monitored metric is read and compared.

Early stopping, best-model saving, the best checkpoint and reduce-on-plateau all watch
``train.monitor`` (the task's choice by default). Accuracies improve upwards, losses downwards;
without a validation split a ``val_*`` metric falls back to the training metric of the same name.
"""

from __future__ import annotations


def monitor_mode(monitor: str) -> str:
    return "max" if monitor.endswith("accuracy") else "min"


def monitored_value(logs: dict, monitor: str) -> float | None:
    """The metric ``monitor`` names, or its training counterpart when validation is absent."""
    value = logs.get(monitor)
    if value is None and monitor.startswith("val_"):
        value = logs.get("train_" + monitor[4:])
    return value


class Monitor:
    """Tracks the best value of one metric; ``update(logs)`` says whether this epoch improved it."""

    def __init__(self, name: str, min_delta: float = 0.0):
        self.name, self.min_delta, self.mode = name, min_delta, monitor_mode(name)
        self.best: float | None = None
        self.best_epoch = 0

    def improves(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta

    def update(self, logs: dict) -> bool:
        value = monitored_value(logs, self.name)
        if value is None or not self.improves(value):
            return False
        self.best, self.best_epoch = value, logs["epoch"]
        return True

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
