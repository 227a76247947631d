"""The learning-rate range test (Smith, 2017; popularised by fast.ai): ``nnforge train CONFIG --find-lr``.

The lr grows exponentially from ``train.lr_finder.start`` to ``end`` over ``steps`` batches of one
fresh model; the loss is smoothed (exponential moving average, bias-corrected) and the sweep stops
early once it exceeds four times its best value. The suggestion is the lr where the smoothed loss
falls fastest against log(lr) — steep descent means the lr is large enough to learn quickly and
still below the point where training diverges — and the reason is printed with it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from nnforge import io
from nnforge.report.plots import plot_lr_find
from nnforge.train.callbacks import Callback
from nnforge.train.trainer import Trainer


@dataclass
class LRFinderResult:
    lrs: list[float]
    losses: list[float]  # smoothed
    suggestion: float
    steepest_lr: float
    min_loss_lr: float
    reason: str
    raw_losses: list[float] = field(default_factory=list)


class LRRangeTest(Callback):
    """The sweep as a callback of the one loop: sets each step's lr, records the smoothed loss,
    and stops the loop when the sweep is done or the loss has diverged."""

    def __init__(self, start: float, end: float, steps: int, beta: float = 0.98):
        self.start, self.steps, self.beta = start, steps, beta
        self.factor = (end / start) ** (1 / max(1, steps - 1))
        self.lrs: list[float] = []
        self.smooth: list[float] = []
        self.raw: list[float] = []
        self.avg, self.best, self.i = 0.0, math.inf, 0

    def _set(self, trainer) -> None:
        trainer.engine.set_lr(self.start * self.factor ** self.i)

    def on_train_begin(self, trainer):
        self._set(trainer)

    def on_epoch_begin(self, trainer, epoch):
        """Again after an epoch boundary, where the recipe's schedule has just stepped (a per-epoch step
        or cosine schedule would otherwise train the next batch at its own lr, a different one on each
        engine since torch's schedules scale the lr they find)."""
        self._set(trainer)

    def on_batch_end(self, trainer, step, logs):
        value, lr = logs["loss"], self.start * self.factor ** self.i
        if not math.isfinite(value):
            trainer.stop_now = True
            return
        self.avg = self.beta * self.avg + (1 - self.beta) * value
        s = self.avg / (1 - self.beta ** (self.i + 1))
        self.lrs.append(lr)
        self.smooth.append(s)
        self.raw.append(value)
        self.best = min(self.best, s)
        self.i += 1
        if self.i >= self.steps or (self.i > 6 and s > 4 * self.best):
            trainer.stop_now = True
        else:
            self._set(trainer)

    def result(self) -> "LRFinderResult":
        return analyse(self.lrs, self.smooth, self.raw)


def analyse(lrs: list[float], losses: list[float], raw: list[float] | None = None) -> LRFinderResult:
    """Pick the steepest descent before the minimum of the smoothed loss, and explain it."""
    if len(lrs) < 3:
        lr = lrs[0] if lrs else 1e-3
        return LRFinderResult(lrs, losses, lr, lr, lr, "the loss diverged almost at once; try a smaller train.lr_finder.start", raw or [])
    x, y = np.log10(lrs), np.asarray(losses)
    i_min = int(np.argmin(y))
    slopes = np.gradient(y, x)
    skip = min(len(y) // 10, max(0, i_min - 1))  # the first points are dominated by smoothing warm-up
    window = slopes[skip : max(skip + 1, i_min)]
    i_steep = skip + int(np.argmin(window))
    steepest, at_min = lrs[i_steep], lrs[i_min]
    reason = (f"the smoothed loss falls fastest at lr {steepest:.2g} (slope {slopes[i_steep]:.3g} per decade); "
              f"it is lowest at {at_min:.2g} and rises after it, so a rate near the steepest descent — "
              f"about a tenth of the minimum's ({at_min / 10:.2g}) — learns fast without diverging")
    return LRFinderResult(lrs, losses, steepest, steepest, at_min, reason, raw or [])


def find_lr_run(recipe, out: Path, data, engine, task) -> LRFinderResult:
    """``nnforge train CONFIG --find-lr``: the sweep on a fresh model through the one loop (any engine
    and task), then lr_find.png, lr_find.json and the suggestion printed."""
    sweep = recipe.train.lr_finder
    test = LRRangeTest(sweep.start, sweep.end, sweep.steps)
    epochs = -(-sweep.steps // max(1, len(data.train)))  # enough passes over the data for every step
    Trainer(engine, task, [test]).fit(data.train, None, epochs)
    result = test.result()
    out.mkdir(parents=True, exist_ok=True)
    plot_lr_find(result, out / "lr_find.png", f"lr range test: {recipe.model['name']} on {recipe.data.name}")
    io.write_json(out / "lr_find.json", asdict(result))
    print(f"swept {len(result.lrs)} batches, lr {result.lrs[0]:.1e} -> {result.lrs[-1]:.1e}" if result.lrs else "the loss diverged at once")
    print(f"suggested lr: {result.suggestion:.3g}")
    print(f"why: {result.reason}")
    print(f"plot: {out / 'lr_find.png'}   use it: --set train.optimizer.lr={result.suggestion:.3g}")
    return result
