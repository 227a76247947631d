"""A live progress bar that degrades to one line per epoch when output is not a terminal."""

from __future__ import annotations

import sys
import time

from nnforge.train.callbacks import Callback


class Progress(Callback):
    """Shows the loss, the task's own metrics (accuracy for classifiers) and throughput.
    ``mode``: bar, lines, none, or auto (bar on a TTY)."""

    def __init__(self, mode: str = "auto", stream=None):
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if self.stream.isatty() else "lines"
        self.mode = mode

    def on_epoch_begin(self, trainer, epoch):
        self.epoch, self.start, self.seen = epoch, time.perf_counter(), 0
        self.total = trainer.steps_per_epoch

    def on_batch_end(self, trainer, step, logs):
        self.seen += logs["batch_size"]
        if self.mode != "bar":
            return
        done = step + 1
        width = 24
        filled = int(width * done / max(1, self.total))
        rate = self.seen / max(1e-9, time.perf_counter() - self.start)
        self.stream.write(
            f"\repoch {self.epoch + 1}/{trainer.epochs} [{'#' * filled}{'.' * (width - filled)}] "
            f"{done}/{self.total} loss {logs['loss']:.4f}{''.join(f' {_short(m)} {logs[m]:.3f}' for m in trainer.task.metrics)} "
            f"{rate:,.0f} samples/s "
        )
        self.stream.flush()

    def on_epoch_end(self, trainer, epoch, logs):
        if self.mode == "none":
            return
        if self.mode == "bar":
            self.stream.write("\r\033[K")
        metrics = trainer.task.metrics
        parts = [f"epoch {epoch + 1}/{trainer.epochs}", f"loss {logs['train_loss']:.4f}",
                 *(f"{_short(m)} {logs['train_' + m]:.4f}" for m in metrics)]
        if logs.get("val_loss") is not None:
            parts += [f"val_loss {logs['val_loss']:.4f}", *(f"val_{_short(m)} {logs['val_' + m]:.4f}" for m in metrics)]
        parts += [f"lr {logs['lr']:.3g}", f"{logs['seconds']:.1f}s", f"{logs['samples_per_second']:,.0f} samples/s"]
        self.stream.write("  ".join(parts) + "\n")
        self.stream.flush()


def _short(metric: str) -> str:
    return {"accuracy": "acc"}.get(metric, metric)
