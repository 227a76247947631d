"""Guard rails on real data: the wall-clock budget stops after the step that reaches it with a
resumable checkpoint, a few fixed batches are fitted to ~0 loss (or a warning says they were not),
a fast dev run leaves nothing behind, and the per-step LR monitor logs the schedule's values."""

from __future__ import annotations

import json
import math
import time

import pytest
import torch

from nnforge.errors import ConfigError
from nnforge.rundir import read_history
from nnforge.train import Callback, run
from nnforge.train.guards import MaxTime


def _digits(**train) -> dict:
    return {"data": {"name": "digits", "batch_size": 16}, "model": {"name": "mlp", "hidden": [16]},
            "train": {"epochs": 5, "optimizer": {"name": "sgd", "lr": 0.1}, "progress": "none", **train}}


class StepClock(Callback):
    """When each step ended, on the budget's own clock (MaxTime.start)."""

    def __init__(self):
        self.ends, self.start, self.batches = [], None, 0

    def on_train_begin(self, trainer):
        self.start = next(cb for cb in trainer.callbacks if isinstance(cb, MaxTime)).start

    def on_batch_end(self, trainer, step, logs):
        self.ends.append(time.monotonic() - self.start)


def test_max_time_stops_after_the_step_that_reaches_the_budget_and_resumes(tmp_path):
    budget = 0.1
    clock = StepClock()
    out = tmp_path / "run"
    stopped = run(_digits(max_time=budget), out, callbacks=[clock]).metrics["stopped"]
    steps = stopped["global_step"]
    assert stopped["reason"] == "max_time" and steps == len(clock.ends)
    assert clock.ends[-1] >= budget  # the last step reached the budget ...
    assert steps == 1 or clock.ends[-2] < budget  # ... and the one before had not: stopped within one step
    assert (out / "checkpoints" / f"step-{steps:08d}.safetensors").is_file() or steps % 81 == 0
    finished = run(_digits(), out, resume=True)  # a new budget (none) on resume
    assert "stopped" not in finished.metrics and len(finished.history) == 5
    assert [h["epoch"] for h in read_history(out)] == [1, 2, 3, 4, 5]


def test_max_time_reads_hours_minutes_seconds():
    from nnforge.config import duration_seconds, resolve
    from nnforge.errors import ConfigError

    assert duration_seconds("01:30:05") == 5405 and duration_seconds("2:30") == 150 and duration_seconds(90) == 90
    with pytest.raises(ConfigError, match="'train.max_time' is 'soon'"):
        resolve({"train": {"max_time": "soon"}})


@pytest.mark.slow
def test_overfit_batches_drives_the_quickstart_cnns_loss_below_001(tmp_path, cached_mnist_sample):
    from nnforge.config import load_config

    # without the recipe's label smoothing, whose targets put a floor (~0.5) under the loss
    recipe = load_config("configs/quickstart.yaml", ["train.overfit_batches=2", "data.batch_size=16", "train.epochs=15",
                                                     "train.loss.label_smoothing=0", "train.progress=none",
                                                     "train.checkpoint.enabled=false"])
    metrics = run(recipe, tmp_path / "run").metrics
    print(f"quickstart CNN, 2 fixed batches of 16: final training loss {metrics['overfit_batches_loss']:.2g}")
    assert metrics["overfit_batches_loss"] < 0.01


def test_overfit_batches_warns_when_the_model_cannot_fit_them(tmp_path):
    with pytest.warns(UserWarning, match="overfit_batches: the training loss on 2 fixed batches is still"):
        metrics = run(_digits(overfit_batches=2, epochs=3, optimizer={"name": "sgd", "lr": 1e-9}), tmp_path / "run").metrics
    assert metrics["overfit_batches_loss"] > 1.0


class Count(Callback):
    def __init__(self):
        self.batches = 0

    def on_batch_end(self, trainer, step, logs):
        self.batches += 1


@pytest.mark.parametrize("engine", ["torch", "scratch"])
def test_fast_dev_run_goes_through_one_batch_and_keeps_nothing(tmp_path, capsys, engine):
    count = Count()
    result = run({**_digits(fast_dev_run=True), "engine": engine}, tmp_path / "run", callbacks=[count])
    assert count.batches == 1 and len(result.history) == 1 and result.dir is None
    assert result.history[0]["val_loss"] is not None and "test_accuracy" in result.metrics
    assert not (tmp_path / "run").exists()
    assert "fast_dev_run: 1 training batch" in capsys.readouterr().out


def test_fast_dev_run_of_a_recipe_averaging_from_a_later_epoch_runs_its_one_epoch(tmp_path, capsys):
    """Before: fast_dev_run of a 5-epoch recipe with swa.start_epoch 3 was refused, its one epoch
    being "after the last epoch (1)", for a recipe that trains as it is."""
    seen = Count()
    result = run(_digits(fast_dev_run=True, swa={"start_epoch": 3}), tmp_path / "run", callbacks=[seen])
    assert seen.batches == 1 and "test_accuracy" in result.metrics and not (tmp_path / "run").exists()
    assert "fast_dev_run: 1 training batch" in capsys.readouterr().out


@pytest.mark.parametrize("train, augment, refused", [
    ({"epochs": 3}, {"rotate": 10.0, "clean_epochs": 3}, "'data.augment.clean_epochs' is 3, but the run has 3 epochs, so augmentation would never"),
    ({"epochs": 2, "scheduler": {"warmup_epochs": 2}}, {}, "'train.scheduler.warmup_epochs' is 2, but the run has 2 epochs"),
    ({"epochs": 2, "scheduler": {"name": "cosine", "warmup_epochs": 2.5}}, {}, "'train.scheduler.warmup_epochs' is 2.5"),
])
def test_clean_epochs_or_a_warm_up_as_long_as_the_run_is_refused_but_not_in_its_fast_dev_run(tmp_path, capsys, train, augment, refused):
    """Before: clean_epochs >= epochs trained without augmentation at all, and a warm-up of every
    epoch never reached the schedule (nor, with one epoch too few, the lr), without a word."""
    recipe = _digits(**train)
    recipe["data"]["augment"] = augment
    with pytest.raises(ConfigError, match=refused) as err:
        run(recipe, tmp_path / "run")
    assert "\n" not in str(err.value) and not (tmp_path / "run").exists()
    recipe["train"]["epochs"] += 1  # one more epoch: a recipe that trains; its smoke test shortens it to one epoch
    recipe["train"]["fast_dev_run"] = True
    seen = Count()
    result = run(recipe, tmp_path / "run", callbacks=[seen])
    assert seen.batches == 1 and "test_accuracy" in result.metrics and not (tmp_path / "run").exists()


def test_the_lr_monitor_logs_every_optimizer_step_of_the_schedule(tmp_path):
    from nnforge.train.run import prepare

    out, recipe = tmp_path / "run", _digits(epochs=2, accumulate=3, log_lr="step", scheduler={"name": "onecycle"})
    run(recipe, out)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "step" in r]
    assert [r["step"] for r in steps] == list(range(1, 2 * math.ceil(len(prepare(recipe).train) / 3) + 1))
    reference = torch.optim.lr_scheduler.OneCycleLR(torch.optim.SGD([torch.zeros(1)], lr=0.1), max_lr=0.1,
                                                    total_steps=len(steps), pct_start=0.25)
    expected = []
    for _ in steps[:-1]:  # the lr after each optimizer step, as the schedule sets it
        reference.optimizer.step()
        reference.step()
        expected.append(reference.get_last_lr()[0])
    assert [r["lr"] for r in steps[:-1]] == pytest.approx(expected)
    assert [h["epoch"] for h in read_history(out)] == [1, 2]  # readers of the history see the epochs only
