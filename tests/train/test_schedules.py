"""Learning-rate schedules: step, linear warm-up, reduce-on-plateau (and their config keys)."""

import torch

from nnforge.train import fit
from nnforge.train.optim import build_scheduler

from .conftest import fast_config


def _opt(lr=0.1):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def sched_cfg(**kw):
    return {**fast_config().train.scheduler.to_dict(), **kw}


def test_linear_warmup_then_step_decay():
    opt = _opt()
    s = build_scheduler(opt, sched_cfg(name="step", step_size=1, gamma=0.5, warmup_epochs=1), epochs=5, steps_per_epoch=4, base_lr=0.1)
    lrs = []
    for _ in range(3):
        for _ in range(4):
            lrs.append(opt.param_groups[0]["lr"])
            s.batch_end()
        s.epoch_end({"val_loss": 1.0})
    assert [round(v, 4) for v in lrs[:4]] == [0.025, 0.05, 0.075, 0.1]  # rises linearly to the base lr
    assert lrs[4:8] == [0.1] * 4  # the step schedule starts after warm-up
    assert abs(lrs[8] - 0.05) < 1e-9


def test_reduce_on_plateau_cuts_lr_when_metric_stalls():
    opt = _opt()
    s = build_scheduler(opt, sched_cfg(name="plateau", patience=1, gamma=0.1), epochs=10, steps_per_epoch=1, base_lr=0.1)
    for loss in (1.0, 0.9, 0.8):
        s.epoch_end({"val_loss": loss})
    assert opt.param_groups[0]["lr"] == 0.1
    for loss in (0.8, 0.8):
        s.epoch_end({"val_loss": loss})
    assert abs(opt.param_groups[0]["lr"] - 0.01) < 1e-12
    # without a validation split it watches the training loss
    opt2 = _opt()
    s2 = build_scheduler(opt2, sched_cfg(name="plateau", patience=0, gamma=0.5), epochs=10, steps_per_epoch=1, base_lr=0.1)
    s2.epoch_end({"val_loss": None, "train_loss": 1.0})
    s2.epoch_end({"val_loss": None, "train_loss": 1.0})
    assert abs(opt2.param_groups[0]["lr"] - 0.05) < 1e-12


def test_schedules_from_a_recipe(tmp_path):
    run = fit(fast_config("train.epochs=4", "train.scheduler.name=plateau", "train.scheduler.patience=0",
                          "train.scheduler.warmup_epochs=1"), tmp_path / "run")
    assert len(run.history) == 4 and run.metrics["test_accuracy"] > 0.85
    cos = fit(fast_config("train.epochs=3", "train.scheduler.name=cosine"), tmp_path / "cos")
    assert cos.history[-1]["lr"] < cos.history[0]["lr"]


def test_plateau_on_the_scratch_engine_cuts_the_lr_at_the_epochs_torch_does(tmp_path):
    """engine: scratch took reduce-on-plateau (refused before: its optimizers had no such schedule),
    watching train.monitor as the torch engine does, so both cut the lr after the same epochs."""
    lrs = {}
    for engine in ("torch", "scratch"):
        cfg = fast_config("train.epochs=5", f"engine={engine}", "train.scheduler.name=plateau", "train.scheduler.patience=0",
                          "train.scheduler.gamma=0.5", "train.monitor=val_accuracy", "train.optimizer.lr=0.3",
                          "train.checkpoint.enabled=false")
        lrs[engine] = [row["lr"] for row in fit(cfg, tmp_path / engine).history]
    assert lrs["scratch"] == lrs["torch"]
    assert lrs["torch"][-1] < lrs["torch"][0]  # the run stalls at that lr, and the schedule cuts it
