"""The checkpoint callback: resumable state every ``every_steps`` steps and at each epoch's end.

Each checkpoint holds the engine's state (model, optimizer, schedule), every other callback's
state, the data order's and the augmentation's generator states, Python/NumPy/torch (and the
engine's own) RNG states and the position in the epoch. With ``deterministic: true`` a resumed
run ends bit-identical to an uninterrupted one.

Callbacks take part by defining ``state_dict() -> dict`` / ``load_state_dict(dict)`` (JSON
values, tensors and arrays); a callback without them has its plain attributes (numbers, strings,
lists, dicts, tensors) saved and restored as they are.
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nnforge import io
from nnforge.io import is_number
from nnforge.errors import RunError
from nnforge.train.accumulate import group_end
from nnforge.train.callbacks import Callback
from nnforge.train.checkpoint.format import (BEST_FILE, Checkpoint, _fault, clean_partial_writes, encode_checkpoint, encode_state,
                                             step_checkpoints, write_encoded)
from nnforge.train.checkpoint.writer import BackgroundWriter
from nnforge.train.monitor import Monitor
from nnforge.train.nonfinite import NonFiniteError


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _callback_key(callbacks, cb) -> str:
    name = type(cb).__name__
    same = [c for c in callbacks if type(c).__name__ == name]
    return f"{name}#{same.index(cb)}"


def callback_state(cb) -> dict:
    if hasattr(cb, "state_dict"):
        return cb.state_dict()
    out = {}
    for key, value in vars(cb).items():
        try:
            encode_state(value, {})
        except TypeError:
            continue  # files, streams, paths: set up again by whoever built the callback
        out[key] = value
    return out


def load_callback_state(cb, state: dict) -> None:
    """Set the saved attributes back; one whose type is not the live attribute's (an edited header:
    a list saved as text) is a TypeError here, which the resume reports in one line, not later in training."""
    if hasattr(cb, "load_state_dict"):
        cb.load_state_dict(state)
    else:
        current = vars(cb)
        for key, value in state.items():
            if key in current and not _same_kind(value, current[key]):
                raise TypeError(f"{type(cb).__name__}.{key} is a {type(value).__name__}, expected a {type(current[key]).__name__}")
        for key, value in state.items():
            setattr(cb, key, value)


def _same_kind(value, current) -> bool:
    """Whether a restored value can stand where ``current`` stood (numbers for numbers, None for anything,
    lists whose items fit the live list's first item)."""
    if value is None or current is None or (is_number(value) and is_number(current)):
        return True
    if isinstance(current, (list, tuple)):
        return type(value) is type(current) and (not current or all(_same_kind(v, current[0]) for v in value))
    if isinstance(current, dict):
        return isinstance(value, dict) and all(_same_kind(v, current[k]) for k, v in value.items() if k in current)
    return type(value) is type(current)


@dataclass
class EpochPosition:
    """Where in an epoch a checkpoint was taken: batches done and the epoch's running totals."""

    step: int
    totals: dict
    seen: int

    def continue_epoch(self, loader):
        """Batches after the first ``step`` (skipped without their transform), and the epoch's totals so far."""
        return _skip_batches(loader, self.step), self.step, dict(self.totals), self.seen


def _skip_batches(loader, skip: int):
    transform, mix = loader.transform, loader.mix
    it = iter(loader)
    loader.transform = loader.mix = None  # skipped batches must not draw from the augmentation generator
    try:
        for _ in range(skip):
            next(it)
    finally:
        loader.transform, loader.mix = transform, mix
    yield from it


def restore_engine(engine, ckpt: Checkpoint) -> None:
    """Load the checkpoint's model, optimizer and schedule into ``engine``; a checkpoint of another
    model or optimizer (a file copied from another run) is a one-line RunError. ``train --resume``
    calls it before it changes anything in the run directory, and the Checkpointer again on resume."""
    try:
        engine.load_state_dict(ckpt.state["engine"])
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:  # AttributeError: an edited optimizer state
        raise RunError(f"checkpoint {ckpt.path} does not fit this recipe's model or optimizer "
                       f"({str(exc).splitlines()[0][:200]})") from None


class Checkpointer(Callback):
    """Saves resumable state every ``every_steps`` steps, at each epoch's end and when asked to stop
    (``trainer.stop_now``, e.g. on SIGTERM); restores a checkpoint on resume.

    It must be the last callback, so that restored callback states are not reset by their own
    ``on_train_begin`` and the data-order snapshot is taken right before the epoch draws its order.
    ``write=False`` (DistributedDataParallel ranks other than 0) restores without writing.
    """

    def __init__(self, folder: str | Path, loader, monitor: str, every_steps: int = 0, keep: int = 2,
                 resume: Checkpoint | None = None, write: bool = True):
        self.folder, self.loader, self.every_steps, self.keep = Path(folder), loader, every_steps, keep
        self.resume, self.write = resume, write
        self.monitor = Monitor(monitor)
        self.epoch_start_generator: torch.Tensor | None = None
        self.totals: dict = {}
        self.seen = 0
        self.writer = BackgroundWriter()
        self.due = False  # train.checkpoint.every_steps came due inside an accumulation group: saved at its end
        self.faults = bool(os.environ.get("NNFORGE_FAULT"))  # crash tests; read once, not every step

    def capture(self, trainer, step_in_epoch: int) -> dict:
        mid = step_in_epoch > 0
        loader_gen = self.epoch_start_generator if mid else self.loader.generator.get_state()
        aug = getattr(self.loader, "augment_generator", None)
        others = [cb for cb in trainer.callbacks if cb is not self]
        return {
            "position": {"epoch": trainer.epoch, "step_in_epoch": step_in_epoch, "global_step": trainer.global_step,
                         "epochs": trainer.epochs},
            "epoch_totals": {"totals": dict(self.totals) if mid else {}, "seen": self.seen if mid else 0},
            "history": trainer.history,
            "stop_training": trainer.stop_training,
            "best": self.monitor.state_dict(),
            "engine": trainer.engine.state_dict(),
            "callbacks": {_callback_key(others, cb): callback_state(cb) for cb in others},
            "generators": {"data_order": loader_gen, "augment": aug.get_state() if aug is not None else None},
            "rng": {**rng_state(), "engine": trainer.engine.rng_state()},
        }

    def _save(self, trainer, step_in_epoch: int, best: bool = False) -> None:
        if not trainer.engine.weights_finite():
            raise NonFiniteError(f"the weights became non-finite by step {trainer.global_step} (epoch {trainer.epoch + 1}); "
                                 f"no checkpoint was written with them, the last good one is kept; lower train.optimizer.lr")
        if not self.write:
            return
        tensors, body = encode_checkpoint(self.capture(trainer, step_in_epoch))  # copies: training goes on
        path = self.folder / f"step-{trainer.global_step:08d}.safetensors"
        self.writer.submit(lambda: self._write(path, tensors, body, best))

    def _write(self, path: Path, tensors: dict, body, best: bool) -> None:
        """On the writer's thread: the step file, a copy as the best one, then the old ones out."""
        write_encoded(path, tensors, body)
        if best:  # a copy, not a link: the fallback must survive damage to the step file
            io.atomic_write(self.folder / BEST_FILE, lambda tmp: shutil.copyfile(path, tmp))
        for _, old in step_checkpoints(self.folder)[self.keep:]:
            old.unlink(missing_ok=True)

    # hooks
    def on_train_begin(self, trainer):
        if self.write:
            clean_partial_writes(self.folder)
        ckpt, self.resume = self.resume, None
        if ckpt is not None:
            self._restore(trainer, ckpt)

    def _restore(self, trainer, ckpt: Checkpoint) -> None:
        s = ckpt.state
        restore_engine(trainer.engine, ckpt)
        try:
            others = [cb for cb in trainer.callbacks if cb is not self]
            for cb in others:
                key = _callback_key(others, cb)
                if key in s["callbacks"]:
                    load_callback_state(cb, s["callbacks"][key])
            self.loader.generator.set_state(s["generators"]["data_order"])
            aug = getattr(self.loader, "augment_generator", None)
            if aug is not None and s["generators"]["augment"] is not None:
                aug.set_state(s["generators"]["augment"])
            self.monitor.load_state_dict(s["best"])
            set_rng_state(s["rng"])
            trainer.engine.set_rng_state(s["rng"]["engine"])
            pos = ckpt.position
            if pos["step_in_epoch"] >= trainer.steps_per_epoch:  # skipping that many batches would run out of them
                raise ValueError(f"it was taken after batch {pos['step_in_epoch']} of an epoch of {trainer.steps_per_epoch}")
            if pos["step_in_epoch"]:  # the loop carries the epoch's totals on (on_batch_end hands them back)
                t = s["epoch_totals"]
                trainer.resume_position = EpochPosition(pos["step_in_epoch"], dict(t["totals"]), t["seen"])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise RunError(f"checkpoint {ckpt.path} does not fit this recipe's model or optimizer "
                           f"({str(exc).splitlines()[0][:200]})") from None
        trainer.epoch, trainer.global_step = pos["epoch"], pos["global_step"]
        trainer.history = list(s["history"])
        trainer.stop_training = bool(s["stop_training"])

    def on_epoch_begin(self, trainer, epoch):
        self.epoch_start_generator = self.loader.generator.get_state()

    def on_batch_end(self, trainer, step, logs):
        self.totals, self.seen = logs["totals"], logs["seen"]  # the loop's running sums (copied when saved)
        if self.faults:
            _fault("kill_at_step", trainer.global_step)
        if self.every_steps and trainer.global_step % self.every_steps == 0:
            self.due = True
        # with train.accumulate, at the end of the group (an optimizer step), where the loop also stops
        if (trainer.stop_now or self.due) and group_end(trainer, step):
            self.due = False
            if step + 1 < trainer.steps_per_epoch:  # an epoch's last step is saved by on_epoch_end
                self._save(trainer, step + 1)

    def on_epoch_end(self, trainer, epoch, logs):
        self._save(trainer, 0, best=self.monitor.update(logs))

    def on_train_end(self, trainer):
        self.writer.close()  # the run ends with its checkpoints on disk

    def on_exception(self, trainer, exc):
        self.writer.close()  # also when it fails: the last good checkpoint is complete before the error is seen
