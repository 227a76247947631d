"""Run a lesson's percent-format script as a plain Python script, writing its pictures to a folder.

The same file is the lesson the CLI runs and the notebook jupytext builds (``notebooks.py``):
``# %%`` lines are comments to Python, so executing the file runs every code cell in order.
"""
from __future__ import annotations

import runpy
from pathlib import Path

from ._common import writing_to


def run_script(script: Path, out_dir: Path) -> None:
    """Execute ``script`` top to bottom; its ``lesson_folder(...)`` answers ``out_dir``."""
    with writing_to(Path(out_dir)):
        runpy.run_path(str(script), run_name="__main__")
