"""Gradient accumulation (``train.accumulate: K``): the update of a K-times-larger batch from K batches.

Memory holds one batch at a time; gradients of K consecutive batches are summed, each batch's
loss scaled by 1/K so the sum is the gradient of the mean loss over the K batches — the same
update as one batch K times larger (BatchNorm aside, whose statistics stay per batch). Groups
are aligned to the epoch: batches ``0..K-1`` form the first step, and a short group at the
epoch's end steps with what it has (scaled by its own size). Callbacks that act on the gradient
(clipping, L1, non-finite checks) see the accumulated gradient, once per optimizer step, and the
learning-rate schedule steps once per optimizer step; engines size per-step schedules with
:func:`optimizer_steps`.
"""

from __future__ import annotations

import math


def optimizer_steps(batches: int, accumulate: int) -> int:
    """Optimizer steps in an epoch of ``batches`` batches."""
    return math.ceil(batches / accumulate)


def accumulating_step(trainer, x, y):
    """One batch of a K-batch group: forward, scaled backward, and the optimizer step on the group's last batch."""
    engine, k = trainer.engine, trainer.accumulate
    i = trainer.global_step - trainer.epoch * trainer.steps_per_epoch  # position in the epoch
    group_start = i - i % k
    size = min(k, trainer.steps_per_epoch - group_start)  # batches in this group
    out = engine.forward(x)
    loss = engine.loss(out, y)
    if i == group_start:
        engine.zero_grad()
    engine.backward(loss * (1.0 / size))
    trainer.step_loss, trainer.skip_step = engine.item(loss), False
    if i + 1 == group_start + size:  # the group's last batch: the gradient is complete
        trainer.after_backward()
        if not trainer.skip_step:
            engine.step()
            engine.batch_end()
    return trainer.step_loss, engine.outputs(out)


def group_end(trainer, step: int) -> bool:
    """Is the batch ``step`` (its index in the epoch) the last of its group, where the optimizer steps?
    Only there can a run stop or be checkpointed mid-epoch: the gradient of a group's earlier batches
    lives in no checkpoint, so a run resumed mid-group would step on a part of the group alone."""
    k = trainer.accumulate
    return (step + 1) % k == 0 or step + 1 == trainer.steps_per_epoch


def stepped(trainer, step: int, logs: dict) -> bool:
    """Did the batch ``step`` (its index in the epoch, as ``on_batch_end`` gets it) end with an optimizer step?"""
    return group_end(trainer, step) and not logs["skipped"]
