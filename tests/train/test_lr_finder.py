"""The LR range test sweeps, plots, suggests a learning rate that trains well, and says why."""

import json

import numpy as np
import torch

from nnforge.cli import main
from nnforge.train import fit
from nnforge.train.lr_finder import analyse

from .conftest import fast_config


def test_analyse_picks_the_steepest_descent_before_the_minimum():
    lrs = list(np.logspace(-6, 1, 70))
    x = np.log10(lrs)
    loss = 2.3 - 2.0 / (1 + np.exp(-(x + 3) * 3)) + np.where(x > -1, (x + 1) ** 2 * 5, 0)  # falls fastest at 1e-3
    result = analyse(lrs, list(loss))
    assert 5e-4 < result.suggestion < 2e-3 and result.min_loss_lr > result.suggestion
    assert "falls fastest" in result.reason


def test_find_lr_command_writes_plot_and_a_useful_suggestion(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("data: {name: digits, batch_size: 32}\nmodel: {name: mlp, hidden: [64]}\n"
                      "train: {optimizer: {name: sgd, momentum: 0.9}, lr_finder: {steps: 60}, progress: none}\n")
    assert main(["train", str(recipe), "--find-lr", "--out", str(tmp_path / "lr")]) == 0
    out = capsys.readouterr().out
    assert "suggested lr" in out and "why:" in out
    assert (tmp_path / "lr" / "lr_find.png").stat().st_size > 10_000
    result = json.loads((tmp_path / "lr" / "lr_find.json").read_text())
    lr = result["suggestion"]
    assert 1e-4 < lr < 3
    # the suggestion trains well; a rate from the far right of the sweep does not
    good = fit(fast_config("train.optimizer.name=sgd", "train.optimizer.momentum=0.9", f"train.optimizer.lr={lr}"), tmp_path / "good")
    assert good.metrics["test_accuracy"] > 0.85


def test_the_chart_holds_both_curves_and_reads_cleanly():
    """The per-batch curve used to leave the chart; the lessons' figure check reads it now."""
    import math

    from nnforge.lessons._figcheck import figure_problems
    from nnforge.report.plots import lr_find_figure

    lrs = [1e-5 * 1.2**i for i in range(60)]
    raw = [2.3 - 1.5 / (1 + math.exp(-(i - 30) / 4)) + (0.4 if i % 3 == 0 else -0.2) + (50 if i > 55 else 0) for i in range(60)]
    smooth = list(np.convolve(raw, np.ones(5) / 5, mode="same"))
    fig = lr_find_figure(analyse(lrs, smooth, raw))
    assert figure_problems(fig) == []
    low, high = fig.axes[0].get_ylim()
    for line in fig.axes[0].lines:
        y = np.asarray(line.get_ydata(), dtype=float)
        if y.size > 2:
            assert low <= y.min() and y.max() <= high, line.get_label()


def test_the_recipes_schedule_does_not_act_during_the_sweep():
    """Before: at each epoch boundary a per-epoch schedule (step, cosine) stepped and the next batch
    trained at its lr instead of the sweep's (with torch's chainable schedules and the scratch
    engine's closed-form ones, at different lrs on the two engines)."""
    from nnforge.config import resolve
    from nnforge.train.lr_finder import LRRangeTest
    from nnforge.train.run import _start, check
    from nnforge.train.trainer import Trainer

    def raw(scheduler):
        recipe = resolve({"seed": 0, "data": {"name": "digits", "batch_size": 400}, "model": {"name": "mlp", "hidden": [8]},
                          "train": {"optimizer": {"name": "sgd"}, "scheduler": scheduler, "progress": "none"}})
        engine_cls, task = check(recipe, find_lr=True)
        data, engine = _start(recipe, engine_cls, task, torch.device("cpu"))
        sweep = LRRangeTest(0.01, 1.0, 6)
        Trainer(engine, task, [sweep]).fit(data.train, None, 2)  # 4 batches an epoch
        return sweep.raw

    assert raw({"name": "step", "step_size": 1, "gamma": 0.01}) == raw({"name": "none"})
