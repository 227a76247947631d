"""ONNX export of a trained run, so the model runs without PyTorch (ONNX Runtime, browsers, C++).

The exported graph takes the *preprocessed* float batch — what :class:`~nnforge.data.Preprocessing`
produces — as ``input`` (N, *input_shape) with a dynamic batch axis, and returns ``logits``
(N, classes). The run's classes and preprocessing travel inside the file as metadata
(``nnforge.classes``, ``nnforge.preprocessing``, JSON), so a consumer needs the .onnx file alone;
``nnforge.weights`` names the weights it was made from (the SHA-256 of ``model.safetensors``, as
``nnforge serve`` reports ``model_version``), so an int8 file is known to be a run's own.

We use the TorchScript-based exporter: for the feed-forward networks of the zoo it is exact,
takes a fraction of a second, and needs no extra packages; torch's newer ``torch.export``-based
exporter is the fallback for graphs the old one cannot trace.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from nnforge import io
from nnforge.errors import RunError

OPSET = 17
WEIGHTS_KEY = "nnforge.weights"  # the first 12 hex digits of the SHA-256 of the run's model.safetensors


def _export(model: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (example,), str(path), input_names=["input"], output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=OPSET, dynamo=False,
            )
    except Exception:  # noqa: BLE001 - any tracing failure: try the torch.export-based exporter
        batch = torch.export.Dim("batch", min=1)
        torch.onnx.export(model, (example,), str(path), input_names=["input"], output_names=["logits"],
                          dynamic_shapes=({0: batch},), dynamo=True, external_data=False, verbose=False)


def export_model(model: torch.nn.Module, input_shape, path: str | Path, metadata: dict | None = None) -> Path:
    """Write ``model`` as ONNX (input ``input`` with a dynamic batch axis, output ``logits``); atomic."""
    import onnx

    path = Path(path)
    model = model.eval().cpu()
    example = torch.zeros(2, *input_shape)

    def write(tmp: Path) -> None:
        _export(model, example, tmp)
        proto = onnx.load(str(tmp))
        for key, value in (metadata or {}).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))

    return io.atomic_write(path, write)


def export_onnx(run_dir: str | Path, path: str | Path | None = None) -> Path:
    """Export a run's model to ONNX (default ``RUN/model.onnx``); returns the written path."""
    from nnforge.predictor import load

    out = Path(path) if path is not None else Path(run_dir) / "model.onnx"
    if out.suffix != ".onnx":  # --out RUN/model.safetensors would replace the run's weights with the export
        raise RunError(f"--out '{out}' must be a file name ending in .onnx; an export never writes over another kind of file")
    predictor = load(run_dir)
    if predictor.meta.get("engine", "torch") not in ("torch", "scratch"):
        raise RunError(f"'{run_dir}': only torch models can be exported to ONNX")
    return export_model(predictor.model, predictor.input_shape, out, onnx_metadata(predictor))


def onnx_metadata(predictor) -> dict:
    """What a consumer of the .onnx file alone needs: classes, preprocessing (a csv's encoding), the target's scale."""
    meta = {
        "nnforge.classes": predictor.classes,
        "nnforge.preprocessing": predictor.meta["preprocessing"],
        "nnforge.model": predictor.meta["model"],
        "nnforge.kind": predictor.kind,
        "nnforge.task": predictor.task,
    }
    if predictor.regression:  # the output is the standardised target: value = output * std + mean
        meta["nnforge.target"] = predictor.meta["target"]
    if predictor.run_dir is not None:  # which weights it was made from: serve takes an int8 file as this run's by it
        meta[WEIGHTS_KEY] = io.file_digest(Path(predictor.run_dir) / "model.safetensors")
    return meta


def onnx_session(path: str | Path):
    """An ONNX Runtime CPU session for an exported file."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
