"""The training loop: forward, loss, backward, step — and callbacks around it.

This is the one loop every torch run goes through. It is deliberately plain; everything
optional (early stopping, checkpoints, logging, gradient checks) is a callback.
"""

from __future__ import annotations

import contextlib
import time
from typing import Sequence

import torch
from torch import nn

from nnforge.train.callbacks import Callback
from nnforge.train.evaluate import evaluate
from nnforge.train.optim import Schedule, current_lr


class Trainer:
    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn, schedule: Schedule | None = None,
                 callbacks: Sequence[Callback] = (), device: torch.device | str = "cpu"):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.schedule = schedule or Schedule(None, False)
        self.callbacks = list(callbacks)
        self.device = torch.device(device)
        self.stop_training = False
        self.history: list[dict] = []
        self.epoch = 0
        self.global_step = 0
        self.epochs = 0
        self.steps_per_epoch = 0
        self.resumed = False
        self.autocast = contextlib.nullcontext  # set by nnforge.train.techniques.configure_trainer
        self.resume_position = None  # set by nnforge.train.checkpoint to continue an epoch mid-way
        self.step_loss: torch.Tensor | None = None
        self.skip_step = False

    def _call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def train_step(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimisation step; returns the loss and the logits (detached)."""
        with self.autocast():  # mixed precision (train.precision=bf16); a no-op by default
            logits = self.model(xb)
            loss = self.loss_fn(logits, yb)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.step_loss, self.skip_step = loss.detach(), False  # a callback may refuse the step (train.nonfinite=skip)
        self._call("on_after_backward")
        if not self.skip_step:
            self.optimizer.step()
            self.schedule.batch_end()
        return loss.detach(), logits.detach()

    def fit(self, train_batches, val_batches=None, epochs: int = 1) -> list[dict]:
        self.epochs = epochs
        self.steps_per_epoch = len(train_batches)
        self.stop_training = False
        self._call("on_train_begin")
        while self.epoch < epochs and not self.stop_training:
            epoch = self.epoch
            self._call("on_epoch_begin", epoch)
            self.model.train()
            start = time.perf_counter()
            loss_sum = torch.zeros((), device=self.device)
            correct = torch.zeros((), device=self.device, dtype=torch.long)
            seen, first, batches = 0, 0, train_batches
            if self.resume_position is not None:  # mid-epoch resume: skip the trained batches, carry the totals
                batches, first, loss_sum, correct, seen = self.resume_position.continue_epoch(train_batches, self.device)
                self.resume_position = None
            for step, (xb, yb) in enumerate(batches, start=first):
                xb, yb = xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True)
                loss, logits = self.train_step(xb, yb)
                n = len(yb)
                batch_correct = (logits.argmax(1) == yb).sum()
                if not self.skip_step:  # a skipped step stays out of the epoch's averages
                    loss_sum += loss * n
                    correct += batch_correct
                    seen += n
                self.global_step += 1
                if self.callbacks:
                    self._call("on_batch_end", step, {"loss": loss.item(), "accuracy": batch_correct.item() / n, "batch_size": n,
                                                      "skipped": self.skip_step})
            seconds = time.perf_counter() - start
            logs = {
                "epoch": epoch + 1,
                "train_loss": loss_sum.item() / max(1, seen),
                "train_accuracy": correct.item() / max(1, seen),
                "val_loss": None,
                "val_accuracy": None,
                "lr": current_lr(self.optimizer),
                "seconds": round(seconds, 4),
                "samples_per_second": round(seen / max(seconds, 1e-9), 1),
            }
            if val_batches is not None:
                ev = evaluate(self.model, val_batches, self.device)
                logs["val_loss"], logs["val_accuracy"] = ev.loss, ev.accuracy
            self.schedule.epoch_end(logs)
            self.epoch = epoch + 1
            self.history.append(logs)
            self._call("on_epoch_end", epoch, logs)
        self._call("on_train_end")
        return self.history
