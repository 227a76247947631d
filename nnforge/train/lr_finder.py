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
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from nnforge import io


@dataclass
class LRFinderResult:
    lrs: list[float]
    losses: list[float]  # smoothed
    suggestion: float
    steepest_lr: float
    min_loss_lr: float
    reason: str
    raw_losses: list[float] = field(default_factory=list)


def lr_range_test(model, optimizer, loss_fn, batches, start: float = 1e-7, end: float = 10.0, steps: int = 100,
                  beta: float = 0.98, device="cpu") -> LRFinderResult:
    """Run the sweep on ``model`` (its weights change: pass a fresh one) and analyse the curve."""
    factor = (end / start) ** (1 / max(1, steps - 1))
    lrs, smooth, raw = [], [], []
    avg, best = 0.0, math.inf
    model.train()
    it = iter(batches)
    for i in range(steps):
        try:
            xb, yb = next(it)
        except StopIteration:
            it = iter(batches)
            xb, yb = next(it)
        lr = start * factor**i
        for g in optimizer.param_groups:
            g["lr"] = lr * g.get("lr_mult", 1.0)
        loss = loss_fn(model(xb.to(device)), yb.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = loss.item()
        if not math.isfinite(value):
            break
        avg = beta * avg + (1 - beta) * value
        s = avg / (1 - beta ** (i + 1))
        lrs.append(lr)
        smooth.append(s)
        raw.append(value)
        best = min(best, s)
        if i > 5 and s > 4 * best:
            break
    return analyse(lrs, smooth, raw)


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
    suggestion = steepest
    reason = (f"the smoothed loss falls fastest at lr {steepest:.2g} (slope {slopes[i_steep]:.3g} per decade); "
              f"it is lowest at {at_min:.2g} and rises after it, so a rate near the steepest descent — "
              f"about a tenth of the minimum's ({at_min / 10:.2g}) — learns fast without diverging")
    return LRFinderResult(lrs, losses, suggestion, steepest, at_min, reason, raw or [])


def plot_lr_find(result: LRFinderResult, path: Path, title: str = "learning-rate range test") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    if result.raw_losses:
        ax.plot(result.lrs, result.raw_losses, color="0.8", lw=0.8, label="loss per batch")
    ax.plot(result.lrs, result.losses, lw=1.8, label="smoothed loss")
    ax.axvline(result.suggestion, color="tab:red", ls="--", label=f"suggested lr {result.suggestion:.2g}")
    ax.axvline(result.min_loss_lr, color="tab:gray", ls=":", label=f"minimum at {result.min_loss_lr:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    top = np.percentile(result.losses, 95) if result.losses else 1
    ax.set_ylim(min(result.losses) * 0.9 if result.losses else 0, max(top, result.losses[0] if result.losses else 1) * 1.1)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    io.atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)


def find_lr(config: dict) -> LRFinderResult:
    """The range test for a resolved recipe: same data, model, loss and optimizer as ``fit`` would use."""
    from nnforge.models import build_model
    from nnforge.train import techniques
    from nnforge.train.fit import prepare
    from nnforge.train.losses import build_loss
    from nnforge.train.optim import build_optimizer

    prepared = prepare(config)
    ds = prepared.dataset
    model = build_model(config["model"], ds.input_shape, ds.num_classes, ds.kind).to(prepared.device)
    model, _ = techniques.setup_model(model, config)
    train = config["train"]
    optimizer = build_optimizer(techniques.optimizer_params(model, train), train["optimizer"])
    sweep = train["lr_finder"]
    return lr_range_test(model, optimizer, build_loss(train["loss"], ds.num_classes, ds.y_train), prepared.train_batches,
                         sweep["start"], sweep["end"], sweep["steps"], device=prepared.device)


def find_lr_command(config: dict, out: str | Path | None) -> int:
    """``nnforge train CONFIG --find-lr``: sweep, write lr_find.png and lr_find.json, print the suggestion."""
    if config.get("task") == "forecast":
        from nnforge.errors import ConfigError

        raise ConfigError("--find-lr works with task=classify recipes; for forecasting set train.optimizer.lr directly")
    out = Path(out) if out else Path("runs") / f"lr_find-{datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    result = find_lr(config)
    plot_lr_find(result, out / "lr_find.png", f"lr range test: {config['model']['name']} on {config['data']['name']}")
    io.write_json(out / "lr_find.json", asdict(result))
    print(f"swept {len(result.lrs)} batches, lr {result.lrs[0]:.1e} -> {result.lrs[-1]:.1e}")
    print(f"suggested lr: {result.suggestion:.3g}")
    print(f"why: {result.reason}")
    print(f"plot: {out / 'lr_find.png'}   use it: --set train.optimizer.lr={result.suggestion:.3g}")
    return 0
