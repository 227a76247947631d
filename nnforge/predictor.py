"""A trained model rebuilt from its run directory alone, ready to predict.

``nnforge.load(run_dir)`` reads ``model.json`` and ``model.safetensors`` (never a pickle),
rebuilds the architecture, and converts raw inputs — image files, PIL images, CSV rows —
through the same :class:`~nnforge.data.Preprocessing` the model was trained with.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnforge.data.preprocess import Preprocessing
from nnforge.errors import ConfigError, DataError, RunError, excerpt
from nnforge.models import build_model, check_model_config
from nnforge.rundir import load_state, read_model_meta

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def classifier_meta(run_dir: str | Path) -> dict:
    """``model.json`` of a finished classification run; any other run is a one-line error."""
    meta = read_model_meta(run_dir)
    task = meta.get("task")
    if task in _NOT_CLASSIFIERS:
        raise RunError(f"'{run_dir}' is a {task} run (task: {task}): {_NOT_CLASSIFIERS[task]}; "
                       "eval, predict, serve, explain, compress and export take classification and regression runs")
    return meta


_NOT_CLASSIFIERS = {"forecast": "its test errors are in metrics.json and its forecast in forecast.png",
                    "contrastive": "a pretrained encoder, judged by the linear probe in metrics.json; fine-tune it with "
                                   "train.init.weights (configs/ssl_finetune_mnist.yaml)"}


@dataclass(frozen=True)
class Estimate:
    """What :meth:`Predictor.predict` gives for one row of a regression run: the predicted value of
    each target in the target's own units (``value``: the first target's)."""

    value: float
    values: dict[str, float]
    source: str | None = None


@dataclass(frozen=True)
class Prediction:
    """What :meth:`Predictor.predict` gives for one input: the most probable class, every class's
    probability, and the ``top`` most probable classes (most probable first)."""

    label: str
    probabilities: dict[str, float]
    top: list[dict]
    source: str | None = None  # the file (and CSV line) it came from, when it came from one


class Predictor:
    """A trained classifier rebuilt from its run directory; ``help(nnforge.load(run))`` shows this.

    ``predict(x)`` is the method for people; ``predict_files``, ``predict_images``, ``predict_rows``
    and ``predict_stored`` are the steps it is made of (the CLI and the server call them directly).
    ``classes``, ``kind`` (image or tabular) and ``input_shape`` describe what the model expects.
    """

    def __init__(self, run_dir: str | Path, device: str = "cpu"):
        self.run_dir = Path(run_dir)
        self._setup(classifier_meta(self.run_dir), load_state(self.run_dir / "model.safetensors"), device)

    @classmethod
    def from_state(cls, meta: dict, state: dict, device: str = "cpu") -> "Predictor":
        """A model rebuilt from a ``model.json`` mapping and its weights held in memory (no run
        directory: how :mod:`nnforge.sklearn` keeps a fitted estimator)."""
        predictor = cls.__new__(cls)
        predictor.run_dir = None
        predictor._setup(meta, state, device)
        return predictor

    def _setup(self, meta: dict, state: dict, device: str) -> None:
        self.meta = meta
        self.classes: list[str] = list(self.meta["classes"])
        self.kind: str = self.meta["kind"]
        self.input_shape = tuple(self.meta["input_shape"])
        self.preprocessing = Preprocessing.from_dict(self.meta["preprocessing"])
        self.device = torch.device(device)
        self.model = build_saved_model(self.meta["model"], self.input_shape, len(self.classes), self.kind, state, self.run_dir)
        self.model.to(self.device).eval()
        self.task: str = self.meta.get("task", "classify")
        self.regression = self.task == "regress"
        if self.regression:
            target = self.meta.get("target")
            if not isinstance(target, dict) or len(target.get("mean", [])) != len(self.classes) \
                    or len(target.get("std", [])) != len(self.classes):
                raise RunError(f"{self.run_dir}/model.json: a regression run needs 'target' with one mean and std per output")
            self.target_mean = np.asarray(target["mean"], np.float32)
            self.target_std = np.asarray(target["std"], np.float32)

    def __repr__(self) -> str:
        names = self.classes if len(self.classes) <= 10 else [*self.classes[:10], "..."]
        what = "targets" if self.regression else "classes"
        where = f"'{self.run_dir}'" if self.run_dir is not None else "in memory"
        return f"Predictor({where}: {self.task}, {self.kind} input {self.input_shape}, {len(self.classes)} {what} {names})"

    @property
    def output_names(self) -> list[str]:
        """The classes of a classifier; the target names of a regression run."""
        return self.classes

    def check_dataset(self, dataset, hint: str = "") -> None:
        """Refuse a test split this classifier cannot score (other classes or another input shape)
        in one line: fed to the network, it would fail inside it with a shape error. Classes that spell
        the model's numbers otherwise (``1.0`` for ``1``: another csv export) are the model's."""
        from nnforge.data.sources.tabular_csv import same_classes

        classes = self.classes if same_classes(dataset.classes, self.classes) else dataset.classes
        if classes != self.classes and dataset.num_classes == len(self.classes):  # as many, other names: say which
            other, theirs = [str(c) for c in classes if c not in self.classes], excerpt(", ".join(map(str, self.classes)), 120)
            what = (f"it holds the class{'es' if len(other) > 1 else ''} {excerpt(', '.join(other), 120)}, which the model does not "
                    f"predict (the model's: {theirs})") if other else f"its classes are in another order than the model's ({theirs})"
            raise DataError(f"dataset '{dataset.name}' does not match the model: {what}{hint}")
        if classes != self.classes or tuple(dataset.input_shape) != self.input_shape:
            raise DataError(f"dataset '{dataset.name}' ({dataset.num_classes} classes, {dataset.input_shape}) does not match the model "
                            f"({len(self.classes)} classes, {self.input_shape}){hint}")
        if getattr(dataset, "encoding", None) != self.preprocessing.encoding:  # same width, other categories or medians
            raise DataError(f"dataset '{dataset.name}' encodes its text columns or missing cells differently from the model's "
                            f"training data{hint}; predict its rows instead (nnforge predict RUN FILE.csv)")

    @torch.inference_mode()
    def predict_stored(self, x: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
        """Probabilities for inputs in stored form (uint8 images or raw float rows); for a
        regression run, the predicted values (N, targets) in the target's own units."""
        out = []
        for start in range(0, len(x), batch_size):
            xb = self.preprocessing(x[start : start + batch_size].to(self.device))
            y = self.model(xb).float()
            out.append(y.cpu() if self.regression else torch.softmax(y, 1).cpu())
        result = torch.cat(out).numpy() if out else np.zeros((0, len(self.classes)), np.float32)
        return result * self.target_std + self.target_mean if self.regression else result

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

    def predict_records(self, records: list[dict]) -> np.ndarray:
        """Rows as ``{column: value}`` (numbers, text, None for a missing cell) for a model trained on
        a CSV with text columns or missing cells, encoded as in training."""
        encoder = self.preprocessing.encoder()
        if encoder is None:
            raise DataError("this model takes rows of numbers (a NumPy array or CSV files), not {column: value} objects")
        records = [{k: None if _is_nan(v) else v for k, v in r.items()} if isinstance(r, dict) else r for r in records]
        return self.predict_stored(torch.from_numpy(encoder.transform_records(records)))

    def predict_frame(self, frame) -> np.ndarray:
        """A pandas DataFrame's rows, read as a CSV file's are (:meth:`predict_files`): columns matched
        by name, in any order, others (the target) ignored, NaN or None a missing cell."""
        encoder = self.preprocessing.encoder()
        if encoder is None:
            raise DataError("this model takes rows of numbers: pass frame.to_numpy() with the training columns in their order")
        rows = [["" if v is None or _is_nan(v) else str(v) for v in row] for row in frame.itertuples(index=False, name=None)]
        return self.predict_stored(torch.from_numpy(encoder.transform_table([str(c) for c in frame.columns], rows, "DataFrame")))

    def predict_files(self, paths) -> list[tuple[str, np.ndarray]]:
        """(label, probabilities) per image file, or per row of each CSV file.

        Images that were not already in the model's form (a colour photo for a greyscale model,
        another size) are converted as in training; :attr:`notes` then says, per file, what was done."""
        results: list[tuple[str, np.ndarray]] = []
        self.notes: dict[str, str] = {}
        for path in map(Path, paths):
            if path.is_dir():
                raise DataError(f"'{path}' is a folder; pass the files in it, e.g. {path / '*.png'}")
            if not path.is_file():
                raise DataError(f"'{path}' not found; expected PNG/JPEG images or CSV files")
            suffix = path.suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                image = open_image(path)
                note = conversion_note(image.mode, image.size, self.preprocessing)
                if note:
                    self.notes[str(path)] = note
                try:
                    results.append((str(path), self.predict_images([image])[0]))
                except DataError as exc:  # the image's own problem (damaged EXIF): say which file
                    raise DataError(f"'{path}': {exc}") from None
            elif suffix in (".csv", ".tsv"):  # csv:data.tsv trains (the delimiter is sniffed): its rows predict too
                rows, lines = self.read_csv_rows(path)
                results += [(f"{path}:{line}", probs) for line, probs in zip(lines, self.predict_rows(rows))]
            else:
                raise DataError(f"'{path}': unsupported file type '{suffix}'; accepted: .png, .jpg, .jpeg, .csv, .tsv")
        return results

    def read_csv_rows(self, path: Path) -> tuple[np.ndarray, list[int]]:
        from nnforge.data.sources.tabular_csv import _read_rows, parse_features
        from nnforge.errors import file_excerpt

        header, rows, lines = _read_rows(path)  # rows as wide as the header: a short row was an IndexError, a long one cut silently
        encoder = self.preprocessing.encoder()
        if encoder is not None:  # text columns and missing cells, encoded as in training
            return encoder.transform_table(header, rows, str(path), lines), lines
        names = self.preprocessing.feature_names
        if names and all(n in header for n in names):
            idx = [header.index(n) for n in names]
            rows = [[r[i] for i in idx] for r in rows]
            header = names
        elif names and any(n in header for n in names):  # some named, some not: read by position, a misspelt column was silently another
            missing = [n for n in names if n not in header]
            shown = file_excerpt(path, ", ".join(missing), 120)
            raise DataError(f"{path}: the header lacks {len(missing)} of the model's columns" + (f" ({shown})" if shown else "")
                            + "; name every column as in training (their order does not matter)")
        return parse_features(header, rows, str(path), lines), lines

    def predict(self, x: Any, top: int = 3) -> "Prediction | Estimate | list":
        """Classes for one input or a batch (a regression run: an :class:`Estimate` of its values).

        ``x``: an image or CSV file path (or a list of them); a PIL image (or a list); a NumPy array
        or torch tensor in the dataset's stored form — for an image model pixels 0-255 shaped
        (H, W) or (C, H, W) for one image and (N, H, W) or (N, C, H, W) for a batch, for a table
        model (features,) or (N, features); nested lists of numbers are read as such an array. One input gives a :class:`Prediction`, a batch or a
        list gives a list of them. A model trained on a CSV with text columns or missing cells also
        takes rows as dicts ``{column: value}`` (None or NaN: missing), encoded as in training, and a
        pandas DataFrame, read as a CSV file (:meth:`predict_frame`); a DataFrame gives a list.
        """
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise DataError(f"top is {top!r}; accepted: a positive whole number")
        if _is_frame(x):  # a pandas DataFrame: its rows, as those of a CSV file
            return [self._prediction(p, top) for p in self.predict_frame(x)]
        single = not isinstance(x, (list, tuple))
        items = [x] if single else list(x)
        if not items:
            raise DataError("nothing to predict: pass a file, an image, an array or a tensor (or a non-empty list)")
        if all(isinstance(i, (str, Path)) for i in items):
            results = [self._prediction(p, top, name) for name, p in self.predict_files(items)]
            return results[0] if single and len(results) == 1 else results
        if all(isinstance(i, dict) for i in items) and self.preprocessing.encoder() is not None:
            results = [self._prediction(p, top) for p in self.predict_records(items)]
            return results[0] if single else results
        if all(_is_pil(i) for i in items):
            results = [self._prediction(p, top) for p in self.predict_images(items)]
            return results[0] if single else results
        if not single and all(_is_number(i) or isinstance(i, (list, tuple)) for i in items):  # numbers in nested lists: as NumPy reads them
            try:
                x = np.asarray(x, dtype=np.float64)
                single, items = True, [x]
            except (TypeError, ValueError):
                raise DataError("nested lists must hold numbers, in rows of one length; "
                                "accepted: a row [x1, x2, ...], a batch of rows, or a NumPy array") from None
        if all(isinstance(i, (np.ndarray, torch.Tensor)) for i in items):  # one array, or a list of them (each one input or a batch)
            batches = [self._stored_batch(i) for i in items]
            results = [self._prediction(p, top) for p in self.predict_stored(torch.cat([arr for arr, _ in batches]))]
            return results[0] if single and batches[0][1] else results
        kinds = sorted({type(i).__name__ for i in items})
        rows = ", {column: value} dicts, a pandas DataFrame" if self.preprocessing.encoder() is not None else ""
        raise DataError(f"cannot predict from {', '.join(kinds)}; accepted: file paths, PIL images{rows}, a NumPy array or a torch tensor")

    def _stored_batch(self, x) -> tuple[torch.Tensor, bool]:
        arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        if arr.dtype == bool or arr.dtype.kind not in "uif":
            raise DataError(f"an array of {arr.dtype} cannot be a model input; accepted: numbers")
        if not np.isfinite(arr).all() or (self.kind == "image" and arr.size and (arr.min() < 0 or arr.max() > 255)):
            raise DataError("inputs must be finite" + (" pixel values in 0-255 (the stored form)" if self.kind == "image" else " numbers"))
        if self.kind == "image" and arr.dtype.kind == "f" and arr.size and arr.max() <= 1.0 and (arr != np.round(arr)).any():
            # images scaled to 0-1 (torchvision's ToTensor, Keras' rescale): read as 0-255 they are all but black
            raise DataError("these pixels are all within 0-1, with fractions: the model takes pixels in 0-255 (the stored form); "
                            "multiply them by 255")
        want = self.input_shape
        if arr.shape == want or (self.kind == "image" and want[0] == 1 and arr.shape == want[1:]):
            return torch.from_numpy(arr.reshape(1, *want).astype(np.float32)), True
        if arr.ndim == len(want) + 1 and arr.shape[1:] == want:
            return torch.from_numpy(arr.astype(np.float32)), False
        if self.kind == "image" and want[0] == 1 and arr.ndim == len(want) and arr.shape[1:] == want[1:]:
            return torch.from_numpy(arr[:, None].astype(np.float32)), False
        raise DataError(f"an input of shape {tuple(arr.shape)} does not fit this model, which takes {want} "
                        f"(one) or (N, {', '.join(map(str, want))}) (a batch)")

    def _prediction(self, probs: np.ndarray, top: int, source: str | None = None) -> "Prediction | Estimate":
        if self.regression:
            return self.estimate(probs, source)
        ranked = self.top_k(probs, min(top, len(self.classes)))
        return Prediction(ranked[0]["class"], dict(zip(self.classes, map(float, probs))), ranked, source)

    def estimate(self, values: np.ndarray, source: str | None = None) -> Estimate:
        """A regression row's predicted values by target name."""
        named = {n: float(v) for n, v in zip(self.classes, values.tolist())}
        return Estimate(float(values[0]), named, source)

    def top_k(self, probs: np.ndarray, k: int = 3, digits: int | None = None) -> list[dict]:
        """The ``k`` most probable classes, most probable first (ties: lower index first), with
        probabilities rounded to ``digits`` if given. Plain Python floats: the server calls this
        per request, and a short list sorts faster than NumPy can be called."""
        values = probs.tolist()
        order = sorted(range(len(values)), key=values.__getitem__, reverse=True)[:k]
        return [{"class": self.classes[i], "index": i, "probability": values[i] if digits is None else round(values[i], digits)}
                for i in order]


def _is_frame(obj) -> bool:
    """A pandas DataFrame, told without importing pandas (which nnforge does not need)."""
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "itertuples") and hasattr(obj, "columns")


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def _is_nan(value) -> bool:
    """NaN (Python's, NumPy's), or pandas' NA and NaT: how pandas spells a missing cell."""
    import math

    if type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)  # an int, even of 400 digits, is never NaN


def _is_pil(obj) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return False
    return isinstance(obj, Image.Image)


MODE_NAMES = {"L": "one channel (greyscale)", "1": "black and white (1 bit)", "P": "a palette", "RGB": "RGB",
              "RGBA": "RGB with transparency", "LA": "greyscale with transparency", "CMYK": "CMYK",
              "I;16": "16-bit greyscale", "I": "16-bit greyscale"}  # I: how older Pillow opens a 16-bit PNG


def conversion_note(mode: str, size: tuple[int, int], preprocessing: Preprocessing) -> str | None:
    """What the training pipeline does to an image of ``mode`` and ``size`` (width, height) before
    the model sees it, in words ("converted from RGB to one channel (greyscale) and resized from
    640x480 to 28x28"); None when the image is already in the model's form."""
    if preprocessing.kind != "image":
        return None
    height, width = preprocessing.input_shape[1:]
    steps = []
    if mode != preprocessing.mode:
        steps.append(f"converted from {MODE_NAMES.get(mode, mode)} to {MODE_NAMES.get(preprocessing.mode, preprocessing.mode)}")
    if tuple(size) != (width, height):
        steps.append(f"resized from {size[0]}x{size[1]} to {width}x{height}")
    return " and ".join(steps) or None


def open_image(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.format not in ("PNG", "JPEG"):
                raise DataError(f"'{path}' is {im.format}; accepted: PNG or JPEG")
            im.load()
            return im.copy()
    except DataError:
        raise
    except Image.DecompressionBombError as exc:  # PIL refuses to decode more pixels than its bomb limit
        raise DataError(f"'{path}': too large to read ({exc.args[0].split(',')[0]}); resize it first") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:  # ValueError: 'Truncated IHDR chunk'
        raise DataError(f"'{path}': not a readable image ({exc or type(exc).__name__})") from None


class Pipeline(torch.nn.Module):
    """Stored batch -> class probabilities: the training pipeline's preprocessing, the model, softmax.
    ``target`` (a regression run's ``model.json`` scaler): values in the target's units instead."""

    def __init__(self, preprocessing, model: torch.nn.Module, target: dict | None = None):
        super().__init__()
        self.preprocessing = preprocessing
        self.model = model
        self.target_std = torch.tensor(target["std"], dtype=torch.float32) if target else None
        self.target_mean = torch.tensor(target["mean"], dtype=torch.float32) if target else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(self.preprocessing(x)).float()
        if self.target_std is not None:  # a regression run: values in the target's units
            return out * self.target_std + self.target_mean
        return torch.softmax(out, 1)


def target_of(predictor) -> dict | None:
    """A regression run's target scaler (None for a classifier)."""
    return predictor.meta["target"] if getattr(predictor, "regression", False) else None


class ServedForecaster(torch.nn.Module):
    """Raw series windows ``(N, window, 1)`` -> the next ``horizon`` values in the series' units."""

    def __init__(self, model, mean: float, std: float):
        super().__init__()
        self.model, self.mean, self.std = model, mean, std

    def forward(self, x):
        return self.model((x - self.mean) / self.std) * self.std + self.mean


def build_saved_model(cfg: dict, input_shape, outputs: int, kind: str, state: dict, run_dir) -> torch.nn.Module:
    """The network ``model.json``'s ``model`` section describes, holding the weights ``state``.

    The section is checked as a recipe's would be, and the network is first built on the meta
    device (no memory), its tensor shapes compared with the weights': an edited ``model.json`` (a
    layer of 10^9 units, a negative size, a key the model lacks) is a one-line RunError naming the
    file, before anything the size of what it asks for is allocated."""
    where = f"{run_dir}/model.json" if run_dir is not None else "model.json"
    try:
        cfg = check_model_config(cfg)
        with torch.device("meta"):
            expected = build_model(cfg, input_shape, outputs, kind).state_dict()
    except ConfigError as exc:
        raise RunError(f"{where}: {exc}") from None
    except (RuntimeError, ValueError, TypeError) as exc:
        raise RunError(f"{where}: its 'model' section does not build a network ({str(exc).splitlines()[0][:200]})") from None
    saved, shapes = {k: tuple(v.shape) for k, v in state.items()}, {k: tuple(v.shape) for k, v in expected.items()}
    if saved != shapes:
        key = next(k for k in sorted(set(saved) | set(shapes)) if saved.get(k) != shapes.get(k))
        shown = lambda shape: "absent" if shape is None else list(shape)  # noqa: E731
        raise RunError(f"{where}: the weights do not fit the architecture it describes "
                       f"('{key}' is {shown(saved.get(key))} in model.safetensors, {shown(shapes.get(key))} in the model)")
    weights = f"{run_dir}/model.safetensors" if run_dir is not None else "model.safetensors"
    whole = next((k for k, v in expected.items() if v.is_floating_point() and not state[k].is_floating_point()), None)
    if whole is not None:  # load_state_dict would convert them (3 for 3.14159): predictions that look like answers
        raise RunError(f"{weights}: weight '{whole}' holds {str(state[whole].dtype).removeprefix('torch.')} values where the "
                       f"model has real numbers; the file was altered (retrain the run, or use another run)")
    broken = next((k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())), None)
    if broken is not None:  # NaN weights would answer NaN for every input, served as if they meant something
        raise RunError(f"{weights}: weight '{broken}' holds NaN or Inf, so every prediction would too; the run "
                       f"diverged or the file was altered (retrain it, or use another run)")
    model = build_model(cfg, input_shape, outputs, kind)
    model.load_state_dict(state)
    return model


def served_model(run_dir: Path) -> tuple[torch.nn.Module, np.ndarray]:
    """The run's model, rebuilt from its run directory alone as one module over stored inputs
    (:class:`Pipeline`, or :class:`ServedForecaster` for a forecast run), and an input example of
    two rows (two, so that an exported batch dimension stays dynamic)."""
    meta = read_model_meta(run_dir)
    if meta.get("task") == "forecast":
        s = meta["series"]
        model = build_saved_model(meta["model"], tuple(meta["input_shape"]), s["horizon"], "sequence",
                                  load_state(run_dir / "model.safetensors"), run_dir)
        module = ServedForecaster(model.eval(), float(s["mean"]), float(s["std"]))
        return module, np.full((2, *meta["input_shape"]), s["mean"], np.float32)
    predictor = Predictor(run_dir)
    dtype = np.uint8 if predictor.kind == "image" else np.float32
    module = Pipeline(predictor.preprocessing, predictor.model, target_of(predictor))
    return module.eval(), np.zeros((2, *predictor.input_shape), dtype)


def load(run_dir, device: str = "cpu") -> Predictor:
    """Rebuild a trained model from its run directory: a path, or the :class:`~nnforge.rundir.Run`
    that ``nnforge.fit`` returned (or a :class:`~nnforge.runlist.RunInfo` from ``nnforge.runs``).
    ``device``: cpu, cuda (one GPU, or cuda:N), mps or auto (cuda when there is one)."""
    run_dir = getattr(run_dir, "dir", run_dir)
    if not isinstance(run_dir, (str, os.PathLike)):
        raise RunError(f"load takes a run directory (a path, or the Run that nnforge.fit returned); got {type(run_dir).__name__}")
    return Predictor(run_dir, _device(device))


def _device(name) -> str:
    """``name`` once torch can place a model there: a misspelt or absent device is one line, not
    torch's list of every device type or its 'Torch not compiled with CUDA enabled' assertion."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(name).type
    except (RuntimeError, TypeError):
        kind = None
    if kind not in ("cpu", "cuda", "mps"):
        raise RunError(f"device {name!r} is not one nnforge runs models on; accepted: cpu, cuda (or cuda:N), mps, auto")
    if (kind == "cuda" and not torch.cuda.is_available()) or (kind == "mps" and not torch.backends.mps.is_available()):
        raise RunError(f"device {name!r}: no {'CUDA GPU' if kind == 'cuda' else 'Apple GPU (mps)'} is available here; use cpu (or auto)")
    return name
