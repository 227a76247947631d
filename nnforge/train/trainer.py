"""The training loop: forward, loss, backward, step — and callbacks around it.

This is the one loop every run goes through, whatever the engine (torch, scratch) and the task
(classify, forecast). It is deliberately plain; everything optional (early stopping,
checkpoints, logging, gradient checks, pruning, signals) is a callback. Hooks, in order:

    on_train_begin
      on_epoch_begin(epoch)
        on_after_backward          every step, before the optimizer; may set trainer.skip_step
        on_batch_end(step, logs)   logs: loss, the task's batch metrics, batch_size, skipped
        on_validation_begin        before the validation split is evaluated (weight averaging swaps its average in)
        on_validation_end          after it
      on_epoch_end(epoch, logs)    logs: epoch, train_*, val_*, lr, seconds, samples_per_second
    on_train_end
    on_run_end(metrics)            called by train.run once the run directory is complete
    on_exception(exc)              instead of the rest, when anything above raises (then it propagates)

Only the callbacks that override a per-step hook are called for it: the loop's own cost per step
is a few dictionary operations, which matters when a small model's step takes a millisecond.

``trainer.stop_training`` ends the run after the current epoch, ``trainer.stop_now`` after the
current step (an LR sweep that is done, a SIGTERM). With ``accumulate`` K > 1 a step is one batch's
forward and backward, and the optimizer steps every K batches (:mod:`nnforge.train.accumulate`).
"""

from __future__ import annotations

import time
from typing import Sequence

from nnforge.train.accumulate import accumulating_step, group_end
from nnforge.train.callbacks import Callback


class Trainer:
    def __init__(self, engine, task, callbacks: Sequence[Callback] = (), accumulate: int = 1):
        self.engine, self.task = engine, task
        self.callbacks = list(callbacks)
        self.stop_training = False
        self.stop_now = False
        self.history: list[dict] = []
        self.epoch = 0
        self.global_step = 0
        self.epochs = 0
        self.steps_per_epoch = 0
        self.resumed = False
        self.resume_position = None  # set by the checkpoint callback to continue an epoch mid-way
        self.step_loss: float | None = None
        self.skip_step = False
        self._after_backward: list = []  # the callbacks that override it, found at each epoch's start
        self.accumulate = accumulate  # train.accumulate: batches per optimizer step

    @property
    def model(self):
        return self.engine.model

    def _call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def run_end(self, metrics: dict) -> None:
        """Tell the callbacks the run directory is complete (``metrics.json`` written)."""
        self._call("on_run_end", metrics)

    def after_backward(self) -> None:
        """The callbacks that act between backward and the optimizer step (clipping, L1, the guard)."""
        for hook in self._after_backward:
            hook(self)

    def _overriding(self, hook: str) -> list:
        """The bound ``hook`` of each callback that does something in it (not the base class's no-op)."""
        base = getattr(Callback, hook)
        return [getattr(cb, hook) for cb in self.callbacks if getattr(type(cb), hook, None) is not base]

    def train_step(self, x, y):
        """One optimisation step; returns the loss (a float) and the detached outputs."""
        if self.accumulate > 1:
            return accumulating_step(self, x, y)
        engine = self.engine
        out = engine.forward(x)
        loss = engine.loss(out, y)
        engine.zero_grad()
        engine.backward(loss)
        self.step_loss, self.skip_step = engine.item(loss), False  # a callback may refuse the step (train.nonfinite=skip)
        self.after_backward()
        if not self.skip_step:
            engine.step()
            engine.batch_end()
        return self.step_loss, engine.outputs(out)

    def fit(self, train_batches, val_batches=None, epochs: int = 1) -> list[dict]:
        self.epochs = epochs
        self.steps_per_epoch = len(train_batches)
        self.stop_training = self.stop_now = False
        try:
            self._call("on_train_begin")
            while self.epoch < epochs and not self.stop_training and not self.stop_now:
                if not self._epoch(train_batches, val_batches):
                    break
            self._call("on_train_end")
        except BaseException as exc:
            self.exception(exc)
            raise
        return self.history

    def exception(self, exc: BaseException) -> None:
        """Tell the callbacks the run failed: in training, or (from train.run) while the run directory is finished.

        Every callback hears of it, even when one of them fails in ``on_exception``: that failure
        becomes a note on ``exc``, which stays the error the run raises and ``failed.json`` records
        (the checkpoint writer closes, an MLflow run is marked FAILED, whatever a user's hook did)."""
        for cb in self.callbacks:
            try:
                cb.on_exception(self, exc)
            except Exception as hook_error:
                exc.add_note(f"{type(cb).__name__}.on_exception then failed too: {type(hook_error).__name__}: {hook_error}")

    def _epoch(self, train_batches, val_batches) -> bool:
        """One epoch; False when it was stopped mid-way (no epoch end)."""
        engine, task, epoch = self.engine, self.task, self.epoch
        self._call("on_epoch_begin", epoch)
        self._after_backward, batch_end = self._overriding("on_after_backward"), self._overriding("on_batch_end")
        engine.train_mode(True)
        start = time.perf_counter()
        batches, first, totals, seen = train_batches, 0, {"loss": 0.0, **{m: 0.0 for m in task.metrics}}, 0
        if self.resume_position is not None:  # mid-epoch resume: skip the trained batches, carry the totals
            batches, first, totals, seen = self.resume_position.continue_epoch(train_batches)
            self.resume_position = None
        step = first - 1
        for step, (xb, yb) in enumerate(batches, start=first):
            x, y = engine.batch(xb, yb)
            loss, out = self.train_step(x, y)
            n = len(yb)
            sums = task.batch_metrics(out, y)
            if not self.skip_step:  # a skipped step stays out of the epoch's averages
                totals["loss"] += loss * n
                for m, v in sums.items():
                    totals[m] += v
                seen += n
            self.global_step += 1
            logs = {"loss": loss, **{m: v / n for m, v in sums.items()}, "batch_size": n, "skipped": self.skip_step,
                    "totals": totals, "seen": seen}
            for hook in batch_end:
                hook(self, step, logs)
            if self.stop_now and group_end(self, step):  # with train.accumulate, a step is a whole group
                break
        if self.stop_now and step + 1 < self.steps_per_epoch:
            return False  # stopped mid-epoch: no epoch end (a checkpoint callback saved the position)
        seconds = time.perf_counter() - start
        logs = self.validate(epoch, totals, seen, val_batches)
        logs.update({"lr": engine.lr(), "seconds": round(seconds, 4), "samples_per_second": round(seen / max(seconds, 1e-9), 1)})
        engine.epoch_end(logs)
        self.end_epoch(epoch, logs)
        return True

    def validate(self, epoch: int, totals: dict, seen: int, val_batches) -> dict:
        """The epoch's logs so far: the training averages, then the validation split's metrics."""
        logs = {"epoch": epoch + 1, **{f"train_{k}": v / max(1, seen) for k, v in totals.items()}}
        logs.update({"val_loss": None, **{f"val_{m}": None for m in self.task.metrics}})
        if val_batches is not None:
            self._call("on_validation_begin")
            logs.update({f"val_{k}": v for k, v in self.task.evaluate(*self.engine.predict(val_batches)).items()})
            self._call("on_validation_end")
        return logs

    def end_epoch(self, epoch: int, logs: dict) -> None:
        self.epoch = epoch + 1
        self.history.append(logs)
        self._call("on_epoch_end", epoch, logs)
