"""Pictures and tables shared by the classifier and regression explain reports: tabular rows'
attributions as signed bars, features ranked by importance, and the report written with the earlier
calls' pictures kept."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from nnforge import io
from nnforge.report.plots import literal


def md_cell(text) -> str:
    """``text`` as one Markdown table cell: a pipe escaped, a line break a space (a file or class name may hold either)."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def short_source(source: str) -> str:
    """A test example's source as a picture's label shows it: a long path keeps its end."""
    return source if len(source) <= 24 else "..." + source[-21:]


def where_from(sources: list[str] | None, i: int) -> str:
    """`` (line 17)``, `` (cat/003.png)``: where test example ``i`` came from, for a picture's label;
    nothing for a packaged dataset, whose index is all there is."""
    return f" ({short_source(sources[i])})" if sources is not None else ""


def source_column(rows: list[dict]) -> tuple[str, str, Callable[[dict], str]]:
    """The optional "source" column of a Markdown table of test examples: its header cell, its
    alignment cell and a row's cell, all empty when no row names its source (a packaged dataset)."""
    if not any("source" in r for r in rows):
        return "", "", lambda r: ""
    return " source |", " --- |", lambda r: f" {md_cell(r.get('source', ''))} |"


def _plt():
    from nnforge.report.plots import _pyplot

    return _pyplot()


def _save(fig, path: Path) -> Path:
    """The report's writer (atomic, Agg), at explain's 100 dpi."""
    from nnforge.report.plots import save_figure

    return save_figure(fig, path, dpi=100)


def plot_feature_attributions(maps: np.ndarray, features: list[str], labels: list[str], method: str, path: Path,
                              top: int = 8) -> Path:
    """One panel per chosen row: its ``top`` strongest features, red for the class, blue against."""
    plt = _plt()
    n = len(maps)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 0.32 * top * rows + 1.0), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, m, label in zip(axes.flat, maps, labels):
        ax.axis("on")
        order = np.argsort(-np.abs(m), kind="stable")[:top][::-1]
        ax.barh(range(len(order)), m[order], color=["#c0392b" if v > 0 else "#2e6da4" for v in m[order]])
        ax.set_yticks(range(len(order)), [literal(features[i]) for i in order], fontsize=7)
        ax.axvline(0, color="#888", linewidth=0.6)
        ax.tick_params(axis="x", labelsize=6)
        ax.set_title(literal(label.replace("\n", ", ")), fontsize=7)
    fig.suptitle(f"{method}: strongest features for the predicted class (red: for, blue: against)")
    fig.tight_layout()
    return _save(fig, path)

def plot_importance(importance: list[dict], method: str, path: Path, top: int = 20) -> Path:
    plt = _plt()
    shown = importance[:top][::-1]
    fig, ax = plt.subplots(figsize=(5.5, 0.3 * len(shown) + 1.0))
    ax.barh(range(len(shown)), [r["mean_abs_attribution"] for r in shown], color="#c0392b")
    ax.set_yticks(range(len(shown)), [literal(r["feature"]) for r in shown], fontsize=8)
    ax.set_xlabel("mean |attribution| over the test rows explained")
    ax.set_title(f"{method}: feature importance")
    fig.tight_layout()
    return _save(fig, path)

def feature_importance(maps: np.ndarray, features: list[str]) -> list[dict]:
    """Features ranked by mean absolute attribution (ties keep the column order)."""
    mean_abs = np.abs(maps).mean(0)
    order = np.argsort(-mean_abs, kind="stable")
    return [{"feature": features[i], "mean_abs_attribution": float(mean_abs[i])} for i in order]

def _keep_earlier_methods(report: dict, previous_path: Path) -> None:
    """Keep the pictures earlier ``explain`` calls on this run made with methods not run this time.

    ``explain --method gradcam`` then ``explain --method ig`` leaves both pictures in
    ``explain/``; the report lists both (this call's first, the earlier ones named in
    ``files_from_earlier_calls``), not only the last. Tables (importances) are this call's only.
    """
    try:
        previous = io.loads_json(previous_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    earlier = []
    for key, path in (previous.get("files") or {}).items():
        if key not in report["files"] and isinstance(path, str) and Path(path).is_file():
            report["files"][key] = path
            earlier.append(key)
    if earlier:
        report["files_from_earlier_calls"] = earlier


def write_report(out: Path, report: dict, files: dict, markdown: Callable[[dict], str]) -> dict:
    """``report.json`` and ``report.md`` in ``out``: this call's ``files``, plus the pictures earlier
    calls left there; ``markdown`` renders the finished report."""
    report["files"] = files
    _keep_earlier_methods(report, out / "report.json")
    io.write_json(out / "report.json", report)
    io.write_text(out / "report.md", markdown(report))
    return report
