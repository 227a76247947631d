"""The run's pictures: training curves, the confusion matrix, a forecast against the truth and the
learning-rate range test (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnforge import io


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def literal(text) -> str:
    """User text (a run folder, a class name, a CSV column or target value) as matplotlib should draw
    it: every '$' escaped, since a pair of them starts TeX math ("x$\\foo$y" failed the whole
    picture with a traceback, "$5 or $10" came out in italics). Escaped here, where user text enters
    a picture, rather than by turning math text off: log-scale axes label their ticks with it, and
    matplotlib's settings are the whole process's (a notebook's own plots share them)."""
    return str(text).replace("$", r"\$")


def save_figure(fig, path: Path, dpi: int = 110) -> Path:
    plt = _pyplot()
    io.atomic_write(path, lambda p: fig.savefig(p, dpi=dpi, bbox_inches="tight", format="png"))
    plt.close(fig)
    return path


def plot_curves(history: list[dict], path: Path, title: str = "", metric: str = "accuracy", *, metric_label: str | None = None,
                transform=None, loss_label: str = "loss") -> Path:
    """Loss and the task's metric (accuracy for classifiers) per epoch, training against validation, side by side.

    ``transform`` maps the logged metric to what is drawn (a regression logs MSE and draws its root,
    RMSE in the target's units, under ``metric_label``)."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    label = metric_label or metric.replace("_", " ")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, shown, how in ((axes[0], "loss", loss_label, None), (axes[1], metric, label, transform)):
        how = how or (lambda v: v)
        ax.plot(epochs, [how(h[f"train_{key}"]) for h in history], "o-", label="train", color="#1f77b4")
        val = [h.get(f"val_{key}") for h in history]
        if any(v is not None for v in val):
            ax.plot(epochs, [np.nan if v is None else how(v) for v in val], "s-", label="validation", color="#ff7f0e")
        ax.set_xlabel("epoch")
        ax.set_ylabel(shown)
        ax.set_title(shown)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(literal(title))
    fig.tight_layout()
    return save_figure(fig, path)


def plot_confusion(matrix: np.ndarray, classes: list[str], path: Path, title: str = "test confusion matrix") -> Path:
    """Counts with row-normalised colour, so a weak class stands out whatever its size."""
    plt = _pyplot()
    n, classes = len(classes), [literal(c) for c in classes]
    size = max(4.5, 0.45 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    rows = matrix.sum(1, keepdims=True).clip(min=1)
    ax.imshow(matrix / rows, cmap="Blues", vmin=0, vmax=1)
    if n <= 30:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if matrix[i, j] / rows[i, 0] > 0.5 else "black")
        ax.set_xticks(range(n), classes, rotation=45 if max(map(len, classes)) > 2 else 0, ha="right" if max(map(len, classes)) > 2 else "center")
        ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = np.trace(matrix) / max(1, matrix.sum())
    ax.set_title(f"{literal(title)} (accuracy {acc:.2%})")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_forecast(series, target_index, pred, naive, history, path: Path, title: str) -> None:
    """The held-out end of the series: truth, the model's one-step forecasts and the naive ones; plus the loss curves."""
    plt = _pyplot()
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(8, 6), gridspec_kw={"height_ratios": [2, 1]})
    ax.plot(series.times, series.values, color="0.75", lw=1, label="series (training part in grey)")
    t = series.times[target_index]
    ax.plot(t, series.values[target_index], color="black", lw=1.5, label="truth (held out)")
    ax.plot(t, pred, color="tab:red", lw=1.5, label="model forecast")
    ax.plot(t, naive, color="tab:blue", lw=1, ls="--", label="naive: last value")
    ax.axvline(t[0], color="0.5", ls=":")
    ax.set_ylabel(series.unit)
    ax.set_title(literal(title), fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax2.plot([h["epoch"] for h in history], [h["train_loss"] for h in history], label="train MSE (standardised)")
    if any(h["val_loss"] is not None for h in history):
        ax2.plot([h["epoch"] for h in history], [h["val_loss"] for h in history], label="validation MSE")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("MSE")
    ax2.set_yscale("log")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    io.atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)


def plot_lr_find(result, path: Path, title: str = "learning-rate range test") -> None:
    fig = lr_find_figure(result, title)
    io.atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    _pyplot().close(fig)


def lr_find_figure(result, title: str = "learning-rate range test"):
    """The sweep's chart: both curves inside it, the suggestion and the minimum marked, the key beside it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")
    low = min(result.losses) * 0.9 if result.losses else 0
    high = min(1.5 * result.losses[0], 4 * min(result.losses)) if result.losses else 1  # fastai's view: the start to the divergence
    if result.raw_losses:  # the noisy per-batch curve, clipped to the chart (marked where it leaves it)
        raw = np.clip(result.raw_losses, low, high)
        ax.plot(result.lrs, raw, color="0.8", lw=0.8, label="loss per batch (clipped to the chart)")
    ax.plot(result.lrs, np.clip(result.losses, low, high), lw=1.8, label="smoothed loss")
    ax.axvline(result.suggestion, color="tab:red", ls="--", label=f"suggested lr {result.suggestion:.2g}")
    ax.axvline(result.min_loss_lr, color="tab:gray", ls=":", label=f"minimum at {result.min_loss_lr:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.set_ylim(low, high * 1.05)
    ax.set_title(literal(title))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_embedding(feats: dict[str, np.ndarray], labels: np.ndarray, probes: dict[str, float], path) -> None:
    """The test digits' features in 2-D (t-SNE) — untrained encoder beside pretrained — coloured by the hidden labels.

    t-SNE rather than PCA: it keeps who is near whom, which is what the probe exploits; the two
    directions of largest variance mostly show stroke thickness. 500 iterations, not scikit-learn's
    1,000: on 1,000 digits the layout is settled by then (KL divergence 0.58 against 0.56 at 1,000,
    measured on scikit-learn's digits) at half the time, 1.6 s instead of 3.3 s per panel.
    """
    from matplotlib.figure import Figure
    from sklearn.manifold import TSNE

    fig = Figure(figsize=(10, 4.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, name, title in zip(axes, ("random", "pretrained"), ("untrained encoder", "after contrastive pretraining")):
        xy = TSNE(2, init="pca", perplexity=30, max_iter=500, random_state=0).fit_transform(feats[name])
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=6, vmin=-0.5, vmax=9.5)
        ax.set_title(f"{title}: linear probe {probes[name]:.1%}", fontsize=10)
        ax.set_xlabel("t-SNE 1")
        ax.set_ylabel("t-SNE 2")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(sc, ax=axes, ticks=range(10), fraction=0.03).set_label("digit (never seen in pretraining)")
    fig.suptitle("Test digits' features in 2-D, coloured by the labels the encoder never saw", fontsize=11)
    io.atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
