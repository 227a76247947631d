"""Lessons as Jupyter notebooks, converted by jupytext from the very scripts the CLI runs.

``write_notebook(name, folder)`` writes ``NAME.ipynb``; ``write_all(folder)`` writes every lesson
and ``index.ipynb``, which links them in curriculum order. Nothing is executed here: a learner
runs the cells (the pictures then appear under the cells that draw them), and the slow lesson
test executes every notebook in a real kernel.
"""
from __future__ import annotations

from pathlib import Path

from nnforge import io
from nnforge.errors import UserError

from . import LESSONS

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _jupytext():
    try:
        import jupytext
    except ImportError:
        raise UserError("notebooks need jupytext and nbformat: pip install 'nnforge[lessons]'") from None
    return jupytext


def lesson_notebook(name: str):
    """The lesson's cells as an nbformat notebook (unexecuted), straight from its script."""
    nb = _jupytext().read(LESSONS[name].script, fmt="py:percent")
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.pop("jupytext", None)
    return nb


def _write(nb, path: Path) -> Path:
    blocker = io.file_in_the_way(path.parent)
    if blocker is not None:
        where = "" if blocker == path.parent else f" ('{blocker}' is in the way)"
        raise UserError(f"cannot write notebooks into '{path.parent}'{where}: it is a file, not a folder")
    text = _jupytext().writes(nb, fmt="ipynb")
    io.make_dir(path.parent)  # a folder that cannot be made: one line
    return io.write_text(path, text)  # never a half-written notebook


def write_notebook(name: str, folder: str | Path) -> Path:
    return _write(lesson_notebook(name), Path(folder) / f"{name}.ipynb")


def index_notebook():
    """One Markdown cell: every lesson in curriculum order, its seed section and a link to it."""
    import nbformat

    rows = "\n".join(f"| {lesson.seed_section} | [{name}]({name}.ipynb) | {lesson.title} |"
                     for name, lesson in LESSONS.items())
    text = ("# nnforge: the curriculum as notebooks\n\n"
            "Each notebook is one section of the seed documents (1.2 the neuron ... 7.3 class imbalance, "
            "the maths foundations, and the next steps), run cell by cell: change a number, rerun the cell, "
            "see the picture change. Open them in order, or wherever your question is.\n\n"
            "| seed section | notebook | what you see |\n| --- | --- | --- |\n" + rows)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def write_all(folder: str | Path) -> list[Path]:
    """Every lesson's notebook plus ``index.ipynb``; returns the paths, index last."""
    folder = Path(folder)
    paths = [write_notebook(name, folder) for name in LESSONS]
    return paths + [_write(index_notebook(), folder / "index.ipynb")]
