"""A live progress bar that degrades to one line per epoch when output is not a terminal."""

from __future__ import annotations

import sys
import time

from nnforge.train.callbacks import Callback


class Progress(Callback):
    """Shows loss, accuracy and throughput. ``mode``: bar, lines, none, or auto (bar on a TTY)."""

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
            f"{done}/{self.total} loss {logs['loss']:.4f} acc {logs['accuracy']:.3f} {rate:,.0f} samples/s "
        )
        self.stream.flush()

    def on_epoch_end(self, trainer, epoch, logs):
        if self.mode == "none":
            return
        if self.mode == "bar":
            self.stream.write("\r\033[K")
        parts = [f"epoch {epoch + 1}/{trainer.epochs}", f"loss {logs['train_loss']:.4f}", f"acc {logs['train_accuracy']:.4f}"]
        if logs.get("val_loss") is not None:
            parts += [f"val_loss {logs['val_loss']:.4f}", f"val_acc {logs['val_accuracy']:.4f}"]
        parts += [f"lr {logs['lr']:.3g}", f"{logs['seconds']:.1f}s", f"{logs['samples_per_second']:,.0f} samples/s"]
        self.stream.write("  ".join(parts) + "\n")
        self.stream.flush()
