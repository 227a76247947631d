"""Small helpers the lessons share: headings, aligned tables, the output folder and one way to save a figure.

Figures are built with ``matplotlib.figure.Figure`` (no global pyplot state, Agg rendering), so
lessons run the same on a server, in tests, in a terminal and in a Jupyter kernel. Every lesson
picture goes through :func:`save`, which checks it for what a reader would trip over
(``_figcheck``), writes the PNG and, inside a notebook, shows it under the cell that drew it.
"""
from __future__ import annotations

import contextlib
import io
import sys
import warnings
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator, Sequence

from matplotlib.figure import Figure

from nnforge import io as files

from ._figcheck import FigureWarning, figure_problems

_OUT: ContextVar[Path | None] = ContextVar("lesson_out", default=None)


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


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, as before it afterwards.

    A lesson's models are tiny: splitting each small matmul across threads costs more than it
    saves, and on a busy machine it costs a lot (300 of the GAN lesson's steps: 3.7 s on one
    thread, 20.5 s on two, 2-core machine under load).
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def writing_to(out_dir: Path) -> Iterator[Path]:
    """While a lesson script runs from the CLI, :func:`lesson_folder` answers ``out_dir``."""
    token = _OUT.set(Path(out_dir))
    try:
        yield Path(out_dir)
    finally:
        _OUT.reset(token)


def lesson_folder(name: str) -> Path:
    """Where the lesson's pictures go: the CLI's ``--out`` when run from it, else ``lessons_out/NAME``."""
    out = _OUT.get() or Path("lessons_out") / name
    out.mkdir(parents=True, exist_ok=True)
    return out


def _in_notebook() -> bool:
    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


def save(fig: Figure, out_dir: Path, name: str) -> None:
    """Check the figure (a :class:`FigureWarning` per problem), write it as PNG, show it in a notebook."""
    for problem in figure_problems(fig):
        warnings.warn(f"{name}: {problem}", FigureWarning, stacklevel=2)
    path = out_dir / name
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    files.write_bytes(path, buffer.getvalue())  # atomic: a lesson stopped mid-write leaves no torn PNG
    print(f"wrote {path}")
    if _in_notebook():
        from IPython.display import Image, display

        display(Image(data=buffer.getvalue(), format="png"))


def show_png(source: Path, out_dir: Path, name: str) -> None:
    """Copy a picture a run wrote (a run directory's plot) into the lesson's folder and show it in a notebook."""
    data = Path(source).read_bytes()
    files.write_bytes(out_dir / name, data)
    print(f"wrote {out_dir / name}")
    if _in_notebook():
        from IPython.display import Image, display

        display(Image(data=data, format="png"))
