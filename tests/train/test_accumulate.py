"""Gradient accumulation: K batches of B make the update of one batch of K*B (real digits, no BatchNorm)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nnforge.config import resolve
from nnforge.train import Callback
from nnforge.train.engines import ENGINES
from nnforge.train.run import _start
from nnforge.train.tasks import TASKS
from nnforge.train.trainer import Trainer


class StopAfter(Callback):
    def __init__(self, batches: int):
        self.batches = batches

    def on_batch_end(self, trainer, step, logs):
        if trainer.global_step == self.batches:
            trainer.stop_now = True


def _weights_after(engine_name: str, batch_size: int, accumulate: int, batches: int, float64: bool) -> dict:
    recipe = resolve({"engine": engine_name, "data": {"name": "digits", "batch_size": batch_size, "val_fraction": 0.0},
                      "model": {"name": "mlp", "hidden": [32]}, "train": {"epochs": 1, "accumulate": accumulate,
                                                                           "optimizer": {"name": "sgd", "lr": 0.5, "momentum": 0.9}}})
    task = TASKS["classify"]()
    data, engine = _start(recipe, ENGINES[engine_name], task, torch.device("cpu"))
    if float64:
        engine.model.double()  # the optimizer keeps the same Parameter objects
        to_batch = engine.batch
        engine.batch = lambda xb, yb: (to_batch(xb, yb)[0].double(), yb)
    Trainer(engine, task, [StopAfter(batches)], accumulate=accumulate).fit(data.train, None, 1)
    return {k: np.asarray(v, dtype=np.float64) for k, v in engine.weights().items()}


def test_four_batches_of_16_step_as_one_batch_of_64():
    """torch, float64: equal to 1e-12 after one optimizer step; without accumulation the first batch of 16 alone differs."""
    big = _weights_after("torch", 64, 1, 1, float64=True)
    accumulated = _weights_after("torch", 16, 4, 4, float64=True)
    small = _weights_after("torch", 16, 1, 1, float64=True)
    start = _weights_after("torch", 64, 1, 0, float64=True)
    for name in big:
        np.testing.assert_allclose(accumulated[name], big[name], rtol=0, atol=1e-12, err_msg=name)
    moved = max(np.abs(big[k] - start[k]).max() for k in big)
    off = max(np.abs(small[k] - big[k]).max() for k in big)
    assert moved > 1e-3 and off > 1e-3  # the step is real, and batch size matters, so the equality says something


def test_the_scratch_engine_accumulates_the_same_way():
    """scratch (NumPy, float32): equal to float32 rounding (1e-5)."""
    big = _weights_after("scratch", 64, 1, 1, float64=False)
    accumulated = _weights_after("scratch", 16, 4, 4, float64=False)
    for name in big:
        np.testing.assert_allclose(accumulated[name], big[name], rtol=0, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("accumulate", [1, 3])
def test_the_schedule_counts_optimizer_steps(accumulate):
    recipe = resolve({"data": {"name": "digits", "batch_size": 64}, "model": {"name": "mlp", "hidden": [8]},
                      "train": {"epochs": 2, "accumulate": accumulate, "scheduler": {"name": "onecycle"}}})
    task = TASKS["classify"]()
    data, engine = _start(recipe, ENGINES["torch"], task, torch.device("cpu"))
    steps = math.ceil(len(data.train) / accumulate)
    assert engine.schedule.scheduler.total_steps == 2 * steps
    Trainer(engine, task, accumulate=accumulate).fit(data.train, None, 2)
    assert engine.schedule.scheduler.last_epoch == 2 * steps  # stepped once per optimizer step, to the schedule's end


def test_a_run_stopped_inside_an_accumulation_group_stops_at_its_end_and_resumes_exactly(tmp_path):
    """Before: a stop (train.max_time, SIGTERM) or train.checkpoint.every_steps inside a group of K
    batches checkpointed there; the group's gradient so far was in no checkpoint, so the resumed run
    stepped on the rest of the group alone and ended with other weights than a run never stopped."""
    from nnforge.train import run

    recipe = {"data": {"name": "digits", "batch_size": 256}, "model": {"name": "mlp", "hidden": [8]}, "threads": 1,
              "train": {"accumulate": 3, "optimizer": {"name": "adam"}, "epochs": 1, "progress": "none"}}
    whole = run(recipe, tmp_path / "whole", pictures=False)
    stopped = run({**recipe, "train": {**recipe["train"], "max_time": 0}}, tmp_path / "stopped", pictures=False)
    assert stopped.metrics["stopped"]["global_step"] == 3  # the first group's end, not its first batch
    resumed = run(recipe, tmp_path / "stopped", resume=True, pictures=False)
    for key, value in whole.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
