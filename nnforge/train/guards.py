"""Guard rails for the first minutes with a new model: a wall-clock budget (``train.max_time``),
the overfit-a-few-batches check (``train.overfit_batches``) and a smoke test of the whole run
(``train.fast_dev_run``), as Lightning offers them.

* ``max_time``: after each step the elapsed time since this start (or resume) is compared with the
  budget; past it, the loop stops after that step, the checkpoint callback writes the position,
  and the run finishes with the model it has (``metrics.json`` says ``"stopped": "max_time"``).
  ``--resume`` continues such a run from its checkpoint (with a new budget, ``train.max_time``
  may change on resume).
* ``overfit_batches: N``: the run trains on the same N batches (drawn once, without augmentation)
  every epoch. A model and loop that can learn drive their loss to ~0; the run says so, or warns
  that it could not — the usual sign of a bug in the data, the labels, the loss or the learning rate.
* ``fast_dev_run``: one batch of train, validation and test goes through every part of the run
  (one epoch, callbacks, evaluation, the run directory's files) in a temporary folder that is
  deleted afterwards; it finds a crash in seconds instead of after an epoch.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path
from dataclasses import replace

from nnforge.config import duration_seconds
from nnforge.data import TensorLoader
from nnforge.rundir import Run
from nnforge.train.callbacks import Callback, Stateless

#: ``overfit_batches``: a final training loss below this counts as "went to ~0"
OVERFIT_LOSS = 0.01


def first_batches(loader, n: int, augment: bool) -> TensorLoader:
    """The first ``n`` batches of ``loader``'s next epoch as a loader of their own, in a fixed order
    (``augment=False``: through the preprocessing only, so every epoch sees the very same inputs)."""
    order = loader.epoch_order()[: n * loader.batch_size].to(loader.x.device)
    transform = loader.transform if augment else getattr(loader.transform, "preprocess", loader.transform)
    fixed = TensorLoader(loader.x[order], loader.y[order], loader.batch_size, transform=transform)
    if augment:
        fixed.augmentation, fixed.augment_generator = loader.augmentation, loader.augment_generator
    return fixed


def limit_batches(train_cfg, data):
    """The task's data as ``overfit_batches`` or ``fast_dev_run`` asks for it (unchanged otherwise)."""
    if train_cfg.fast_dev_run:
        one = {k: first_batches(getattr(data, k), 1, augment=True) if getattr(data, k) is not None else None
               for k in ("train", "val", "test")}
        return replace(data, **one)
    if train_cfg.overfit_batches:
        return replace(data, train=first_batches(data.train, train_cfg.overfit_batches, augment=False))
    return data


class MaxTime(Stateless, Callback):
    """Stop after the step that reaches the wall-clock budget (seconds since this start: a resumed
    run gets it afresh)."""

    def __init__(self, budget, hint: str, checkpointing: bool = True):
        self.budget, self.seconds = budget, duration_seconds(budget)
        self.hint, self.checkpointing = hint, checkpointing
        self.start = 0.0
        self.stopped: dict | None = None

    def on_train_begin(self, trainer):
        self.start, self.stopped = time.monotonic(), None

    def on_batch_end(self, trainer, step, logs):
        if trainer.epoch + 1 == trainer.epochs and step + 1 == trainer.steps_per_epoch:
            return  # the last step: the run ends here anyway, complete
        if self.stopped is None and not trainer.stop_now and time.monotonic() - self.start >= self.seconds:
            trainer.stop_now = True
            self.stopped = {"reason": "max_time", "budget_seconds": self.seconds, "global_step": trainer.global_step,
                            "epoch": trainer.epoch + 1}

    def on_train_end(self, trainer):
        if self.stopped is None:
            return
        self.stopped["global_step"] = trainer.global_step  # with train.accumulate, the loop stops at the group's end
        where = f"train.max_time ({self.budget}) reached: stopped after step {self.stopped['global_step']} (epoch {self.stopped['epoch']})"
        if self.checkpointing:
            print(f"{where} with a checkpoint; the model is saved as it is; continue with: {self.hint}")
        else:
            print(f"{where}; the model is saved as it is (train.checkpoint.enabled is false: nothing to resume from)")


class OverfitCheck(Callback):
    """At the end of an ``overfit_batches`` run: say whether the training loss went to ~0."""

    def __init__(self, batches: int):
        self.batches = batches
        self.final_loss: float | None = None

    def on_train_end(self, trainer):
        if not trainer.history:
            return
        self.final_loss = loss = trainer.history[-1]["train_loss"]
        what = f"overfit_batches: the training loss on {self.batches} fixed batch{'es' if self.batches > 1 else ''}"
        if loss < OVERFIT_LOSS:
            print(f"{what} went to {loss:.2g} (~0) in {len(trainer.history)} epochs: the model and the loop can learn")
        else:
            warnings.warn(f"{what} is still {loss:.3g} after {len(trainer.history)} epochs (not ~0): the model cannot fit "
                          "even these; check the labels, the loss and the learning rate, or train more epochs", stacklevel=1)


class FastDevRun(Callback):
    """Marks the run inside :func:`fast_dev_run` and counts the training batches that went through."""

    def __init__(self):
        self.batches = 0

    def on_batch_end(self, trainer, step, logs):
        self.batches += 1


def fast_dev_run(recipe, train):
    """Run ``train(recipe, folder, marker)`` for one epoch in a temporary folder, delete it, and say what went through."""
    marker = FastDevRun()
    with tempfile.TemporaryDirectory(prefix="nnforge-fast-dev-run-") as tmp:
        one_epoch = {"train.epochs": 1}
        if recipe.train.swa.start_epoch > 1:  # averaging from a later epoch: in the one epoch, so that it goes through too
            one_epoch["train.swa.start_epoch"] = 1
        if recipe.data.augment.clean_epochs:  # the one epoch is augmented, so that augmentation goes through (not the clean part)
            one_epoch["data.augment.clean_epochs"] = 0
        if recipe.train.scheduler.warmup_epochs >= 1:  # warm-up over half the one epoch, then the schedule
            one_epoch["train.scheduler.warmup_epochs"] = 0.5
        result = train(recipe.with_overrides(one_epoch), Path(tmp) / "run", marker)
        written = sorted(p.name for p in (Path(tmp) / "run").iterdir() if p.name != ".lock")
    print(f"fast_dev_run: {marker.batches} training batch, one validation and one test batch went through the whole run "
          f"(it wrote {', '.join(written)}); nothing was kept")
    return Run(dir=None, model=None, config=result.config, metrics=result.metrics, history=result.history)
