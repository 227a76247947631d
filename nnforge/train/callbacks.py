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


def _improved(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _mode(monitor: str) -> str:
    return "max" if monitor.endswith("accuracy") else "min"


class EarlyStopping(Callback):
    """Stop when the monitored metric has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best`` the model ends the run holding the weights of its best epoch, so
    the test score and the saved model are those of that epoch, not of the last one.
    Without a validation split ``val_*`` falls back to the training metric of the same name.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0, restore_best: bool = True,
                 verbose: bool = True):
        self.monitor, self.patience, self.min_delta, self.restore_best = monitor, patience, min_delta, restore_best
        self.mode, self.verbose = _mode(monitor), verbose
        self.best: float | None = None
        self.best_epoch = 0
        self.best_state: dict | None = None
        self.wait = 0
        self.stopped_epoch = 0

    def on_epoch_end(self, trainer, epoch, logs):
        from nnforge.train.optim import monitored_value

        value = monitored_value(logs, self.monitor)
        if value is None:
            return
        if _improved(value, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch, self.wait = value, epoch + 1, 0
            if self.restore_best:
                self.best_state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop_training = True
            self.stopped_epoch = epoch + 1

    def on_train_end(self, trainer):
        restored = self.restore_best and self.best_state is not None and self.best_epoch != trainer.epoch
        if restored:
            trainer.model.load_state_dict(self.best_state)
        if self.verbose and (self.stopped_epoch or restored):
            what = f"stopped early at epoch {self.stopped_epoch}" if self.stopped_epoch else "finished"
            back = f"; restored the weights of epoch {self.best_epoch}" if restored else ""
            print(f"early stopping: {what} ({self.monitor} best {self.best:.4f} at epoch {self.best_epoch}){back}")


class BestModelCheckpoint(Callback):
    """Write ``best_model.safetensors`` (weights only) whenever the monitored metric improves."""

    def __init__(self, path: str | Path, monitor: str = "val_loss"):
        self.path, self.monitor, self.mode = Path(path), monitor, _mode(monitor)
        self.best: float | None = None
        self.best_epoch = 0

    def on_epoch_end(self, trainer, epoch, logs):
        from safetensors.torch import save_file

        from nnforge.train.optim import monitored_value

        value = monitored_value(logs, self.monitor)
        if value is None or not _improved(value, self.best, self.mode, 0.0):
            return
        self.best, self.best_epoch = value, epoch + 1
        state = {k: v.detach().cpu().contiguous() for k, v in trainer.model.state_dict().items()}
        meta = {"epoch": str(epoch + 1), "monitor": self.monitor, "value": repr(value)}
        io.atomic_write(self.path, lambda p: save_file(state, str(p), metadata=meta))


class CSVLogger(Callback):
    """Writes ``metrics.csv``: one row per epoch, the same columns as ``metrics.jsonl``.

    The file is rewritten whole (atomically) from the trainer's history after each epoch, so it
    is never half-written and a resumed run keeps its earlier rows.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def on_epoch_end(self, trainer, epoch, logs):
        import csv
        import io as _io

        rows = trainer.history or [logs]
        columns = list(dict.fromkeys(k for row in rows for k in row))
        buf = _io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})
        io.write_text(self.path, buf.getvalue())


class CleanFinalEpochs(Callback):
    """Turns augmentation off for the last epochs (``data.augment.clean_epochs``)."""

    def __init__(self, transform):
        self.transform = transform

    def on_epoch_begin(self, trainer, epoch):
        self.transform.start_epoch(epoch, trainer.epochs)
