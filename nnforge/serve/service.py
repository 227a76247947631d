"""The model behind the API: loading, request bodies -> predictions, explanations, metadata.

One :class:`Service` per worker process. It owns the backend, the micro-batcher, the thread
pools (inference, large-image decoding, explanations), the limits and the metrics; the HTTP
layer (:mod:`nnforge.serve.app`) only frames requests and answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np

from nnforge.cpus import usable_cpus
from nnforge.errors import RunError
from nnforge.io import file_digest, is_number
from nnforge.predictor import conversion_note
from nnforge.data.png import Pixels, read_plain_png
from nnforge.data.tabular_encoding import VALUE_LIMIT
from nnforge.rundir import read_metrics
from nnforge.serve.batching import MicroBatcher
from nnforge.serve.inputs import (DECODE_INLINE_PIXELS, check_size, check_structure, content_type_params, decode_image, holds_records,
                                  json_inputs, open_image, parse_json, parse_multipart, record_inputs)
from nnforge.serve.limits import ApiError, Limits
from nnforge.serve.metrics import Metrics

MAX_FORM_FIELDS = 64  # plain (non-file) multipart fields allowed beside the files
JSON_THREAD_BYTES = 64 * 1024  # larger JSON bodies are parsed off the event loop

SETTINGS_ENV = "NNFORGE_SERVE_SETTINGS"  # how the server hands its settings to worker processes


@dataclass
class ServeSettings:
    """Everything a worker needs to build its service; JSON-serialisable so workers get it by environment."""

    run_dir: str
    backend: str = "auto"  # "torch", "onnx", or "auto": ONNX Runtime where it matches the torch model
    max_batch: int = 32
    max_wait_ms: float = 0.0
    top_k: int = 3
    threads: int = 0  # inference threads per worker; 0: the usable CPUs divided by the workers
    workers: int = 1
    grace_seconds: float = 10.0  # on SIGTERM/SIGINT: how long requests in flight may take to finish
    metrics_dir: str | None = None
    limits: Limits = field(default_factory=Limits)
    onnx_file: str | None = None  # an .onnx file of the run served by ONNX Runtime (compress's int8 model); see __post_init__

    def __post_init__(self) -> None:
        """``run_dir`` may name an .onnx file inside a run (``RUN/model.onnx``, ``RUN/compress/model-int8.onnx``):
        that file is served, with the run's classes and preprocessing. Before, such a path was refused as
        'a file, not a run directory', and nothing could serve the int8 model that compress writes."""
        path = Path(self.run_dir)
        if self.onnx_file is None and path.suffix == ".onnx" and path.is_file():
            self.onnx_file = str(path)
            self.run_dir = str(run_of_onnx_file(path))

    def to_json(self) -> str:
        data = asdict(self)
        data["limits"] = self.limits.to_dict()
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> "ServeSettings":
        data = json.loads(text)
        data["limits"] = Limits.from_dict(data.get("limits", {}))
        return cls(**data)


def run_of_onnx_file(path: Path) -> Path:
    """The run an .onnx file was made from: the folder holding it (``nnforge export``) or the one
    above (``RUN/compress/`` of ``nnforge compress``), whichever has the run's ``model.json``."""
    for folder in (path.parent, path.parent.parent):
        if (folder / "model.json").is_file():
            return folder
    raise RunError(f"'{path}' is not in a run directory; serve takes an .onnx file inside the run it was made from "
                   "(RUN/model.onnx, RUN/compress/model-int8.onnx), or the run directory itself")


class Service:
    def __init__(self, settings: ServeSettings):
        from nnforge.predictor import load
        from nnforge.serve.backends import build_backend

        self.settings = settings
        self.limits = settings.limits
        self.predictor = load(settings.run_dir)
        threads = settings.threads or max(1, usable_cpus() // max(1, settings.workers))
        self.backend = build_backend(settings.backend, self.predictor, threads, settings.onnx_file)
        self.metrics = Metrics(settings.metrics_dir)
        self.batcher = MicroBatcher(self.backend, settings.max_batch, settings.max_wait_ms / 1000.0,
                                    on_batch=self.metrics.observe_batch)
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nnforge-decode")
        self.explain_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nnforge-explain")
        self.kind = self.predictor.kind
        self.input_shape = tuple(self.predictor.input_shape)
        self.classes = self.predictor.classes
        self.regression = self.predictor.regression  # answers are values in the target's units, not classes
        self.model_file = Path(settings.onnx_file) if settings.onnx_file else Path(settings.run_dir) / "model.safetensors"
        self.model_version = file_digest(self.model_file)
        self.default_k = min(self.settings.top_k, len(self.classes))  # --top-k 5 of a 3-class model answers 3
        self.metadata = self._metadata()
        self.health = json.dumps({"status": "ok", "model_version": self.model_version, "worker": os.getpid()}).encode()

    def _metadata(self) -> dict:
        run = Path(self.settings.run_dir)
        meta = self.predictor.meta
        out = {
            "run": run.resolve().name,
            "model_version": self.model_version,
            "kind": self.kind,
            "classes": self.classes,
            "input_shape": list(self.input_shape),
            "preprocessing": self.predictor.preprocessing.to_dict(),
            "model": meta.get("model"),
            "dataset": meta.get("dataset"),
            "backend": self.backend.name,
            "model_file": self.model_file.name,
            "batching": {"max_batch": self.settings.max_batch, "max_wait_ms": self.settings.max_wait_ms},
            "limits": self.limits.to_dict(),
            "top_k": self.default_k,
            "task": self.predictor.task,
        }
        try:  # the scores are extra: a run whose metrics.json is damaged is still served, without them
            scores = read_metrics(run)
        except RunError:
            scores = {}
        for key in ("test_accuracy", "test_rmse") if self.regression else ("test_accuracy",):
            value = scores.get(key)  # a number, or null: an edited "high" would fail /metadata's schema on every call
            out[key] = value if is_number(value) else None
        return out

    # -- request bodies -> stored-form batches ------------------------------------------------
    async def inputs(self, body: bytes, content_type: str, max_inputs: int) -> tuple[np.ndarray, list | None]:
        """The stored-form batch, and for uploaded images what conversion each needed (None: none)."""
        kind, _ = content_type_params(content_type)
        if kind == "multipart/form-data":
            # Other form fields (no file name) are allowed and ignored, up to a few dozen.
            parts = parse_multipart(body, content_type, max_inputs + MAX_FORM_FIELDS)
            blobs = [data for name, filename, data in parts if filename is not None or name in ("file", "files")]
            if not blobs:
                raise ApiError(422, "missing field 'file'", "upload the image as a multipart file field named 'file'")
            if len(blobs) > max_inputs:
                raise ApiError(413, "too many files", f"at most {max_inputs} files per request")
            return await self.images(blobs)
        if kind in ("image/png", "image/jpeg", "application/octet-stream"):
            return await self.images([body])
        if kind == "application/json" or kind.endswith("+json"):
            if len(body) > JSON_THREAD_BYTES:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self.pool, self._json_inputs, body, max_inputs), None
            return self._json_inputs(body, max_inputs), None
        shown = kind or "none"
        raise ApiError(415, "unsupported content type",
                       f"got '{shown}'; accepted: multipart/form-data (file), image/png, image/jpeg, application/json")

    def _json_inputs(self, body: bytes, max_inputs: int) -> np.ndarray:
        doc = parse_json(body)
        encoder = self.predictor.preprocessing.encoder() if self.kind == "tabular" else None
        if encoder is not None and isinstance(doc, dict) and isinstance(doc.get("inputs"), dict):  # one row, not in a list
            raise ApiError(422, "invalid field 'inputs'", 'got one {column: value} object; put it in a list: {"inputs": [{...}]}')
        if holds_records(doc):  # {column: value} rows: a model trained on text columns or missing cells encodes them
            if encoder is None:
                raise ApiError(422, "invalid field 'inputs'", f"this model takes rows of {self.input_shape[0]} numbers, "
                                                              "not {column: value} objects")
            return record_inputs(doc, encoder, self.input_shape, max_inputs)
        # Only a body with the words true or false can hold a boolean: the others skip the walk.
        limit = None if encoder is None else VALUE_LIMIT  # the encoded numbers, within the objects' bounds
        return json_inputs(doc, self.kind, self.input_shape, max_inputs, b"true" in body or b"false" in body, limit)

    async def images(self, blobs: list[bytes]) -> tuple[np.ndarray, list]:
        if self.kind != "image":
            raise ApiError(422, "this model takes tabular rows, not images", 'send JSON {"inputs": [[...], ...]}')
        # A small plain PNG is decoded at once without Pillow (nnforge.data.png); anything else
        # is only opened here (headers checked, nothing decoded yet) and decoded by Pillow below,
        # large images in the thread pool so that they never hold up the event loop.
        plain_limit = min(self.limits.max_pixels, DECODE_INLINE_PIXELS) if "PNG" in self.limits.image_formats else 0
        for data in blobs:
            check_structure(data)
        images = [read_plain_png(data, plain_limit) or open_image(data, self.limits) for data in blobs]
        for image in images:
            if isinstance(image, Pixels):
                check_size(image.width, image.height, self.limits)
        if sum(im.size[0] * im.size[1] for im in images) > self.limits.max_pixels:
            raise ApiError(413, "images too large in total",
                           f"more than {self.limits.max_pixels} pixels in one request; send fewer or smaller images")
        preprocessing = self.predictor.preprocessing
        notes = [conversion_note(image.mode, image.size, preprocessing) for image in images]
        arrays = []
        for image in images:
            if isinstance(image, Pixels):
                arrays.append(preprocessing.pixels_to_array(image))
            elif image.size[0] * image.size[1] <= DECODE_INLINE_PIXELS:
                arrays.append(decode_image(image, preprocessing))
            else:
                arrays.append(await self._decode_in_pool(image, preprocessing))
        return np.stack(arrays), notes

    async def _decode_in_pool(self, image, preprocessing) -> np.ndarray:
        """Decode in the thread pool; if this request is cancelled (504, shutdown), so is the decoding."""
        abandoned = threading.Event()
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, decode_image, image, preprocessing, abandoned)
        finally:
            abandoned.set()

    # -- answers ----------------------------------------------------------------------------
    def top_k(self, query: bytes) -> int:
        if not query:
            return self.default_k
        values = parse_qs(query.decode("latin-1"), keep_blank_values=True).get("k")
        if not values:
            return self.default_k
        # Digits only, as the OpenAPI integer says: Python's int() also takes " 3", "1_0" and "٣".
        value = values[-1]
        k = int(value) if value.isascii() and value.isdigit() and len(value) < 10 else 0
        if not 1 <= k <= len(self.classes):
            raise ApiError(422, "invalid query parameter 'k'", f"k must be an integer from 1 to {len(self.classes)}")
        return k

    def describe(self, probs: np.ndarray, k: int, note: str | None = None) -> dict:
        if not np.isfinite(probs).all():  # JSON has no NaN: answering one would be a body clients cannot parse
            raise ApiError(422, "invalid values", "the model's output is not a finite number for this input: "
                                                  "its values are too far outside the range it was trained on")
        if self.regression:  # ``probs`` are the predicted values
            values = [round(float(v), 6) for v in probs]
            return {"value": values[0], "values": dict(zip(self.classes, values))}
        top = self.predictor.top_k(probs, k, digits=6)
        out = {"class": top[0]["class"], "probability": top[0]["probability"], "top": top}
        if note:
            out["converted"] = note
        return out

    async def predict(self, body: bytes, content_type: str, query: bytes, batch: bool) -> dict:
        k = self.top_k(query)
        x, notes = await self.inputs(body, content_type, self.limits.max_inputs)
        if not batch and len(x) != 1:
            raise ApiError(422, "one input per request", f"got {len(x)}; send several to /v1/predict/batch")
        probs = await self.batcher.submit(x)
        notes = notes or [None] * len(x)
        if batch:
            return {"predictions": [self.describe(p, k, n) for p, n in zip(probs, notes)]}
        return self.describe(probs[0], k, notes[0])

    async def explain(self, body: bytes, content_type: str, query: bytes) -> dict:
        k = self.top_k(query)
        x, notes = await self.inputs(body, content_type, self.limits.max_inputs)
        if len(x) != 1:  # as /v1/predict answers (it was 413 'too many inputs': nothing was too large)
            raise ApiError(422, "one input per request", f"got {len(x)}; /v1/explain explains one input at a time")
        loop = asyncio.get_running_loop()
        out = await loop.run_in_executor(self.explain_pool, self._explain, x[0], k)
        if notes and notes[0]:
            out["converted"] = notes[0]
        return out

    def _explain(self, stored: np.ndarray, k: int) -> dict:
        """The prediction, then where it came from: a saliency map (images) or feature shares (rows)."""
        import torch

        model = self.predictor.model
        x = self.predictor.preprocessing(torch.from_numpy(stored[None]))[0]
        if self.regression:
            return self._value_shares(stored, x)
        if self.settings.onnx_file:  # the answer /v1/predict gives: the served file's (an int8 model's may differ)
            probs = self.backend(stored[None])[0]
        else:
            with torch.inference_mode():
                probs = torch.softmax(model(x[None]).float(), 1)[0].numpy()
        target = int(probs.argmax())
        out = self.describe(probs, k)
        out["explained_class"] = self.classes[target]
        out.update(self._saliency(stored, x, target) if self.kind == "image" else self._feature_shares(stored, x, target))
        if self.settings.onnx_file:
            out["method"] += f"; gradients of the run's PyTorch model, for the class {self.model_file.name} answers"
        return out

    def _saliency(self, stored: np.ndarray, x, target: int) -> dict:
        from nnforge.serve.saliency import gradient_saliency, overlay, png_data_url, stored_rgb

        heat = gradient_saliency(self.predictor.model, x, target)
        return {
            "method": "gradient saliency (SmoothGrad, 16 samples)",
            "input_png": png_data_url(stored_rgb(stored)),
            "saliency_png": png_data_url(overlay(stored, heat)),
            "saliency": np.round(heat, 4).tolist(),
        }

    def _feature_shares(self, row: np.ndarray, x, target: int) -> dict:
        from nnforge.serve.saliency import integrated_gradients

        shares, at_baseline = integrated_gradients(self.predictor.model, x, target)
        names = self.predictor.preprocessing.feature_labels()
        order = np.argsort(-np.abs(shares), kind="stable")
        return {
            "method": "integrated gradients of the class probability, from the training mean (64 steps)",
            "baseline_probability": round(at_baseline, 6),
            "features": [{"feature": names[i], "value": float(row[i]), "attribution": round(float(shares[i]), 6)} for i in order],
        }

    def _value_shares(self, row: np.ndarray, x) -> dict:
        """A regression row's first target, and each feature's share in moving it from the training mean row's value."""
        from nnforge.serve.saliency import integrated_gradients

        p = self.predictor
        std, mean = float(p.target_std[0]), float(p.target_mean[0])
        shares, at_baseline = integrated_gradients(p.model, x, 0, probabilities=False)
        if self.settings.onnx_file:  # the value /v1/predict gives: the served file's
            values = self.backend(row[None])[0]
        else:
            values = p.predict_stored(__import__("torch").from_numpy(row[None]))[0]
        names = p.preprocessing.feature_labels()
        order = np.argsort(-np.abs(shares), kind="stable")
        method = "integrated gradients of the predicted value, from the training mean (64 steps)"
        if self.settings.onnx_file:
            method += f"; gradients of the run's PyTorch model, for the value {self.model_file.name} answers"
        return {
            **self.describe(values, 1), "explained_target": self.classes[0],
            "method": method,
            "baseline_value": round(at_baseline * std + mean, 6),
            "features": [{"feature": names[i], "value": float(row[i]), "attribution": round(float(shares[i]) * std, 6)} for i in order],
        }

    def close(self) -> None:
        self.batcher.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.explain_pool.shutdown(wait=False, cancel_futures=True)
