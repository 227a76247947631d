"""Small helpers the lessons share: headings, aligned tables and saving figures without pyplot.

Figures are built with ``matplotlib.figure.Figure`` (no global pyplot state, Agg rendering), so
lessons run the same on a server, in tests and in a terminal.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from matplotlib.figure import Figure


def heading(text: str) -> None:
    print(f"\n== {text} ==")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], fmt: str = "{:>12}") -> None:
    """Print rows under headers, numbers to 6 significant digits."""
    def cell(v: object) -> str:
        return fmt.format(f"{v:.6g}" if isinstance(v, float) else str(v))
    print(" ".join(cell(h) for h in headers))
    for row in rows:
        print(" ".join(cell(v) for v in row))


def figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = (6, 4)):
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


def save(fig: Figure, out_dir: Path, name: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")
    return path
