"""A trained model rebuilt from its run directory alone, ready to predict.

``nnforge.load(run_dir)`` reads ``model.json`` and ``model.safetensors`` (never a pickle),
rebuilds the architecture, and converts raw inputs — image files, PIL images, CSV rows —
through the same :class:`~nnforge.data.Preprocessing` the model was trained with.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nnforge.data.preprocess import Preprocessing
from nnforge.errors import DataError, RunError
from nnforge.models import build_model
from nnforge.rundir import load_state, read_model_meta

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def classifier_meta(run_dir: str | Path) -> dict:
    """``model.json`` of a finished classification run; any other run is a one-line error."""
    meta = read_model_meta(run_dir)
    if meta.get("task") == "forecast":
        raise RunError(f"'{run_dir}' is a forecast run (task: forecast): its test errors are in metrics.json and its "
                       "forecast in forecast.png; eval, predict, serve, explain, compress and export take classification runs")
    return meta


class Predictor:
    def __init__(self, run_dir: str | Path, device: str = "cpu"):
        self.run_dir = Path(run_dir)
        self.meta = classifier_meta(self.run_dir)
        self.classes: list[str] = list(self.meta["classes"])
        self.kind: str = self.meta["kind"]
        self.input_shape = tuple(self.meta["input_shape"])
        self.preprocessing = Preprocessing.from_dict(self.meta["preprocessing"])
        self.device = torch.device(device)
        self.model = build_model(self.meta["model"], self.input_shape, len(self.classes), self.kind)
        state = load_state(self.run_dir / "model.safetensors")
        try:
            self.model.load_state_dict(state)
        except RuntimeError as exc:
            raise RunError(f"{self.run_dir}: weights do not fit the architecture in model.json ({str(exc).splitlines()[0]})") from None
        self.model.to(self.device).eval()

    @torch.inference_mode()
    def predict_stored(self, x: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
        """Probabilities for inputs in stored form (uint8 images or raw float rows)."""
        out = []
        for start in range(0, len(x), batch_size):
            xb = self.preprocessing(x[start : start + batch_size].to(self.device))
            out.append(torch.softmax(self.model(xb).float(), 1).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.classes)), np.float32)

    def predict_images(self, images) -> np.ndarray:
        if self.kind != "image":
            raise DataError("this model takes tabular rows, not images")
        return self.predict_stored(self.preprocessing.images_to_tensor(images))

    def predict_rows(self, rows) -> np.ndarray:
        if self.kind == "image":
            arr = np.asarray(rows, dtype=np.float32)
            pixels = int(np.prod(self.input_shape))
            if arr.ndim != 2 or arr.shape[1] != pixels:
                width = arr.shape[1] if arr.ndim == 2 else arr.size
                shape = "x".join(map(str, self.input_shape))
                raise DataError(f"this model takes {shape} images (PNG/JPEG files, or CSV rows of {pixels} pixel values); "
                                f"got rows of {width} values")
            arr = arr.reshape(-1, *self.input_shape)
            if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 255:
                raise DataError("pixel values must be finite numbers in 0-255")
            return self.predict_stored(torch.from_numpy(arr))
        return self.predict_stored(self.preprocessing.rows_to_tensor(rows))

    def predict_files(self, paths) -> list[tuple[str, np.ndarray]]:
        """(label, probabilities) per image file, or per row of each CSV file."""
        results: list[tuple[str, np.ndarray]] = []
        for path in map(Path, paths):
            if path.is_dir():
                raise DataError(f"'{path}' is a folder; pass the files in it, e.g. {path / '*.png'}")
            if not path.is_file():
                raise DataError(f"'{path}' not found; expected PNG/JPEG images or CSV files")
            suffix = path.suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                results.append((str(path), self.predict_images([open_image(path)])[0]))
            elif suffix == ".csv":
                for i, probs in enumerate(self.predict_rows(self.read_csv_rows(path))):
                    results.append((f"{path}:{i + 2}", probs))
            else:
                raise DataError(f"'{path}': unsupported file type '{suffix}'; accepted: .png, .jpg, .jpeg, .csv")
        return results

    def read_csv_rows(self, path: Path) -> np.ndarray:
        from nnforge.data.sources.tabular_csv import _read_rows, parse_features

        header, rows = _read_rows(path)
        names = self.preprocessing.feature_names
        if names and all(n in header for n in names):
            idx = [header.index(n) for n in names]
            rows = [[r[i] for i in idx] for r in rows]
            header = names
        return parse_features(header, rows, str(path))

    def top_k(self, probs: np.ndarray, k: int = 3, digits: int | None = None) -> list[dict]:
        """The ``k`` most probable classes, most probable first (ties: lower index first), with
        probabilities rounded to ``digits`` if given. Plain Python floats: the server calls this
        per request, and a short list sorts faster than NumPy can be called."""
        values = probs.tolist()
        order = sorted(range(len(values)), key=values.__getitem__, reverse=True)[:k]
        return [{"class": self.classes[i], "index": i, "probability": values[i] if digits is None else round(values[i], digits)}
                for i in order]


def open_image(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.format not in ("PNG", "JPEG"):
                raise DataError(f"'{path}' is {im.format}; accepted: PNG or JPEG")
            im.load()
            return im.copy()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"'{path}': not a readable image ({exc})") from None


def load(run_dir: str | Path, device: str = "cpu") -> Predictor:
    """Rebuild a trained model from its run directory."""
    return Predictor(run_dir, device)
