"""docs/python.md's examples run as written, in order, in one namespace (as a reader would run them)."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_python_guide_runs_as_written(tmp_path, capsys):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "python.md").read_text(), re.S)
    assert len(blocks) >= 5
    os.symlink(ROOT / "nnforge", tmp_path / "nnforge")  # the guide runs from the repository root
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        namespace: dict = {}
        for block in blocks:
            exec(compile(block, "docs/python.md", "exec"), namespace)  # noqa: S102 - our own documentation
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "unknown key 'train.epoch' (did you mean 'epochs'?)" in out
    assert "epoch 2: val_loss" in out and "runs/py-digits finished test accuracy" in out
