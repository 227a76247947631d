"""Reshaping a dataset before training: a smaller training split, and resized images.

``data.train_fraction`` keeps a stratified, seeded part of the training split (the test split is
untouched, so scores stay comparable) — the "small labelled set" of transfer learning.
``data.image_size`` resizes every split's images, so a model pretrained on one image size can be
fine-tuned on another dataset (digits 8x8 -> 28x28 like MNIST). ``data.fit_content`` first crops
each image to its strokes and centres them in MNIST's margin (a 20x20 box in 28x28), the way MNIST
itself was made and the way uploads are converted (:class:`~nnforge.data.Preprocessing`).

:func:`apply_data_config` is the one place these keys act: training (``prepare``) and evaluation
(``nnforge eval``, ensembles) both call it, so a run is always scored on data shaped as it was trained.
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from nnforge.data.dataset import Dataset
from nnforge.errors import DataError, excerpt


def stratified_fraction(y: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Indices of a seeded ``fraction`` of every class (at least one example per class)."""
    gen = torch.Generator().manual_seed(seed)
    keep = []
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        k = max(1, int(round(len(idx) * fraction)))
        keep.append(idx[torch.randperm(len(idx), generator=gen)[:k]])
    return torch.sort(torch.cat(keep)).values


def keep_train_fraction(ds: Dataset, fraction: float, seed: int) -> Dataset:
    if fraction >= 1.0:
        return ds
    if fraction <= 0:
        raise DataError("'data.train_fraction' must be above 0; accepted: a number in (0, 1]")
    idx = stratified_fraction(ds.y_train, fraction, seed)
    return replace(ds, x_train=ds.x_train[idx], y_train=ds.y_train[idx])


def resize_images(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, *size), bilinear (antialiased when shrinking)."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    out = F.interpolate(x.float(), size=size, mode="bilinear", align_corners=False, antialias=True)
    return out.round().clamp(0, 255).to(torch.uint8)


def image_size_of(spec) -> tuple[int, int] | None:
    if spec is None:
        return None
    if isinstance(spec, int) and not isinstance(spec, bool) and spec > 0:
        return (spec, spec)
    if isinstance(spec, list) and len(spec) == 2 and all(isinstance(v, int) and v > 0 for v in spec):
        return (spec[0], spec[1])
    raise DataError(f"'data.image_size' is '{excerpt(spec)}'; accepted: N or [H, W] (positive integers)")


def fit_content_images(x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, *size): each image normalised as MNIST's digits were
    (:func:`~nnforge.data.preprocess.fit_to_frame`) — the conversion an uploaded drawing goes through."""
    import numpy as np

    from nnforge.data.preprocess import fit_to_frame

    height, width = size or tuple(x.shape[2:])
    out = [fit_to_frame(arr, (height, width)) for arr in x.permute(0, 2, 3, 1).numpy()]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()


def apply_data_config(ds: Dataset, data_cfg, seed: int) -> Dataset:
    """A loaded dataset reshaped as the recipe's ``data`` section asks: ``train_fraction``,
    ``fit_content`` and ``image_size``. Training and evaluation share it (see the module docstring)."""
    from nnforge.config import plain, section

    data_cfg = section("data", data_cfg)
    image_size = plain(data_cfg.image_size)
    ds = keep_train_fraction(ds, data_cfg.train_fraction, seed)
    if data_cfg.fit_content and ds.kind == "image":
        size = image_size_of(image_size) or tuple(ds.input_shape[1:])
        changes = {f"x_{s}": fit_content_images(getattr(ds, f"x_{s}"), size) for s in ("train", "test", "val")
                   if getattr(ds, f"x_{s}") is not None}
        return replace(ds, **changes)
    return resize_dataset(ds, image_size)


def resize_dataset(ds: Dataset, spec) -> Dataset:
    size = image_size_of(spec)
    if size is None or ds.kind != "image" or tuple(ds.input_shape[1:]) == size:
        return ds
    changes = {f"x_{s}": resize_images(getattr(ds, f"x_{s}"), size) for s in ("train", "test", "val") if getattr(ds, f"x_{s}") is not None}
    return replace(ds, **changes)
