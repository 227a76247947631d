"""A regression run's pictures: predicted against true, residuals against prediction, the error histogram."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnforge.report.plots import _pyplot, literal, save_figure


def plot_regression(pred: np.ndarray, truth: np.ndarray, names: list[str], path: Path, title: str = "") -> Path:
    """One row per target (at most four): a perfect model's points lie on the diagonal, its residuals
    scatter evenly around zero whatever the prediction, and its errors pile up near zero."""
    plt = _pyplot()
    pred, truth = np.asarray(pred).reshape(len(pred), -1), np.asarray(truth).reshape(len(truth), -1)
    rows = min(4, truth.shape[1])
    fig, axes = plt.subplots(rows, 3, figsize=(12, 3.6 * rows), squeeze=False)
    for i in range(rows):
        p, t, name = pred[:, i], truth[:, i], literal(names[i]) if i < len(names) else f"y{i}"
        res = t - p
        ax = axes[i, 0]
        ax.scatter(t, p, s=12, alpha=0.7)
        lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="perfect")
        ax.set_xlabel(f"true {name}")
        ax.set_ylabel(f"predicted {name}")
        ax.set_title("predicted vs true (test)")
        ax.legend(fontsize=8)
        ax = axes[i, 1]
        ax.scatter(p, res, s=12, alpha=0.7, color="tab:orange")
        ax.axhline(0, color="k", lw=1, ls="--")
        ax.set_xlabel(f"predicted {name}")
        ax.set_ylabel("residual (true - predicted)")
        ax.set_title("residuals vs prediction")
        ax = axes[i, 2]
        ax.hist(res, bins=min(30, max(5, len(res) // 4)), color="tab:green", alpha=0.8)
        ax.axvline(0, color="k", lw=1, ls="--")
        ax.set_xlabel("error (true - predicted)")
        ax.set_ylabel("test rows")
        ax.set_title(f"errors: MAE {np.abs(res).mean():.3g}")
        for a in axes[i]:
            a.grid(alpha=0.3)
    if title:
        fig.suptitle(literal(title))
    fig.tight_layout()
    return save_figure(fig, path)

