"""Callbacks: hooks into the training loop, so techniques plug in without editing the loop.

A callback overrides any of the ``on_*`` methods. ``trainer.stop_training = True`` ends the run
after the current epoch. ``logs`` dictionaries carry the epoch's metrics (``train_loss``,
``train_accuracy``, ``val_loss``, ``val_accuracy``, ``lr``, ``seconds``).
"""

from __future__ import annotations

from pathlib import Path

from nnforge import io


class Callback:
    def on_train_begin(self, trainer) -> None: ...
    def on_epoch_begin(self, trainer, epoch: int) -> None: ...
    def on_batch_end(self, trainer, step: int, logs: dict) -> None: ...
    def on_after_backward(self, trainer) -> None: ...
    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None: ...
    def on_train_end(self, trainer) -> None: ...


class JSONLLogger(Callback):
    """Appends each epoch's metrics to ``metrics.jsonl`` as soon as the epoch ends."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def on_train_begin(self, trainer):
        if not getattr(trainer, "resumed", False):
            self.path.unlink(missing_ok=True)

    def on_epoch_end(self, trainer, epoch, logs):
        io.append_jsonl(self.path, logs)
