"""Turning raw inputs into what the model was trained on — one code path for all of them.

Training, ``nnforge eval``, ``nnforge predict`` and the served model all convert inputs through
:class:`Preprocessing`, whose description is saved in ``model.json``. That is what makes a photo
of a digit, uploaded at any size or in any mode, reach the network the way training data did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from nnforge.errors import DataError

# Digits datasets are written white-on-black and centred in a margin (MNIST: a 20x20 box in
# 28x28); an uploaded drawing is brought to that form before resizing.
CONTENT_FRACTION = 20 / 28


@dataclass
class Preprocessing:
    """How inputs are converted and standardised; serialisable to and from ``model.json``."""

    kind: str  # "image" or "tabular"
    input_shape: list[int]
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    mode: str = "L"  # image: "L" (grey) or "RGB"
    background: str = "dark"  # image: the training images' background
    fit_content: bool = False  # image: crop to the drawn content and centre it, as MNIST does
    feature_names: list[str] = field(default_factory=list)
    denoise: str = "none"  # image: "median" or "gaussian" filter before standardising (data.denoise)
    denoise_size: int = 3

    # -- building -------------------------------------------------------------------------
    @classmethod
    def fit(cls, dataset, normalize: bool = True, fit_content: bool = False) -> "Preprocessing":
        """Statistics come from the training split only, never from validation or test."""
        x = dataset.x_train
        if dataset.kind == "image":
            xf = x.float() / 255.0
            dims = (0, 2, 3)
            mean = xf.mean(dim=dims).tolist() if normalize else [0.0] * x.shape[1]
            std = xf.std(dim=dims).clamp_min(1e-6).tolist() if normalize else [1.0] * x.shape[1]
            border = torch.cat([xf[:, :, 0, :].flatten(), xf[:, :, -1, :].flatten()]).mean().item()
            return cls(
                kind="image",
                input_shape=list(x.shape[1:]),
                mean=mean,
                std=std,
                mode="L" if x.shape[1] == 1 else "RGB",
                background="dark" if border < 0.5 else "light",
                fit_content=fit_content,
            )
        mean = x.mean(dim=0).tolist() if normalize else [0.0] * x.shape[1]
        std = x.std(dim=0).clamp_min(1e-6).tolist() if normalize else [1.0] * x.shape[1]
        return cls(kind="tabular", input_shape=list(x.shape[1:]), mean=mean, std=std,
                   feature_names=list(dataset.feature_names))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Preprocessing":
        return cls(**data)

    # -- batches --------------------------------------------------------------------------
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Stored batch (uint8 images or float rows) -> standardised float32 model input."""
        if self.kind == "image":
            if self.denoise != "none":
                from nnforge.data.filters import denoise

                x = denoise(x.float(), self.denoise, self.denoise_size)
            c = x.shape[1]
            scale = torch.tensor([1.0 / (255.0 * s) for s in self.std], device=x.device).view(1, c, 1, 1)
            shift = torch.tensor([-m / s for m, s in zip(self.mean, self.std)], device=x.device).view(1, c, 1, 1)
            return x.float() * scale + shift
        mean = torch.tensor(self.mean, device=x.device)
        std = torch.tensor(self.std, device=x.device)
        return (x.float() - mean) / std

    # -- raw inputs -----------------------------------------------------------------------
    def image_to_array(self, image) -> np.ndarray:
        """A PIL image of any size or mode -> uint8 array (C, H, W) like the training images."""
        from PIL import Image, ImageOps

        # The server runs this per request: skip what cannot change the result (exif_transpose
        # copies the image even when there is no orientation to apply; a same-mode convert copies).
        image.load()  # PNG's eXIf chunk may follow the pixels: info is complete only once loaded
        if _may_have_orientation(image):
            image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            # Transparent pixels take the canvas colour opposite to the background we expect
            # after conversion: drawings on transparent canvases usually have dark strokes.
            rgba = image.convert("RGBA")
            canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(canvas, rgba)
        if image.mode != self.mode:
            image = image.convert(self.mode)
        channels, height, width = self.input_shape
        arr = np.asarray(image, dtype=np.uint8)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        # Mean of the outer rows and columns (corners counted twice), from integer sums.
        total = (int(arr[0].sum(dtype=np.int64)) + int(arr[-1].sum(dtype=np.int64))
                 + int(arr[:, 0].sum(dtype=np.int64)) + int(arr[:, -1].sum(dtype=np.int64)))
        border = total / (2 * arr.shape[-1] * (arr.shape[0] + arr.shape[1])) / 255.0
        if (border >= 0.5) != (self.background == "light"):
            arr = 255 - arr
        if self.fit_content:
            return np.ascontiguousarray(fit_to_frame(arr, (height, width)).transpose(2, 0, 1))
        resized = Image.fromarray(arr.squeeze(-1) if arr.shape[-1] == 1 else arr).resize(
            (width, height), Image.Resampling.LANCZOS
        )
        out = np.asarray(resized, dtype=np.uint8)
        if out.ndim == 2:
            out = out[:, :, None]
        return np.ascontiguousarray(out.transpose(2, 0, 1))

    def images_to_tensor(self, images) -> torch.Tensor:
        return torch.from_numpy(np.stack([self.image_to_array(im) for im in images]))

    def rows_to_tensor(self, rows) -> torch.Tensor:
        arr = np.asarray(rows, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[None]
        expected = int(np.prod(self.input_shape))
        if arr.ndim != 2 or arr.shape[1] != expected:
            raise DataError(f"expected rows of {expected} numbers, got an array of shape {tuple(arr.shape)}")
        if not np.isfinite(arr).all():
            raise DataError("inputs contain NaN or infinite values; accepted: finite numbers")
        return torch.from_numpy(arr)


def _may_have_orientation(image) -> bool:
    """False only when Pillow's ``getexif`` would find no Orientation tag (no EXIF, XMP or TIFF tags)."""
    info = image.info
    return (getattr(image, "_exif", None) is not None or hasattr(image, "tag_v2")
            or any(key in info for key in ("exif", "Raw profile type exif", "XML:com.adobe.xmp", "xmp")))


def fit_to_frame(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """MNIST's own normalisation of a drawing: (H, W, C) uint8 -> (*size, C) uint8.

    The strokes' bounding box is scaled (aspect kept) so its longer side fills 20/28 of the
    frame, then placed so that its centre of mass sits at the frame's centre — the way the
    MNIST digits were made, so a real MNIST digit passes through almost unchanged.
    """
    from PIL import Image

    # Written for speed (the server runs it per request): plain-Python scalars, no np.clip/np.where.
    height, width = size
    grey = arr[:, :, 0] if arr.shape[-1] == 1 else arr.max(axis=-1)
    mask = grey > 0.2 * max(int(grey.max()), 1)
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        image = Image.fromarray(arr.squeeze(-1) if arr.shape[-1] == 1 else arr)
        out = np.asarray(image.resize((width, height), Image.Resampling.LANCZOS), dtype=np.uint8)
        return out[:, :, None] if out.ndim == 2 else out
    cols = np.flatnonzero(mask.any(axis=0))
    crop = arr[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    box = max(1, round(min(height, width) * CONTENT_FRACTION))
    scale = box / max(crop.shape[:2])
    new_h, new_w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    image = Image.fromarray(crop.squeeze(-1) if crop.shape[-1] == 1 else crop)
    small = np.asarray(image.resize((new_w, new_h), Image.Resampling.LANCZOS), dtype=np.uint8)
    small = small[:, :, None] if small.ndim == 2 else small
    mass = (small[:, :, 0] if small.shape[-1] == 1 else small.max(axis=-1)).astype(np.float64)
    total = mass.sum() or 1.0
    cy = (mass.sum(1) * np.arange(new_h)).sum() / total
    cx = (mass.sum(0) * np.arange(new_w)).sum() / total
    top = min(max(int(round(height / 2 - cy)), 0), height - new_h)
    left = min(max(int(round(width / 2 - cx)), 0), width - new_w)
    out = np.zeros((height, width, arr.shape[-1]), dtype=np.uint8)
    out[top : top + new_h, left : left + new_w] = small
    return out
