"""Turning raw inputs into what the model was trained on — one code path for all of them.

Training, ``nnforge eval``, ``nnforge predict`` and the served model all convert inputs through
:class:`Preprocessing`, whose description is saved in ``model.json``. That is what makes a photo
of a digit, uploaded at any size or in any mode, reach the network the way training data did.
"""

from __future__ import annotations

import importlib
import struct
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch

from nnforge.errors import DataError, excerpt

try:  # Preprocessing._frame in C (setup.py); absent without a compiler. By name: the package would import itself
    _framing = importlib.import_module("nnforge.data._framing")
except ImportError:
    _framing = None

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
    encoding: dict | None = None  # tabular csv: text columns and missing cells (nnforge.data.tabular_encoding); omitted when None

    # -- building -------------------------------------------------------------------------
    @classmethod
    def fit(cls, dataset, normalize: bool = True, fit_content: bool = False) -> "Preprocessing":
        """Statistics come from the training split only, never from validation or test."""
        x = dataset.x_train
        if normalize and len(x) < 2:  # one example has no spread: its std is NaN and every input would be too
            raise DataError(f"the training split holds {len(x)} example{'s' if len(x) != 1 else ''}; standardising the inputs "
                            "needs at least 2: add examples or lower data.val_fraction")
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
                   feature_names=list(dataset.feature_names), encoding=getattr(dataset, "encoding", None))

    def to_dict(self) -> dict:
        data = asdict(self)
        if data["encoding"] is None:  # a table without text or missing cells: model.json as before
            del data["encoding"]
        return data

    def encoder(self):
        """The :class:`~nnforge.data.tabular_encoding.TabularEncoding` of raw rows, or None (numbers as they are)."""
        if self.encoding is None:
            return None
        if "_encoder" not in self.__dict__:
            from nnforge.data.tabular_encoding import TabularEncoding

            self.__dict__["_encoder"] = TabularEncoding(self.encoding["columns"])
        return self.__dict__["_encoder"]

    @classmethod
    def from_dict(cls, data: dict) -> "Preprocessing":
        """The preprocessing ``model.json`` describes, checked: every key known, every value of
        its type and within bounds (an input shape allocates a frame of that size per request).
        A problem is a one-line :class:`~nnforge.errors.DataError` naming the key."""
        from nnforge.data.preprocess_check import check_preprocessing

        return cls(**check_preprocessing(data, [f.name for f in fields(cls)]))

    # -- batches --------------------------------------------------------------------------
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Stored batch (uint8 images or float rows) -> standardised float32 model input."""
        if self.kind == "image":
            if self.denoise != "none":
                from nnforge.data.filters import denoise

                x = denoise(x.float(), self.denoise, self.denoise_size)
            scale, shift = self._affine_tensors(x.device)
            return x.to(torch.float32, copy=True).mul_(scale).add_(shift)  # in place on a copy: one allocation
        mean = torch.tensor(self.mean, device=x.device)
        std = torch.tensor(self.std, device=x.device)
        return (x.float() - mean) / std

    def _affine_tensors(self, device) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`image_affine` as (1, C, 1, 1) tensors on ``device``, made once per device and statistics
        (two tensor constructions per batch were a tenth of the seed MLP's step)."""
        key = (str(device), tuple(self.mean), tuple(self.std))
        cache = self.__dict__.setdefault("_affine_cache", {})
        if key not in cache:
            c = len(self.std)
            scale, shift = self.image_affine()
            cache[key] = (torch.tensor(scale, device=device).view(1, c, 1, 1), torch.tensor(shift, device=device).view(1, c, 1, 1))
        return cache[key]

    def feature_labels(self) -> list[str]:
        """Tabular inputs' feature names, or ``x0``, ``x1``, ... where the data named none."""
        return self.feature_names or [f"x{i}" for i in range(self.input_shape[0])]

    def image_affine(self) -> tuple[list[float], list[float]]:
        """Per-channel (scale, shift) taking uint8 pixels to standardised values: x * scale + shift.

        One source for every runtime that applies it (this class, the ONNX serving graph)."""
        return [1.0 / (255.0 * s) for s in self.std], [-m / s for m, s in zip(self.mean, self.std)]

    # -- raw inputs -----------------------------------------------------------------------
    def image_to_array(self, image) -> np.ndarray:
        """A PIL image of any size or mode -> uint8 array (C, H, W) like the training images.

        The recipe: composite transparent pixels onto white, convert to ``self.mode``, invert
        if the border's brightness says the background differs from training's, then
        :func:`fit_to_frame` (or a plain resize). Everything after the conversion runs in C
        (``nnforge/data/_framing.c``, built at install) when it is available: the server runs
        this once per request, and inside a busy server the Python version's dozen small calls
        cost more than the network's forward pass. :meth:`_frame` is the Python version,
        used without a C compiler, and the tests check that both give the same bytes.
        """
        image = self._in_mode(image)
        if _framing is not None and image.mode in ("L", "RGB"):
            return self._frame_native(image.tobytes(), image.width, image.height, image.mode)
        return self._frame(image)

    def pixels_to_array(self, pixels) -> np.ndarray:
        """:meth:`image_to_array` for pixels decoded without Pillow (a :class:`~nnforge.data.png.Pixels`)."""
        if _framing is not None and pixels.mode == self.mode:
            return self._frame_native(*pixels)
        from PIL import Image

        return self.image_to_array(Image.frombytes(pixels.mode, pixels.size, pixels.data))

    def _frame_native(self, data: bytes, width: int, height: int, mode: str) -> np.ndarray:
        out_height, out_width = self.input_shape[1:]
        frame = _framing.to_frame(data, height, width, 1 if mode == "L" else 3, out_height, out_width,
                                  self.fit_content, self.background == "light", CONTENT_FRACTION)
        return np.frombuffer(frame, dtype=np.uint8).reshape(-1, out_height, out_width)

    def _in_mode(self, image):
        """The decoded image upright, opaque and in ``self.mode`` (no copy where nothing changes)."""
        image.load()  # PNG's eXIf chunk may follow the pixels: info is complete only once loaded
        if _may_have_orientation(image):  # exif_transpose copies even when there is nothing to do
            from PIL import ImageOps

            try:
                image = ImageOps.exif_transpose(image)
            except (SyntaxError, ValueError, OSError, EOFError, struct.error) as exc:  # 'not a TIFF file', a cut-off IFD offset
                raise DataError(f"the image's EXIF data is damaged ({excerpt(exc, 100)}); save the image again without it") from None
        image = eight_bit(image)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            # Transparent pixels take the canvas colour opposite to the background we expect
            # after conversion: drawings on transparent canvases usually have dark strokes.
            return _on_white(image, self.mode)
        if image.mode != self.mode:  # a same-mode convert would copy
            return image.convert(self.mode)
        return image

    def _frame(self, image) -> np.ndarray:
        """The Python version of the step after :meth:`_in_mode`: background, inversion, framing.

        For a small upload the time goes into the number of operations (a few microseconds
        each, whatever the size), not into the pixels. So the pixels stay in one PIL image,
        which Pillow inverts, crops and resizes in C; numpy only reads them, through one view
        of ``tobytes()`` (half the cost of ``np.asarray(image)``).
        """
        from PIL import ImageChops

        height, width = self.input_shape[1:]
        data = image.tobytes()
        arr = np.frombuffer(data, dtype=np.uint8).reshape(image.height, image.width, -1)
        invert = (_border_mean(data, *arr.shape) >= 0.5) != (self.background == "light")
        if invert:
            image = ImageChops.invert(image)
        if self.fit_content:
            out = _fit_to_frame(image, 255 - arr if invert else arr, (height, width))
        else:
            out = _pixels(_lanczos(image, width, height))
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


WIDE_GREY = ("I", "I;16", "I;16B", "I;16L", "I;16N")  # how Pillow opens a 16-bit greyscale PNG


def eight_bit(image):
    """A 16-bit greyscale image as 8-bit greyscale (``L``), its range scaled (65535 -> 255).

    Pillow's ``convert("L")`` clamps instead: every value above 255 turns white, so a 16-bit
    PNG of a digit became a white silhouette. Other images are returned as they are."""
    if image.mode not in WIDE_GREY:
        return image
    from PIL import Image

    arr = np.clip(np.asarray(image, dtype=np.int64), 0, 65535)
    return Image.fromarray(((arr * 255 + 32767) // 65535).astype(np.uint8), "L")


def _may_have_orientation(image) -> bool:
    """False only when Pillow's ``getexif`` would find no Orientation tag (no EXIF, XMP or TIFF tags)."""
    info = image.info
    return (getattr(image, "_exif", None) is not None or hasattr(image, "tag_v2")
            or any(key in info for key in ("exif", "Raw profile type exif", "XML:com.adobe.xmp", "xmp")))


def _lanczos(image, width: int, height: int):
    """Pillow's Lanczos resize, always the horizontal pass first.

    Pillow resizes in two one-axis passes and rounds to 8 bits between them, so their order
    shows in the last bit; Pillow 13 picks the order by size. Two one-axis resizes fix it:
    the result then depends neither on Pillow's version nor on the size, and the C version
    (``_framing.c``) reproduces it exactly.
    """
    from PIL import Image

    if image.width != width:
        image = image.resize((width, image.height), Image.Resampling.LANCZOS)
    if image.height != height:
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return image


def _pixels(image) -> np.ndarray:
    """The pixels of an 8-bit PIL image as a read-only (H, W, C) uint8 array."""
    return np.frombuffer(image.tobytes(), dtype=np.uint8).reshape(image.height, image.width, -1)


def _border_mean(data: bytes, height: int, width: int, channels: int) -> float:
    """Mean (0-1) of the outer rows and columns of packed 8-bit pixels, corners counted twice.

    Plain Python over the bytes: a few slices, where numpy would take four calls of a
    microsecond or more each; the work grows with the image's perimeter, not its area."""
    row = width * channels
    columns = sum(sum(data[k::row]) + sum(data[row - channels + k :: row]) for k in range(channels))
    total = sum(data[:row]) + sum(data[-row:]) + columns
    return total / (2 * channels * (height + width)) / 255.0


def _on_white(image, mode: str):
    """A transparent image composited onto white (``Image.alpha_composite``), in ``mode``.

    Compositing leaves an opaque pixel exactly as it is (checked for every value), and it is
    costly (a division per pixel), while many RGBA uploads are opaque throughout (screenshots,
    canvases filled white): those are only converted. The test is cheap, and a transparent
    top-left corner skips it.
    """
    from PIL import Image, ImageChops

    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    if rgba.getpixel((0, 0))[3] == 255 and ImageChops.invert(rgba.getchannel("A")).getbbox() is None:
        return rgba.convert(mode)
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(canvas, rgba).convert(mode)


def fit_to_frame(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """MNIST's own normalisation of a drawing: (H, W, C) uint8 -> (*size, C) uint8.

    The strokes' bounding box is scaled (aspect kept) so its longer side fills 20/28 of the
    frame, then placed so that its centre of mass sits at the frame's centre — the way the
    MNIST digits were made, so a real MNIST digit passes through almost unchanged.
    """
    from PIL import Image

    return _fit_to_frame(Image.fromarray(arr[:, :, 0] if arr.shape[-1] == 1 else arr), arr, size)


def _fit_to_frame(image, arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """:func:`fit_to_frame` given both forms of the same pixels: the PIL ``image`` is cropped
    and resized, the (H, W, C) array ``arr`` is only read.

    Written for the server's per-request cost: the bounding box comes from each row's and
    column's peak (two reductions instead of a full-size mask), and the centre of mass of the
    small resized crop is summed in Python integers: float64 sums of these integers are exact
    too, and both divisions round correctly, so the result is the same to the last bit.
    """
    height, width = size
    # Brightest value in each row and column, over all channels. (The channels are reduced
    # last: numpy's max over a short last axis takes 0.3 s on a 12-megapixel photo.)
    rows_of_values = arr.reshape(arr.shape[0], -1)
    row_peak, col_peak = rows_of_values.max(axis=1), rows_of_values.max(axis=0)
    if arr.shape[-1] > 1:
        col_peak = col_peak.reshape(-1, arr.shape[-1]).max(axis=1)
    threshold = 0.2 * max(int(row_peak.max()), 1)
    rows = (row_peak > threshold).tobytes()  # one byte per row, 1 where a stroke crosses it
    if 1 not in rows:  # blank: nothing to centre
        return _pixels(_lanczos(image, width, height))
    cols = (col_peak > threshold).tobytes()
    top, bottom, left, right = rows.find(1), rows.rfind(1) + 1, cols.find(1), cols.rfind(1) + 1
    box = max(1, round(min(height, width) * CONTENT_FRACTION))
    scale = box / max(bottom - top, right - left)
    new_h, new_w = max(1, round((bottom - top) * scale)), max(1, round((right - left) * scale))
    crop = image.crop((left, top, right, bottom))
    small = _pixels(_lanczos(crop, new_w, new_h))
    mass = small[:, :, 0] if small.shape[-1] == 1 else small.max(axis=-1)
    row_mass, col_mass = mass.sum(axis=1).tolist(), mass.sum(axis=0).tolist()
    total = sum(row_mass) or 1
    cy = sum(i * m for i, m in enumerate(row_mass)) / total
    cx = sum(j * m for j, m in enumerate(col_mass)) / total
    top = min(max(int(round(height / 2 - cy)), 0), height - new_h)
    left = min(max(int(round(width / 2 - cx)), 0), width - new_w)
    out = np.zeros((height, width, arr.shape[-1]), dtype=np.uint8)
    out[top : top + new_h, left : left + new_w] = small
    return out
