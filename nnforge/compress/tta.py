"""Test-time augmentation: average a model's probabilities over a few deterministic views.

The views are label-preserving for the data: the image itself and one-pixel shifts in the four
directions (filled with the background colour), plus horizontal mirrors when the run was
trained with ``data.augment.hflip`` (mirroring a digit changes its meaning; a cat stays a cat).
Tabular inputs have no such views; ``nnforge eval --tta`` refuses them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))


def shift(x: torch.Tensor, dy: int, dx: int, fill: int) -> torch.Tensor:
    """Translate a uint8 batch (N, C, H, W) by whole pixels; uncovered pixels take ``fill``."""
    out = torch.full_like(x, fill)
    h, w = x.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)]
    return out


def tta_views(x: torch.Tensor, background: str = "dark", hflip: bool = False) -> list[torch.Tensor]:
    fill = 255 if background == "light" else 0
    views = [shift(x, dy, dx, fill) for dy, dx in SHIFTS]
    if hflip:
        views += [v.flip(-1) for v in views[:1]]
    return views


def trained_with_hflip(run_dir: str | Path) -> bool:
    from nnforge.rundir import read_recipe

    if not (Path(run_dir) / "config.yaml").is_file():
        return False
    return read_recipe(run_dir).data.augment.hflip


def predict_tta(predictor, x: torch.Tensor) -> np.ndarray:
    """Mean probabilities over the views of ``x`` (stored form); plain prediction for tabular runs."""
    if predictor.kind != "image":
        return predictor.predict_stored(x)
    views = tta_views(x, predictor.preprocessing.background, trained_with_hflip(predictor.run_dir))
    return np.mean([predictor.predict_stored(v) for v in views], axis=0)
