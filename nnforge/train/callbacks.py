"""Callbacks: hooks into the training loop, so techniques plug in without editing the loop (the
hooks, their order and their ``logs``: :mod:`nnforge.train.trainer`). Here are the ones most runs
use: progress, ``metrics.jsonl``/``metrics.csv`` logging, early stopping, best-model saving, clean
final epochs, and the garbage collector's return after start-up."""

from __future__ import annotations

import csv
import io as _io
import sys
import time
from pathlib import Path

from nnforge import io
from nnforge.startup import resume_gc
from nnforge.train.monitor import Monitor, monitored_value


class Callback:
    """The hooks, in the order the loop calls them (see :class:`nnforge.train.trainer.Trainer`)."""

    def on_train_begin(self, trainer) -> None: ...
    def on_epoch_begin(self, trainer, epoch: int) -> None: ...
    def on_batch_end(self, trainer, step: int, logs: dict) -> None: ...
    def on_after_backward(self, trainer) -> None: ...
    def on_validation_begin(self, trainer) -> None: ...
    def on_validation_end(self, trainer) -> None: ...
    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None: ...
    def on_train_end(self, trainer) -> None: ...
    def on_run_end(self, trainer, metrics: dict) -> None:
        """After the task wrote the run directory (model, plots, ``metrics.json``): loggers ship it."""

    def on_exception(self, trainer, exc: BaseException) -> None: ...


class Stateless:
    """Mixed into a callback whose state a checkpoint must not keep: it starts afresh on resume
    (a checkpoint otherwise saves a callback's plain attributes)."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None: ...


class ResumeGC(Stateless, Callback):
    """Turns Python's garbage collector back on once the first training step has run, when the
    command paused it for its start-up (:mod:`nnforge.startup`); otherwise does nothing."""

    def on_batch_end(self, trainer, step, logs):
        resume_gc()


class JSONLLogger(Callback):
    """Appends each epoch's metrics to ``metrics.jsonl`` as soon as the epoch ends.

    Each line is flushed (a reader sees it at once) but fsync'd only when training ends: an fsync
    per epoch cost ~6 ms, 5 % of a small model's epoch, and the checkpoints hold the history
    that ``--resume`` rewrites this file from.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def on_train_begin(self, trainer):
        if not trainer.resumed:
            self.path.unlink(missing_ok=True)

    def on_epoch_end(self, trainer, epoch, logs):
        io.append_jsonl(self.path, logs, fsync=False)

    def on_train_end(self, trainer):
        io.fsync_file(self.path)


class Progress(Callback):
    """Shows the loss, the task's own metrics (accuracy for classifiers) and throughput: a live bar
    that degrades to one line per epoch when output is not a terminal. ``mode``: bar, lines, none,
    or auto (bar on a TTY)."""

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


class EarlyStopping(Callback):
    """Stop when the monitored metric has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best`` the model ends the run holding the weights of its best epoch, so
    the test score and the saved model are those of that epoch, not of the last one.
    Without a validation split ``val_*`` falls back to the training metric of the same name.
    ``patience=None`` never stops: it only keeps the best epoch's weights (what a forecaster wants).
    """

    def __init__(self, monitor: str = "val_loss", patience: int | None = 5, min_delta: float = 0.0, restore_best: bool = True,
                 verbose: bool = True):
        self.monitor = Monitor(monitor, min_delta)
        self.patience, self.restore_best, self.verbose = patience, restore_best, verbose
        self.best_state: dict | None = None
        self.wait = 0
        self.stopped_epoch = 0

    @property
    def best_epoch(self) -> int:
        return self.monitor.best_epoch

    def on_epoch_end(self, trainer, epoch, logs):
        if self.monitor.update(logs):
            self.wait = 0
            if self.restore_best:
                self.best_state = trainer.engine.snapshot()
            return
        if monitored_value(logs, self.monitor.name) is None:
            return
        self.wait += 1
        if self.patience is not None and self.wait >= self.patience:
            trainer.stop_training = True
            self.stopped_epoch = epoch + 1

    def on_train_end(self, trainer):
        restored = self.restore_best and self.best_state is not None and self.best_epoch != trainer.epoch
        if restored:
            trainer.engine.restore(self.best_state)
        if self.verbose and (self.stopped_epoch or restored):
            what = f"stopped early at epoch {self.stopped_epoch}" if self.stopped_epoch else "finished"
            back = f"; restored the weights of epoch {self.best_epoch}" if restored else ""
            print(f"early stopping: {what} ({self.monitor.name} best {self.monitor.best:.4f} at epoch {self.best_epoch}){back}")

    def state_dict(self) -> dict:
        return {"monitor": self.monitor.state_dict(), "wait": self.wait, "stopped_epoch": self.stopped_epoch,
                "best_state": self.best_state}

    def load_state_dict(self, state: dict) -> None:
        self.monitor.load_state_dict(state["monitor"])
        self.wait, self.stopped_epoch, self.best_state = state["wait"], state["stopped_epoch"], state["best_state"]


class BestModelCheckpoint(Callback):
    """Write ``best_model.safetensors`` (weights only) whenever the monitored metric improves."""

    def __init__(self, path: str | Path, monitor: str = "val_loss"):
        self.path, self.monitor = Path(path), Monitor(monitor)

    def on_epoch_end(self, trainer, epoch, logs):
        from safetensors.torch import save_file

        if not self.monitor.update(logs):
            return
        state = trainer.engine.weights()
        meta = {"epoch": str(epoch + 1), "monitor": self.monitor.name, "value": repr(self.monitor.best)}
        io.atomic_write(self.path, lambda p: save_file(state, str(p), metadata=meta))

    def state_dict(self) -> dict:
        return self.monitor.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.monitor.load_state_dict(state)


class CSVLogger(Callback):
    """Writes ``metrics.csv``: one row per epoch, the same columns as ``metrics.jsonl``.

    The file is rewritten whole (atomically) from the trainer's history after each epoch, so it
    is never half-written and a resumed run keeps its earlier rows.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def on_epoch_end(self, trainer, epoch, logs):
        rows = trainer.history  # this epoch's logs included
        columns = list(dict.fromkeys(k for row in rows for k in row))
        buf = _io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)  # None, or a column a row lacks, is an empty field
        io.write_text(self.path, buf.getvalue())


class CleanFinalEpochs(Callback):
    """Turns augmentation off for the last epochs (``data.augment.clean_epochs``)."""

    def __init__(self, transform):
        self.transform = transform

    def on_epoch_begin(self, trainer, epoch):
        self.transform.start_epoch(epoch, trainer.epochs)
