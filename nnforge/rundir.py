"""The run directory: what ``nnforge train`` writes and every other command reads.

    config.yaml          the resolved recipe
    model.safetensors    the weights (no pickle anywhere)
    model.json           architecture, classes, preprocessing: enough to rebuild and serve
    metrics.jsonl        one line per epoch
    metrics.json         final metrics, including test_accuracy for classifiers
    curves.png, confusion.png
    checkpoints/         resumable training state
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from nnforge import io
from nnforge.errors import RunError

MODEL_FORMAT = 1


def save_model(run_dir: Path, model: torch.nn.Module, meta: dict) -> None:
    """Write ``model.safetensors`` and ``model.json`` (weights first, so metadata never points at nothing)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    io.atomic_write(run_dir / "model.safetensors", lambda p: save_file(state, str(p), metadata={"format": "pt"}))
    io.write_json(run_dir / "model.json", {"format": MODEL_FORMAT, **meta})


def read_model_meta(run_dir: str | Path) -> dict:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"run directory '{run_dir}' not found; pass a folder written by `nnforge train`")
    meta_path = run_dir / "model.json"
    if not meta_path.is_file() or not (run_dir / "model.safetensors").is_file():
        raise RunError(f"'{run_dir}' has no model.json/model.safetensors; is it a finished `nnforge train` run?")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{meta_path}: not valid JSON ({exc})") from None
    for key in ("model", "classes", "preprocessing"):
        if key not in meta:
            raise RunError(f"{meta_path}: missing '{key}'; the run directory is incomplete")
    return meta


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise RunError(f"{path}: not a readable safetensors file ({exc})") from None


def update_latest_link(run_dir: str | Path) -> Path | None:
    """Point ``runs/latest`` at ``run_dir`` when the run lives in a folder named ``runs``.

    ``nnforge eval runs/latest`` then always means the run trained last, where the glob
    ``runs/quickstart-*`` would match every quickstart so far. The link is relative (the folder
    can move) and swapped in by a rename, so a reader sees the old target or the new one. Runs
    written elsewhere, a ``latest`` that is not a link, or a file system without symlinks leave
    things as they are (None).
    """
    run_dir = Path(run_dir)
    if run_dir.parent.name != "runs" or run_dir.name == "latest":
        return None
    link = run_dir.parent / "latest"
    if link.exists() and not link.is_symlink():
        return None
    tmp = run_dir.parent / f".latest.{os.getpid()}.tmp"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(run_dir.name, tmp, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)
        return None
    return link
