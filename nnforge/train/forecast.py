"""Forecasting a real time series with a recurrent network (``task: forecast``).

The series is standardised with the mean and std of its training part only, cut into windows
(``forecast.window`` past values -> the next ``forecast.horizon``), and split in time: windows
whose targets fall in the last ``forecast.test_fraction`` of the series form the test set, the
latest ``data.val_fraction`` of the rest the validation set. The model trained with MSE is
compared with the naive forecast (repeat the last observed value), which any useful model must
beat; ``forecast.png`` draws both against the truth.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import torch

from nnforge import io
from nnforge.config import dump_config
from nnforge.data.series import load_series, windows
from nnforge.errors import ConfigError


def split_windows(n_values: int, starts: np.ndarray, test_fraction: float, val_fraction: float):
    """Boolean masks (train, val, test) over windows, by the time of their targets."""
    test_start = int(round(n_values * (1 - test_fraction)))
    test = starts >= test_start
    rest = np.nonzero(~test)[0]
    n_val = int(round(len(rest) * val_fraction))
    val = np.zeros_like(test)
    val[rest[len(rest) - n_val:]] = n_val > 0
    train = ~test & ~val
    return train, val, test, test_start


def _errors(pred: np.ndarray, truth: np.ndarray) -> dict:
    err = pred - truth
    return {"mae": float(np.abs(err).mean()), "rmse": float(np.sqrt((err**2).mean()))}


def fit_forecast(config: dict, out_dir=None, name: str = "forecast"):
    """Train ``model`` (lstm/gru) on the series ``data.name``; write the run directory; return a Run."""
    from nnforge.models import build_model
    from nnforge.rundir import save_model
    from nnforge.train.fit import Run, _check_out_dir, default_run_dir
    from nnforge.train.optim import build_optimizer, build_scheduler
    from nnforge.train.seeding import pick_device, seed_everything

    if config["model"]["name"] not in ("lstm", "gru", "mlp"):
        raise ConfigError(f"task=forecast needs model.name lstm, gru or mlp, got '{config['model']['name']}'")
    out = Path(out_dir) if out_dir is not None else default_run_dir(name)
    _check_out_dir(out)
    seed_everything(config["seed"], config["deterministic"])
    device = pick_device(config["device"])
    fc, data, train_cfg = config["forecast"], config["data"], config["train"]
    series = load_series(data["name"])
    x, y, starts = windows(series.values, fc["window"], fc["horizon"])
    tr, va, te, test_start = split_windows(len(series.values), starts, fc["test_fraction"], data["val_fraction"])
    if tr.sum() < 2 or te.sum() < 1:
        raise ConfigError(f"series '{series.name}' ({len(series.values)} values) leaves too few windows; lower forecast.window or test_fraction")
    train_part = series.values[:test_start]
    mean, std = float(train_part.mean()), float(train_part.std() or 1.0)
    scale = lambda a: torch.from_numpy((a - mean) / std)  # noqa: E731
    xs, ys = scale(x).to(device), scale(y).to(device)

    model = build_model(config["model"], (fc["window"], 1), fc["horizon"], "sequence").to(device)
    optimizer = build_optimizer([p for p in model.parameters()], train_cfg["optimizer"])
    bs = data["batch_size"]
    idx_train = torch.from_numpy(np.nonzero(tr)[0])
    steps = -(-len(idx_train) // bs)
    schedule = build_scheduler(optimizer, train_cfg["scheduler"], train_cfg["epochs"], steps, train_cfg["optimizer"]["lr"], monitor="val_loss")
    gen = torch.Generator().manual_seed(config["seed"])
    out.mkdir(parents=True, exist_ok=True)
    io.write_text(out / "config.yaml", dump_config(config))
    (out / "metrics.jsonl").unlink(missing_ok=True)

    def mse(mask) -> float | None:
        if not mask.any():
            return None
        model.eval()
        with torch.no_grad():
            m = torch.from_numpy(mask)
            value = torch.nn.functional.mse_loss(model(xs[m]), ys[m]).item()
        model.train()
        return value

    history, best, best_state = [], float("inf"), None
    start = time.perf_counter()
    for epoch in range(train_cfg["epochs"]):
        model.train()
        order = idx_train[torch.randperm(len(idx_train), generator=gen)]
        total = 0.0
        for s in range(0, len(order), bs):
            b = order[s : s + bs]
            loss = torch.nn.functional.mse_loss(model(xs[b]), ys[b])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            clip = train_cfg["gradients"].get("clip_norm")
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            schedule.batch_end()
            total += loss.item() * len(b)
        logs = {"epoch": epoch + 1, "train_loss": total / len(order), "val_loss": mse(va), "lr": optimizer.param_groups[0]["lr"]}
        schedule.epoch_end(logs)
        history.append(logs)
        io.append_jsonl(out / "metrics.jsonl", logs)
        watched = logs["val_loss"] if logs["val_loss"] is not None else logs["train_loss"]
        if watched < best:  # keep the best epoch's weights (validation loss when there is a validation part)
            best, best_state = watched, copy.deepcopy(model.state_dict())
    train_seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)

    model.eval()
    with torch.no_grad():
        pred = model(xs[torch.from_numpy(te)]).cpu().numpy() * std + mean
    truth = y[te]
    naive = np.repeat(x[te][:, -1, :], fc["horizon"], axis=1)
    ours, base = _errors(pred, truth), _errors(naive, truth)
    metrics = {
        "task": "forecast",
        "series": series.name,
        "test_mae": round(ours["mae"], 4), "test_rmse": round(ours["rmse"], 4),
        "naive_mae": round(base["mae"], 4), "naive_rmse": round(base["rmse"], 4),
        "skill_vs_naive": round(1 - ours["mae"] / base["mae"], 4) if base["mae"] else None,
        "test_windows": int(te.sum()), "train_windows": int(tr.sum()), "val_windows": int(va.sum()),
        "test_from": float(series.times[test_start]),
        "train_seconds": round(train_seconds, 3), "epochs": len(history),
        "parameters": sum(p.numel() for p in model.parameters()),
        "dataset": f"{series.name}: {len(series.values)} values, window {fc['window']}, horizon {fc['horizon']}",
    }
    meta = {"engine": "torch", "task": "forecast", "model": config["model"], "kind": "sequence",
            "input_shape": [fc["window"], 1], "num_classes": fc["horizon"], "classes": [],
            "dataset": series.name, "series": {"mean": mean, "std": std, "window": fc["window"], "horizon": fc["horizon"]},
            "preprocessing": {"kind": "tabular", "input_shape": [fc["window"], 1], "mean": [mean], "std": [std]}}
    save_model(out, model, meta)
    io.write_json(out / "metrics.json", metrics)
    plot_forecast(series, starts[te], pred[:, 0], naive[:, 0], history, out / "forecast.png",
                  f"{config['model']['name']} forecast of {series.name}: MAE {ours['mae']:.2f} vs naive {base['mae']:.2f}")
    return Run(dir=out, model=model, config=config, metrics=metrics, history=history)


def plot_forecast(series, target_index, pred, naive, history, path: Path, title: str) -> None:
    """The held-out end of the series: truth, the model's one-step forecasts and the naive ones; plus the loss curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(8, 6), gridspec_kw={"height_ratios": [2, 1]})
    ax.plot(series.times, series.values, color="0.75", lw=1, label="series (training part in grey)")
    t = series.times[target_index]
    ax.plot(t, series.values[target_index], color="black", lw=1.5, label="truth (held out)")
    ax.plot(t, pred, color="tab:red", lw=1.5, label="model forecast")
    ax.plot(t, naive, color="tab:blue", lw=1, ls="--", label="naive: last value")
    ax.axvline(t[0], color="0.5", ls=":")
    ax.set_ylabel(series.unit)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax2.plot([h["epoch"] for h in history], [h["train_loss"] for h in history], label="train MSE (standardised)")
    if any(h["val_loss"] is not None for h in history):
        ax2.plot([h["epoch"] for h in history], [h["val_loss"] for h in history], label="validation MSE")
    ax2.set_xlabel("epoch")
    ax2.set_yscale("log")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    io.atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)


def print_forecast_metrics(run) -> None:
    m = run.metrics
    print(f"{m['series']}: test MAE {m['test_mae']:.2f} (RMSE {m['test_rmse']:.2f}) vs naive last-value MAE "
          f"{m['naive_mae']:.2f} (RMSE {m['naive_rmse']:.2f}); skill {m['skill_vs_naive']:+.1%}")
    print(f"trained in {m['train_seconds']:.1f} s; forecast plot: {run.dir / 'forecast.png'}")
