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
    if not isinstance(meta, dict):
        raise RunError(f"{meta_path}: holds a JSON {type(meta).__name__}; expected an object")
    for key in ("model", "classes", "preprocessing"):
        if key not in meta:
            raise RunError(f"{meta_path}: missing '{key}'; the run directory is incomplete")
    _check_meta(meta, meta_path)
    return meta


def _check_meta(meta: dict, meta_path: Path) -> None:
    """What every reader of ``model.json`` relies on, checked once here: a one-line RunError."""
    from nnforge.data.preprocess import Preprocessing
    from nnforge.data.preprocess_check import check_input_shape
    from nnforge.errors import DataError

    classes = meta["classes"]
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes) or len(classes) > 100_000:
        raise RunError(f"{meta_path}: 'classes' must be a list of class names (strings)")
    try:
        if "input_shape" in meta:
            check_input_shape(meta["input_shape"], meta.get("kind") == "image")
        pre = Preprocessing.from_dict(meta["preprocessing"])
        if "input_shape" in meta and meta.get("task") != "forecast" and pre.input_shape != meta["input_shape"]:
            raise DataError(f"the preprocessing's input_shape {pre.input_shape} is not the model's {meta['input_shape']}")
    except DataError as exc:
        raise RunError(f"{meta_path}: {exc}") from None


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise RunError(f"{path}: not a readable safetensors file ({exc})") from None
